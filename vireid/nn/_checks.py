"""Input check shared by the network blocks (private)."""

from __future__ import annotations

import torch


def check_float_tensor(x: object, name: str = "x") -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor, else raise a ``TypeError`` naming it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x
