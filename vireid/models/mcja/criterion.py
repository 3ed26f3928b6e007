"""The MCJA objective: identity cross-entropy plus the cross-modality retrieval loss."""

from __future__ import annotations

import torch
from torch import nn

from vireid.losses import CMRLoss, CrossEntropyLabelSmooth, TripletLoss
from vireid.losses._checks import check_number
from vireid.models.output import ReIDOutput

__all__ = ["MCJALoss"]


class MCJALoss(nn.Module):
    """MCJA's training objective (Liang et al., IEEE TCSVT 2024, Sec. III-D).

    ```text
    L = w_id · CE(z, y) + w_cmr · CMR(f, y, m) [+ w_tri · Triplet(e, y)]
    ```

    with plain cross-entropy on the logits ``z`` (label smoothing optional, 0 in the released code)
    and the cross-modality retrieval loss ([`vireid.losses.CMRLoss`][vireid.losses.CMRLoss], soft
    ranks with ε = 0.5) on the BN-neck feature ``f = post_bn``. Both weights are 1 in the released
    code.

    Called as ``criterion(output, labels, modalities)`` with a `ReIDOutput`; returns a dict of
    the weighted terms ``{"id": ..., "cmr": ..., "total": ...}``. A term whose weight is 0 is
    neither computed nor listed.

    ``triplet_weight`` adds a batch-hard triplet (margin 0.3,
    [`vireid.losses.TripletLoss`][vireid.losses.TripletLoss]) on the pre-BN feature ``e``, listed as
    ``"triplet"``. It is **not** part of MCJA (0 by default and in the reference recipes); the CPU
    demo recipe uses it, because a network trained from scratch on a few dozen identities learns a
    transferable metric much faster with it.

    Args:
        id_weight: Weight of the identity loss. Default 1.
        cmr_weight: Weight of the CMR loss. Default 1.
        label_smoothing: ε of the identity loss. Default 0 (plain cross-entropy).
        cmr_epsilon: Soft-rank regularisation strength of CMR. Default 0.5.
        triplet_weight: Weight of the optional batch-hard triplet. Default 0 (MCJA).
        margin: Margin of that triplet. Default 0.3.
        cross_modality_only: Mine that triplet's hardest positive and negative in the other
            modality only (each anchor is pulled to its farthest match and pushed from its
            nearest non-match among the other modality's images). Default ``False``.
    """

    def __init__(
        self,
        id_weight: float = 1.0,
        cmr_weight: float = 1.0,
        *,
        label_smoothing: float = 0.0,
        cmr_epsilon: float = 0.5,
        triplet_weight: float = 0.0,
        margin: float = 0.3,
        cross_modality_only: bool = False,
    ) -> None:
        super().__init__()
        self.id_weight = check_number(id_weight, "id_weight", minimum=0.0)
        self.cmr_weight = check_number(cmr_weight, "cmr_weight", minimum=0.0)
        self.identity = CrossEntropyLabelSmooth(label_smoothing)
        self.cmr = CMRLoss(regularization_strength=cmr_epsilon)
        self.triplet_weight = check_number(triplet_weight, "triplet_weight", minimum=0.0)
        self.triplet = TripletLoss(margin=margin, cross_modality_only=cross_modality_only)

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
        if self.cmr_weight:
            terms["cmr"] = self.cmr_weight * self.cmr(output.post_bn, labels, modalities)
        if self.triplet_weight:
            terms["triplet"] = self.triplet_weight * self.triplet(output.pre_bn, labels, modalities)
        if not terms:
            raise ValueError("MCJALoss: every weight is 0, so there is nothing to train")
        terms["total"] = torch.stack(list(terms.values())).sum()
        return terms

    def extra_repr(self) -> str:
        """Weights shown in ``repr(module)``."""
        return (
            f"id_weight={self.id_weight}, cmr_weight={self.cmr_weight}, "
            f"triplet_weight={self.triplet_weight}"
        )
