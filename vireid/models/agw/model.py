"""The AGW network: modality stems, a shared ResNet body with non-local blocks, GeM, BN neck."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

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
from vireid.nn import NonLocal

__all__ = ["AGW"]

InterChannels = Literal["reference", "half"] | int


def _inter_channels(spec: InterChannels, channels: int) -> int:
    if spec == "reference":
        return 1  # the released code's reduc_ratio // reduc_ratio
    if spec == "half":
        return max(1, channels // 2)
    if isinstance(spec, bool) or not isinstance(spec, int) or spec < 1:
        raise ValueError(f"inter_channels must be 'reference', 'half' or a positive int, got "
                         f"{spec!r}")  # fmt: skip
    return spec


class AGW(nn.Module):
    """The two-stream network of the AGW cross-modality baseline, as in its released code.

    AGW: M. Ye, J. Shen, G. Lin, T. Xiang, L. Shao and S. C. H. Hoi, "Deep Learning for Person
    Re-identification: A Survey and Outlook", IEEE TPAMI 2021.

    ```text
    visible images  ─► visible stem  (conv1, bn1, relu, maxpool) ─┐
    infrared images ─► infrared stem (conv1, bn1, relu, maxpool) ─┴► shared layer1 … layer4
        (non-local blocks after the last 2 blocks of layer2 and the last 3 of layer3;
         last stride 1) ─► GeM p=3 ─► pre_bn ─► BN neck (β = 0, frozen) ─► post_bn
                                                               └─► Linear (no bias) ─► logits
    ```

    Each image runs through the stem of its own modality (``modalities`` 0 or 1) and the batch
    then shares the body, in the order given: the body's batch norms see both modalities, as in the
    reference, which concatenates the two halves. The two stems and the body start from the same
    ImageNet weights; the non-local blocks ([`vireid.nn.NonLocal`][vireid.nn.NonLocal]) start as the
    identity.

    Training mode returns a `ReIDOutput` (the WRT triplet reads ``pre_bn``, cross-entropy the
    ``logits``); eval mode returns ``post_bn`` ``(B, D)``, the feature of the reported numbers
    (the code's ``_att`` results), un-normalised.

    Parameters (SYSU-MM01, 395 identities, ResNet-50, ``inter_channels="reference"``):
    24,359,311 = 23,508,032 body and visible stem + 9,536 second stem + 5 non-local blocks
    (2 × 3,587 + 3 × 7,171 = 28,687) + 4,096 BN neck + 808,960 classifier.

    Args:
        num_classes: Training identities.
        arch: ``"resnet50"`` (default), ``"resnet34"`` or ``"resnet18"``.
        pretrained: As in [`vireid.models.MCJA`][vireid.models.MCJA]; default ``None`` (random
            init).
        last_stride: Stride of ``layer4``. Default 1 (AGW).
        non_local: Insert the non-local blocks. Default True (``--method agw``).
        inter_channels: ``C′`` of the non-local blocks: ``"reference"`` (default, 1 — what the
            released code computes), ``"half"`` (C // 2, the evident intent) or an int.
        gem: GeM pooling (default); ``False`` gives average pooling (``--method base``).
        non_local_layout: Blocks per stage followed by a non-local block. Default ``None``:
            the reference ``{"layer2": 2, "layer3": 3}``, capped at each stage's depth.
        width: Stem width of the backbone. Default 64.

    Shape:
        - Input: ``images`` ``(B, 3, H, W)``; ``modalities`` ``(B,)`` with values 0/1,
          required (it picks the stem).
        - Output: `ReIDOutput` in training mode, ``(B, D)`` in eval mode.
    """

    routes_by_modality = True
    """Whether images are routed by modality (here: to the stem of their modality).

    A one-modality batch leaves the other stem without gradient;
    [`vireid.engine.fit`][vireid.engine.fit] tells DDP to expect that.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        arch: str = "resnet50",
        pretrained: Pretrained | str = None,
        last_stride: int = 1,
        non_local: bool = True,
        inter_channels: InterChannels = "reference",
        gem: bool = True,
        non_local_layout: Mapping[str, int] | None = None,
        width: int = 64,
    ) -> None:
        super().__init__()
        net = build_backbone(arch, pretrained, last_stride, width)
        self.visible_stem = net.slice("stem", "stem", copy=True)
        self.infrared_stem = net.slice("stem", "stem", copy=True)
        self.body = net.slice("layer1", "layer4")
        self.non_local_layout = (
            resolve_layout(self.body, non_local_layout, "non_local_layout") if non_local else {}
        )
        _inter_channels(inter_channels, 2)  # check the value once, before any insertion
        insert_layout(
            self.body,
            self.non_local_layout,
            lambda c: NonLocal(c, _inter_channels(inter_channels, c)),
        )
        self.head = EmbeddingHead(
            self.body.out_channels, num_classes, pooling="gem" if gem else "avg", init="agw"
        )
        self.num_classes = int(num_classes)
        self.embedding_dim = self.body.out_channels

    def stems(self, images: torch.Tensor, modalities: torch.Tensor) -> torch.Tensor:
        """Each image through the stem of its modality, returned in the input order."""
        vis = (modalities == 0).nonzero().squeeze(1)
        ir = (modalities == 1).nonzero().squeeze(1)
        n = images.shape[0]
        if vis.numel() + ir.numel() != n:
            bad = modalities[(modalities != 0) & (modalities != 1)].unique().tolist()
            raise ValueError(
                f"modalities must be 0 (visible) or 1 (infrared) for every image, got the "
                f"values {bad}"
            )
        if ir.numel() == 0:
            return self.visible_stem(images)
        if vis.numel() == 0:
            return self.infrared_stem(images)
        x = torch.cat([self.visible_stem(images[vis]), self.infrared_stem(images[ir])])
        return x[torch.argsort(torch.cat([vis, ir]))]

    def _checked_stems(
        self, images: torch.Tensor, modalities: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Check the inputs and run the stems: ``(stem output, modalities)``."""
        images = check_images(images)
        if modalities is None:
            raise ValueError(
                f"{type(self).__name__} runs each image through the stem of its modality: pass "
                "modalities, a (B,) tensor of 0 (visible) / 1 (infrared)"
            )
        modalities = check_modalities(modalities, images.shape[0], images.device)
        return self.stems(images, modalities), modalities

    def forward(
        self, images: torch.Tensor, modalities: torch.Tensor | None = None
    ) -> ReIDOutput | torch.Tensor:
        """Features of ``images``; see the class docstring for the training/eval outputs."""
        x, _ = self._checked_stems(images, modalities)
        fmap = self.body(x)
        if not self.training:
            return self.head.embed(fmap)
        pre, post, logits = self.head(fmap)
        return ReIDOutput(pre_bn=pre, post_bn=post, logits=logits)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``{"backbone": ..., "head": ...}``: AGW trains the head at 10× the backbone's LR."""
        return split_parameters(self, self.head)
