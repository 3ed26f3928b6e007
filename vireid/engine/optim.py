"""The optimiser of a recipe, with one parameter group per part of the model."""

from __future__ import annotations

import torch
from torch import nn

from vireid.models.recipe import Recipe

__all__ = ["build_optimizer"]


def build_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """SGD, Adam or AdamW over the model's parameter groups, with the recipe's learning rates.

    A model that defines ``parameter_groups()`` (every [`vireid.models`][vireid.models] assembly)
    gets one group per entry: ``"head"`` (BN neck and classifier) at ``recipe.head_lr`` and every
    other group at ``recipe.lr`` (AGW: 0.1 and 0.01). Any other model gets one group at
    ``recipe.lr``. Weight decay applies to every trainable parameter, BN parameters included, as in
    the references; frozen parameters (the BN neck's bias) are left out. Each group records its base
    LR as ``"base_lr"`` for the schedule.

    Raises:
        ValueError: the model has no trainable parameter.
    """
    groups_fn = getattr(model, "parameter_groups", None)
    named = groups_fn() if callable(groups_fn) else {"all": list(model.parameters())}
    head_lr = recipe.head_lr if recipe.head_lr is not None else recipe.lr
    groups = []
    for name, params in named.items():
        params = [p for p in params if p.requires_grad]
        if not params:
            continue
        lr = head_lr if name == "head" else recipe.lr
        groups.append({"params": params, "lr": lr, "base_lr": lr, "name": name})
    if not groups:
        raise ValueError("the model has no trainable parameter")
    wd = recipe.weight_decay
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
            weight_decay=wd,
        )  # fmt: skip
    if recipe.optimizer == "adam":
        return torch.optim.Adam(groups, lr=recipe.lr, betas=recipe.betas, weight_decay=wd)
    return torch.optim.AdamW(groups, lr=recipe.lr, betas=recipe.betas, weight_decay=wd)
