"""Benchmark of the network blocks in a ResNet-50: plain vs MCJA's MDA vs IDKL's dual stream.

Every path runs one training step's forward and backward pass (no optimiser step) on the same
batch ``(B, 3, H, W)`` and reduces the GeM-pooled features to a scalar loss:

* **plain** — ``vireid.models.backbones.resnet50`` + GeM (p = 3).
* **mda** — as *plain* with MCJA's five modality distribution adapters (M = 2) after the last
  2 blocks of ``layer2`` and the last 3 of ``layer3`` (``mcja.md`` §2.3).
* **dual** — IDKL's dual stream (``idkl.md`` §2.1): one shared stem–``layer2``, then two
  ``layer3``–``layer4`` branches (shared and specific), each pooled with GeM.
* **dual+ip** — *dual* with the IN-guided information purifier (pixel masks, r = 16) on the
  specific branch, pooling the purified map.

"vs plain" is the time ratio to *plain* measured in the same run (so it is robust to machine
load). The default workload follows the issue: 384×192 images, batch 32 in float32 on the CPU;
on CUDA batch 128 under bfloat16 autocast with channels_last tensors. Every path shares the
same last stride (``--last-stride``, default 2 as MCJA; IDKL uses 1, which quadruples the
layer4 cost).

Timing: one warm-up step per path, then ``--repeats`` rounds that time every path once (load
from other processes hits all paths alike); the best round counts, the mean is reported too.

Run::

    python benchmarks/bench_nn.py --out bench_nn.json               # CPU: batch 32, 384x192
    python benchmarks/bench_nn.py --repeats 2 --batch 8             # a faster CPU figure
    python benchmarks/bench_nn.py --quick                           # smoke test (resnet34)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import nn

from vireid.models.backbones import resnet34, resnet50
from vireid.nn import GeM, InformationPurifier, ModalityDistributionAdapter

Size = tuple[int, int]


class Plain(nn.Module):
    """Backbone + GeM; optionally with MCJA's adapters inserted."""

    def __init__(self, arch: str, last_stride: int, mda: bool) -> None:
        super().__init__()
        self.backbone = _BUILDERS[arch](last_stride=last_stride)
        if mda:
            adapter = lambda c: ModalityDistributionAdapter(c, num_masks=2)  # noqa: E731
            self.backbone.insert_after_last("layer2", 2, adapter)
            self.backbone.insert_after_last("layer3", 3, adapter)
        self.pool = GeM()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the pooled features (a scalar to backpropagate)."""
        return self.pool(self.backbone(x)).float().mean()


class DualStream(nn.Module):
    """IDKL's split: shared stem–layer2, shared and specific layer3–layer4, optional purifier."""

    def __init__(self, arch: str, last_stride: int, purifier: bool) -> None:
        super().__init__()
        full = _BUILDERS[arch](last_stride=last_stride)
        self.front = full.slice("stem", "layer2")
        self.shared = full.slice("layer3", "layer4")
        self.specific = full.slice("layer3", "layer4", copy=True)
        self.purifier = InformationPurifier(full.out_channels) if purifier else None
        self.pool = GeM()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sum of the two branches' mean pooled features."""
        h = self.front(x)
        f_sh = self.shared(h)
        f_sp = self.specific(h)
        if self.purifier is not None:
            f_sp = self.purifier(f_sp).purified
        return self.pool(f_sh).float().mean() + self.pool(f_sp).float().mean()


# resnet34 has ResNet-50's stage depths [3, 4, 6, 3], so the MCJA layout applies unchanged.
_BUILDERS: dict[str, Callable[..., nn.Module]] = {"resnet34": resnet34, "resnet50": resnet50}

PATHS: dict[str, tuple[str, Callable[[str, int], nn.Module]]] = {
    "plain": ("ResNet + GeM", lambda a, s: Plain(a, s, mda=False)),
    "mda": ("+ 5 MDA (MCJA layout)", lambda a, s: Plain(a, s, mda=True)),
    "dual": ("dual stream (IDKL split)", lambda a, s: DualStream(a, s, purifier=False)),
    "dual+ip": ("dual stream + purifier", lambda a, s: DualStream(a, s, purifier=True)),
}


def _step(model: nn.Module, x: torch.Tensor, cuda: bool, bf16: bool) -> None:
    """One forward + backward pass; gradients are dropped, not accumulated."""
    model.zero_grad(set_to_none=True)
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else nullcontext()
    with ctx:
        loss = model(x)
    loss.backward()
    if cuda:
        torch.cuda.synchronize()


def time_paths(
    models: dict[str, nn.Module], x: torch.Tensor, repeats: int, cuda: bool, bf16: bool
) -> dict[str, list[float]]:
    """Seconds per step for each path: one warm-up each, then ``repeats`` interleaved rounds."""
    for model in models.values():
        _step(model, x, cuda, bf16)
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(repeats):
        for key, model in models.items():
            t0 = time.perf_counter()
            _step(model, x, cuda, bf16)
            times[key].append(time.perf_counter() - t0)
    return times


def _parse_size(text: str) -> Size:
    h, w = text.lower().split("x")
    return int(h), int(w)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--size", type=_parse_size, default=(384, 192), help="HxW")
    parser.add_argument("--batch", type=int, default=None, help="default: 32 CPU, 128 CUDA")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (best of)")
    parser.add_argument("--arch", choices=sorted(_BUILDERS), default="resnet50")
    parser.add_argument("--last-stride", type=int, choices=(1, 2), default=2)
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-cuda", action="store_true", help="run on the CPU even with CUDA")
    parser.add_argument(
        "--channels-last", action="store_true", help="channels_last on the CPU (always on CUDA)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: resnet34, batch 4, 64x32, 1 round"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.arch, args.size, args.repeats = "resnet34", (64, 32), 1
        args.batch = args.batch or 4
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cuda = torch.cuda.is_available() and not args.no_cuda
    device = torch.device("cuda" if cuda else "cpu")
    batch = args.batch or (128 if cuda else 32)
    channels_last = cuda or args.channels_last
    bf16 = cuda
    if "plain" not in args.paths:
        args.paths = ["plain", *args.paths]  # the ratios need the baseline

    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(batch, 3, *args.size, device=device).to(memory_format=memory_format)
    models = {}
    for key in args.paths:
        model = PATHS[key][1](args.arch, args.last_stride).to(device).train()
        models[key] = model.to(memory_format=memory_format)
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}

    times = time_paths(models, x, args.repeats, cuda, bf16)
    base = min(times["plain"])
    rows = []
    for key in args.paths:
        best = min(times[key])
        rows.append(
            dict(
                path=key,
                label=PATHS[key][0],
                params_m=params[key] / 1e6,
                seconds_best=best,
                seconds_mean=sum(times[key]) / len(times[key]),
                images_per_s=batch / best,
                ratio_vs_plain=best / base,
            )
        )

    print(
        f"torch {torch.__version__} | {args.arch} | {args.size[0]}x{args.size[1]} | "
        f"batch {batch} | last stride {args.last_stride} | best of {args.repeats} | "
        + (
            f"cuda {torch.cuda.get_device_name()} bf16 channels_last"
            if cuda
            else f"CPU threads {torch.get_num_threads()} float32"
            + (" channels_last" if channels_last else "")
        )
    )
    print()
    print("| path | what | params (M) | s / step (best) | s / step (mean) | images/s | vs plain |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['path']} | {r['label']} | {r['params_m']:.2f} | {r['seconds_best']:.3f} | "
            f"{r['seconds_mean']:.3f} | {r['images_per_s']:.1f} | {r['ratio_vs_plain']:.2f}x |"
        )
    result = dict(
        torch=torch.__version__,
        machine=platform.machine(),
        threads=torch.get_num_threads(),
        cuda=torch.cuda.get_device_name() if cuda else None,
        dtype="bfloat16 autocast" if bf16 else "float32",
        channels_last=channels_last,
        arch=args.arch,
        size=list(args.size),
        batch=batch,
        last_stride=args.last_stride,
        repeats=args.repeats,
        rows=rows,
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
