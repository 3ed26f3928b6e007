"""Benchmark of the data pieces: synthetic generation speed and the full SYSU-MM01 protocol.

1. ``make_sysu_like`` images per second (single process, 128×64 JPEGs written to disk).
2. The full SYSU-MM01 protocol on the synthetic tree — 4 settings (all/indoor × 1/10-shot) ×
   10 trials — from cached features (a path → feature mapping), timed end to end with
   ``vireid.engine.evaluate_sysu``. Side by side, in the same run, the same galleries and
   features are scored by the straightforward per-query NumPy loop
   (``tests/oracles/ranking_numpy.py``); the table gives both times, the ratio and the largest
   metric difference.

Run::

    python benchmarks/bench_data.py --out bench_data.json [--ids 192] [--sampler official]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.baselines

from benchmarks.baselines.ranking_numpy import numpy_rank_metrics
from vireid.data import SYSUMM01, make_sysu_like
from vireid.engine import evaluate_sysu
from vireid.metrics import pairwise_distance

SETTINGS = (("all", 1), ("all", 10), ("indoor", 1), ("indoor", 10))


def _cached_features(ds: SYSUMM01, sampler: str, dim: int, seed: int) -> dict[str, torch.Tensor]:
    """A feature per test image: identity centre + noise, so rankings look like a real model's."""
    gen = torch.Generator().manual_seed(seed)
    centres = {pid: torch.randn(dim, generator=gen) for pid in sorted(ds.test_ids)}
    pool = ds.query() + [
        s
        for mode, shots in SETTINGS
        for t in range(10)
        for s in ds.gallery(mode, shots, t, sampler)
    ]
    feats: dict[str, torch.Tensor] = {}
    for s in pool:
        if str(s.path) not in feats:
            feats[str(s.path)] = centres[s.pid] + 3.0 * torch.randn(dim, generator=gen)
    return feats


def _loop_protocol(ds, feats, mode, shots, sampler):
    query = ds.query()
    q = torch.stack([feats[str(s.path)] for s in query])
    q_ids = np.array([s.pid for s in query])
    q_cams = np.array([s.cam for s in query])
    out = []
    for t in range(10):
        gallery = ds.gallery(mode, shots, t, sampler)
        g = torch.stack([feats[str(s.path)] for s in gallery])
        dist = pairwise_distance(q, g, "cosine", dtype=torch.float64).numpy()
        g_ids = np.array([s.pid for s in gallery])
        g_cams = np.array([s.cam for s in gallery])
        out.append(numpy_rank_metrics(dist, q_ids, g_ids, q_cams, g_cams, "sysu", True))
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=192, help="identities in the synthetic tree")
    parser.add_argument("--images-per-camera", type=int, default=10)
    parser.add_argument("--sampler", default="official", choices=["official", "agw"])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root = make_sysu_like(
            Path(tmp) / "sysu", args.ids, images_per_camera=args.images_per_camera
        )
        gen_s = time.perf_counter() - t0
        num_images = sum(1 for p in root.rglob("*.jpg"))
        ds = SYSUMM01(root, official_split=False)
        feats = _cached_features(ds, args.sampler, dim=256, seed=0)

        evaluate_sysu(feats, ds, "all", 1, args.sampler, trials=[0])  # warm-up
        rows = []
        for mode, shots in SETTINGS:
            t0 = time.perf_counter()
            result = evaluate_sysu(feats, ds, mode, shots, args.sampler)
            t_v = time.perf_counter() - t0
            t0 = time.perf_counter()
            loop = _loop_protocol(ds, feats, mode, shots, args.sampler)
            t_b = time.perf_counter() - t0
            diff = max(
                max(np.abs(r.cmc.numpy() - b.cmc).max(), abs(r.mAP - b.mAP), abs(r.mINP - b.mINP))
                for r, b in zip(result.per_trial, loop, strict=True)
            )
            rows.append(dict(setting=f"{mode} {shots}-shot", queries=len(ds.query()),
                             gallery=len(ds.gallery(mode, shots, 0, args.sampler)),
                             vireid_s=t_v, loop_s=t_b, ratio=t_b / t_v, max_abs_diff=float(diff),
                             rank1=result.summary.rank(1), mAP=result.summary.mAP))  # fmt: skip

    print(f"torch {torch.__version__} | threads {torch.get_num_threads()} | {platform.machine()}")
    print(f"synthetic SYSU-like tree: {num_images} images ({args.ids} ids) in {gen_s:.2f} s "
          f"= {num_images / gen_s:,.0f} images/s")  # fmt: skip
    head = (f"{'setting (10 trials)':<20} {'Q x G':>11} {'vireid s':>9} {'loop s':>8} "
            f"{'ratio':>6} {'max|diff|':>10} {'R1':>6} {'mAP':>6}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['setting']:<20} {r['queries']:>5}x{r['gallery']:<5} {r['vireid_s']:9.3f} "
              f"{r['loop_s']:8.2f} {r['ratio']:6.1f} {r['max_abs_diff']:10.1e} "
              f"{100 * r['rank1']:6.2f} {100 * r['mAP']:6.2f}")  # fmt: skip
    total_v = sum(r["vireid_s"] for r in rows)
    total_b = sum(r["loop_s"] for r in rows)
    print(f"{'total (40 trials)':<32} {total_v:9.3f} {total_b:8.2f} {total_b / total_v:6.1f}")
    result = dict(images=num_images, ids=args.ids, generation_s=gen_s,
                  images_per_s=num_images / gen_s, sampler=args.sampler, rows=rows,
                  protocol_total_s=total_v, loop_total_s=total_b)  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
