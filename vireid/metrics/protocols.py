"""Dataset-specific evaluators: the exclusion rule and CMC variant each benchmark prescribes.

| function | exclusion rule | CMC | reproduces |
|---|---|---|---|
| `sysu_metrics` | camera-3 query drops all camera-2 items | deduplicated | official Matlab code, AGW/CAJ ``eval_sysu``, MPANet/MCJA/IDKL ``eval_sysu`` |
| `regdb_metrics` | none | standard (``dedup_cmc=True`` for the MPANet lineage) | AGW ``eval_regdb`` |
| `llcm_metrics` | same identity and same camera | deduplicated | DEEN ``eval_llcm`` |

See ``protocols.md`` §1.7, §2.2, §3.2 and §4.8 of the specification.
"""  # noqa: E501

from __future__ import annotations

import numpy as np
import torch

from vireid.metrics._inputs import ArrayLike
from vireid.metrics.ranking import rank_metrics
from vireid.metrics.results import RankMetrics

__all__ = ["llcm_metrics", "regdb_metrics", "sysu_metrics"]


def sysu_metrics(
    dist: torch.Tensor | np.ndarray,
    query_ids: ArrayLike,
    gallery_ids: ArrayLike,
    query_cams: ArrayLike,
    gallery_cams: ArrayLike,
    max_rank: int = 20,
) -> RankMetrics:
    """SYSU-MM01 metrics of one trial (one gallery draw).

    Rules (spec §1.7, §4.5): cameras 2 and 3 share a location, so a query from camera 3 drops
    **every** camera-2 gallery item, whatever its identity; queries from camera 6 drop nothing.
    The CMC is identity-deduplicated; mAP and mINP use the filtered list. This matches the
    official Matlab evaluation, the AGW/CAJ ``eval_sysu`` and the MPANet/MCJA/IDKL ``eval_sysu``.

    Args:
        dist: ``(Q, G)`` distances (queries are infrared images from cameras 3 and 6).
        query_ids: ``(Q,)`` identities.
        gallery_ids: ``(G,)`` identities.
        query_cams: ``(Q,)`` camera numbers as in the dataset (3 or 6).
        gallery_cams: ``(G,)`` camera numbers (1, 2, 4, 5).
        max_rank: CMC length. Default 20.

    Returns:
        `RankMetrics` with ``exclude="sysu"`` and ``cmc_variant="dedup"``.
    """
    return rank_metrics(
        dist, query_ids, gallery_ids, query_cams, gallery_cams,
        exclude="sysu", dedup_cmc=True, max_rank=max_rank,
    )  # fmt: skip


def regdb_metrics(
    dist: torch.Tensor | np.ndarray,
    query_ids: ArrayLike,
    gallery_ids: ArrayLike,
    max_rank: int = 20,
    dedup_cmc: bool = False,
) -> RankMetrics:
    """RegDB metrics of one split in one direction (visible→thermal or thermal→visible).

    RegDB has one visible and one thermal camera, so no exclusion rule applies (spec §2.2).
    The AGW ``eval_regdb`` reports the standard CMC (the default here); the MPANet/IDKL/MCJA
    lineage reports the identity-deduplicated CMC (``dedup_cmc=True``). Rank-1, mAP and mINP are
    the same under both.

    Args:
        dist: ``(Q, G)`` distances.
        query_ids: ``(Q,)`` identities.
        gallery_ids: ``(G,)`` identities.
        max_rank: CMC length. Default 20.
        dedup_cmc: Deduplicated CMC instead of the standard one. Default ``False``.

    Returns:
        `RankMetrics` with ``exclude="none"``.
    """
    return rank_metrics(dist, query_ids, gallery_ids, dedup_cmc=dedup_cmc, max_rank=max_rank)


def llcm_metrics(
    dist: torch.Tensor | np.ndarray,
    query_ids: ArrayLike,
    gallery_ids: ArrayLike,
    query_cams: ArrayLike,
    gallery_cams: ArrayLike,
    max_rank: int = 20,
) -> RankMetrics:
    """LLCM metrics of one trial under the DEEN (official) protocol.

    Rules (spec §3.2): gallery items with the query's identity **and** camera number are removed
    (camera numbers 1–9 are shared by the visible and near-infrared images); the CMC is
    identity-deduplicated; mAP and mINP use the filtered list. This matches DEEN's ``eval_llcm``.

    Args:
        dist: ``(Q, G)`` distances.
        query_ids: ``(Q,)`` identities.
        gallery_ids: ``(G,)`` identities.
        query_cams: ``(Q,)`` camera numbers (1–9).
        gallery_cams: ``(G,)`` camera numbers (1–9).
        max_rank: CMC length. Default 20.

    Returns:
        `RankMetrics` with ``exclude="same_id_same_camera"`` and
        ``cmc_variant="dedup"``.
    """
    return rank_metrics(
        dist, query_ids, gallery_ids, query_cams, gallery_cams,
        exclude="same_id_same_camera", dedup_cmc=True, max_rank=max_rank,
    )  # fmt: skip
