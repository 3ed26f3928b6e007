r"""Losses of IDKL's IN-guided Information Purifier (Ren and Zhang, CVPR 2024, §3.4–3.5).

The purifier gates the specific feature map with two masks: ``m_e`` should *enhance*
identity-discriminative content, ``m_r`` should *reduce* the modality discrepancy of the
instance-normalised map. Two losses train them.

**Enhancement loss** ``L_e`` (Eq. 10). With ``H`` the softmax entropy of a classifier's logits
on the pooled raw feature (``a_i = H(z^{raw}_i)``) and on the pooled enhanced feature
(``b_i = H(z^{enh}_i)``):

$$
L_e^{ref} = \frac{1}{B} \sum_i \big[\exp(\max(0,\, b_i - a_i + \mu)) - 1\big],
\qquad
L_e^{paper} = \frac{1}{B} \sum_i \mathrm{Softplus}(b_i - a_i)
$$

**Reduction loss** ``L_r`` (Eq. 11). With ``u = GeM(F̂_sp)`` (instance-normalised map) and
``v = GeM(F̂^{m−})`` (after the reduction mask), and per identity ``p`` present in both
modalities ``δ_p(x) = ‖c^V_p(x) − c^I_p(x) + ε‖₂`` (``c`` = modality centroid of ``p``'s
images, ``ε = 1e-6``):

$$
L_r^{ref} = \frac{1}{P} \sum_p \max(0,\, \delta_p(v) - \delta_p(u) + \mu),
\qquad
L_r^{paper} = \frac{1}{P} \sum_p \mathrm{Softplus}(\delta_p(v) - \delta_p(u))
$$

| aspect | paper | reference code (default) |
|---|---|---|
| outer function | Softplus | ``exp(ReLU(·)) − 1`` (``L_e``), ReLU hinge (``L_r``), margin μ = 0 |
| score ``h`` | "uncertainty" of ``C_sp`` | softmax entropy of an extra head ``W_e`` (no CE supervision), on GeM features without BN neck |
| distance ``d`` | not specified | per-identity modality-centroid distance, mean over identities |
| batch reduction | not stated | mean over samples / identities |
| weight λ1 | 0.1 on ``L_e + L_r + L_reid`` | 0.1 on ``L_e + L_r`` (caller) |

Where the paper is silent (which score, which distance, which reduction), the paper variant
keeps the reference's choices and only swaps the outer function for Softplus. The losses take
logits and pooled features: the model applies the heads and the pooling.
"""  # noqa: E501

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vireid.losses._checks import (
    check_choice,
    check_features,
    check_labels,
    check_modalities,
    check_number,
    check_same_batch,
    full_precision,
    warn_once,
    zero_loss,
)
from vireid.losses.skl import _VARIANTS, Variant, _promoted_dtype

__all__ = [
    "InformationPurifierLoss",
    "enhancement_loss",
    "information_purifier_loss",
    "reduction_loss",
    "softmax_entropy",
]

_CENTROID_EPS = 1e-6


def softmax_entropy(logits: torch.Tensor) -> torch.Tensor:
    r"""Per-row entropy of the softmax, ``H(z) = −Σ_c softmax(z)_c log softmax(z)_c``.

    Args:
        logits: Scores, shape ``(B, C)``.

    Returns:
        Entropies, shape ``(B,)``, in the input's dtype (computed in log space).
    """
    log_p = F.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1)


def _check_margin(margin: float, name: str = "margin") -> None:
    check_number(margin, name)


def enhancement_loss(
    raw_logits: torch.Tensor,
    enhanced_logits: torch.Tensor,
    *,
    variant: Variant = "reference",
    margin: float = 0.0,
) -> torch.Tensor:
    r"""Enhancement loss ``L_e``: the enhanced feature should be at least as confident.

    Reference: ``mean_i exp(max(0, H(enh_i) − H(raw_i) + margin)) − 1``; paper:
    ``mean_i Softplus(H(enh_i) − H(raw_i) + margin)``. No stop-gradient: both logits get
    gradients (in the released code they come from the same head ``W_e``).

    Args:
        raw_logits: Head logits on the pooled raw specific feature ``GeM(F_sp)``, ``(B, C)``.
        enhanced_logits: Head logits on the pooled enhanced feature ``GeM(m_e ⊙ F_sp)``,
            ``(B, C)``.
        variant: ``"reference"`` (default) or ``"paper"``.
        margin: ``μ``, default 0 (the released code).

    Returns:
        A scalar in float32 (float64 for float64 inputs).

    Raises:
        TypeError: If an input is not a floating-point tensor.
        ValueError: On shape/device mismatches or an unknown ``variant``.
    """
    check_features(raw_logits, "raw_logits")
    check_features(enhanced_logits, "enhanced_logits")
    check_same_batch(raw_logits, enhanced_logits, "raw_logits", "enhanced_logits")
    if raw_logits.shape != enhanced_logits.shape:
        raise ValueError(
            "raw_logits and enhanced_logits must have the same shape (B, C), got "
            f"{tuple(raw_logits.shape)} and {tuple(enhanced_logits.shape)}"
        )
    paper = check_choice(variant, "variant", _VARIANTS) == "paper"
    _check_margin(margin)
    dtype = _promoted_dtype(raw_logits, enhanced_logits)
    with full_precision(raw_logits.device):
        gap = (
            softmax_entropy(enhanced_logits.to(dtype))
            - softmax_entropy(raw_logits.to(dtype))
            + margin
        )
        per_sample = F.softplus(gap) if paper else torch.expm1(F.relu(gap))
        return per_sample.mean()


def reduction_loss(
    normalized: torch.Tensor,
    reduced: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    *,
    variant: Variant = "reference",
    margin: float = 0.0,
) -> torch.Tensor:
    r"""Reduction loss ``L_r``: the reduction mask should shrink the per-identity modality gap.

    For every identity with images of both modalities, ``δ_p(x) = ‖c^V_p(x) − c^I_p(x) + 1e-6‖₂``
    (``+1e-6`` on the difference, like ``torch.nn.functional.pairwise_distance``); reference:
    ``mean_p max(0, δ_p(reduced) − δ_p(normalized) + margin)``, paper: Softplus instead of the
    hinge. Centroids are computed with ``index_add`` (no loop over identities); the result does
    not depend on the batch order.

    Edge batches: identities present in one modality only are skipped (the released code gives
    ``NaN`` there) with a one-time warning; when no identity has both modalities the loss is a
    zero attached to the graph, with a one-time warning.

    Args:
        normalized: ``u = GeM(F̂_sp)``, pooled instance-normalised specific map, ``(B, d)``.
        reduced: ``v = GeM(m_r ⊙ F̂_sp)``, pooled after the reduction mask, ``(B, d)``.
        labels: Identity labels, shape ``(B,)``.
        modalities: 0 visible, 1 infrared, shape ``(B,)``; other values are rejected.
        variant: ``"reference"`` (default) or ``"paper"``.
        margin: ``μ``, default 0.

    Returns:
        A scalar in float32 (float64 for float64 inputs).

    Raises:
        TypeError: If an input has the wrong type or dtype.
        ValueError: On shape/device mismatches, a modality other than 0/1 or an unknown
            ``variant``.
    """
    check_features(normalized, "normalized")
    check_features(reduced, "reduced")
    check_same_batch(normalized, reduced, "normalized", "reduced")
    if normalized.shape != reduced.shape:
        raise ValueError(
            "normalized and reduced must have the same shape (B, d), got "
            f"{tuple(normalized.shape)} and {tuple(reduced.shape)}"
        )
    n = normalized.shape[0]
    y = check_labels(labels, "labels", n, normalized.device)
    t = check_modalities(modalities, n, normalized.device)
    paper = check_choice(variant, "variant", _VARIANTS) == "paper"
    _check_margin(margin)
    dtype = _promoted_dtype(normalized, reduced)
    identities, inverse = torch.unique(y, return_inverse=True)
    n_ids = identities.numel()
    with full_precision(normalized.device):
        vis = (t == 0).to(dtype)
        ir = (t == 1).to(dtype)
        count_v = torch.zeros(n_ids, dtype=dtype, device=y.device).index_add(0, inverse, vis)
        count_i = torch.zeros(n_ids, dtype=dtype, device=y.device).index_add(0, inverse, ir)
        valid = (count_v > 0) & (count_i > 0)
        stats = torch.stack([((t != 0) & (t != 1)).sum(), valid.sum()]).tolist()  # host sync
        bad, n_valid = (int(v) for v in stats)
        if bad:
            raise ValueError("reduction_loss needs modalities 0 (visible) or 1 (infrared)")
        if n_valid == 0:
            warn_once(
                "purifier-lr-no-pair",
                "InformationPurifier L_r: no identity has both visible and infrared images in "
                "the batch, so L_r is 0.",
            )
            return zero_loss(normalized, reduced)
        if n_valid < n_ids:
            warn_once(
                "purifier-lr-skip",
                "InformationPurifier L_r: identities with images of one modality only are "
                "skipped (their modality centroid distance is undefined).",
            )

        def gap(x: torch.Tensor) -> torch.Tensor:
            x = x.to(dtype)
            sum_v = x.new_zeros(n_ids, x.shape[1]).index_add(0, inverse, x * vis[:, None])
            sum_i = x.new_zeros(n_ids, x.shape[1]).index_add(0, inverse, x * ir[:, None])
            diff = sum_v / count_v.clamp_min(1)[:, None] - sum_i / count_i.clamp_min(1)[:, None]
            return torch.linalg.vector_norm(diff[valid] + _CENTROID_EPS, dim=1)

        delta = gap(reduced) - gap(normalized) + margin
        per_id = F.softplus(delta) if paper else F.relu(delta)
        return per_id.mean()


def information_purifier_loss(
    raw_logits: torch.Tensor,
    enhanced_logits: torch.Tensor,
    normalized: torch.Tensor,
    reduced: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    *,
    variant: Variant = "reference",
    margin_e: float = 0.0,
    margin_r: float = 0.0,
) -> torch.Tensor:
    r"""``L_e + L_r`` of the purifier: `enhancement_loss` + `reduction_loss`.

    The released code weights this sum by 0.1 (the caller's job).

    Args:
        raw_logits: ``W_e·GeM(F_sp)``, shape ``(B, C)``.
        enhanced_logits: ``W_e·GeM(F^{d+})``, shape ``(B, C)``.
        normalized: ``GeM(F̂_sp)``, shape ``(B, d)``.
        reduced: ``GeM(F̂^{m−})``, shape ``(B, d)``.
        labels: Identity labels, shape ``(B,)``.
        modalities: 0 visible, 1 infrared, shape ``(B,)``.
        variant: ``"reference"`` (default) or ``"paper"``.
        margin_e: Margin of ``L_e``, default 0.
        margin_r: Margin of ``L_r``, default 0.

    Returns:
        A scalar in float32 (float64 for float64 inputs).
    """
    check_features(raw_logits, "raw_logits")
    check_features(normalized, "normalized")
    check_same_batch(raw_logits, normalized, "raw_logits", "normalized")
    l_e = enhancement_loss(raw_logits, enhanced_logits, variant=variant, margin=margin_e)
    l_r = reduction_loss(normalized, reduced, labels, modalities, variant=variant, margin=margin_r)
    return l_e + l_r


class InformationPurifierLoss(nn.Module):
    r"""``L_e + L_r`` of IDKL's IN-guided information purifier.

    Calls `information_purifier_loss`; see [`vireid.losses.purifier`][vireid.losses.purifier] for
    the equations and the paper-vs-code table. Multiply by 0.1 as the released code does.

    Args:
        variant: ``"reference"`` (default: ``exp(ReLU)−1`` and ReLU hinges) or ``"paper"``
            (Softplus).
        margin_e: Margin μ of ``L_e``, default 0.
        margin_r: Margin μ of ``L_r``, default 0.

    Shape:
        - raw_logits, enhanced_logits: ``(B, C)``; normalized, reduced: ``(B, d)``;
          labels, modalities: ``(B,)``.
        - output: scalar.

    Example:
        >>> ip = InformationPurifierLoss()
        >>> loss = 0.1 * ip(z_raw, z_enh, u, v, labels, modalities)  # doctest: +SKIP
    """

    def __init__(
        self, variant: Variant = "reference", *, margin_e: float = 0.0, margin_r: float = 0.0
    ) -> None:
        super().__init__()
        check_choice(variant, "variant", _VARIANTS)
        _check_margin(margin_e, "margin_e")
        _check_margin(margin_r, "margin_r")
        self.variant = variant
        self.margin_e = margin_e
        self.margin_r = margin_r

    def forward(
        self,
        raw_logits: torch.Tensor,
        enhanced_logits: torch.Tensor,
        normalized: torch.Tensor,
        reduced: torch.Tensor,
        labels: torch.Tensor,
        modalities: torch.Tensor,
    ) -> torch.Tensor:
        """``L_e + L_r`` of the batch (see `information_purifier_loss`)."""
        return information_purifier_loss(
            raw_logits,
            enhanced_logits,
            normalized,
            reduced,
            labels,
            modalities,
            variant=self.variant,
            margin_e=self.margin_e,
            margin_r=self.margin_r,
        )

    def extra_repr(self) -> str:  # noqa: D102
        return f"variant={self.variant!r}, margin_e={self.margin_e}, margin_r={self.margin_r}"
