"""Construction and input checks shared by the assemblies (private)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from vireid._modality import check_modality_values
from vireid.models.backbones import ResNet, resnet18, resnet34, resnet50
from vireid.models.backbones.resnet import Pretrained

ARCHS: dict[str, Callable[..., ResNet]] = {
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
}

REFERENCE_LAYOUT: dict[str, int] = {"layer2": 2, "layer3": 3}
"""Blocks per stage that MCJA's MDAs and AGW's non-local blocks follow in ResNet-50.

The last 2 of ``layer2`` and the last 3 of ``layer3`` (the reference codes' ``[0, 2, 3, 0]``).
"""


def build_backbone(arch: str, pretrained: Pretrained, last_stride: int, width: int) -> ResNet:
    """A ResNet by name; ``pretrained`` as in `vireid.models.backbones.resnet50`."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {sorted(ARCHS)}, got {arch!r}")
    if pretrained == "imagenet":
        pretrained = True
    return ARCHS[arch](pretrained=pretrained, last_stride=last_stride, width=width)


def resolve_layout(backbone: ResNet, layout: Mapping[str, int] | None, what: str) -> dict[str, int]:
    """The insertion layout: given, or the reference one capped at each stage's depth."""
    if layout is None:
        return {s: min(n, len(getattr(backbone, s))) for s, n in REFERENCE_LAYOUT.items()}
    if not isinstance(layout, Mapping):
        raise TypeError(
            f"{what} must map stage names to block counts, e.g. {REFERENCE_LAYOUT}, got "
            f"{type(layout).__name__}"
        )
    out = {}
    for stage, count in layout.items():
        if stage not in ("layer1", "layer2", "layer3", "layer4"):
            raise ValueError(f"{what}: stage must be 'layer1'..'layer4', got {stage!r}")
        depth = len(getattr(backbone, stage))
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= depth:
            raise ValueError(
                f"{what}[{stage!r}] must be an int in 0..{depth} (the blocks of {stage} in "
                f"{backbone.arch}), got {count!r}"
            )
        if count:
            out[stage] = count
    return out


def insert_layout(
    backbone: ResNet, layout: Mapping[str, int], factory: Callable[[int], nn.Module]
) -> None:
    """Insert ``factory(channels)`` after the last ``layout[stage]`` blocks of each stage."""
    for stage, count in layout.items():
        backbone.insert_after_last(stage, count, factory)


def check_images(images: object) -> torch.Tensor:
    """Check an image batch ``(B, 3, H, W)`` of floats with ``B >= 1``."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(
            f"images must be a normalised floating-point batch, got dtype {images.dtype} "
            "(vireid.augment.BatchAugment turns a uint8 batch into one)"
        )
    if images.dim() != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise ValueError(f"images must have shape (B, 3, H, W) with B >= 1, got "
                         f"{tuple(images.shape)}")  # fmt: skip
    return images


def check_modalities(modalities: object, batch: int, device: torch.device) -> torch.Tensor:
    """Check a ``(B,)`` integer modality vector on the images' device."""
    if not isinstance(modalities, torch.Tensor):
        raise TypeError(
            f"modalities must be a (B,) integer tensor (0 visible, 1 infrared), got "
            f"{type(modalities).__name__}"
        )
    if modalities.dtype == torch.bool or modalities.is_floating_point():
        raise TypeError(f"modalities must hold integers 0/1, got dtype {modalities.dtype}")
    if modalities.shape != (batch,):
        raise ValueError(
            f"modalities must have shape ({batch},) to match the images, got "
            f"{tuple(modalities.shape)}"
        )
    if modalities.device != device:
        raise ValueError(
            f"modalities must be on the images' device {device}, got {modalities.device}"
        )
    if device.type == "cpu":  # on an accelerator the value check would cost a host sync
        check_modality_values(modalities, "modalities")
    return modalities


def split_parameters(model: nn.Module, head: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters as ``{"backbone": [...], "head": [...]}`` (head = neck+classifier)."""
    head_ids = {id(p) for p in head.parameters()}
    groups: dict[str, list[nn.Parameter]] = {"backbone": [], "head": []}
    for p in model.parameters():
        if p.requires_grad:
            groups["head" if id(p) in head_ids else "backbone"].append(p)
    return groups
