"""Benchmark of every ``vireid.losses`` loss against a straightforward implementation.

Workload (issue 5): one batch of B = 128 images — 16 identities × (4 visible + 4 infrared),
``--dim`` 2048-d features, 395-class ID logits (SYSU-MM01) — in a shuffled order.

Paths, in the same run:

* ``vireid`` — the loss module, forward + backward (autograd) in float32.
* ``baseline`` — the straightforward implementation:

  * CMR: MCJA's structure — a Python loop over modalities, a broadcast ``q × g × D`` cosine,
    kept rows selected, then soft ranks from torchsort when it is installed, else from the
    NumPy pool-adjacent-violators oracle wrapped in an autograd Function; forward + backward.
  * every other loss: its loop oracle from ``tests/oracles`` (``losses_idkl.py``,
    ``losses_metric.py``: Python loops over samples in float64). Those oracles have no
    backward, so the baseline time is **forward only** — the ratio understates vireid's lead.

Both paths are checked to agree (relative difference printed) before timing. vireid: one
warm-up and the best of ``--repeats``; the baseline: the best of ``--baseline-repeats``
(default 1, the loops are slow). "speed-up" = baseline time ÷ vireid time.

Run::

    python benchmarks/bench_losses.py --out bench_losses.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.baselines import losses_idkl as idkl_oracle
from benchmarks.baselines import losses_metric as metric_oracle
from benchmarks.baselines.losses_cmr import oracle_soft_rank
from vireid import losses as L
from vireid.ops.permutahedron import _import_torchsort


def make_batch(dim: int, classes: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids, per_mod = 16, 4
    labels = torch.arange(ids).repeat_interleave(2 * per_mod)
    modalities = torch.tensor([0] * per_mod + [1] * per_mod).repeat(ids)
    order = torch.randperm(len(labels), generator=g)
    labels, modalities = labels[order], modalities[order]
    centers = torch.randn(ids, dim, generator=g)
    feats = centers[labels] + torch.randn(len(labels), dim, generator=g)
    return {
        "features": feats,
        "specific": feats + 0.5 * torch.randn(len(labels), dim, generator=g),
        "logits": torch.randn(len(labels), classes, generator=g),
        "logits2": torch.randn(len(labels), classes, generator=g),
        "mod_logits": torch.randn(len(labels), 2, generator=g),
        "labels": labels,
        "modalities": modalities,
    }


def cmr_baseline(features, labels, modalities, eps: float = 0.5) -> torch.Tensor:
    """MCJA's released structure: loop over modalities, broadcast cosine, per-row soft rank."""
    ts = _import_torchsort()
    terms = []
    for a in sorted(set(modalities.tolist())):
        q, gal = features[modalities == a], features[modalities != a]
        yq, yg = labels[modalities == a], labels[modalities != a]
        cos = torch.nn.functional.cosine_similarity(q[:, None, :], gal[None, :, :], dim=2, eps=1e-8)
        d = (1 - cos) / 2
        pos = yq[:, None] == yg[None, :]
        keep = pos.any(1) & ~pos.all(1)
        if not keep.any():
            continue
        d, pos = d[keep], pos[keep]
        if ts is not None:
            r = ts.soft_rank(d, regularization="l2", regularization_strength=eps)
        else:
            r = oracle_soft_rank(d.double(), eps).to(d.dtype)
        t = torch.where(pos, 1.0, float(gal.shape[0]))
        terms.append((r - t).abs().mean())
    return torch.stack(terms).mean()


def cases(b: dict[str, torch.Tensor]) -> list[tuple[str, Callable, Callable, tuple, bool]]:
    """(name, vireid loss, baseline, differentiable inputs, baseline has backward)."""
    f, sp, z, z2 = b["features"], b["specific"], b["logits"], b["logits2"]
    y, m, mz = b["labels"], b["modalities"], b["mod_logits"]
    mo, io = metric_oracle, idkl_oracle
    return [
        ("CMRLoss", lambda f: L.CMRLoss()(f, y, m), lambda f: cmr_baseline(f, y, m), (f,), True),
        ("CrossEntropyLabelSmooth", lambda z: L.CrossEntropyLabelSmooth()(z, y),
         lambda z: mo.cross_entropy_label_smooth(z, y), (z,), False),
        ("TripletLoss", lambda f: L.TripletLoss()(f, y, m),
         lambda f: mo.triplet_loss(f, y, m), (f,), False),
        ("WeightedRegularizationTriplet", lambda f: L.WeightedRegularizationTriplet()(f, y, m),
         lambda f: mo.weighted_regularization_triplet(f, y, m), (f,), False),
        ("AdaptiveTripletLoss", lambda f: L.AdaptiveTripletLoss()(f, y, m),
         lambda f: mo.adaptive_triplet_loss(f, y, m), (f,), False),
        ("HeteroCenterTripletLoss", lambda f: L.HeteroCenterTripletLoss()(f, y, m),
         lambda f: mo.hetero_center_triplet_loss(f, y, m), (f,), False),
        ("DistributionConsistencyLoss", lambda f: L.DistributionConsistencyLoss()(f, y, m),
         lambda f: mo.distribution_consistency_loss(f, y, m), (f,), False),
        ("IntraModalityLoss", lambda f: L.IntraModalityLoss()(f, y, m),
         lambda f: mo.intra_modality_loss(f, y, m), (f,), False),
        ("TGSALoss", lambda f, s: L.TGSALoss()(f, s, y, m),
         lambda f, s: io.tgsa_distillation_loss(f, s, y, m), (f, sp), False),
        ("CSALoss", lambda a, c: L.CSALoss()(a, c, y, m),
         lambda a, c: io.csa_loss(a, c, y, m), (z, z2), False),
        ("MDRLoss", lambda f, a: L.MDRLoss()(f, a, y, m),
         lambda f, a: io.mdr_loss(f, a, y, m), (f, z), False),
        ("InformationPurifierLoss",
         lambda a, c, f, s: L.InformationPurifierLoss()(a, c, f, s, y, m),
         lambda a, c, f, s: io.information_purifier_loss(a, c, f, s, y, m), (z, z2, f, sp), False),
        ("ModalityConfusionLoss", lambda q: L.ModalityConfusionLoss("uniform")(q, m),
         lambda q: io.modality_confusion_loss(q, m, "uniform"), (mz,), False),
    ]  # fmt: skip


def _time(fn: Callable[[], object], repeats: int, warmup: bool) -> float:
    if warmup:
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=395)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--baseline-repeats", type=int, default=1)
    parser.add_argument("--only", default=None, help="comma-separated loss names")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    batch = make_batch(args.dim, args.classes)
    wanted = set(args.only.split(",")) if args.only else None
    ts = _import_torchsort()
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, B=128, D={args.dim}, "
        f"CMR baseline soft rank: {'torchsort' if ts is not None else 'NumPy PAV oracle'}\n"
    )
    print("| loss | vireid fwd+bwd ms | baseline ms | baseline timed | speed-up | rel. diff |")
    print("|---|---|---|---|---|---|")
    rows = []
    for name, ours, theirs, inputs, has_backward in cases(batch):
        if wanted and name not in wanted:
            continue

        def run_ours(ours=ours, inputs=inputs) -> torch.Tensor:
            xs = [t.detach().requires_grad_() for t in inputs]
            loss = ours(*xs)
            loss.backward()
            return loss.detach()

        def run_theirs(theirs=theirs, inputs=inputs, has_backward=has_backward) -> float:
            xs = [t.detach().requires_grad_(has_backward) for t in inputs]
            loss = theirs(*xs)
            if has_backward:
                loss.backward()
            return float(loss.detach()) if torch.is_tensor(loss) else float(loss)

        value = float(run_ours())
        ref = run_theirs()
        rel = abs(value - ref) / max(abs(ref), 1e-12)
        t_ours = _time(run_ours, args.repeats, warmup=True)
        t_theirs = _time(run_theirs, args.baseline_repeats, warmup=False)
        row = {
            "loss": name,
            "vireid_fwd_bwd_s": t_ours,
            "baseline_s": t_theirs,
            "baseline_timed": "fwd+bwd" if has_backward else "fwd only",
            "speedup": t_theirs / t_ours,
            "value": value,
            "baseline_value": ref,
            "rel_diff": rel,
        }
        rows.append(row)
        print(
            f"| {name} | {t_ours * 1e3:.2f} | {t_theirs * 1e3:.1f} | {row['baseline_timed']} | "
            f"{row['speedup']:.0f}× | {rel:.1e} |",
            flush=True,
        )
    out = {
        "machine": platform.platform(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "dim": args.dim,
        "torchsort": ts is not None,
        "results": rows,
    }
    if args.out:
        args.out.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
