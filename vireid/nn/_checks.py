"""Input check shared by the network blocks (private)."""

from __future__ import annotations

import torch
from torch import nn


def check_float_tensor(x: object, name: str = "x") -> torch.Tensor:
    """Return ``x`` if it is a floating-point tensor, else raise a ``TypeError`` naming it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def to_parameter_dtype(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """``x`` in the dtype of ``module``'s parameters, for a half-precision input without autocast.

    Under autocast the layers choose their own precision, so ``x`` is returned as it is; a
    float16/bfloat16 input to a float32 block otherwise fails inside ``F.linear``/``conv2d``
    with a dtype mismatch. Blocks compute in the parameters' dtype and hand back the input's.
    """
    param = next(module.parameters(), None)
    if param is None or x.dtype == param.dtype or torch.is_autocast_enabled(x.device.type):
        return x
    return x.to(param.dtype)


def check_batch_statistics(x: torch.Tensor, module: nn.Module) -> None:
    """In training mode, require the ≥ 2 samples a ``BatchNorm1d`` over the batch needs."""
    if module.training and x.shape[0] < 2:
        raise ValueError(
            f"{type(module).__name__} in training mode needs a batch of at least 2 samples (its "
            f"BatchNorm1d normalises each feature over the batch), got a batch of {x.shape[0]}. "
            "Use drop_last=True in the DataLoader or a larger batch, or call .eval() for "
            "inference."
        )
