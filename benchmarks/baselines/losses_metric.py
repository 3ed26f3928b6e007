"""Slow, obviously-correct metric losses: Python loops over anchors, float64 numpy.

Written from ``shared/spec/channel_aug_and_distribution.md`` (§A.5, Part B) and
``shared/spec/idkl.md`` (§7.1-7.2), independently of :mod:`vireid.losses`. Every function has the
argument list of the library function of the same name and returns a Python float (``0.0`` for
a batch the library declares undefined). Nothing here is vectorised or optimised.
"""

from __future__ import annotations

import math

import numpy as np


def _np(t) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().cpu().double().numpy() if t.is_floating_point() else t.cpu().numpy()
    return np.asarray(t)


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    """Reference Euclidean distance: sqrt(max(|a|^2 + |b|^2 - 2 a.b, 1e-12))."""
    sq = float(a @ a) + float(b @ b) - 2.0 * float(a @ b)
    return math.sqrt(max(sq, 1e-12))


def _softplus(v: float) -> float:
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


# ------------------------------------------------------------------------------------------------
# identity loss
# ------------------------------------------------------------------------------------------------


def cross_entropy_label_smooth(logits, labels, epsilon=0.1) -> float:
    z = _np(logits)
    y = _np(labels)
    total = 0.0
    for i in range(len(z)):
        row = z[i]
        mx = max(row)
        lse = mx + math.log(sum(math.exp(v - mx) for v in row))
        c = len(row)
        for k in range(c):
            q = (1 - epsilon) * (1.0 if k == y[i] else 0.0) + epsilon / c
            total += -q * (row[k] - lse)
    return total / len(z)


# ------------------------------------------------------------------------------------------------
# triplet family
# ------------------------------------------------------------------------------------------------


def triplet_loss(
    features,
    labels,
    modalities=None,
    margin=0.3,
    soft_margin=False,
    mining="batch_hard",
    cross_modality_only=False,
) -> float:
    f = _np(features)
    y = _np(labels)
    m = None if modalities is None else _np(modalities)
    n = len(f)

    def allowed(a, b):
        return not cross_modality_only or m[a] != m[b]

    def cost(gap):
        return _softplus(gap) if soft_margin else max(0.0, gap + margin)

    losses = []
    for a in range(n):
        if mining == "batch_hard":
            ps = [_dist(f[a], f[b]) for b in range(n) if y[b] == y[a] and allowed(a, b)]
            ns = [_dist(f[a], f[b]) for b in range(n) if y[b] != y[a] and allowed(a, b)]
            if ps and ns:
                losses.append(cost(max(ps) - min(ns)))
        else:
            for p in range(n):
                if p == a or y[p] != y[a] or not allowed(a, p):
                    continue
                for q in range(n):
                    if y[q] == y[a] or not allowed(a, q):
                        continue
                    losses.append(cost(_dist(f[a], f[p]) - _dist(f[a], f[q])))
    return sum(losses) / len(losses) if losses else 0.0


def _weighted_mean(values: list[float], scores: list[float], reference: bool) -> float:
    """sum_j w_j v_j with w = softmax(scores); the reference variant keeps the AGW quirks."""
    if reference:
        # max over s*mask including the masked zeros: over the kept scores and 0.
        mx = max([*scores, 0.0])
        es = [math.exp(s - mx) for s in scores]
        z = sum(es) + 1e-6
    else:
        mx = max(scores)
        es = [math.exp(s - mx) for s in scores]
        z = sum(es)
    return sum(e * v for e, v in zip(es, values, strict=True)) / z


def adaptive_triplet_loss(
    features,
    labels,
    modalities=None,
    alpha=1.0,
    gamma=1.0,
    square=True,
    clamp=88.0,
    include_self_positive=True,
    cross_modality_only=False,
    variant="reference",
) -> float:
    f = _np(features)
    y = _np(labels)
    m = None if modalities is None else _np(modalities)
    n = len(f)
    ref = variant == "reference"
    losses = []
    for a in range(n):
        pd, nd = [], []
        for b in range(n):
            if cross_modality_only and m[a] == m[b]:
                continue
            if y[b] == y[a]:
                if b == a and not include_self_positive:
                    continue
                pd.append(_dist(f[a], f[b]))
            else:
                nd.append(_dist(f[a], f[b]))
        if not pd or not nd:
            continue
        dp = _weighted_mean(pd, [alpha * v for v in pd], ref)
        dn = _weighted_mean(nd, [-alpha * v for v in nd], ref)
        if square:
            delta = min(gamma * (dp - dn) ** 2, clamp)
            s = -1.0 if dp > dn else 1.0
            losses.append(_softplus(-s * delta))
        else:
            losses.append(_softplus(-gamma * (dn - dp)))
    return sum(losses) / len(losses) if losses else 0.0


def weighted_regularization_triplet(
    features,
    labels,
    modalities=None,
    include_self_positive=True,
    cross_modality_only=False,
    variant="reference",
) -> float:
    return adaptive_triplet_loss(
        features,
        labels,
        modalities,
        alpha=1.0,
        gamma=1.0,
        square=False,
        include_self_positive=include_self_positive,
        cross_modality_only=cross_modality_only,
        variant=variant,
    )


def hetero_center_triplet_loss(
    features, labels, modalities, margin=0.3, soft_margin=False, variant="reference"
) -> float:
    f = _np(features)
    y = _np(labels)
    m = _np(modalities)
    centres: dict[tuple[int, int], np.ndarray] = {}
    for key in sorted({(int(a), int(b)) for a, b in zip(y, m, strict=True)}):
        members = [f[i] for i in range(len(f)) if (y[i], m[i]) == key]
        centres[key] = sum(members) / len(members)
    losses = []
    for (p, mod), c in centres.items():
        ps = [_dist(c, c2) for (q, mod2), c2 in centres.items() if q == p and mod2 != mod]
        ns = [_dist(c, c2) for (q, _), c2 in centres.items() if q != p]
        if not ps or not ns:
            continue
        gap = max(ps) - min(ns)
        losses.append(_softplus(gap) if soft_margin else max(0.0, gap + margin))
    if not losses:
        return 0.0
    return sum(losses) if variant == "paper" else sum(losses) / len(losses)


# ------------------------------------------------------------------------------------------------
# Part B: distribution consistency and intra-modality losses
# ------------------------------------------------------------------------------------------------


def _div_terms(divergence, gaps2, vv, vi, tau):
    out = []
    for g2, a, b in zip(gaps2, vv, vi, strict=True):
        if divergence == "jeffreys":
            out.append(0.5 * (a / b + b / a - 2 + g2 * (1 / a + 1 / b)))
        elif divergence == "w2":
            out.append((g2 + (math.sqrt(a) - math.sqrt(b)) ** 2) / tau)
        else:
            out.append(g2 / tau + (math.log(a) - math.log(b)) ** 2)
    return out


def distribution_consistency_loss(
    features,
    labels,
    modalities,
    divergence="jeffreys",
    level="modality",
    eps_rel=1e-3,
    eps_abs=1e-6,
    detach=None,
    max_term=None,
    modality_pair=(0, 1),
) -> float:
    z = _np(features)
    y = [int(v) for v in _np(labels)]
    mods = [int(v) for v in _np(modalities)]
    mv, mi = modality_pair
    d = z.shape[1]
    ids_v = {y[a] for a in range(len(z)) if mods[a] == mv}
    ids_i = {y[a] for a in range(len(z)) if mods[a] == mi}
    s_ids = sorted(ids_v & ids_i)
    groups = {
        (p, mod): [z[a] for a in range(len(z)) if y[a] == p and mods[a] == mod]
        for p in s_ids
        for mod in (mv, mi)
    }
    if sum(len(groups[p, mv]) for p in s_ids) < 2 or sum(len(groups[p, mi]) for p in s_ids) < 2:
        return 0.0

    def reduce(terms):
        if max_term is not None:
            terms = [min(t, max_term) for t in terms]
        return sum(terms) / d

    def floor(vv, vi):
        tau = sum((a + b) / 2 for a, b in zip(vv, vi, strict=True)) / d
        eps = eps_rel * tau + eps_abs
        return [a + eps for a in vv], [b + eps for b in vi], max(tau, eps_abs)

    # modality-level Gaussians with identity-balanced weights
    stats = {}
    for mod in (mv, mi):
        mu = np.zeros(d)
        for p in s_ids:
            for v in groups[p, mod]:
                mu += v / (len(s_ids) * len(groups[p, mod]))
        var = np.zeros(d)
        for p in s_ids:
            for v in groups[p, mod]:
                var += (v - mu) ** 2 / (len(s_ids) * len(groups[p, mod]))
        stats[mod] = (mu, var)

    total = 0.0
    if level in ("modality", "both"):
        (mu_v, var_v), (mu_i, var_i) = stats[mv], stats[mi]
        vv, vi, tau = floor(list(var_v), list(var_i))
        total += reduce(_div_terms(divergence, list((mu_v - mu_i) ** 2), vv, vi, tau))
    if level in ("identity", "both"):
        pooled = {}
        for mod in (mv, mi):
            ss = np.zeros(d)
            den = 0
            for p in s_ids:
                mu_p = sum(groups[p, mod]) / len(groups[p, mod])
                for v in groups[p, mod]:
                    ss += (v - mu_p) ** 2
                den += len(groups[p, mod]) - 1
            pooled[mod] = ss / den if den > 0 else stats[mod][1]
        vv, vi, tau = floor(list(pooled[mv]), list(pooled[mi]))
        acc = 0.0
        for p in s_ids:
            mu_pv = sum(groups[p, mv]) / len(groups[p, mv])
            mu_pi = sum(groups[p, mi]) / len(groups[p, mi])
            acc += reduce(_div_terms(divergence, list((mu_pv - mu_pi) ** 2), vv, vi, tau))
        total += acc / len(s_ids)
    return total


def intra_modality_loss(features, labels, modalities, form="triplet", margin=0.3, rho=1.0) -> float:
    f = _np(features)
    y = [int(v) for v in _np(labels)]
    mods = [int(v) for v in _np(modalities)]
    total = 0.0
    for mod in sorted(set(mods)):
        idx = [a for a in range(len(f)) if mods[a] == mod]
        if form == "triplet":
            losses = []
            for a in idx:
                ps = [_dist(f[a], f[b]) for b in idx if b != a and y[b] == y[a]]
                ns = [_dist(f[a], f[b]) for b in idx if y[b] != y[a]]
                if ps and ns:
                    losses.append(max(0.0, max(ps) - min(ns) + margin))
            if losses:
                total += sum(losses) / len(losses)
            continue
        g = {a: f[a] / max(np.linalg.norm(f[a]), 1e-12) for a in idx}
        ids = sorted({y[a] for a in idx})
        centres = {
            p: sum(g[a] for a in idx if y[a] == p) / sum(y[a] == p for a in idx) for p in ids
        }
        total += sum(float(((g[a] - centres[y[a]]) ** 2).sum()) for a in idx) / len(idx)
        pairs = [(p, q) for i, p in enumerate(ids) for q in ids[i + 1 :]]
        if pairs:
            total += sum(
                max(0.0, rho - _dist(centres[p], centres[q])) ** 2 for p, q in pairs
            ) / len(pairs)
    return total
