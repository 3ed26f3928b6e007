"""Modality augmentations for visible-infrared re-identification.

Three layers (see the "Modality augmentations" docs page):

* [`vireid.augment.functional`][vireid.augment.functional] — deterministic ops with explicit,
  per-sample parameters on ``(..., 3, H, W)`` float or uint8 tensors;
* the modules below — per-sample random parameters from an optional `torch.Generator`, on PIL
  images, ``(3, H, W)`` tensors or ``(B, 3, H, W)`` batches, with ``return_params`` and
  ``replay`` for exact reapplication;
* [`vireid.augment.presets`][vireid.augment.presets] — the MCJA, CAJ and AGW pipelines per image,
  and `BatchAugment`, the same recipes on a uint8 batch already on the device;
  [`vireid.augment.streams`][vireid.augment.streams] — `CAJStreams`, CAJ's three training
  streams (two views of each visible image) as `AugmentedViews`.
"""

from vireid.augment import functional, presets
from vireid.augment.presets import BatchAugment
from vireid.augment.streams import AugmentedViews, CAJStreams
from vireid.augment.transforms import (
    VIMC,
    ChannelAdaptiveGray,
    ChannelCutMix,
    ChannelExchange,
    ChannelRandomErasing,
    ChannelSelect,
    HueJitter,
    ModalityAware,
    RandomChoice,
    RandomErasing,
    SpectrumJitter,
    TransformParams,
    WeightedGrayscale,
)

__all__ = [
    "VIMC",
    "AugmentedViews",
    "BatchAugment",
    "CAJStreams",
    "ChannelAdaptiveGray",
    "ChannelCutMix",
    "ChannelExchange",
    "ChannelRandomErasing",
    "ChannelSelect",
    "HueJitter",
    "ModalityAware",
    "RandomChoice",
    "RandomErasing",
    "SpectrumJitter",
    "TransformParams",
    "WeightedGrayscale",
    "functional",
    "presets",
]
