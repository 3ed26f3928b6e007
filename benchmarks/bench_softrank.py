"""Benchmark of ``vireid.ops.soft_rank``: pure-PyTorch PAV vs a NumPy PAV loop vs torchsort.

For each shape ``rows × n`` in {64×64, 128×128, 1024×100, 256×1000} it times, on the same
float32 inputs (``randn × --scale``, ``ε = 1``, "l2"):

* **forward** — the soft ranks;
* **forward+backward** — ranks, then the vector-Jacobian product of a random cotangent.

Paths:

* ``vireid`` — ``soft_rank(x, backend="torch")`` with autograd;
* ``numpy oracle`` — the straightforward per-row NumPy/Python pool-adjacent-violators of
  ``tests/oracles/soft_rank_numpy.py`` (the backward is its block-wise VJP, no autograd);
* ``torchsort`` — ``torchsort.soft_rank`` (C++/CUDA extension), when it is importable.

"vs oracle" / "vs torchsort" are speed-ups of vireid (time of the other path ÷ vireid's time,
>1 means vireid is faster), measured in the same run; every path is checked against the oracle
before timing. Each path gets one warm-up call and the best of ``--repeats`` timed calls.
CUDA rows are added when a GPU is present (the NumPy oracle stays on the CPU).

Run::

    python benchmarks/bench_softrank.py --out bench_softrank.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.baselines.soft_rank_numpy import soft_rank_vjp
from vireid.ops import soft_rank
from vireid.ops.permutahedron import _import_torchsort

SHAPES = [(64, 64), (128, 128), (1024, 100), (256, 1000)]


def _best(fn: Callable[[], object], repeats: int, cuda: bool) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def _torch_paths(fn: Callable[..., torch.Tensor], x: torch.Tensor, g: torch.Tensor):
    def forward() -> torch.Tensor:
        with torch.no_grad():
            return fn(x)

    def forward_backward() -> torch.Tensor:
        xr = x.detach().requires_grad_()
        fn(xr).backward(g)
        return xr.grad

    return forward, forward_backward


def run(shapes, repeats: int, scale: float, devices: list[str], oracle_max_rows: int) -> list:
    ts = _import_torchsort()
    rows_out = []
    for device in devices:
        cuda = device == "cuda"
        for rows, n in shapes:
            gen = torch.Generator().manual_seed(rows * 7 + n)
            x = (torch.randn(rows, n, generator=gen) * scale).to(device)
            g = torch.randn(rows, n, generator=gen).to(device)
            ours = _torch_paths(lambda t: soft_rank(t, backend="torch"), x, g)
            # Check vireid against the oracle on (a subset of) the rows before timing.
            sub = min(rows, oracle_max_rows)
            ref_r, ref_g = soft_rank_vjp(
                x[:sub].double().cpu().numpy(), g[:sub].double().cpu().numpy(), "l2", 1.0
            )
            got_g = ours[1]()
            err = max(
                float(np.abs(ours[0]()[:sub].double().cpu().numpy() - ref_r).max()),
                float(np.abs(got_g[:sub].double().cpu().numpy() - ref_g).max()),
            )
            entry = {
                "device": device,
                "shape": f"{rows}x{n}",
                "max_abs_err_vs_oracle": err,
                "vireid_fwd_s": _best(ours[0], repeats, cuda),
                "vireid_fwdbwd_s": _best(ours[1], repeats, cuda),
            }
            if not cuda:
                xn, gn = x.double().numpy(), g.double().numpy()
                # Forward only: the same PAV pass with a zero cotangent (no Jacobian is formed).
                entry["oracle_fwd_s"] = _best(
                    lambda xn=xn: soft_rank_vjp(xn, np.zeros_like(xn), "l2", 1.0), 1, False
                )
                entry["oracle_fwdbwd_s"] = _best(
                    lambda xn=xn, gn=gn: soft_rank_vjp(xn, gn, "l2", 1.0), 1, False
                )
            if ts is not None:
                theirs = _torch_paths(lambda t: ts.soft_rank(t, regularization_strength=1.0), x, g)
                entry["torchsort_fwd_s"] = _best(theirs[0], repeats, cuda)
                entry["torchsort_fwdbwd_s"] = _best(theirs[1], repeats, cuda)
            rows_out.append(entry)
            print(_row(entry), flush=True)
    return rows_out


def _row(e: dict) -> str:
    def ratio(key: str, stage: str) -> str:
        other = e.get(f"{key}_{stage}_s")
        return f"{other / e[f'vireid_{stage}_s']:.1f}×" if other else "—"

    def ms(key: str) -> str:
        return f"{e[key] * 1e3:.2f}" if key in e else "—"

    return (
        f"| {e['device']} | {e['shape']} | {ms('vireid_fwd_s')} | {ms('vireid_fwdbwd_s')} | "
        f"{ms('oracle_fwdbwd_s')} | {ratio('oracle', 'fwd')} | {ratio('oracle', 'fwdbwd')} | "
        f"{ms('torchsort_fwdbwd_s')} | {ratio('torchsort', 'fwd')} | "
        f"{ratio('torchsort', 'fwdbwd')} | {e['max_abs_err_vs_oracle']:.1e} |"
    )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", type=float, default=10.0, help="input = randn * scale")
    parser.add_argument("--shapes", default=",".join(f"{r}x{n}" for r, n in SHAPES))
    parser.add_argument("--cpu-only", action="store_true")
    parser.add_argument("--oracle-rows", type=int, default=64, help="rows checked vs oracle")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.cpu_only else [])
    ts = _import_torchsort()
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"torchsort {'installed' if ts is not None else 'not installed'}, scale {args.scale}\n"
    )
    print(
        "| device | rows×n | vireid fwd ms | vireid fwd+bwd ms | oracle ms | vs oracle fwd | "
        "vs oracle fwd+bwd | torchsort fwd+bwd ms | vs torchsort fwd | vs torchsort fwd+bwd | "
        "max err |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    results = run(shapes, args.repeats, args.scale, devices, args.oracle_rows)
    out = {
        "machine": platform.platform(),
        "processor": platform.processor(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "torchsort": ts is not None,
        "cuda": torch.cuda.get_device_name() if "cuda" in devices else None,
        "results": results,
    }
    if args.out:
        args.out.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
