"""Loop oracles for the IDKL losses, written from the spec (`/work/shared/spec/idkl.md`).

Plain Python over lists of float64 numbers, one sample at a time: no vectorisation and no code
shared with :mod:`vireid.losses`. Every function takes the same arguments as its library
counterpart and returns a float64 scalar tensor (no autograd). Pairings are built from labels:
within a modality, images sorted by identity label and, inside an identity, by order of
appearance in the batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

# ----------------------------------------------------------------------------- basic pieces


def _rows(x: torch.Tensor) -> list[list[float]]:
    return x.detach().double().cpu().tolist()


def _ints(x: torch.Tensor) -> list[int]:
    return [int(v) for v in x.detach().cpu().tolist()]


def _log_softmax(row: list[float]) -> list[float]:
    m = max(row)
    lse = m + math.log(sum(math.exp(v - m) for v in row))
    return [v - lse for v in row]


def _kl(lp: list[float], lq: list[float]) -> float:
    total = 0.0
    for a, b in zip(lp, lq, strict=True):
        p = math.exp(a)
        if p > 0.0:
            total += p * (a - b)
    return total


def _div(s: list[list[float]], t: list[list[float]], kl: str, reduction: str) -> float:
    total = 0.0
    for srow, trow in zip(s, t, strict=True):
        if not srow:
            continue
        lp, lq = _log_softmax(srow), _log_softmax(trow)
        total += _kl(lp, lq)
        if kl == "symmetric":
            total += _kl(lq, lp)
    return total / len(s) if reduction == "batchmean" else total


def _out(v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64)


def symmetric_kl(s: torch.Tensor, t: torch.Tensor, reduction: str = "batchmean") -> torch.Tensor:
    return _out(_div(_rows(s), _rows(t), "symmetric", reduction))


def kl_divergence(s: torch.Tensor, t: torch.Tensor, reduction: str = "batchmean") -> torch.Tensor:
    return _out(_div(_rows(s), _rows(t), "forward", reduction))


# ----------------------------------------------------------------------------- TGSA


def _dist(u: list[float], v: list[float]) -> float:
    return math.sqrt(max(sum((a - b) ** 2 for a, b in zip(u, v, strict=True)), 1e-6))


def _graph(
    a: list[list[float]], b: list[list[float]], exclude_self: bool, sign: float, tau: float
) -> list[list[float]]:
    out = []
    for i, u in enumerate(a):
        out.append(
            [sign * _dist(u, v) / tau for j, v in enumerate(b) if not (exclude_self and i == j)]
        )
    return out


def _defaults(variant: str, cross, kl, reduction, exclude_self):
    paper = variant == "paper"
    return (
        ("true" if paper else "none") if cross is None else cross,
        ("forward" if paper else "symmetric") if kl is None else kl,
        ("sum" if paper else "batchmean") if reduction is None else reduction,
        (not paper) if exclude_self is None else exclude_self,
    )


def _tgsa(a, b, cross, kl, reduction, excl, sign, tau) -> float:
    ga = _graph(a, a, excl, sign, tau)
    gb = _graph(b, b, excl, sign, tau)
    loss = _div(ga, gb, kl, reduction)
    if cross == "none":
        return loss
    if cross == "true":
        gx = _graph(a, b, excl, sign, tau)
    else:
        h = len(a) // 2
        mixed = a[:h] + b[:h]
        gx = _graph(mixed, mixed, excl, sign, tau)
    return loss + _div(ga, gx, kl, reduction) + _div(gx, gb, kl, reduction)


def tgsa_loss(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    variant: str = "reference",
    cross: str | None = None,
    kl: str | None = None,
    reduction: str | None = None,
    exclude_self: bool | None = None,
    sign: float = 1.0,
    tau: float = 1.0,
    detach_teacher: bool = False,
) -> torch.Tensor:
    cross, kl, reduction, excl = _defaults(variant, cross, kl, reduction, exclude_self)
    return _out(_tgsa(_rows(a), _rows(b), cross, kl, reduction, excl, sign, tau))


def _groups(labels: list[int], modalities: list[int], m: int) -> dict[int, list[int]]:
    """Identity -> batch positions of its images of modality m, in order of appearance."""
    out: dict[int, list[int]] = {}
    for i, (y, t) in enumerate(zip(labels, modalities, strict=True)):
        if t == m:
            out.setdefault(y, []).append(i)
    return dict(sorted(out.items()))


def _canonical(groups: dict[int, list[int]]) -> list[int]:
    return [i for ids in groups.values() for i in ids]


def tgsa_distillation_loss(
    shared: torch.Tensor,
    specific: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    *,
    variant: str = "reference",
    kl: str | None = None,
    reduction: str | None = None,
    exclude_self: bool | None = None,
    sign: float = 1.0,
    tau: float = 1.0,
    detach_teacher: bool = False,
) -> torch.Tensor:
    cross, kl, reduction, excl = _defaults(variant, None, kl, reduction, exclude_self)
    sh, sp, t = _rows(shared), _rows(specific), _ints(modalities)
    total = 0.0
    for m in (0, 1):
        idx = [i for i in range(len(t)) if t[i] == m]
        if idx:
            total += _tgsa(
                [sp[i] for i in idx], [sh[i] for i in idx], cross, kl, reduction, excl, sign, tau
            )
    return _out(total)


# ----------------------------------------------------------------------------- CSA / MDR


def _set_rows(z: list[list[float]], groups: dict[int, list[int]]) -> list[list[float]]:
    k = len(next(iter(groups.values())))
    return [[v for ids in groups.values() for v in z[ids[r]]] for r in range(k)]


def csa_loss(
    shared_logits: torch.Tensor,
    specific_logits: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    *,
    variant: str = "reference",
    level: str | None = None,
    kl: str | None = None,
    reduction: str | None = None,
    tau: float = 1.0,
    detach_teacher: bool = False,
) -> torch.Tensor:
    paper = variant == "paper"
    level = ("sample" if paper else "both") if level is None else level
    kl = ("forward" if paper else "symmetric") if kl is None else kl
    reduction = ("sum" if paper else "batchmean") if reduction is None else reduction
    zsh = [[v / tau for v in r] for r in _rows(shared_logits)]
    zsp = [[v / tau for v in r] for r in _rows(specific_logits)]
    y, t = _ints(labels), _ints(modalities)
    total = 0.0
    for m in (0, 1):
        groups = _groups(y, t, m)
        if not groups:
            continue
        idx = _canonical(groups)
        if level in ("sample", "both"):
            total += _div([zsh[i] for i in idx], [zsp[i] for i in idx], kl, reduction)
        if level in ("set", "both"):
            total += _div(_set_rows(zsh, groups), _set_rows(zsp, groups), kl, reduction)
    return _out(total)


def mdr_loss(
    features: torch.Tensor | None,
    logits: torch.Tensor | None,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    *,
    variant: str = "reference",
    cross: str | None = None,
    set_level: bool | None = None,
    kl: str | None = None,
    reduction: str | None = None,
    exclude_self: bool | None = None,
    sign: float = 1.0,
    tau: float = 1.0,
    graph_weight: float = 1.0,
) -> torch.Tensor:
    paper = variant == "paper"
    cross, kl, reduction, excl = _defaults(
        variant, ("true" if paper else "mixed") if cross is None else cross, kl, reduction,
        exclude_self,
    )  # fmt: skip
    set_level = (not paper) if set_level is None else set_level
    y, t = _ints(labels), _ints(modalities)
    gv, gi = _groups(y, t, 0), _groups(y, t, 1)
    if not gv or not gi:
        return _out(0.0)
    assert {p: len(v) for p, v in gv.items()} == {p: len(v) for p, v in gi.items()}
    vis, ir = _canonical(gv), _canonical(gi)
    total = 0.0
    if features is not None:
        f = _rows(features)
        total += graph_weight * _tgsa(
            [f[i] for i in vis], [f[i] for i in ir], cross, kl, reduction, excl, sign, tau
        )
    if logits is not None:
        z = _rows(logits)
        total += _div([z[i] for i in vis], [z[i] for i in ir], kl, reduction)
        if set_level:
            total += _div(_set_rows(z, gv), _set_rows(z, gi), kl, reduction)
    return _out(total)


# ----------------------------------------------------------------------------- purifier


def _entropy(row: list[float]) -> float:
    return -sum(math.exp(v) * v for v in _log_softmax(row))


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def enhancement_loss(
    raw_logits: torch.Tensor,
    enhanced_logits: torch.Tensor,
    *,
    variant: str = "reference",
    margin: float = 0.0,
) -> torch.Tensor:
    raw, enh = _rows(raw_logits), _rows(enhanced_logits)
    total = 0.0
    for a_row, b_row in zip(raw, enh, strict=True):
        gap = _entropy(b_row) - _entropy(a_row) + margin
        total += _softplus(gap) if variant == "paper" else math.exp(max(0.0, gap)) - 1.0
    return _out(total / len(raw))


def _centroid(x: list[list[float]], idx: list[int]) -> list[float]:
    return [sum(x[i][c] for i in idx) / len(idx) for c in range(len(x[0]))]


def reduction_loss(
    normalized: torch.Tensor,
    reduced: torch.Tensor,
    labels: torch.Tensor,
    modalities: torch.Tensor,
    *,
    variant: str = "reference",
    margin: float = 0.0,
) -> torch.Tensor:
    u, v = _rows(normalized), _rows(reduced)
    y, t = _ints(labels), _ints(modalities)
    gv, gi = _groups(y, t, 0), _groups(y, t, 1)
    both = [p for p in gv if p in gi]
    if not both:
        return _out(0.0)

    def delta(x: list[list[float]], p: int) -> float:
        cv, ci = _centroid(x, gv[p]), _centroid(x, gi[p])
        return math.sqrt(sum((a - b + 1e-6) ** 2 for a, b in zip(cv, ci, strict=True)))

    total = 0.0
    for p in both:
        d = delta(v, p) - delta(u, p) + margin
        total += _softplus(d) if variant == "paper" else max(0.0, d)
    return _out(total / len(both))


def information_purifier_loss(
    raw_logits, enhanced_logits, normalized, reduced, labels, modalities, *,
    variant: str = "reference", margin_e: float = 0.0, margin_r: float = 0.0,
) -> torch.Tensor:  # fmt: skip
    return enhancement_loss(
        raw_logits, enhanced_logits, variant=variant, margin=margin_e
    ) + reduction_loss(normalized, reduced, labels, modalities, variant=variant, margin=margin_r)


# ----------------------------------------------------------------------------- confusion


def pseudo_modality_labels(modalities: torch.Tensor) -> torch.Tensor:
    t = _ints(modalities)
    b = len(t)
    assert b % 4 == 0 and all(t[i] != t[i + 1] for i in range(b - 1))
    doubled = [t[i // 2] for i in range(b)]  # t[:B/2] with every element repeated twice
    return torch.tensor([doubled[(i + 1) % b] for i in range(b)])  # roll by -1


def modality_confusion_loss(
    logits: torch.Tensor | Sequence[torch.Tensor],
    modalities: torch.Tensor,
    mode: str = "pseudo_label",
) -> torch.Tensor:
    heads = [logits] if isinstance(logits, torch.Tensor) else list(logits)
    t = _ints(modalities)
    if mode == "pseudo_label":
        t = _ints(pseudo_modality_labels(modalities))
    total = 0.0
    for z in heads:
        rows = _rows(z)
        head = 0.0
        for i, row in enumerate(rows):
            lp = _log_softmax(row)
            head += -sum(lp) / len(lp) if mode == "uniform" else -lp[t[i]]
        total += head / len(rows)
    return _out(total)
