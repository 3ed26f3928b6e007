"""The MCJA network: a ResNet with modality distribution adapters, GeM, BN neck and classifier."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from vireid.models._assembly import (
    build_backbone,
    check_images,
    check_modalities,
    insert_layout,
    resolve_layout,
    split_parameters,
)
from vireid.models.backbones.resnet import Pretrained
from vireid.models.head import EmbeddingHead
from vireid.models.output import ReIDOutput
from vireid.nn import ModalityDistributionAdapter

__all__ = ["MCJA"]


class MCJA(nn.Module):
    """The MCJA network, as in its released code.

    MCJA: T. Liang, Y. Jin, W. Liu, T. Wang, S. Feng and Y. Li, "Bridging the Gap: Multi-level
    Cross-modality Joint Alignment for Visible-infrared Person Re-identification", IEEE TCSVT
    2024.

    ```text
    images ─► ResNet stem, layer1
           ─► layer2 (MDA after its last 2 blocks) ─► layer3 (MDA after its last 3 blocks)
           ─► layer4 (last stride 2) ─► GeM p=3 ─► BN neck (β = 0, frozen) ─► f
                                                                  └─► Linear (no bias) ─► logits
    ```

    The five modality distribution adapters
    ([`vireid.nn.ModalityDistributionAdapter`][vireid.nn.ModalityDistributionAdapter], ``M``
    spatial masks each: 2 on SYSU-MM01, 12 on RegDB) are the identity at initialisation, so the
    network starts as the plain ImageNet ResNet-50. They never see modality labels; VIMC, the other
    image-level half of MCJA, lives in the augmentation
    ([`vireid.augment.VIMC`][vireid.augment.VIMC]).

    In training mode the forward pass returns a `ReIDOutput` (``pre_bn`` the GeM feature,
    ``post_bn`` the BN-neck feature that the CMR loss reads, ``logits``); in eval mode it
    returns the retrieval embedding ``post_bn`` ``(B, D)``, un-normalised (the evaluator's
    cosine distance normalises it), with no flip averaging.

    Parameters (SYSU-MM01, 395 identities, ResNet-50): 24,353,866 = 23,508,032 backbone +
    32,778 MDA + 4,096 BN neck + 808,960 classifier. The released code also carries
    torchvision's unused ``fc`` layer (2,049,000 more), which is why it reports about 26.4 M.

    Args:
        num_classes: Training identities (395 for SYSU-MM01 train ∪ val, 206 for RegDB).
        arch: ``"resnet50"`` (default, the paper), ``"resnet34"`` or ``"resnet18"``.
        pretrained: ``None``/``False`` (default: random init), ``True`` or ``"imagenet"``
            (torchvision's ``IMAGENET1K_V1``, the weights of the paper; downloading needs a
            network), a weights enum, or a local state-dict path. Offline, a download fails
            with an error naming the URL and the local-path alternative.
        last_stride: Stride of ``layer4``: 2 (default, MCJA) or 1.
        mda_masks: Spatial masks ``M`` per MDA: 2 (SYSU-MM01, default) or 12 (RegDB).
        mda: Insert the MDAs; ``False`` gives the plain baseline (ablation). Default True.
        mda_layout: Blocks per stage followed by an MDA, e.g. ``{"layer2": 2, "layer3": 3}``.
            Default ``None``: that reference layout, capped at each stage's depth for shallower
            ResNets (ResNet-18: 2 and 2).
        width: Stem width of the backbone (64 = torchvision's; thinner networks train from
            scratch only). Default 64.

    Shape:
        - Input: ``images`` ``(B, 3, H, W)`` normalised floats (training: ``B ≥ 2``);
          ``modalities`` ``(B,)`` is accepted and ignored (MCJA's network is modality-blind).
        - Output: `ReIDOutput` in training mode, ``(B, D)`` in eval mode (D = 2048 for
          ResNet-50 at width 64).
    """

    def __init__(
        self,
        num_classes: int,
        *,
        arch: str = "resnet50",
        pretrained: Pretrained | str = None,
        last_stride: int = 2,
        mda_masks: int = 2,
        mda: bool = True,
        mda_layout: Mapping[str, int] | None = None,
        width: int = 64,
    ) -> None:
        super().__init__()
        self.backbone = build_backbone(arch, pretrained, last_stride, width)
        self.mda_layout = resolve_layout(self.backbone, mda_layout, "mda_layout") if mda else {}
        insert_layout(
            self.backbone,
            self.mda_layout,
            lambda c: ModalityDistributionAdapter(c, num_masks=mda_masks),
        )
        self.head = EmbeddingHead(self.backbone.out_channels, num_classes, pooling="gem")
        self.num_classes = int(num_classes)
        self.embedding_dim = self.backbone.out_channels

    def forward(
        self, images: torch.Tensor, modalities: torch.Tensor | None = None
    ) -> ReIDOutput | torch.Tensor:
        """Features of ``images``; see the class docstring for the training/eval outputs."""
        images = check_images(images)
        if modalities is not None:
            check_modalities(modalities, images.shape[0], images.device)
        fmap = self.backbone(images)
        if not self.training:
            return self.head.embed(fmap)
        pre, post, logits = self.head(fmap)
        return ReIDOutput(pre_bn=pre, post_bn=post, logits=logits)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``{"backbone": ..., "head": ...}``: the head is the BN neck and the classifier."""
        return split_parameters(self, self.head)
