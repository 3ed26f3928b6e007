"""IDKL loss family: TGSA, CSA, MDR, information purifier, modality confusion, symmetric KL.

Oracles:
* ``tests/oracles/losses_idkl.py`` — per-sample Python loops in float64 written from the spec,
  pairing by labels (every "agrees with oracle" test);
* ``_reference_*`` below — a direct, positional transcription of the released IDKL code
  (``X[t==0]`` / ``X[t==1]`` row i ↔ row i, per-row diagonal removal, ``F.kl_div`` both ways,
  ``k = count(labels == labels[0]) // 2``), valid only on batches in the reference order.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.baselines import losses_idkl as oracle
from vireid.losses import _checks
from vireid.losses.confusion import (
    ModalityConfusionLoss,
    modality_confusion_loss,
    pseudo_modality_labels,
)
from vireid.losses.csa import CSALoss, csa_loss
from vireid.losses.mdr import MDRLoss, mdr_loss
from vireid.losses.purifier import (
    InformationPurifierLoss,
    enhancement_loss,
    information_purifier_loss,
    reduction_loss,
)
from vireid.losses.skl import SymmetricKLLoss, kl_divergence, symmetric_kl
from vireid.losses.tgsa import TGSALoss, graph_affinity, tgsa_distillation_loss, tgsa_loss

TOL = dict(atol=1e-6, rtol=1e-6)


def gradcheck(fn, inputs):
    return torch.autograd.gradcheck(fn, inputs, fast_mode=True)


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(_checks, "_WARNED", set())


# ----------------------------------------------------------------------------- batches


def reference_batch(p=4, k=3, d=6, c=7, seed=0, dtype=torch.float64, scale=1.0):
    """Batch in the reference order: per identity IR, VIS, IR, VIS, ...; labels increasing."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.sort(torch.randperm(50, generator=g)[:p]).values
    labels = ids.repeat_interleave(2 * k)
    modalities = torch.tensor([1, 0]).repeat(p * k)
    b = labels.numel()

    def rnd(*shape):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype)

    return {
        "f_sh": rnd(b, d).abs(),
        "f_sp": rnd(b, d).abs(),
        "z_sh": rnd(b, c),
        "z_sp": rnd(b, c),
        "labels": labels,
        "modalities": modalities,
    }


def permuted(batch, perm):
    return {key: v[perm] for key, v in batch.items()}


def group_order_preserving(labels, modalities, perm):
    """Turn ``perm`` into a permutation keeping each (identity, modality) group's inner order."""
    perm = list(perm)
    out = list(perm)
    groups: dict = {}
    for pos, i in enumerate(perm):
        groups.setdefault((int(labels[i]), int(modalities[i])), []).append(pos)
    for (y, m), positions in groups.items():
        members = [i for i in range(len(labels)) if int(labels[i]) == y and int(modalities[i]) == m]
        for pos, i in zip(positions, members, strict=True):
            out[pos] = i
    return torch.tensor(out)


def shuffled(batch, seed=1):
    g = torch.Generator().manual_seed(seed)
    return permuted(batch, torch.randperm(batch["labels"].numel(), generator=g))


# ------------------------------------------------------------------ reference transcription


def _ref_skl(a, b):
    return F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1), reduction="batchmean") + F.kl_div(
        F.log_softmax(b, 1), F.softmax(a, 1), reduction="batchmean"
    )


def _ref_self_graph(x):
    sq = (x**2).sum(1)
    d = (sq[:, None] + sq[None, :] - 2 * x @ x.t()).clamp(min=1e-6).sqrt()
    return torch.stack([torch.cat([d[i, :i], d[i, i + 1 :]]) for i in range(d.shape[0])])


def _ref_set(z, labels):
    k = int((labels == labels[0]).sum()) // 2
    n = z.shape[0]
    return torch.stack([torch.cat([z[p * k + r] for p in range(n // k)]) for r in range(k)])


def _reference_terms(bt):
    f_sh, f_sp, z_sh, z_sp = bt["f_sh"], bt["f_sp"], bt["z_sh"], bt["z_sp"]
    y, t = bt["labels"], bt["modalities"]
    v, i = t == 0, t == 1
    a_sp_v, a_sp_i = _ref_self_graph(f_sp[v]), _ref_self_graph(f_sp[i])
    a_sh_v, a_sh_i = _ref_self_graph(f_sh[v]), _ref_self_graph(f_sh[i])
    n = int(v.sum())
    a_x = _ref_self_graph(torch.cat([f_sh[v][: n // 2], f_sh[i][: n // 2]]))
    tgsa = _ref_skl(a_sh_v, a_sp_v) + _ref_skl(a_sh_i, a_sp_i)
    mdr_graph = _ref_skl(a_sh_v, a_sh_i) + _ref_skl(a_sh_v, a_x) + _ref_skl(a_x, a_sh_i)
    csa = (
        _ref_skl(z_sh[v], z_sp[v])
        + _ref_skl(z_sh[i], z_sp[i])
        + _ref_skl(_ref_set(z_sh[v], y), _ref_set(z_sp[v], y))
        + _ref_skl(_ref_set(z_sh[i], y), _ref_set(z_sp[i], y))
    )
    mdr_logit = _ref_skl(z_sh[v], z_sh[i]) + _ref_skl(_ref_set(z_sh[v], y), _ref_set(z_sh[i], y))
    return {"tgsa": tgsa, "mdr": mdr_graph + mdr_logit, "csa": csa}


# ----------------------------------------------------------------------------- symmetric KL


def test_symmetric_kl_matches_oracle_and_kl_div():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(5, 9, generator=g, dtype=torch.float64), torch.randn(5, 9, generator=g)
    t = t.double()
    torch.testing.assert_close(symmetric_kl(s, t), oracle.symmetric_kl(s, t), **TOL)
    torch.testing.assert_close(_ref_skl(s, t), symmetric_kl(s, t), **TOL)
    torch.testing.assert_close(
        symmetric_kl(s, t, reduction="sum"), oracle.symmetric_kl(s, t, "sum"), **TOL
    )
    torch.testing.assert_close(kl_divergence(s, t), oracle.kl_divergence(s, t), **TOL)
    torch.testing.assert_close(SymmetricKLLoss()(s, t), symmetric_kl(s, t))
    torch.testing.assert_close(SymmetricKLLoss("forward", "sum")(s, t), kl_divergence(s, t, "sum"))
    assert symmetric_kl(s, s).abs() < 1e-12


def test_symmetric_kl_peaked_rows_stay_finite():
    s = torch.tensor([[0.0, 2000.0, -3000.0]], requires_grad=True)
    t = torch.tensor([[1000.0, 0.0, 0.0]])
    out = symmetric_kl(s, t)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(s.grad).all()


def test_symmetric_kl_gradcheck_and_bad_input():
    s = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    t = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    assert gradcheck(symmetric_kl, (s, t))
    with pytest.raises(ValueError, match="same shape"):
        symmetric_kl(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="same batch size"):
        symmetric_kl(torch.randn(3, 4), torch.randn(2, 4))
    with pytest.raises(TypeError, match="floating-point"):
        symmetric_kl(torch.ones(3, 4, dtype=torch.long), torch.randn(3, 4))
    with pytest.raises(ValueError, match="reduction must be one of"):
        symmetric_kl(torch.randn(3, 4), torch.randn(3, 4), reduction="mean")


# ----------------------------------------------------------------------------- TGSA


@pytest.mark.parametrize("variant", ["reference", "paper"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_tgsa_matches_oracle(variant, shuffle):
    bt = reference_batch(seed=2)
    bt = shuffled(bt) if shuffle else bt
    args = (bt["f_sh"], bt["f_sp"], bt["labels"], bt["modalities"])
    got = TGSALoss(variant)(*args)
    torch.testing.assert_close(got, oracle.tgsa_distillation_loss(*args, variant=variant), **TOL)


@pytest.mark.parametrize("cross", ["none", "true", "mixed"])
@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_tgsa_core_options_match_oracle(cross, variant):
    bt = reference_batch(seed=3)
    a, b = bt["f_sp"][:8], bt["f_sh"][:8]
    for extra in ({}, {"kl": "symmetric", "reduction": "sum", "sign": -1.0, "tau": 2.0}):
        got = tgsa_loss(a, b, variant=variant, cross=cross, **extra)
        want = oracle.tgsa_loss(a, b, variant=variant, cross=cross, **extra)
        torch.testing.assert_close(got, want, **TOL)


def test_tgsa_reference_order_equals_positional_transcription():
    bt = reference_batch(seed=4)
    got = TGSALoss()(bt["f_sh"], bt["f_sp"], bt["labels"], bt["modalities"])
    torch.testing.assert_close(got, _reference_terms(bt)["tgsa"], **TOL)


def test_graph_affinity_rows_are_log_distributions():
    x = torch.randn(5, 3, dtype=torch.float64)
    g = graph_affinity(x)
    assert g.shape == (5, 4)
    torch.testing.assert_close(g.exp().sum(1), torch.ones(5, dtype=torch.float64))
    assert graph_affinity(x, torch.randn(7, 3, dtype=torch.float64), exclude_self=False).shape == (
        5,
        7,
    )


@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_tgsa_gradcheck(variant):
    bt = reference_batch(p=2, k=2, d=3, seed=5)
    sh = bt["f_sh"].requires_grad_()
    sp = bt["f_sp"].requires_grad_()
    loss = TGSALoss(variant)
    assert gradcheck(lambda a, b: loss(a, b, bt["labels"], bt["modalities"]), (sh, sp))


@settings(max_examples=15, deadline=None)
@given(perm=st.permutations(list(range(16))), variant=st.sampled_from(["reference", "paper"]))
def test_tgsa_permutation_invariant(perm, variant):
    bt = reference_batch(p=4, k=2, seed=6)
    base = TGSALoss(variant)(bt["f_sh"], bt["f_sp"], bt["labels"], bt["modalities"])
    pb = permuted(bt, torch.tensor(perm))
    got = TGSALoss(variant)(pb["f_sh"], pb["f_sp"], pb["labels"], pb["modalities"])
    torch.testing.assert_close(got, base, atol=1e-10, rtol=1e-10)


def test_tgsa_one_modality_and_one_identity():
    bt = reference_batch(p=1, k=3, seed=7, dtype=torch.float32)
    sh = bt["f_sh"].requires_grad_()
    # one identity, both modalities: well defined
    out = TGSALoss()(sh, bt["f_sp"], bt["labels"], bt["modalities"])
    want = oracle.tgsa_distillation_loss(sh, bt["f_sp"], bt["labels"], bt["modalities"])
    torch.testing.assert_close(out.double(), want, atol=1e-5, rtol=1e-5)
    # visible images only: the infrared term is 0, warned once
    vis = bt["modalities"] == 0
    with pytest.warns(UserWarning, match="no infrared images"):
        out = TGSALoss()(sh[vis], bt["f_sp"][vis], bt["labels"][vis], bt["modalities"][vis])
    out.backward()
    assert torch.isfinite(out)
    # one image: a 1 x 0 self-excluded graph gives an exact zero attached to the graph
    one = torch.ones(1, 4, requires_grad=True)
    with pytest.warns(UserWarning):
        z = TGSALoss()(one, one * 2, torch.tensor([3]), torch.tensor([1]))
    z.backward()
    assert z.item() == 0.0 and one.grad is not None and not one.grad.any()


def test_tgsa_bad_input():
    bt = reference_batch(p=2, k=2, d=3, dtype=torch.float32)
    sh, sp, y, t = bt["f_sh"], bt["f_sp"], bt["labels"], bt["modalities"]
    with pytest.raises(ValueError, match="same batch size"):
        TGSALoss()(sh, sp[:-1], y, t)
    with pytest.raises(ValueError, match=r"shape \(B, D\)"):
        TGSALoss()(sh[None], sp, y, t)
    with pytest.raises(TypeError, match="integer labels"):
        TGSALoss()(sh, sp, y.float(), t)
    with pytest.raises(ValueError, match=r"labels must have shape \(8,\)"):
        TGSALoss()(sh, sp, y[:-1], t)
    with pytest.raises(ValueError, match=r"modalities 0 \(visible\) or 1 \(infrared\)"):
        TGSALoss()(sh, sp, y, t + 1)
    with pytest.raises(ValueError, match="variant must be one of"):
        TGSALoss("code")
    with pytest.raises(ValueError, match="tau must be > 0"):
        TGSALoss(tau=0.0)
    with pytest.raises(ValueError, match="sign must be"):
        tgsa_loss(sh, sp, sign=2.0)
    with pytest.raises(ValueError, match="same shape"):
        tgsa_loss(sh, sp[:, :2])


# ----------------------------------------------------------------------------- CSA


@pytest.mark.parametrize("variant", ["reference", "paper"])
@pytest.mark.parametrize("level", [None, "sample", "set", "both"])
def test_csa_matches_oracle(variant, level):
    for bt in (reference_batch(seed=8), shuffled(reference_batch(seed=8), seed=3)):
        args = (bt["z_sh"], bt["z_sp"], bt["labels"], bt["modalities"])
        got = CSALoss(variant, level=level, tau=1.5)(*args)
        want = oracle.csa_loss(*args, variant=variant, level=level, tau=1.5)
        torch.testing.assert_close(got, want, **TOL)


def test_csa_reference_order_equals_positional_transcription():
    bt = reference_batch(seed=9)
    got = CSALoss()(bt["z_sh"], bt["z_sp"], bt["labels"], bt["modalities"])
    torch.testing.assert_close(got, _reference_terms(bt)["csa"], **TOL)


def test_csa_gradcheck():
    bt = reference_batch(p=2, k=2, c=4, seed=10)
    zs, zp = bt["z_sh"].requires_grad_(), bt["z_sp"].requires_grad_()
    for variant in ("reference", "paper"):
        loss = CSALoss(variant)
        assert gradcheck(
            lambda a, b, loss=loss: loss(a, b, bt["labels"], bt["modalities"]), (zs, zp)
        )


@settings(max_examples=15, deadline=None)
@given(perm=st.permutations(list(range(16))))
def test_csa_permutation_invariance(perm):
    bt = reference_batch(p=4, k=2, seed=11)
    y, t = bt["labels"], bt["modalities"]
    sample = CSALoss(level="sample")
    both = CSALoss()
    base_sample = sample(bt["z_sh"], bt["z_sp"], y, t)
    base_both = both(bt["z_sh"], bt["z_sp"], y, t)
    pb = permuted(bt, torch.tensor(perm))  # any order: the sample level is unchanged
    got = sample(pb["z_sh"], pb["z_sp"], pb["labels"], pb["modalities"])
    torch.testing.assert_close(got, base_sample, atol=1e-10, rtol=1e-10)
    pb = permuted(bt, group_order_preserving(y, t, perm))  # set level: group order kept
    got = both(pb["z_sh"], pb["z_sp"], pb["labels"], pb["modalities"])
    torch.testing.assert_close(got, base_both, atol=1e-10, rtol=1e-10)


def test_csa_edge_batches():
    bt = reference_batch(p=3, k=2, seed=12, dtype=torch.float32)
    zs = bt["z_sh"].requires_grad_()
    y, t = bt["labels"], bt["modalities"]
    ir = t == 1
    with pytest.warns(UserWarning, match="no visible images"):
        out = CSALoss()(zs[ir], bt["z_sp"][ir], y[ir], t[ir])
    out.backward()
    assert torch.isfinite(out)
    # one identity is fine
    one = y == y[0]
    out = CSALoss()(bt["z_sh"][one], bt["z_sp"][one], y[one], t[one])
    want = oracle.csa_loss(bt["z_sh"][one], bt["z_sp"][one], y[one], t[one])
    torch.testing.assert_close(out.double(), want, atol=1e-5, rtol=1e-5)
    # unequal counts: the set level is undefined, the sample level is not
    keep = torch.ones_like(y, dtype=torch.bool)
    keep[1] = False  # drop one visible image of the first identity
    with pytest.raises(ValueError, match="same number of visible images"):
        CSALoss()(bt["z_sh"][keep], bt["z_sp"][keep], y[keep], t[keep])
    assert torch.isfinite(
        CSALoss(level="sample")(bt["z_sh"][keep], bt["z_sp"][keep], y[keep], t[keep])
    )


def test_csa_bad_input():
    bt = reference_batch(p=2, k=2, dtype=torch.float32)
    zs, zp, y, t = bt["z_sh"], bt["z_sp"], bt["labels"], bt["modalities"]
    with pytest.raises(ValueError, match="same shape"):
        CSALoss()(zs, zp[:, :3], y, t)
    with pytest.raises(ValueError, match="same batch size"):
        csa_loss(zs, zp[:-1], y, t)
    with pytest.raises(ValueError, match="level must be one of"):
        CSALoss(level="image")
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        CSALoss()(zs, zp, y.tolist(), t)


# ----------------------------------------------------------------------------- MDR


@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_mdr_matches_oracle(variant):
    for bt in (reference_batch(seed=13), shuffled(reference_batch(seed=13), seed=5)):
        args = (bt["f_sh"], bt["z_sh"], bt["labels"], bt["modalities"])
        torch.testing.assert_close(
            MDRLoss(variant)(*args), oracle.mdr_loss(*args, variant=variant), **TOL
        )
        for opts in (
            {"cross": "none", "graph_weight": 0.1, "set_level": False},
            {"cross": "true", "kl": "symmetric", "exclude_self": True},
        ):
            torch.testing.assert_close(
                mdr_loss(*args, variant=variant, **opts),
                oracle.mdr_loss(*args, variant=variant, **opts),
                **TOL,
            )
        feats_only = (bt["f_sh"], None, bt["labels"], bt["modalities"])
        torch.testing.assert_close(
            MDRLoss(variant)(*feats_only), oracle.mdr_loss(*feats_only, variant=variant), **TOL
        )


def test_mdr_reference_order_equals_positional_transcription():
    bt = reference_batch(p=4, k=5, seed=14)
    got = MDRLoss()(bt["f_sh"], bt["z_sh"], bt["labels"], bt["modalities"])
    torch.testing.assert_close(got, _reference_terms(bt)["mdr"], **TOL)


def test_mdr_gradcheck():
    bt = reference_batch(p=2, k=2, d=3, c=4, seed=15)
    f, z = bt["f_sh"].requires_grad_(), bt["z_sh"].requires_grad_()
    for variant in ("reference", "paper"):
        loss = MDRLoss(variant)
        assert gradcheck(lambda a, b, loss=loss: loss(a, b, bt["labels"], bt["modalities"]), (f, z))


@settings(max_examples=15, deadline=None)
@given(perm=st.permutations(list(range(16))), variant=st.sampled_from(["reference", "paper"]))
def test_mdr_invariant_to_reordering_that_keeps_each_identitys_image_order(perm, variant):
    bt = reference_batch(p=4, k=2, seed=16)
    y, t = bt["labels"], bt["modalities"]
    base = MDRLoss(variant)(bt["f_sh"], bt["z_sh"], y, t)
    pb = permuted(bt, group_order_preserving(y, t, perm))
    got = MDRLoss(variant)(pb["f_sh"], pb["z_sh"], pb["labels"], pb["modalities"])
    torch.testing.assert_close(got, base, atol=1e-10, rtol=1e-10)


def test_mdr_edge_batches():
    bt = reference_batch(p=3, k=2, seed=17, dtype=torch.float32)
    f, z = bt["f_sh"].requires_grad_(), bt["z_sh"].requires_grad_()
    y, t = bt["labels"], bt["modalities"]
    vis = t == 0
    with pytest.warns(UserWarning, match="single modality"):
        out = MDRLoss()(f[vis], z[vis], y[vis], t[vis])
    out.backward()
    assert out.item() == 0.0 and out.dtype == torch.float32
    assert f.grad is not None and not f.grad.any() and not z.grad.any()
    # one identity (both modalities): defined
    one = y == y[0]
    out = MDRLoss()(f[one], z[one], y[one], t[one])
    want = oracle.mdr_loss(f[one], z[one], y[one], t[one])
    torch.testing.assert_close(out.double(), want, atol=1e-5, rtol=1e-5)
    # identity 0 in the visible images only: no pairing exists
    drop = ~((y == y[0]) & (t == 1))
    with pytest.raises(ValueError, match="identities only in the visible images"):
        MDRLoss()(f[drop], z[drop], y[drop], t[drop])
    # unequal counts
    keep = torch.ones_like(y, dtype=torch.bool)
    keep[0] = False
    with pytest.raises(ValueError, match="unequal visible/infrared counts"):
        MDRLoss()(f[keep], z[keep], y[keep], t[keep])


def test_mdr_bad_input():
    bt = reference_batch(p=2, k=2, dtype=torch.float32)
    f, z, y, t = bt["f_sh"], bt["z_sh"], bt["labels"], bt["modalities"]
    with pytest.raises(ValueError, match="needs features, logits or both"):
        MDRLoss()(None, None, y, t)
    with pytest.raises(ValueError, match="same batch size"):
        MDRLoss()(f, z[:-1], y, t)
    with pytest.raises(ValueError, match="cross must be one of"):
        MDRLoss(cross="diag")
    with pytest.raises(ValueError, match="graph_weight must be >= 0"):
        MDRLoss(graph_weight=-1.0)


# ----------------------------------------------------------------------------- purifier


def purifier_batch(seed=18, dtype=torch.float64):
    bt = reference_batch(p=3, k=2, seed=seed, dtype=dtype)
    g = torch.Generator().manual_seed(seed)
    b = bt["labels"].numel()
    bt["z_raw"] = torch.randn(b, 7, generator=g, dtype=torch.float64).to(dtype)
    bt["z_enh"] = (torch.randn(b, 7, generator=g, dtype=torch.float64) * 2).to(dtype)
    bt["u"] = torch.rand(b, 5, generator=g, dtype=torch.float64).to(dtype)
    bt["v"] = torch.rand(b, 5, generator=g, dtype=torch.float64).to(dtype)
    return bt


def _ip_args(bt):
    return (bt["z_raw"], bt["z_enh"], bt["u"], bt["v"], bt["labels"], bt["modalities"])


@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_purifier_matches_oracle(variant):
    for bt in (purifier_batch(), shuffled(purifier_batch(), seed=2)):
        got = InformationPurifierLoss(variant, margin_e=0.3, margin_r=0.05)(*_ip_args(bt))
        want = oracle.information_purifier_loss(
            *_ip_args(bt), variant=variant, margin_e=0.3, margin_r=0.05
        )
        torch.testing.assert_close(got, want, **TOL)
        e = enhancement_loss(bt["z_raw"], bt["z_enh"], variant=variant)
        torch.testing.assert_close(
            e, oracle.enhancement_loss(bt["z_raw"], bt["z_enh"], variant=variant), **TOL
        )


def test_purifier_reference_hinges_vanish_when_purification_helps():
    bt = purifier_batch()
    sharp = bt["z_raw"] * 50  # enhanced logits much more confident than the raw ones
    assert enhancement_loss(bt["z_raw"], sharp).item() == 0.0
    assert reduction_loss(bt["u"], bt["u"] * 0.5, bt["labels"], bt["modalities"]).item() == 0.0


def test_purifier_gradcheck():
    bt = purifier_batch()
    ins = tuple(bt[key].requires_grad_() for key in ("z_raw", "z_enh", "u", "v"))
    for variant in ("reference", "paper"):
        assert gradcheck(
            lambda a, b, c, d, variant=variant: information_purifier_loss(
                a, b, c, d, bt["labels"], bt["modalities"], variant=variant, margin_e=0.5
            ),
            ins,
        )


@settings(max_examples=15, deadline=None)
@given(perm=st.permutations(list(range(12))))
def test_purifier_permutation_invariant(perm):
    bt = purifier_batch()
    base = InformationPurifierLoss()(*_ip_args(bt))
    got = InformationPurifierLoss()(*_ip_args(permuted(bt, torch.tensor(perm))))
    torch.testing.assert_close(got, base, atol=1e-10, rtol=1e-10)


def test_purifier_edge_batches():
    bt = purifier_batch(dtype=torch.float32)
    u, v = bt["u"].requires_grad_(), bt["v"].requires_grad_()
    y, t = bt["labels"], bt["modalities"]
    # identity 0 lacks infrared images: skipped (the released code gives NaN), warned
    keep = ~((y == y[0]) & (t == 1))
    with pytest.warns(UserWarning, match="skipped"):
        out = reduction_loss(u[keep], v[keep], y[keep], t[keep])
    want = oracle.reduction_loss(u[keep], v[keep], y[keep], t[keep])
    torch.testing.assert_close(out.double(), want, atol=1e-5, rtol=1e-5)
    # one modality only: zero attached to the graph
    vis = t == 0
    with pytest.warns(UserWarning, match="L_r is 0"):
        out = reduction_loss(u[vis], v[vis], y[vis], t[vis])
    out.backward()
    assert out.item() == 0.0 and not u.grad.any() and not v.grad.any()


def test_purifier_bad_input():
    bt = purifier_batch(dtype=torch.float32)
    with pytest.raises(ValueError, match="same shape"):
        enhancement_loss(bt["z_raw"], bt["z_enh"][:, :3])
    with pytest.raises(ValueError, match="same shape"):
        reduction_loss(bt["u"], bt["v"][:, :2], bt["labels"], bt["modalities"])
    with pytest.raises(ValueError, match="modalities 0"):
        reduction_loss(bt["u"], bt["v"], bt["labels"], bt["modalities"] * 2)
    with pytest.raises(ValueError, match="variant must be one of"):
        InformationPurifierLoss("both")


# ----------------------------------------------------------------------------- confusion


@pytest.mark.parametrize("mode", ["grl", "uniform", "pseudo_label"])
def test_confusion_matches_oracle(mode):
    g = torch.Generator().manual_seed(19)
    t = torch.tensor([1, 0]).repeat(6)
    z = torch.randn(12, 2, generator=g, dtype=torch.float64)
    z2 = torch.randn(12, 2, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        ModalityConfusionLoss(mode)(z, t), oracle.modality_confusion_loss(z, t, mode), **TOL
    )
    torch.testing.assert_close(  # K heads are summed
        modality_confusion_loss([z, z2], t, mode),
        oracle.modality_confusion_loss([z, z2], t, mode),
        **TOL,
    )


def test_pseudo_labels_match_positional_transcription_and_are_balanced():
    t = torch.tensor([1, 0]).repeat(10)
    reference = torch.roll(torch.repeat_interleave(t[: t.numel() // 2], 2), shifts=-1)
    got = pseudo_modality_labels(t)
    torch.testing.assert_close(got, reference)
    torch.testing.assert_close(got, oracle.pseudo_modality_labels(t))
    assert got.tolist()[:8] == [1, 0, 0, 1, 1, 0, 0, 1]
    for m in (0, 1):
        assert (got[t == m] == m).float().mean() == 0.5  # half true, half flipped
    # at the 0.5/0.5 optimum, pseudo_label and uniform agree
    z = torch.zeros(20, 2)
    torch.testing.assert_close(
        modality_confusion_loss(z, t, "pseudo_label"), modality_confusion_loss(z, t, "uniform")
    )


def test_confusion_gradcheck_and_uniform_permutation_invariance():
    t = torch.tensor([1, 0]).repeat(4)
    z = torch.randn(8, 2, dtype=torch.float64, requires_grad=True)
    for mode in ("grl", "uniform", "pseudo_label"):
        assert gradcheck(lambda a, mode=mode: modality_confusion_loss(a, t, mode), z)
    perm = torch.randperm(8)
    for mode in ("grl", "uniform"):
        torch.testing.assert_close(
            modality_confusion_loss(z[perm], t[perm], mode), modality_confusion_loss(z, t, mode)
        )


def test_confusion_bad_input():
    t = torch.tensor([1, 0]).repeat(4)
    z = torch.randn(8, 2)
    with pytest.raises(ValueError, match="alternating IR, VIS"):
        ModalityConfusionLoss()(z, torch.tensor([1, 1, 0, 0] * 2))
    with pytest.raises(ValueError, match="batch size 6"):
        ModalityConfusionLoss()(z[:6], t[:6])
    with pytest.raises(ValueError, match=r"modalities must lie in \[0, 2\)"):
        ModalityConfusionLoss("grl")(z, t * 2)
    with pytest.raises(TypeError, match="floating-point"):
        ModalityConfusionLoss("uniform")(z.long(), t)
    with pytest.raises(ValueError, match="at least 2 modality classes"):
        ModalityConfusionLoss("uniform")(z[:, :1], t)
    with pytest.raises(ValueError, match="mode must be one of"):
        ModalityConfusionLoss("adversarial")
    with pytest.raises(ValueError, match="share shape"):
        modality_confusion_loss([z, z[:, :1].expand(8, 3)], t, "uniform")


# ------------------------------------------------------------------ precision and devices


def _all_losses(bt):
    y, t = bt["labels"], bt["modalities"]
    return {
        "tgsa": TGSALoss()(bt["f_sh"], bt["f_sp"], y, t),
        "tgsa_paper": TGSALoss("paper")(bt["f_sh"], bt["f_sp"], y, t),
        "csa": CSALoss()(bt["z_sh"], bt["z_sp"], y, t),
        "mdr": MDRLoss()(bt["f_sh"], bt["z_sh"], y, t),
        "mdr_paper": MDRLoss("paper")(bt["f_sh"], bt["z_sh"], y, t),
        "ip": InformationPurifierLoss()(bt["z_sh"], bt["z_sp"], bt["f_sh"], bt["f_sp"], y, t),
        "conf": ModalityConfusionLoss()(bt["z_sh"][:, :2], t),
    }


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_and_half_inputs_give_finite_float32(dtype):
    bt = reference_batch(p=4, k=3, d=32, seed=20, dtype=torch.float32, scale=10.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for name, out in _all_losses(bt).items():
            assert out.dtype == torch.float32, name
            assert torch.isfinite(out), name
    half = {key: (v.to(dtype) if v.is_floating_point() else v) for key, v in bt.items()}
    full = _all_losses(bt)
    for name, out in _all_losses(half).items():
        assert out.dtype == torch.float32 and torch.isfinite(out), name
        if name != "tgsa_paper":  # peaked +distance graphs amplify input rounding
            torch.testing.assert_close(out, full[name], atol=0.1, rtol=0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    bt = reference_batch(seed=21, dtype=torch.float32)
    cpu = _all_losses(bt)
    gpu = _all_losses({key: v.cuda() for key, v in bt.items()})
    for name, out in gpu.items():
        assert out.device.type == "cuda"
        torch.testing.assert_close(out.cpu(), cpu[name], atol=1e-4, rtol=1e-4)


def test_float64_stays_float64():
    bt = reference_batch(seed=22)
    for name, out in _all_losses(bt).items():
        assert out.dtype == torch.float64, name


def test_tgsa_distillation_function_equals_module():
    bt = reference_batch(seed=23)
    args = (bt["f_sh"], bt["f_sp"], bt["labels"], bt["modalities"])
    torch.testing.assert_close(
        tgsa_distillation_loss(*args, detach_teacher=True), TGSALoss(detach_teacher=True)(*args)
    )
