"""What an assembly returns in training mode: named tensors, never a positional tuple."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ReIDOutput"]


@dataclass
class ReIDOutput:
    """Training-mode output of a re-identification assembly (MCJA, AGW, or your own).

    Every assembly of [`vireid.models`][vireid.models] returns this in training mode and the
    retrieval embedding ``(B, D)`` in eval mode. A method whose losses need more tensors subclasses
    it and adds fields; criteria read the fields by name, so a criterion never depends on the order
    in which a network happens to produce its outputs.

    Attributes:
        pre_bn: ``(B, D)`` pooled feature before the BN neck (AGW's WRT triplet reads it).
        post_bn: ``(B, D)`` feature after the BN neck (MCJA's CMR loss reads it; in eval mode
            it is the retrieval embedding of both methods).
        logits: ``(B, C)`` identity logits of the bias-free classifier on ``post_bn``.
    """

    pre_bn: torch.Tensor
    post_bn: torch.Tensor
    logits: torch.Tensor
