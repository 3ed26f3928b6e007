"""Non-local block of the AGW baseline (Wang et al., CVPR 2018; Ye et al., TPAMI 2021)."""

from __future__ import annotations

import numbers

import torch
from torch import nn

from vireid.nn._checks import check_float_tensor, to_parameter_dtype

__all__ = ["NonLocal"]


class NonLocal(nn.Module):
    """Residual non-local block with dot-product affinity, as in the AGW re-identification baseline.

    For a feature map ``x`` of shape ``(B, C, H, W)`` with ``N = H·W`` positions and three
    1×1 convolutions ``θ, φ, g: C → C′`` (with bias):

    ```text
    f = θ(x)ᵀ φ(x) / N        (N × N, no softmax)
    y = f · g(x)
    z = x + BN(W(y))
    ```

    ``W`` is a 1×1 convolution ``C′ → C`` (with bias) and ``BN`` a ``BatchNorm2d(C)`` whose
    weight **and** bias start at 0, so the block is exactly the identity at initialisation and a
    pretrained backbone keeps its behaviour until the block learns. The affinity is the
    "dot product" form of Wang et al. (Eq. 4): divided by ``N``, no softmax.

    Because there is no softmax, ``f·g = θᵀ(φ gᵀ)/N`` can be evaluated right to left: the
    ``(C′ × C′)`` product ``φ gᵀ`` is formed first, so the cost is ``O(N·C′²)`` instead of the
    ``O(N²·C′)`` of the ``N × N`` affinity matrix. The two orders agree to rounding.

    **Inter channels.** The released AGW code computes ``C′`` as ``reduc_ratio // reduc_ratio``,
    which is always **1**; the evident intent is ``C // 2`` (Wang et al.). Both are offered by
    the AGW assembly (``inter_channels="reference"`` or ``"half"``); this block takes the number.

    References: X. Wang, R. Girshick, A. Gupta and K. He, "Non-local Neural Networks", CVPR 2018;
    M. Ye, J. Shen, G. Lin, T. Xiang, L. Shao and S. C. H. Hoi, "Deep Learning for Person
    Re-identification: A Survey and Outlook", IEEE TPAMI 2021 (the AGW baseline, Sec. 4.1).

    Args:
        channels: Channels ``C`` of the feature map.
        inter_channels: Channels ``C′`` of the embeddings ``θ, φ, g``. Default 1 (the released
            AGW code).

    Shape:
        - Input: ``(B, C, H, W)``, any memory format; in training mode ``B·H·W ≥ 2`` (BN).
        - Output: ``(B, C, H, W)``, the input's dtype and device.

    State dict keys (pinned): ``theta.{weight,bias}``, ``phi.{weight,bias}``, ``g.{weight,bias}``,
    ``W.{weight,bias}``, ``bn.*``. Parameters: ``4·C·C′ + 3·C′ + 3·C`` (3,587 for C = 512,
    C′ = 1).
    """

    def __init__(self, channels: int, inter_channels: int = 1) -> None:
        super().__init__()
        for name, value in (("channels", channels), ("inter_channels", inter_channels)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.channels = int(channels)
        self.inter_channels = int(inter_channels)
        c, k = self.channels, self.inter_channels
        self.theta = nn.Conv2d(c, k, kernel_size=1)
        self.phi = nn.Conv2d(c, k, kernel_size=1)
        self.g = nn.Conv2d(c, k, kernel_size=1)
        self.W = nn.Conv2d(k, c, kernel_size=1)
        self.bn = nn.BatchNorm2d(c)
        self.reset_output()

    def reset_output(self) -> None:
        """Zero the output BN's weight and bias, which makes the block the identity again."""
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x + BN(W(f·g(x)))`` for ``x`` of shape ``(B, C, H, W)``.

        Raises:
            TypeError: If ``x`` is not a floating-point tensor.
            ValueError: If ``x`` is not 4-D with ``channels`` channels.
        """
        x = check_float_tensor(x)
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"x must have shape (B, {self.channels}, H, W), got {tuple(x.shape)}")
        dtype = x.dtype
        x = to_parameter_dtype(x, self)
        b, _, h, w = x.shape
        n = h * w
        theta = self.theta(x).flatten(2)  # (B, C', N)
        phi = self.phi(x).flatten(2)
        g = self.g(x).flatten(2)
        # (θᵀ φ / N) gᵀ == θᵀ (φ gᵀ) / N: the C'×C' product first, never the N×N matrix.
        context = torch.bmm(phi, g.transpose(1, 2)) / n  # (B, C', C')
        y = torch.bmm(context.transpose(1, 2), theta)  # (B, C', N) == (f·gᵀ)ᵀ
        y = y.reshape(b, self.inter_channels, h, w)
        return (x + self.bn(self.W(y))).to(dtype)

    def extra_repr(self) -> str:
        """Settings shown in ``repr(module)``."""
        return f"channels={self.channels}, inter_channels={self.inter_channels}"
