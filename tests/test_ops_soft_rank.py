"""Soft rank / soft sort against a NumPy PAV oracle, closed forms and properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.baselines import soft_rank_numpy as oracle
from vireid.ops import permutahedron, soft_rank, soft_sort
from vireid.ops.permutahedron import _import_torchsort

REGS = ("l2", "kl")
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _inputs(rows: int, n: int, scale: float, seed: int, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(rows, n, generator=g, dtype=torch.float64) * scale).to(dtype)


def _rank_and_grad(fn, x: torch.Tensor, grad: torch.Tensor, **kw):
    x = x.clone().requires_grad_()
    out = fn(x, backend="torch", **kw)
    out.backward(grad)
    return out.detach(), x.grad


@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("scale", [0.05, 1.0, 10.0, 300.0])
@pytest.mark.parametrize("eps", [0.1, 0.5, 1.0, 4.0])
def test_soft_rank_matches_oracle_float64(reg, scale, eps):
    x = _inputs(12, 40, scale, seed=int(scale * 100) + int(eps * 10))
    g = _inputs(12, 40, 1.0, seed=7)
    r, grad = _rank_and_grad(soft_rank, x, g, regularization=reg, regularization_strength=eps)
    ref, ref_grad = oracle.soft_rank_vjp(x.numpy(), g.numpy(), reg, eps)
    tol = 1e-10 * max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(r.numpy(), ref, rtol=0, atol=tol)
    np.testing.assert_allclose(grad.numpy(), ref_grad, rtol=0, atol=1e-10 * max(1.0, 1 / eps))


@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("scale", [0.05, 1.0, 10.0, 300.0])
def test_soft_sort_matches_oracle_float64(reg, scale):
    x = _inputs(10, 33, scale, seed=3)
    if reg == "kl":
        x = x.abs() + 0.1  # the KL sort is meant for positive values
    g = _inputs(10, 33, 1.0, seed=8)
    out, grad = _rank_and_grad(soft_sort, x, g, regularization=reg, regularization_strength=0.7)
    for row in range(x.shape[0]):
        ref, jac = oracle.soft_sort_row(x[row].numpy(), reg, 0.7)
        np.testing.assert_allclose(out[row].numpy(), ref, rtol=1e-12, atol=1e-10)
        np.testing.assert_allclose(grad[row].numpy(), g[row].numpy() @ jac, atol=1e-10)


@pytest.mark.parametrize("reg", REGS)
def test_float32_matches_oracle(reg):
    x = _inputs(16, 100, 5.0, seed=11, dtype=torch.float32)
    g = _inputs(16, 100, 1.0, seed=12, dtype=torch.float32)
    r, grad = _rank_and_grad(soft_rank, x, g, regularization=reg, regularization_strength=1.0)
    assert r.dtype == torch.float32 and grad.dtype == torch.float32
    ref, ref_grad = oracle.soft_rank_vjp(x.double().numpy(), g.double().numpy(), reg, 1.0)
    np.testing.assert_allclose(r.numpy(), ref, rtol=1e-5, atol=1e-5 * 100)
    np.testing.assert_allclose(grad.numpy(), ref_grad, atol=1e-4)


def test_ties_are_pooled_like_the_oracle():
    # Integer values with many ties and rows whose partitions differ a lot (padding paths).
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (20, 25), generator=g).double()
    x[0] = 0.0  # one block
    x[1] = torch.arange(25, dtype=torch.float64) * 50  # no pooling at all
    for reg in REGS:
        r = soft_rank(x, reg, 0.3, backend="torch")
        np.testing.assert_allclose(r.numpy(), oracle.soft_rank(x.numpy(), reg, 0.3), atol=1e-10)


def test_adversarial_cascade_needs_many_rounds_but_is_exact():
    # Values spaced so that each pooling round uncovers exactly one new violation.
    n = 60
    x = torch.cat([torch.tensor([-1000.0]), torch.arange(1, n, dtype=torch.float64) * 1.01])
    x = x.flip(0).unsqueeze(0).repeat(2, 1)
    x[1] = x[1] * -1
    for reg in REGS:
        r = soft_rank(x, reg, 1.0, backend="torch")
        np.testing.assert_allclose(r.numpy(), oracle.soft_rank(x.numpy(), reg, 1.0), atol=1e-9)


def test_limits_hard_ranks_and_mean_rank():
    x = _inputs(4, 30, 1.0, seed=5)
    hard = x.argsort(1).argsort(1).double() + 1
    assert torch.allclose(soft_rank(x, "l2", 1e-4, backend="torch"), hard)
    flat = soft_rank(x, "l2", 1e4, backend="torch")
    assert torch.allclose(flat, torch.full_like(flat, 15.5), atol=1e-2)
    assert torch.allclose(soft_sort(x, "l2", 1e-4, backend="torch"), x.sort(1).values)


def test_closed_form_single_block_regime():
    # mcja.md §4.2: d in [0, 1], eps = 0.5, n >= 8 -> r = (n + 1)/2 + (d - mean d)/eps.
    g = torch.Generator().manual_seed(1)
    d = torch.rand(32, 70, generator=g, dtype=torch.float64)
    r = soft_rank(d, "l2", 0.5, backend="torch")
    expected = (70 + 1) / 2 + (d - d.mean(1, keepdim=True)) / 0.5
    assert torch.allclose(r, expected, atol=1e-12)


@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("fn", [soft_rank, soft_sort])
def test_gradcheck(reg, fn):
    x = _inputs(3, 7, 2.0, seed=9)
    if fn is soft_sort and reg == "kl":
        x = x.abs() + 0.5
    x.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda t: fn(t, reg, 0.8, backend="torch"), (x,), eps=1e-6, atol=1e-6
    )


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 30),
    st.floats(0.05, 20.0),
    st.integers(0, 10_000),
    st.sampled_from(REGS),
)
def test_properties(rows, n, eps, seed, reg):
    x = _inputs(rows, n, 3.0, seed)
    r = soft_rank(x, reg, eps, backend="torch")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    # Permuting a row permutes its ranks.
    assert torch.allclose(soft_rank(x[:, perm], reg, eps, backend="torch"), r[:, perm], atol=1e-9)
    # Shifting the input does not change the ranks.
    assert torch.allclose(soft_rank(x + 17.0, reg, eps, backend="torch"), r, atol=1e-8)
    if reg == "l2":
        # The permutahedron lies in the plane sum = n(n+1)/2, and the projection stays in [1, n].
        assert torch.allclose(r.sum(1), torch.full((rows,), n * (n + 1) / 2, dtype=r.dtype))
        assert float(r.min()) >= 1 - 1e-9 and float(r.max()) <= n + 1e-9
        # Soft sort keeps the sum of the row.
        s = soft_sort(x, reg, eps, backend="torch")
        assert torch.allclose(s.sum(1), x.sum(1), atol=1e-9)
    np.testing.assert_allclose(r.numpy(), oracle.soft_rank(x.numpy(), reg, eps), atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32(dtype):
    x = _inputs(4, 20, 1.0, seed=2, dtype=dtype)
    r = soft_rank(x, backend="torch")
    assert r.dtype == dtype
    ref = soft_rank(x.float(), backend="torch")
    assert torch.allclose(r.float(), ref, atol=0.1)


def test_empty_and_degenerate_shapes():
    assert soft_rank(torch.zeros(0, 5), backend="torch").shape == (0, 5)
    assert soft_rank(torch.zeros(3, 0), backend="torch").shape == (3, 0)
    assert torch.equal(soft_rank(torch.tensor([[4.0]]), backend="torch"), torch.ones(1, 1))


def test_errors():
    with pytest.raises(ValueError, match="2-D tensor"):
        soft_rank(torch.zeros(5))
    with pytest.raises(ValueError, match="2-D tensor"):
        soft_sort(torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match="floating-point"):
        soft_rank(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        soft_rank(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="regularization must be 'l2' or 'kl'"):
        soft_rank(torch.zeros(2, 3), regularization="l1")
    with pytest.raises(ValueError, match="positive and finite"):
        soft_rank(torch.zeros(2, 3), regularization_strength=0.0)
    with pytest.raises(ValueError, match="positive and finite"):
        soft_rank(torch.zeros(2, 3), regularization_strength=-1.0)
    with pytest.raises(TypeError, match="regularization_strength"):
        soft_rank(torch.zeros(2, 3), regularization_strength="1")
    with pytest.raises(ValueError, match="backend"):
        soft_rank(torch.zeros(2, 3), backend="cuda")
    with pytest.raises(ValueError, match="finite"):
        soft_rank(torch.tensor([[1.0, float("nan")]]))


@pytest.mark.skipif(_import_torchsort() is not None, reason="torchsort is installed")
def test_torchsort_backend_missing_says_how_to_install():
    with pytest.raises(ImportError, match="pip install vireid\\[torchsort\\]"):
        soft_rank(torch.zeros(2, 3), backend="torchsort")


@pytest.mark.skipif(_import_torchsort() is None, reason="torchsort is not installed")
@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("fn_name", ["soft_rank", "soft_sort"])
def test_agrees_with_torchsort(reg, fn_name):
    ts = _import_torchsort()
    fn = {"soft_rank": soft_rank, "soft_sort": soft_sort}[fn_name]
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-5)):
        x = _inputs(8, 50, 3.0, seed=4, dtype=dtype)
        if fn_name == "soft_sort" and reg == "kl":
            x = x.abs() + 0.1
        g = _inputs(8, 50, 1.0, seed=5, dtype=dtype)
        ours, our_grad = _rank_and_grad(fn, x, g, regularization=reg, regularization_strength=0.9)
        xt = x.clone().requires_grad_()
        theirs = getattr(ts, fn_name)(xt, regularization=reg, regularization_strength=0.9)
        theirs.backward(g)
        scale = max(1.0, float(theirs.abs().max()))
        assert torch.allclose(ours, theirs.detach(), rtol=0, atol=tol * scale)
        assert torch.allclose(our_grad, xt.grad, rtol=0, atol=tol * scale)


def test_torch_compile_runs():
    x = _inputs(3, 9, 1.0, seed=6)
    try:
        compiled = torch.compile(lambda t: soft_rank(t, backend="torch"), backend="eager")
        out = compiled(x)
    except Exception as exc:  # pragma: no cover - depends on the local torch build
        pytest.skip(f"torch.compile is unavailable here: {exc}")
    assert torch.allclose(out, soft_rank(x, backend="torch"))


@CUDA
@pytest.mark.parametrize("reg", REGS)
def test_cuda_matches_cpu(reg):
    x = _inputs(32, 200, 3.0, seed=10)
    g = _inputs(32, 200, 1.0, seed=11)
    r_cpu, grad_cpu = _rank_and_grad(soft_rank, x, g, regularization=reg)
    r_gpu, grad_gpu = _rank_and_grad(soft_rank, x.cuda(), g.cuda(), regularization=reg)
    assert r_gpu.device.type == "cuda"
    assert torch.allclose(r_gpu.cpu(), r_cpu, atol=1e-10)
    assert torch.allclose(grad_gpu.cpu(), grad_cpu, atol=1e-10)


@pytest.mark.parametrize("budget", [0, 10**9])
@pytest.mark.parametrize("fn", ["rank", "sort"])
def test_l2_partition_paths_agree(monkeypatch, budget, fn):
    # budget 0: pooling rounds only; huge budget: the concave-majorant step from the start.
    import sys

    monkeypatch.setattr(sys.modules["vireid.ops.permutahedron"], "_HULL_BUDGET", budget)
    g = torch.Generator().manual_seed(budget % 97)
    x = torch.cat(
        [
            torch.randn(20, 30, generator=g, dtype=torch.float64) * 5,
            torch.randint(0, 3, (5, 30), generator=g).double(),  # ties
        ]
    )
    if fn == "rank":
        grad = torch.randn(x.shape, generator=g, dtype=torch.float64)
        r, got = _rank_and_grad(soft_rank, x, grad, regularization_strength=0.7)
        ref, ref_grad = oracle.soft_rank_vjp(x.numpy(), grad.numpy(), "l2", 0.7)
        np.testing.assert_allclose(r.numpy(), ref, atol=1e-10)
        np.testing.assert_allclose(got.numpy(), ref_grad, atol=1e-10)
    else:
        out = soft_sort(x, "l2", 0.7, backend="torch")
        np.testing.assert_allclose(out.numpy(), oracle.soft_sort(x.numpy(), "l2", 0.7), atol=1e-10)


def test_overflowing_scale_is_a_clear_error():
    x = torch.tensor([[1e30, -1e30, 2e30]])
    with pytest.raises(ValueError, match="regularization_strength so small"):
        soft_rank(x, regularization_strength=1e-10, backend="torch")


def test_partition_of_a_row_does_not_depend_on_the_rest_of_the_batch():
    # A near-tie row: its blocks must be the same alone and next to rows that change which
    # partition path (pooling rounds or the one-step finish) runs.
    import sys

    pav = sys.modules["vireid.ops.permutahedron"]._pav_blocks
    y = torch.tensor([[0.3, 0.0, 0.4, 0.2, 0.5, 0.4, 0.2, 0.2, 0.3, 0.3, 0.1, 0.3]])
    alone, _ = pav(y, None)
    crowd = torch.cat([y, torch.arange(12, 0, -1, dtype=torch.float32).repeat(5000, 1)])
    together, _ = pav(crowd, None)
    assert torch.equal(alone[0], together[0])


@pytest.mark.parametrize("regularization", ["l2", "kl"])
@pytest.mark.parametrize("strength", [1e-6, 1e-9, 1e-12, 1e-20])
def test_float32_keeps_the_ranks_at_extreme_scale(regularization, strength):
    # x/ε of 1e8 and beyond once cancelled the ranks to all zeros in float32.
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 40, generator=g)
    x[:, 3] = x[:, 7]  # a tie, pooled into one block
    ours = soft_rank(x, regularization=regularization, regularization_strength=strength,
                     backend="torch")  # fmt: skip
    ref = soft_rank(x.double(), regularization=regularization, regularization_strength=strength,
                    backend="torch")  # fmt: skip
    torch.testing.assert_close(ours.double(), ref, rtol=0, atol=1e-4)
    hard = x.argsort(dim=1).argsort(dim=1).double() + 1
    untied = torch.ones(40, dtype=torch.bool)
    untied[[3, 7]] = False
    torch.testing.assert_close(ours.double()[:, untied], hard[:, untied], rtol=0, atol=1e-4)


@pytest.mark.parametrize("fn", [soft_rank, soft_sort])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_auto_hands_torchsort_float32_and_returns_the_input_dtype(monkeypatch, fn, dtype):
    seen = []

    class FakeTorchsort:
        @staticmethod
        def soft_rank(v, **kw):
            seen.append(v.dtype)
            return soft_rank(v, backend="torch", **kw)

        @staticmethod
        def soft_sort(v, **kw):
            seen.append(v.dtype)
            return soft_sort(v, backend="torch", **kw)

    monkeypatch.setattr(permutahedron, "_import_torchsort", lambda: FakeTorchsort)
    x = torch.randn(3, 9).to(dtype)
    out = fn(x, regularization_strength=0.5)
    assert seen == [torch.float32] and out.dtype == dtype
    torch.testing.assert_close(out, fn(x, regularization_strength=0.5, backend="torch"))
