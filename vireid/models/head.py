"""The embedding head every assembly ends with: pooling, BN neck and identity classifier."""

from __future__ import annotations

import numbers
from typing import Literal

import torch
from torch import nn

from vireid.nn import BNNeck, GeM

__all__ = ["EmbeddingHead"]

Pooling = Literal["gem", "avg"]
Init = Literal["default", "agw"]


class EmbeddingHead(nn.Module):
    """Pool a feature map, normalise it with a BN neck and classify it.

    ```text
    e = GeM_{p=3}(F)  or  mean(F)      pre_bn,  (B, D)
    f = BN(e), β = 0 frozen             post_bn, (B, D)
    z = W f, no bias                    logits,  (B, C)
    ```

    GeM is the offset form ``(mean(F³) + 1e-12)^{1/3}`` of the MCJA and AGW code, computed in
    float32 for half-precision maps (cubes of activations above ~40 overflow fp16). The
    classifier is a bias-free ``Linear(D, C)``.

    ``init="default"`` keeps PyTorch's initialisation (MCJA: BN γ = 1, default linear init);
    ``init="agw"`` is the AGW code's: BN γ ~ N(1, 0.01) and classifier weights ~ N(0, 0.001).

    Args:
        dim: Channels ``D`` of the feature map.
        num_classes: Number of training identities ``C``.
        pooling: ``"gem"`` (default) or ``"avg"``.
        init: ``"default"`` or ``"agw"``.

    Shape:
        - Input: ``(B, D, H, W)``.
        - Output: ``(pre_bn, post_bn, logits)`` of shapes ``(B, D)``, ``(B, D)``, ``(B, C)``.
    """

    dim: int
    num_classes: int
    pooling: Pooling
    pool: nn.Module
    neck: BNNeck
    classifier: nn.Linear

    def __init__(
        self, dim: int, num_classes: int, *, pooling: Pooling = "gem", init: Init = "default"
    ) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
            raise TypeError(f"num_classes must be an int, got {type(num_classes).__name__}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if pooling not in ("gem", "avg"):
            raise ValueError(f"pooling must be 'gem' or 'avg', got {pooling!r}")
        if init not in ("default", "agw"):
            raise ValueError(f"init must be 'default' or 'agw', got {init!r}")
        self.dim, self.num_classes, self.pooling = int(dim), int(num_classes), pooling
        self.pool = (
            GeM(p=3.0, eps=1e-12, clamp=False) if pooling == "gem" else nn.AdaptiveAvgPool2d(1)
        )
        self.neck = BNNeck(self.dim)
        self.classifier = nn.Linear(self.dim, self.num_classes, bias=False)
        if init == "agw":
            nn.init.normal_(self.neck.bn.weight, 1.0, 0.01)
            nn.init.normal_(self.classifier.weight, 0.0, 0.001)

    def forward(self, fmap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(pre_bn, post_bn, logits)`` for a feature map ``(B, D, H, W)``."""
        pooled = self.pool(fmap).flatten(1)
        pre, post = self.neck(pooled)
        return pre, post, self.classifier(post)

    def embed(self, fmap: torch.Tensor) -> torch.Tensor:
        """The retrieval embedding ``post_bn`` ``(B, D)``, without the classifier."""
        return self.neck(self.pool(fmap).flatten(1)).post_bn

    def extra_repr(self) -> str:
        """Settings shown in ``repr(module)``."""
        return f"dim={self.dim}, num_classes={self.num_classes}, pooling={self.pooling!r}"
