"""Generalised-mean (GeM) pooling (Radenović, Tolias & Chum, TPAMI 2019).

Two forms are used in the literature this library reproduces: the clamped form of the IDKL
code (ε = 1e-6) and the offset form of the MCJA code (ε = 1e-12); both fix p = 3.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from vireid.nn._checks import check_float_tensor

__all__ = ["GeM", "gem"]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _check_map(x: object, name: str = "x") -> torch.Tensor:
    x = check_float_tensor(x, name)
    if x.dim() < 3:
        raise ValueError(
            f"{name} must have shape (B, C, *spatial) with at least one spatial dim, "
            f"got {tuple(x.shape)}"
        )
    return x


def _check_p_eps(p: object, eps: object) -> None:
    if isinstance(p, torch.Tensor):
        if p.numel() != 1 or not p.is_floating_point():
            raise TypeError(
                f"p must be a float or a one-element floating tensor, got shape {tuple(p.shape)}"
            )
    elif isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a real number, got {type(p).__name__}")
    elif not float(p) > 0:
        raise ValueError(f"p must be positive, got {p}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a real number, got {type(eps).__name__}")
    if not float(eps) > 0:
        raise ValueError(f"eps must be positive, got {eps}")


def gem(
    x: torch.Tensor, p: float | torch.Tensor = 3.0, eps: float = 1e-6, clamp: bool = True
) -> torch.Tensor:
    r"""Generalised-mean pooling over every spatial position.

    $$
    \text{clamp=True:}\quad e_c =
        \Big(\frac{1}{HW}\sum_{h,w}\max(x_{c,h,w}, \varepsilon)^p\Big)^{1/p}
    \qquad
    \text{clamp=False:}\quad e_c =
        \Big(\frac{1}{HW}\sum_{h,w} x_{c,h,w}^p + \varepsilon\Big)^{1/p}
    $$

    $p = 1$ is average pooling and $p \to \infty$ max pooling. The clamped form is the IDKL
    code's (ε = 1e-6) and the safe default: it floors negative responses (e.g. of an
    instance-normalised map) at ε. The offset form with ``eps=1e-12`` is the MCJA code's; it is
    only defined for non-negative inputs (or odd integer ``p`` with a non-negative mean), which
    post-ReLU ResNet maps are.

    Half-precision inputs are pooled in float32 (``x³`` of activations above ~40 overflows
    float16) and the result is cast back to the input dtype.

    Reference: F. Radenović, G. Tolias and O. Chum, "Fine-tuning CNN Image Retrieval with No
    Human Annotation", TPAMI 2019.

    Args:
        x: Feature map ``(B, C, *spatial)``, e.g. ``(B, C, H, W)``; any memory format.
        p: Exponent, a positive float or a one-element tensor (a learnable ``p``). Default 3.
        eps: Clamp floor (``clamp=True``) or additive offset (``clamp=False``). Default 1e-6.
        clamp: Choose the clamped (True, default) or the offset (False) form above.

    Returns:
        Pooled features ``(B, C)`` with the input's dtype and device.

    Raises:
        TypeError: If ``x`` is not a floating-point tensor or ``p``/``eps`` are not numbers.
        ValueError: If ``x`` has no spatial dim or ``p``/``eps`` are not positive.
    """
    _check_map(x)
    _check_p_eps(p, eps)
    return _gem(x, p, eps, clamp)


def _gem(x: torch.Tensor, p: float | torch.Tensor, eps: float, clamp: bool) -> torch.Tensor:
    dtype = x.dtype
    if dtype in _LOW_PRECISION:
        x = x.float()
    dims = tuple(range(2, x.dim()))
    if isinstance(p, torch.Tensor):
        p = p.to(x.dtype).reshape(())
    if clamp:
        pooled = x.clamp(min=eps).pow(p).mean(dims).pow(1.0 / p)
    else:
        pooled = (x.pow(p).mean(dims) + eps).pow(1.0 / p)
    return pooled.to(dtype)


class GeM(nn.Module):
    """Generalised-mean pooling ``(B, C, H, W) → (B, C)``; [`gem`][vireid.nn.gem] gives the formula.

    Defaults follow IDKL and MCJA: ``p = 3`` fixed, the clamped form with ``ε = 1e-6`` (the IDKL
    code). ``GeM(eps=1e-12, clamp=False)`` is MCJA's reference form. On post-ReLU maps the two agree
    closely wherever a channel's activations are well above ``ε``; on an all-zero channel the
    clamped form gives ``ε`` and the offset form ``ε^{1/p}`` (1e-6 vs 1e-4 for the defaults).

    Args:
        p: Initial exponent, positive. Default 3.0.
        learnable: Make ``p`` a trainable ``nn.Parameter`` of shape ``(1,)`` (state dict key
            ``p``). Default ``False``: ``p`` is a constant and the module has no state.
        eps: Clamp floor or offset (see `gem`). Default 1e-6.
        clamp: Clamped (True, default) or offset (False) form.

    Shape:
        - Input: ``(B, C, *spatial)``.
        - Output: ``(B, C)``, the input's dtype and device (computed in float32 for half inputs).
    """

    def __init__(
        self, p: float = 3.0, learnable: bool = False, eps: float = 1e-6, clamp: bool = True
    ) -> None:
        super().__init__()
        _check_p_eps(p, eps)
        if isinstance(p, torch.Tensor):
            raise TypeError("p must be a float; use learnable=True for a trainable exponent")
        self.eps = float(eps)
        self.clamp = bool(clamp)
        self.learnable = bool(learnable)
        self.p: float | nn.Parameter
        if self.learnable:
            self.p = nn.Parameter(torch.full((1,), float(p)))
        else:
            self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``x`` of shape ``(B, C, *spatial)`` to ``(B, C)``."""
        _check_map(x)
        return _gem(x, self.p, self.eps, self.clamp)

    def extra_repr(self) -> str:
        """Settings shown in ``repr(module)``."""
        p = "learnable" if self.learnable else f"{self.p}"
        return f"p={p}, eps={self.eps}, clamp={self.clamp}"
