r"""Modality confusion loss of the IDKL shared branch (Ren and Zhang, CVPR 2024, §3.1).

A modality classifier ``C`` sits on the shared feature; the shared feature should leave it
unable to tell visible from infrared. Three ways to train it, chosen with ``mode``:

* ``"grl"`` (paper): cross-entropy with the *true* modality labels,
  ``L_C = −(1/B) Σ_i log softmax(z_i)_{t_i}``, on logits computed from a gradient-reversed
  feature ``C(GRL(f_sh))``. The reversal happens **in the model** (apply a gradient reversal
  layer before the classifier); this loss only sees the logits, so without the reversal it
  would *teach* the features the modality instead of hiding it.
* ``"pseudo_label"`` (reference, default): ordinary gradients against the released code's
  pseudo-labels ``t̃ = roll(repeat_each_twice(t[:B/2]), −1)``. On the reference batch order
  (``IR, VIS, IR, VIS, …``) ``t̃_i = 1`` iff ``i mod 4 ∈ {0, 3}``: half of each modality gets its
  true label and half the flipped one, so the optimum for classifier *and* features is a 0.5/0.5
  output. It needs modalities that strictly alternate and ``B`` divisible by 4; any other batch
  raises ``ValueError`` (with another order the pattern would no longer be balanced and would
  silently carry modality information).
* ``"uniform"``: cross-entropy against the uniform distribution over the ``M`` modality classes,
  ``L = −(1/B) Σ_i (1/M) Σ_c log softmax(z_i)_c`` — the deterministic, order-free counterpart of
  ``"pseudo_label"`` (its expectation).

With ``K`` heads pass a list of logits; the losses are summed (``L_C = Σ_j L_{C_j}``, paper).

| aspect | paper | reference code |
|---|---|---|
| mechanism | GRL (min-max), true labels | no GRL (built, never called); pseudo-labels, cooperative minimum |
| number of heads K | not given | 1 |
| classifier | not specified | MLP 2048→100→100→2 (BN, ReLU, dropout) |
| input | shared feature | post-BN shared feature ``g_sh`` |
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vireid.losses._checks import check_choice, check_features, check_modalities, full_precision
from vireid.losses.skl import _promoted_dtype

__all__ = ["ModalityConfusionLoss", "modality_confusion_loss", "pseudo_modality_labels"]

Mode = Literal["grl", "uniform", "pseudo_label"]
_MODES = ("grl", "uniform", "pseudo_label")


def pseudo_modality_labels(modalities: torch.Tensor) -> torch.Tensor:
    """The released code's confuser targets ``roll(repeat_each_twice(t[:B/2]), shift=−1)``.

    Args:
        modalities: 0 visible, 1 infrared, shape ``(B,)``, strictly alternating
            (``1, 0, 1, 0, …`` in the reference order, or ``0, 1, 0, 1, …``), ``B % 4 == 0``.

    Returns:
        Long tensor, shape ``(B,)``: every modality gets its true label on half of its samples
        and the flipped label on the other half.

    Raises:
        ValueError: If ``B`` is not a multiple of 4 or the modalities do not alternate (one
            host sync for the check).
    """
    t = modalities
    if t.dim() != 1:
        raise ValueError(f"modalities must have shape (B,), got {tuple(t.shape)}")
    b = t.shape[0]
    why = (
        'mode="pseudo_label" reproduces the released code\'s confuser targets, which are '
        "balanced (half true, half flipped labels in each modality) only on its sampler's "
        "order: modalities alternating IR, VIS, IR, VIS, ... and a batch size divisible by 4. "
        'Use mode="uniform" (its order-free equivalent) for other batches'
    )
    if b == 0 or b % 4:
        raise ValueError(f"{why}; got batch size {b}")
    first = t[0]
    broken = torch.stack(
        [
            (t[0::2] != first).any(),
            (t[1::2] != 1 - first).any(),
            (first != 0) & (first != 1),
        ]
    ).any()
    if bool(broken):  # the single host sync of this mode
        shown = t[:8].tolist()
        raise ValueError(f"{why}; got modalities starting {shown}")
    return torch.roll(torch.repeat_interleave(t[: b // 2].long(), 2), shifts=-1)


def _confusion_one(z: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    if target is None:
        return -F.log_softmax(z, dim=1).mean()
    return F.cross_entropy(z, target)


def modality_confusion_loss(
    logits: torch.Tensor | Sequence[torch.Tensor],
    modalities: torch.Tensor,
    mode: Mode = "pseudo_label",
) -> torch.Tensor:
    r"""Modality confusion loss for the shared branch.

    The equations and the paper-versus-code table are in
    [`vireid.losses.confusion`][vireid.losses.confusion].

    Args:
        logits: Modality-classifier logits, shape ``(B, M)`` with ``M >= 2``, or a sequence of
            such tensors (``K`` heads, summed). For ``mode="grl"`` they must come from a
            gradient-reversed feature; the model applies the reversal.
        modalities: 0 visible, 1 infrared, shape ``(B,)``.
        mode: ``"pseudo_label"`` (default, the released code; needs the reference batch order),
            ``"uniform"`` (order-free) or ``"grl"`` (paper, true labels).

    Returns:
        A scalar in float32 (float64 for float64 logits), computed outside autocast.

    Raises:
        TypeError: If an input has the wrong type or dtype.
        ValueError: On shape/device mismatches, an unknown ``mode``, modality labels outside
            ``[0, M)`` (``"grl"``), or a batch not in the reference order (``"pseudo_label"``).
    """
    check_choice(mode, "mode", _MODES)
    heads = [logits] if isinstance(logits, torch.Tensor) else list(logits)
    if not heads:
        raise ValueError("logits must be a tensor or a non-empty sequence of tensors")
    for j, z in enumerate(heads):
        name = "logits" if len(heads) == 1 else f"logits[{j}]"
        check_features(z, name)
        if z.shape[1] < 2:
            raise ValueError(
                f"{name} must have at least 2 modality classes, got shape {tuple(z.shape)}"
            )
        if z.shape != heads[0].shape or z.device != heads[0].device:
            raise ValueError(
                f"every head's logits must share shape and device, got {tuple(heads[0].shape)} "
                f"and {tuple(z.shape)}"
            )
    b, m = heads[0].shape
    t = check_modalities(modalities, b, heads[0].device)
    target: torch.Tensor | None = None
    if mode == "pseudo_label":
        target = pseudo_modality_labels(t)
    elif mode == "grl":
        if bool(((t < 0) | (t >= m)).any()):  # host sync: label range check
            raise ValueError(
                f"modalities must lie in [0, {m}) for {m} modality classes, "
                f"got values {sorted(set(t.tolist()))}"
            )
        target = t
    dtype = _promoted_dtype(*heads)
    with full_precision(heads[0].device):
        return torch.stack([_confusion_one(z.to(dtype), target) for z in heads]).sum()


class ModalityConfusionLoss(nn.Module):
    r"""Modality confusion loss of the IDKL shared branch.

    Calls `modality_confusion_loss`. For ``mode="grl"`` the model must feed the modality
    classifier a gradient-reversed feature (the loss cannot do it: it only sees logits).

    Args:
        mode: ``"pseudo_label"`` (default, the released code; requires the reference
            ``IR, VIS, …`` batch order and ``B % 4 == 0``), ``"uniform"`` (order-free equivalent)
            or ``"grl"`` (paper).

    Shape:
        - logits: ``(B, M)`` or a sequence of ``(B, M)``; modalities: ``(B,)``.
        - output: scalar.

    Example:
        >>> confusion = ModalityConfusionLoss("uniform")
        >>> loss = confusion(classifier(g_sh), modalities)  # doctest: +SKIP
    """

    def __init__(self, mode: Mode = "pseudo_label") -> None:
        super().__init__()
        self.mode = check_choice(mode, "mode", _MODES)

    def forward(
        self, logits: torch.Tensor | Sequence[torch.Tensor], modalities: torch.Tensor
    ) -> torch.Tensor:
        """Confusion loss of the batch (see `modality_confusion_loss`)."""
        return modality_confusion_loss(logits, modalities, self.mode)

    def extra_repr(self) -> str:  # noqa: D102
        return f"mode={self.mode!r}"
