"""Slow, obviously-correct ranking metrics: one Python loop iteration per query.

Two kinds of oracle live here, both written from ``shared/spec/protocols.md``:

* :func:`loop_rank_metrics` follows spec §4.2–4.5 literally (stable sort, filter, match list,
  stable unique for the deduplicated CMC) and returns plain Python numbers.
* ``agw_eval_sysu``, ``agw_eval_regdb``, ``deen_eval_llcm`` and ``mpanet_eval_sysu`` mimic the
  arithmetic of the reference evaluators as the spec describes them (default ``numpy.argsort``,
  float32 CMC accumulation, the MPANet camera relabelling and per-rank counters), so that
  agreement with them is agreement with the numbers the field publishes. They are used only on
  inputs without exact distance ties, where the sort kind cannot matter.

Nothing here is optimised; that is the point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LoopResult:
    """Metrics of one evaluation, as plain NumPy values."""

    cmc: np.ndarray  # float64, length min(max_rank, G)
    mAP: float
    mINP: float
    num_valid: int


def _stable_unique(values: np.ndarray) -> np.ndarray:
    seen: set[int] = set()
    out = []
    for v in values.tolist():
        if v not in seen:
            seen.add(v)
            out.append(v)
    return np.asarray(out, dtype=np.int64)


def loop_rank_metrics(
    dist,
    q_ids,
    g_ids,
    q_cams=None,
    g_cams=None,
    exclude=None,
    dedup_cmc=False,
    max_rank=20,
) -> LoopResult:
    """Spec §4.2–4.5, one query at a time. ``exclude`` is a rule name, None, or a (Q, G) mask."""
    dist = np.asarray(dist, dtype=np.float64)
    q_ids, g_ids = np.asarray(q_ids), np.asarray(g_ids)
    num_q, num_g = dist.shape
    cmc_len = min(max_rank, num_g)
    hits = np.zeros(cmc_len)
    ap_sum = inp_sum = 0.0
    num_valid = 0
    for q in range(num_q):
        order = np.argsort(dist[q], kind="stable")
        if exclude is None:
            removed = np.zeros(num_g, dtype=bool)
        elif isinstance(exclude, np.ndarray):
            removed = exclude[q]
        elif exclude == "sysu":
            removed = (g_cams == 2) & (q_cams[q] == 3)
        elif exclude == "same_id_same_camera":
            removed = (g_ids == q_ids[q]) & (g_cams == q_cams[q])
        elif exclude == "same_camera":
            removed = g_cams == q_cams[q]
        else:
            raise ValueError(exclude)
        ranked = [int(g_ids[j]) for j in order if not removed[j]]
        matches = [i + 1 for i, pid in enumerate(ranked) if pid == q_ids[q]]  # 1-based positions
        if not matches:
            continue
        num_valid += 1
        n = len(matches)
        ap_sum += sum((i + 1) / r for i, r in enumerate(matches)) / n
        inp_sum += n / matches[-1]
        if dedup_cmc:
            first = list(_stable_unique(np.asarray(ranked))).index(q_ids[q]) + 1
        else:
            first = matches[0]
        for k in range(cmc_len):
            if first <= k + 1:
                hits[k] += 1
    if num_valid == 0:
        raise ValueError("no valid query")
    return LoopResult(hits / num_valid, ap_sum / num_valid, inp_sum / num_valid, num_valid)


# --- reference-evaluator mimics ------------------------------------------------------------


def _agw_style(dist, q_ids, g_ids, remove_fn, dedup, max_rank):
    """The shared body of the AGW ``eval_sysu`` / ``eval_regdb`` / DEEN ``eval_llcm`` family."""
    num_q, num_g = dist.shape
    if num_g < max_rank:
        max_rank = num_g
    indices = np.argsort(dist, axis=1)  # default kind, as the reference
    pred = g_ids[indices]
    matches = (pred == q_ids[:, None]).astype(np.int32)
    all_cmc, all_ap, all_inp, dedup_cmc = [], [], [], []
    num_valid = 0.0
    for q in range(num_q):
        keep = ~remove_fn(q, indices[q])
        if dedup:
            ranked = pred[q][keep]
            _, first_idx = np.unique(ranked, return_index=True)
            uniq = ranked[np.sort(first_idx)]
            dedup_cmc.append((uniq == q_ids[q]).astype(np.int32).cumsum()[:max_rank])
        raw = matches[q][keep]
        if not np.any(raw):
            continue
        cum = raw.cumsum()
        last = np.max(np.where(raw == 1))
        all_inp.append(cum[last] / (last + 1.0))
        cum[cum > 1] = 1
        all_cmc.append(cum[:max_rank])
        num_valid += 1.0
        precision = raw.cumsum() / (np.arange(raw.size) + 1.0)
        all_ap.append((precision * raw).sum() / raw.sum())
    assert num_valid > 0
    curves = dedup_cmc if dedup else all_cmc
    cmc = np.asarray(curves).astype(np.float32).sum(0) / num_valid
    return cmc, float(np.mean(all_ap)), float(np.mean(all_inp))


def agw_eval_sysu(dist, q_ids, g_ids, q_cams, g_cams, max_rank=20):
    """AGW/CAJ ``eval_sysu``: drop cam-2 items for cam-3 queries; deduplicated CMC."""
    return _agw_style(
        dist, q_ids, g_ids,
        lambda q, order: (q_cams[q] == 3) & (g_cams[order] == 2),
        dedup=True, max_rank=max_rank,
    )  # fmt: skip


def deen_eval_llcm(dist, q_ids, g_ids, q_cams, g_cams, max_rank=20):
    """DEEN ``eval_llcm``: drop same-identity same-camera items; deduplicated CMC."""
    return _agw_style(
        dist, q_ids, g_ids,
        lambda q, order: (g_ids[order] == q_ids[q]) & (g_cams[order] == q_cams[q]),
        dedup=True, max_rank=max_rank,
    )  # fmt: skip


def agw_eval_regdb(dist, q_ids, g_ids, max_rank=20):
    """AGW ``eval_regdb``: query camera 1, gallery camera 2, so nothing is removed."""
    num_g = dist.shape[1]
    g_cams = np.full(num_g, 2)
    return _agw_style(
        dist, q_ids, g_ids,
        lambda q, order: (g_ids[order] == q_ids[q]) & (g_cams[order] == 1),
        dedup=False, max_rank=max_rank,
    )  # fmt: skip


def mpanet_eval_sysu(dist, q_ids, g_ids, q_cams, g_cams):
    """MPANet-lineage SYSU metrics, transcribed from the released evaluation code.

    Relabel query cam 3 as 2, drop same-camera gallery items, per-rank counters over the
    deduplicated identity list, AP as the mean of (1..G)/r, and MCJA's mINP written as
    1 - (r_G - G) / r_G.

    Returns the full-length CMC (one entry per distinct gallery identity), mAP and mINP.
    """
    q_cams = np.where(q_cams == 3, 2, q_cams)
    order = np.argsort(dist, axis=1)
    ranked_ids = g_ids[order]
    ranked_cams = g_cams[order]
    num_unique = np.unique(g_ids).size
    counter = np.zeros(num_unique)
    valid = 0
    ap_sum = inp_sum = 0.0
    for q in range(dist.shape[0]):
        row = np.where(ranked_cams[q] == q_cams[q], -1, ranked_ids[q])
        row = np.array([v for v in row if v != -1])
        is_match = row == q_ids[q]
        if is_match.sum() == 0:
            continue
        valid += 1
        uniq = _stable_unique(row)
        padded = np.zeros(num_unique)
        padded[: uniq.size] = uniq == q_ids[q]
        counter += padded
        pos = np.where(is_match)[0]
        ap_sum += np.mean(np.arange(1, pos.size + 1) / (pos + 1))
        last = pos[-1] + 1
        inp_sum += 1 - (last - pos.size) / last
    return np.cumsum(counter / valid), ap_sum / valid, inp_sum / valid
