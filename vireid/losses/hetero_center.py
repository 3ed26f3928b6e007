r"""Hetero-centre triplet loss (HcTri): batch-hard triplet over identity-modality centres.

Form implemented: the hetero-centre **triplet** loss of Liu, Tan, Zhou, "Parameter Sharing
Exploration and Hetero-Center Triplet Loss for Visible-Thermal Person Re-Identification"
(IEEE TMM 2021). For every identity ``p`` and modality ``m`` present in the batch the centre
$c_{p,m}$ is the mean feature; then, for each centre as anchor,

$$
\ell_{p,m} = \max\Bigl(0,\ \rho + \max_{m' \ne m} \lVert c_{p,m} - c_{p,m'}\rVert
    - \min_{q \ne p,\ m''} \lVert c_{p,m} - c_{q,m''}\rVert\Bigr),
$$

(the positive is the same identity's centre in the other modality, the negative the nearest
centre of another identity in **either** modality) and $L = \operatorname{mean}\ \ell$.

Why this form rather than the hetero-centre (HC) loss of Zhu et al., "Hetero-Center Loss for
Cross-Modality Person Re-Identification" (Neurocomputing 2020),
$\sum_p \lVert c_{p,V} - c_{p,I}\rVert^2$: HC only pulls the two centres of an identity
together and has no separating term, so on its own it admits the collapsed solution and was
always paired with an identity loss; HcTri keeps HC's pull (its positive term) and adds the
inter-identity push, replacing the sample-level triplet, which is what a drop-in metric loss
needs. The centres are computed the same way in both papers.

Differences with the released HcTri code (``CenterTripletLoss``), kept deliberately:

* the reference splits the batch with ``chunk`` and therefore needs the batch ordered as
  [visible identities..., infrared identities...] with the same count per identity; here the
  centres are found from ``labels`` and ``modalities``, in any order and with any counts;
* an identity present in only one modality has no positive, so its centre is not an anchor
  (the reference would use the centre itself, $D = 10^{-6}$, as the positive); it still
  serves as a negative for the others;
* the reference averages over anchors (``MarginRankingLoss`` mean); the paper's Eq. sums over
  them. ``variant="paper"`` gives the sum.
"""

from __future__ import annotations

import torch
from torch import nn

from vireid.losses._checks import compute_dtype, full_precision, warn_once, zero_loss
from vireid.losses.triplet import (
    _euclidean_matrix,
    _hardest_gap,
    _hinge,
    _prepare,
    check_choice,
    check_number,
)

__all__ = ["HeteroCenterTripletLoss", "hetero_center_triplet_loss"]

HCTRI_VARIANTS: tuple[str, ...] = ("reference", "paper")


def hetero_center_triplet_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    margin: float = 0.3,
    soft_margin: bool = False,
    variant: str = "reference",
) -> torch.Tensor:
    r"""Hetero-centre triplet loss over per identity-modality centres (Liu et al., TMM 2021).

    $$
    L = \operatorname{mean}_{(p,m)} \max\bigl(0,\ \rho + \lVert c_{p,m} - c_{p,\bar m}\rVert
        - \min_{q \ne p} \lVert c_{p,m} - c_{q,\cdot}\rVert\bigr)
    $$

    with $c_{p,m}$ the mean feature of identity ``p`` in modality ``m`` and distances
    $\sqrt{\max(\cdot, 10^{-12})}$ as in the reference. An anchor centre needs a centre
    of its identity in another modality and at least one other identity.

    Args:
        features: Embeddings ``(B, D)``.
        labels: Identity labels ``(B,)``.
        modalities: Modality labels ``(B,)`` (required; more than two values are allowed, the
            positive is then the farthest centre of the same identity in another modality).
        margin: Margin ρ (>= 0). Default ``0.3`` (the released default).
        soft_margin: $\log(1 + e^{d^+ - d^-})$ instead of the hinge.
        variant: ``"reference"`` (mean over anchor centres, default) or ``"paper"`` (sum).

    Returns:
        Scalar loss; a graph-attached zero with a one-time warning when no centre has both a
        cross-modality positive and a negative (one modality or one identity only).
    """
    return _hetero_center_triplet_loss(features, labels, modalities, margin, soft_margin, variant)


def _hetero_center_triplet_loss(
    features: object,
    labels: object,
    modalities: object,
    margin: float,
    soft_margin: bool,
    variant: str,
) -> torch.Tensor:
    """`hetero_center_triplet_loss` on unchecked inputs (the module passes ``None`` on)."""
    check_choice(variant, "variant", HCTRI_VARIANTS)
    margin = check_number(margin, "margin", minimum=0.0)
    x, y, m = _prepare(
        features, labels, modalities, need_modalities=True, why="by hetero_center_triplet_loss"
    )
    assert m is not None
    with full_precision(x.device):
        xc = x.to(compute_dtype(x))
        same_id = y[:, None] == y[None, :]
        same_mod = m[:, None] == m[None, :]
        group = (same_id & same_mod).to(xc.dtype)  # (B, B): same identity and modality
        count = group.sum(dim=1)  # n_{y_a, m_a} >= 1
        centres = (group @ xc) / count[:, None]  # row a holds c_{y_a, m_a}
        d = _euclidean_matrix(centres)
        pos = same_id & ~same_mod
        neg = ~same_id
        valid = pos.any(dim=1) & neg.any(dim=1)
        if not bool(valid.any()):
            warn_once(
                "hetero_center_triplet_loss:no-valid-centre",
                "hetero_center_triplet_loss: no identity has centres in two modalities and a "
                "negative identity in this batch; returning a zero loss.",
            )
            return zero_loss(x)
        per = _hinge(_hardest_gap(d, pos, neg, valid), margin, soft_margin)
        # Each centre is repeated once per member sample: weight 1/count counts it once.
        w = torch.where(valid, 1.0 / count, torch.zeros_like(count))
        total = (per * w).sum()
        if variant == "paper":
            return total
        return total / w.sum()


class HeteroCenterTripletLoss(nn.Module):
    r"""Hetero-centre triplet loss (module form of `hetero_center_triplet_loss`).

    Batch-hard triplet over identity-modality centres: each centre is pulled to the same
    identity's centre in the other modality and pushed from the nearest centre of another
    identity (Liu et al., TMM 2021, "HcTri"; it contains the pull of Zhu et al.'s hetero-centre
    loss, Neurocomputing 2020).

    Args:
        margin: Margin ρ. Default ``0.3``.
        soft_margin: Soft-margin form instead of the hinge.
        variant: ``"reference"`` (mean, default) or ``"paper"`` (sum over anchor centres).

    Shape:
        ``forward(features, labels, modalities)``: ``(B, D)``, ``(B,)``, ``(B,)``; returns a
        scalar. ``modalities`` is required.
    """

    def __init__(
        self, margin: float = 0.3, soft_margin: bool = False, variant: str = "reference"
    ) -> None:
        super().__init__()
        check_choice(variant, "variant", HCTRI_VARIANTS)
        self.margin = check_number(margin, "margin", minimum=0.0)
        self.soft_margin = bool(soft_margin)
        self.variant = variant

    def forward(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        modalities: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the scalar loss (see `hetero_center_triplet_loss`)."""
        return _hetero_center_triplet_loss(
            features, labels, modalities, self.margin, self.soft_margin, self.variant
        )

    def extra_repr(self) -> str:
        """Options shown in the module's repr."""
        return f"margin={self.margin}, soft_margin={self.soft_margin}, variant={self.variant!r}"
