"""The EMIF network (a proposal): the AGW network plus one enhancing branch per modality."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from vireid._choices import one_of
from vireid.models._assembly import split_parameters
from vireid.models.agw.model import AGW, InterChannels
from vireid.models.backbones.resnet import Pretrained
from vireid.models.head import EmbeddingHead
from vireid.models.output import ReIDOutput
from vireid.nn import BNNeck

__all__ = ["EMIF", "EMIFOutput"]

Branch = Literal["layer4", "mlp"]
TestFeature = Literal["unified", "concat"]


@dataclass
class EMIFOutput(ReIDOutput):
    """Training-mode output of `EMIF`.

    The inherited fields are the **unified** branch (``pre_bn`` = ``f``, ``post_bn`` = ``z``,
    ``logits``); the branch fields hold, for each image, the output of the enhancing branch of
    its own modality, in the input order.

    Attributes:
        branch_pre_bn: ``g``, the branch's pooled feature ``(B, D)`` (intra-modality metric loss).
        branch_post_bn: ``h``, the branch's BN-neck feature ``(B, D)``.
        branch_logits: ``W_m h`` ``(B, C)``, the branch's identity logits.
    """

    branch_pre_bn: torch.Tensor
    branch_post_bn: torch.Tensor
    branch_logits: torch.Tensor


class _MLPBranch(nn.Module):
    """``D → D/2 → D`` (BN + ReLU between) on the pooled unified feature, BN neck, classifier."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(dim, dim // 2), nn.BatchNorm1d(dim // 2), nn.ReLU(inplace=True),
            nn.Linear(dim // 2, dim),
        )  # fmt: skip
        self.neck = BNNeck(dim)
        self.classifier = nn.Linear(dim, num_classes, bias=False)

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pre = self.mlp(pooled)
        post = self.neck(pre).post_bn
        return pre, post, self.classifier(post)


class _Layer4Branch(nn.Module):
    """An independent copy of ``layer4`` on the ``layer3`` map, then GeM, BN neck, classifier."""

    def __init__(self, layer4: nn.Module, dim: int, num_classes: int) -> None:
        super().__init__()
        self.layer4 = layer4
        self.head = EmbeddingHead(dim, num_classes, pooling="gem", init="agw")

    def forward(self, fmap3: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.head(self.layer4(fmap3))


class EMIF(AGW):
    """Intra-modality enhancing branches on the AGW network — **a proposal**, not a reproduction.

    Inspired by: Zhang, Zhao, Du, Sun and Wang, "Learning enhancing modality-invariant features
    for visible-infrared person re-identification", International Journal of Machine Learning
    and Cybernetics 16(1), pp. 55–73, 2025. Only the paper's abstract is
    public: it names per-modality branches that enhance intra-class compactness and inter-class
    discrepancy within each modality, and a Gaussian distribution-consistency loss in the unified
    space, without equations. The architecture below is this library's own well-defined reading.

    ```text
    visible / infrared stems ─► shared layer1 … layer3 ─► shared layer4 ─► GeM ─► f ─► BN ─► z ─► W
                                         │ (branch="layer4")          │ (branch="mlp")
                                         ▼                            ▼
                      visible branch B_V on the visible images, infrared branch B_I on the infrared
                      images: g (pooled) ─► BN neck ─► h ─► W_m (bias-free, C classes)
    ```

    * ``branch="layer4"`` (default): each branch is its own copy of ``layer4`` (same initial
      weights as the shared one) on the shared ``layer3`` map, with GeM, BN neck and classifier.
    * ``branch="mlp"``: each branch is ``Linear(D, D/2) → BN → ReLU → Linear(D/2, D)`` on the
      pooled unified feature ``f``, then BN neck and classifier.

    The branch losses train the shared trunk through the branches; that is how the
    modality-specific supervision enhances the unified representation. At test time only the
    unified branch is used: the embedding is ``z`` (the evaluator's cosine distance normalises
    it). ``test_feature="concat"`` (experimental, never the default) returns
    ``[z/‖z‖, h/‖h‖]`` with ``h`` from the image's own modality branch.

    Parameters (SYSU-MM01, 395 identities, ResNet-50, ``branch="layer4"``): the AGW network's
    24,359,311 + 2 × (14,964,736 ``layer4`` + 4,096 BN neck + 808,960 classifier) = 55,914,895.

    Args:
        num_classes: Training identities.
        branch: ``"layer4"`` (default) or ``"mlp"``.
        test_feature: ``"unified"`` (default) or ``"concat"``.
        arch: ``"resnet50"`` (default), ``"resnet34"`` or ``"resnet18"``.
        pretrained: As in [`vireid.models.AGW`][vireid.models.AGW]; default ``None``.
        last_stride: Stride of ``layer4`` (and of the branch copies). Default 1.
        non_local: AGW's non-local blocks in the shared trunk. Default True.
        inter_channels: As in `AGW`.
        width: Stem width of the backbone. Default 64.

    Shape:
        - Input: ``images`` ``(B, 3, H, W)``; ``modalities`` ``(B,)`` with values 0/1, required
          (it picks the stem and the branch).
        - Output: `EMIFOutput` in training mode, ``(B, D)`` (``(B, 2D)`` for ``"concat"``) in
          eval mode.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        branch: Branch = "layer4",
        test_feature: TestFeature = "unified",
        arch: str = "resnet50",
        pretrained: Pretrained | str = None,
        last_stride: int = 1,
        non_local: bool = True,
        inter_channels: InterChannels = "reference",
        width: int = 64,
    ) -> None:
        super().__init__(
            num_classes,
            arch=arch,
            pretrained=pretrained,
            last_stride=last_stride,
            non_local=non_local,
            inter_channels=inter_channels,
            width=width,
        )
        self.branch: Branch = one_of(branch, ("layer4", "mlp"), "branch")
        self.test_feature: TestFeature = one_of(test_feature, ("unified", "concat"), "test_feature")
        dim = self.embedding_dim
        self.branches = nn.ModuleList()
        for _ in range(2):  # 0 visible, 1 infrared
            if self.branch == "layer4":
                layer4 = self.body.slice("layer4", "layer4", copy=True)
                self.branches.append(_Layer4Branch(layer4, dim, num_classes))
            else:
                self.branches.append(_MLPBranch(dim, num_classes))

    def _branch_outputs(
        self, fmap3: torch.Tensor, pooled: torch.Tensor, modalities: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each image through the branch of its modality; results in the input order."""
        parts, order = [], []
        for m, branch in enumerate(self.branches):
            idx = (modalities == m).nonzero().squeeze(1)
            if idx.numel() == 0:
                continue
            source = fmap3 if self.branch == "layer4" else pooled
            parts.append(branch(source[idx]))
            order.append(idx)
        inverse = torch.argsort(torch.cat(order))
        pre, post, logits = (torch.cat([p[i] for p in parts])[inverse] for i in range(3))
        return pre, post, logits

    def forward(
        self, images: torch.Tensor, modalities: torch.Tensor | None = None
    ) -> EMIFOutput | torch.Tensor:
        """Features of ``images``; see the class docstring for the training/eval outputs."""
        x, modalities = self._checked_stems(images, modalities)
        stages = self.body.forward_stages(x)
        fmap3, fmap4 = stages["layer3"], stages["layer4"]
        if not self.training:
            z = self.head.embed(fmap4)
            if self.test_feature == "unified":
                return z
            pooled = self.head.pool(fmap4).flatten(1)
            _, h, _ = self._branch_outputs(fmap3, pooled, modalities)
            return torch.cat([F.normalize(z, dim=1), F.normalize(h, dim=1)], dim=1)
        pre, post, logits = self.head(fmap4)
        g, h, branch_logits = self._branch_outputs(fmap3, pre, modalities)
        return EMIFOutput(
            pre_bn=pre,
            post_bn=post,
            logits=logits,
            branch_pre_bn=g,
            branch_post_bn=h,
            branch_logits=branch_logits,
        )

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``{"backbone": ..., "head": ...}``: the branches' necks and classifiers are heads."""
        heads: list[nn.Module] = [self.head]
        for b in self.branches:
            if isinstance(b, _Layer4Branch):
                heads.append(b.head)
            elif isinstance(b, _MLPBranch):
                heads += [b.neck, b.classifier]
        return split_parameters(self, nn.ModuleList(heads))
