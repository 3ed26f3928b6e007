r"""MDR: Modality Discrepancy Reduction (IDKL, Ren and Zhang, CVPR 2024, Eq. 20).

MDR aligns the visible and infrared halves of the shared branch: their batch graphs (TGSA inside
the shared branch) and the ID posteriors of visible image ``i`` and infrared image ``i`` of the
same identity.

**Paper** (``variant="paper"``), with the TGSA block ``L^(a;b)`` of
`tgsa_loss` (three full graphs including the true cross-modal one,
forward KL summed over rows):

$$
L_{mdr} = L^{(sh,V;\,sh,I)} + \sum_{i=1}^{N} \mathrm{KL}(Z_{sh,V}^i \| Z_{sh,I}^i)
$$

**Reference** (``variant="reference"``, default), every term the symmetric batch-mean KL, weight 1:

$$
L_{mdr} = \mathrm{SKL}(A^V, A^I) + \mathrm{SKL}(A^V, A^X) + \mathrm{SKL}(A^X, A^I)
        + \mathrm{SKL}(Z^V, Z^I) + \mathrm{SKL}(\hat Z^V, \hat Z^I)
$$

with ``A = S(f_sh)`` the self-excluded ``+distance`` graphs of each modality, ``A^X`` the
self-graph of the *mixed* set ``[f^V[:N/2]; f^I[:N/2]]`` and ``Ẑ`` the set-level rearrangement
of [`vireid.losses.csa`][vireid.losses.csa].

| aspect | paper | reference code (default) |
|---|---|---|
| third graph | true cross-modal ``A_(V;I)`` (rows V, columns I) | mixed half-V/half-I self-graph ``A^X`` (rows ``≥ N/2`` are infrared images of other identities than the matching rows of ``A^V``) |
| self pairs | included | excluded |
| KL | one direction, sum over samples | symmetric, mean over rows |
| set-level logit term | — | ``SKL(Ẑ^V, Ẑ^I)`` |
| graph part when | — | only ``0.1·SKL(A^V, A^I)`` (use |
| ``B != 120`` |  | ``cross="none", graph_weight=0.1``) |
| pairing V row i ↔ I | by construction | by position (sampler order) |
| row i |  |  |

**Pairing by labels.** The released code pairs the ``i``-th visible with the ``i``-th infrared
row of the batch, which is the same identity only under its sampler's ``IR, VIS, IR, VIS, …``
order. vireid sorts each modality by identity label (and by order of appearance within an
identity) and pairs the ``r``-th visible with the ``r``-th infrared image of every identity, so
reordering identities or interleaving modalities does not change the loss; on a batch in the
reference order with identities in increasing label order the result equals the released
computation. The mixed graph takes the ``N//2`` first rows of this order, i.e. the identities
with the smallest labels (the released code: the first identities of the batch, a random subset).

Edge batches: one modality only → zero loss attached to the graph plus a one-time warning; an
identity present in one modality only, or with unequal visible/infrared counts → ``ValueError``
(no pairing exists); for the set level, identities with unequal counts → ``ValueError``.
"""  # noqa: E501

from __future__ import annotations

import torch
from torch import nn

from vireid.losses._checks import (
    check_features,
    check_labels,
    check_modalities,
    check_number,
    check_same_batch,
    full_precision,
    warn_once,
    zero_loss,
)
from vireid.losses.skl import (
    KLMode,
    Reduction,
    Variant,
    _divergence,
    _layout,
    _pairing_error,
    _promoted_dtype,
    _set_level,
)
from vireid.losses.tgsa import Cross, _check_graph_options, _tgsa_core, _tgsa_defaults

__all__ = ["MDRLoss", "mdr_loss"]


def _check_weight(w: float, name: str) -> None:
    check_number(w, name, minimum=0)


def mdr_loss(
    features: torch.Tensor | None,
    logits: torch.Tensor | None,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    *,
    variant: Variant = "reference",
    cross: Cross | None = None,
    set_level: bool | None = None,
    kl: KLMode | None = None,
    reduction: Reduction | None = None,
    exclude_self: bool | None = None,
    sign: float = 1.0,
    tau: float = 1.0,
    graph_weight: float = 1.0,
) -> torch.Tensor:
    r"""Modality discrepancy reduction inside the shared branch.

    ``graph_weight · TGSA(f[V], f[I]) + 𝔻(Z[V], Z[I]) (+ 𝔻(Ẑ[V], Ẑ[I]))`` with visible and infrared
    rows paired by identity; see [`vireid.losses.mdr`][vireid.losses.mdr] for the equations, the
    pairing rule and the paper-vs-code table.

    Args:
        features: Shared features ``f_sh`` (pre-BN in the reference), shape ``(B, d)``, or
            ``None`` to skip the graph part (the released RegDB setup, where TGSA is off).
        logits: Shared ID logits ``Z_sh``, shape ``(B, C)``, or ``None`` to skip the logit part.
        labels: Identity labels, shape ``(B,)``.
        modalities: 0 visible, 1 infrared, shape ``(B,)``.
        variant: ``"reference"`` (default) or ``"paper"``; sets the defaults of the ``None``
            options.
        cross: Third graph of the graph part: ``"mixed"`` (reference default), ``"true"``
            (paper default) or ``"none"``.
        set_level: Add the set-level logit term; default ``True`` (reference) / ``False``
            (paper).
        kl: ``"symmetric"`` (reference default) or ``"forward"`` = ``KL(V ‖ I)`` (paper).
        reduction: ``"batchmean"`` (reference default) or ``"sum"`` (paper default) over rows.
        exclude_self: Drop graph diagonals; default ``True`` (reference) / ``False`` (paper).
        sign: Sign of the distance logits of the graphs, default ``+1``.
        tau: Temperature of the graphs, default 1.
        graph_weight: Factor on the graph part, default 1.

    Returns:
        A scalar in float32 (float64 for float64 inputs), computed outside autocast.

    Raises:
        TypeError: If an input has the wrong type or dtype.
        ValueError: If both ``features`` and ``logits`` are ``None``; on shape/device
            mismatches, a modality other than 0/1 or an unknown option; when visible and
            infrared images cannot be paired by identity.
    """
    if features is None and logits is None:
        raise ValueError("mdr_loss needs features, logits or both; got neither")
    ref = features if features is not None else logits
    assert ref is not None
    check_features(ref, "features" if features is not None else "logits")
    if features is not None and logits is not None:
        check_features(logits, "logits")
        check_same_batch(features, logits, "features", "logits")
    n = ref.shape[0]
    y = check_labels(labels, "labels", n, ref.device)
    t = check_modalities(modalities, n, ref.device)
    paper = variant == "paper"
    cross_, kl_, red_, excl = _tgsa_defaults(
        variant,
        ("true" if paper else "mixed") if cross is None else cross,
        kl,
        reduction,
        exclude_self,
    )
    _check_graph_options(sign, tau)
    _check_weight(graph_weight, "graph_weight")
    use_set = (not paper) if set_level is None else bool(set_level)

    lay = _layout(y, t)
    if lay.n_vis == 0 or lay.n_ir == 0:
        warn_once(
            "mdr-one-modality",
            "MDR: the batch holds a single modality, so there is nothing to align; the loss is 0.",
        )
        return zero_loss(*(x for x in (features, logits) if x is not None))
    if not lay.paired:
        raise _pairing_error(y, lay, "MDR")
    if logits is not None and use_set and lay.k_vis == 0:
        raise ValueError(
            "set-level MDR needs every identity to have the same number of images per modality "
            "(it stacks the r-th image of every identity into one row); use set_level=False or "
            "a sampler with K/2 images per modality"
        )
    dtype = _promoted_dtype(features, logits)
    terms = []
    with full_precision(ref.device):
        if features is not None:
            f = features.to(dtype)
            graph = _tgsa_core(
                f[lay.vis],
                f[lay.ir],
                cross=cross_,
                kl=kl_,
                reduction=red_,
                exclude_self=excl,
                sign=sign,
                tau=tau,
            )
            terms.append(graph * graph_weight)
        if logits is not None:
            z = logits.to(dtype)
            zv, zi = z[lay.vis], z[lay.ir]
            terms.append(_divergence(zv, zi, kl_, red_))
            if use_set:
                k = lay.k_vis
                terms.append(_divergence(_set_level(zv, k), _set_level(zi, k), kl_, red_))
    return torch.stack(terms).sum()


class MDRLoss(nn.Module):
    r"""Modality Discrepancy Reduction between the visible and infrared shared features.

    Calls `mdr_loss`; see [`vireid.losses.mdr`][vireid.losses.mdr] for the equations, the
    label-based pairing and the paper-vs-code table. Weight 1 in both the paper and the released
    code.

    Args:
        variant: ``"reference"`` (default: self-excluded graphs with the mixed matrix, sample-
            and set-level logit terms, symmetric batch-mean KL) or ``"paper"`` (true cross-modal
            graph, sample-level logits, forward KL summed over rows).
        cross: Override of the third graph (``"mixed"``, ``"true"``, ``"none"``).
        set_level: Override of the set-level logit term.
        kl: Override of the divergence.
        reduction: Override of the row reduction.
        exclude_self: Override of the graph self-pair handling.
        sign: Sign of the distance logits, default ``+1``.
        tau: Graph temperature, default 1.
        graph_weight: Factor on the graph part, default 1.

    Shape:
        - features: ``(B, d)`` or ``None``; logits: ``(B, C)`` or ``None``;
          labels, modalities: ``(B,)``.
        - output: scalar.

    Example:
        >>> mdr = MDRLoss()
        >>> loss = mdr(f_sh, z_sh, labels, modalities)  # doctest: +SKIP
    """

    def __init__(
        self,
        variant: Variant = "reference",
        *,
        cross: Cross | None = None,
        set_level: bool | None = None,
        kl: KLMode | None = None,
        reduction: Reduction | None = None,
        exclude_self: bool | None = None,
        sign: float = 1.0,
        tau: float = 1.0,
        graph_weight: float = 1.0,
    ) -> None:
        super().__init__()
        _tgsa_defaults(variant, cross, kl, reduction, exclude_self)
        _check_graph_options(sign, tau)
        _check_weight(graph_weight, "graph_weight")
        self.variant = variant
        self.cross = cross
        self.set_level = set_level
        self.kl = kl
        self.reduction = reduction
        self.exclude_self = exclude_self
        self.sign = sign
        self.tau = tau
        self.graph_weight = graph_weight

    def forward(
        self,
        features: torch.Tensor | None,
        logits: torch.Tensor | None,
        labels: torch.Tensor,
        modalities: torch.Tensor,
    ) -> torch.Tensor:
        """MDR loss of the batch (see `mdr_loss`)."""
        return mdr_loss(
            features,
            logits,
            labels,
            modalities,
            variant=self.variant,
            cross=self.cross,
            set_level=self.set_level,
            kl=self.kl,
            reduction=self.reduction,
            exclude_self=self.exclude_self,
            sign=self.sign,
            tau=self.tau,
            graph_weight=self.graph_weight,
        )

    def extra_repr(self) -> str:  # noqa: D102
        return f"variant={self.variant!r}, graph_weight={self.graph_weight}"
