"""Argument checks and edge-batch helpers shared by every loss (private).

Conventions every loss in [`vireid.losses`][vireid.losses] follows:

* Inputs are checked at the boundary; a wrong call raises ``TypeError``/``ValueError`` naming
  the argument, what was expected and what was given.
* Losses compute in float32 (or float64 when given float64, so ``gradcheck`` works): half
  precision inputs are upcast and autocast is switched off inside the loss (`full_precision`).
* A non-finite input gives a non-finite loss value (or a ``ValueError`` saying so), never a
  finite loss with NaN gradients: rows a loss masks out still reach its value through a zero
  term, so the engine's check of the loss sees them.
* A batch that leaves a loss undefined (one modality only, no positive pair, ...) gives
  `zero_loss` — a zero scalar attached to the autograd graph of the inputs, so
  ``loss.backward()`` still works — and a warning issued once per process per reason
  (`warn_once`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import TypeVar

import torch

_T = TypeVar("_T")

_WARNED: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """Issue ``message`` as a ``UserWarning`` the first time ``key`` is seen in this process."""
    if key in _WARNED:
        return
    _WARNED.add(key)
    warnings.warn(message, UserWarning, stacklevel=3)


def check_choice(value: _T, name: str, choices: Sequence[object]) -> _T:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` listing them."""
    if value not in tuple(choices):
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def check_number(
    value: object, name: str, *, minimum: float | None = None, positive: bool = False
) -> float:
    """Return ``value`` as a finite float (``>= minimum`` / ``> 0`` when asked), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_features(x: object, name: str = "features", ndim: int = 2) -> torch.Tensor:
    """Check that ``x`` is a floating-point tensor with ``ndim`` dims and a non-empty batch."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() != ndim:
        shape = "(B, D)" if ndim == 2 else f"a {ndim}-D tensor"
        raise ValueError(f"{name} must have shape {shape}, got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(x.shape)}")
    return x


def check_labels(labels: object, name: str, n: int, device: torch.device) -> torch.Tensor:
    """Check that ``labels`` is a 1-D integer tensor of length ``n`` on ``device``."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of integer labels, got {type(labels).__name__}"
        )
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"{name} must hold integer labels, got dtype {labels.dtype}")
    if labels.dim() != 1 or labels.shape[0] != n:
        raise ValueError(
            f"{name} must have shape ({n},) to match the batch, got {tuple(labels.shape)}"
        )
    if labels.device != device:
        raise ValueError(f"{name} must be on the features' device {device}, got {labels.device}")
    return labels.long()


def check_label_range(labels: torch.Tensor, num_classes: int, name: str = "labels") -> None:
    """Raise ``ValueError`` naming the first label outside ``[0, num_classes)``.

    Reads the labels back to the host: call it on CPU tensors only, or where a sync is free.
    """
    bad = (labels < 0) | (labels >= num_classes)
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"{name} must lie in [0, num_classes) = [0, {num_classes}), got {int(labels[first])} "
            f"at position {first} ({int(bad.sum())} of {labels.numel()} out of range). Labels "
            "are contiguous training labels (Sample.label), not dataset identities."
        )


def check_modalities(modalities: object, n: int, device: torch.device) -> torch.Tensor:
    """Check a modality vector (0 visible, 1 infrared; other integers allowed) of length ``n``."""
    return check_labels(modalities, "modalities", n, device)


def check_same_batch(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Check that two tensors share their batch size and device."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same batch size, "
            f"got {a.shape[0]} and {b.shape[0]}"
        )
    if a.device != b.device:
        raise ValueError(
            f"{name_a} and {name_b} must be on one device, got {a.device} and {b.device}"
        )


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 stays float64 (for gradcheck); every other floating dtype computes in float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Switch autocast off on ``device`` so the loss runs in the dtype it casts to."""
    if torch.is_autocast_enabled(device.type):
        with torch.autocast(device_type=device.type, enabled=False):
            yield
    else:
        yield


def zero_loss(*tensors: torch.Tensor) -> torch.Tensor:
    """A zero scalar that depends on every tensor in ``tensors`` that requires grad.

    ``backward()`` through it gives zero gradients instead of failing with "element 0 of
    tensors does not require grad", so an edge batch never breaks a training loop.

    A NaN or inf anywhere in those tensors makes the result NaN rather than 0: every loss
    lets a non-finite input reach its value, so a poisoned batch is caught by whoever checks
    the loss (the training engine stops and names the term) instead of passing as a
    plausible 0.
    """
    floats = [t for t in tensors if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not floats:
        raise ValueError("zero_loss needs at least one floating-point tensor")
    dtype = compute_dtype(floats[0])
    out = floats[0].new_zeros((), dtype=dtype)
    for t in floats:
        if t.requires_grad:
            out = out + t.sum().to(dtype) * 0.0
    return out
