"""Identity and triplet-family losses against loop oracles, reference transcriptions and edges."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vireid.losses._checks as checks
from benchmarks.baselines import losses_metric as oracle
from vireid.losses.hetero_center import HeteroCenterTripletLoss, hetero_center_triplet_loss
from vireid.losses.identity import CrossEntropyLabelSmooth, cross_entropy_label_smooth
from vireid.losses.triplet import (
    AdaptiveTripletLoss,
    TripletLoss,
    WeightedRegularizationTriplet,
    adaptive_triplet_loss,
    triplet_loss,
    weighted_regularization_triplet,
)

METRIC_FNS = {
    "triplet": triplet_loss,
    "wrt": weighted_regularization_triplet,
    "adp": adaptive_triplet_loss,
    "hctri": hetero_center_triplet_loss,
}


def _batch(seed, p=4, k=3, d=6, dtype=torch.float64, scale=1.0):
    """P identities x K images per modality x 2 modalities, shuffled."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(p).repeat_interleave(2 * k)
    m = torch.tensor([0, 1]).repeat_interleave(k).repeat(p)
    f = torch.randn(len(y), d, generator=g, dtype=torch.float64) * scale
    perm = torch.randperm(len(y), generator=g)
    return f[perm].to(dtype), y[perm], m[perm]


@pytest.fixture(autouse=True)
def _fresh_warnings():
    checks._WARNED.clear()
    yield
    checks._WARNED.clear()


# ------------------------------------------------------------------------------------------------
# Transcriptions of the reference code (AGW cross-modal baseline / CAJ / HcTri), kept literal.
# ------------------------------------------------------------------------------------------------


def ref_pdist_torch(emb1, emb2):
    m, n = emb1.shape[0], emb2.shape[0]
    emb1_pow = torch.pow(emb1, 2).sum(dim=1, keepdim=True).expand(m, n)
    emb2_pow = torch.pow(emb2, 2).sum(dim=1, keepdim=True).expand(n, m).t()
    dist_mtx = emb1_pow + emb2_pow
    dist_mtx = dist_mtx.addmm(emb1, emb2.t(), beta=1, alpha=-2)
    return dist_mtx.clamp(min=1e-12).sqrt()


def ref_softmax_weights(dist, mask):
    max_v = torch.max(dist * mask, dim=1, keepdim=True)[0]
    diff = dist - max_v
    z = torch.sum(torch.exp(diff) * mask, dim=1, keepdim=True) + 1e-6
    return torch.exp(diff) * mask / z


def ref_wrt(inputs, targets):
    dist_mat = ref_pdist_torch(inputs, inputs)
    n = dist_mat.size(0)
    is_pos = targets.expand(n, n).eq(targets.expand(n, n).t()).float().to(inputs.dtype)
    is_neg = targets.expand(n, n).ne(targets.expand(n, n).t()).float().to(inputs.dtype)
    dist_ap = dist_mat * is_pos
    dist_an = dist_mat * is_neg
    weights_ap = ref_softmax_weights(dist_ap, is_pos)
    weights_an = ref_softmax_weights(-dist_an, is_neg)
    furthest_positive = torch.sum(dist_ap * weights_ap, dim=1)
    closest_negative = torch.sum(dist_an * weights_an, dim=1)
    y = torch.ones_like(furthest_positive)
    return F.soft_margin_loss(closest_negative - furthest_positive, y)


def ref_adp(inputs, targets, alpha=1, gamma=1, square=1):
    dist_mat = ref_pdist_torch(inputs, inputs)
    n = dist_mat.size(0)
    is_pos = targets.expand(n, n).eq(targets.expand(n, n).t()).float().to(inputs.dtype)
    is_neg = targets.expand(n, n).ne(targets.expand(n, n).t()).float().to(inputs.dtype)
    dist_ap = dist_mat * is_pos
    dist_an = dist_mat * is_neg
    weights_ap = ref_softmax_weights(dist_ap * alpha, is_pos)
    weights_an = ref_softmax_weights(-dist_an * alpha, is_neg)
    furthest_positive = torch.sum(dist_ap * weights_ap, dim=1)
    closest_negative = torch.sum(dist_an * weights_an, dim=1)
    if square == 0:
        y = torch.ones_like(furthest_positive)
        return F.soft_margin_loss(gamma * (closest_negative - furthest_positive), y)
    diff_pow = torch.pow(furthest_positive - closest_negative, 2) * gamma
    diff_pow = torch.clamp_max(diff_pow, max=88)
    y1 = (furthest_positive > closest_negative).to(inputs.dtype)
    y2 = y1 - 1
    y = -(y1 + y2)
    return F.soft_margin_loss(diff_pow, y)


def ref_ori_triplet(inputs, targets, margin=0.3):
    n = inputs.size(0)
    dist = ref_pdist_torch(inputs, inputs)
    mask = targets.expand(n, n).eq(targets.expand(n, n).t())
    dist_ap, dist_an = [], []
    for i in range(n):
        dist_ap.append(dist[i][mask[i]].max().unsqueeze(0))
        dist_an.append(dist[i][mask[i] == 0].min().unsqueeze(0))
    dist_ap = torch.cat(dist_ap)
    dist_an = torch.cat(dist_an)
    y = torch.ones_like(dist_an)
    return F.margin_ranking_loss(dist_an, dist_ap, y, margin=margin)


def ref_center_triplet(feats, labels, margin=0.3):
    """HcTri ``CenterTripletLoss``: batch = [vis id blocks..., ir id blocks...], equal counts."""
    label_uni = labels.unique()
    targets = torch.cat([label_uni, label_uni])
    label_num = len(label_uni)
    feat = feats.chunk(label_num * 2, 0)
    inputs = torch.cat([torch.mean(feat[i], dim=0, keepdim=True) for i in range(label_num * 2)])
    n = inputs.size(0)
    dist = torch.pow(inputs, 2).sum(dim=1, keepdim=True).expand(n, n)
    dist = dist + dist.t()
    dist = dist.addmm(inputs, inputs.t(), beta=1, alpha=-2)
    dist = dist.clamp(min=1e-12).sqrt()
    mask = targets.expand(n, n).eq(targets.expand(n, n).t())
    dist_ap, dist_an = [], []
    for i in range(n):
        dist_ap.append(dist[i][mask[i]].max().unsqueeze(0))
        dist_an.append(dist[i][mask[i] == 0].min().unsqueeze(0))
    y = torch.ones(n, dtype=inputs.dtype)
    return F.margin_ranking_loss(torch.cat(dist_an), torch.cat(dist_ap), y, margin=margin)


# ------------------------------------------------------------------------------------------------
# identity loss
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5])
def test_ce_matches_oracle_and_torch(eps):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(9, 7, generator=g, dtype=torch.float64)
    y = torch.randint(0, 7, (9,), generator=g)
    got = cross_entropy_label_smooth(z, y, eps)
    assert got.dtype == torch.float64
    assert abs(got.item() - oracle.cross_entropy_label_smooth(z, y, eps)) < 1e-10
    torch.testing.assert_close(got, F.cross_entropy(z, y, label_smoothing=eps))
    assert torch.equal(CrossEntropyLabelSmooth(eps)(z, y), got)


def test_ce_hand_value():
    # Two classes, equal logits: CE = log 2 whatever the smoothing.
    z = torch.zeros(3, 2)
    assert cross_entropy_label_smooth(z, torch.tensor([0, 1, 0])).item() == pytest.approx(
        math.log(2)
    )
    # logits (0, ln 3): p = (1/4, 3/4); label 1, eps 0.2 -> 0.9*ln(4/3) + 0.1*ln 4.
    z = torch.tensor([[0.0, math.log(3.0)]], dtype=torch.float64)
    want = 0.9 * math.log(4 / 3) + 0.1 * math.log(4)
    assert cross_entropy_label_smooth(z, torch.tensor([1]), 0.2).item() == pytest.approx(want)


def test_ce_gradcheck_and_half_precision():
    z = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 4, 2, 2])
    assert torch.autograd.gradcheck(lambda t: cross_entropy_label_smooth(t, y, 0.1), (z,))
    zh = z.detach().half()
    assert cross_entropy_label_smooth(zh, y).dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = cross_entropy_label_smooth(z.detach().float() @ torch.eye(5), y)
    assert out.dtype == torch.float32 and torch.isfinite(out)


def test_ce_bad_inputs():
    z = torch.randn(3, 4)
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\]"):
        CrossEntropyLabelSmooth(1.5)
    with pytest.raises(TypeError, match="epsilon must be a float"):
        cross_entropy_label_smooth(z, torch.tensor([0, 1, 2]), "0.1")
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        cross_entropy_label_smooth(z, torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer labels"):
        cross_entropy_label_smooth(z, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="logits must have shape"):
        cross_entropy_label_smooth(torch.randn(3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\[0, 4\), got 9 at position 2"):
        cross_entropy_label_smooth(z, torch.tensor([0, 1, 9]))
    with pytest.raises(ValueError, match=r"got -1 at position 0"):
        CrossEntropyLabelSmooth(0.0)(z, torch.tensor([-1, 1, 2]))


# ------------------------------------------------------------------------------------------------
# agreement with the loop oracle
# ------------------------------------------------------------------------------------------------

ORACLE_CASES = [
    ("triplet", {}),
    ("triplet", {"margin": 1.3}),
    ("triplet", {"soft_margin": True}),
    ("triplet", {"mining": "batch_all"}),
    ("triplet", {"cross_modality_only": True}),
    ("triplet", {"mining": "batch_all", "cross_modality_only": True, "soft_margin": True}),
    ("wrt", {}),
    ("wrt", {"variant": "paper"}),
    ("wrt", {"include_self_positive": False, "cross_modality_only": True}),
    ("adp", {}),
    ("adp", {"square": False, "gamma": 2.0}),
    ("adp", {"alpha": 2.0, "variant": "paper"}),
    ("adp", {"include_self_positive": False}),
    ("adp", {"cross_modality_only": True, "clamp": 0.5}),
    ("hctri", {}),
    ("hctri", {"margin": 2.0, "variant": "paper"}),
    ("hctri", {"soft_margin": True}),
]


@pytest.mark.parametrize(("name", "kwargs"), ORACLE_CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_oracle(name, kwargs, seed):
    f, y, m = _batch(seed, scale=0.7)
    fn = {
        "triplet": oracle.triplet_loss,
        "wrt": oracle.weighted_regularization_triplet,
        "adp": oracle.adaptive_triplet_loss,
        "hctri": oracle.hetero_center_triplet_loss,
    }[name]
    got = METRIC_FNS[name](f, y, m, **kwargs)
    assert got.dtype == torch.float64 and got.dim() == 0
    assert abs(got.item() - fn(f, y, m, **kwargs)) < 1e-6


def test_unbalanced_batch_matches_oracle():
    # Uneven counts, singletons, an identity in one modality only.
    g = torch.Generator().manual_seed(5)
    y = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4])
    m = torch.tensor([0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1])
    f = torch.randn(len(y), 5, generator=g, dtype=torch.float64)
    for name, kwargs in ORACLE_CASES:
        fn = getattr(oracle, METRIC_FNS[name].__name__)
        assert abs(METRIC_FNS[name](f, y, m, **kwargs).item() - fn(f, y, m, **kwargs)) < 1e-6


# ------------------------------------------------------------------------------------------------
# reference transcriptions and hand values
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 3])
def test_equals_reference_transcriptions(seed):
    f, y, _ = _batch(seed, p=4, k=4, d=16, dtype=torch.float32, scale=0.3)
    torch.testing.assert_close(weighted_regularization_triplet(f, y), ref_wrt(f, y))
    torch.testing.assert_close(adaptive_triplet_loss(f, y), ref_adp(f, y))
    torch.testing.assert_close(
        adaptive_triplet_loss(f, y, alpha=2, gamma=3, square=False),
        ref_adp(f, y, alpha=2, gamma=3, square=0),
    )
    torch.testing.assert_close(triplet_loss(f, y), ref_ori_triplet(f, y))
    torch.testing.assert_close(triplet_loss(f, y, margin=1.3), ref_ori_triplet(f, y, 1.3))


def test_hctri_equals_reference_on_ordered_batch_and_any_order():
    g = torch.Generator().manual_seed(7)
    p, k = 4, 3
    f = torch.randn(2 * p * k, 8, generator=g)
    y = torch.arange(p).repeat_interleave(k).repeat(2)  # [vis ids..., ir ids...]
    m = torch.tensor([0, 1]).repeat_interleave(p * k)
    want = ref_center_triplet(f, y)
    torch.testing.assert_close(hetero_center_triplet_loss(f, y, m), want)
    perm = torch.randperm(len(y), generator=g)
    torch.testing.assert_close(hetero_center_triplet_loss(f[perm], y[perm], m[perm]), want)


def test_adp_wrt_spec_test_vector():
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [2.0, 2.0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1])
    assert adaptive_triplet_loss(f, y).item() == pytest.approx(0.328743, abs=1e-6)
    assert adaptive_triplet_loss(f, y, square=False).item() == pytest.approx(0.335670, abs=1e-6)
    assert weighted_regularization_triplet(f, y).item() == pytest.approx(0.335670, abs=1e-6)
    assert oracle.adaptive_triplet_loss(f, y) == pytest.approx(0.328743, abs=1e-6)


def test_batch_hard_hand_value():
    # Anchors 0,1: satisfied; anchor 2: d+ = 2, d- = 2 -> 0.3; anchor 3: d+ = 2, d- = sqrt 5.
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [2.0, 2.0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1])
    want = (0.3 + (2 - math.sqrt(5) + 0.3)) / 4
    assert triplet_loss(f, y).item() == pytest.approx(want, abs=1e-9)
    # soft margin: mean softplus(d+ - d-)
    gaps = [1 - 2, 1 - math.sqrt(5), 0.0, 2 - math.sqrt(5)]
    want_soft = sum(math.log1p(math.exp(v)) for v in gaps) / 4
    assert triplet_loss(f, y, soft_margin=True).item() == pytest.approx(want_soft, abs=1e-9)


def test_hctri_hand_value():
    # id 0: vis centre (0,0), ir centre (1,0); id 1: vis (0,3), ir (0,4). margin 0.3.
    f = torch.tensor(
        [[0.0, -1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0], [0.0, 4.0]], dtype=torch.float64
    )
    y = torch.tensor([0, 0, 0, 1, 1])
    m = torch.tensor([0, 0, 1, 0, 1])
    # d+ - d- per centre: (0,V) 1-3, (0,I) 1-sqrt10, (1,V) 1-3, (1,I) 1-sqrt17; margin 2.5.
    per = [1 - 3 + 2.5, 1 - math.sqrt(10) + 2.5, 1 - 3 + 2.5, 1 - math.sqrt(17) + 2.5]
    want = sum(max(0.0, v) for v in per) / 4
    got = hetero_center_triplet_loss(f, y, m, margin=2.5)
    assert got.item() == pytest.approx(want, abs=1e-9)
    assert hetero_center_triplet_loss(f, y, m, margin=2.5, variant="paper").item() == (
        pytest.approx(4 * want, abs=1e-9)
    )


def test_modules_match_functions():
    f, y, m = _batch(11)
    assert torch.equal(TripletLoss(0.5, True)(f, y, m), triplet_loss(f, y, m, 0.5, True))
    assert torch.equal(WeightedRegularizationTriplet()(f, y), weighted_regularization_triplet(f, y))
    assert torch.equal(AdaptiveTripletLoss(2, 3)(f, y, m), adaptive_triplet_loss(f, y, m, 2, 3))
    assert torch.equal(
        HeteroCenterTripletLoss(0.2)(f, y, m), hetero_center_triplet_loss(f, y, m, 0.2)
    )
    assert "mining='batch_hard'" in repr(TripletLoss())


# ------------------------------------------------------------------------------------------------
# gradients, permutation, precision
# ------------------------------------------------------------------------------------------------

GRAD_CASES = [
    ("triplet", {}),
    ("triplet", {"soft_margin": True, "cross_modality_only": True}),
    ("triplet", {"mining": "batch_all", "margin": 1.0}),
    ("wrt", {}),
    ("wrt", {"variant": "paper"}),
    ("adp", {}),
    ("adp", {"square": False, "alpha": 2.0}),
    ("hctri", {"margin": 3.0}),
]


@pytest.mark.parametrize(("name", "kwargs"), GRAD_CASES)
def test_gradcheck(name, kwargs):
    f, y, m = _batch(4, p=3, k=2, d=3)
    f = f.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: METRIC_FNS[name](t, y, m, **kwargs), (f,))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), name=st.sampled_from(sorted(METRIC_FNS)))
def test_permutation_invariance(seed, name):
    f, y, m = _batch(seed, p=3, k=2, d=4)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed + 1))
    a = METRIC_FNS[name](f, y, m)
    b = METRIC_FNS[name](f[perm], y[perm], m[perm])
    assert abs(a.item() - b.item()) < 1e-10


@pytest.mark.parametrize("name", sorted(METRIC_FNS))
def test_half_inputs_and_autocast_give_finite_float32(name):
    f, y, m = _batch(6, d=32, dtype=torch.float32, scale=0.2)
    want = METRIC_FNS[name](f, y, m)
    for dt in (torch.float16, torch.bfloat16):
        out = METRIC_FNS[name](f.to(dt), y, m)
        assert out.dtype == torch.float32 and torch.isfinite(out)
        assert abs(out.item() - want.item()) < 0.05
    lin = torch.nn.Linear(32, 32).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        emb = lin(f)
        assert emb.dtype == torch.bfloat16
        out = METRIC_FNS[name](emb, y, m)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    out.backward()
    assert torch.isfinite(lin.weight.grad).all()


def test_adp_paper_variant_survives_large_distances():
    # exp(-D) underflows in the reference helper for D ~ 1e3 (d- collapses to 0).
    f, y, _ = _batch(8, d=8, dtype=torch.float32, scale=500.0)
    ref = adaptive_triplet_loss(f, y)
    paper = adaptive_triplet_loss(f, y, variant="paper")
    assert torch.isfinite(ref) and torch.isfinite(paper)
    assert abs(paper.item() - oracle.adaptive_triplet_loss(f, y, variant="paper")) < 1e-3


# ------------------------------------------------------------------------------------------------
# edge batches
# ------------------------------------------------------------------------------------------------


def _assert_zero_with_grad(loss, f):
    assert loss.item() == 0.0
    loss.backward()
    assert f.grad is not None and torch.count_nonzero(f.grad) == 0


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("triplet", {}), ("triplet", {"mining": "batch_all"}), ("wrt", {}), ("adp", {})],
)
def test_one_identity_gives_zero_and_warns_once(name, kwargs):
    f = torch.randn(4, 3, requires_grad=True)
    y = torch.zeros(4, dtype=torch.long)
    m = torch.tensor([0, 1, 0, 1])
    with pytest.warns(UserWarning, match="no anchor has both a positive and a negative"):
        loss = METRIC_FNS[name](f, y, m, **kwargs)
    _assert_zero_with_grad(loss, f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        METRIC_FNS[name](f, y, m, **kwargs)  # second time: silent


@pytest.mark.parametrize("name", ["triplet", "wrt", "adp"])
def test_one_modality_with_cross_only_gives_zero(name):
    f = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 0, 1, 1])
    m = torch.ones(4, dtype=torch.long)
    with pytest.warns(UserWarning, match="in the other modality"):
        loss = METRIC_FNS[name](f, y, m, cross_modality_only=True)
    _assert_zero_with_grad(loss, f)


def test_hctri_one_modality_gives_zero():
    f = torch.randn(4, 3, requires_grad=True)
    with pytest.warns(UserWarning, match="centres in two modalities"):
        loss = hetero_center_triplet_loss(f, torch.tensor([0, 0, 1, 1]), torch.zeros(4).long())
    _assert_zero_with_grad(loss, f)


def test_singletons_use_self_as_positive_like_the_reference():
    f = torch.randn(3, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2])
    assert abs(triplet_loss(f, y).item() - ref_ori_triplet(f, y).item()) < 1e-12
    # without self-positives, WRT/ADP have no valid anchor here
    with pytest.warns(UserWarning):
        assert weighted_regularization_triplet(f, y, include_self_positive=False).item() == 0.0


def test_float64_zero_loss_stays_float64():
    f = torch.randn(2, 3, dtype=torch.float64)
    with pytest.warns(UserWarning):
        assert triplet_loss(f, torch.tensor([1, 1])).dtype == torch.float64


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------


def test_bad_inputs():
    f, y, m = _batch(0, dtype=torch.float32)
    with pytest.raises(ValueError, match="mining must be one of"):
        triplet_loss(f, y, m, mining="hard")
    with pytest.raises(ValueError, match="mining must be one of"):
        TripletLoss(mining="semi")
    with pytest.raises(ValueError, match="margin must be >= 0"):
        TripletLoss(margin=-1)
    with pytest.raises(TypeError, match="margin must be a real number"):
        triplet_loss(f, y, m, margin="0.3")
    with pytest.raises(ValueError, match="variant must be one of"):
        AdaptiveTripletLoss(variant="code")
    with pytest.raises(ValueError, match="variant must be one of"):
        weighted_regularization_triplet(f, y, variant="x")
    with pytest.raises(ValueError, match="modalities is required for cross_modality_only"):
        triplet_loss(f, y, cross_modality_only=True)
    with pytest.raises(ValueError, match="modalities is required by hetero_center"):
        HeteroCenterTripletLoss()(f, y)
    with pytest.raises(ValueError, match=r"features must have shape \(B, D\)"):
        triplet_loss(f[:, :, None], y)
    with pytest.raises(TypeError, match="floating-point"):
        triplet_loss(f.long(), y)
    with pytest.raises(ValueError, match="labels must have shape"):
        adaptive_triplet_loss(f, y[:-1])
    with pytest.raises(ValueError, match="modalities must have shape"):
        triplet_loss(f, y, m[:-1])
    with pytest.raises(TypeError, match="integer labels"):
        weighted_regularization_triplet(f, y.float())
    with pytest.raises(ValueError, match="at least one sample"):
        triplet_loss(f[:0], y[:0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", sorted(METRIC_FNS))
def test_cuda_matches_cpu(name):
    f, y, m = _batch(9, d=16, dtype=torch.float32)
    cpu = METRIC_FNS[name](f, y, m)
    gpu = METRIC_FNS[name](f.cuda(), y.cuda(), m.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=1e-5)
    lz = cross_entropy_label_smooth(f.cuda(), y.cuda())
    torch.testing.assert_close(lz.cpu(), cross_entropy_label_smooth(f, y), atol=1e-5, rtol=1e-5)
