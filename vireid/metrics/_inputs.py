"""Checks and conversions for the evaluator's arguments (private).

Every check names the argument, what was expected and what was given, so a wrong call fails
at the boundary instead of deep inside a tensor kernel.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray | Sequence[int]


def as_distance_matrix(dist: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Return ``dist`` as a 2-D real tensor on its own device (numpy inputs share memory)."""
    if isinstance(dist, np.ndarray):
        if dist.dtype == np.bool_ or not (
            np.issubdtype(dist.dtype, np.floating) or np.issubdtype(dist.dtype, np.integer)
        ):
            raise TypeError(f"dist must hold real numbers, got numpy dtype {dist.dtype}")
        with warnings.catch_warnings():
            # Read-only arrays (memory maps, views of loaded files) are never written to here.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            dist = torch.as_tensor(dist)
    if not isinstance(dist, torch.Tensor):
        raise TypeError(
            f"dist must be a torch.Tensor or numpy.ndarray of shape (Q, G), "
            f"got {type(dist).__name__}"
        )
    if dist.dim() != 2:
        raise ValueError(f"dist must have shape (Q, G), got shape {tuple(dist.shape)}")
    if dist.dtype == torch.bool or dist.is_complex():
        raise TypeError(f"dist must hold real numbers, got dtype {dist.dtype}")
    if dist.shape[0] == 0 or dist.shape[1] == 0:
        raise ValueError(
            f"dist must have at least one query and one gallery item, got shape {tuple(dist.shape)}"
        )
    if not dist.is_floating_point():
        # Integer "distances" are ranked as float64; values beyond 2**53 would lose order.
        dist = dist.to(torch.float64)
    return dist


def check_finite(dist: torch.Tensor) -> tuple[float, float]:
    """Smallest and largest distance of ``dist``.

    Raises ``ValueError`` naming the count and first position of NaN/inf entries if any.
    """
    lo, hi = (float(v) for v in torch.aminmax(dist))
    if math.isfinite(lo) and math.isfinite(hi):
        return lo, hi
    # Error path only: scan in row blocks so a huge matrix needs no full-size mask.
    rows = max(1, (1 << 22) // dist.shape[1])
    count, first = 0, None
    for start in range(0, dist.shape[0], rows):
        bad = ~torch.isfinite(dist[start : start + rows])
        count += int(bad.sum())
        if first is None and count:
            r, c = (int(v) for v in bad.nonzero()[0])
            first = (start + r, c)
    assert first is not None
    q, g = first
    raise ValueError(
        f"dist must be finite: found {count} NaN/inf entries, the first at "
        f"[query {q}, gallery {g}] = {dist[q, g].item()}. Compute distances from finite features "
        f"(check for NaN features or a division by a zero norm)."
    )


def as_label_vector(
    values: ArrayLike, name: str, length: int, length_name: str, device: torch.device
) -> torch.Tensor:
    """Return ``values`` as a 1-D int64 tensor of the given length on ``device``."""
    if isinstance(values, torch.Tensor):
        t = values
    else:
        arr = np.asarray(values)
        if arr.dtype == object:
            raise TypeError(f"{name} must be integers, got a sequence of mixed objects")
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise TypeError(
                f"{name} must hold integers, got dtype {arr.dtype}. Convert with "
                f"astype(np.int64) if the values are whole numbers."
            )
        t = torch.as_tensor(arr)
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(
            f"{name} must hold integers, got dtype {t.dtype}. Convert with .long() if the "
            f"values are whole numbers."
        )
    if t.dim() != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(t.shape)}")
    if t.numel() != length:
        raise ValueError(
            f"{name} has {t.numel()} entries but dist has {length} {length_name}; they must match"
        )
    return t.to(device=device, dtype=torch.int64)


def check_positive_int(value: object, name: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)
