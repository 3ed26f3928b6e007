"""Distribution consistency (DCL) and intra-modality losses: spec vectors, loop oracles, edges."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vireid.losses._checks as checks
from benchmarks.baselines import losses_metric as oracle
from vireid.losses.distribution import (
    DistributionConsistencyLoss,
    distribution_consistency_loss,
)
from vireid.losses.intra_modality import IntraModalityLoss, intra_modality_loss

DCL = distribution_consistency_loss


@pytest.fixture(autouse=True)
def _fresh_warnings():
    checks._WARNED.clear()
    yield
    checks._WARNED.clear()


def _batch(seed, p=4, k=3, d=5, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(p).repeat_interleave(2 * k)
    m = torch.tensor([0, 1]).repeat_interleave(k).repeat(p)
    f = torch.randn(len(y), d, generator=g, dtype=torch.float64)
    f = f + 0.7 * m[:, None].double() * torch.randn(1, d, generator=g, dtype=torch.float64)
    perm = torch.randperm(len(y), generator=g)
    return f[perm].to(dtype), y[perm], m[perm]


def _unbalanced():
    """Uneven counts, identity 3 only visible, identity 4 only infrared, a third modality."""
    g = torch.Generator().manual_seed(42)
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 2, 1])
    m = torch.tensor([0, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 2, 2])
    return torch.randn(len(y), 4, generator=g, dtype=torch.float64), y, m


VEC1 = (
    torch.tensor([[0.0, 1.0], [2.0, 3.0], [1.0, 0.0], [3.0, 4.0]], dtype=torch.float64),
    torch.tensor([0, 1, 0, 1]),
    torch.tensor([0, 0, 1, 1]),
)
VEC2 = (
    torch.tensor(
        [[0, 0], [2, 2], [4, 4], [6, 2], [1, 1], [1, 3], [5, 5], [7, 5]], dtype=torch.float64
    ),
    torch.tensor([0, 0, 1, 1, 0, 0, 1, 1]),
    torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]),
)


# ------------------------------------------------------------------------------------------------
# spec test vectors (B.4.7)
# ------------------------------------------------------------------------------------------------


def test_spec_vector_1_modality_level():
    z, y, m = VEC1
    assert DCL(z, y, m).item() == pytest.approx(1.060397, abs=1e-6)
    assert DCL(z, y, m, divergence="w2").item() == pytest.approx(0.571179, abs=1e-6)
    # same batch with one identity label for everything: identical fits
    assert DCL(z, torch.zeros(4).long(), m).item() == pytest.approx(1.060397, abs=1e-6)


def test_spec_vector_2_identity_and_modality_level():
    z, y, m = VEC2
    assert DCL(z, y, m, level="identity").item() == pytest.approx(1.373033, abs=1e-6)
    assert DCL(z, y, m).item() == pytest.approx(0.554783, abs=1e-6)
    assert DCL(z, y, m, divergence="w2").item() == pytest.approx(0.326114, abs=1e-6)
    both = DCL(z, y, m, level="both").item()
    assert both == pytest.approx(1.373033 + 0.554783, abs=2e-6)
    # per-identity values by hand: s2_V = (2, 2), s2_I = (1, 1), tau = 1.5
    eps = 1e-3 * 1.5 + 1e-6
    vv, vi = 2 + eps, 1 + eps

    def per_identity(gap2):
        return sum(0.5 * (vv / vi + vi / vv - 2 + g * (1 / vv + 1 / vi)) for g in gap2) / 2

    id0 = per_identity([0.0, 1.0])  # means V (1, 1), I (1, 2)
    id1 = per_identity([1.0, 4.0])  # means V (5, 3), I (6, 5)
    assert id0 == pytest.approx(0.623970, abs=1e-6)
    assert id1 == pytest.approx(2.122096, abs=1e-6)
    assert DCL(z, y, m, level="identity").item() == pytest.approx((id0 + id1) / 2, abs=1e-12)


def test_oracle_reproduces_spec_vectors():
    assert oracle.distribution_consistency_loss(*VEC1) == pytest.approx(1.060397, abs=1e-6)
    assert oracle.distribution_consistency_loss(*VEC2, level="identity") == pytest.approx(
        1.373033, abs=1e-6
    )


# ------------------------------------------------------------------------------------------------
# loop oracle
# ------------------------------------------------------------------------------------------------

DCL_CASES = [
    {"divergence": div, "level": lvl}
    for div in ("jeffreys", "w2", "moments")
    for lvl in ("modality", "identity", "both")
] + [
    {"max_term": 0.2},
    {"level": "both", "divergence": "w2", "max_term": 0.5},
    {"eps_rel": 0.1, "eps_abs": 1e-3},
    {"modality_pair": (1, 0)},
    {"modality_pair": (0, 2), "level": "both"},
]


@pytest.mark.parametrize("kwargs", DCL_CASES)
def test_dcl_matches_oracle(kwargs):
    for f, y, m in (_batch(0), _batch(1, p=3, k=4), _unbalanced()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # modality_pair (0, 2) is undefined on _batch
            got = DCL(f, y, m, **kwargs)
        assert got.dtype == torch.float64
        assert abs(got.item() - oracle.distribution_consistency_loss(f, y, m, **kwargs)) < 1e-6


def test_dcl_identity_level_falls_back_to_modality_variance_with_singletons():
    f, y, m = _batch(3, p=5, k=1)
    got = DCL(f, y, m, level="identity")
    assert abs(got.item() - oracle.distribution_consistency_loss(f, y, m, level="identity")) < 1e-9
    assert torch.isfinite(got)


def test_dcl_identity_balanced_weights_ignore_unshared_identities():
    f, y, m = _batch(4)
    extra = torch.randn(3, f.shape[1], dtype=torch.float64) * 50  # identity 9, visible only
    f2 = torch.cat([f, extra])
    y2 = torch.cat([y, torch.full((3,), 9)])
    m2 = torch.cat([m, torch.zeros(3, dtype=torch.long)])
    for level in ("modality", "identity", "both"):
        assert abs(DCL(f2, y2, m2, level=level).item() - DCL(f, y, m, level=level).item()) < 1e-12


@pytest.mark.parametrize("divergence", ["jeffreys", "w2", "moments"])
def test_dcl_zero_for_identical_modalities_and_scale_invariance(divergence):
    f, y, m = _batch(5)
    mirrored = f.clone()
    vis = m == 0
    # infrared copies the visible features identity by identity (same counts per identity)
    for p in y.unique():
        mirrored[(y == p) & ~vis] = f[(y == p) & vis]
    for level in ("modality", "identity"):
        assert DCL(mirrored, y, m, divergence=divergence, level=level).item() < 1e-12
    a = DCL(f, y, m, divergence=divergence, eps_abs=1e-12)
    b = DCL(f * 1000.0, y, m, divergence=divergence, eps_abs=1e-12)
    assert abs(a.item() - b.item()) < 1e-8 * max(1.0, a.item())


# ------------------------------------------------------------------------------------------------
# gradients, detach, permutation, precision
# ------------------------------------------------------------------------------------------------


def _dcl_torch(z, y, m, divergence, level):
    """Spec B.4 transcribed with per-identity loops in torch (tau explicitly detached)."""
    d = z.shape[1]
    s_ids = sorted(set(y[m == 0].tolist()) & set(y[m == 1].tolist()))
    grp = {(p, k): z[(y == p) & (m == k)] for p in s_ids for k in (0, 1)}

    def fit(k):
        mu = sum(grp[p, k].mean(0) for p in s_ids) / len(s_ids)
        var = sum(((grp[p, k] - mu) ** 2).mean(0) for p in s_ids) / len(s_ids)
        return mu, var

    def div(gap2, a, b, tau):
        if divergence == "jeffreys":
            t = 0.5 * (a / b + b / a - 2 + gap2 * (1 / a + 1 / b))
        elif divergence == "w2":
            t = (gap2 + (a.sqrt() - b.sqrt()) ** 2) / tau
        else:
            t = gap2 / tau + (a.log() - b.log()) ** 2
        return t.sum() / d

    def floor(a, b):
        tau = ((a + b) / 2).mean().detach()
        eps = 1e-3 * tau + 1e-6
        return a + eps, b + eps, tau

    (mu_v, var_v), (mu_i, var_i) = fit(0), fit(1)
    out = z.new_zeros(())
    if level in ("modality", "both"):
        a, b, tau = floor(var_v, var_i)
        out = out + div((mu_v - mu_i) ** 2, a, b, tau)
    if level in ("identity", "both"):
        pooled = []
        for k in (0, 1):
            ss = sum(((grp[p, k] - grp[p, k].mean(0)) ** 2).sum(0) for p in s_ids)
            pooled.append(ss / sum(len(grp[p, k]) - 1 for p in s_ids))
        a, b, tau = floor(*pooled)
        gaps = [(grp[p, 0].mean(0) - grp[p, 1].mean(0)) ** 2 for p in s_ids]
        out = out + sum(div(g, a, b, tau) for g in gaps) / len(s_ids)
    return out


@pytest.mark.parametrize("level", ["modality", "identity", "both"])
def test_dcl_gradcheck_without_relative_floor(level):
    # With eps_rel = 0 the detached scale tau drops out of the Jeffreys value: exact gradcheck.
    f, y, m = _batch(6, p=2, k=2, d=3)
    f = f.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t: DCL(t, y, m, level=level, eps_rel=0.0), (f,), fast_mode=True
    )


@pytest.mark.parametrize("divergence", ["jeffreys", "w2", "moments"])
@pytest.mark.parametrize("level", ["modality", "identity", "both"])
def test_dcl_gradient_matches_transcription_with_detached_tau(divergence, level):
    # tau is a stop-gradient, so finite differences (which move tau) cannot check it directly.
    f, y, m = _batch(6, p=3, k=3, d=4)
    a = f.clone().requires_grad_(True)
    b = f.clone().requires_grad_(True)
    la = DCL(a, y, m, divergence, level)
    lb = _dcl_torch(b, y, m, divergence, level)
    assert abs(la.item() - lb.item()) < 1e-10
    la.backward()
    lb.backward()
    torch.testing.assert_close(a.grad, b.grad, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize(("side", "mod"), [("V", 0), ("I", 1)])
def test_dcl_detach_freezes_one_modality(side, mod):
    f, y, m = _batch(7)
    f = f.clone().requires_grad_(True)
    loss = DCL(f, y, m, detach=side, level="both")
    assert abs(loss.item() - DCL(f.detach(), y, m, level="both").item()) < 1e-12
    loss.backward()
    assert torch.count_nonzero(f.grad[m == mod]) == 0
    assert torch.count_nonzero(f.grad[m != mod]) > 0


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), level=st.sampled_from(["modality", "identity", "both"]))
def test_dcl_and_intra_permutation_invariance(seed, level):
    f, y, m = _batch(seed, p=3, k=2, d=3)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed + 1))
    a = DCL(f, y, m, level=level).item()
    assert abs(a - DCL(f[perm], y[perm], m[perm], level=level).item()) < 1e-10
    for form in ("triplet", "center"):
        a = intra_modality_loss(f, y, m, form).item()
        assert abs(a - intra_modality_loss(f[perm], y[perm], m[perm], form).item()) < 1e-10


def test_half_inputs_and_autocast_give_finite_float32():
    f, y, m = _batch(8, d=16, dtype=torch.float32)
    lin = torch.nn.Linear(16, 16)
    for fn in (
        DCL,
        lambda *a: DCL(*a, level="both", divergence="w2"),
        intra_modality_loss,
        lambda *a: intra_modality_loss(*a, form="center"),
    ):
        want = fn(f, y, m).item()
        for dt in (torch.float16, torch.bfloat16):
            out = fn(f.to(dt), y, m)
            assert out.dtype == torch.float32 and torch.isfinite(out)
            assert abs(out.item() - want) < 0.05 * max(1.0, want)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = fn(lin(f), y, m)
        assert out.dtype == torch.float32 and torch.isfinite(out)
        lin.zero_grad()
        out.backward()
        assert torch.isfinite(lin.weight.grad).all()


def test_dcl_all_zero_features_are_finite():
    f = torch.zeros(8, 4, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])
    m = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    for div in ("jeffreys", "w2", "moments"):
        loss = DCL(f, y, m, divergence=div, level="both")
        assert loss.item() == 0.0
        loss.backward()
        assert torch.isfinite(f.grad).all()


# ------------------------------------------------------------------------------------------------
# DCL edges and bad input
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "m"),
    [
        ([0, 0, 1, 1], [0, 0, 0, 0]),  # one modality only
        ([0, 0, 1, 1], [0, 0, 1, 1]),  # no identity in both modalities
        ([0, 1, 0, 2], [0, 0, 1, 1]),  # visible side of S has a single sample
    ],
)
def test_dcl_undefined_batch_is_zero_warns_once_and_counts(y, m):
    f = torch.randn(4, 3, requires_grad=True)
    y, m = torch.tensor(y), torch.tensor(m)
    crit = DistributionConsistencyLoss(level="both")
    with pytest.warns(UserWarning, match="returning a zero loss"):
        loss = crit(f, y, m)
    assert loss.item() == 0.0 and crit.skipped_batches == 1
    loss.backward()
    assert torch.count_nonzero(f.grad) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        crit(f, y, m)
    assert crit.skipped_batches == 2
    f2, y2, m2 = _batch(0)
    crit(f2, y2, m2)
    assert crit.skipped_batches == 2


def test_dcl_module_matches_function():
    f, y, m = _batch(9)
    crit = DistributionConsistencyLoss("w2", "both", max_term=1.0)
    assert torch.equal(crit(f, y, m), DCL(f, y, m, "w2", "both", max_term=1.0))
    assert "divergence='w2'" in repr(crit)


def test_dcl_bad_inputs():
    f, y, m = _batch(0)
    with pytest.raises(ValueError, match="divergence must be one of"):
        DistributionConsistencyLoss(divergence="kl")
    with pytest.raises(ValueError, match="level must be one of"):
        DCL(f, y, m, level="sample")
    with pytest.raises(ValueError, match="detach must be one of"):
        DCL(f, y, m, detach="visible")
    with pytest.raises(ValueError, match="eps_abs must be > 0"):
        DCL(f, y, m, eps_abs=0.0)
    with pytest.raises(ValueError, match="eps_rel must be >= 0"):
        DistributionConsistencyLoss(eps_rel=-1.0)
    with pytest.raises(ValueError, match="modality_pair must name two different"):
        DCL(f, y, m, modality_pair=(1, 1))
    with pytest.raises(ValueError, match="modality_pair must be two integers"):
        DCL(f, y, m, modality_pair=(0, 1, 2))
    with pytest.raises(ValueError, match="modalities is required"):
        DistributionConsistencyLoss()(f, y)
    with pytest.raises(ValueError, match="modalities must have shape"):
        DCL(f, y, m[:3])
    with pytest.raises(TypeError, match="floating-point"):
        DCL(f.long(), y, m)


# ------------------------------------------------------------------------------------------------
# intra-modality loss
# ------------------------------------------------------------------------------------------------

INTRA_CASES = [
    {},
    {"margin": 1.0},
    {"form": "center"},
    {"form": "center", "rho": 1.7},
]


@pytest.mark.parametrize("kwargs", INTRA_CASES)
def test_intra_matches_oracle(kwargs):
    for f, y, m in (_batch(0), _batch(2, p=3, k=4), _unbalanced()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # modality 2 of _unbalanced has no valid anchor
            got = intra_modality_loss(f, y, m, **kwargs)
            want = oracle.intra_modality_loss(f, y, m, **kwargs)
        assert got.dtype == torch.float64
        assert abs(got.item() - want) < 1e-6


def test_intra_hand_values():
    # visible: id0 (0,0),(1,0); id1 (0,3),(0,4). infrared: id0 (5,5),(5,7); id1 (5,6),(9,5).
    f = torch.tensor(
        [[0, 0], [1, 0], [0, 3], [0, 4], [5, 5], [5, 7], [5, 6], [9, 5]], dtype=torch.float64
    )
    y = torch.tensor([0, 0, 1, 1, 0, 0, 1, 1])
    m = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    # visible anchors: d+ = 1, 1, 1, 1; d- = 3, sqrt10, 3, 3 -> all satisfied at margin 0.3.
    # infrared anchors: (5,5): d+ 2, d- 1 -> 1.3; (5,7): d+ 2, d- 1 -> 1.3;
    #                   (5,6): d+ sqrt17, d- 1 -> sqrt17 - 0.7; (9,5): d+ sqrt17, d- 4 -> ...
    ir = [1.3, 1.3, math.sqrt(17) - 0.7, max(0.0, math.sqrt(17) - 4 + 0.3)]
    want = 0.0 + sum(ir) / 4
    assert intra_modality_loss(f, y, m).item() == pytest.approx(want, abs=1e-9)
    # center form on unit vectors: visible id0 both (1,0)-ish? use orthogonal setup instead
    g = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 5.0]], dtype=torch.float64)
    yy = torch.tensor([0, 0, 1, 1])
    mm = torch.zeros(4, dtype=torch.long)
    # normalised: id0 both (1,0), id1 both (0,1): compactness 0, centres sqrt2 apart > rho=1.
    assert intra_modality_loss(g, yy, mm, "center").item() == pytest.approx(0.0, abs=1e-12)
    # rho = 2: separation (2 - sqrt2)^2
    want = (2 - math.sqrt(2)) ** 2
    assert intra_modality_loss(g, yy, mm, "center", rho=2.0).item() == pytest.approx(want)


@pytest.mark.parametrize("kwargs", [INTRA_CASES[0], INTRA_CASES[3]])
def test_intra_gradcheck(kwargs):
    f, y, m = _batch(10, p=3, k=2, d=3)
    f = f.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t: intra_modality_loss(t, y, m, **kwargs), (f,), fast_mode=True
    )


def test_intra_sums_over_modalities():
    f, y, m = _batch(11)
    total = intra_modality_loss(f, y, m).item()
    parts = sum(intra_modality_loss(f[m == k], y[m == k], m[m == k]).item() for k in (0, 1))
    assert abs(total - parts) < 1e-12
    total = intra_modality_loss(f, y, m, "center").item()
    parts = sum(
        intra_modality_loss(f[m == k], y[m == k], m[m == k], "center").item() for k in (0, 1)
    )
    assert abs(total - parts) < 1e-12


def test_intra_edges():
    f = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 0, 0, 0])
    m = torch.tensor([0, 0, 1, 1])
    with pytest.warns(UserWarning, match="returning a zero loss"):
        loss = intra_modality_loss(f, y, m)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.count_nonzero(f.grad) == 0
    # centre form with one identity per modality: compactness only, with a warning
    with pytest.warns(UserWarning, match="centre-separation term is skipped"):
        c = intra_modality_loss(f.detach().double(), y, m, "center")
    assert abs(c.item() - oracle.intra_modality_loss(f, y, m, "center")) < 1e-6
    # a modality without valid anchors contributes 0, with a warning
    f2, y2, m2 = _batch(12)
    f3 = torch.cat([f2, torch.randn(2, f2.shape[1], dtype=torch.float64)])
    y3 = torch.cat([y2, torch.tensor([7, 8])])
    m3 = torch.cat([m2, torch.tensor([2, 2])])
    with pytest.warns(UserWarning, match="contributes 0"):
        got = intra_modality_loss(f3, y3, m3)
    assert abs(got.item() - intra_modality_loss(f2, y2, m2).item()) < 1e-12


def test_intra_module_and_bad_inputs():
    f, y, m = _batch(13)
    assert torch.equal(
        IntraModalityLoss("center", rho=0.5)(f, y, m),
        intra_modality_loss(f, y, m, "center", rho=0.5),
    )
    with pytest.raises(ValueError, match="form must be one of"):
        IntraModalityLoss(form="contrastive")
    with pytest.raises(ValueError, match="rho must be >= 0"):
        intra_modality_loss(f, y, m, rho=-1)
    with pytest.raises(ValueError, match="modalities is required by intra_modality_loss"):
        IntraModalityLoss()(f, y)
    with pytest.raises(ValueError, match="labels must have shape"):
        intra_modality_loss(f, y[:2], m)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    f, y, m = _batch(14, d=16, dtype=torch.float32)
    for fn in (
        lambda *a: DCL(*a, level="both"),
        lambda *a: DCL(*a, divergence="w2"),
        intra_modality_loss,
        lambda *a: intra_modality_loss(*a, form="center"),
    ):
        torch.testing.assert_close(
            fn(f.cuda(), y.cuda(), m.cuda()).cpu(), fn(f, y, m), atol=1e-5, rtol=1e-5
        )
