r"""Gaussian cross-modality distribution consistency loss (DCL).

**Inspired by, not a reproduction of,** Zhang, Zhao, Du, Sun, Wang, "Learning enhancing
modality-invariant features for visible-infrared person re-identification", *Int. J. Mach.
Learn. Cybern.* 16(1):55–73 (2025). Only the paper's abstract is public: it states a
"cross-modality feature distribution consistency loss based on a Gaussian distribution
assumption" and gives no equation. The formulation below is the library's own proposal; numbers
obtained with it must not be reported as a reproduction of the paper.

Each modality (visible ``V`` = modality 0, infrared ``I`` = modality 1 by default) is fitted with
a diagonal Gaussian over the identities ``S`` present in **both** modalities, and the two are
compared with a divergence divided by the dimension ``d``.

Modality level (``level="modality"``), identity-balanced weights
$w_a = 1 / (|S|\, n_{y_a,m})$ for $a \in m$:

$$
\mu_m = \sum_{a \in m} w_a z_a, \qquad \sigma^2_m = \sum_{a \in m} w_a (z_a - \mu_m)^2 .
$$

Identity level (``level="identity"``): per-identity means $\mu_{p,m}$ and one pooled
within-class variance per modality
$s^2_m = \sum_{p}\sum_{a \in (p,m)} (z_a - \mu_{p,m})^2 / \sum_p (n_{p,m} - 1)$
(falling back to $\sigma^2_m$ when every identity has a single image).

Variance floor: $\tau = \operatorname{sg}(\operatorname{mean}_k (v_{V,k} + v_{I,k})/2)$,
$\varepsilon = \varepsilon_{rel}\tau + \varepsilon_{abs}$, $\tilde v = v + \varepsilon$.

Divergences (per dimension, then averaged over the ``d`` dimensions):

* ``"jeffreys"`` (default): $\tfrac12[\tilde v_V/\tilde v_I + \tilde v_I/\tilde v_V - 2 +
  (\mu_V - \mu_I)^2 (1/\tilde v_V + 1/\tilde v_I)]$ = (KL(V‖I) + KL(I‖V)) / d;
* ``"w2"``: $[(\mu_V - \mu_I)^2 + (\sqrt{\tilde v_V} - \sqrt{\tilde v_I})^2] / \tau$;
* ``"moments"``: $(\mu_V - \mu_I)^2/\tau + (\log \tilde v_V - \log \tilde v_I)^2$.

At identity level the divergence is taken between $\mathcal N(\mu_{p,V}, \tilde s^2_V)$
and $\mathcal N(\mu_{p,I}, \tilde s^2_I)$ and averaged over $p \in S$;
``level="both"`` adds the modality- and identity-level values.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vireid.losses._checks import (
    check_choice,
    check_number,
    compute_dtype,
    full_precision,
    warn_once,
    zero_loss,
)
from vireid.losses.triplet import _prepare

__all__ = ["DistributionConsistencyLoss", "distribution_consistency_loss"]

DIVERGENCES: tuple[str, ...] = ("jeffreys", "w2", "moments")
LEVELS: tuple[str, ...] = ("modality", "identity", "both")
DETACH_SIDES: tuple[str | None, ...] = (None, "V", "I")


def _check_options(
    divergence: str,
    level: str,
    eps_rel: float,
    eps_abs: float,
    detach: str | None,
    max_term: float | None,
    modality_pair: Sequence[int],
) -> tuple[float, float, float | None, tuple[int, int]]:
    check_choice(divergence, "divergence", DIVERGENCES)
    check_choice(level, "level", LEVELS)
    check_choice(detach, "detach", DETACH_SIDES)
    eps_rel = check_number(eps_rel, "eps_rel", minimum=0.0)
    eps_abs = check_number(eps_abs, "eps_abs", minimum=0.0)
    if eps_abs <= 0.0:
        raise ValueError(f"eps_abs must be > 0 (it protects the all-zero batch), got {eps_abs}")
    if max_term is not None:
        max_term = check_number(max_term, "max_term", minimum=0.0)
    pair = tuple(modality_pair)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"modality_pair must be two integers (visible, infrared), got {pair!r}")
    if pair[0] == pair[1]:
        raise ValueError(f"modality_pair must name two different modalities, got {pair!r}")
    return eps_rel, eps_abs, max_term, (pair[0], pair[1])


def _divergence_terms(
    divergence: str,
    gap2: torch.Tensor,
    v_v: torch.Tensor,
    v_i: torch.Tensor,
    tau: torch.Tensor,
) -> torch.Tensor:
    """Per-dimension divergence terms (floored variances ``v_v``, ``v_i``)."""
    if divergence == "jeffreys":
        return 0.5 * (v_v / v_i + v_i / v_v - 2.0 + gap2 * (1.0 / v_v + 1.0 / v_i))
    if divergence == "w2":
        return (gap2 + (v_v.sqrt() - v_i.sqrt()).pow(2)) / tau
    return gap2 / tau + (v_v.log() - v_i.log()).pow(2)


def _dcl(
    features: object,
    labels: object,
    modalities: object,
    divergence: str,
    level: str,
    eps_rel: float,
    eps_abs: float,
    detach: str | None,
    max_term: float | None,
    modality_pair: Sequence[int],
) -> tuple[torch.Tensor, bool]:
    """Return ``(loss, skipped)``; ``skipped`` is True for an undefined (zero) batch."""
    eps_rel, eps_abs, max_term, (mod_v, mod_i) = _check_options(
        divergence, level, eps_rel, eps_abs, detach, max_term, modality_pair
    )
    x, y, m = _prepare(
        features, labels, modalities, need_modalities=True, why="by the distribution loss"
    )
    assert m is not None
    with full_precision(x.device):
        z = x.to(compute_dtype(x))
        dt = z.dtype
        is_v = m == mod_v
        is_i = m == mod_i
        same = y[:, None] == y[None, :]
        n_v = (same & is_v[None, :]).sum(dim=1)  # n_{y_a, V} for every sample a
        n_i = (same & is_i[None, :]).sum(dim=1)
        in_s = (n_v > 0) & (n_i > 0)
        use_v = is_v & in_s
        use_i = is_i & in_s
        counts = torch.stack([use_v.sum(), use_i.sum()])
        # The single host synchronisation: is the batch usable at all?
        if bool((counts < 2).any()):
            warn_once(
                "distribution_consistency_loss:undefined",
                "distribution_consistency_loss: fewer than 2 samples of a modality belong to "
                "identities seen in both modalities in this batch; returning a zero loss.",
            )
            return zero_loss(x), True
        if detach == "V":
            z = torch.where(is_v[:, None], z.detach(), z)
        elif detach == "I":
            z = torch.where(is_i[:, None], z.detach(), z)

        # |S| counted exactly: visible samples of S that are the first of their identity.
        earlier = torch.ones_like(same).tril(diagonal=-1)
        first_v = use_v & ~(same & use_v[None, :] & earlier).any(dim=1)
        n_ids = first_v.sum().to(dt)
        nv = n_v.clamp(min=1).to(dt)
        ni = n_i.clamp(min=1).to(dt)

        def modality_stats(use: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, ...]:
            w = torch.where(use, 1.0 / (n_ids * n), torch.zeros_like(n))
            mu = w @ z
            var = w @ (z - mu).pow(2)
            return mu, var

        mu_v, var_v = modality_stats(use_v, nv)
        mu_i, var_i = modality_stats(use_i, ni)

        def reduce(terms: torch.Tensor) -> torch.Tensor:
            if max_term is not None:
                terms = terms.clamp(max=max_term)
            return terms.mean(dim=-1)

        def floored(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, ...]:
            tau = (0.5 * (a + b)).mean().detach()
            eps = eps_rel * tau + eps_abs
            return a + eps, b + eps, tau.clamp(min=eps_abs)

        loss = z.new_zeros(())
        if level in ("modality", "both"):
            tv, ti, tau = floored(var_v, var_i)
            loss = loss + reduce(_divergence_terms(divergence, (mu_v - mu_i).pow(2), tv, ti, tau))
        if level in ("identity", "both"):
            g_v = (same & use_v[None, :]).to(dt)
            g_i = (same & use_i[None, :]).to(dt)
            mu_pv = (g_v @ z) / nv[:, None]  # mu_{y_a, V} for every sample a of S
            mu_pi = (g_i @ z) / ni[:, None]
            ss_v = (use_v.to(dt)[:, None] * (z - mu_pv).pow(2)).sum(dim=0)
            ss_i = (use_i.to(dt)[:, None] * (z - mu_pi).pow(2)).sum(dim=0)
            den_v = counts[0].to(dt) - n_ids
            den_i = counts[1].to(dt) - n_ids
            s2_v = torch.where(den_v > 0, ss_v / den_v.clamp(min=1), var_v)
            s2_i = torch.where(den_i > 0, ss_i / den_i.clamp(min=1), var_i)
            tv, ti, tau = floored(s2_v, s2_i)
            per_sample = reduce(_divergence_terms(divergence, (mu_pv - mu_pi).pow(2), tv, ti, tau))
            # Average over identities: one representative (first visible sample) each.
            w_id = torch.where(first_v, torch.ones_like(nv), torch.zeros_like(nv))
            loss = loss + (per_sample * w_id).sum() / n_ids
        return loss, False


def distribution_consistency_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    divergence: str = "jeffreys",
    level: str = "modality",
    eps_rel: float = 1e-3,
    eps_abs: float = 1e-6,
    detach: str | None = None,
    max_term: float | None = None,
    modality_pair: Sequence[int] = (0, 1),
) -> torch.Tensor:
    r"""Divergence between diagonal Gaussian fits of the two modalities' features.

    See the module docstring for the equations. Default: symmetric KL (Jeffreys) at modality
    level, $J = \frac{1}{2d}\sum_k [\tilde v_{V,k}/\tilde v_{I,k} + \tilde v_{I,k}/\tilde
    v_{V,k} - 2 + (\mu_{V,k} - \mu_{I,k})^2 (1/\tilde v_{V,k} + 1/\tilde v_{I,k})]$.

    Only identities present in both modalities enter the fits. Samples whose modality is not
    in ``modality_pair`` are ignored.

    Args:
        features: Features ``(B, d)``; the proposal applies the loss to the unified BN-neck
            features.
        labels: Identity labels ``(B,)``.
        modalities: Modality labels ``(B,)`` (required).
        divergence: ``"jeffreys"`` (default), ``"w2"`` (2-Wasserstein divided by the detached
            scale τ) or ``"moments"``.
        level: ``"modality"`` (default), ``"identity"`` or ``"both"`` (their sum).
        eps_rel: Relative variance floor ε_rel. Default ``1e-3``.
        eps_abs: Absolute variance floor ε_abs (> 0). Default ``1e-6``; it also bounds τ from
            below where τ divides (``w2``, ``moments``), so an all-zero batch gives 0, not NaN.
        detach: ``None`` (gradients into both modalities, default), ``"V"`` or ``"I"`` (that
            modality becomes a fixed target).
        max_term: Optional clamp of each per-dimension term before averaging. Default none.
        modality_pair: The ``(visible, infrared)`` modality values. Default ``(0, 1)``.

    Returns:
        Scalar loss (float32, float64 for float64 features). A graph-attached zero with a
        one-time warning when no identity is in both modalities or a modality has fewer than
        two usable samples.
    """
    return _dcl(
        features,
        labels,
        modalities,
        divergence,
        level,
        eps_rel,
        eps_abs,
        detach,
        max_term,
        modality_pair,
    )[0]


class DistributionConsistencyLoss(nn.Module):
    r"""Gaussian cross-modality distribution consistency loss (module form).

    A proposal *inspired by* Zhang et al. (IJMLC 2025), whose equations are not public: diagonal
    Gaussians fitted to each modality's features (over identities present in both) are aligned
    with symmetric KL by default. See `distribution_consistency_loss`.

    Args:
        divergence: ``"jeffreys"`` (default), ``"w2"`` or ``"moments"``.
        level: ``"modality"`` (default), ``"identity"`` or ``"both"``.
        eps_rel: Relative variance floor. Default ``1e-3``.
        eps_abs: Absolute variance floor. Default ``1e-6``.
        detach: ``None``, ``"V"`` or ``"I"``.
        max_term: Optional per-dimension clamp.
        modality_pair: ``(visible, infrared)`` modality values. Default ``(0, 1)``.

    Attributes:
        skipped_batches: How many calls returned the zero loss because the batch left the fits
            undefined.

    Shape:
        ``forward(features, labels, modalities)``: ``(B, d)``, ``(B,)``, ``(B,)``; returns a
        scalar.
    """

    def __init__(
        self,
        divergence: str = "jeffreys",
        level: str = "modality",
        eps_rel: float = 1e-3,
        eps_abs: float = 1e-6,
        detach: str | None = None,
        max_term: float | None = None,
        modality_pair: Sequence[int] = (0, 1),
    ) -> None:
        super().__init__()
        eps_rel, eps_abs, max_term, pair = _check_options(
            divergence, level, eps_rel, eps_abs, detach, max_term, modality_pair
        )
        self.divergence = divergence
        self.level = level
        self.eps_rel = eps_rel
        self.eps_abs = eps_abs
        self.detach = detach
        self.max_term = max_term
        self.modality_pair = pair
        self.skipped_batches = 0

    def forward(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        modalities: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the scalar loss (see `distribution_consistency_loss`)."""
        loss, skipped = _dcl(
            features,
            labels,
            modalities,
            self.divergence,
            self.level,
            self.eps_rel,
            self.eps_abs,
            self.detach,
            self.max_term,
            self.modality_pair,
        )
        self.skipped_batches += int(skipped)
        return loss

    def extra_repr(self) -> str:
        """Options shown in the module's repr."""
        return (
            f"divergence={self.divergence!r}, level={self.level!r}, eps_rel={self.eps_rel}, "
            f"eps_abs={self.eps_abs}, detach={self.detach!r}, max_term={self.max_term}, "
            f"modality_pair={self.modality_pair}"
        )
