"""Gradient reversal, modality classifier, GeM and BN neck (``vireid.nn``).

Oracles: closed forms (``−α·grad``, ``tanh(γp/2)`` for the DANN ramp, the GeM and batch-norm
equations written out here in float64), finite differences for the reversed Jacobian,
``torch.autograd.gradcheck`` in float64, and a functional re-implementation of the classifier
from its own weights.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from vireid.nn import (
    BNNeck,
    GeM,
    GradientReversal,
    ModalityClassifier,
    NeckOutput,
    dann_alpha,
    gem,
    grad_reverse,
)

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    ),
]


# --- gradient reversal -------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("alpha", [1.0, 0.3, 0.0, 2.5])
def test_grad_reverse_identity_forward_and_scaled_negative_backward(device, dtype, alpha):
    x = torch.randn(4, 7, device=device, dtype=dtype, requires_grad=True)
    upstream = torch.randn(4, 7, device=device, dtype=dtype)
    y = grad_reverse(x, alpha)
    assert torch.equal(y, x) and y.dtype == dtype and y.device == x.device
    y.backward(upstream)
    torch.testing.assert_close(x.grad, -alpha * upstream)


def test_grad_reverse_jacobian_is_minus_alpha_times_finite_difference_jacobian():
    alpha, eps = 0.7, 1e-6
    x = torch.randn(5, dtype=torch.float64)
    # numeric Jacobian of the forward map (central differences): the identity
    numeric = torch.stack(
        [(grad_reverse(x + eps * e, alpha) - grad_reverse(x - eps * e, alpha)) / (2 * eps)
         for e in torch.eye(5, dtype=torch.float64)],
        dim=1,
    )  # fmt: skip
    torch.testing.assert_close(numeric, torch.eye(5, dtype=torch.float64))
    # analytical Jacobian from the backward pass, one basis vector at a time
    rows = []
    for e in torch.eye(5, dtype=torch.float64):
        xr = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(grad_reverse(xr, alpha), xr, grad_outputs=e)
        rows.append(g)
    torch.testing.assert_close(torch.stack(rows), -alpha * numeric)


def test_grad_reverse_tensor_alpha_gets_no_gradient():
    x = torch.randn(3, requires_grad=True)
    alpha = torch.tensor(0.5, requires_grad=True)
    grad_reverse(x, alpha).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3,), -0.5))
    assert alpha.grad is None


def test_grad_reverse_double_backward_is_reversed_too():
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad((grad_reverse(x, 2.0) ** 2).sum(), x, create_graph=True)
    torch.testing.assert_close(g, -2.0 * 2 * x)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_dann_alpha_matches_tanh_form(p):
    # 2/(1+e^{-γp}) − 1 = tanh(γp/2)
    assert dann_alpha(p) == pytest.approx(math.tanh(5 * p), abs=1e-15)
    assert dann_alpha(p, gamma=4.0) == pytest.approx(math.tanh(2 * p), abs=1e-15)


def test_gradient_reversal_module_constant_and_schedule():
    grl = GradientReversal()
    assert grl.current_alpha == 1.0 and dict(grl.state_dict()) == {}
    x = torch.randn(2, 3, requires_grad=True)
    grl(x).sum().backward()
    torch.testing.assert_close(x.grad, -torch.ones(2, 3))

    ramp = GradientReversal(alpha=dann_alpha)
    assert ramp.current_alpha == 0.0  # progress starts at 0
    ramp.set_progress(0.25)
    x = torch.randn(2, 3, requires_grad=True)
    ramp(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((2, 3), -math.tanh(1.25)))
    assert "dann_alpha" in repr(ramp)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: grad_reverse([1.0]), TypeError, "x must be a torch.Tensor"),
        (lambda: grad_reverse(torch.ones(2, dtype=torch.long)), TypeError, "floating"),
        (lambda: grad_reverse(torch.ones(2), "1"), TypeError, "alpha must be a real number"),
        (lambda: grad_reverse(torch.ones(2), float("nan")), ValueError, "finite"),
        (lambda: grad_reverse(torch.ones(2), torch.ones(2)), TypeError, "0-d"),
        (lambda: GradientReversal(torch.tensor(1.0)), TypeError, "callable schedule"),
        (lambda: GradientReversal().set_progress(1.5), ValueError, r"\[0, 1\]"),
        (lambda: dann_alpha(-0.1), ValueError, "progress"),
        (lambda: dann_alpha(0.5, gamma=0), ValueError, "gamma"),
    ],
)
def test_gradient_reversal_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_schedule_returning_garbage_is_reported():
    grl = GradientReversal(alpha=lambda p: "x")
    with pytest.raises(TypeError, match=r"alpha\(progress\)"):
        grl(torch.ones(2))


# --- modality classifier -----------------------------------------------------------------------


def _classifier_oracle(m: ModalityClassifier, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode forward written with torch.nn.functional from the module's weights."""

    def bn(h, layer):
        return (h - layer.running_mean) / torch.sqrt(
            layer.running_var + layer.eps
        ) * layer.weight + layer.bias

    h = F.relu(bn(F.linear(x, m.fc1.weight, m.fc1.bias), m.bn1))
    h = F.relu(bn(F.linear(h, m.fc2.weight, m.fc2.bias), m.bn2))
    return F.linear(h, m.fc3.weight, m.fc3.bias)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_modality_classifier_eval_matches_functional_oracle(device, batch):
    torch.manual_seed(0)
    m = ModalityClassifier(in_dim=32, hidden=10).double().to(device)
    for bn in (m.bn1, m.bn2):  # non-trivial running statistics
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    m.eval()
    x = torch.randn(batch, 32, dtype=torch.float64, device=device)
    out = m(x)
    assert out.shape == (batch, 2) and out.dtype == torch.float64
    torch.testing.assert_close(out, _classifier_oracle(m, x))


def test_modality_classifier_default_architecture_and_keys():
    m = ModalityClassifier()
    keys = sorted(m.state_dict())
    bn_keys = ["bias", "num_batches_tracked", "running_mean", "running_var", "weight"]
    expected = sorted(
        [f"fc{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")]
        + [f"bn{i}.{p}" for i in (1, 2) for p in bn_keys]
    )
    assert keys == expected
    assert tuple(m.fc1.weight.shape) == (100, 2048) and tuple(m.fc3.weight.shape) == (2, 100)
    # Linear(2048→100), BN(100), Linear(100→100), BN(100), Linear(100→2)
    expected_params = (2048 * 100 + 100) + 200 + (100 * 100 + 100) + 200 + (100 * 2 + 2)
    assert sum(p.numel() for p in m.parameters()) == expected_params
    assert m.drop.p == 0.5


def test_confuser_gradient_is_minus_discriminator_gradient():
    torch.manual_seed(1)
    disc = ModalityClassifier(in_dim=16, hidden=8, dropout=0.0)
    conf = ModalityClassifier(in_dim=16, hidden=8, dropout=0.0, reverse_grad=True, alpha=0.5)
    conf.load_state_dict(disc.state_dict())  # same keys: the GRL holds no state
    x = torch.randn(6, 16)
    target = torch.randint(0, 2, (6,))
    grads = []
    for m in (disc, conf):
        xr = x.clone().requires_grad_(True)
        logits = m(xr)
        F.cross_entropy(logits, target).backward()
        grads.append((logits.detach(), xr.grad, m.fc1.weight.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0])  # same forward
    torch.testing.assert_close(grads[1][1], -0.5 * grads[0][1])  # reversed into the features
    torch.testing.assert_close(grads[1][2], grads[0][2])  # the head itself learns normally


def test_modality_classifier_dropout_only_in_training():
    m = ModalityClassifier(in_dim=8, hidden=64, dropout=0.5)
    x = torch.randn(4, 8)
    m.eval()
    torch.testing.assert_close(m(x), m(x))
    m.train()
    torch.manual_seed(0)
    a = m(x)
    torch.manual_seed(1)
    assert not torch.allclose(a, m(x))


@pytest.mark.parametrize(
    ("kwargs", "x", "error", "match"),
    [
        ({}, torch.randn(2, 100), ValueError, r"\(B, 2048\)"),
        ({"in_dim": 4}, torch.ones(2, 4, dtype=torch.long), TypeError, "floating"),
        ({"in_dim": 4}, torch.randn(0, 4), ValueError, "B >= 1"),
        ({"dropout": 1.0}, None, ValueError, "dropout"),
        ({"num_modalities": 1}, None, ValueError, "num_modalities"),
        ({"hidden": 0}, None, ValueError, "hidden"),
        ({"in_dim": 2.5}, None, TypeError, "in_dim must be an int"),
    ],
)
def test_modality_classifier_errors(kwargs, x, error, match):
    with pytest.raises(error, match=match):
        ModalityClassifier(**kwargs)(x)


# --- GeM ---------------------------------------------------------------------------------------


def _gem_oracle(x, p, eps, clamp):
    """Per (sample, channel) loop in float64."""
    b, c = x.shape[:2]
    flat = x.double().reshape(b, c, -1)
    out = torch.empty(b, c, dtype=torch.float64)
    for i in range(b):
        for j in range(c):
            v = flat[i, j]
            if clamp:
                out[i, j] = (torch.clamp(v, min=eps) ** p).sum() / v.numel()
                out[i, j] = out[i, j] ** (1.0 / p)
            else:
                out[i, j] = ((v**p).sum() / v.numel() + eps) ** (1.0 / p)
    return out


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("p", [1.0, 3.0, 4.5])
def test_gem_matches_loop_oracle(batch, p):
    x = torch.randn(batch, 5, 4, 3, dtype=torch.float64)
    torch.testing.assert_close(GeM(p=p)(x), _gem_oracle(x, p, 1e-6, True))
    pos = x.abs()
    torch.testing.assert_close(
        GeM(p=p, eps=1e-12, clamp=False)(pos), _gem_oracle(pos, p, 1e-12, False)
    )


def test_gem_p1_is_average_pooling_and_large_p_approaches_max():
    x = torch.rand(2, 6, 5, 4, dtype=torch.float64) + 0.1
    torch.testing.assert_close(gem(x, p=1.0), F.adaptive_avg_pool2d(x, 1).flatten(1))
    big = gem(x, p=200.0)
    mx = x.amax(dim=(2, 3))
    assert torch.all(big <= mx + 1e-12) and torch.all(big >= mx * 20 ** (-1 / 200) - 1e-12)


def test_gem_clamp_floors_negative_responses():
    x = -torch.rand(1, 2, 3, 3) - 0.5  # every response negative
    torch.testing.assert_close(gem(x, eps=1e-6), torch.full((1, 2), 1e-6))


def test_gem_gradcheck_float64():
    x = (torch.rand(2, 3, 4, 2, dtype=torch.float64) + 0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: gem(t, 3.0), (x,))
    assert torch.autograd.gradcheck(lambda t: gem(t, 3.0, 1e-12, clamp=False), (x,))
    p = torch.tensor([2.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t, q: gem(t, q), (x, p))


def test_gem_learnable_p_state_and_gradient():
    fixed, learn = GeM(), GeM(p=2.0, learnable=True)
    assert list(fixed.state_dict()) == [] and list(fixed.parameters()) == []
    assert list(learn.state_dict()) == ["p"] and tuple(learn.p.shape) == (1,)
    x = torch.rand(2, 3, 4, 4) + 0.1
    learn(x).sum().backward()
    assert learn.p.grad is not None and torch.isfinite(learn.p.grad).all()
    torch.testing.assert_close(learn(x), gem(x, 2.0))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_gem_half_precision_pools_in_float32(device, dtype):
    x = torch.full((2, 3, 4, 4), 50.0, device=device, dtype=dtype)  # 50³ overflows float16
    out = GeM()(x)
    assert out.dtype == dtype and out.device == x.device
    torch.testing.assert_close(out.float(), torch.full((2, 3), 50.0, device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_gem_channels_last_and_1d_maps(device):
    x = torch.rand(3, 8, 6, 4, device=device)
    torch.testing.assert_close(
        GeM()(x.to(memory_format=torch.channels_last)), GeM()(x), rtol=1e-6, atol=1e-7
    )
    seq = torch.rand(2, 5, 7, device=device)
    torch.testing.assert_close(
        GeM()(seq), _gem_oracle(seq.cpu(), 3.0, 1e-6, True).float().to(device)
    )


def test_gem_compiles():
    x = torch.rand(2, 8, 5, 3)
    try:
        compiled = torch.compile(GeM(), backend="eager", fullgraph=True)
        out = compiled(x)
    except Exception as err:  # compile unsupported on this platform / Python
        pytest.skip(f"torch.compile unavailable: {type(err).__name__}: {err}")
    torch.testing.assert_close(out, GeM()(x))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: gem(torch.rand(2, 3)), ValueError, "spatial"),
        (lambda: gem(torch.ones(1, 2, 3, dtype=torch.int32)), TypeError, "floating"),
        (lambda: gem(torch.rand(1, 2, 3), p=0), ValueError, "p must be positive"),
        (lambda: GeM(eps=-1.0), ValueError, "eps must be positive"),
        (lambda: GeM(p="3"), TypeError, "p must be a real number"),
        (lambda: GeM()(None), TypeError, "torch.Tensor"),
    ],
)
def test_gem_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(1, 5),
    st.integers(1, 5),
    st.floats(1.0, 6.0),
)
def test_gem_is_between_mean_and_max(b, c, h, w, p):
    # power-mean inequality: mean ≤ M_p ≤ max for p ≥ 1 on positive inputs
    x = torch.rand(b, c, h, w, dtype=torch.float64) + 0.01
    out = gem(x, p)
    assert torch.all(out >= x.mean(dim=(2, 3)) - 1e-12)
    assert torch.all(out <= x.amax(dim=(2, 3)) + 1e-12)


# --- BN neck -----------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", [2, 7])
def test_bnneck_train_and_eval_match_closed_form(device, batch):
    neck = BNNeck(6).double().to(device)
    with torch.no_grad():
        neck.bn.weight.uniform_(0.5, 2)
    x = torch.randn(batch, 6, dtype=torch.float64, device=device) * 3 + 1
    out = neck(x)
    assert isinstance(out, NeckOutput) and out.pre_bn is x
    mean, var = x.mean(0), x.var(0, unbiased=False)
    torch.testing.assert_close(out.post_bn, (x - mean) / torch.sqrt(var + 1e-5) * neck.bn.weight)
    # running stats: momentum 0.1 from (0, 1), the unbiased batch variance
    torch.testing.assert_close(neck.bn.running_mean, 0.1 * mean)
    torch.testing.assert_close(neck.bn.running_var, 0.9 + 0.1 * x.var(0, unbiased=True))
    neck.eval()
    _, post = neck(x[:1])
    expected = (x[:1] - neck.bn.running_mean) / torch.sqrt(neck.bn.running_var + 1e-5)
    torch.testing.assert_close(post, expected * neck.bn.weight)


def test_bnneck_bias_frozen_and_keys():
    neck = BNNeck(4)
    assert sorted(neck.state_dict()) == [
        "bn.bias", "bn.num_batches_tracked", "bn.running_mean", "bn.running_var", "bn.weight",
    ]  # fmt: skip
    assert not neck.bn.bias.requires_grad and neck.bn.weight.requires_grad
    torch.testing.assert_close(neck.bn.weight, torch.ones(4))
    neck(torch.randn(5, 4)).post_bn.square().sum().backward()
    assert neck.bn.bias.grad is None and neck.bn.weight.grad is not None
    trainable = BNNeck(4, bias_frozen=False)
    trainable(torch.randn(5, 4)).post_bn.sum().backward()
    assert trainable.bn.bias.grad is not None
    synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(BNNeck(4))
    assert isinstance(synced.bn, torch.nn.SyncBatchNorm) and not synced.bn.bias.requires_grad


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: BNNeck(0), ValueError, "dim must be positive"),
        (lambda: BNNeck(4.0), TypeError, "dim must be an int"),
        (lambda: BNNeck(4)(torch.randn(2, 5)), ValueError, r"\(B, 4\)"),
        (lambda: BNNeck(4)(torch.ones(2, 4, dtype=torch.long)), TypeError, "floating"),
    ],
)
def test_bnneck_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_schedule_may_return_a_tensor_without_sync():
    alpha = torch.tensor(0.25)
    grl = GradientReversal(alpha=lambda p: alpha)
    assert grl.current_alpha is alpha
    x = torch.randn(3, requires_grad=True)
    grl(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3,), -0.25))
