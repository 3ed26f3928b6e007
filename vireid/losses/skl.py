r"""Symmetric KL between row-wise softmax distributions, and the batch layout of the IDKL losses.

The IDKL alignment losses ([`vireid.losses.tgsa`][vireid.losses.tgsa],
[`vireid.losses.csa`][vireid.losses.csa], [`vireid.losses.mdr`][vireid.losses.mdr]) all compare two
score matrices row by row. The released IDKL code uses one measure for every comparison, the
*symmetric* KL with a batch mean:

$$
\mathrm{SKL}(S, T) = \frac{1}{n} \sum_{i=1}^{n}
    \big[\mathrm{KL}(q_i \,\|\, p_i) + \mathrm{KL}(p_i \,\|\, q_i)\big],
\qquad p_i = \mathrm{softmax}(S_i),\; q_i = \mathrm{softmax}(T_i),
$$

summed over columns, averaged over rows, no temperature and no stop-gradient (both inputs get
gradients). It is computed in log space (``log_softmax`` on both sides), so probabilities that
underflow to zero contribute ``0 · log 0 = 0`` and never ``NaN``.

Reference: Ren and Zhang, "Implicit Discriminative Knowledge Learning for Visible-Infrared
Person Re-Identification" (IDKL), CVPR 2024.

This module also holds the private helper that orders a batch by (modality, identity,
appearance) so that the "visible row i ↔ infrared row i" pairings of the released code are built
from labels instead of from the sampler's ordering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vireid.losses._checks import (
    check_choice,
    check_features,
    check_same_batch,
    compute_dtype,
    full_precision,
)

__all__ = ["SymmetricKLLoss", "kl_divergence", "symmetric_kl"]

KLMode = Literal["symmetric", "forward"]
Reduction = Literal["batchmean", "sum"]
Variant = Literal["reference", "paper"]

_KL_MODES = ("symmetric", "forward")
_REDUCTIONS = ("batchmean", "sum")
_VARIANTS = ("reference", "paper")


def _check_scores(s: object, t: object, name_s: str, name_t: str) -> None:
    check_features(s, name_s)
    check_features(t, name_t)
    assert isinstance(s, torch.Tensor) and isinstance(t, torch.Tensor)
    check_same_batch(s, t, name_s, name_t)
    if s.shape != t.shape:
        raise ValueError(
            f"{name_s} and {name_t} must have the same shape, "
            f"got {tuple(s.shape)} and {tuple(t.shape)}"
        )


def _promoted_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    """float64 when any input is float64, float32 otherwise (half precision is upcast)."""
    dtypes = [compute_dtype(t) for t in tensors if t is not None]
    return torch.float64 if torch.float64 in dtypes else torch.float32


def _kl_rows(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """Per-row KL(p ‖ q) from log-probabilities; ``0 · log 0`` terms are exactly zero."""
    p = log_p.exp()
    # Select on p == 0, not p > 0: a NaN probability must reach the value, not be masked out
    # of it while still poisoning the gradient.
    return torch.where(p == 0, torch.zeros_like(p), p * (log_p - log_q)).sum(dim=1)


def _divergence(
    s: torch.Tensor, t: torch.Tensor, kl: str = "symmetric", reduction: str = "batchmean"
) -> torch.Tensor:
    """Unchecked core of `symmetric_kl` / `kl_divergence` (inputs are logits)."""
    if s.shape[1] == 0:  # a row over no columns (e.g. a self-excluded 1 × 0 affinity)
        return (s.sum() + t.sum()) * 0.0
    log_p = F.log_softmax(s, dim=1)
    log_q = F.log_softmax(t, dim=1)
    rows = _kl_rows(log_p, log_q)
    if kl == "symmetric":
        rows = rows + _kl_rows(log_q, log_p)
    return rows.mean() if reduction == "batchmean" else rows.sum()


def symmetric_kl(
    s: torch.Tensor, t: torch.Tensor, reduction: Reduction = "batchmean"
) -> torch.Tensor:
    r"""Symmetric KL between the row-wise softmax distributions of two score matrices.

    $$
    \mathrm{SKL}(S, T) = \frac{1}{n} \sum_i
        \big[\mathrm{KL}(q_i \| p_i) + \mathrm{KL}(p_i \| q_i)\big],
    \quad p_i = \mathrm{softmax}(S_i),\ q_i = \mathrm{softmax}(T_i)
    $$

    This is the distillation measure of every IDKL alignment loss in the released code:
    symmetric, summed over columns, averaged over rows, temperature 1, no
    stop-gradient. Log-probabilities are accepted as scores too (``log_softmax`` is idempotent).

    Args:
        s: Scores (logits), shape ``(n, m)``.
        t: Scores (logits), shape ``(n, m)``, same device as ``s``.
        reduction: ``"batchmean"`` (default, the released code) divides the row sum by ``n``;
            ``"sum"`` keeps the sum over rows (the paper's equations).

    Returns:
        A scalar in float32 (float64 when an input is float64), computed outside autocast.

    Raises:
        TypeError: If an input is not a floating-point tensor.
        ValueError: If the shapes differ or are not 2-D, or ``reduction`` is unknown.
    """
    _check_scores(s, t, "s", "t")
    check_choice(reduction, "reduction", _REDUCTIONS)
    dtype = _promoted_dtype(s, t)
    with full_precision(s.device):
        return _divergence(s.to(dtype), t.to(dtype), "symmetric", reduction)


def kl_divergence(
    s: torch.Tensor, t: torch.Tensor, reduction: Reduction = "batchmean"
) -> torch.Tensor:
    r"""One-directional KL ``KL(softmax(S_i) ‖ softmax(T_i))`` reduced over rows.

    $$
    \mathrm{KL}(S, T) = \frac{1}{n} \sum_i \sum_j p_{ij} (\log p_{ij} - \log q_{ij}),
    \quad p_i = \mathrm{softmax}(S_i),\ q_i = \mathrm{softmax}(T_i)
    $$

    The paper writes ``KL(A, B)`` without saying which side is the target; vireid reads it as
    ``KL(A ‖ B)`` (expectation under the first argument) and uses this function for the
    ``kl="forward"`` option of the IDKL losses.

    Args:
        s: Scores whose softmax is the reference distribution ``p``, shape ``(n, m)``.
        t: Scores whose softmax is ``q``, shape ``(n, m)``.
        reduction: ``"batchmean"`` (default) or ``"sum"`` over rows.

    Returns:
        A scalar in float32 (float64 when an input is float64).

    Raises:
        TypeError: If an input is not a floating-point tensor.
        ValueError: If the shapes differ or are not 2-D, or ``reduction`` is unknown.
    """
    _check_scores(s, t, "s", "t")
    check_choice(reduction, "reduction", _REDUCTIONS)
    dtype = _promoted_dtype(s, t)
    with full_precision(s.device):
        return _divergence(s.to(dtype), t.to(dtype), "forward", reduction)


class SymmetricKLLoss(nn.Module):
    """Module form of `symmetric_kl` (``kl="forward"`` gives `kl_divergence`).

    Args:
        kl: ``"symmetric"`` (default, IDKL's released code) or ``"forward"``.
        reduction: ``"batchmean"`` (default) or ``"sum"``.

    Example:
        >>> loss = SymmetricKLLoss()(torch.randn(4, 10), torch.randn(4, 10))
    """

    def __init__(self, kl: KLMode = "symmetric", reduction: Reduction = "batchmean") -> None:
        super().__init__()
        self.kl = check_choice(kl, "kl", _KL_MODES)
        self.reduction = check_choice(reduction, "reduction", _REDUCTIONS)

    def forward(self, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Divergence between the row-wise softmaxes of ``s`` and ``t`` (both ``(n, m)``)."""
        fn = symmetric_kl if self.kl == "symmetric" else kl_divergence
        return fn(s, t, reduction=self.reduction)

    def extra_repr(self) -> str:  # noqa: D102
        return f"kl={self.kl!r}, reduction={self.reduction!r}"


# ---------------------------------------------------------------------------------------------
# Batch layout shared by the IDKL losses (private)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Visible and infrared samples of a batch in canonical order.

    ``vis`` / ``ir`` index the batch; each lists its modality's samples sorted by identity label,
    and by order of appearance in the batch within an identity. When ``paired`` is true every
    identity has as many visible as infrared images, so ``vis[i]`` and ``ir[i]`` are the
    ``r``-th visible and the ``r``-th infrared image of the same identity: the reference's
    "visible row i ↔ infrared row i" pairing. ``k_vis`` / ``k_ir`` are the common number of
    images per identity in a modality (0 when identities differ in count or the modality is
    absent), needed by the set-level terms.
    """

    vis: torch.Tensor
    ir: torch.Tensor
    n_vis: int
    n_ir: int
    paired: bool
    k_vis: int
    k_ir: int


def _layout(labels: torch.Tensor, modalities: torch.Tensor) -> _Layout:
    """Canonical (modality, identity, appearance) order of a batch, with one host sync.

    Raises:
        ValueError: If a modality is neither 0 (visible) nor 1 (infrared).
    """
    y, t = labels, modalities
    n = y.shape[0]
    order = torch.argsort(y, stable=True)
    order = order[torch.argsort(t[order], stable=True)]  # lexicographic (t, y, position)
    ts, ys = t[order], y[order]
    start = torch.ones(n, dtype=torch.bool, device=y.device)
    start[1:] = (ts[1:] != ts[:-1]) | (ys[1:] != ys[:-1])
    group = start.long().cumsum(0) - 1
    size = torch.zeros(n, dtype=torch.long, device=y.device)
    size = size.scatter_add(0, group, torch.ones_like(group))[group]  # group size per sample
    big = torch.full_like(size, n + 1)
    neg = torch.full_like(size, -1)
    vs, is_ = ts == 0, ts == 1
    sentinel = y.max() + 1
    yv = torch.sort(torch.where(t == 0, y, sentinel)).values
    yi = torch.sort(torch.where(t == 1, y, sentinel)).values
    stats = torch.stack(
        [
            ((t != 0) & (t != 1)).sum(),
            vs.sum(),
            is_.sum(),
            torch.where(vs, size, big).min(),
            torch.where(vs, size, neg).max(),
            torch.where(is_, size, big).min(),
            torch.where(is_, size, neg).max(),
            (yv != yi).sum(),
        ]
    ).tolist()  # the single host sync of the layout
    bad, n_vis, n_ir, kv_lo, kv_hi, ki_lo, ki_hi, mismatch = (int(v) for v in stats)
    if bad:
        bad_values = sorted({int(v) for v in t[(t != 0) & (t != 1)].tolist()})
        raise ValueError(
            "IDKL losses need modalities 0 (visible) or 1 (infrared), "
            f"got other values {bad_values}"
        )
    return _Layout(
        vis=order[:n_vis],
        ir=order[n_vis : n_vis + n_ir],
        n_vis=n_vis,
        n_ir=n_ir,
        paired=mismatch == 0,
        k_vis=kv_lo if n_vis and kv_lo == kv_hi else 0,
        k_ir=ki_lo if n_ir and ki_lo == ki_hi else 0,
    )


def _pairing_error(labels: torch.Tensor, lay: _Layout, loss: str) -> ValueError:
    """A message naming why visible and infrared images cannot be paired by identity."""
    vis = labels[lay.vis].tolist()
    ir = labels[lay.ir].tolist()
    only_v = sorted(set(vis) - set(ir))
    only_i = sorted(set(ir) - set(vis))
    unequal = sorted(p for p in set(vis) & set(ir) if vis.count(p) != ir.count(p))
    parts = []
    if only_v:
        parts.append(f"identities only in the visible images: {only_v[:10]}")
    if only_i:
        parts.append(f"identities only in the infrared images: {only_i[:10]}")
    if unequal:
        parts.append(f"identities with unequal visible/infrared counts: {unequal[:10]}")
    return ValueError(
        f"{loss} pairs the r-th visible image of each identity with its r-th infrared image, "
        "so every identity in the batch needs as many visible as infrared images; "
        + "; ".join(parts)
        + ". Use a sampler that draws K/2 images per modality for every identity."
    )


def _set_level(z: torch.Tensor, k: int) -> torch.Tensor:
    """Rearrange ``(P·k, C)`` scores grouped by identity into ``(k, P·C)``.

    Row ``r`` puts the ``r``-th image of every identity side by side:
    ``out[r, p·C + c] = z[p·k + r, c]`` (the released code's set-level CSA).
    """
    n, c = z.shape
    return z.reshape(n // k, k, c).transpose(0, 1).reshape(k, (n // k) * c)
