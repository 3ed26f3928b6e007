"""Backbones for visible-infrared re-identification assemblies.

`ResNet` wraps torchvision's ResNet-18/34/50 without the classifier, with named stages
(`STAGES`) that assemblies slice into shared and specific parts (IDKL's dual stream,
AGW's modality-specific stems) and insertion points after residual blocks (MCJA's modality
distribution adapters). Pretrained weights are opt-in: torchvision weights enums or a local
state dict path.
"""

from vireid.models.backbones.resnet import STAGES, ResNet, resnet18, resnet34, resnet50

__all__ = ["STAGES", "ResNet", "resnet18", "resnet34", "resnet50"]
