"""Ranking metrics for re-identification: CMC, mAP and mINP under each dataset's protocol rules.

Start with `sysu_metrics`, `regdb_metrics` or `llcm_metrics` for the standard benchmarks,
or `rank_metrics` for any combination of exclusion rule and CMC variant. Average trials with
`mean_over_trials`.
"""

from vireid.metrics.exclusion import EXCLUSION_RULES, ExclusionFn, exclusion_mask
from vireid.metrics.protocols import llcm_metrics, regdb_metrics, sysu_metrics
from vireid.metrics.ranking import rank_metrics
from vireid.metrics.results import ProtocolResult, RankMetrics, TrialSummary, mean_over_trials
from vireid.ops.distance import pairwise_distance

__all__ = [
    "EXCLUSION_RULES",
    "ExclusionFn",
    "ProtocolResult",
    "RankMetrics",
    "TrialSummary",
    "exclusion_mask",
    "llcm_metrics",
    "mean_over_trials",
    "pairwise_distance",
    "rank_metrics",
    "regdb_metrics",
    "sysu_metrics",
]
