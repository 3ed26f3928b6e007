"""The straightforward evaluator: a NumPy loop over queries, a full stable sort per query.

This is how most re-identification code bases compute CMC/mAP/mINP (with the Python-level
loops of the reference code vectorised per query). It is the baseline of
``benchmarks/bench_metrics.py`` and a second oracle in the tests, where it is checked against
the pure-Python :func:`benchmarks.baselines.ranking_loop.loop_rank_metrics`.
"""

from __future__ import annotations

import numpy as np

from benchmarks.baselines.ranking_loop import LoopResult


def numpy_rank_metrics(
    dist, q_ids, g_ids, q_cams=None, g_cams=None, exclude=None, dedup_cmc=False, max_rank=20
) -> LoopResult:
    dist = np.asarray(dist)
    q_ids, g_ids = np.asarray(q_ids), np.asarray(g_ids)
    num_q, num_g = dist.shape
    cmc_len = min(max_rank, num_g)
    hits = np.zeros(cmc_len + 1)
    ap_sum = inp_sum = 0.0
    num_valid = 0
    for q in range(num_q):
        order = np.argsort(dist[q], kind="stable")
        if exclude is None:
            ranked = g_ids[order]
        else:
            if exclude == "sysu":
                removed = (g_cams == 2) & (q_cams[q] == 3)
            elif exclude == "same_id_same_camera":
                removed = (g_ids == q_ids[q]) & (g_cams == q_cams[q])
            elif exclude == "same_camera":
                removed = g_cams == q_cams[q]
            else:
                raise ValueError(exclude)
            ranked = g_ids[order[~removed[order]]]
        positions = np.flatnonzero(ranked == q_ids[q]) + 1
        if positions.size == 0:
            continue
        num_valid += 1
        ap_sum += np.mean(np.arange(1, positions.size + 1) / positions)
        inp_sum += positions.size / positions[-1]
        if dedup_cmc:
            _, first_index = np.unique(ranked[: positions[0]], return_index=True)
            first = first_index.size  # distinct ids up to and including the first match
        else:
            first = positions[0]
        hits[min(first, cmc_len + 1) - 1] += 1
    if num_valid == 0:
        raise ValueError("no valid query")
    return LoopResult(
        np.cumsum(hits)[:cmc_len] / num_valid, ap_sum / num_valid, inp_sum / num_valid, num_valid
    )
