"""The IDKL network: a shared ResNet front, a shared and a specific deep branch, the purifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from vireid._choices import one_of
from vireid.models._assembly import (
    build_backbone,
    check_images,
    check_modalities,
    split_parameters,
)
from vireid.models.backbones.resnet import Pretrained
from vireid.models.output import ReIDOutput
from vireid.nn import BNNeck, GeM, InformationPurifier, ModalityClassifier

__all__ = ["IDKL", "IDKLOutput"]

Variant = Literal["reference", "paper"]


@dataclass
class IDKLOutput(ReIDOutput):
    """Training-mode output of `IDKL`: both branches, the modality heads and the purifier.

    The inherited fields are the **shared** branch: ``pre_bn`` = ``f_sh`` (GeM), ``post_bn`` =
    ``g_sh`` (BN neck; the retrieval feature), ``logits`` = ``Z_sh = W_sh g_sh``.

    Attributes:
        specific_pre_bn: ``f̃_sp = GeM(F̃_sp)``, the purified specific feature ``(B, D)``.
        specific_post_bn: ``g_sp = BN_sp(f̃_sp)`` ``(B, D)``.
        specific_logits: ``Z_sp = W_sp g_sp`` ``(B, C)``.
        confuser_logits: Modality confuser on ``g_sh`` ``(B, 2)`` (through a gradient reversal
            layer in the ``paper`` variant).
        discriminator_logits: Modality discriminator ``(B, 2)`` on ``g_sp`` (reference) or on the
            un-purified ``BN_sp(GeM(F_sp))`` (paper).
        raw_logits: Entropy-head logits on ``GeM(F_sp)`` ``(B, C)`` (input of ``L_e``). This and
            the next three are ``None`` for a network built without the purifier (ablation).
        enhanced_logits: Entropy-head logits on ``GeM(m_e ⊙ F_sp)`` ``(B, C)``.
        normalized: ``GeM(IN(F_sp))`` ``(B, D)`` (input of ``L_r``).
        reduced: ``GeM(m_r ⊙ IN(F_sp))`` ``(B, D)``.
        raw_specific_pre_bn: ``paper`` only: ``f_sp = GeM(F_sp)``, which Eq. 5's ``L_sp`` trains;
            ``None`` in the reference variant.
        raw_specific_logits: ``paper`` only: ``W_sp BN_sp(f_sp)``; ``None`` otherwise.
        confuser_reverses_gradient: Whether ``confuser_logits`` came through a gradient
            reversal layer (the paper variant); `IDKLLoss` checks it against its confusion mode.
    """

    specific_pre_bn: torch.Tensor
    specific_post_bn: torch.Tensor
    specific_logits: torch.Tensor
    confuser_logits: torch.Tensor
    discriminator_logits: torch.Tensor
    raw_logits: torch.Tensor | None = None
    enhanced_logits: torch.Tensor | None = None
    normalized: torch.Tensor | None = None
    reduced: torch.Tensor | None = None
    raw_specific_pre_bn: torch.Tensor | None = None
    raw_specific_logits: torch.Tensor | None = None
    confuser_reverses_gradient: bool = False


class IDKL(nn.Module):
    r"""The IDKL dual-stream network (Ren and Zhang, CVPR 2024), as in its released code.

    IDKL: K. Ren and L. Zhang, "Implicit Discriminative Knowledge Learning for Visible-Infrared
    Person Re-Identification", CVPR 2024.

    ```text
    images ─► shared front Θ: stem, layer1, layer2 ─┬─► shared Φ: layer3, layer4 ─► F_sh
                                                    └─► specific Ψ: layer3, layer4 ─► F_sp
    F_sh ─► GeM ─► f_sh ─► BN_sh ─► g_sh ─┬─► W_sh ─► Z_sh          (g_sh: retrieval feature)
                                          └─► confuser ─► modality logits
    F_sp ─► purifier ─► F̃_sp ─► GeM ─► f̃_sp ─► BN_sp ─► g_sp ─┬─► W_sp ─► Z_sp
                                                              └─► discriminator
    purifier side outputs: W_e GeM(F_sp), W_e GeM(F^{d+}), GeM(F̂_sp), GeM(F̂^{m−})
    ```

    The two deep branches start from the same (ImageNet) weights; the specific branch is the
    same for both modalities and is "specific" only through its losses. The
    [`InformationPurifier`][vireid.nn.InformationPurifier] turns ``F_sp`` into
    ``F̃_sp = m_e ⊙ m_r ⊙ (F_sp + IN(F_sp))``. Every pooling is GeM with ``p = 3`` and the
    clamp ``ε = 1e-6`` of the released code. The BN necks have frozen zero biases, the three
    identity heads ``W_sh``, ``W_sp`` and ``W_e`` are bias-free; ``W_e`` is trained only by the
    purifier's enhancement loss. The modality heads are
    [`ModalityClassifier`][vireid.nn.ModalityClassifier] MLPs (2048 → 100 → 100 → 2).

    ``variant`` changes the network exactly where the paper and the released code differ:

    | | ``"reference"`` (default) | ``"paper"`` |
    |---|---|---|
    | purifier masks | per position (``mask_mode="pixel"``), affine IN | per channel from the pooled map (Eq. 8), IN without affine terms (Eq. 7) |
    | confuser | no gradient reversal (trained against balanced pseudo-labels) | behind a gradient reversal layer (α = 1), true labels |
    | discriminator input | ``g_sp`` (purified) | ``BN_sp(GeM(F_sp))`` (un-purified, Eq. 5) |
    | entropy head of ``L_e`` | the extra head ``W_e`` | the specific classifier ``W_sp ∘ BN_sp`` (Eq. 10 names ``C_sp``) |
    | extra outputs | — | ``f_sp`` and its logits, for ``L_sp = L_reid(f_sp) + L_D`` |

    In eval mode only the shared branch runs and the forward pass returns ``g_sh`` ``(B, D)``
    (BN with running statistics), un-normalised; the specific branch is skipped.

    Parameters (SYSU-MM01, 395 identities, ResNet-50): 49,490,084 in the reference variant =
    1,444,928 front + 2 × 22,063,104 deep branches + 1,052,672 purifier (two masks of 524,288
    and the IN's 4,096 affine terms) + 8,192 BN necks + 3 × 808,960 identity heads + 2 × 215,602
    modality heads; 48,677,028 in the paper variant (no ``W_e``, no IN affine terms). The
    released code builds three whole ResNet-50s (about 77 M parameters) and uses these.

    Args:
        num_classes: Training identities (395 SYSU-MM01, 206 RegDB, 713 LLCM).
        variant: ``"reference"`` (default) or ``"paper"``, see the table.
        arch: ``"resnet50"`` (default), ``"resnet34"`` or ``"resnet18"``.
        pretrained: As in [`vireid.models.MCJA`][vireid.models.MCJA]; default ``None``.
        last_stride: Stride of ``layer4``. Default 1 (the released code drops the last stride).
        width: Stem width of the backbone. Default 64.
        purifier_reduction: Bottleneck ratio ``r`` of the purifier's masks. Default 16.
        purifier: Build the purifier. Default True; ``False`` (an ablation) gives
            ``f̃_sp = GeM(F_sp)``, no ``W_e`` and no purifier outputs, so the criterion's purifier
            weight must be 0.
        modality_hidden: Hidden width of the modality heads. Default 100.

    Shape:
        - Input: ``images`` ``(B, 3, H, W)`` (training: ``B ≥ 2``, and the feature map must
          have more than one position for the instance norm); ``modalities`` ``(B,)`` 0/1 is
          accepted and checked, but the network does not route by it.
        - Output: `IDKLOutput` in training mode, ``(B, D)`` in eval mode.
    """  # noqa: E501

    def __init__(
        self,
        num_classes: int,
        *,
        variant: Variant = "reference",
        arch: str = "resnet50",
        pretrained: Pretrained | str = None,
        last_stride: int = 1,
        width: int = 64,
        purifier_reduction: int = 16,
        modality_hidden: int = 100,
        purifier: bool = True,
    ) -> None:
        super().__init__()
        self.variant: Variant = one_of(variant, ("reference", "paper"), "variant")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        net = build_backbone(arch, pretrained, last_stride, width)
        self.front = net.slice("stem", "layer2")
        self.shared = net.slice("layer3", "layer4", copy=True)
        self.specific = net.slice("layer3", "layer4", copy=True)
        dim = net.out_channels
        paper = self.variant == "paper"
        self.purifier = (
            InformationPurifier(
                dim,
                reduction=purifier_reduction,
                mask_mode="channel" if paper else "pixel",
                affine=not paper,
            )
            if purifier
            else None
        )
        self.pool = GeM(p=3.0, eps=1e-6, clamp=True)
        self.shared_neck = BNNeck(dim)
        self.specific_neck = BNNeck(dim)
        self.shared_classifier = nn.Linear(dim, num_classes, bias=False)
        self.specific_classifier = nn.Linear(dim, num_classes, bias=False)
        self.entropy_head = (
            nn.Linear(dim, num_classes, bias=False) if purifier and not paper else None
        )
        self.confuser = ModalityClassifier(dim, hidden=modality_hidden, reverse_grad=paper)
        self.discriminator = ModalityClassifier(dim, hidden=modality_hidden)
        self.num_classes = int(num_classes)
        self.embedding_dim = dim

    def _entropy_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        if self.entropy_head is not None:
            return self.entropy_head(pooled)
        return self.specific_classifier(self.specific_neck(pooled).post_bn)

    def forward(
        self, images: torch.Tensor, modalities: torch.Tensor | None = None
    ) -> IDKLOutput | torch.Tensor:
        """Features of ``images``; see the class docstring for the training/eval outputs."""
        images = check_images(images)
        if modalities is not None:
            check_modalities(modalities, images.shape[0], images.device)
        x = self.front(images)
        shared_pre = self.pool(self.shared(x))
        shared_post = self.shared_neck(shared_pre).post_bn
        if not self.training:
            return shared_post
        fmap = self.specific(x)
        parts = self.purifier(fmap) if self.purifier is not None else None
        specific_pre = self.pool(parts.purified if parts is not None else fmap)
        specific_post = self.specific_neck(specific_pre).post_bn
        raw = self.pool(fmap)
        raw_pre: torch.Tensor | None = None
        raw_logits: torch.Tensor | None = None
        if self.variant == "paper":
            raw_pre = raw
            raw_post = self.specific_neck(raw).post_bn
            raw_logits = self.specific_classifier(raw_post)
            discriminator_in, entropy_raw = raw_post, raw_logits
        else:
            discriminator_in = specific_post
            entropy_raw = self._entropy_logits(raw) if parts is not None else None
        purifier_out: dict[str, torch.Tensor | None] = dict.fromkeys(
            ("raw_logits", "enhanced_logits", "normalized", "reduced")
        )
        if parts is not None:
            purifier_out = {
                "raw_logits": entropy_raw,
                "enhanced_logits": self._entropy_logits(self.pool(parts.enhanced)),
                "normalized": self.pool(parts.normalized),
                "reduced": self.pool(parts.reduced),
            }
        return IDKLOutput(
            pre_bn=shared_pre,
            post_bn=shared_post,
            logits=self.shared_classifier(shared_post),
            specific_pre_bn=specific_pre,
            specific_post_bn=specific_post,
            specific_logits=self.specific_classifier(specific_post),
            confuser_logits=self.confuser(shared_post),
            discriminator_logits=self.discriminator(discriminator_in),
            **purifier_out,
            raw_specific_pre_bn=raw_pre,
            raw_specific_logits=raw_logits,
            confuser_reverses_gradient=self.confuser.reverse_grad,
        )

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``{"backbone": ..., "head": ...}``.

        The backbone group is the ResNet front and both deep branches; the head group is every
        layer IDKL adds (purifier, BN necks, identity and modality heads). The reference recipe
        trains both at one learning rate.
        """
        backbone = (self.front, self.shared, self.specific)
        added = [m for m in self.children() if all(m is not b for b in backbone)]
        return split_parameters(self, nn.ModuleList(added))
