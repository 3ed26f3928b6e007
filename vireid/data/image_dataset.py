"""A torch Dataset over `Sample` records: decode, convert to RGB, resize to uint8."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from vireid.data.sample import Sample

__all__ = ["ImageDataset"]

Interpolation = Literal["bilinear", "lanczos", "bicubic", "nearest"]
_RESAMPLE = {
    "bilinear": Image.Resampling.BILINEAR,
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}


def _check_size(size: object) -> tuple[int, int] | None:
    if size is None:
        return None
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        raise ValueError(f"size must be None or (height, width) with positive ints, got {size!r}")
    return int(size[0]), int(size[1])


class ImageDataset(torch.utils.data.Dataset):
    """Images of a list of `Sample`s, decoded to RGB and resized, with their labels.

    Each item is a dict with ``image``, ``pid``, ``cam``, ``modality``, ``label`` and ``index``
    (the position in ``samples``). Infrared images are converted to 3-channel RGB like every
    other image. With ``size`` every image is resized to exactly ``(height, width)`` (the aspect
    ratio is not kept, as in every VI-ReID reference), so a tree of mixed image sizes collates
    into one batch; augmentation then runs batched on the training device
    ([`vireid.augment.BatchAugment`][vireid.augment.BatchAugment]).

    ``cache=True`` decodes and resizes every image once, at construction, into one uint8 tensor
    (``N·3·H·W`` bytes: 39 MB for 1,600 images at 128×64, 7.6 GB for SYSU-MM01's 34,167 at
    384×192), so later epochs cost no decoding. DataLoader workers forked after construction
    share that memory.

    Args:
        samples: The records to serve, e.g. ``SYSUMM01(root).train``.
        transform: Applied to the decoded (and resized) ``PIL.Image``. ``None`` (default)
            returns a ``(3, H, W)`` uint8 tensor.
        size: ``(height, width)`` to resize to, or ``None`` (default) to keep each image's size.
        interpolation: ``"bilinear"`` (default; the MPANet lineage, MCJA, IDKL),
            ``"lanczos"`` (the AGW lineage's offline resize), ``"bicubic"`` or ``"nearest"``.
        cache: Decode every image at construction (needs ``size`` and no ``transform``).
        num_threads: Decoding threads for the cache. Default: the CPU count, at most 8.

    Raises:
        ValueError: a bad ``size`` or ``interpolation``, or ``cache`` without ``size`` or
            with a ``transform``.
        FileNotFoundError / OSError: an image that is missing or cannot be decoded; the message
            names the sample's index and path.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        transform: Callable[[Image.Image], Any] | None = None,
        *,
        size: tuple[int, int] | None = None,
        interpolation: Interpolation = "bilinear",
        cache: bool = False,
        num_threads: int | None = None,
    ) -> None:
        self.samples = list(samples)
        self.transform = transform
        self.size = _check_size(size)
        if interpolation not in _RESAMPLE:
            raise ValueError(
                f"interpolation must be one of {', '.join(map(repr, _RESAMPLE))}, got "
                f"{interpolation!r}"
            )
        self.interpolation = interpolation
        self._cache: torch.Tensor | None = None
        if cache:
            if self.size is None:
                raise ValueError("cache=True needs size=(height, width): cached images share one "
                                 "tensor")  # fmt: skip
            if transform is not None:
                raise ValueError("cache=True stores uint8 images; it cannot be combined with a "
                                 "transform (augment the batch instead)")  # fmt: skip
            self._cache = self._decode_all(num_threads)

    @property
    def cached(self) -> bool:
        """Whether the images were decoded into memory at construction."""
        return self._cache is not None

    def _decode_all(self, num_threads: int | None) -> torch.Tensor:
        assert self.size is not None
        h, w = self.size
        out = torch.empty((len(self.samples), 3, h, w), dtype=torch.uint8)
        threads = num_threads or min(8, os.cpu_count() or 1)

        def fill(i: int) -> None:
            out[i] = self._load(i)

        # PIL releases the GIL while decoding and resizing, so threads run in parallel.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(fill, range(len(self.samples))))
        return out

    def _open(self, index: int) -> Image.Image:
        s = self.samples[index]
        try:
            with Image.open(s.path) as img:
                rgb = img.convert("RGB")
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"image {s.path} (sample {index}) is missing; was the dataset moved?"
            ) from err
        except OSError as err:
            raise OSError(
                f"cannot decode image {s.path} (sample {index}): {err}. The file is corrupt or "
                "truncated; re-copy it or remove the sample"
            ) from err
        if self.size is not None and rgb.size != (self.size[1], self.size[0]):
            rgb = rgb.resize((self.size[1], self.size[0]), _RESAMPLE[self.interpolation])
        return rgb

    def _load(self, index: int) -> Any:
        rgb = self._open(index)
        if self.transform is not None:
            return self.transform(rgb)
        return torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = self.samples[index]
        image = self._cache[index] if self._cache is not None else self._load(index)
        return {
            "image": image,
            "pid": s.pid,
            "cam": s.cam,
            "modality": s.modality,
            "label": s.label,
            "index": index,
        }
