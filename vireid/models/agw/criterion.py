"""The AGW objective: identity cross-entropy plus the weighted regularisation triplet.

``metric="adp"`` swaps in CAJ's adaptive triplet, which is how CAJ trains the AGW network.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from vireid.losses import (
    AdaptiveTripletLoss,
    CrossEntropyLabelSmooth,
    TripletLoss,
    WeightedRegularizationTriplet,
)
from vireid.losses._checks import check_choice, check_number
from vireid.models.output import ReIDOutput

__all__ = ["AGWLoss"]


class AGWLoss(nn.Module):
    """AGW's training objective (Ye et al., IEEE TPAMI 2021, Sec. 4.1).

    ```text
    L = w_id · CE(z, y) + w_m · L_wrt(e, y)
    ```

    Plain cross-entropy on the logits ``z`` and the weighted regularisation triplet
    ([`vireid.losses.WeightedRegularizationTriplet`][vireid.losses.WeightedRegularizationTriplet]:
    softmax-weighted positive and negative Euclidean distances, soft margin) on the **pre-BN**
    pooled feature ``e = pre_bn``, mined over the whole batch (both modalities), or over the
    other modality only with ``cross_modality_only=True``.
    ``metric="triplet"`` swaps WRT for the batch-hard triplet with margin 0.3 (the code's
    ``--method base``); ``metric="adp"`` for CAJ's adaptive triplet
    ([`vireid.losses.AdaptiveTripletLoss`][vireid.losses.AdaptiveTripletLoss], the code's
    ``--method adp``; Ye et al., "Channel Augmented Joint Learning for Visible-Infrared
    Recognition", ICCV 2021), softmax(±αD)-weighted distances with the enhanced squared
    difference ``log(1 + exp(−s · min(γ (d⁺ − d⁻)², 88)))``, ``s = −1`` for a violated anchor.

    Called as ``criterion(output, labels, modalities)``; returns the weighted terms
    ``{"id": ..., "wrt": ..., "total": ...}`` (``"triplet"`` or ``"adp"`` instead of ``"wrt"``
    for the other metrics). A term whose weight is 0 is neither computed nor listed.

    Args:
        id_weight: Weight of the identity loss. Default 1.
        metric_weight: Weight of the metric loss. Default 1.
        metric: ``"wrt"`` (default), ``"triplet"`` or ``"adp"``.
        margin: Margin of ``metric="triplet"``. Default 0.3.
        adp_alpha: α of ``metric="adp"`` (weight temperature). Default 1, as CAJ's command.
        adp_gamma: γ of ``metric="adp"`` (gap scale). Default 1.
        adp_square: The enhanced squared difference of ``metric="adp"`` (CAJ's ``--square 1``,
            default), else the plain soft margin.
        label_smoothing: ε of the identity loss. Default 0 (plain cross-entropy).
        cross_modality_only: Take the metric loss's positives and negatives from the other
            modality only. Default ``False`` (AGW).
    """

    def __init__(
        self,
        id_weight: float = 1.0,
        metric_weight: float = 1.0,
        *,
        metric: Literal["wrt", "triplet", "adp"] = "wrt",
        margin: float = 0.3,
        label_smoothing: float = 0.0,
        cross_modality_only: bool = False,
        adp_alpha: float = 1.0,
        adp_gamma: float = 1.0,
        adp_square: bool = True,
    ) -> None:
        super().__init__()
        self.id_weight = check_number(id_weight, "id_weight", minimum=0.0)
        self.metric_weight = check_number(metric_weight, "metric_weight", minimum=0.0)
        self.metric = check_choice(metric, "metric", ("wrt", "triplet", "adp"))
        self.identity = CrossEntropyLabelSmooth(label_smoothing)
        self.metric_loss: nn.Module
        if metric == "wrt":
            self.metric_loss = WeightedRegularizationTriplet(
                cross_modality_only=cross_modality_only
            )
        elif metric == "triplet":
            self.metric_loss = TripletLoss(margin=margin, cross_modality_only=cross_modality_only)
        else:
            self.metric_loss = AdaptiveTripletLoss(
                adp_alpha, adp_gamma, adp_square, cross_modality_only=cross_modality_only
            )

    def forward(
        self, output: ReIDOutput, labels: torch.Tensor, modalities: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Weighted loss terms and their sum ``"total"``."""
        if not isinstance(output, ReIDOutput):
            raise TypeError(
                "output must be the ReIDOutput of a model in training mode, got "
                f"{type(output).__name__} (is the model in eval mode?)"
            )
        terms: dict[str, torch.Tensor] = {}
        if self.id_weight:
            terms["id"] = self.id_weight * self.identity(output.logits, labels)
        if self.metric_weight:
            terms[self.metric] = self.metric_weight * self.metric_loss(
                output.pre_bn, labels, modalities
            )
        if not terms:
            raise ValueError("AGWLoss: every weight is 0, so there is nothing to train")
        terms["total"] = torch.stack(list(terms.values())).sum()
        return terms

    def extra_repr(self) -> str:
        """Weights shown in ``repr(module)``."""
        return (
            f"id_weight={self.id_weight}, metric_weight={self.metric_weight}, "
            f"metric={self.metric!r}"
        )
