"""Pairwise distances between two sets of feature vectors."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

__all__ = ["DISTANCE_METRICS", "pairwise_distance"]

DistanceMetric = Literal["cosine", "euclidean", "sqeuclidean", "neg_dot"]

DISTANCE_METRICS: tuple[str, ...] = ("cosine", "euclidean", "sqeuclidean", "neg_dot")
"""Names of the metrics that `pairwise_distance` accepts."""


def _as_features(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (N, D), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must hold floating-point features, got dtype {x.dtype}")
    return x


def pairwise_distance(
    x: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    metric: DistanceMetric = "cosine",
    *,
    dtype: torch.dtype | None = None,
    eps: float = 1e-12,
) -> torch.Tensor:
    r"""Distance between every row of ``x`` and every row of ``y`` (smaller = more similar).

    The metrics, for rows $x_i$ and $y_j$:

    * ``"cosine"``: $1 - x_i^\top y_j / (\lVert x_i\rVert\,\lVert y_j\rVert)$ (rows are
      L2-normalised first, as every VI-ReID evaluation does);
    * ``"euclidean"``: $\lVert x_i - y_j\rVert_2$;
    * ``"sqeuclidean"``: $\lVert x_i\rVert^2 + \lVert y_j\rVert^2 - 2\,x_i^\top y_j$, clamped at 0
      (the MPANet/IDKL/MCJA evaluators);
    * ``"neg_dot"``: $-x_i^\top y_j$ (AGW/CAJ/DEEN, applied to features the model already
      L2-normalised).

    ``"cosine"``, ``"neg_dot"`` on normalised features and ``"sqeuclidean"`` on normalised
    features give the same ranking up to rounding.

    Args:
        x: Query features, shape ``(N, D)``.
        y: Gallery features, shape ``(M, D)``, same device as ``x``.
        metric: One of `DISTANCE_METRICS`. Default ``"cosine"``.
        dtype: Floating dtype to compute in. ``None`` (default) uses the promoted dtype of the
            inputs, with half precision raised to float32. Pass ``torch.float64`` to accumulate
            the dot products in double precision as the AGW reference does.
        eps: Lower bound on the norm used to normalise rows for ``"cosine"``.

    Returns:
        Tensor of shape ``(N, M)`` on the inputs' device.

    Raises:
        ValueError: wrong shapes, feature sizes that differ, or an unknown metric.
        TypeError: non-floating inputs.
    """
    xt = _as_features(x, "x")
    yt = _as_features(y, "y")
    if xt.shape[1] != yt.shape[1]:
        raise ValueError(
            f"x and y must have the same feature size, got x {tuple(xt.shape)} "
            f"and y {tuple(yt.shape)}"
        )
    if xt.device != yt.device:
        raise ValueError(f"x and y must be on the same device, got {xt.device} and {yt.device}")
    if metric not in DISTANCE_METRICS:
        raise ValueError(f"metric must be one of {DISTANCE_METRICS}, got {metric!r}")
    if dtype is None:
        dtype = torch.promote_types(xt.dtype, yt.dtype)
        if dtype in (torch.float16, torch.bfloat16):
            dtype = torch.float32
    elif not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    xt = xt.to(dtype)
    yt = yt.to(dtype)

    if metric == "cosine":
        xn = torch.nn.functional.normalize(xt, dim=1, eps=eps)
        yn = torch.nn.functional.normalize(yt, dim=1, eps=eps)
        return 1.0 - xn @ yn.T
    if metric == "neg_dot":
        return -(xt @ yt.T)
    sq = (xt * xt).sum(1, keepdim=True) + (yt * yt).sum(1)[None, :] - 2.0 * (xt @ yt.T)
    sq = sq.clamp_(min=0.0)
    return sq.sqrt_() if metric == "euclidean" else sq
