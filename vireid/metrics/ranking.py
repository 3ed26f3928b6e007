r"""CMC / mAP / mINP from a query × gallery distance matrix, without sorting the gallery.

Definitions (those of the reference evaluators: the official SYSU-MM01 code of Wu et al.,
ICCV 2017, and the AGW code of Ye et al., TPAMI 2021). For a query with identity $y_q$, rank the
gallery by ascending distance (ties broken by gallery index, as a stable sort would), drop the
items the exclusion rule removes, and let $r_1 < \dots < r_G$ be the 1-based positions of the
$G$ true matches left. A query with $G = 0$ is *invalid* and leaves every denominator. Then

$$
\mathrm{AP} = \frac{1}{G}\sum_{i=1}^{G}\frac{i}{r_i}, \qquad
\mathrm{INP} = \frac{G}{r_G}, \qquad
\mathrm{hit}_k = [\,r^* \le k\,]
$$

where $r^* = r_1$ for the standard CMC and, for the identity-deduplicated CMC of the official
SYSU-MM01/LLCM code, $r^*$ is the position of $y_q$ in the ranked identity list with repeats
removed (one plus the number of distinct wrong identities ranked above the first true match).

Algorithm. Only the positions of the true matches are needed, and a position is one plus a count
of the items ranked above. Each row is cut into value bins by a monotone map that puts the first
true match in bin 1 and the last near bin K (K ≈ G/2). One histogram pass over the row counts the
items in every bin. The few items that share a bin with a true match are compared exactly, value
first and gallery index second, with the true matches of that bin. This gives the exact
stable-sort positions in a handful of element-wise passes per gallery entry instead of an
$O(G \log G)$ sort per query. When so many items would need the exact comparison that sorting is
cheaper (one identity owning most of the gallery, massive ties), the block is sorted instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vireid.metrics._inputs import (
    ArrayLike,
    as_distance_matrix,
    as_label_vector,
    check_finite,
    check_positive_int,
)
from vireid.metrics.exclusion import ExclusionFn, resolve_exclusion
from vireid.metrics.results import RankMetrics

__all__ = ["rank_metrics"]

# Gallery entries scored per block of queries when chunk_size is None. Large enough to amortise
# the per-block overhead, small enough to keep the temporaries in cache on a CPU.
_CPU_BLOCK_ELEMENTS = 1 << 20
_CUDA_BLOCK_ELEMENTS = 1 << 24
# If the exact comparisons would exceed this many per gallery entry, sort the block instead.
_SORT_FALLBACK_FACTOR = 12
_FLOAT32_SAFE = 1e37
# Value bins per gallery item: more bins mean fewer items to compare exactly, but larger tables.
_BINS_PER_ITEM = 0.5


@dataclass(frozen=True)
class _GalleryIndex:
    """Gallery entries grouped by identity, so a query's true matches are one contiguous run."""

    labels: torch.Tensor  # (G,) compact identity label 0..num_ids-1 of every gallery item
    order: torch.Tensor  # (G,) gallery indices sorted by (label, index)
    starts: torch.Tensor  # (num_ids,) first position of each label in ``order``
    counts: torch.Tensor  # (num_ids,) items per label
    ids: torch.Tensor  # (num_ids,) sorted distinct identities
    max_count: int

    @classmethod
    def build(cls, gallery_ids: torch.Tensor) -> _GalleryIndex:
        ids, labels, counts = torch.unique(
            gallery_ids, sorted=True, return_inverse=True, return_counts=True
        )
        order = torch.sort(labels, stable=True).indices
        starts = counts.cumsum(0) - counts
        return cls(labels, order, starts, counts, ids, int(counts.max()))

    def label_of(self, query_ids: torch.Tensor) -> torch.Tensor:
        """Compact label of each query identity, -1 where the gallery lacks it."""
        pos = torch.searchsorted(self.ids, query_ids).clamp_(max=self.ids.numel() - 1)
        return torch.where(self.ids[pos] == query_ids, pos, -1)


class _Totals:
    """Running sums over query blocks, kept on the device until the end."""

    def __init__(self, cmc_len: int, device: torch.device) -> None:
        self.cmc_len = cmc_len
        self.first_hits = torch.zeros(cmc_len + 1, dtype=torch.int64, device=device)
        self.ap = torch.zeros((), dtype=torch.float64, device=device)
        self.inp = torch.zeros((), dtype=torch.float64, device=device)
        self.valid = torch.zeros((), dtype=torch.int64, device=device)

    def add(self, ranks: torch.Tensor, npos: torch.Tensor, first: torch.Tensor) -> None:
        """Add one block: ``ranks`` (C, P) sorted match positions, ``npos`` (C,), ``first`` (C,)."""
        num_p = ranks.shape[1]
        used = torch.arange(num_p, device=ranks.device) < npos[:, None]
        order = torch.arange(1, num_p + 1, device=ranks.device, dtype=torch.float64)
        precision = torch.where(used, order / ranks.to(torch.float64), 0.0)
        npos_f = npos.to(torch.float64)
        self.ap += (precision.sum(1) / npos_f).sum()
        last = ranks.gather(1, (npos - 1)[:, None]).squeeze(1)
        self.inp += (npos_f / last.to(torch.float64)).sum()
        self.valid += npos.numel()
        slot = (first - 1).clamp_(max=self.cmc_len)
        self.first_hits.index_add_(0, slot, torch.ones_like(slot))


def _sorted_path(
    d: torch.Tensor,
    removed: torch.Tensor | None,
    lab: torch.Tensor,
    index: _GalleryIndex,
    num_p: int,
    dedup: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full stable sort of each row: for blocks where binning would cost more than sorting.

    Returns the (C, num_p) ascending match positions and the (C,) first-hit rank.
    """
    perm = torch.sort(d, dim=1, stable=True).indices
    kept = torch.ones_like(perm, dtype=torch.bool) if removed is None else ~removed.gather(1, perm)
    matched = (index.labels[perm] == lab[:, None]) & kept
    position = kept.cumsum(1)
    big = torch.iinfo(torch.int64).max
    ranks = torch.where(matched, position, big).topk(num_p, dim=1, largest=False).values
    if not dedup:
        return ranks, ranks[:, 0]
    first_slot = matched.to(torch.int8).argmax(1)  # first True
    slots = torch.arange(perm.shape[1], device=d.device)
    before = kept & (slots[None, :] < first_slot[:, None])
    rows, cols = before.nonzero(as_tuple=True)
    seen = torch.zeros(d.shape[0], index.ids.numel(), dtype=torch.bool, device=d.device)
    seen[rows, index.labels[perm[rows, cols]]] = True
    return ranks, seen.sum(1) + 1


def _score_block(
    d: torch.Tensor,
    q_label: torch.Tensor,
    removed: torch.Tensor | None,
    index: _GalleryIndex,
    dedup: bool,
    bin_dtype: torch.dtype,
    value_range: float,
    totals: _Totals,
) -> None:
    """Score one block of queries against the whole gallery and add it to ``totals``."""
    device = d.device
    if d.dtype in (torch.float16, torch.bfloat16):
        d = d.float()  # exact, order-preserving
    d = d.contiguous()  # row-major rows keep the scatter/gather passes fast (e.g. for dist.T)
    num_g = d.shape[1]
    num_p = index.max_count
    slot = torch.arange(num_p, device=device)

    # True-match candidates: the gallery run of the query's identity, padded to num_p.
    has_id = q_label >= 0
    lab = q_label.clamp(min=0)
    count = torch.where(has_id, index.counts[lab], 0)
    cand = index.order[(index.starts[lab][:, None] + slot).clamp_(max=num_g - 1)]
    in_run = slot < count[:, None]
    if removed is not None:
        in_run &= ~removed.gather(1, cand)
    npos = in_run.sum(1)

    keep = npos > 0
    if not bool(keep.all()):
        rows = keep.nonzero().squeeze(1)
        if rows.numel() == 0:
            return
        d, lab, cand, in_run, npos = (t.index_select(0, rows) for t in (d, lab, cand, in_run, npos))
        removed = None if removed is None else removed.index_select(0, rows)
    num_c = d.shape[0]

    # True matches ordered by (distance, gallery index): cand is ascending in index and the
    # sort is stable, so equal distances keep index order. Padding goes last as +inf.
    match_d = d.gather(1, cand).masked_fill_(~in_run, math.inf)
    match_d, perm = torch.sort(match_d, dim=1, stable=True)
    match_idx = cand.gather(1, perm)
    match_ok = slot < npos[:, None]

    # Monotone binning of every distance. The first match lands in bin 1, the last one near
    # bin K + 1, everything well below the first match in bin 0 and far above the last in
    # K + 2. Any monotone map is exact here, because items that share a bin with a match are
    # compared exactly below; the map only decides how few such items there are.
    num_bins = max(16, min(1 << 14, int(num_g * _BINS_PER_ITEM)))
    lo = match_d[:, :1].to(bin_dtype)
    hi = match_d.gather(1, (npos - 1)[:, None]).to(bin_dtype)
    span = hi - lo
    span = torch.where(span > 0, span, value_range if value_range > 0 else 1.0)
    scale = (num_bins / span).clamp_(max=torch.finfo(bin_dtype).max)
    # Shift by 1.5 bins so that items just below the first match share its bin (and are
    # compared exactly) while the rest fall into bin 0.
    origin = lo - 1.5 / scale
    t = d.to(bin_dtype).sub_(origin) if d.dtype != bin_dtype else d - origin
    bins = t.mul_(scale).clamp_(0.0, num_bins + 2.0).to(torch.int64)
    del t
    width = num_bins + 4
    dump = width - 1  # removed items and match padding go here
    if removed is not None:
        bins.masked_fill_(removed, dump)
    match_bin = bins.gather(1, match_idx).masked_fill_(~match_ok, dump)

    # Per-bin weights for the histogram: 1 for a bin without a match, 0 for a bin holding one
    # ("hot": its items are resolved exactly), and, when the deduplicated CMC is needed, 2 for
    # the bins below the first match ("early": their identities are counted). The matches
    # themselves need no search: match t has exactly t matches ahead of it.
    bin_ids = torch.arange(width, device=device)
    if dedup:
        weight_lut = 1 + (bin_ids[None, :] < match_bin[:, :1]).to(torch.int32)
    else:
        weight_lut = torch.ones(num_c, width, dtype=torch.int32, device=device)
    weight_lut.scatter_(1, match_bin, 0)
    weight_lut[:, dump] = 1
    weight = weight_lut.gather(1, bins)
    hist = torch.zeros(num_c, width, dtype=torch.int32, device=device)
    hist.scatter_add_(1, bins, weight)
    m_rows, m_slots = match_ok.nonzero(as_tuple=True)
    weight[m_rows, match_idx[m_rows, m_slots]] = 1
    # One pass finds every other item that needs individual attention: weight 0 or 2.
    s_rows, s_cols = (weight != 1).nonzero(as_tuple=True)
    s_weight = weight[s_rows, s_cols]
    del weight
    is_hot = s_weight == 0
    hot_rows, hot_cols = s_rows[is_hot], s_cols[is_hot]

    # Matches per bin; the matches of one bin are consecutive slots of match_d.
    per_bin = torch.zeros(num_c, width, dtype=torch.int64, device=device)
    per_bin.scatter_add_(1, match_bin, match_ok.to(torch.int64))
    per_bin[:, dump] = 0
    first_slot = per_bin.cumsum(1) - per_bin
    hot_bin = bins[hot_rows, hot_cols]
    lower = first_slot[hot_rows, hot_bin]
    in_bin = per_bin[hot_rows, hot_bin]
    widest = int(per_bin.max())
    num_hot = hot_rows.numel()
    if num_hot * widest > _SORT_FALLBACK_FACTOR * num_c * num_g:
        ranks, first = _sorted_path(d, removed, lab, index, num_p, dedup)
        totals.add(ranks, npos, first)
        return

    # Other items in hot bins: the matches of lower bins precede them; compare exactly (value,
    # then gallery index) with the matches of their own bin.
    hot_before = lower.clone()
    value = d[hot_rows, hot_cols]
    for j in range(widest):
        present = j < in_bin
        at = (lower + j).clamp_(max=num_p - 1)
        md = match_d[hot_rows, at]
        ahead = (md < value) | ((md == value) & (match_idx[hot_rows, at] < hot_cols))
        hot_before += (ahead & present).to(torch.int64)
    hot_hist = torch.zeros(num_c * (num_p + 1), dtype=torch.int64, device=device)
    hot_hist.index_add_(0, hot_rows * (num_p + 1) + hot_before, torch.ones_like(hot_before))

    # Position of match t (1-based) = items in match-free bins below its bin + the t matches
    # ahead of it + the other hot items ahead of it (those preceded by at most t matches) + 1.
    cum = hist.cumsum(1, dtype=torch.int64) - hist
    below = cum.gather(1, match_bin)
    if dedup:
        below -= cum.gather(1, match_bin[:, :1]) // 2  # early items carry weight 2
    ranks = below + (slot + 1) + hot_hist.view(num_c, num_p + 1).cumsum(1)[:, :num_p]

    if dedup:
        # Items ranked above the first match: the early items and the hot items that no match
        # precedes. None of them has the query's identity (every valid item of that identity
        # is a match), so their distinct identities are the wrong ones ranked first.
        seen = torch.zeros(num_c, index.ids.numel(), dtype=torch.bool, device=device)
        early = s_weight == 2
        seen[s_rows[early], index.labels[s_cols[early]]] = True
        lead = hot_before == 0
        seen[hot_rows[lead], index.labels[hot_cols[lead]]] = True
        first = seen.sum(1) + 1
    else:
        first = ranks[:, 0]
    totals.add(ranks, npos, first)


def rank_metrics(
    dist: torch.Tensor | np.ndarray,
    query_ids: ArrayLike,
    gallery_ids: ArrayLike,
    query_cams: ArrayLike | None = None,
    gallery_cams: ArrayLike | None = None,
    *,
    exclude: str | torch.Tensor | np.ndarray | ExclusionFn | None = None,
    dedup_cmc: bool = False,
    max_rank: int = 20,
    chunk_size: int | None = None,
) -> RankMetrics:
    r"""CMC, mAP and mINP of a ranking, exactly as the VI-ReID reference evaluators define them.

    For each query the gallery is ranked by ascending distance, ties broken by gallery index (as a
    stable sort would), and the items removed by ``exclude`` are dropped. With
    $r_1 < \dots < r_G$ the 1-based positions of the $G$ true matches left:

    $$
    \mathrm{AP}(q) = \frac{1}{G}\sum_{i=1}^{G}\frac{i}{r_i}, \qquad
    \mathrm{INP}(q) = \frac{G}{r_G}, \qquad
    \mathrm{CMC}(k) = \frac{1}{N_{\text{valid}}}\sum_{\text{valid } q}[\,r^*_q \le k\,]
    $$

    where $r^* = r_1$ (standard CMC) or, if ``dedup_cmc``, the rank of the query identity in the
    ranked identity list with repeats removed (the CMC of the official SYSU-MM01 and LLCM code).
    A query with no true match left is invalid and leaves every denominator. mAP and mINP always
    use the filtered list without deduplication. References: Wu et al., "RGB-Infrared
    Cross-Modality Person Re-Identification", ICCV 2017 (the SYSU-MM01 evaluation); Ye et al.,
    "Deep Learning for Person Re-identification: A Survey and Outlook", IEEE TPAMI 2021 (mINP).

    The positions are found without sorting the gallery (see the module docstring): the cost is
    a few element-wise passes over ``dist``, on ``dist``'s device, in blocks of queries so that
    memory stays bounded for very large problems.

    Args:
        dist: ``(Q, G)`` distances, smaller = more similar. Tensor (any device, any real dtype)
            or numpy array. Must be finite.
        query_ids: ``(Q,)`` integer identities of the queries.
        gallery_ids: ``(G,)`` integer identities of the gallery items.
        query_cams: ``(Q,)`` integer camera ids; needed by the camera-based rules.
        gallery_cams: ``(G,)`` integer camera ids.
        exclude: Items to drop from each query's ranking. ``None`` (default): none.
            ``"sysu"``: a camera-3 query drops every camera-2 item, whatever its identity.
            ``"same_id_same_camera"``: drop items with the query's identity and camera
            (Market-1501, LLCM). ``"same_camera"``: drop the query's camera. A bool ``(Q, G)``
            mask (``True`` = drop), or a callable, see `ExclusionFn`.
        dedup_cmc: ``True`` for the identity-deduplicated CMC of the official SYSU-MM01/LLCM
            code; ``False`` (default) for the standard CMC.
        max_rank: CMC length; clipped to the gallery size as in the AGW code. Default 20.
        chunk_size: Queries per block. ``None`` (default) picks a size from the gallery size
            (about a million distances per block on a CPU, 16 million on a GPU).

    Returns:
        A `RankMetrics`.

    Raises:
        ValueError: no valid query, NaN/inf distances, mismatched lengths, a camera rule without
            cameras, or a bad mask shape.
        TypeError: non-integer ids or cameras, or a ``dist`` that is not real-valued.

    Example:
        >>> import torch
        >>> dist = torch.tensor([[0.1, 0.4, 0.2], [0.3, 0.2, 0.9]])
        >>> m = rank_metrics(dist, [1, 2], [1, 2, 2])
        >>> m.rank(1), round(m.mAP, 4)
        (1.0, 0.9167)
    """
    d = as_distance_matrix(dist)
    num_q, num_g = d.shape
    device = d.device
    q_ids = as_label_vector(query_ids, "query_ids", num_q, "rows (queries)", device)
    g_ids = as_label_vector(gallery_ids, "gallery_ids", num_g, "columns (gallery items)", device)
    q_cams = None
    g_cams = None
    if query_cams is not None:
        q_cams = as_label_vector(query_cams, "query_cams", num_q, "rows (queries)", device)
    if gallery_cams is not None:
        g_cams = as_label_vector(
            gallery_cams, "gallery_cams", num_g, "columns (gallery items)", device
        )
    rule = resolve_exclusion(exclude, q_ids, g_ids, q_cams, g_cams)
    max_rank = check_positive_int(max_rank, "max_rank")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    if not isinstance(dedup_cmc, bool):
        raise TypeError(f"dedup_cmc must be a bool, got {dedup_cmc!r}")
    lo, hi = check_finite(d)
    # Bins are computed in float32 unless the values would overflow it (order is all that
    # matters for binning; exact comparisons always use the original values).
    magnitude = max(abs(lo), abs(hi))
    bin_dtype = torch.float64 if magnitude > _FLOAT32_SAFE else torch.float32
    index = _GalleryIndex.build(g_ids)
    q_label = index.label_of(q_ids)
    cmc_len = min(max_rank, num_g)
    totals = _Totals(cmc_len, device)
    if chunk_size is None:
        budget = _CUDA_BLOCK_ELEMENTS if device.type == "cuda" else _CPU_BLOCK_ELEMENTS
        chunk_size = max(1, budget // num_g)
    for start in range(0, num_q, chunk_size):
        stop = min(num_q, start + chunk_size)
        _score_block(
            d[start:stop],
            q_label[start:stop],
            rule.block(start, stop, device),
            index,
            dedup_cmc,
            bin_dtype,
            hi - lo,
            totals,
        )

    num_valid = int(totals.valid)
    if num_valid == 0:
        raise ValueError(
            f"no valid query: none of the {num_q} queries has a true match in the gallery after "
            f"exclusion (exclude={rule.name}). Check that query and gallery identities use the "
            f"same numbering."
        )
    cmc = (totals.first_hits.cumsum(0)[:cmc_len].to(torch.float64) / num_valid).cpu()
    return RankMetrics(
        cmc=cmc,
        mAP=float(totals.ap) / num_valid,
        mINP=float(totals.inp) / num_valid,
        num_valid=num_valid,
        num_queries=num_q,
        exclude=rule.name,
        cmc_variant="dedup" if dedup_cmc else "standard",
        max_rank=max_rank,
    )
