r"""CSA: Class Semantic Alignment (IDKL, Ren and Zhang, CVPR 2024, Eq. 18–19).

CSA pulls the identity posteriors of the two branches together, image by image and modality by
modality. With ``Z_sh`` and ``Z_sp`` the ID logits of the shared and specific branch:

**Paper** (``variant="paper"``):

$$
L_{csa} = \sum_{i=1}^{N} \mathrm{KL}(Z_{sh,V}^i \| Z_{sp,V}^i)
        + \mathrm{KL}(Z_{sh,I}^i \| Z_{sp,I}^i)
$$

**Reference** (``variant="reference"``, default): a sample-level and a set-level term, both
with the symmetric batch-mean KL (`vireid.losses.skl.symmetric_kl`):

$$
L_{csa} = \sum_{m \in \{V, I\}} \mathrm{SKL}(Z_{sh}^m, Z_{sp}^m)
        + \mathrm{SKL}(\hat Z_{sh}^m, \hat Z_{sp}^m)
$$

where the set-level matrix ``Ẑ ∈ R^{k×(P·C)}`` places the ``r``-th image of every identity side
by side, ``Ẑ[r, p·C + c] = Z[p·k + r, c]`` (``P`` identities with ``k`` images each in that
modality), with one softmax over all ``P·C`` entries of a row.

| aspect | paper | reference code (default) |
|---|---|---|
| terms | sample level | sample level + set level (not in the paper) |
| KL | direction not stated; read as ``KL(Z_sh ‖ Z_sp)``, sum over samples | symmetric, mean over rows |
| specific logits | ``C_sp(f_sp)`` | ``W_sp·BN_sp(f̃_sp)`` (purified) |
| stop-gradient / τ | not mentioned / none | none / 1 |
| weight λ3 | 0.8 | 0.8 when ``B == 120``, else 0.3 (RegDB); applied by the caller |
| set-level grouping | — | by position: blocks of ``k = count(labels == labels[0]) // 2`` |

vireid groups the set level by labels instead of by position: within a modality, the images are
sorted by identity label and, inside an identity, by order of appearance in the batch; every
identity must have the same number ``k`` of images in that modality (``ValueError`` otherwise).
On a batch in the reference order (``IR, VIS, IR, VIS, …`` per identity, identities in
increasing label order) this is exactly the released computation. The set level depends on
which images share a row ``r``, i.e. on the order of each identity's images within a modality
(as in the released code, where that order is random); reordering identities or interleaving
modalities does not change the loss. The sample level does not depend on the order at all.
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
    _set_level,
    check_choice,
)

__all__ = ["CSALoss", "csa_loss"]

Level = Literal["sample", "set", "both"]
_LEVELS = ("sample", "set", "both")


def _csa_defaults(
    variant: str, level: str | None, kl: str | None, reduction: str | None
) -> tuple[str, str, str]:
    paper = check_choice(variant, "variant", _VARIANTS) == "paper"
    level = check_choice(
        ("sample" if paper else "both") if level is None else level, "level", _LEVELS
    )
    kl = check_choice(("forward" if paper else "symmetric") if kl is None else kl, "kl", _KL_MODES)
    reduction = check_choice(
        ("sum" if paper else "batchmean") if reduction is None else reduction,
        "reduction",
        _REDUCTIONS,
    )
    return level, kl, reduction


def _check_tau(tau: float) -> None:
    check_number(tau, "tau", positive=True)


def csa_loss(
    shared_logits: torch.Tensor,
    specific_logits: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    *,
    variant: Variant = "reference",
    level: Level | None = None,
    kl: KLMode | None = None,
    reduction: Reduction | None = None,
    tau: float = 1.0,
    detach_teacher: bool = False,
) -> torch.Tensor:
    r"""Class semantic alignment between the ID logits of the shared and specific branches.

    For each modality ``m`` present in the batch:
    ``𝔻(Z_sh[m] / τ, Z_sp[m] / τ)`` (sample level) and/or ``𝔻(Ẑ_sh[m] / τ, Ẑ_sp[m] / τ)``
    (set level), summed over the terms; ``𝔻`` is the symmetric KL or ``KL(shared ‖ specific)``.
    See [`vireid.losses.csa`][vireid.losses.csa] for the equations, the set-level layout and the
    paper-vs-code table.

    Edge batches: a modality absent from the batch contributes 0 (warned once per process).
    The set level raises ``ValueError`` when the identities of a modality do not all have the
    same number of images (the rearrangement is undefined); use ``level="sample"`` for such
    batches.

    Args:
        shared_logits: Shared-branch ID logits ``Z_sh``, shape ``(B, C)``.
        specific_logits: Specific-branch ID logits ``Z_sp``, shape ``(B, C)``.
        labels: Identity labels, shape ``(B,)``.
        modalities: 0 visible, 1 infrared, shape ``(B,)``.
        variant: ``"reference"`` (default) or ``"paper"``; sets the defaults of the ``None``
            options.
        level: ``"both"`` (reference default), ``"sample"`` (paper default) or ``"set"``.
        kl: ``"symmetric"`` (reference default) or ``"forward"`` (paper default).
        reduction: ``"batchmean"`` (reference default) or ``"sum"`` (paper default) over rows.
        tau: Temperature dividing both logits, default 1 (no ``τ²`` factor is applied).
        detach_teacher: Stop the gradient into ``shared_logits`` (default ``False``).

    Returns:
        A scalar in float32 (float64 for float64 inputs), computed outside autocast.

    Raises:
        TypeError: If an input has the wrong type or dtype.
        ValueError: On shape/device mismatches, a modality other than 0/1, an unknown option,
            or (set level) identities with unequal image counts within a modality.
    """
    check_features(shared_logits, "shared_logits")
    check_features(specific_logits, "specific_logits")
    check_same_batch(shared_logits, specific_logits, "shared_logits", "specific_logits")
    if shared_logits.shape != specific_logits.shape:
        raise ValueError(
            "shared_logits and specific_logits must have the same shape (B, C), got "
            f"{tuple(shared_logits.shape)} and {tuple(specific_logits.shape)}"
        )
    n = shared_logits.shape[0]
    y = check_labels(labels, "labels", n, shared_logits.device)
    t = check_modalities(modalities, n, shared_logits.device)
    level_, kl_, red_ = _csa_defaults(variant, level, kl, reduction)
    _check_tau(tau)
    lay = _layout(y, t)
    dtype = _promoted_dtype(shared_logits, specific_logits)
    teacher = shared_logits.detach() if detach_teacher else shared_logits
    terms = []
    with full_precision(shared_logits.device):
        zt = teacher.to(dtype) / tau
        zs = specific_logits.to(dtype) / tau
        for idx, count, k, name in (
            (lay.vis, lay.n_vis, lay.k_vis, "visible"),
            (lay.ir, lay.n_ir, lay.k_ir, "infrared"),
        ):
            if count == 0:
                warn_once(
                    f"csa-no-{name}",
                    f"CSA: the batch has no {name} images, so the {name} terms are 0.",
                )
                continue
            a, b = zt[idx], zs[idx]
            if level_ in ("sample", "both"):
                terms.append(_divergence(a, b, kl_, red_))
            if level_ in ("set", "both"):
                if k == 0:
                    raise ValueError(
                        f"set-level CSA needs every identity to have the same number of {name} "
                        "images in the batch (it stacks the r-th image of every identity into "
                        'one row); use level="sample" or a sampler with K/2 images per modality'
                    )
                terms.append(_divergence(_set_level(a, k), _set_level(b, k), kl_, red_))
    return torch.stack(terms).sum()


class CSALoss(nn.Module):
    r"""Class Semantic Alignment between the shared- and specific-branch ID logits.

    Calls `csa_loss`; see [`vireid.losses.csa`][vireid.losses.csa] for the equations and the
    paper-vs-code table. The weight (0.8 for SYSU/LLCM, 0.3 for RegDB in the released code) is
    applied by the caller.

    Args:
        variant: ``"reference"`` (default: sample + set level, symmetric batch-mean KL) or
            ``"paper"`` (sample level, ``KL(Z_sh ‖ Z_sp)`` summed over samples).
        level: Override: ``"sample"``, ``"set"`` or ``"both"``.
        kl: Override: ``"symmetric"`` or ``"forward"``.
        reduction: Override: ``"batchmean"`` or ``"sum"``.
        tau: Temperature, default 1.
        detach_teacher: Stop the gradient into the shared logits (default ``False``).

    Shape:
        - shared_logits, specific_logits: ``(B, C)``; labels, modalities: ``(B,)``.
        - output: scalar.

    Example:
        >>> csa = CSALoss()
        >>> loss = 0.8 * csa(z_sh, z_sp, labels, modalities)  # doctest: +SKIP
    """

    def __init__(
        self,
        variant: Variant = "reference",
        *,
        level: Level | None = None,
        kl: KLMode | None = None,
        reduction: Reduction | None = None,
        tau: float = 1.0,
        detach_teacher: bool = False,
    ) -> None:
        super().__init__()
        _csa_defaults(variant, level, kl, reduction)
        _check_tau(tau)
        self.variant = variant
        self.level = level
        self.kl = kl
        self.reduction = reduction
        self.tau = tau
        self.detach_teacher = detach_teacher

    def forward(
        self,
        shared_logits: torch.Tensor,
        specific_logits: torch.Tensor,
        labels: torch.Tensor,
        modalities: torch.Tensor,
    ) -> torch.Tensor:
        """CSA loss of the batch (see `csa_loss`)."""
        return csa_loss(
            shared_logits,
            specific_logits,
            labels,
            modalities,
            variant=self.variant,
            level=self.level,
            kl=self.kl,
            reduction=self.reduction,
            tau=self.tau,
            detach_teacher=self.detach_teacher,
        )

    def extra_repr(self) -> str:  # noqa: D102
        return f"variant={self.variant!r}, level={self.level!r}, tau={self.tau}"
