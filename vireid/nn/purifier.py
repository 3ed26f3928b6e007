"""IDKL's IN-guided Information Purifier (IP) for the modality-specific branch.

Reference: Ren & Zhang, "Implicit Discriminative Knowledge Learning for Visible-Infrared Person
Re-Identification", CVPR 2024, §3.2 (instance norm, masks, recombination). The losses trained on
its outputs live in [`vireid.losses`][vireid.losses] and consume `PurifierOutput`.
"""

from __future__ import annotations

import numbers
from typing import Literal, NamedTuple

import torch
from torch import nn

from vireid.nn._checks import check_float_tensor, to_parameter_dtype

__all__ = ["InformationPurifier", "PurifierOutput"]

MaskMode = Literal["pixel", "channel"]


class PurifierOutput(NamedTuple):
    """What [`InformationPurifier`][vireid.nn.InformationPurifier] returns.

    Every map is ``(B, C, H, W)``; in ``"channel"`` mode the masks are ``(B, C, 1, 1)``.

    Attributes:
        purified: ``F̃_sp = m_e ⊙ m_r ⊙ (F_sp + F̂_sp)`` (Eq. 12), the branch output.
        normalized: ``F̂_sp = IN(F_sp)`` (Eq. 7), input of the reduction loss ``L_r``.
        enhanced: ``F^{d+} = m_e ⊙ F_sp``, input of the enhancement loss ``L_e``.
        reduced: ``F̂^{m−} = m_r ⊙ F̂_sp``, input of ``L_r``.
        mask_e: The enhancement mask ``m_e = M_e(F_sp)``, values in (0, 1).
        mask_r: The reduction mask ``m_r = M_r(F̂_sp)``, values in (0, 1).
    """

    purified: torch.Tensor
    normalized: torch.Tensor
    enhanced: torch.Tensor
    reduced: torch.Tensor
    mask_e: torch.Tensor
    mask_r: torch.Tensor


class _Gate(nn.Sequential):
    """SE-style bottleneck ``σ(W2 · ReLU(W1 · x))`` as bias-free 1×1 convolutions."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__(
            nn.Conv2d(channels, hidden, kernel_size=1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, kernel_size=1, bias=False),
            nn.Sigmoid(),
        )


class InformationPurifier(nn.Module):
    """IN-guided information purifier of IDKL (Ren & Zhang, CVPR 2024, §3.2, Eq. 7–12).

    ```text
    F ──┬────────────────► M_e ──► m_e ───────────┐
        │                                          ▼
        └─► IN ─► F̂ ─────► M_r ──► m_r ──► F̃ = m_e ⊙ m_r ⊙ (F + F̂)

    F^{d+} = m_e ⊙ F   (enhanced)      F̂^{m−} = m_r ⊙ F̂   (reduced)
    F̃ = m_e ⊙ F̂^{m−} + m_r ⊙ F^{d+}   (Eq. 12, the same value as the closed form)
    ```

    * ``IN``: ``InstanceNorm2d(C, affine=True, track_running_stats=True)``, ε = 1e-5,
      momentum 0.1 — the reference code. The paper's Eq. 7 has no affine terms
      (``affine=False``). In training mode per-instance statistics are used; in eval mode the
      running estimates (the specific branch is not used at test time in IDKL).
    * ``M_e``, ``M_r``: two independent gates ``Conv1×1(C→C/r) → ReLU → Conv1×1(C/r→C) →
      Sigmoid`` without biases; ``M_e`` reads ``F``, ``M_r`` reads ``F̂``.

        - ``mask_mode="pixel"`` (default, **reference code**): the gates run on the full map,
          so each position gets its own channel gate, masks ``(B, C, H, W)``.
        - ``mask_mode="channel"`` (**paper**, Eq. 8): the gates run on the globally
          average-pooled map, SE style, masks ``(B, C, 1, 1)`` broadcast over space. The paper
          names the pooling only ``g``; average pooling is this library's choice.

        Both modes hold the same parameters (identical state dict keys), so a checkpoint
        trained in one mode loads in the other.

    The output is computed with the closed form ``m_e ⊙ m_r ⊙ (F + F̂)``, which is what the
    reference code evaluates and equals Eq. 12 up to rounding. In IDKL the branch feature is
    ``GeM(F̃)``; the losses pool ``F``, ``F^{d+}``, ``F̂`` and ``F̂^{m−}`` with GeM (which floors
    the signed IN output at ε).

    Args:
        channels: Channels ``C`` of the specific feature map. Default 2048 (ResNet-50 layer4).
        reduction: Bottleneck ratio ``r``; the hidden width is ``max(1, C // r)``. Default 16.
        mask_mode: ``"pixel"`` (reference, default) or ``"channel"`` (paper).
        affine: Learnable per-channel ``γ, β`` in the instance norm. Default True (reference).

    Shape:
        - Input: ``(B, C, H, W)`` with ``H·W > 1`` in training mode.
        - Output: `PurifierOutput` (input dtype and device).

    State dict keys (pinned): ``norm.{weight,bias,running_mean,running_var,
    num_batches_tracked}`` (weight/bias only with ``affine``), ``mask_e.0.weight``,
    ``mask_e.2.weight``, ``mask_r.0.weight``, ``mask_r.2.weight``.
    """

    def __init__(
        self,
        channels: int = 2048,
        reduction: int = 16,
        mask_mode: MaskMode = "pixel",
        affine: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("channels", channels), ("reduction", reduction)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if mask_mode not in ("pixel", "channel"):
            raise ValueError(f"mask_mode must be 'pixel' or 'channel', got {mask_mode!r}")
        self.channels = int(channels)
        self.reduction = int(reduction)
        self.mask_mode: MaskMode = mask_mode
        hidden = max(1, self.channels // self.reduction)
        self.norm = nn.InstanceNorm2d(self.channels, affine=affine, track_running_stats=True)
        self.mask_e = _Gate(self.channels, hidden)
        self.mask_r = _Gate(self.channels, hidden)

    def _mask(self, gate: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.mask_mode == "channel":
            x = x.mean(dim=(2, 3), keepdim=True)
        return gate(x)

    def forward(self, x: torch.Tensor) -> PurifierOutput:
        """Purify the specific feature map ``x`` of shape ``(B, C, H, W)``.

        Raises:
            TypeError: If ``x`` is not a floating-point tensor.
            ValueError: If ``x`` is not 4-D with ``channels`` channels.
        """
        x = check_float_tensor(x)
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"x must have shape (B, {self.channels}, H, W), got {tuple(x.shape)}")
        dtype = x.dtype
        x = to_parameter_dtype(x, self)
        normalized = self.norm(x)
        mask_e = self._mask(self.mask_e, x)
        mask_r = self._mask(self.mask_r, normalized)
        enhanced = mask_e * x
        reduced = mask_r * normalized
        purified = mask_e * mask_r * (x + normalized)
        out = (purified, normalized, enhanced, reduced, mask_e, mask_r)
        return PurifierOutput(*(t.to(dtype) for t in out))

    def extra_repr(self) -> str:
        """Settings shown in ``repr(module)``."""
        return f"channels={self.channels}, reduction={self.reduction}, mask_mode={self.mask_mode!r}"
