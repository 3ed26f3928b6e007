r"""TGSA: Triplet Graph Structure Alignment (IDKL, Ren and Zhang, CVPR 2024, Eq. 15–17).

TGSA makes the specific branch's batch graph imitate the shared branch's, one modality at a
time. A graph is a row-wise softmax over **+Euclidean distance** (no minus sign and no
temperature in both the paper and the released code):

$$
A_{(a;b)}[i, j] = \frac{\exp D(a_i, b_j)}{\sum_k \exp D(a_i, b_k)}
$$

**Reference variant** (``variant="reference"``, default — the released code that produced the
published numbers): self-affinities with the diagonal removed, ``S(X) ∈ R^{n×(n−1)}``, compared
with the symmetric batch-mean KL of `vireid.losses.skl.symmetric_kl`:

$$
L_{tgsa} = \mathrm{SKL}(S(f_{sh}^V), S(f_{sp}^V)) + \mathrm{SKL}(S(f_{sh}^I), S(f_{sp}^I))
$$

**Paper variant** (``variant="paper"``, Eq. 16–17): for two aligned sets ``a`` (specific) and
``b`` (shared) of one modality, three full ``n×n`` graphs including the cross-branch one,
one-directional KL summed over rows:

$$
L^{(a;b)} = \sum_i \mathrm{KL}(A_{(a;a)}^i \| A_{(b;b)}^i) + \mathrm{KL}(A_{(a;a)}^i \|
    A_{(a;b)}^i) + \mathrm{KL}(A_{(a;b)}^i \| A_{(b;b)}^i),
\qquad L_{tgsa} = L^{(sp,V;\,sh,V)} + L^{(sp,I;\,sh,I)}
$$

| aspect | paper | reference code (default) |
|---|---|---|
| graphs per modality | ``A_(sp;sp)``, ``A_(sh;sh)``, cross-branch ``A_(sp;sh)`` | ``A_sh`` and ``A_sp`` only |
| self pairs | included (``n×n``) | excluded (``n×(n−1)``) |
| KL | one direction, summed over rows | symmetric, mean over rows |
| stop-gradient | not mentioned | none (``detach_teacher=False``) |
| logits | ``+D``, τ = 1 | ``+D``, τ = 1, pre-BN features |
| distance | Euclidean | ``sqrt(max(‖x‖²+‖y‖²−2x·y, 1e-6))`` |
| weight λ2 | 0.6 | 0.6 only when ``B == 120``; other batch sizes: 0.1 (caller's job) |

The two feature sets are two views of the *same* images (shared and specific branch), so the
loss is independent of the batch order; ``labels`` are only validated.
"""  # noqa: E501

from __future__ import annotations

from typing import Literal

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
    _KL_MODES,
    _REDUCTIONS,
    _VARIANTS,
    KLMode,
    Reduction,
    Variant,
    _divergence,
    _layout,
    _promoted_dtype,
    check_choice,
)

__all__ = ["TGSALoss", "graph_affinity", "tgsa_distillation_loss", "tgsa_loss"]

Cross = Literal["none", "true", "mixed"]
_CROSS = ("none", "true", "mixed")
_EPS = 1e-6


def _distance(a: torch.Tensor, b: torch.Tensor, eps: float = _EPS) -> torch.Tensor:
    """Euclidean distance by the expanded formula of the released code, clamped before sqrt."""
    d2 = a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1).unsqueeze(0) - 2.0 * (a @ b.t())
    return d2.clamp_min(eps).sqrt()


def _drop_diagonal(x: torch.Tensor) -> torch.Tensor:
    """``(n, n) → (n, n−1)``: row ``i`` keeps columns ``j ≠ i`` in increasing ``j``."""
    n = x.shape[0]
    if n <= 1:
        return x[:, :0]  # a slice, so the (empty) result stays on the autograd graph
    # Row-major trick without a boolean mask (no host sync): after skipping x[0, 0], every run
    # of n + 1 elements starts right after a diagonal entry and ends on the next one.
    return x.flatten()[1:].view(n - 1, n + 1)[:, :-1].reshape(n, n - 1)


def _graph(
    a: torch.Tensor, b: torch.Tensor, exclude_self: bool, sign: float, tau: float
) -> torch.Tensor:
    logits = _distance(a, b) * (sign / tau)
    return _drop_diagonal(logits) if exclude_self else logits


def graph_affinity(
    a: torch.Tensor,
    b: torch.Tensor | None = None,
    *,
    exclude_self: bool = True,
    sign: float = 1.0,
    tau: float = 1.0,
) -> torch.Tensor:
    r"""Row-wise log-softmax graph ``log A_(a;b)`` over ``sign · D(a_i, b_j) / tau``.

    ``D`` is the Euclidean distance in the released code's form,
    ``sqrt(max(‖a_i‖² + ‖b_j‖² − 2 a_i·b_j, 1e-6))``, computed in float32 (float64 for float64
    inputs) outside autocast.

    Args:
        a: Row features, shape ``(n, d)``.
        b: Column features, shape ``(m, d)``; ``None`` (default) means ``a`` (a self-graph).
        exclude_self: Drop column ``i`` from row ``i`` (default ``True``, the released code),
            giving ``(n, n−1)``; needs ``n == m``.
        sign: ``+1`` (default, both paper and code) puts the most mass on the *farthest*
            sample; ``-1`` gives the usual similarity form.
        tau: Temperature, ``> 0`` (default 1).

    Returns:
        Log-probabilities, shape ``(n, m)`` or ``(n, n−1)``.

    Raises:
        TypeError: If a feature input is not a floating-point tensor.
        ValueError: On shape mismatches, ``tau <= 0`` or ``sign`` not ``±1``.
    """
    check_features(a, "a")
    b_ = a if b is None else check_features(b, "b")
    if a.shape[1] != b_.shape[1] or a.device != b_.device:
        raise ValueError(
            f"a and b must share feature size and device, got {tuple(a.shape)} on {a.device} "
            f"and {tuple(b_.shape)} on {b_.device}"
        )
    _check_graph_options(sign, tau)
    if exclude_self and a.shape[0] != b_.shape[0]:
        raise ValueError(
            f"exclude_self needs as many rows in a as in b, got {a.shape[0]} and {b_.shape[0]}"
        )
    dtype = _promoted_dtype(a, b_)
    with full_precision(a.device):
        return torch.log_softmax(_graph(a.to(dtype), b_.to(dtype), exclude_self, sign, tau), 1)


def _check_graph_options(sign: float, tau: float) -> None:
    if check_number(sign, "sign") not in (1.0, -1.0):
        raise ValueError(f"sign must be +1 or -1, got {sign!r}")
    check_number(tau, "tau", positive=True)


def _tgsa_core(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    cross: str,
    kl: str,
    reduction: str,
    exclude_self: bool,
    sign: float,
    tau: float,
) -> torch.Tensor:
    """Unchecked TGSA between aligned sets ``a`` and ``b`` (already cast, outside autocast)."""
    g_a = _graph(a, a, exclude_self, sign, tau)
    g_b = _graph(b, b, exclude_self, sign, tau)
    loss = _divergence(g_a, g_b, kl, reduction)
    if cross == "none":
        return loss
    if cross == "true":
        g_x = _graph(a, b, exclude_self, sign, tau)
    else:  # "mixed": first half of a's rows followed by the first half of b's
        if a.shape[0] % 2:
            raise ValueError(
                f"cross='mixed' mixes the first half of each modality's samples, so it needs an "
                f"even number of samples per modality, got {a.shape[0]}; use cross='true' or "
                f"'none', or a sampler with an even number of images per modality"
            )
        h = a.shape[0] // 2
        mixed = torch.cat([a[:h], b[:h]], 0)
        g_x = _graph(mixed, mixed, exclude_self, sign, tau)
    return loss + _divergence(g_a, g_x, kl, reduction) + _divergence(g_x, g_b, kl, reduction)


def _tgsa_defaults(
    variant: str,
    cross: str | None,
    kl: str | None,
    reduction: str | None,
    exclude_self: bool | None,
) -> tuple[str, str, str, bool]:
    paper = check_choice(variant, "variant", _VARIANTS) == "paper"
    cross = check_choice(("true" if paper else "none") if cross is None else cross, "cross", _CROSS)
    kl = check_choice(("forward" if paper else "symmetric") if kl is None else kl, "kl", _KL_MODES)
    reduction = check_choice(
        ("sum" if paper else "batchmean") if reduction is None else reduction,
        "reduction",
        _REDUCTIONS,
    )
    exclude_self = (not paper) if exclude_self is None else bool(exclude_self)
    return cross, kl, reduction, exclude_self


def tgsa_loss(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    variant: Variant = "reference",
    cross: Cross | None = None,
    kl: KLMode | None = None,
    reduction: Reduction | None = None,
    exclude_self: bool | None = None,
    sign: float = 1.0,
    tau: float = 1.0,
    detach_teacher: bool = False,
) -> torch.Tensor:
    r"""Graph-structure alignment between two *aligned* feature sets (row ``i`` ↔ row ``i``).

    With ``𝔻`` the chosen divergence (`symmetric_kl` or
    `kl_divergence`) and ``G(x, y)`` the graph logits of
    `graph_affinity`:

    * ``cross="none"`` (reference TGSA): ``𝔻(G(a,a), G(b,b))``;
    * ``cross="true"`` (paper Eq. 16):
      ``𝔻(G(a,a), G(b,b)) + 𝔻(G(a,a), G(a,b)) + 𝔻(G(a,b), G(b,b))``;
    * ``cross="mixed"`` (reference MDR graph): as ``"true"`` with ``G(a,b)`` replaced by the
      self-graph of ``X = [a[:n//2]; b[:n//2]]``, the released code's "mixed" matrix.

    This is the building block; `TGSALoss` and [`vireid.losses.mdr`][vireid.losses.mdr] split a
    batch by modality and call it. The caller is responsible for the alignment of ``a`` and ``b``.

    Args:
        a: Student-side features (paper: specific branch / visible), shape ``(n, d)``.
        b: Teacher-side features (paper: shared branch / infrared), shape ``(n, d)``.
        variant: ``"reference"`` (default) or ``"paper"``; sets the defaults of the
            ``None`` options below.
        cross: ``"none"`` / ``"true"`` / ``"mixed"``; default ``"none"`` (reference) or
            ``"true"`` (paper).
        kl: ``"symmetric"`` (reference default) or ``"forward"`` = ``KL(first ‖ second)``
            (paper default).
        reduction: Over rows: ``"batchmean"`` (reference default) or ``"sum"`` (paper default).
        exclude_self: Drop the diagonal of every graph; default ``True`` (reference) or
            ``False`` (paper).
        sign: Sign of the distance logits, default ``+1`` (paper and code).
        tau: Temperature, default 1.
        detach_teacher: Stop the gradient into ``b`` (default ``False``: the released code
            trains both sides).

    Returns:
        A scalar in float32 (float64 for float64 inputs).

    Raises:
        TypeError: If an input is not a floating-point tensor.
        ValueError: On shape mismatches or an unknown option.
    """
    check_features(a, "a")
    check_features(b, "b")
    check_same_batch(a, b, "a", "b")
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    _check_graph_options(sign, tau)
    cross_, kl_, red_, excl = _tgsa_defaults(variant, cross, kl, reduction, exclude_self)
    dtype = _promoted_dtype(a, b)
    if detach_teacher:
        b = b.detach()
    with full_precision(a.device):
        return _tgsa_core(
            a.to(dtype),
            b.to(dtype),
            cross=cross_,
            kl=kl_,
            reduction=red_,
            exclude_self=excl,
            sign=sign,
            tau=tau,
        )


def _check_branch_pair(
    shared: torch.Tensor, specific: torch.Tensor, labels: torch.Tensor, modalities: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    check_features(shared, "shared")
    check_features(specific, "specific")
    check_same_batch(shared, specific, "shared", "specific")
    n = shared.shape[0]
    return (
        check_labels(labels, "labels", n, shared.device),
        check_modalities(modalities, n, shared.device),
    )


def tgsa_distillation_loss(
    shared: torch.Tensor,
    specific: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    *,
    variant: Variant = "reference",
    kl: KLMode | None = None,
    reduction: Reduction | None = None,
    exclude_self: bool | None = None,
    sign: float = 1.0,
    tau: float = 1.0,
    detach_teacher: bool = False,
) -> torch.Tensor:
    r"""TGSA of a mixed-modality batch: per modality, specific graph ↔ shared graph.

    ``L = tgsa_loss(specific[V], shared[V]) + tgsa_loss(specific[I], shared[I])`` with the
    options of `tgsa_loss` (paper: ``L^(sp,V; sh,V) + L^(sp,I; sh,I)``, reference:
    ``SKL(S(f_sh^V), S(f_sp^V)) + SKL(S(f_sh^I), S(f_sp^I))``).

    Both sets hold the same images, so the result does not depend on the batch order.
    A modality absent from the batch contributes 0 (warned once per process); with both absent
    — impossible, since every sample must be 0 or 1 — there would be nothing to align.

    Args:
        shared: Shared-branch features ``f_sh`` (pre-BN in the reference), shape ``(B, d)``.
        specific: Specific-branch features ``f̃_sp``, shape ``(B, d')`` (same ``B``).
        labels: Identity labels, shape ``(B,)``; validated, not used.
        modalities: 0 visible, 1 infrared, shape ``(B,)``.
        variant: ``"reference"`` (default) or ``"paper"``.
        kl: See `tgsa_loss`.
        reduction: See `tgsa_loss`.
        exclude_self: See `tgsa_loss`.
        sign: See `tgsa_loss`.
        tau: See `tgsa_loss`.
        detach_teacher: Stop the gradient into ``shared``.

    Returns:
        A scalar in float32 (float64 for float64 inputs).

    Raises:
        TypeError: If an input has the wrong type or dtype.
        ValueError: On shape/device mismatches, a modality other than 0/1, or an unknown option.
    """
    y, t = _check_branch_pair(shared, specific, labels, modalities)
    _check_graph_options(sign, tau)
    cross_, kl_, red_, excl = _tgsa_defaults(variant, None, kl, reduction, exclude_self)
    lay = _layout(y, t)
    dtype = _promoted_dtype(shared, specific)
    teacher = shared.detach() if detach_teacher else shared
    terms = []
    with full_precision(shared.device):
        for idx, count, name in ((lay.vis, lay.n_vis, "visible"), (lay.ir, lay.n_ir, "infrared")):
            if count == 0:
                warn_once(
                    f"tgsa-no-{name}",
                    f"TGSA: the batch has no {name} images, so the {name} term is 0.",
                )
                continue
            terms.append(
                _tgsa_core(
                    specific[idx].to(dtype),
                    teacher[idx].to(dtype),
                    cross=cross_,
                    kl=kl_,
                    reduction=red_,
                    exclude_self=excl,
                    sign=sign,
                    tau=tau,
                )
            )
    if not terms:  # pragma: no cover - _layout rejects such batches
        return zero_loss(shared, specific)
    return torch.stack(terms).sum()


class TGSALoss(nn.Module):
    r"""Triplet Graph Structure Alignment between the specific and the shared branch.

    Calls `tgsa_distillation_loss`; see [`vireid.losses.tgsa`][vireid.losses.tgsa] for the equations
    and the paper-vs-code table. The weight (0.6 in the released SYSU/LLCM setup) is applied by the
    caller.

    Args:
        variant: ``"reference"`` (default: self-excluded +distance softmax, symmetric
            batch-mean KL, no cross-branch graph) or ``"paper"`` (three full graphs, forward KL,
            sum over rows).
        kl: Override of the divergence (``"symmetric"`` / ``"forward"``).
        reduction: Override of the row reduction (``"batchmean"`` / ``"sum"``).
        exclude_self: Override of the self-pair handling.
        sign: Sign of the distance logits, default ``+1``.
        tau: Temperature, default 1.
        detach_teacher: Stop the gradient into the shared features (default ``False``).

    Shape:
        - shared: ``(B, d)``; specific: ``(B, d')``; labels, modalities: ``(B,)``.
        - output: scalar.

    Example:
        >>> tgsa = TGSALoss()
        >>> loss = 0.6 * tgsa(f_sh, f_sp, labels, modalities)  # doctest: +SKIP
    """

    def __init__(
        self,
        variant: Variant = "reference",
        *,
        kl: KLMode | None = None,
        reduction: Reduction | None = None,
        exclude_self: bool | None = None,
        sign: float = 1.0,
        tau: float = 1.0,
        detach_teacher: bool = False,
    ) -> None:
        super().__init__()
        _tgsa_defaults(variant, None, kl, reduction, exclude_self)
        _check_graph_options(sign, tau)
        self.variant = variant
        self.kl = kl
        self.reduction = reduction
        self.exclude_self = exclude_self
        self.sign = sign
        self.tau = tau
        self.detach_teacher = detach_teacher

    def forward(
        self,
        shared: torch.Tensor,
        specific: torch.Tensor,
        labels: torch.Tensor,
        modalities: torch.Tensor,
    ) -> torch.Tensor:
        """TGSA loss of the batch (see `tgsa_distillation_loss`)."""
        return tgsa_distillation_loss(
            shared,
            specific,
            labels,
            modalities,
            variant=self.variant,
            kl=self.kl,
            reduction=self.reduction,
            exclude_self=self.exclude_self,
            sign=self.sign,
            tau=self.tau,
            detach_teacher=self.detach_teacher,
        )

    def extra_repr(self) -> str:  # noqa: D102
        return f"variant={self.variant!r}, sign={self.sign}, tau={self.tau}"
