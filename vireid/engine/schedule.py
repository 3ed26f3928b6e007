"""The learning-rate schedule of a recipe: warm-up, then step decay or cosine decay."""

from __future__ import annotations

import math

import torch

from vireid.models.recipe import Recipe

__all__ = ["lr_factor", "set_learning_rate"]


def lr_factor(recipe: Recipe, epoch: int, step: int = 0, steps: int = 1) -> float:
    r"""The factor that multiplies each group's base LR at ``step`` of ``steps`` in ``epoch``.

    With ``e`` the epoch (0-based), ``W`` = ``recipe.warmup_epochs`` and ``E`` =
    ``recipe.epochs``:

    * warm-up (``e < W``): ``(e + 1) / W`` per epoch — AGW's ``lr·(e+1)/10`` — or, with
      ``warmup_granularity="step"``, the same ramp per iteration, ``(t + 1) / (W·steps)`` for
      global step ``t``;
    * ``"multistep"``: ``gamma^k`` with ``k`` the number of milestones ``≤ e`` (the references'
      ``MultiStepLR`` stepped once per epoch);
    * ``"cosine"``: ``m + (1 − m)·(1 + cos(π·u))/2`` per iteration, ``u`` the fraction of the
      post-warm-up iterations done and ``m`` = ``recipe.min_lr_factor``.

    The factor depends only on ``(epoch, step, steps)``, so a resumed run recomputes it exactly.

    Args:
        recipe: The run's recipe.
        epoch: Epoch index, 0-based.
        step: Step within the epoch, 0-based.
        steps: Steps in this epoch (``len(sampler)``).
    """
    warm = recipe.warmup_epochs
    progress = epoch + step / max(1, steps)
    if epoch < warm:
        if recipe.warmup_granularity == "step":
            return min(1.0, (epoch * steps + step + 1) / (warm * max(1, steps)))
        return (epoch + 1) / warm
    if recipe.schedule == "multistep":
        return recipe.gamma ** sum(1 for m in recipe.milestones if m <= epoch)
    span = max(1e-12, recipe.epochs - warm)
    u = min(1.0, max(0.0, (progress - warm) / span))
    m = recipe.min_lr_factor
    return m + (1.0 - m) * 0.5 * (1.0 + math.cos(math.pi * u))


def set_learning_rate(
    optimizer: torch.optim.Optimizer, recipe: Recipe, epoch: int, step: int, steps: int
) -> float:
    """Set every group's LR to ``base_lr · lr_factor(...)``; returns the factor.

    Each parameter group carries its base LR as ``group["base_lr"]`` (set by
    [`vireid.engine.build_optimizer`][vireid.engine.build_optimizer]).
    """
    factor = lr_factor(recipe, epoch, step, steps)
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
    return factor
