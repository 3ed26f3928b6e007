r"""Triplet-family metric losses: batch-hard, AGW weighted-regularisation (WRT), CAJ adaptive (ADP).

All of them take ``(features, labels, modalities)`` with ``modalities`` optional (it is only
needed for ``cross_modality_only=True``), work on the Euclidean distance used by every reference
release,

$$
D_{ij} = \sqrt{\max(\lVert f_i\rVert^2 + \lVert f_j\rVert^2 - 2 f_i^\top f_j,\ 10^{-12})},
$$

(so $D_{ii} = 10^{-6}$, not 0), and do not depend on the order of the samples.

Edge batches: an anchor needs at least one positive and one negative; anchors without them are
left out of the mean. When no anchor qualifies (a batch with one identity, or with
``cross_modality_only=True`` a batch with one modality) the loss is a zero attached to the graph
and a warning is issued once per process. That is the single host synchronisation of each loss.

The hetero-centre triplet loss lives in
[`vireid.losses.hetero_center`][vireid.losses.hetero_center].
"""

from __future__ import annotations

import torch
from torch import nn

from vireid.losses._checks import (
    check_choice,
    check_features,
    check_labels,
    check_modalities,
    check_number,
    compute_dtype,
    full_precision,
    warn_once,
    zero_loss,
)

__all__ = [
    "AdaptiveTripletLoss",
    "TripletLoss",
    "WeightedRegularizationTriplet",
    "adaptive_triplet_loss",
    "triplet_loss",
    "weighted_regularization_triplet",
]

SQ_DIST_CLAMP = 1e-12
"""Clamp applied to squared distances before the square root (AGW, CAJ, IDKL)."""

MINING_MODES: tuple[str, ...] = ("batch_hard", "batch_all")
SOFT_WEIGHT_VARIANTS: tuple[str, ...] = ("reference", "paper")


# --------------------------------------------------------------------------------------------
# private helpers shared with the other loss modules of this family
# --------------------------------------------------------------------------------------------


def _prepare(
    features: object,
    labels: object,
    modalities: object,
    *,
    need_modalities: bool,
    why: str = "",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Check ``(features, labels, modalities)`` and return them (modalities may be None)."""
    x = check_features(features)
    y = check_labels(labels, "labels", x.shape[0], x.device)
    m = None if modalities is None else check_modalities(modalities, x.shape[0], x.device)
    if m is None and need_modalities:
        raise ValueError(f"modalities is required {why}".rstrip())
    return x, y, m


def _euclidean_matrix(x: torch.Tensor) -> torch.Tensor:
    """Reference Euclidean distance matrix: sqrt(clamp(||xi||²+||xj||²-2xi·xj, 1e-12))."""
    sq = (x * x).sum(dim=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    return d2.clamp(min=SQ_DIST_CLAMP).sqrt()


def _pair_masks(
    y: torch.Tensor,
    m: torch.Tensor | None,
    *,
    include_self: bool,
    cross_modality_only: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean positive / negative masks ``(B, B)``."""
    same = y[:, None] == y[None, :]
    pos = same.clone()
    neg = ~same
    if not include_self:
        pos.fill_diagonal_(False)
    if cross_modality_only:
        assert m is not None
        other = m[:, None] != m[None, :]
        pos &= other
        neg &= other
    return pos, neg


def _masked_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the ``valid`` entries (0 when none; gradient-safe)."""
    safe = torch.where(valid, values, torch.zeros_like(values))
    return safe.sum() / valid.sum().clamp(min=1).to(values.dtype)


# --------------------------------------------------------------------------------------------
# batch-hard / batch-all triplet
# --------------------------------------------------------------------------------------------


def triplet_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor | None = None,
    margin: float = 0.3,
    soft_margin: bool = False,
    mining: str = "batch_hard",
    cross_modality_only: bool = False,
) -> torch.Tensor:
    r"""Triplet loss with batch-hard (default) or batch-all mining.

    Batch-hard (Hermans, Beyer, Leibe, "In Defense of the Triplet Loss for Person
    Re-Identification", 2017), as in the AGW/CAJ ``OriTripletLoss`` and IDKL:

    $$
    d^+_a = \max_{p:\,y_p = y_a} D_{ap}, \quad d^-_a = \min_{n:\,y_n \ne y_a} D_{an}, \quad
    L = \frac{1}{|A|}\sum_{a \in A} \max(0,\ d^+_a - d^-_a + m),
    $$

    with the soft-margin form $\log(1 + e^{d^+_a - d^-_a})$ when ``soft_margin=True``
    (the margin is then unused). As in the references, the anchor itself counts as a positive
    ($D_{aa} = 10^{-6}$), which only matters for an identity with a single image.

    Batch-all averages $\max(0, D_{ap} - D_{an} + m)$ over every valid triplet
    ``(a, p, n)`` with ``p != a`` (triplets with zero loss included).

    ``cross_modality_only=True`` restricts positives and negatives to samples whose modality
    differs from the anchor's (visible anchors mine infrared samples and vice versa).

    Args:
        features: Embeddings ``(B, D)`` (the references use pre-BN pooled features).
        labels: Identity labels ``(B,)``, integers.
        modalities: Modality labels ``(B,)`` (0 visible, 1 infrared; any integers), needed only
            for ``cross_modality_only=True``.
        margin: Margin m (>= 0). Default ``0.3`` (AGW/CAJ); IDKL's configs use ``1.3``.
        soft_margin: Use the soft-margin (softplus) form instead of the hinge.
        mining: ``"batch_hard"`` (default) or ``"batch_all"``.
        cross_modality_only: Mine positives and negatives in the other modality only.

    Returns:
        Scalar loss (float32, or float64 for float64 features). A zero attached to the graph,
        with a one-time warning, when no anchor has both a positive and a negative.

    Raises:
        TypeError / ValueError: bad tensors, shapes, devices or option values.
    """
    check_choice(mining, "mining", MINING_MODES)
    margin = check_number(margin, "margin", minimum=0.0)
    x, y, m = _prepare(
        features,
        labels,
        modalities,
        need_modalities=cross_modality_only,
        why="for cross_modality_only=True",
    )
    with full_precision(x.device):
        xc = x.to(compute_dtype(x))
        d = _euclidean_matrix(xc)
        batch_all = mining == "batch_all"
        pos, neg = _pair_masks(
            y, m, include_self=not batch_all, cross_modality_only=cross_modality_only
        )
        if batch_all:
            valid = pos[:, :, None] & neg[:, None, :]
            if not bool(valid.any()):
                return _no_triplet(x, "triplet_loss", cross_modality_only)
            gap = d[:, :, None] - d[:, None, :]
            per = _hinge(gap, margin, soft_margin)
            return _masked_mean(per, valid)
        valid = pos.any(dim=1) & neg.any(dim=1)
        if not bool(valid.any()):
            return _no_triplet(x, "triplet_loss", cross_modality_only)
        return _masked_mean(_hinge(_hardest_gap(d, pos, neg, valid), margin, soft_margin), valid)


def _hardest_gap(
    d: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Row-wise ``max_{pos} d − min_{neg} d`` (batch-hard mining); 0 on rows not ``valid``."""
    big = torch.finfo(d.dtype).max
    dp = d.masked_fill(~pos, -big).max(dim=1).values
    dn = d.masked_fill(~neg, big).min(dim=1).values
    return torch.where(valid, dp - dn, torch.zeros_like(dp))


def _hinge(gap: torch.Tensor, margin: float, soft_margin: bool) -> torch.Tensor:
    if soft_margin:
        return torch.logaddexp(gap, torch.zeros_like(gap))
    return torch.relu(gap + margin)


def _no_triplet(x: torch.Tensor, name: str, cross: bool) -> torch.Tensor:
    where = " in the other modality" if cross else ""
    warn_once(
        f"{name}:no-valid-anchor:{cross}",
        f"{name}: no anchor has both a positive and a negative{where} in this batch "
        "(one identity or one modality only?); returning a zero loss.",
    )
    return zero_loss(x)


class TripletLoss(nn.Module):
    r"""Batch-hard triplet loss with margin (module form of `triplet_loss`).

    $L = \operatorname{mean}_a \max(0, \max_{p} D_{ap} - \min_{n} D_{an} + m)$ over the
    Euclidean distance matrix of the batch (Hermans et al. 2017; AGW/CAJ ``OriTripletLoss``,
    IDKL with ``margin=1.3``).

    Args:
        margin: Margin m. Default ``0.3``.
        soft_margin: Soft-margin form $\log(1 + e^{d^+ - d^-})$ instead of the hinge.
        mining: ``"batch_hard"`` (default) or ``"batch_all"``.
        cross_modality_only: Positives and negatives only from the other modality (then
            ``modalities`` is required).

    Shape:
        ``forward(features, labels, modalities=None)``: ``(B, D)``, ``(B,)``, ``(B,)``;
        returns a scalar.
    """

    def __init__(
        self,
        margin: float = 0.3,
        soft_margin: bool = False,
        mining: str = "batch_hard",
        cross_modality_only: bool = False,
    ) -> None:
        super().__init__()
        check_choice(mining, "mining", MINING_MODES)
        self.margin = check_number(margin, "margin", minimum=0.0)
        self.soft_margin = bool(soft_margin)
        self.mining = mining
        self.cross_modality_only = bool(cross_modality_only)

    def forward(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        modalities: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the scalar loss (see `triplet_loss`)."""
        return triplet_loss(
            features,
            labels,
            modalities,
            self.margin,
            self.soft_margin,
            self.mining,
            self.cross_modality_only,
        )

    def extra_repr(self) -> str:
        """Options shown in the module's repr."""
        return (
            f"margin={self.margin}, soft_margin={self.soft_margin}, mining={self.mining!r}, "
            f"cross_modality_only={self.cross_modality_only}"
        )


# --------------------------------------------------------------------------------------------
# softmax-weighted triplets: AGW WRT and CAJ ADP
# --------------------------------------------------------------------------------------------


def _reference_softmax_weights(s: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """AGW/CAJ ``softmax_weights``: max over s*mask (zeros included), +1e-6 in the denominator."""
    max_v = (s * mask).max(dim=1, keepdim=True).values
    e = torch.exp(s - max_v) * mask
    return e / (e.sum(dim=1, keepdim=True) + 1e-6)


def _exact_softmax_weights(s: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax of ``s`` over ``mask`` (rows with no entry get finite, unused weights)."""
    full = mask | ~mask.any(dim=1, keepdim=True)
    return torch.softmax(s.masked_fill(~full, float("-inf")), dim=1) * mask


def adaptive_triplet_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor | None = None,
    alpha: float = 1.0,
    gamma: float = 1.0,
    square: bool = True,
    clamp: float = 88.0,
    include_self_positive: bool = True,
    cross_modality_only: bool = False,
    variant: str = "reference",
) -> torch.Tensor:
    r"""CAJ adaptive triplet loss ("ADP", enhanced squared difference).

    From Ye et al., "Channel Augmented Joint Learning for Visible-Infrared Recognition"
    (ICCV 2021), as in the released ``TripletLoss_ADP``. Softmax-weighted positive and negative
    distances per anchor,

    $$
    d^+_a = \sum_p w^+_{ap} D_{ap},\ w^+_a = \operatorname{softmax}_{p \in P_a}(\alpha D_{ap});
    \qquad
    d^-_a = \sum_n w^-_{an} D_{an},\ w^-_a = \operatorname{softmax}_{n \in N_a}(-\alpha D_{an}),
    $$

    then with ``square=True`` (the released default command)
    $\Delta_a = \min(\gamma (d^+_a - d^-_a)^2, \text{clamp})$,
    $s_a = -1$ if $d^+_a > d^-_a$ else $+1$, and
    $L = \operatorname{mean}_a \log(1 + e^{-s_a \Delta_a})$; with ``square=False``
    $L = \operatorname{mean}_a \log(1 + e^{-\gamma (d^-_a - d^+_a)})$.

    ``variant="reference"`` (default) reproduces the released ``softmax_weights``: the
    stabilising max is taken over ``s * mask`` (zeros at masked entries included) and ``1e-6``
    is added to the normaliser, so the weights sum to slightly less than 1, and
    $e^{-\alpha D}$ can underflow to 0 for large distances (then $d^-_a = 0$).
    ``variant="paper"`` uses an exact, max-stabilised softmax over the masked set.

    Args:
        features: Embeddings ``(B, D)`` (CAJ: GeM-pooled pre-BN features, not normalised).
        labels: Identity labels ``(B,)``.
        modalities: Modality labels ``(B,)``; needed only for ``cross_modality_only=True``.
        alpha: Temperature α of the weights. Default ``1``.
        gamma: Scale γ of the gap. Default ``1``.
        square: Enhanced squared difference (default, the documented CAJ command) or the plain
            soft-margin gap.
        clamp: Upper clamp on $\gamma (d^+ - d^-)^2$ (``square=True``). Default ``88``.
        include_self_positive: Count the anchor as its own positive ($D_{aa}=10^{-6}$), as
            the reference does. ``False`` is an opt-in deviation.
        cross_modality_only: Positives and negatives only from the other modality.
        variant: ``"reference"`` (default) or ``"paper"`` (exact masked softmax).

    Returns:
        Scalar loss; a graph-attached zero with a one-time warning when no anchor has both a
        positive and a negative.
    """
    check_choice(variant, "variant", SOFT_WEIGHT_VARIANTS)
    alpha = check_number(alpha, "alpha")
    gamma = check_number(gamma, "gamma")
    clamp = check_number(clamp, "clamp", minimum=0.0)
    return _soft_weighted_triplet(
        features,
        labels,
        modalities,
        alpha=alpha,
        gamma=gamma,
        square=bool(square),
        clamp=clamp,
        include_self=bool(include_self_positive),
        cross=bool(cross_modality_only),
        variant=variant,
        name="adaptive_triplet_loss",
    )


def weighted_regularization_triplet(
    features: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor | None = None,
    include_self_positive: bool = True,
    cross_modality_only: bool = False,
    variant: str = "reference",
) -> torch.Tensor:
    r"""AGW weighted regularisation triplet (WRT).

    From Ye et al., "Deep Learning for Person Re-identification: A Survey and Outlook"
    (TPAMI 2021), as in the released ``TripletLoss_WRT``:

    $$
    d^+_a = \sum_p \operatorname{softmax}_{p \in P_a}(D_{ap})\, D_{ap}, \quad
    d^-_a = \sum_n \operatorname{softmax}_{n \in N_a}(-D_{an})\, D_{an}, \quad
    L = \operatorname{mean}_a \log\bigl(1 + e^{d^+_a - d^-_a}\bigr).
    $$

    It has no margin. It equals `adaptive_triplet_loss` with ``alpha=1, gamma=1,
    square=False``. ``variant="reference"`` keeps the released weight helper (see
    `adaptive_triplet_loss`); ``variant="paper"`` is the exact softmax of the paper's equation.

    Args:
        features: Embeddings ``(B, D)`` (AGW: pooled pre-BN features, not normalised).
        labels: Identity labels ``(B,)``.
        modalities: Modality labels ``(B,)``; needed only for ``cross_modality_only=True``.
        include_self_positive: Count the anchor as its own positive (reference behaviour).
        cross_modality_only: Positives and negatives only from the other modality.
        variant: ``"reference"`` (default) or ``"paper"``.

    Returns:
        Scalar loss; a graph-attached zero with a one-time warning when no anchor has both a
        positive and a negative.
    """
    check_choice(variant, "variant", SOFT_WEIGHT_VARIANTS)
    return _soft_weighted_triplet(
        features,
        labels,
        modalities,
        alpha=1.0,
        gamma=1.0,
        square=False,
        clamp=88.0,
        include_self=bool(include_self_positive),
        cross=bool(cross_modality_only),
        variant=variant,
        name="weighted_regularization_triplet",
    )


def _soft_weighted_triplet(
    features: object,
    labels: object,
    modalities: object,
    *,
    alpha: float,
    gamma: float,
    square: bool,
    clamp: float,
    include_self: bool,
    cross: bool,
    variant: str,
    name: str,
) -> torch.Tensor:
    x, y, m = _prepare(
        features, labels, modalities, need_modalities=cross, why="for cross_modality_only=True"
    )
    with full_precision(x.device):
        xc = x.to(compute_dtype(x))
        d = _euclidean_matrix(xc)
        pos, neg = _pair_masks(y, m, include_self=include_self, cross_modality_only=cross)
        valid = pos.any(dim=1) & neg.any(dim=1)
        if not bool(valid.any()):
            return _no_triplet(x, name, cross)
        posf = pos.to(d.dtype)
        negf = neg.to(d.dtype)
        dist_ap = d * posf
        dist_an = d * negf
        if variant == "reference":
            w_ap = _reference_softmax_weights(alpha * dist_ap, posf)
            w_an = _reference_softmax_weights(-alpha * dist_an, negf)
        else:
            w_ap = _exact_softmax_weights(alpha * d, pos)
            w_an = _exact_softmax_weights(-alpha * d, neg)
        dp = (dist_ap * w_ap).sum(dim=1)
        dn = (dist_an * w_an).sum(dim=1)
        if square:
            diff = (gamma * (dp - dn).pow(2)).clamp(max=clamp)
            sign = torch.where(dp > dn, -torch.ones_like(dp), torch.ones_like(dp))
            arg = -sign * diff
        else:
            arg = -gamma * (dn - dp)
        per = torch.logaddexp(arg, torch.zeros_like(arg))
        return _masked_mean(per, valid)


class WeightedRegularizationTriplet(nn.Module):
    r"""AGW weighted regularisation triplet (module form of `weighted_regularization_triplet`).

    $L = \operatorname{mean}_a \log(1 + e^{d^+_a - d^-_a})$ with softmax(D)-weighted
    positive and softmax(−D)-weighted negative distances; no margin (Ye et al., TPAMI 2021).

    Args:
        include_self_positive: Anchor counts as its own positive (reference). Default ``True``.
        cross_modality_only: Mine only the other modality. Default ``False``.
        variant: ``"reference"`` (released weight helper, default) or ``"paper"``.

    Shape:
        ``forward(features, labels, modalities=None)``; returns a scalar.
    """

    def __init__(
        self,
        include_self_positive: bool = True,
        cross_modality_only: bool = False,
        variant: str = "reference",
    ) -> None:
        super().__init__()
        check_choice(variant, "variant", SOFT_WEIGHT_VARIANTS)
        self.include_self_positive = bool(include_self_positive)
        self.cross_modality_only = bool(cross_modality_only)
        self.variant = variant

    def forward(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        modalities: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the scalar loss (see `weighted_regularization_triplet`)."""
        return weighted_regularization_triplet(
            features,
            labels,
            modalities,
            self.include_self_positive,
            self.cross_modality_only,
            self.variant,
        )

    def extra_repr(self) -> str:
        """Options shown in the module's repr."""
        return (
            f"include_self_positive={self.include_self_positive}, "
            f"cross_modality_only={self.cross_modality_only}, variant={self.variant!r}"
        )


class AdaptiveTripletLoss(nn.Module):
    r"""CAJ adaptive triplet loss "ADP" (module form of `adaptive_triplet_loss`).

    Softmax(αD)-weighted positive and softmax(−αD)-weighted negative distances; with
    ``square=True`` the "enhanced squared difference"
    $\log(1 + e^{-s\,\min(\gamma (d^+ - d^-)^2, 88)})$, $s = -1$ for violated
    anchors (Ye et al., ICCV 2021).

    Args:
        alpha: Weight temperature α. Default ``1``.
        gamma: Gap scale γ. Default ``1``.
        square: Enhanced squared difference (default) or plain soft-margin gap.
        clamp: Clamp on the squared gap. Default ``88``.
        include_self_positive: Anchor counts as its own positive (reference). Default ``True``.
        cross_modality_only: Mine only the other modality. Default ``False``.
        variant: ``"reference"`` (default) or ``"paper"`` (exact masked softmax).

    Shape:
        ``forward(features, labels, modalities=None)``; returns a scalar.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        gamma: float = 1.0,
        square: bool = True,
        clamp: float = 88.0,
        include_self_positive: bool = True,
        cross_modality_only: bool = False,
        variant: str = "reference",
    ) -> None:
        super().__init__()
        check_choice(variant, "variant", SOFT_WEIGHT_VARIANTS)
        self.alpha = check_number(alpha, "alpha")
        self.gamma = check_number(gamma, "gamma")
        self.square = bool(square)
        self.clamp = check_number(clamp, "clamp", minimum=0.0)
        self.include_self_positive = bool(include_self_positive)
        self.cross_modality_only = bool(cross_modality_only)
        self.variant = variant

    def forward(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        modalities: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the scalar loss (see `adaptive_triplet_loss`)."""
        return adaptive_triplet_loss(
            features,
            labels,
            modalities,
            self.alpha,
            self.gamma,
            self.square,
            self.clamp,
            self.include_self_positive,
            self.cross_modality_only,
            self.variant,
        )

    def extra_repr(self) -> str:
        """Options shown in the module's repr."""
        return (
            f"alpha={self.alpha}, gamma={self.gamma}, square={self.square}, clamp={self.clamp}, "
            f"include_self_positive={self.include_self_positive}, "
            f"cross_modality_only={self.cross_modality_only}, variant={self.variant!r}"
        )
