"""Retrieval features of a model over dataset samples: what the protocol runners take."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from vireid.augment.geometry import IMAGENET_MEAN, IMAGENET_STD
from vireid.data.image_dataset import ImageDataset, Interpolation
from vireid.data.sample import Sample
from vireid.engine.distributed import all_gather_rows
from vireid.engine.precision import AmpMode, autocast, resolve_amp

__all__ = ["FeatureExtractor", "extract_features"]


def _normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, 3, H, W)`` → float32 normalised with the ImageNet statistics."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    return (images.float().div_(255.0) - mean) / std


class FeatureExtractor:
    """A model wrapped as ``fn(samples) -> (N, D)`` features: what `evaluate_sysu` & co. take.

    Each call decodes and resizes the samples' images
    ([`vireid.data.ImageDataset`][vireid.data.ImageDataset]), normalises them with the ImageNet
    statistics, and runs the model in eval mode under ``torch.no_grad`` with the samples' modality
    labels (the test transform of every reference: resize, to tensor, normalise; no flip). Features
    come back as float32 on the CPU. The model's train/eval mode is restored afterwards.

    Under DDP (an initialised process group) each rank encodes every ``world_size``-th sample
    and the features are all-gathered, so every rank returns all of them.

    Args:
        model: Any module called as ``model(images, modalities)`` returning ``(B, D)`` in eval
            mode (every [`vireid.models`][vireid.models] assembly), or ``model(images)`` when
            ``pass_modalities=False``.
        size: Input ``(height, width)``, as in training.
        device: Device to run on. Default: the device of the model's first parameter.
        batch_size: Images per forward pass. Default 128.
        amp: Autocast mode (see [`vireid.engine.resolve_amp`][vireid.engine.resolve_amp]). Default
            ``"auto"``: bfloat16 on CUDA, float32 on the CPU.
        num_workers: DataLoader workers for decoding. Default 0 (in the calling process).
        interpolation: Resize interpolation (see
            [`vireid.data.ImageDataset`][vireid.data.ImageDataset]).
        pass_modalities: Call ``model(images, modalities)`` (default) or ``model(images)``.

    Example:
        Evaluate a trained model on SYSU-MM01 with the official sampler:

        ```python
        from vireid.engine import FeatureExtractor, evaluate_sysu

        features = FeatureExtractor(model, size=(384, 192), device="cuda")
        result = evaluate_sysu(features, SYSUMM01(root), mode="all", shots=1)
        print(result)
        ```

        Every image of the test pool is encoded once, whatever the number of trials.
    """

    def __init__(
        self,
        model: nn.Module,
        size: tuple[int, int],
        *,
        device: str | torch.device | None = None,
        batch_size: int = 128,
        amp: AmpMode = "auto",
        num_workers: int = 0,
        interpolation: Interpolation = "bilinear",
        pass_modalities: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.model = model
        self.size = size
        if device is None:
            first = next(model.parameters(), None)
            device = first.device if first is not None else torch.device("cpu")
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.dtype = resolve_amp(amp, self.device)
        self.num_workers = num_workers
        self.interpolation: Interpolation = interpolation
        self.pass_modalities = pass_modalities
        ImageDataset([], size=size)  # check the size once, up front

    @torch.no_grad()
    def __call__(self, samples: Sequence[Sample]) -> torch.Tensor:
        """Features ``(len(samples), D)`` of ``samples``, float32 on the CPU, in their order."""
        samples = list(samples)
        world, rank = 1, 0
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            world, rank = torch.distributed.get_world_size(), torch.distributed.get_rank()
        mine = samples[rank::world]
        was_training = self.model.training
        self.model.eval()
        try:
            feats = self._encode(mine)
        finally:
            self.model.train(was_training)
        if world > 1:
            feats = all_gather_rows(feats.to(self.device), len(samples)).cpu()
        return feats

    def _encode(self, samples: list[Sample]) -> torch.Tensor:
        dataset = ImageDataset(samples, size=self.size, interpolation=self.interpolation)
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
        )
        channels_last = self.device.type == "cuda"
        parts = []
        for batch in loader:
            images = _normalise(batch["image"].to(self.device, non_blocking=True))
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            modalities = batch["modality"].to(self.device, non_blocking=True)
            with autocast(self.device, self.dtype):
                out = self.model(images, modalities) if self.pass_modalities else self.model(images)
            if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != len(images):
                raise TypeError(
                    f"in eval mode the model must return a ({len(images)}, D) feature tensor, got "
                    f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}"
                )
            parts.append(out.float())
        if not parts:
            dim = getattr(self.model, "embedding_dim", None)
            if dim is None:
                raise ValueError(
                    "no samples to encode on this process and the model has no embedding_dim "
                    "attribute, so the empty feature block has no width; give the model an "
                    "embedding_dim or encode at least as many samples as there are processes"
                )
            return torch.empty((0, dim), dtype=torch.float32)
        return torch.cat(parts).cpu()


def extract_features(
    model: nn.Module,
    samples: Sequence[Sample],
    *,
    size: tuple[int, int],
    device: str | torch.device | None = None,
    batch_size: int = 128,
    amp: AmpMode = "auto",
    num_workers: int = 0,
) -> dict[Path, torch.Tensor]:
    """Features of ``samples`` keyed by image path: a mapping `evaluate_sysu` & co. accept.

    Encode a test pool once and evaluate it under several protocols:

    ```python
    pool = dataset.query() + [s for t in range(10) for s in dataset.gallery("all", 1, t)]
    feats = extract_features(model, pool, size=(288, 144))
    all_search = evaluate_sysu(feats, dataset, mode="all")
    ```

    Arguments as `FeatureExtractor`. Returns ``{sample.path: (D,) float32 CPU tensor}``.
    """
    extractor = FeatureExtractor(
        model, size, device=device, batch_size=batch_size, amp=amp, num_workers=num_workers
    )
    unique = list({s.path: s for s in samples}.values())
    feats = extractor(unique)
    return {s.path: f for s, f in zip(unique, feats, strict=True)}
