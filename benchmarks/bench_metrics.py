"""Benchmark of the ranking evaluator against the straightforward per-query NumPy loop.

Workloads (the shapes the field evaluates on; distances precomputed, float64 as AGW computes
them):

* SYSU-MM01: 10 trials each of all-search single-shot (3803 × 301), indoor single-shot
  (3803 × 112) and all-search multi-shot (3803 × 3010); ``sysu_metrics`` rules.
* RegDB: 2060 × 2060, visible→thermal and thermal→visible; ``regdb_metrics`` rules.
* Market-1501 scale: 3368 × 15913 with the same-identity-same-camera rule, standard CMC.

The distances come from synthetic features (identity centres, a modality/camera shift and
noise) tuned to give accuracies in the range published models reach, so the positions of the
true matches are realistic; a "random" row shows the untrained-model case. Both evaluators get
the same arrays in one run; the table gives seconds, the speed-up and the largest absolute
difference over all metrics (CMC at every rank, mAP, mINP).

Run::

    python benchmarks/bench_metrics.py --out bench_metrics.json
    python benchmarks/bench_metrics.py --device cuda      # also time on a GPU

The per-query loop takes minutes on the full workload; ``--baseline-trials 1`` times the loop
on the first trial of each setting only and scales the figure by the trial count (marked ``*``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.baselines

from benchmarks.baselines.ranking_numpy import numpy_rank_metrics
from vireid.metrics import llcm_metrics, rank_metrics, regdb_metrics, sysu_metrics  # noqa: F401


def _features(ids, cams, centres, cam_shift, noise, gen):
    dim = centres.shape[1]
    x = centres[ids] + cam_shift[cams] + noise * torch.randn(len(ids), dim, generator=gen)
    return torch.nn.functional.normalize(x, dim=1).double()


def _sysu_queries(gen):
    # 96 test ids; cam 3 sees 93 of them, cam 6 all 96; 3803 images in all.
    ids, cams = [], []
    per = (
        torch.multinomial(
            torch.ones(96 + 93), 3803 - 2 * (96 + 93), replacement=True, generator=gen
        ).bincount(minlength=96 + 93)
        + 2
    )
    for i in range(96):
        ids += [i] * int(per[i])
        cams += [6] * int(per[i])
    for i in range(93):
        ids += [i] * int(per[96 + i])
        cams += [3] * int(per[96 + i])
    return torch.tensor(ids), torch.tensor(cams)


def _sysu_gallery(mode, shots):
    # Visible cameras: cam 1 and cam 2 see the same 56 ids, cam 4 sees 94, cam 5 sees 95.
    seen = {1: range(56), 2: range(56), 4: range(94), 5: range(1, 96)}
    cams = (1, 2) if mode == "indoor" else (1, 2, 4, 5)
    ids, cs = [], []
    for pid in range(96):
        for c in cams:
            if pid in seen[c]:
                ids += [pid] * shots
                cs += [c] * shots
    return torch.tensor(ids), torch.tensor(cs)


def make_workloads(seed: int = 0, trials: int = 10, dim: int = 256):
    gen = torch.Generator().manual_seed(seed)
    work = []
    # SYSU-MM01
    centres = torch.randn(96, dim, generator=gen) / dim**0.5
    cam_shift = torch.randn(7, dim, generator=gen) * 0.35 / dim**0.5
    q_ids, q_cams = _sysu_queries(gen)
    q_feat = _features(q_ids, q_cams, centres, cam_shift, 2.2 / dim**0.5, gen)
    for mode, shots in (("all", 1), ("indoor", 1), ("all", 10)):
        g_ids, g_cams = _sysu_gallery(mode, shots)
        dists = [
            -(q_feat @ _features(g_ids, g_cams, centres, cam_shift, 2.2 / dim**0.5, gen).T)
            for _ in range(trials)
        ]
        work.append(
            dict(
                name=f"SYSU {mode} {shots}-shot",
                fn="sysu",
                dists=dists,
                q_ids=q_ids,
                g_ids=g_ids,
                q_cams=q_cams,
                g_cams=g_cams,
                exclude="sysu",
                dedup=True,
            )
        )
    # RegDB: 206 ids × 10 images per modality, one split.
    centres = torch.randn(206, dim, generator=gen) / dim**0.5
    ids = torch.arange(206).repeat_interleave(10)
    vis = _features(ids, torch.full_like(ids, 1), centres, cam_shift, 2.0 / dim**0.5, gen)
    thr = _features(ids, torch.full_like(ids, 2), centres, cam_shift, 2.0 / dim**0.5, gen)
    v2t = -(vis @ thr.T)
    for name, dist in (("RegDB v2t", v2t), ("RegDB t2v", v2t.T.contiguous())):
        work.append(
            dict(
                name=name,
                fn="regdb",
                dists=[dist],
                q_ids=ids,
                g_ids=ids,
                q_cams=None,
                g_cams=None,
                exclude=None,
                dedup=False,
            )
        )
    # Market-1501 scale: 751 query ids, 15913 gallery images (751 ids + distractor id -1... here
    # modelled as extra identities never queried), 6 cameras.
    n_ids = 751 + 500
    centres = torch.randn(n_ids, dim, generator=gen) / dim**0.5
    q_ids = torch.randint(0, 751, (3368,), generator=gen)
    g_ids = torch.cat(
        [
            torch.arange(751).repeat(14),
            torch.randint(751, n_ids, (15913 - 751 * 14,), generator=gen),
        ]
    )
    q_cams = torch.randint(1, 7, (3368,), generator=gen)
    g_cams = torch.randint(1, 7, (15913,), generator=gen)
    qf = _features(q_ids, q_cams, centres, cam_shift, 1.7 / dim**0.5, gen)
    gf = _features(g_ids, g_cams, centres, cam_shift, 1.7 / dim**0.5, gen)
    common = dict(
        q_ids=q_ids,
        g_ids=g_ids,
        q_cams=q_cams,
        g_cams=g_cams,
        exclude="same_id_same_camera",
        dedup=False,
        fn="market",
    )
    work.append(dict(name="Market scale", dists=[-(qf @ gf.T)], **common))
    work.append(
        dict(
            name="Market scale, random",
            dists=[torch.rand(3368, 15913, generator=gen, dtype=torch.float64)],
            **common,
        )
    )
    return work


def _vireid(w, dist):
    if w["fn"] == "sysu":
        return sysu_metrics(dist, w["q_ids"], w["g_ids"], w["q_cams"], w["g_cams"])
    if w["fn"] == "regdb":
        return regdb_metrics(dist, w["q_ids"], w["g_ids"])
    return rank_metrics(
        dist,
        w["q_ids"],
        w["g_ids"],
        w["q_cams"],
        w["g_cams"],
        exclude=w["exclude"],
        dedup_cmc=w["dedup"],
    )


def _np_or_none(t):
    return None if t is None else t.numpy()


def _baseline(w, dist):
    np_or_none = _np_or_none
    return numpy_rank_metrics(
        dist.numpy(),
        w["q_ids"].numpy(),
        w["g_ids"].numpy(),
        np_or_none(w["q_cams"]),
        np_or_none(w["g_cams"]),
        exclude=w["exclude"],
        dedup_cmc=w["dedup"],
    )


def _diff(a, b) -> float:
    cmc = np.abs(a.cmc.numpy() - np.asarray(b.cmc)).max()
    return float(max(cmc, abs(a.mAP - b.mAP), abs(a.mINP - b.mINP)))


def _time(fn, repeats):
    best = float("inf")
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--device", default="cpu", help="device for vireid (cpu, cuda)")
    parser.add_argument("--trials", type=int, default=10, help="SYSU trials per setting")
    parser.add_argument(
        "--baseline-trials",
        type=int,
        default=None,
        help="time the loop on this many trials per setting and scale",
    )
    parser.add_argument("--repeats", type=int, default=3, help="vireid timing repeats (best)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    work = make_workloads(trials=args.trials)
    rows = []
    for w in work:
        dists = w["dists"]
        on_dev = [d.to(device) for d in dists]
        _vireid(w, on_dev[0])  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()

        def run_vireid(on_dev=on_dev, w=w):
            out = [_vireid(w, d) for d in on_dev]
            if device.type == "cuda":
                torch.cuda.synchronize()
            return out

        t_v, res_v = _time(run_vireid, args.repeats)
        n_base = (
            len(dists) if args.baseline_trials is None else min(args.baseline_trials, len(dists))
        )
        t0 = time.perf_counter()
        res_b = [_baseline(w, d) for d in dists[:n_base]]
        t_b = (time.perf_counter() - t0) * len(dists) / n_base
        # the baseline may cover fewer trials than vireid
        diff = max(_diff(a, b) for a, b in zip(res_v, res_b, strict=False))
        m = res_v[0]
        rows.append(
            dict(
                workload=w["name"],
                shape=list(dists[0].shape),
                trials=len(dists),
                vireid_s=t_v,
                baseline_s=t_b,
                baseline_scaled=n_base < len(dists),
                speedup=t_b / t_v,
                max_abs_diff=diff,
                rank1=m.rank(1),
                mAP=m.mAP,
                mINP=m.mINP,
            )
        )
        print(f"{w['name']:<24} done", file=sys.stderr)

    groups = {
        "SYSU (3 settings x trials)": [r for r in rows if r["workload"].startswith("SYSU")],
        "Market scale": [r for r in rows if r["workload"] == "Market scale"],
    }
    head = (
        f"{'workload':<24} {'shape':>13} {'trials':>6} {'vireid s':>9} {'loop s':>9} "
        f"{'ratio':>7} {'max|diff|':>10} {'R1':>6} {'mAP':>6}"
    )
    print(
        f"device: {device} | torch {torch.__version__} | threads {torch.get_num_threads()} | "
        f"{platform.processor() or platform.machine()}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        star = "*" if r["baseline_scaled"] else " "
        print(
            f"{r['workload']:<24} {'x'.join(map(str, r['shape'])):>13} {r['trials']:>6} "
            f"{r['vireid_s']:9.3f} {r['baseline_s']:8.2f}{star} {r['speedup']:7.1f} "
            f"{r['max_abs_diff']:10.1e} {100 * r['rank1']:6.2f} {100 * r['mAP']:6.2f}"
        )
    totals = {}
    for name, rs in groups.items():
        tv = sum(r["vireid_s"] for r in rs)
        tb = sum(r["baseline_s"] for r in rs)
        totals[name] = dict(vireid_s=tv, baseline_s=tb, speedup=tb / tv)
        print(f"{name:<38} {tv:9.3f} {tb:9.2f}  {tb / tv:7.1f}")
    result = dict(
        device=str(device),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        machine=platform.machine(),
        rows=rows,
        totals=totals,
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
