"""IDKL's information purifier and MCJA's modality distribution adapter (``vireid.nn``).

Oracles: step-by-step re-implementations written here in float64 (instance norm from per-sample
moments, gates as explicit matrix products, Eq. 12 term by term; MDA with an explicit loop over
the masks and batch norm from batch moments), the spec's parameter counts (``2CM + M + 4C``),
exact identity at initialisation, and ``torch.autograd.gradcheck``.
"""

from __future__ import annotations

import pytest
import torch

from vireid.nn import InformationPurifier, ModalityDistributionAdapter, PurifierOutput

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    ),
]


# --- purifier ----------------------------------------------------------------------------------


def _gate_oracle(gate: torch.nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """σ(W2 · ReLU(W1 · x)) at every position, as matrix products over the channel axis."""
    w1 = gate[0].weight[:, :, 0, 0]  # (C/r, C)
    w2 = gate[2].weight[:, :, 0, 0]  # (C, C/r)
    h = torch.einsum("kc,bchw->bkhw", w1, x).clamp(min=0)
    return torch.sigmoid(torch.einsum("ck,bkhw->bchw", w2, h))


def _purifier_oracle(m: InformationPurifier, x: torch.Tensor) -> dict[str, torch.Tensor]:
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True)  # biased, as instance norm
    normalized = (x - mean) / torch.sqrt(var + 1e-5)
    if m.norm.affine:
        normalized = normalized * m.norm.weight.view(1, -1, 1, 1) + m.norm.bias.view(1, -1, 1, 1)
    pool = m.mask_mode == "channel"
    mask_e = _gate_oracle(m.mask_e, x.mean(dim=(2, 3), keepdim=True) if pool else x)
    mask_r = _gate_oracle(
        m.mask_r, normalized.mean(dim=(2, 3), keepdim=True) if pool else normalized
    )
    enhanced = mask_e * x  # F^{d+}
    reduced = mask_r * normalized  # F̂^{m−}
    purified = mask_e * reduced + mask_r * enhanced  # Eq. 12, term by term
    return dict(
        purified=purified, normalized=normalized, enhanced=enhanced, reduced=reduced,
        mask_e=mask_e, mask_r=mask_r,
    )  # fmt: skip


def _randomise_norm(m: InformationPurifier) -> None:
    with torch.no_grad():
        m.norm.weight.uniform_(0.5, 1.5)
        m.norm.bias.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mask_mode", ["pixel", "channel"])
@pytest.mark.parametrize("batch", [1, 3])
def test_purifier_matches_step_by_step_oracle(device, mask_mode, batch):
    torch.manual_seed(0)
    m = InformationPurifier(16, reduction=4, mask_mode=mask_mode).double().to(device)
    _randomise_norm(m)
    x = torch.randn(batch, 16, 5, 3, dtype=torch.float64, device=device).relu()
    out = m(x)
    assert isinstance(out, PurifierOutput)
    expected = _purifier_oracle(m, x)
    for name, value in expected.items():
        torch.testing.assert_close(getattr(out, name), value, msg=name)
    mask_shape = (batch, 16, 1, 1) if mask_mode == "channel" else (batch, 16, 5, 3)
    assert out.mask_e.shape == out.mask_r.shape == mask_shape
    assert out.purified.shape == x.shape and out.purified.dtype == torch.float64
    assert ((out.mask_e > 0) & (out.mask_e < 1)).all()


def test_purifier_closed_form_equals_eq12():
    torch.manual_seed(1)
    m = InformationPurifier(32, reduction=8)
    _randomise_norm(m)
    x = torch.randn(4, 32, 6, 3)
    out = m(x)
    eq12 = out.mask_e * out.reduced + out.mask_r * out.enhanced
    closed = out.mask_e * out.mask_r * (x + out.normalized)
    torch.testing.assert_close(out.purified, eq12)
    torch.testing.assert_close(out.purified, closed, rtol=0, atol=0)


def test_purifier_paper_variant_without_affine():
    m = InformationPurifier(8, reduction=2, affine=False).double()
    x = torch.randn(2, 8, 4, 4, dtype=torch.float64)
    out = m(x)
    torch.testing.assert_close(out.normalized, _purifier_oracle(m, x)["normalized"])
    assert sorted(m.state_dict()) == [
        "mask_e.0.weight", "mask_e.2.weight", "mask_r.0.weight", "mask_r.2.weight",
        "norm.num_batches_tracked", "norm.running_mean", "norm.running_var",
    ]  # fmt: skip


def test_purifier_eval_uses_running_statistics():
    m = InformationPurifier(8, reduction=2).double()
    _randomise_norm(m)
    for _ in range(3):
        m(torch.randn(4, 8, 3, 3, dtype=torch.float64) * 2 + 1)
    m.eval()
    x = torch.randn(2, 8, 3, 3, dtype=torch.float64)
    rm = m.norm.running_mean.view(1, -1, 1, 1)
    rv = m.norm.running_var.view(1, -1, 1, 1)
    expected = (x - rm) / torch.sqrt(rv + 1e-5) * m.norm.weight.view(1, -1, 1, 1)
    torch.testing.assert_close(m(x).normalized, expected + m.norm.bias.view(1, -1, 1, 1))


def test_purifier_default_configuration_and_keys():
    m = InformationPurifier()
    assert m.mask_mode == "pixel" and m.norm.affine and m.norm.track_running_stats
    assert m.norm.eps == 1e-5 and m.norm.momentum == 0.1
    assert tuple(m.mask_e[0].weight.shape) == (128, 2048, 1, 1)  # c/r = 2048/16
    assert m.mask_e[0].bias is None and m.mask_e[2].bias is None
    # two gates of 2·C·C/r weights plus the IN affine γ, β
    assert sum(p.numel() for p in m.parameters()) == 2 * (2 * 2048 * 128) + 2 * 2048
    keys = sorted(m.state_dict())
    assert keys == [
        "mask_e.0.weight", "mask_e.2.weight", "mask_r.0.weight", "mask_r.2.weight",
        "norm.bias", "norm.num_batches_tracked", "norm.running_mean", "norm.running_var",
        "norm.weight",
    ]  # fmt: skip
    assert sorted(InformationPurifier(mask_mode="channel").state_dict()) == keys


@pytest.mark.parametrize("mask_mode", ["pixel", "channel"])
def test_purifier_gradcheck(mask_mode):
    torch.manual_seed(2)
    m = InformationPurifier(6, reduction=2, mask_mode=mask_mode).double()
    _randomise_norm(m)
    x = torch.randn(2, 6, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: m(t).purified, (x,))
    assert torch.autograd.gradcheck(lambda t: m(t).enhanced, (x,))


@pytest.mark.parametrize("device", DEVICES)
def test_purifier_channels_last_and_low_precision(device):
    torch.manual_seed(3)
    m = InformationPurifier(16, reduction=4).to(device)
    x = torch.randn(2, 16, 6, 4, device=device)
    ref = m(x).purified
    torch.testing.assert_close(
        m(x.to(memory_format=torch.channels_last)).purified, ref, rtol=1e-5, atol=1e-6
    )
    half = m.to(torch.bfloat16)(x.bfloat16()).purified
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), ref, rtol=0.1, atol=0.1)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: InformationPurifier(8, 2)(torch.randn(2, 4, 3, 3)), ValueError, r"\(B, 8, H"),
        (lambda: InformationPurifier(8, 2)(torch.randn(2, 8, 9)), ValueError, r"\(B, 8, H"),
        (lambda: InformationPurifier(8, 2)(torch.ones(1, 8, 2, 2).int()), TypeError, "floating"),
        (lambda: InformationPurifier(mask_mode="spatial"), ValueError, "mask_mode"),
        (lambda: InformationPurifier(reduction=0), ValueError, "reduction"),
        (lambda: InformationPurifier(channels=8.0), TypeError, "channels must be an int"),
    ],
)
def test_purifier_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- modality distribution adapter -------------------------------------------------------------


def _mda_oracle(m: ModalityDistributionAdapter, x: torch.Tensor) -> torch.Tensor:
    """Training-mode MDA with an explicit loop over the M masks (mcja.md §2.2)."""
    b, c, h, w = x.shape
    flat = x.reshape(b, c, h * w)
    s_w = m.mask_conv.weight[:, :, 0, 0]  # (M, C)
    logits = torch.einsum("mc,bcp->bmp", s_w, flat) + m.mask_conv.bias.view(1, -1, 1)
    masks = torch.exp(logits - logits.amax(-1, keepdim=True))
    masks = masks / masks.sum(-1, keepdim=True)  # softmax over the H·W positions
    kernel = m.context_conv.weight[:, 0, :]  # (C, M)
    z = torch.zeros(b, c, dtype=x.dtype)
    for k in range(m.num_masks):
        context_k = (flat * masks[:, k : k + 1, :]).sum(-1)  # (B, C)
        z = z + kernel[:, k] * context_k

    def batch_norm(t, bn, dims):
        mean = t.mean(dims, keepdim=True)
        var = t.var(dims, unbiased=False, keepdim=True)
        shape = [1, -1] + [1] * (t.dim() - 2)
        return (t - mean) / torch.sqrt(var + bn.eps) * bn.weight.view(shape) + bn.bias.view(shape)

    gate = torch.sigmoid(batch_norm(z, m.gate_bn, (0,)))
    return batch_norm(x * gate[:, :, None, None], m.out_bn, (0, 2, 3)) + x


def _randomise_mda(m: ModalityDistributionAdapter) -> None:
    with torch.no_grad():
        for bn in (m.gate_bn, m.out_bn):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mda_is_exactly_identity_at_init(device, mode, dtype):
    torch.manual_seed(0)
    m = ModalityDistributionAdapter(24, num_masks=3).to(device=device, dtype=dtype)
    with torch.no_grad():  # whatever the other parameters hold, BN_o's γ = β = 0 zeroes it
        m.mask_conv.weight.normal_()
        m.context_conv.weight.normal_()
    m.train(mode == "train")
    x = torch.randn(4, 24, 6, 3, device=device, dtype=dtype) * 5
    assert torch.equal(m(x), x)
    assert torch.count_nonzero(m.out_bn.weight) == 0 and torch.count_nonzero(m.out_bn.bias) == 0


@pytest.mark.parametrize("num_masks", [1, 2, 12])
@pytest.mark.parametrize("batch", [2, 5])
def test_mda_matches_loop_oracle(num_masks, batch):
    torch.manual_seed(num_masks)
    m = ModalityDistributionAdapter(10, num_masks=num_masks).double()
    _randomise_mda(m)
    x = torch.randn(batch, 10, 4, 3, dtype=torch.float64).relu()
    torch.testing.assert_close(m(x), _mda_oracle(m, x))


def test_mda_gradient_flows_into_output_bn_at_init():
    m = ModalityDistributionAdapter(8)
    x = torch.randn(3, 8, 4, 4, requires_grad=True)
    m(x).square().sum().backward()
    assert m.out_bn.weight.grad.abs().sum() > 0
    torch.testing.assert_close(x.grad, 2 * x.detach())  # identity map: d(Σx²)/dx = 2x


def test_mda_gradcheck():
    torch.manual_seed(4)
    m = ModalityDistributionAdapter(5, num_masks=2).double()
    _randomise_mda(m)
    x = torch.randn(3, 5, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (x,))


@pytest.mark.parametrize(
    ("channels", "num_masks", "expected"),
    [(512, 2, 4_098), (1024, 2, 8_194), (512, 12, 14_348), (1024, 12, 28_684)],
)
def test_mda_parameter_count_matches_spec_table(channels, num_masks, expected):
    m = ModalityDistributionAdapter(channels, num_masks)
    count = sum(p.numel() for p in m.parameters())
    assert count == expected == 2 * channels * num_masks + num_masks + 4 * channels
    buffers = sum(b.numel() for n, b in m.named_buffers() if "num_batches" not in n)
    assert buffers == 4 * channels


def test_mda_state_dict_keys_pinned():
    keys = sorted(ModalityDistributionAdapter(16).state_dict())
    bn = ["bias", "num_batches_tracked", "running_mean", "running_var", "weight"]
    assert keys == sorted(
        ["context_conv.weight", "mask_conv.bias", "mask_conv.weight"]
        + [f"gate_bn.{k}" for k in bn]
        + [f"out_bn.{k}" for k in bn]
    )
    m = ModalityDistributionAdapter(16, num_masks=3)
    assert tuple(m.context_conv.weight.shape) == (16, 1, 3)
    assert tuple(m.mask_conv.weight.shape) == (3, 16, 1, 1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", [2, 6])
def test_mda_channels_last_eval_and_bfloat16(device, batch):
    torch.manual_seed(5)
    m = ModalityDistributionAdapter(16).to(device)
    _randomise_mda(m)
    x = torch.randn(batch, 16, 5, 4, device=device)
    ref = m(x)
    cl = m(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(cl, ref, rtol=1e-5, atol=1e-5)
    m.eval()
    assert m(x[:1]).shape == (1, 16, 5, 4)  # eval: a single sample is fine
    m.train()
    out = m.to(torch.bfloat16)(x.bfloat16())
    assert out.dtype == torch.bfloat16 and out.device == x.device
    torch.testing.assert_close(out.float(), ref, rtol=0.1, atol=0.15)


def test_mda_compiles():
    torch.manual_seed(6)
    m = ModalityDistributionAdapter(8)
    _randomise_mda(m)
    x = torch.randn(3, 8, 5, 3)
    try:
        compiled = torch.compile(m, backend="aot_eager")  # autograd tracing, no C++ compiler
        out = compiled(x)
    except Exception as err:  # compile unsupported on this platform / Python
        pytest.skip(f"torch.compile unavailable: {type(err).__name__}: {err}")
    torch.testing.assert_close(out, m(x))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: ModalityDistributionAdapter(8)(torch.randn(2, 4, 3, 3)), ValueError, r"\(B, 8"),
        (lambda: ModalityDistributionAdapter(8)(torch.randn(2, 8)), ValueError, r"\(B, 8"),
        (lambda: ModalityDistributionAdapter(8)(torch.ones(2, 8, 2, 2).long()), TypeError, "float"),
        (lambda: ModalityDistributionAdapter(8, num_masks=0), ValueError, "num_masks"),
        (lambda: ModalityDistributionAdapter("8"), TypeError, "channels must be an int"),
    ],
)
def test_mda_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
