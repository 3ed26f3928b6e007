"""The EMIF objective (a proposal): AGW's losses, intra-modality losses, distribution alignment."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from vireid.losses import DistributionConsistencyLoss, IntraModalityLoss
from vireid.losses._checks import check_number
from vireid.models.agw.criterion import AGWLoss
from vireid.models.emif.model import EMIFOutput

__all__ = ["EMIFLoss"]


class EMIFLoss(nn.Module):
    r"""EMIF's training objective as this library proposes it (the paper's equations are not public).

    ```text
    id           w_id · CE(W z, y)                         unified branch
    wrt          w_m · L_metric(f, y)                      AGW's WRT (or "triplet", "adp"), whole batch
    branch_id    λ_ime · Σ_m mean_{a∈m} CE(W_m h_a, y_a)     each image through its modality's branch
    intra        λ_ime · Σ_m L_intra^m(g)                  batch-hard triplet (margin 0.3) or centres,
                                                           inside each modality
    dcl          λ_dcl · J(N_V, N_I)                       Gaussian fits of z per modality, Jeffreys
    ```

    ``dcl`` is [`DistributionConsistencyLoss`][vireid.losses.DistributionConsistencyLoss] on the
    unified BN-neck feature ``z`` (diagonal Gaussians, identity-balanced fits over the identities
    present in both modalities, a variance floor relative to the batch's own scale); ``intra`` is
    [`IntraModalityLoss`][vireid.losses.IntraModalityLoss] on the branch features ``g``. Both
    λ default to 1 (not from the paper). Every term is listed with its weight applied, plus
    ``"total"``; a term of weight 0 is neither computed nor listed.

    Args:
        id_weight: Weight of the unified identity loss. Default 1.
        metric_weight: Weight of the unified metric loss. Default 1.
        metric: ``"wrt"`` (default), ``"triplet"`` or ``"adp"`` (as in `AGWLoss`).
        margin: Margin of ``metric="triplet"``. Default 0.3.
        cross_modality_only: Mine the unified metric loss across modalities only. Default
            ``False``.
        ime_weight: λ_ime on the branch identity and intra-modality losses. Default 1.
        intra: ``"triplet"`` (default) or ``"center"``.
        intra_margin: Margin of the intra-modality triplet. Default 0.3.
        rho: Centre separation radius of ``intra="center"``. Default 1.
        dcl_weight: λ_dcl. Default 1.
        divergence: ``"jeffreys"`` (default), ``"w2"`` or ``"moments"``.
        dcl_level: ``"modality"`` (default), ``"identity"`` or ``"both"``.
    """  # noqa: E501

    def __init__(
        self,
        *,
        id_weight: float = 1.0,
        metric_weight: float = 1.0,
        metric: Literal["wrt", "triplet", "adp"] = "wrt",
        margin: float = 0.3,
        cross_modality_only: bool = False,
        ime_weight: float = 1.0,
        intra: Literal["triplet", "center"] = "triplet",
        intra_margin: float = 0.3,
        rho: float = 1.0,
        dcl_weight: float = 1.0,
        divergence: Literal["jeffreys", "w2", "moments"] = "jeffreys",
        dcl_level: Literal["modality", "identity", "both"] = "modality",
    ) -> None:
        super().__init__()
        self.unified = AGWLoss(
            id_weight,
            metric_weight,
            metric=metric,
            margin=margin,
            cross_modality_only=cross_modality_only,
        )
        self.ime_weight = check_number(ime_weight, "ime_weight", minimum=0.0)
        self.dcl_weight = check_number(dcl_weight, "dcl_weight", minimum=0.0)
        self.intra = IntraModalityLoss(intra, margin=intra_margin, rho=rho)
        self.dcl = DistributionConsistencyLoss(divergence, dcl_level)

    def forward(
        self, output: EMIFOutput, labels: torch.Tensor, modalities: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Weighted loss terms and their sum ``"total"``."""
        if not isinstance(output, EMIFOutput):
            raise TypeError(
                "output must be the EMIFOutput of an EMIF model in training mode, got "
                f"{type(output).__name__} (is the model in eval mode, or of another method?)"
            )
        terms: dict[str, torch.Tensor] = {}
        if self.unified.id_weight or self.unified.metric_weight:
            unified = self.unified(output, labels, modalities)
            terms.update({k: v for k, v in unified.items() if k != "total"})
        if self.ime_weight:
            # Σ_m mean over modality m, with masks rather than indexing: no host sync, and a
            # modality absent from the batch contributes 0.
            ce = F.cross_entropy(output.branch_logits.float(), labels, reduction="none")
            masks = ((modalities == 0).float(), (modalities == 1).float())
            branch_id = torch.stack([(ce * m).sum() / m.sum().clamp(min=1) for m in masks]).sum()
            terms["branch_id"] = self.ime_weight * branch_id
            terms["intra"] = self.ime_weight * self.intra(output.branch_pre_bn, labels, modalities)
        if self.dcl_weight:
            terms["dcl"] = self.dcl_weight * self.dcl(output.post_bn, labels, modalities)
        if not terms:
            raise ValueError("EMIFLoss: every weight is 0, so there is nothing to train")
        terms["total"] = torch.stack(list(terms.values())).sum()
        return terms

    def extra_repr(self) -> str:
        """Weights shown in ``repr(module)``."""
        return f"ime_weight={self.ime_weight}, dcl_weight={self.dcl_weight}"
