"""Mixed precision: which autocast dtype a run uses, and the gradient scaler fp16 needs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch

__all__ = ["AmpMode", "autocast", "grad_scaler", "resolve_amp"]

AmpMode = Literal["auto", "bf16", "fp16", "none"]
"""Mixed-precision choices accepted by `resolve_amp` (``"none"`` trains in float32)."""
_MODES = ("auto", "bf16", "fp16", "none")


def resolve_amp(amp: AmpMode, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``amp`` on ``device``, or ``None`` for full float32.

    ``"auto"`` is bfloat16 on CUDA devices that support it (float16 on older GPUs) and float32
    on the CPU. ``"bf16"`` on a CPU runs fast only where the CPU has bfloat16 instructions
    (AVX512-BF16 or AMX); elsewhere it is emulated and slower than float32.

    Raises:
        ValueError: an unknown mode, or ``"bf16"`` on a GPU without bfloat16 support.
    """
    if amp not in _MODES:
        raise ValueError(f"amp must be one of {', '.join(map(repr, _MODES))}, got {amp!r}")
    if amp == "none":
        return None
    if amp == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError("amp='bf16' needs a GPU with bfloat16 support; use amp='fp16'")
        return torch.bfloat16
    return torch.float16


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """``torch.autocast`` on ``device`` with ``dtype``; a no-op for ``dtype=None``."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """A dynamic loss scaler for float16 training, ``None`` for bfloat16 and float32.

    float16 has a narrow exponent range, so small gradients underflow without scaling;
    bfloat16 keeps float32's range and needs none.
    """
    if dtype is not torch.float16:
        return None
    return torch.amp.GradScaler(device.type)
