"""BN neck (Luo et al., "Bag of Tricks", CVPRW 2019) with the bias frozen at zero.

The released codes of IDKL, MCJA and AGW/EMIF all place this same neck between the pooled
feature and the identity classifier.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import torch
from torch import nn

from vireid.nn._checks import check_batch_statistics, check_float_tensor, to_parameter_dtype

__all__ = ["BNNeck", "NeckOutput"]


class NeckOutput(NamedTuple):
    """The two features a BN neck returns (a plain tuple: ``pre, post = neck(x)`` works).

    Attributes:
        pre_bn: The input features ``(B, D)``, unchanged — for metric losses (triplet, TGSA).
        post_bn: The batch-normalised features ``(B, D)`` — for the identity classifier and,
            in eval mode, the retrieval embedding.
    """

    pre_bn: torch.Tensor
    post_bn: torch.Tensor


class BNNeck(nn.Module):
    r"""Batch normalisation between the pooled feature and the identity classifier.

    $$
    f_{\text{post}} = \gamma \odot
    \frac{f_{\text{pre}} - \mu}{\sqrt{\sigma^2 + 10^{-5}}} + \beta,
    \qquad \gamma \leftarrow 1,\ \beta \leftarrow 0
    \ (\beta \text{ frozen by default})
    $$

    ``μ, σ²`` are batch statistics in training and running estimates (momentum 0.1) in eval.
    Freezing ``β`` at 0 keeps the normalised features centred on the origin, which suits the
    bias-free linear classifier behind the neck (Luo et al., CVPRW 2019); IDKL, MCJA and AGW
    all do it. The BN is a child module (``self.bn``), so
    ``nn.SyncBatchNorm.convert_sync_batchnorm`` converts it and keeps the frozen bias.
    Note that ``model.requires_grad_(True)`` would unfreeze ``β``; call `freeze_bias`
    again afterwards.

    Args:
        dim: Feature dimension ``D``.
        bias_frozen: Keep ``β = 0`` out of training (``requires_grad=False``). Default True.

    Shape:
        - Input: ``(B, D)``; in training mode ``B ≥ 2``.
        - Output: [`NeckOutput`][vireid.nn.NeckOutput] ``(pre_bn, post_bn)``, both ``(B, D)``.

    State dict keys (pinned): ``bn.weight``, ``bn.bias``, ``bn.running_mean``,
    ``bn.running_var``, ``bn.num_batches_tracked``.
    """

    dim: int
    bias_frozen: bool
    bn: nn.BatchNorm1d

    def __init__(self, dim: int, bias_frozen: bool = True) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise TypeError(f"dim must be an int, got {type(dim).__name__}")
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = int(dim)
        self.bias_frozen = bool(bias_frozen)
        self.bn = nn.BatchNorm1d(self.dim)
        nn.init.ones_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)
        if self.bias_frozen:
            self.freeze_bias()

    def freeze_bias(self) -> None:
        """Stop training the BN bias (``requires_grad=False``); its value is left unchanged."""
        self.bn.bias.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> NeckOutput:
        """Return ``(x, BN(x))`` for features ``x`` of shape ``(B, D)``.

        Raises:
            TypeError: If ``x`` is not a floating-point tensor.
            ValueError: If ``x`` is not ``(B, dim)`` with ``B ≥ 1``.
        """
        x = check_float_tensor(x)
        if x.dim() != 2 or x.shape[1] != self.dim or x.shape[0] == 0:
            raise ValueError(f"x must have shape (B, {self.dim}) with B >= 1, got {tuple(x.shape)}")
        check_batch_statistics(x, self)
        return NeckOutput(x, self.bn(to_parameter_dtype(x, self)).to(x.dtype))

    def extra_repr(self) -> str:
        """Settings shown in ``repr(module)``."""
        return f"dim={self.dim}, bias_frozen={self.bias_frozen}"
