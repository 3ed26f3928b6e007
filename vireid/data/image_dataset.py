"""A torch Dataset over `Sample` records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from vireid.data.sample import Sample

__all__ = ["ImageDataset"]


class ImageDataset(torch.utils.data.Dataset):
    """Images of a list of `Sample`s, decoded to RGB, with their labels.

    Each item is a dict with ``image``, ``pid``, ``cam``, ``modality``, ``label`` and ``index``
    (the position in ``samples``). Infrared images are converted to 3-channel RGB like every
    other image.

    Args:
        samples: The records to serve, e.g. ``SYSUMM01(root).train``.
        transform: Applied to the decoded ``PIL.Image``. ``None`` (default) returns a
            ``(3, H, W)`` uint8 tensor, leaving resizing and augmentation to batched GPU code.
    """

    def __init__(
        self, samples: Sequence[Sample], transform: Callable[[Image.Image], Any] | None = None
    ) -> None:
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = self.samples[index]
        try:
            with Image.open(s.path) as img:
                rgb = img.convert("RGB")
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"image {s.path} (sample {index}) is missing; was the dataset moved?"
            ) from err
        if self.transform is not None:
            image = self.transform(rgb)
        else:
            image = torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)
        return {
            "image": image,
            "pid": s.pid,
            "cam": s.cam,
            "modality": s.modality,
            "label": s.label,
            "index": index,
        }
