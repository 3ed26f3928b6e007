r"""The IDKL objective: ReID losses on both branches, modality heads, purifier, TGSA, CSA, MDR."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from vireid.losses import (
    CrossEntropyLabelSmooth,
    CSALoss,
    InformationPurifierLoss,
    MDRLoss,
    ModalityConfusionLoss,
    TGSALoss,
    TripletLoss,
)
from vireid.losses._checks import check_choice, check_number
from vireid.models.idkl.model import IDKLOutput

__all__ = ["IDKLLoss"]

ConfusionMode = Literal["pseudo_label", "uniform", "grl"]


class IDKLLoss(nn.Module):
    r"""IDKL's training objective (Ren and Zhang, CVPR 2024): the released code's or the paper's.

    **Reference** (``variant="reference"``, default: what produced the published numbers; one
    forward pass, one backward pass, every term below in one sum):

    ```text
    triplet_shared    w_tri · Tri(f_sh)                  batch-hard, margin 1.3, pre-BN
    triplet_specific  w_tri · Tri(f̃_sp)
    id_shared         w_id · CE(Z_sh, y)
    id_specific       w_id · CE(Z_sp, y)                 Z_sp from the purified feature
    discriminator     w_mod · CE(D(g_sp), t)
    confuser          w_mod · CE(C(g_sh), t̃)             balanced pseudo-labels, no GRL
    purifier          λ1 · (L_e + L_r)                   λ1 = 0.1
    tgsa              λ2 · [SKL(A_sh^V, A_sp^V) + SKL(A_sh^I, A_sp^I)]          λ2 = 0.6
    csa               λ3 · [sample- + set-level SKL(Z_sh, Z_sp) per modality]   λ3 = 0.8
    mdr               w_mdr · [graph SKLs of f_sh + sample- + set-level SKL(Z_sh^V, Z_sh^I)]
    ```

    **Paper** (``variant="paper"``, Eq. 21: ``L_b + λ1 L_ip + λ2 L_tgsa + λ3 L_csa + L_mdr``)
    changes: the specific ReID loss ``L_sp`` reads the un-purified ``f_sp`` (the model's
    ``raw_specific_*`` outputs), the purified feature gets its own ReID loss inside ``L_ip``
    (listed as ``"purified_reid"``, weight λ1), the confuser is trained through the model's
    gradient reversal layer against the true modality (``confusion="grl"``), and TGSA, CSA, MDR
    and the purifier losses use their ``variant="paper"`` forms (full graphs with the cross
    matrix, one-directional KL summed over rows, Softplus gaps). The paper sums its KL terms over
    samples, so at the paper's λ their scale is about ``N`` times the reference's.

    Every term is listed under its name with its weight applied, plus ``"total"``; a term whose
    weight is 0 is neither computed nor listed. The pairing terms (CSA, MDR) pair visible and
    infrared images **by label** (the losses sort the batch), so any P×K sampler with the same
    number of images per identity in each modality works; only ``confusion="pseudo_label"``
    depends on the batch order (IR, VIS alternating, as the ``"idkl_random"`` sampler yields) and
    raises otherwise — ``"uniform"`` is its order-free equivalent.

    Args:
        variant: ``"reference"`` (default) or ``"paper"``; must match the model's.
        id_weight: Weight of each identity cross-entropy. Default 1.
        triplet_weight: Weight of each batch-hard triplet. Default 1.
        margin: Triplet margin. Default 1.3 (all released configs).
        modality_weight: Weight of the discriminator and the confuser. Default 1.
        confusion: ``"pseudo_label"`` (reference default), ``"uniform"`` (cross-entropy against
            ½/½, any batch order) or ``"grl"`` (paper default; the model's confuser must
            reverse gradients, i.e. the paper variant of `IDKL`).
        purifier_weight: λ1. Default 0.1.
        tgsa_weight: λ2. Default 0.6 (0 on RegDB in the released config).
        csa_weight: λ3. Default 0.8 (0.3 on RegDB).
        mdr_weight: Weight of MDR. Default 1.
        mdr_graph: Include MDR's graph part (switched off with TGSA on RegDB). Default True.
        cross_modality_only: Mine the triplets' positives and negatives in the other modality
            only. Default ``False`` (IDKL mines over the whole batch).

    Raises:
        TypeError: ``output`` is not an `IDKLOutput` (a model in eval mode), or the paper
            variant's extra outputs are missing.
    """

    def __init__(
        self,
        variant: Literal["reference", "paper"] = "reference",
        *,
        id_weight: float = 1.0,
        triplet_weight: float = 1.0,
        margin: float = 1.3,
        modality_weight: float = 1.0,
        confusion: ConfusionMode | None = None,
        purifier_weight: float = 0.1,
        tgsa_weight: float = 0.6,
        csa_weight: float = 0.8,
        mdr_weight: float = 1.0,
        mdr_graph: bool = True,
        cross_modality_only: bool = False,
    ) -> None:
        super().__init__()
        self.variant = check_choice(variant, "variant", ("reference", "paper"))
        paper = variant == "paper"
        self.confusion_mode = check_choice(
            confusion if confusion is not None else ("grl" if paper else "pseudo_label"),
            "confusion",
            ("pseudo_label", "uniform", "grl"),
        )
        self.id_weight = check_number(id_weight, "id_weight", minimum=0.0)
        self.triplet_weight = check_number(triplet_weight, "triplet_weight", minimum=0.0)
        self.modality_weight = check_number(modality_weight, "modality_weight", minimum=0.0)
        self.purifier_weight = check_number(purifier_weight, "purifier_weight", minimum=0.0)
        self.tgsa_weight = check_number(tgsa_weight, "tgsa_weight", minimum=0.0)
        self.csa_weight = check_number(csa_weight, "csa_weight", minimum=0.0)
        self.mdr_weight = check_number(mdr_weight, "mdr_weight", minimum=0.0)
        self.mdr_graph = bool(mdr_graph)
        self.identity = CrossEntropyLabelSmooth(0.0)
        self.modality = CrossEntropyLabelSmooth(0.0)
        self.triplet = TripletLoss(margin=margin, cross_modality_only=cross_modality_only)
        self.confuser = ModalityConfusionLoss(self.confusion_mode)
        self.purifier = InformationPurifierLoss(self.variant)
        self.tgsa = TGSALoss(self.variant)
        self.csa = CSALoss(self.variant)
        self.mdr = MDRLoss(self.variant)

    def forward(
        self, output: IDKLOutput, labels: torch.Tensor, modalities: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Weighted loss terms and their sum ``"total"``."""
        if not isinstance(output, IDKLOutput):
            raise TypeError(
                "output must be the IDKLOutput of an IDKL model in training mode, got "
                f"{type(output).__name__} (is the model in eval mode, or of another method?)"
            )
        paper = self.variant == "paper"
        if paper and (output.raw_specific_pre_bn is None or output.raw_specific_logits is None):
            raise TypeError(
                "IDKLLoss(variant='paper') needs the un-purified specific feature of "
                "IDKL(variant='paper'); this output comes from the reference variant"
            )
        if output.confuser_reverses_gradient != (self.confusion_mode == "grl"):
            # A mismatch would silently train the shared branch to *separate* the modalities.
            raise ValueError(
                f"confusion={self.confusion_mode!r} needs a confuser "
                + ("behind" if self.confusion_mode == "grl" else "without")
                + " a gradient reversal layer, but this model's confuser "
                + ("reverses" if output.confuser_reverses_gradient else "does not reverse")
                + " gradients; build model and criterion from one IDKLRecipe (or use "
                "IDKL(variant='paper') for 'grl' and the reference variant otherwise)"
            )
        y, t = labels, modalities
        # L_sp reads the un-purified feature in the paper, the purified one in the code.
        sp_feature, sp_logits = output.specific_pre_bn, output.specific_logits
        if paper and output.raw_specific_pre_bn is not None:
            sp_feature = output.raw_specific_pre_bn
        if paper and output.raw_specific_logits is not None:
            sp_logits = output.raw_specific_logits
        terms: dict[str, torch.Tensor] = {}
        if self.triplet_weight:
            w = self.triplet_weight
            terms["triplet_shared"] = w * self.triplet(output.pre_bn, y, t)
            terms["triplet_specific"] = w * self.triplet(sp_feature, y, t)
        if self.id_weight:
            terms["id_shared"] = self.id_weight * self.identity(output.logits, y)
            terms["id_specific"] = self.id_weight * self.identity(sp_logits, y)
        if self.modality_weight:
            w = self.modality_weight
            terms["discriminator"] = w * self.modality(output.discriminator_logits, t.long())
            terms["confuser"] = w * self.confuser(output.confuser_logits, t)
        if self.purifier_weight:
            w = self.purifier_weight
            parts = (output.raw_logits, output.enhanced_logits, output.normalized, output.reduced)
            if any(p is None for p in parts):
                raise ValueError(
                    "this IDKL model was built without the purifier (purifier=False), so there "
                    "is no purifier loss to compute; set purifier_weight=0"
                )
            terms["purifier"] = w * self.purifier(*parts, y, t)
            if paper:
                reid = self.identity(output.specific_logits, y) + self.triplet(
                    output.specific_pre_bn, y, t
                )
                terms["purified_reid"] = w * reid
        if self.tgsa_weight:
            terms["tgsa"] = self.tgsa_weight * self.tgsa(
                output.pre_bn, output.specific_pre_bn, y, t
            )
        if self.csa_weight:
            terms["csa"] = self.csa_weight * self.csa(output.logits, output.specific_logits, y, t)
        if self.mdr_weight:
            graph_in = output.pre_bn if self.mdr_graph else None
            terms["mdr"] = self.mdr_weight * self.mdr(graph_in, output.logits, y, t)
        if not terms:
            raise ValueError("IDKLLoss: every weight is 0, so there is nothing to train")
        terms["total"] = torch.stack(list(terms.values())).sum()
        return terms

    def extra_repr(self) -> str:
        """Settings shown in ``repr(module)``."""
        return (
            f"variant={self.variant!r}, confusion={self.confusion_mode!r}, "
            f"purifier_weight={self.purifier_weight}, tgsa_weight={self.tgsa_weight}, "
            f"csa_weight={self.csa_weight}, mdr_weight={self.mdr_weight}, "
            f"mdr_graph={self.mdr_graph}"
        )
