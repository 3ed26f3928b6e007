"""MCJA's Modality Distribution Adapter (MDA): a residual, context-gated channel re-weighting.

Reference: Liang et al., "Bridging the Gap: Multi-Level Cross-Modality Joint Alignment for
Visible-Infrared Person Re-Identification", IEEE TCSVT 2024 (the modality distribution adapter
of its method section), in the form of the authors' released code.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from vireid.nn._checks import check_batch_statistics, check_float_tensor, to_parameter_dtype

__all__ = ["ModalityDistributionAdapter"]


class ModalityDistributionAdapter(nn.Module):
    """Modality Distribution Adapter of MCJA (Liang et al., TCSVT 2024), reference-code form.

    For a feature map ``x ∈ R^{B×C×H×W}`` with ``M`` spatial context masks:

    ```text
    A = softmax_{HW}( S(x) )                    S: Conv1×1(C→M, bias)   → (B, M, HW)
    c[b,k,m] = Σ_pos x[b,k,pos] · A[b,m,pos]    attention pooling        → (B, C, M)
    z[b,k]   = Σ_m K[k,m] · c[b,k,m]            depth-wise Conv1d(C, C, M, groups=C)
    g = sigmoid( BN_a(z) )                       BatchNorm1d(C)           → (B, C)
    y = BN_o( x ⊙ g ) + x                        BatchNorm2d(C), γ = β = 0 at init
    ```

    ``BN_o`` starts with ``γ = β = 0``, so the module is exactly the identity at initialisation
    (in train and eval mode) and a pretrained backbone keeps its behaviour until the adapter
    learns. No ReLU follows, so the next block may see negative values. The module never sees
    modality labels: it adapts to whatever mix of modalities the batch statistics contain.

    The MCJA paper's figure omits both batch norms; the released code's form above is the one
    implemented. The reference also accepts a reduction ratio that no layer uses and calls ``M`` a
    "number of modalities"; here ``M`` is ``num_masks`` and there is no ratio. Parameters:
    ``2CM + M + 4C`` (4,098 for C = 512, M = 2), plus ``4C`` BN buffers.

    Placement in MCJA: after the last 2 blocks of ResNet-50's stage 2 (``layer2``, C = 512) and
    the last 3 of stage 3 (``layer3``, C = 1024), five modules in all, ``M = 2`` on SYSU-MM01 and
    ``M = 12`` on RegDB — see
    [`ResNet.insert_after_last`][vireid.models.backbones.ResNet.insert_after_last].

    Args:
        channels: Number of channels ``C`` of the feature map.
        num_masks: Number of spatial context masks ``M``. Default 2 (MCJA's SYSU-MM01 value).

    Shape:
        - Input: ``(B, C, H, W)``; in training mode ``B ≥ 2`` (``BN_a`` normalises over the
          batch only).
        - Output: ``(B, C, H, W)``, the input's dtype and device.

    State dict keys (pinned): ``mask_conv.{weight,bias}`` (S), ``context_conv.weight`` (K,
    shape ``(C, 1, M)``), ``gate_bn.*`` (BN_a), ``out_bn.*`` (BN_o).
    """

    def __init__(self, channels: int, num_masks: int = 2) -> None:
        super().__init__()
        for name, value in (("channels", channels), ("num_masks", num_masks)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.channels = int(channels)
        self.num_masks = int(num_masks)
        self.mask_conv = nn.Conv2d(self.channels, self.num_masks, kernel_size=1, bias=True)
        # Depth-wise Conv1d over the M context descriptors of each channel: weight (C, 1, M),
        # whose default init is U(−1/√M, 1/√M) as in the reference.
        self.context_conv = nn.Conv1d(
            self.channels, self.channels, kernel_size=self.num_masks, groups=self.channels,
            bias=False,
        )  # fmt: skip
        self.gate_bn = nn.BatchNorm1d(self.channels)
        self.out_bn = nn.BatchNorm2d(self.channels)
        self.reset_output()

    def reset_output(self) -> None:
        """Zero ``BN_o``'s affine parameters, which makes the module the identity again."""
        nn.init.zeros_(self.out_bn.weight)
        nn.init.zeros_(self.out_bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Adapt ``x`` of shape ``(B, C, H, W)``; returns the same shape.

        Raises:
            TypeError: If ``x`` is not a floating-point tensor.
            ValueError: If ``x`` is not 4-D with ``channels`` channels.
        """
        x = check_float_tensor(x)
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"x must have shape (B, {self.channels}, H, W), got {tuple(x.shape)}")
        check_batch_statistics(x, self)
        dtype = x.dtype
        x = to_parameter_dtype(x, self)
        masks = self.mask_conv(x).flatten(2).softmax(dim=-1)  # (B, M, HW)
        # Attention pooling as one batched matmul; reshape copies only for channels_last input.
        context = torch.bmm(x.flatten(2), masks.transpose(1, 2).to(x.dtype))  # (B, C, M)
        gate = torch.sigmoid(self.gate_bn(self.context_conv(context)))  # (B, C, 1)
        return (self.out_bn(x * gate.unsqueeze(-1)) + x).to(dtype)

    def extra_repr(self) -> str:
        """Settings shown in ``repr(module)``."""
        return f"channels={self.channels}, num_masks={self.num_masks}"
