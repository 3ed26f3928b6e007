r"""Gradient reversal (Ganin & Lempitsky, ICML 2015) with an optional DANN schedule.

IDKL (Ren et al., "Implicit Discriminative Knowledge Learning for Visible-Infrared Person
Re-Identification", CVPR 2024) puts one in front of its modality confuser. The layer is the
identity in the forward pass and multiplies the incoming gradient by $-\alpha$ in the backward
pass, so a classifier placed behind it learns to separate the modalities while everything before
it learns to make them indistinguishable.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from vireid.nn._checks import check_float_tensor

__all__ = ["GradientReversal", "dann_alpha", "grad_reverse"]

AlphaSchedule = Callable[[float], float]


class _GradReverse(torch.autograd.Function):
    """Identity forward, ``−alpha · grad`` backward; ``alpha`` gets no gradient."""

    @staticmethod
    def forward(x: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
        # view_as: a new autograd node over the same storage, so no copy of the activations.
        # Like any custom-function view, the output must not be modified in place.
        return x.view_as(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        ctx.alpha = inputs[1]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * -ctx.alpha, None


def _check_alpha(alpha: object, name: str = "alpha") -> None:
    if isinstance(alpha, torch.Tensor):
        if alpha.dim() != 0 or not alpha.is_floating_point():
            raise TypeError(
                f"{name} must be a float or a 0-d floating-point tensor, "
                f"got a tensor of shape {tuple(alpha.shape)} and dtype {alpha.dtype}"
            )
        return
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(alpha).__name__}")
    if not math.isfinite(float(alpha)):
        raise ValueError(f"{name} must be finite, got {alpha}")


def grad_reverse(x: torch.Tensor, alpha: float | torch.Tensor = 1.0) -> torch.Tensor:
    r"""Identity in the forward pass, gradient multiplied by ``−alpha`` in the backward pass.

    $$
    \mathrm{GRL}_\alpha(x) = x, \qquad
    \frac{\partial\,\mathrm{GRL}_\alpha(x)}{\partial x} = -\alpha I
    $$

    Reference: Y. Ganin and V. Lempitsky, "Unsupervised Domain Adaptation by
    Backpropagation", ICML 2015. IDKL (CVPR 2024, Eq. 3) places a modality confuser behind it.

    Args:
        x: Any floating-point tensor, e.g. pooled features ``(B, D)``. Returned unchanged (a
            view), with its device and dtype.
        alpha: Reversal strength, a finite float or a 0-d floating tensor (no host sync is
            made to read it). Default 1.0, the constant the IDKL code builds. ``alpha=0``
            blocks the gradient; a negative value makes the layer an ordinary scaled identity.

    Returns:
        A tensor equal to ``x`` whose gradient is ``−alpha`` times the incoming gradient.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor or ``alpha`` is not a real number.
        ValueError: If ``alpha`` is not finite.
    """
    x = check_float_tensor(x)
    _check_alpha(alpha)
    return _GradReverse.apply(x, alpha)


def dann_alpha(progress: float, gamma: float = 10.0) -> float:
    r"""The DANN warm-up schedule $\alpha(p) = 2 / (1 + e^{-\gamma p}) - 1$.

    It rises smoothly from 0 at the start of training ($p = 0$) to almost 1 at the end
    ($\alpha(1) \approx 0.9999$ for $\gamma = 10$), which damps the noisy adversarial signal early
    on. Reference: Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 2016,
    §5.2.2. Neither the IDKL paper nor its released code uses it; pass it to
    [`GradientReversal`][vireid.nn.GradientReversal] as an opt-in schedule.

    Args:
        progress: Training progress ``p ∈ [0, 1]`` (e.g. ``iteration / total_iterations``).
        gamma: Steepness ``γ > 0``. Default 10, the DANN value.

    Returns:
        The reversal strength ``α(p) ∈ [0, 1)``.

    Raises:
        TypeError: If ``progress`` or ``gamma`` is not a real number.
        ValueError: If ``progress`` is outside ``[0, 1]`` or ``gamma`` is not positive.
    """
    for name, value in (("progress", progress), ("gamma", gamma)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must lie in [0, 1], got {progress}")
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class GradientReversal(nn.Module):
    """Gradient reversal layer: identity forward, ``−α · grad`` backward (see `grad_reverse`).

    ``alpha`` is either a constant or a schedule: a callable mapping the training progress
    ``p ∈ [0, 1]`` to ``α``, evaluated on the float set by `set_progress` (initially 0).
    For the DANN ramp pass [`dann_alpha`][vireid.nn.dann_alpha] and call ``set_progress`` once
    per iteration:

    ```python
    grl = GradientReversal(alpha=dann_alpha)
    for it in range(total):
        grl.set_progress(it / total)
        logits = confuser(grl(features))
    ```

    The layer has no parameters or buffers (empty ``state_dict``); the progress is plain Python
    state that the training loop owns, so reading it never syncs with the device.

    The default is the constant ``α = 1`` of IDKL; the schedule is an opt-in extension (the
    released IDKL code builds a GRL with ``α = 1`` but never calls it).

    Args:
        alpha: A finite float (default 1.0) or a callable ``progress -> alpha``.

    Shape:
        - Input: ``(*)``, any floating-point tensor.
        - Output: ``(*)``, the same tensor (a view).
    """

    def __init__(self, alpha: float | AlphaSchedule = 1.0) -> None:
        super().__init__()
        if isinstance(alpha, torch.Tensor):
            # A tensor would need a host sync to read back as a float every forward pass.
            raise TypeError(
                "alpha must be a float or a callable schedule, got a torch.Tensor; "
                "use grad_reverse(x, alpha) for a tensor-valued alpha"
            )
        if not callable(alpha):
            _check_alpha(alpha)
        self.alpha = alpha
        self.progress = 0.0

    def set_progress(self, progress: float) -> None:
        """Set the training progress ``p ∈ [0, 1]`` fed to a schedule ``alpha``.

        Raises:
            TypeError: If ``progress`` is not a real number.
            ValueError: If ``progress`` is outside ``[0, 1]``.
        """
        if isinstance(progress, bool) or not isinstance(progress, numbers.Real):
            raise TypeError(f"progress must be a real number, got {type(progress).__name__}")
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"progress must lie in [0, 1], got {progress}")
        self.progress = float(progress)

    @property
    def current_alpha(self) -> float | torch.Tensor:
        """The reversal strength used by the next forward pass.

        A schedule may return a 0-d tensor; it is used as is (reading it back would sync).
        """
        if callable(self.alpha):
            value = self.alpha(self.progress)
            _check_alpha(value, "alpha(progress)")
            return value if isinstance(value, torch.Tensor) else float(value)
        return float(self.alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` unchanged; its gradient is reversed and scaled by `current_alpha`."""
        return grad_reverse(x, self.current_alpha)

    def extra_repr(self) -> str:
        """Settings shown in ``repr(module)``."""
        if callable(self.alpha):
            name = getattr(self.alpha, "__name__", type(self.alpha).__name__)
            return f"alpha={name}, progress={self.progress}"
        return f"alpha={self.alpha}"
