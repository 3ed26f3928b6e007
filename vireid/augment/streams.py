"""Augmentations that turn one sampled batch into several views of it (CAJ's three streams).

A single-view augmentation maps a batch to a batch of the same size. CAJ (Ye et al., ICCV 2021)
feeds the network more images than the sampler drew: each visible image twice (a weak and a
channel-exchanged view) and each infrared image once. `CAJStreams` returns those images in an
`AugmentedViews` record that says which sampled image each output row comes from, so the
training loop can repeat the labels to match without knowing the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from vireid.augment.presets import BatchAugment, Size

__all__ = ["AugmentedViews", "CAJStreams"]


@dataclass(frozen=True)
class AugmentedViews:
    """Augmented images that are not one-to-one with the sampled batch.

    Attributes:
        images: ``(N, 3, H, W)`` float32, normalised: what the network sees.
        index: ``(N,)`` int64: the row of the sampled batch each image was made from; the
            training loop takes ``labels[index]``.
        modalities: ``(N,)`` modality label of each image (0 visible, 1 infrared): the stem it
            goes through and what the losses see.
    """

    images: torch.Tensor
    index: torch.Tensor
    modalities: torch.Tensor


class CAJStreams(torch.nn.Module):
    """CAJ's three training streams from one cross-modality batch (Ye et al., ICCV 2021, Sec. 3).

    | stream | from | after pad 10 + crop, flip, normalise |
    |---|---|---|
    | V₀, visible "weak" | every visible image | channel random erasing |
    | T, infrared | every infrared image | channel random erasing, adaptive gray |
    | V₁, visible "strong" | every visible image again, with its own crop, flip and erasing draws | channel random erasing, channel exchange |

    The output holds the sampled batch in its own order (V₀ and T, as
    ``BatchAugment("caj", view="weak")`` makes them) followed by V₁ for the visible rows, so a
    batch of P·K visible and P·K infrared images becomes 3·P·K images, as in the released code.
    V₁ keeps the visible modality label: it goes through the visible stem. ``variant="pami23"``
    uses CAJ+'s probabilities (erasing 0.6 on both visible views, adaptive gray 0.6, random
    grayscale 0.1 on V₀; Ye et al., IEEE TPAMI 2023).

    Args:
        size: ``(height, width)`` of the batch.
        variant: ``"iccv21"`` (default) or ``"pami23"``.
        generator: Optional `torch.Generator` for every draw of both visible views and the
            infrared stream, in that order per call.

    Call with ``(batch, modality)`` as `BatchAugment`: ``batch`` uint8 ``(B, 3, H, W)``,
    ``modality`` ``(B,)`` of 0/1. Returns `AugmentedViews`. Selecting the visible rows reads
    their count on the host (one synchronisation per batch on a GPU).
    """  # noqa: E501

    def __init__(
        self,
        size: Size = (288, 144),
        *,
        variant: Literal["iccv21", "pami23"] = "iccv21",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.weak = BatchAugment("caj", size, view="weak", variant=variant, generator=generator)
        self.strong = BatchAugment("caj", size, view="strong", variant=variant, generator=generator)
        self.size, self.variant, self.generator = self.weak.size, variant, generator

    def forward(self, batch: torch.Tensor, modality: torch.Tensor) -> AugmentedViews:
        """The three streams of ``batch`` (uint8 ``(B, 3, H, W)``), by ``modality`` ``(B,)``."""
        first = self.weak(batch, modality)  # checks the batch and the labels for both views
        modality = torch.as_tensor(modality, device=batch.device)
        rows = (modality == 0).nonzero().squeeze(1)
        second = self.strong(batch.index_select(0, rows), modality.index_select(0, rows))
        index = torch.cat([torch.arange(batch.shape[0], device=batch.device), rows])
        return AugmentedViews(
            images=torch.cat([first, second]),
            index=index,
            modalities=modality.index_select(0, index),
        )

    def extra_repr(self) -> str:
        """Size and variant shown in ``repr(module)``."""
        return f"size={self.size}, variant={self.variant!r}"
