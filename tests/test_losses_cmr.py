"""CMR loss against a loop transcription of the MCJA reference (NumPy PAV soft ranks)."""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.baselines.losses_cmr import cmr_loss_reference
from vireid.losses import _checks
from vireid.losses.cmr import CMRLoss, cmr_loss
from vireid.ops.permutahedron import _import_torchsort

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _batch(num_ids: int, per_mod: int, dim: int, seed: int, dtype=torch.float64, shuffle=True):
    """num_ids identities, per_mod images of each in both modalities, in a shuffled order."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_ids).repeat_interleave(2 * per_mod)
    modalities = torch.tensor([0] * per_mod + [1] * per_mod).repeat(num_ids)
    centers = torch.randn(num_ids, dim, generator=g, dtype=torch.float64)
    feats = centers[labels] + 0.8 * torch.randn(len(labels), dim, generator=g, dtype=torch.float64)
    if shuffle:
        order = torch.randperm(len(labels), generator=g)
        labels, modalities, feats = labels[order], modalities[order], feats[order]
    return feats.to(dtype), labels, modalities


def _value_and_grad(fn, feats, labels, modalities, **kw):
    x = feats.clone().requires_grad_()
    loss = fn(x, labels, modalities, **kw)
    loss.backward()
    return loss.detach(), x.grad


@pytest.mark.parametrize(
    ("num_ids", "per_mod", "eps"),
    [(4, 4, 0.5), (2, 2, 0.5), (3, 1, 0.5), (5, 3, 0.05), (6, 2, 2.0), (8, 4, 0.5)],
)
@pytest.mark.parametrize("fast_path", [True, False])
def test_matches_reference_transcription(num_ids, per_mod, eps, fast_path):
    feats, labels, mods = _batch(num_ids, per_mod, 16, seed=num_ids * 10 + per_mod)
    ours, our_grad = _value_and_grad(
        cmr_loss, feats, labels, mods, regularization_strength=eps, fast_path=fast_path,
        backend="torch",
    )  # fmt: skip
    ref, ref_grad = _value_and_grad(cmr_loss_reference, feats, labels, mods, eps=eps)
    assert torch.allclose(ours, ref, rtol=0, atol=1e-10)
    assert torch.allclose(our_grad, ref_grad, rtol=0, atol=1e-10)


def test_float32_matches_reference():
    feats, labels, mods = _batch(8, 4, 64, seed=3, dtype=torch.float32)
    ours, our_grad = _value_and_grad(cmr_loss, feats, labels, mods, backend="torch")
    ref, ref_grad = _value_and_grad(cmr_loss_reference, feats.double(), labels, mods)
    assert ours.dtype == torch.float32
    assert abs(float(ours) - float(ref)) < 1e-5 * max(1.0, float(ref))
    assert torch.allclose(our_grad.double(), ref_grad, atol=1e-5)


def test_fast_path_is_exact_and_closed_form_holds():
    feats, labels, mods = _batch(16, 4, 32, seed=1)
    fast, fast_grad = _value_and_grad(cmr_loss, feats, labels, mods, fast_path=True)
    slow, slow_grad = _value_and_grad(
        cmr_loss, feats, labels, mods, fast_path=False, backend="torch"
    )
    assert torch.allclose(fast, slow, atol=1e-12)
    assert torch.allclose(fast_grad, slow_grad, atol=1e-12)
    # mcja.md §4.2: L_row = (g-1)/2 + (2/eps) |P||N| (mean pos d - mean neg d) / g^2.
    f = torch.nn.functional.normalize(feats, dim=1)
    d = (1 - f @ f.t()) / 2
    per_mod = []
    for a in (0, 1):
        q, gal = mods == a, mods != a
        dd, pos = d[q][:, gal], (labels[q][:, None] == labels[gal][None, :])
        g, npos = gal.sum(), pos.sum(1)
        nneg = g - npos
        mean_pos = (dd * pos).sum(1) / npos
        mean_neg = (dd * ~pos).sum(1) / nneg
        per_mod.append(((g - 1) / 2 + 4 * npos * nneg * (mean_pos - mean_neg) / g**2).mean())
    assert torch.allclose(fast, torch.stack(per_mod).mean(), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 5), st.integers(1, 3))
def test_invariant_to_batch_order(seed, num_ids, per_mod):
    feats, labels, mods = _batch(num_ids, per_mod, 8, seed=seed, shuffle=False)
    base = cmr_loss(feats, labels, mods, backend="torch")
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    shuffled = cmr_loss(feats[perm], labels[perm], mods[perm], backend="torch")
    assert torch.allclose(base, shuffled, atol=1e-12)


@pytest.mark.parametrize("fast_path", [True, False])
def test_gradcheck(fast_path):
    feats, labels, mods = _batch(3, 3, 5, seed=2)
    feats.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x: cmr_loss(x, labels, mods, fast_path=fast_path, backend="torch"), (feats,)
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_autocast_and_half_inputs_are_finite_float32(dtype):
    feats, labels, mods = _batch(6, 4, 32, seed=4, dtype=torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = cmr_loss(feats, labels, mods, backend="torch")
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    half = feats.to(dtype).requires_grad_()
    loss = cmr_loss(half, labels, mods, backend="torch")
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert half.grad.dtype == dtype and torch.isfinite(half.grad.float()).all()


def test_more_than_two_modalities_pool_the_others():
    feats, labels, _ = _batch(4, 3, 8, seed=5)
    mods = torch.arange(len(labels)) % 3
    ours = cmr_loss(feats, labels, mods, backend="torch")
    ref = cmr_loss_reference(feats, labels, mods)
    assert torch.allclose(ours, ref, atol=1e-10)


@pytest.mark.parametrize(
    "case", ["one_modality", "ids_not_shared", "single_identity", "single_sample"]
)
def test_edge_batches_give_zero_on_the_graph_and_warn_once(case):
    feats, labels, mods = _batch(3, 2, 8, seed=6)
    if case == "one_modality":
        mods = torch.zeros_like(mods)
    elif case == "ids_not_shared":
        labels = labels * 2 + mods  # every identity lives in one modality only
    elif case == "single_identity":
        labels = torch.zeros_like(labels)  # no negative anywhere
    else:
        feats, labels, mods = feats[:1], labels[:1], mods[:1]
    _checks._WARNED.discard("cmr_no_valid_query")
    x = feats.clone().requires_grad_()
    with pytest.warns(UserWarning, match="no query has both"):
        loss = cmr_loss(x, labels, mods)
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.equal(x.grad, torch.zeros_like(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cmr_loss(x, labels, mods)  # the second time is silent


def test_module_matches_function_and_repr():
    feats, labels, mods = _batch(4, 3, 8, seed=7)
    crit = CMRLoss(regularization_strength=0.3, fast_path=False, backend="torch")
    expected = cmr_loss(feats, labels, mods, 0.3, fast_path=False, backend="torch")
    assert torch.equal(crit(feats, labels, mods), expected)
    assert "regularization_strength=0.3" in repr(crit)


def test_errors():
    feats, labels, mods = _batch(2, 2, 4, seed=8)
    with pytest.raises(ValueError, match=r"features must have shape \(B, D\)"):
        cmr_loss(feats[0], labels, mods)
    with pytest.raises(TypeError, match="floating-point"):
        cmr_loss(feats.long(), labels, mods)
    with pytest.raises(ValueError, match=r"labels must have shape \(8,\)"):
        cmr_loss(feats, labels[:3], mods)
    with pytest.raises(TypeError, match="modalities must hold integer labels"):
        cmr_loss(feats, labels, mods.float())
    with pytest.raises(ValueError, match="positive and finite"):
        cmr_loss(feats, labels, mods, regularization_strength=0.0)
    with pytest.raises(TypeError, match="regularization_strength"):
        cmr_loss(feats, labels, mods, regularization_strength=None)


@CUDA
def test_cuda_matches_cpu():
    feats, labels, mods = _batch(8, 4, 32, seed=9)
    cpu, cpu_grad = _value_and_grad(cmr_loss, feats, labels, mods, fast_path=False)
    gpu, gpu_grad = _value_and_grad(
        cmr_loss, feats.cuda(), labels.cuda(), mods.cuda(), fast_path=False
    )
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-10)
    assert torch.allclose(gpu_grad.cpu(), cpu_grad, atol=1e-10)


@pytest.mark.skipif(_import_torchsort() is None, reason="torchsort is not installed")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torchsort_backend_matches_pure_torch(dtype):
    # The MCJA reference runs on torchsort; the pure-PyTorch path must give the same numbers.
    feats, labels, mods = _batch(5, 2, 32, seed=11, dtype=dtype)
    kw = {"fast_path": False, "regularization_strength": 0.05}
    ours, our_grad = _value_and_grad(cmr_loss, feats, labels, mods, backend="torch", **kw)
    ts, ts_grad = _value_and_grad(cmr_loss, feats, labels, mods, backend="torchsort", **kw)
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert torch.allclose(ours, ts, rtol=tol, atol=tol)
    assert torch.allclose(our_grad, ts_grad, rtol=tol, atol=tol)
