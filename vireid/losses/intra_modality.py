r"""Intra-modality compactness / discrepancy loss, computed separately inside each modality.

**Inspired by, not a reproduction of,** the "intra-modality enhancing module" of Zhang, Zhao,
Du, Sun, Wang, *Int. J. Mach. Learn. Cybern.* 16(1):55–73 (2025). The abstract says the module
"enhances intra-class compactness and inter-class discrepancy within each modality" through
modality-specific branches; it gives no equation, so both forms below are the library's own
proposal. This module is only the metric part $L^m_{intra}$; the per-branch identity loss
$L^m_{id}$ is a plain cross-entropy on each branch's logits, e.g.
``CrossEntropyLabelSmooth(epsilon=0.0)``.

For every modality value ``m`` present in the batch, only the samples of ``m`` are used, and
the per-modality losses are **summed** over modalities
($L = \sum_m L^m_{intra}$).

``form="triplet"`` (default): batch-hard triplet inside modality ``m`` on Euclidean distances,

$$
L^m = \frac{1}{|A_m|}\sum_{a \in A_m} \max\bigl(0,\ \max_{b \in m,\, b \ne a,\, y_b = y_a}
D_{ab} - \min_{b \in m,\, y_b \ne y_a} D_{ab} + \text{margin}\bigr),
$$

over the anchors $A_m$ that have another image of their identity and another identity in
modality ``m`` (unlike `triplet_loss`, the anchor is never its own positive).

``form="center"``: on $\hat g = g / \lVert g\rVert$ with in-batch centres
$c_{p,m}$ (means of $\hat g$, not re-normalised),

$$
L^m = \operatorname{mean}_{a \in m} \lVert \hat g_a - c_{y_a,m}\rVert^2
+ \operatorname{mean}_{p < q} \max(0,\ \rho - \lVert c_{p,m} - c_{q,m}\rVert)^2,
$$

with ρ = 1 (the chord between unit vectors 60° apart). The separation mean is over unordered
pairs of identities of modality ``m``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vireid.losses._checks import (
    check_choice,
    check_number,
    compute_dtype,
    full_precision,
    warn_once,
    zero_loss,
)
from vireid.losses.triplet import _euclidean_matrix, _hardest_gap, _hinge, _prepare

__all__ = ["IntraModalityLoss", "intra_modality_loss"]

INTRA_FORMS: tuple[str, ...] = ("triplet", "center")


def intra_modality_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    form: str = "triplet",
    margin: float = 0.3,
    rho: float = 1.0,
) -> torch.Tensor:
    r"""Sum over modalities of a compactness/discrepancy loss computed within each modality.

    See the module docstring for both forms.

    Args:
        features: Branch features ``(B, D)`` (the proposal uses each branch's pooled pre-BN
            feature g; the ``center`` form L2-normalises them itself).
        labels: Identity labels ``(B,)``.
        modalities: Modality labels ``(B,)`` (required; every distinct value is one modality).
        form: ``"triplet"`` (default) or ``"center"``.
        margin: Triplet margin (``form="triplet"``). Default ``0.3``.
        rho: Centre separation radius ρ (``form="center"``). Default ``1.0``.

    Returns:
        Scalar loss. In the ``triplet`` form, anchors lacking an in-modality positive or
        negative are left out; a modality without any valid anchor contributes 0 and a
        one-time warning; when no modality has one, the result is a graph-attached zero (with
        a warning). In the ``center`` form the compactness term is always defined; a modality
        with fewer than two identities has no separation term (it contributes its compactness
        only, with a one-time warning).
    """
    return _intra_modality_loss(features, labels, modalities, form, margin, rho)


def _intra_modality_loss(
    features: object, labels: object, modalities: object, form: str, margin: float, rho: float
) -> torch.Tensor:
    """`intra_modality_loss` on unchecked inputs (the module passes ``modalities=None`` on)."""
    check_choice(form, "form", INTRA_FORMS)
    margin = check_number(margin, "margin", minimum=0.0)
    rho = check_number(rho, "rho", minimum=0.0)
    x, y, m = _prepare(
        features, labels, modalities, need_modalities=True, why="by intra_modality_loss"
    )
    assert m is not None
    with full_precision(x.device):
        z = x.to(compute_dtype(x))
        same_id = y[:, None] == y[None, :]
        same_mod = m[:, None] == m[None, :]
        if form == "triplet":
            return _intra_triplet(x, z, same_id, same_mod, margin)
        return _intra_center(z, same_id, same_mod, rho)


def _intra_triplet(
    x: torch.Tensor,
    z: torch.Tensor,
    same_id: torch.Tensor,
    same_mod: torch.Tensor,
    margin: float,
) -> torch.Tensor:
    d = _euclidean_matrix(z)
    pos = same_id & same_mod
    pos.fill_diagonal_(False)
    neg = ~same_id & same_mod
    valid = pos.any(dim=1) & neg.any(dim=1)
    anchors_in_mod = (same_mod & valid[None, :]).sum(dim=1)  # |A_{m_a}| for every sample a
    # The single host synchronisation: anything valid, and does any modality lack anchors?
    any_valid, some_empty = torch.stack([valid.any(), (anchors_in_mod == 0).any()]).tolist()
    if not any_valid:
        warn_once(
            "intra_modality_loss:triplet:none",
            "intra_modality_loss: no modality has an anchor with both an in-modality positive "
            "and negative in this batch; returning a zero loss.",
        )
        return zero_loss(x)
    if some_empty:
        warn_once(
            "intra_modality_loss:triplet:partial",
            "intra_modality_loss: a modality in this batch has no anchor with both an "
            "in-modality positive and negative; it contributes 0.",
        )
    per = _hinge(_hardest_gap(d, pos, neg, valid), margin, soft_margin=False)
    w = torch.where(valid, 1.0 / anchors_in_mod.clamp(min=1).to(z.dtype), torch.zeros_like(per))
    return (per * w).sum()


def _intra_center(
    z: torch.Tensor,
    same_id: torch.Tensor,
    same_mod: torch.Tensor,
    rho: float,
) -> torch.Tensor:
    dt = z.dtype
    g = F.normalize(z, dim=1, eps=1e-12)
    group = same_id & same_mod
    n = group.sum(dim=1).to(dt)  # n_{y_a, m_a}
    centres = (group.to(dt) @ g) / n[:, None]  # row a holds c_{y_a, m_a}
    mod_size = same_mod.sum(dim=1).to(dt)  # number of samples in a's modality
    compact = ((g - centres).pow(2).sum(dim=1) / mod_size).sum()

    # Exact identity count per modality: samples that are the first of their group.
    earlier = torch.ones_like(group).tril(diagonal=-1)
    first = ~(group & earlier).any(dim=1)
    ids_in_mod = (same_mod & first[None, :]).sum(dim=1)  # Q_{m_a} for every sample a
    has_sep = ids_in_mod >= 2
    if not bool(has_sep.all()):  # the single host synchronisation
        warn_once(
            "intra_modality_loss:center:no-pairs",
            "intra_modality_loss: a modality in this batch has fewer than two identities; "
            "its centre-separation term is skipped.",
        )
    dc = _euclidean_matrix(centres)
    hinge = (rho - dc).relu().pow(2)
    pair_w = (same_mod & ~same_id).to(dt) / (n[:, None] * n[None, :])
    # Ordered sample pairs with weight 1/(n_a n_b) count every unordered identity pair twice.
    row = (hinge * pair_w).sum(dim=1)
    q = ids_in_mod.to(dt)
    denom = torch.where(has_sep, q * (q - 1.0), torch.ones_like(q))
    separate = torch.where(has_sep, row / denom, torch.zeros_like(row)).sum()
    return compact + separate


class IntraModalityLoss(nn.Module):
    r"""Per-modality compactness/discrepancy loss, summed over modalities (module form).

    A proposal inspired by Zhang et al. (IJMLC 2025); see `intra_modality_loss`.

    Args:
        form: ``"triplet"`` (batch-hard inside each modality, default) or ``"center"``
            (in-batch centres: compactness plus squared-hinge centre separation).
        margin: Triplet margin. Default ``0.3``.
        rho: Centre separation radius. Default ``1.0``.

    Shape:
        ``forward(features, labels, modalities)``: ``(B, D)``, ``(B,)``, ``(B,)``; returns a
        scalar. ``modalities`` is required.
    """

    def __init__(self, form: str = "triplet", margin: float = 0.3, rho: float = 1.0) -> None:
        super().__init__()
        check_choice(form, "form", INTRA_FORMS)
        self.form = form
        self.margin = check_number(margin, "margin", minimum=0.0)
        self.rho = check_number(rho, "rho", minimum=0.0)

    def forward(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        modalities: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the scalar loss (see `intra_modality_loss`)."""
        return _intra_modality_loss(features, labels, modalities, self.form, self.margin, self.rho)

    def extra_repr(self) -> str:
        """Options shown in the module's repr."""
        return f"form={self.form!r}, margin={self.margin}, rho={self.rho}"
