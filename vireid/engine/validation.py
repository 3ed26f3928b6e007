"""Scoring a model on held-out validation identities (model selection without the test set)."""

from __future__ import annotations

import torch

from vireid.data.validation import ValidationSplit
from vireid.engine.evaluation import FeatureSource, _pool_index
from vireid.metrics import RankMetrics, pairwise_distance, rank_metrics

__all__ = ["evaluate_validation", "validation_score"]


def evaluate_validation(
    features: FeatureSource, split: ValidationSplit, *, batch_size: int = 256
) -> RankMetrics:
    """Rank every held-out gallery image for every held-out query (no trials, no sampling).

    Cosine distance accumulated in float64, the split's exclusion rule, deduplicated CMC.

    Args:
        features: A feature source (e.g.
            [`vireid.engine.FeatureExtractor`][vireid.engine.FeatureExtractor]).
        split: The [`vireid.data.ValidationSplit`][vireid.data.ValidationSplit].
        batch_size: Samples per call of a feature function.
    """
    feats, row = _pool_index(features, [split.query, split.gallery], batch_size)
    q = feats[[row[s.path] for s in split.query]]
    g = feats[[row[s.path] for s in split.gallery]]
    dist = pairwise_distance(q, g, "cosine", dtype=torch.float64)
    ids = [torch.tensor([s.pid for s in x]) for x in (split.query, split.gallery)]
    cams = [torch.tensor([s.cam for s in x]) for x in (split.query, split.gallery)]
    return rank_metrics(dist, ids[0], ids[1], cams[0], cams[1], exclude=split.exclude,
                        dedup_cmc=True)  # fmt: skip


def validation_score(metrics: RankMetrics, metric: str) -> float:
    """The selection score ``"mAP"``, ``"rank1"`` or ``"mINP"`` of a validation result."""
    if metric == "mAP":
        return metrics.mAP
    if metric == "mINP":
        return metrics.mINP
    if metric == "rank1":
        return metrics.rank(1)
    raise ValueError(f"metric must be 'mAP', 'rank1' or 'mINP', got {metric!r}")
