"""A direct, loop-by-loop transcription of MCJA's CMR loss (mcja.md §4.1), float64.

Soft ranks come from the NumPy PAV oracle (forward) and its block-wise vector-Jacobian product
(backward), wrapped in a tiny autograd.Function, so neither the library's PAV nor its autograd
path is trusted. Queries are handled one at a time, in the reference's order.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.baselines import soft_rank_numpy


class _OracleSoftRank(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: float) -> torch.Tensor:  # type: ignore[override]
        ctx.x, ctx.eps = x.detach().cpu().numpy(), eps
        ranks, _ = soft_rank_numpy.soft_rank_vjp(ctx.x, np.zeros_like(ctx.x), "l2", eps)
        return torch.from_numpy(ranks).to(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        _, vjp = soft_rank_numpy.soft_rank_vjp(ctx.x, grad.cpu().numpy(), "l2", ctx.eps)
        return torch.from_numpy(vjp).to(grad), None


def oracle_soft_rank(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Differentiable soft rank (l2) of each row, computed by the NumPy oracle."""
    return _OracleSoftRank.apply(x, eps)


def cmr_loss_reference(
    features: torch.Tensor, labels: torch.Tensor, modalities: torch.Tensor, eps: float = 0.5
) -> torch.Tensor:
    """CMR exactly as specified: per modality, per kept query, soft ranks vs targets 1 / g."""
    f = features.double()
    per_modality = []
    for a in sorted(set(modalities.tolist())):
        queries = [i for i in range(len(f)) if int(modalities[i]) == a]
        gallery = [j for j in range(len(f)) if int(modalities[j]) != a]
        g = len(gallery)
        row_losses = []
        for i in queries:
            positives = [int(labels[j]) == int(labels[i]) for j in gallery]
            if not any(positives) or all(positives):
                continue
            d = torch.stack(
                [
                    (1 - torch.nn.functional.cosine_similarity(f[i], f[j], dim=0, eps=1e-8)) / 2
                    for j in gallery
                ]
            )
            r = oracle_soft_rank(d[None, :], eps)[0]
            t = torch.tensor([1.0 if p else float(g) for p in positives], dtype=torch.float64)
            row_losses.append((r - t).abs().mean())
        if row_losses:
            per_modality.append(torch.stack(row_losses).mean())
    if not per_modality:
        return (f * 0).sum()
    return torch.stack(per_modality).mean()
