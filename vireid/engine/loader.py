"""The training data path: P×K batches of uint8 images, decoded once or by DataLoader workers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from vireid._choices import one_of
from vireid.data.image_dataset import ImageDataset
from vireid.data.sample import Sample
from vireid.data.samplers import CrossModalityIdentitySampler
from vireid.models.recipe import Recipe

__all__ = ["CachedBatches", "TrainLoader", "build_train_loader"]

AUTO_CACHE_BYTES = 2 * 2**30
"""``cache_images="auto"`` keeps the decoded training set in memory up to this size."""


class CachedBatches:
    """Batches gathered straight from a cached `ImageDataset` (no workers, no collation).

    Each batch is a dict of ``image`` (uint8 ``(B, 3, H, W)``), ``label`` and ``modality``
    (int64 ``(B,)``), in the sampler's order.
    """

    def __init__(self, dataset: ImageDataset, sampler: CrossModalityIdentitySampler) -> None:
        if not dataset.cached:
            raise ValueError("CachedBatches needs an ImageDataset built with cache=True")
        self.dataset = dataset
        self.sampler = sampler
        self._images = dataset._cache
        self._labels = torch.tensor([s.label for s in dataset.samples], dtype=torch.int64)
        self._modalities = torch.tensor([s.modality for s in dataset.samples], dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        assert self._images is not None
        for batch in self.sampler:
            index = torch.as_tensor(batch, dtype=torch.int64)
            yield {
                "image": self._images.index_select(0, index),
                "label": self._labels.index_select(0, index),
                "modality": self._modalities.index_select(0, index),
            }


TrainLoader = CachedBatches | torch.utils.data.DataLoader


def build_train_loader(
    samples: Sequence[Sample],
    recipe: Recipe,
    *,
    device: torch.device,
    cache_images: bool | str = "auto",
    num_workers: int = 0,
    num_replicas: int | None = None,
    rank: int | None = None,
) -> tuple[Any, CrossModalityIdentitySampler]:
    """The training loader of a recipe and its sampler (call ``sampler.set_epoch`` per epoch).

    Images are decoded, converted to RGB and resized to ``recipe.image_size`` as uint8 — once,
    into memory, when ``cache_images`` is true (``"auto"``: when the decoded set fits in 2 GiB),
    else in ``num_workers`` DataLoader workers with pinned memory on CUDA. Augmentation is not
    done here: it runs batched on the training device
    ([`vireid.augment.BatchAugment`][vireid.augment.BatchAugment]).

    Args:
        samples: Training samples (labels ``0..C-1``).
        recipe: Supplies the image size and the sampler (variant, P, K, seed).
        device: The training device (pinned memory for CUDA).
        cache_images: ``True``, ``False`` or ``"auto"`` (default).
        num_workers: DataLoader workers when not cached. Default 0.
        num_replicas: DDP world size (default: from the process group).
        rank: DDP rank (default: from the process group).
    """
    if cache_images not in (True, False, "auto"):
        raise ValueError(f"cache_images must be True, False or 'auto', got {cache_images!r}")
    sampler = CrossModalityIdentitySampler(
        samples,
        ids_per_batch=recipe.ids_per_batch,
        num_instances=recipe.num_instances,
        variant=one_of(recipe.sampler, ("agw_pk", "pk_any", "idkl_random"), "recipe.sampler"),
        seed=recipe.seed,
        num_replicas=num_replicas,
        rank=rank,
    )
    h, w = recipe.image_size
    if cache_images == "auto":
        cache_images = len(samples) * 3 * h * w <= AUTO_CACHE_BYTES
    if cache_images:
        dataset = ImageDataset(samples, size=recipe.image_size, cache=True)
        return CachedBatches(dataset, sampler), sampler
    dataset = ImageDataset(samples, size=recipe.image_size)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=num_workers > 0,
    )
    return loader, sampler
