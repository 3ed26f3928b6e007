"""Benchmark protocol runners: features once, trials drawn by the dataset, metrics per trial.

Each runner takes a *feature source*, either

* a callable ``fn(samples) -> (len(samples), D) tensor`` (for example a model wrapped with image
  loading), called in batches over the whole test pool exactly once, or
* a mapping from image path (``str`` or ``Path``) to a ``(D,)`` feature,

and returns a [`ProtocolResult`][vireid.metrics.ProtocolResult] with the per-trial metrics,
mean ± std and a record of every protocol choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal, cast

import torch

from vireid.data.llcm import LLCM
from vireid.data.regdb import RegDB
from vireid.data.sample import Sample
from vireid.data.sysu import SYSUMM01
from vireid.metrics import (
    ProtocolResult,
    llcm_metrics,
    mean_over_trials,
    pairwise_distance,
    rank_metrics,
    regdb_metrics,
    sysu_metrics,
)
from vireid.ops.distance import DistanceMetric

__all__ = ["FeatureSource", "evaluate_llcm", "evaluate_regdb", "evaluate_sysu"]

FeatureSource = Callable[[Sequence[Sample]], torch.Tensor] | Mapping[str | Path, torch.Tensor]
"""What the protocol runners read features from.

Either a callable ``fn(samples) -> (len(samples), D) tensor``, called in batches over the test
pool, or a mapping from image path to a ``(D,)`` feature.
"""


def _extract(source: FeatureSource, pool: Sequence[Sample], batch_size: int) -> torch.Tensor:
    """Features of every sample in ``pool`` as one ``(N, D)`` tensor, in pool order."""
    if isinstance(source, Mapping):
        rows, missing = [], []
        for s in pool:
            feat = source.get(str(s.path), source.get(s.path))
            if feat is None:
                missing.append(str(s.path))
            else:
                rows.append(torch.as_tensor(feat))
        if missing:
            raise KeyError(
                f"the feature mapping lacks {len(missing)} of the {len(pool)} test images, "
                f"e.g. {missing[:3]}; key it by image path (str or Path)"
            )
        return torch.stack(rows)
    if not callable(source):
        raise TypeError(
            f"features must be a callable(samples) -> tensor or a mapping path -> tensor, got "
            f"{type(source).__name__}"
        )
    parts = []
    for start in range(0, len(pool), batch_size):
        batch = pool[start : start + batch_size]
        out = torch.as_tensor(source(batch))
        if out.dim() != 2 or out.shape[0] != len(batch):
            raise ValueError(
                f"the feature function must return shape ({len(batch)}, D) for a batch of "
                f"{len(batch)} samples, got {tuple(out.shape)}"
            )
        parts.append(out.detach())
    return torch.cat(parts)


def _pool_index(
    source: FeatureSource, sets: Iterable[Sequence[Sample]], batch_size: int
) -> tuple[torch.Tensor, dict[Path, int]]:
    """Extract features once for the union of ``sets`` (deduplicated by path)."""
    pool: list[Sample] = []
    row: dict[Path, int] = {}
    for samples in sets:
        for s in samples:
            if s.path not in row:
                row[s.path] = len(pool)
                pool.append(s)
    return _extract(source, pool, batch_size), row


def _distances(
    feats: torch.Tensor,
    row: dict[Path, int],
    query: Sequence[Sample],
    gallery: Sequence[Sample],
    distance: DistanceMetric,
) -> torch.Tensor:
    """Query × gallery distances from the pooled features, accumulated in float64."""
    q = feats[[row[s.path] for s in query]]
    g = feats[[row[s.path] for s in gallery]]
    return pairwise_distance(q, g, distance, dtype=torch.float64)


def _ids_cams(samples: Sequence[Sample]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor([s.pid for s in samples]), torch.tensor([s.cam for s in samples])


def evaluate_sysu(
    features: FeatureSource,
    dataset: SYSUMM01,
    mode: Literal["all", "indoor"] = "all",
    shots: int = 1,
    sampler: Literal["official", "agw"] = "official",
    trials: Iterable[int] = range(10),
    *,
    distance: DistanceMetric = "cosine",
    batch_size: int = 256,
    max_rank: int = 20,
) -> ProtocolResult:
    """The SYSU-MM01 protocol: infrared queries against per-trial visible galleries.

    Features are computed once for the query set and every trial's gallery (the MPANet lineage does
    the same; BN runs in eval mode, so this equals re-extracting per trial). Distances are
    accumulated in float64, and each trial is scored with
    [`vireid.metrics.sysu_metrics`][vireid.metrics.sysu_metrics] (camera-3 queries drop every
    camera-2 item; deduplicated CMC).

    Args:
        features: Feature source (see the module docstring).
        dataset: A [`vireid.data.SYSUMM01`][vireid.data.SYSUMM01].
        mode: ``"all"`` or ``"indoor"`` search.
        shots: 1 (single-shot) or 10 (multi-shot).
        sampler: ``"official"`` (``rand_perm_cam.mat``) or ``"agw"`` (``random.Random(trial)``).
        trials: Trial indices, default 0..9.
        distance: Ranking distance, default ``"cosine"``.
        batch_size: Samples per call of a feature function.
        max_rank: CMC length.

    Returns:
        A `ProtocolResult` (``direction="ir2vis"``).
    """
    trials = tuple(trials)
    if not trials:
        raise ValueError("trials must name at least one trial, got an empty sequence")
    query = dataset.query()
    galleries = [dataset.gallery(mode, shots, t, sampler) for t in trials]
    feats, row = _pool_index(features, [query, *galleries], batch_size)
    q_ids, q_cams = _ids_cams(query)
    results = []
    for gallery in galleries:
        dist = _distances(feats, row, query, gallery, distance)
        g_ids, g_cams = _ids_cams(gallery)
        results.append(sysu_metrics(dist, q_ids, g_ids, q_cams, g_cams, max_rank=max_rank))
    return ProtocolResult(
        dataset="SYSU-MM01",
        summary=mean_over_trials(results),
        trials=trials,
        mode=mode,
        shots=shots,
        sampler=sampler,
        direction="ir2vis",
        distance=distance,
    )


def evaluate_regdb(
    features: FeatureSource | Sequence[FeatureSource],
    dataset: RegDB | Sequence[RegDB],
    direction: Literal["v2t", "t2v"] = "v2t",
    cmc: Literal["standard", "dedup"] = "standard",
    *,
    distance: DistanceMetric = "cosine",
    batch_size: int = 256,
    max_rank: int = 20,
) -> ProtocolResult:
    """The RegDB protocol for one split, or the mean over several split-specific models.

    Pass one feature source and one [`vireid.data.RegDB`][vireid.data.RegDB] for a single split, or
    equal-length sequences (feature source of the model trained on split t,
    ``RegDB(root, split=t)``) for the ten-split protocol. Every query is scored against the whole
    test set of the other modality; no exclusion rule applies.

    Args:
        features: Feature source(s) (see the module docstring).
        dataset: `RegDB` split(s).
        direction: ``"v2t"`` (visible queries, thermal gallery; the AGW default) or ``"t2v"``.
        cmc: ``"standard"`` (AGW) or ``"dedup"`` (MPANet lineage).
        distance: Ranking distance, default ``"cosine"``.
        batch_size: Samples per call of a feature function.
        max_rank: CMC length.

    Returns:
        A `ProtocolResult` whose trials are the split numbers.
    """
    if direction not in ("v2t", "t2v"):
        raise ValueError(f"direction must be 'v2t' or 't2v', got {direction!r}")
    if cmc not in ("standard", "dedup"):
        raise ValueError(f"cmc must be 'standard' or 'dedup', got {cmc!r}")
    # One RegDB pairs with one feature source, a sequence of splits with a sequence of sources
    # (a source of the wrong kind fails in _extract, a length mismatch just below).
    if isinstance(dataset, RegDB):
        datasets = [dataset]
        sources = [cast(FeatureSource, features)]
    else:
        datasets = list(dataset)
        sources = list(cast(Sequence[FeatureSource], features))
    if len(sources) != len(datasets):
        raise ValueError(
            f"give one feature source per split: got {len(sources)} sources for "
            f"{len(datasets)} splits"
        )
    results = []
    for source, ds in zip(sources, datasets, strict=True):
        query, gallery = ds.test_visible, ds.test_thermal
        if direction == "t2v":
            query, gallery = gallery, query
        feats, row = _pool_index(source, [query, gallery], batch_size)
        dist = _distances(feats, row, query, gallery, distance)
        results.append(regdb_metrics(dist, [s.pid for s in query], [s.pid for s in gallery],
                                     max_rank=max_rank, dedup_cmc=cmc == "dedup"))  # fmt: skip
    return ProtocolResult(
        dataset="RegDB",
        summary=mean_over_trials(results),
        trials=tuple(ds.split for ds in datasets),
        mode=None,
        shots=None,
        sampler=None,
        direction=direction,
        distance=distance,
    )


def evaluate_llcm(
    features: FeatureSource,
    dataset: LLCM,
    direction: Literal["ir2vis", "vis2ir"] = "ir2vis",
    protocol: Literal["deen", "symmetric", "full"] = "deen",
    trials: Iterable[int] | None = None,
    *,
    distance: DistanceMetric = "cosine",
    batch_size: int = 256,
    max_rank: int = 20,
) -> ProtocolResult:
    """The LLCM protocol (Zhang & Wang, CVPR 2023, and the DEEN evaluation code).

    ``"deen"`` and ``"symmetric"`` average ten trials (default 0..9) and remove gallery items
    with the query's identity and camera; ``"full"`` is a single run without exclusion. Every
    variant uses the deduplicated CMC. Note: ``direction="vis2ir", protocol="deen"`` scores
    sampled NIR queries against the full VIS set, as the official code does; always report which
    variant a VIS→IR number uses.

    Args:
        features: Feature source (see the module docstring).
        dataset: A [`vireid.data.LLCM`][vireid.data.LLCM].
        direction: ``"ir2vis"`` (the headline LLCM number) or ``"vis2ir"``.
        protocol: ``"deen"`` (official), ``"symmetric"`` or ``"full"``.
        trials: Trial indices; default 0..9, or (0,) for ``"full"``.
        distance: Ranking distance, default ``"cosine"``.
        batch_size: Samples per call of a feature function.
        max_rank: CMC length.

    Returns:
        A `ProtocolResult` with ``sampler`` set to the protocol variant.
    """
    trials = (
        tuple(trials) if trials is not None else ((0,) if protocol == "full" else tuple(range(10)))
    )
    if not trials:
        raise ValueError("trials must name at least one trial, got an empty sequence")
    sets = [(dataset.query(direction, protocol, t), dataset.gallery(direction, protocol, t))
            for t in trials]  # fmt: skip
    feats, row = _pool_index(features, [s for pair in sets for s in pair], batch_size)
    results = []
    for query, gallery in sets:
        dist = _distances(feats, row, query, gallery, distance)
        q_ids, q_cams = _ids_cams(query)
        g_ids, g_cams = _ids_cams(gallery)
        if protocol == "full":
            results.append(rank_metrics(dist, q_ids, g_ids, dedup_cmc=True, max_rank=max_rank))
        else:
            results.append(llcm_metrics(dist, q_ids, g_ids, q_cams, g_cams, max_rank=max_rank))
    return ProtocolResult(
        dataset="LLCM",
        summary=mean_over_trials(results),
        trials=trials,
        mode=None,
        shots=None,
        sampler=protocol,
        direction=direction,
        distance=distance,
    )
