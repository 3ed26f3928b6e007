"""Result records of the ranking evaluator and their averaging over trials."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["ProtocolResult", "RankMetrics", "TrialSummary", "mean_over_trials"]

_REPORTED_RANKS = (1, 5, 10, 20)


def _headline_ranks(length: int) -> list[int]:
    ranks = [k for k in _REPORTED_RANKS if k <= length]
    return ranks or [length]


def _check_rank(k: int, length: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, got {k!r}")
    if not 1 <= k <= length:
        raise ValueError(f"k must be in 1..{length} (the CMC length), got {k}")
    return k - 1


# eq=False: records hold tensors, whose element-wise == has no single truth value.
@dataclass(frozen=True, eq=False)
class RankMetrics:
    """CMC, mAP and mINP of one ranking evaluation (one trial).

    Attributes:
        cmc: float64 CPU tensor of length ``min(max_rank, G)``; ``cmc[k - 1]`` is the fraction of
            valid queries with a true match within the first ``k`` ranks.
        mAP: mean average precision over valid queries (fraction, not percent).
        mINP: mean inverse negative penalty over valid queries (Ye et al., TPAMI 2021).
        num_valid: queries with at least one true match left after exclusion; the denominator
            of every metric.
        num_queries: all queries given.
        exclude: the exclusion rule used (``"none"``, ``"sysu"``, ``"same_id_same_camera"``,
            ``"same_camera"``, ``"custom_mask"`` or ``"custom:<name>"``).
        cmc_variant: ``"dedup"`` (identity-deduplicated CMC of the official SYSU/LLCM code) or
            ``"standard"``.
        max_rank: the requested CMC length before clipping to the gallery size.
    """

    cmc: torch.Tensor
    mAP: float
    mINP: float
    num_valid: int
    num_queries: int
    exclude: str = "none"
    cmc_variant: str = "standard"
    max_rank: int = 20

    def rank(self, k: int) -> float:
        """Rank-``k`` accuracy (``k`` is 1-based), a fraction in ``[0, 1]``."""
        return float(self.cmc[_check_rank(k, self.cmc.numel())])

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary of every field (CMC as a list of floats)."""
        return {
            "cmc": [float(v) for v in self.cmc],
            "mAP": self.mAP,
            "mINP": self.mINP,
            "num_valid": self.num_valid,
            "num_queries": self.num_queries,
            "exclude": self.exclude,
            "cmc_variant": self.cmc_variant,
            "max_rank": self.max_rank,
        }

    def __str__(self) -> str:
        ranks = "  ".join(f"R{k} {100 * self.rank(k):6.2f}" for k in _headline_ranks(len(self.cmc)))
        return (
            f"{ranks}  mAP {100 * self.mAP:6.2f}  mINP {100 * self.mINP:6.2f}  "
            f"({self.num_valid}/{self.num_queries} valid queries, exclude={self.exclude}, "
            f"cmc={self.cmc_variant})"
        )


@dataclass(frozen=True, eq=False)
class TrialSummary:
    """Mean and standard deviation of [`RankMetrics`][vireid.metrics.RankMetrics] over trials.

    The mean is the arithmetic mean of the per-trial CMC vectors, mAP and mINP values, not a pool
    over all queries of all trials, as the reference evaluation scripts report it.

    Attributes:
        cmc: mean CMC, float64 tensor.
        cmc_std: standard deviation of the CMC at each rank.
        mAP: mean of the per-trial mAP.
        mAP_std: its standard deviation.
        mINP: mean of the per-trial mINP.
        mINP_std: its standard deviation.
        num_trials: number of trials averaged.
        ddof: delta degrees of freedom of the standard deviations (0 = population std).
        trials: the per-trial results, in the order given.
    """

    cmc: torch.Tensor
    cmc_std: torch.Tensor
    mAP: float
    mAP_std: float
    mINP: float
    mINP_std: float
    num_trials: int
    ddof: int
    trials: tuple[RankMetrics, ...] = field(repr=False)

    @property
    def exclude(self) -> str:
        """Exclusion rule shared by every trial."""
        return self.trials[0].exclude

    @property
    def cmc_variant(self) -> str:
        """CMC variant shared by every trial."""
        return self.trials[0].cmc_variant

    def rank(self, k: int) -> float:
        """Mean rank-``k`` accuracy over trials (``k`` is 1-based)."""
        return float(self.cmc[_check_rank(k, self.cmc.numel())])

    def rank_std(self, k: int) -> float:
        """Standard deviation of rank-``k`` accuracy over trials."""
        return float(self.cmc_std[_check_rank(k, self.cmc.numel())])

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary, per-trial results included."""
        return {
            "cmc": [float(v) for v in self.cmc],
            "cmc_std": [float(v) for v in self.cmc_std],
            "mAP": self.mAP,
            "mAP_std": self.mAP_std,
            "mINP": self.mINP,
            "mINP_std": self.mINP_std,
            "num_trials": self.num_trials,
            "ddof": self.ddof,
            "exclude": self.exclude,
            "cmc_variant": self.cmc_variant,
            "trials": [t.to_dict() for t in self.trials],
        }

    def __str__(self) -> str:
        parts = [
            f"R{k} {100 * self.rank(k):6.2f} ± {100 * self.rank_std(k):.2f}"
            for k in _headline_ranks(len(self.cmc))
        ]
        parts.append(f"mAP {100 * self.mAP:6.2f} ± {100 * self.mAP_std:.2f}")
        parts.append(f"mINP {100 * self.mINP:6.2f} ± {100 * self.mINP_std:.2f}")
        return (
            "  ".join(parts) + f"  (mean over {self.num_trials} trials, exclude={self.exclude}, "
            f"cmc={self.cmc_variant})"
        )


def _std(values: torch.Tensor, ddof: int) -> torch.Tensor:
    n = values.shape[0]
    if n - ddof <= 0:
        return torch.full(values.shape[1:], math.nan, dtype=torch.float64)
    centred = values - values.mean(0)
    return (centred.square().sum(0) / (n - ddof)).sqrt()


def mean_over_trials(results: Sequence[RankMetrics], *, ddof: int = 0) -> TrialSummary:
    """Average per-trial results the way the benchmark protocols do.

    Args:
        results: One `RankMetrics` per trial (SYSU-MM01/LLCM gallery draws, or the
            RegDB split-specific models). All must share the exclusion rule, the CMC variant and
            the CMC length.
        ddof: Delta degrees of freedom of the reported standard deviations. Default 0 (the
            population standard deviation, as ``numpy.std``); use 1 for the sample estimate.
            A std that is undefined (fewer than ``ddof + 1`` trials) is NaN.

    Returns:
        A [`TrialSummary`][vireid.metrics.TrialSummary].

    Raises:
        ValueError: an empty list, or trials evaluated with different settings.
    """
    trials = tuple(results)
    if not trials:
        raise ValueError("mean_over_trials needs at least one RankMetrics, got an empty sequence")
    for i, r in enumerate(trials):
        if not isinstance(r, RankMetrics):
            raise TypeError(f"results[{i}] must be a RankMetrics, got {type(r).__name__}")
    first = trials[0]
    for i, r in enumerate(trials[1:], start=1):
        if (r.exclude, r.cmc_variant, r.cmc.numel()) != (
            first.exclude,
            first.cmc_variant,
            first.cmc.numel(),
        ):
            raise ValueError(
                f"all trials must share exclusion rule, CMC variant and CMC length; trial 0 has "
                f"({first.exclude}, {first.cmc_variant}, {first.cmc.numel()}) but trial {i} has "
                f"({r.exclude}, {r.cmc_variant}, {r.cmc.numel()})"
            )
    cmc = torch.stack([r.cmc.to(torch.float64) for r in trials])
    scalars = torch.tensor([[r.mAP, r.mINP] for r in trials], dtype=torch.float64)
    mean_s, std_s = scalars.mean(0), _std(scalars, ddof)
    return TrialSummary(
        cmc=cmc.mean(0),
        cmc_std=_std(cmc, ddof),
        mAP=float(mean_s[0]),
        mAP_std=float(std_s[0]),
        mINP=float(mean_s[1]),
        mINP_std=float(std_s[1]),
        num_trials=len(trials),
        ddof=ddof,
        trials=trials,
    )


@dataclass(frozen=True, eq=False)
class ProtocolResult:
    """A full benchmark evaluation: per-trial metrics, their mean ± std, and every choice made.

    Attributes:
        dataset: ``"SYSU-MM01"``, ``"RegDB"`` or ``"LLCM"``.
        summary: mean ± std over the trials ([`TrialSummary`][vireid.metrics.TrialSummary]);
            ``summary.trials`` holds the per-trial `RankMetrics`.
        trials: trial indices (SYSU-MM01/LLCM gallery draws) or split numbers (RegDB).
        mode: SYSU-MM01 search mode (``"all"``/``"indoor"``), else ``None``.
        shots: gallery images per identity and camera (SYSU-MM01), else ``None``.
        sampler: gallery sampler (``"official"``/``"agw"`` for SYSU-MM01, ``"deen"``,
            ``"symmetric"`` or ``"full"`` for LLCM), else ``None``.
        direction: query→gallery modality, e.g. ``"ir2vis"``, ``"v2t"``.
        distance: the distance used to rank (see
            [`pairwise_distance`][vireid.ops.pairwise_distance]).
        reranked: whether a re-ranking step changed the distances (never by default).
    """

    dataset: str
    summary: TrialSummary
    trials: tuple[int, ...]
    mode: str | None
    shots: int | None
    sampler: str | None
    direction: str
    distance: str
    reranked: bool = False

    @property
    def per_trial(self) -> tuple[RankMetrics, ...]:
        """The `RankMetrics` of each trial, in the order of `trials`."""
        return self.summary.trials

    def settings(self) -> dict[str, Any]:
        """Every protocol choice behind the numbers."""
        return {
            "dataset": self.dataset,
            "mode": self.mode,
            "shots": self.shots,
            "sampler": self.sampler,
            "direction": self.direction,
            "trials": list(self.trials),
            "cmc_variant": self.summary.cmc_variant,
            "exclude": self.summary.exclude,
            "distance": self.distance,
            "reranked": self.reranked,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable record: settings, per-trial results and mean ± std."""
        return {"settings": self.settings(), "summary": self.summary.to_dict()}

    def __str__(self) -> str:
        s = self.settings()
        head = ", ".join(f"{k}={v}" for k, v in s.items() if v is not None and k != "trials")
        ranks = _headline_ranks(len(self.summary.cmc))
        cols = [f"R{k}" for k in ranks] + ["mAP", "mINP"]
        lines = [head, f"{'trial':>6}  " + "  ".join(f"{c:>13}" for c in cols)]
        for t, r in zip(self.trials, self.per_trial, strict=True):
            vals = [r.rank(k) for k in ranks] + [r.mAP, r.mINP]
            lines.append(f"{t:>6}  " + "  ".join(f"{100 * v:>13.2f}" for v in vals))
        m = self.summary
        means = [(m.rank(k), m.rank_std(k)) for k in ranks]
        means += [(m.mAP, m.mAP_std), (m.mINP, m.mINP_std)]
        lines.append(f"{'mean':>6}  " + "  ".join(f"{100 * a:>6.2f} ± {100 * b:<4.2f}"
                                                  for a, b in means))  # fmt: skip
        return "\n".join(lines)
