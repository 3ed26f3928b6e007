"""Dataset-specific evaluators: the exclusion rule and CMC variant each benchmark prescribes.

| function | exclusion rule | CMC | reproduces |
|---|---|---|---|
| `sysu_metrics` | camera-3 query drops all camera-2 items | deduplicated | official Matlab code, AGW/CAJ ``eval_sysu``, MPANet/MCJA/IDKL ``eval_sysu`` |
| `regdb_metrics` | none | standard (``dedup_cmc=True`` for the MPANet lineage) | AGW ``eval_regdb`` |
| `llcm_metrics` | same identity and same camera | deduplicated | DEEN ``eval_llcm`` |

The rules come from the benchmark papers and their official evaluation code: SYSU-MM01 (Wu et
al., "RGB-Infrared Cross-Modality Person Re-Identification", ICCV 2017), RegDB (Nguyen et al.,
Sensors 2017) and LLCM (Zhang & Wang, "Diverse Embedding Expansion Network and Low-Light
Cross-Modality Benchmark for Visible-Infrared Person Re-identification", CVPR 2023).
"""  # noqa: E501

from __future__ import annotations

import numpy as np
import torch

from vireid.metrics._inputs import ArrayLike, as_distance_matrix, as_label_vector
from vireid.metrics.ranking import rank_metrics
from vireid.metrics.results import RankMetrics

__all__ = ["llcm_metrics", "regdb_metrics", "sysu_metrics"]

# SYSU-MM01 camera numbers as the dataset names its folders (cam1 … cam6).
_SYSU_QUERY_CAMS = (3, 6)  # infrared
_SYSU_GALLERY_CAMS = (1, 2, 4, 5)  # visible
_LLCM_CAMS = tuple(range(1, 10))


def _check_cameras(
    cams: ArrayLike, name: str, allowed: tuple[int, ...], length: int, what: str, why: str
) -> torch.Tensor:
    """``cams`` as int64, or an error naming the values outside ``allowed``.

    The evaluators already read ``dist`` back to the host, so the one ``unique`` sync here
    adds nothing that matters to an evaluation.
    """
    t = as_label_vector(cams, name, length, what, torch.device("cpu"))
    found = torch.unique(t).tolist()
    bad = [c for c in found if c not in allowed]
    if bad:
        raise ValueError(
            f"{name} must hold camera numbers in {set(allowed)}, got {bad[:8]} "
            f"(all values found: {found[:12]}). {why}"
        )
    return t


def sysu_metrics(
    dist: torch.Tensor | np.ndarray,
    query_ids: ArrayLike,
    gallery_ids: ArrayLike,
    query_cams: ArrayLike,
    gallery_cams: ArrayLike,
    max_rank: int = 20,
) -> RankMetrics:
    """SYSU-MM01 metrics of one trial (one gallery draw).

    Rules (Wu et al., ICCV 2017, and the official code): cameras 2 and 3 share a location, so a
    query from camera 3 drops **every** camera-2 gallery item, whatever its identity; queries from
    camera 6 drop nothing. The CMC is identity-deduplicated; mAP and mINP use the filtered list.
    This matches the official Matlab evaluation, the AGW/CAJ ``eval_sysu`` and the MPANet/MCJA/IDKL
    ``eval_sysu``.

    Args:
        dist: ``(Q, G)`` distances (queries are infrared images from cameras 3 and 6).
        query_ids: ``(Q,)`` identities.
        gallery_ids: ``(G,)`` identities.
        query_cams: ``(Q,)`` camera numbers as in the dataset (3 or 6).
        gallery_cams: ``(G,)`` camera numbers (1, 2, 4, 5).
        max_rank: CMC length. Default 20.

    Returns:
        `RankMetrics` with ``exclude="sysu"`` and ``cmc_variant="dedup"``.

    Raises:
        ValueError: A query camera outside {3, 6} or a gallery camera outside {1, 2, 4, 5}.
            The camera-3 rule is only right for the dataset's own 1-based camera numbers and the
            infrared-to-visible direction; 0-based ids or swapped roles would silently drop the
            wrong items. Use `rank_metrics` with your own ``exclude`` for another setting.
    """
    d = as_distance_matrix(dist)
    hint = (
        "SYSU-MM01 numbers its cameras 1-6 as in its cam1 ... cam6 folders; queries are "
        "infrared (cameras 3, 6), galleries visible (1, 2, 4, 5). For 0-based ids add 1; for "
        "another query/gallery setting call rank_metrics with your own exclude rule."
    )
    query_cams = _check_cameras(
        query_cams, "query_cams", _SYSU_QUERY_CAMS, d.shape[0], "rows (queries)", hint
    )
    gallery_cams = _check_cameras(
        gallery_cams, "gallery_cams", _SYSU_GALLERY_CAMS, d.shape[1], "columns (gallery items)",
        hint,
    )  # fmt: skip
    return rank_metrics(
        d, query_ids, gallery_ids, query_cams, gallery_cams,
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

    RegDB has one visible and one thermal camera, so no exclusion rule applies.
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

    Rules (Zhang & Wang, CVPR 2023, and the DEEN code): gallery items with the query's identity
    **and** camera number are removed (camera numbers 1–9 are shared by the visible and
    near-infrared images); the CMC is identity-deduplicated; mAP and mINP use the filtered list.
    This matches DEEN's ``eval_llcm``.

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

    Raises:
        ValueError: A camera number outside 1-9.
    """
    d = as_distance_matrix(dist)
    hint = "LLCM numbers its cameras 1-9 (test_vis/cam*, test_nir/cam*); for 0-based ids add 1."
    query_cams = _check_cameras(
        query_cams, "query_cams", _LLCM_CAMS, d.shape[0], "rows (queries)", hint
    )
    gallery_cams = _check_cameras(
        gallery_cams, "gallery_cams", _LLCM_CAMS, d.shape[1], "columns (gallery items)", hint
    )
    return rank_metrics(
        d, query_ids, gallery_ids, query_cams, gallery_cams,
        exclude="same_id_same_camera", dedup_cmc=True, max_rank=max_rank,
    )  # fmt: skip
