"""Modality augmentations for visible-infrared re-identification.

Planned (issue: modality augmentations): MCJA's weighted grayscale, cross-channel cutmix, spectrum
jitter and channel selection; CAJ's channel exchange, adaptive gray and channel random erasing, as
functional ops with explicit parameters beside modules that sample them per image, on PIL images
and batched tensors alike.
"""

__all__: list[str] = []
