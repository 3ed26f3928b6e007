"""The AGW non-local block (``vireid.nn.NonLocal``).

Oracle: the affinity computed the way the released AGW code orders it — the explicit ``N × N``
matrix ``θᵀφ / N``, then ``f · g`` — written here in float64; exact identity at initialisation;
the parameter count ``4·C·C′ + 3·C′ + 3·C``; ``gradcheck``.
"""

from __future__ import annotations

import pytest
import torch

from vireid.nn import NonLocal

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    ),
]


def _oracle(m: NonLocal, x: torch.Tensor) -> torch.Tensor:
    """The reference order: the N×N affinity matrix first (no softmax), then f·g."""
    b, _, h, w = x.shape
    k = m.inter_channels
    theta = m.theta(x).view(b, k, -1).permute(0, 2, 1)  # (B, N, C')
    phi = m.phi(x).view(b, k, -1)  # (B, C', N)
    g = m.g(x).view(b, k, -1).permute(0, 2, 1)  # (B, N, C')
    f = torch.matmul(theta, phi) / (h * w)  # (B, N, N)
    y = torch.matmul(f, g).permute(0, 2, 1).reshape(b, k, h, w)
    return x + m.bn(m.W(y))


def _randomise_output_bn(m: NonLocal) -> None:
    with torch.no_grad():
        m.bn.weight.uniform_(0.5, 1.5)
        m.bn.bias.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("inter", [1, 4])
@pytest.mark.parametrize("training", [True, False])
def test_matches_the_reference_order_of_operations(device, inter, training):
    torch.manual_seed(0)
    m = NonLocal(8, inter).double().to(device)
    _randomise_output_bn(m)
    m.train(training)
    x = torch.randn(3, 8, 5, 4, dtype=torch.float64, device=device)
    # Training mode normalises with batch statistics, eval mode with running ones that neither
    # call changes; either way both calls see the same BN.
    torch.testing.assert_close(m(x), _oracle(m, x))


@pytest.mark.parametrize("training", [True, False])
def test_identity_at_initialisation(training):
    torch.manual_seed(1)
    m = NonLocal(16).train(training)
    x = torch.randn(2, 16, 6, 3)
    assert torch.equal(m(x), x)
    _randomise_output_bn(m)
    assert not torch.equal(m(x), x)
    m.reset_output()
    assert torch.equal(m(x), x)


@pytest.mark.parametrize(("channels", "inter", "expected"), [(512, 1, 3587), (1024, 1, 7171),
                                                            (512, 256, 526_592)])  # fmt: skip
def test_parameter_count_and_keys(channels, inter, expected):
    m = NonLocal(channels, inter)
    count = sum(p.numel() for p in m.parameters())
    assert count == expected == 4 * channels * inter + 3 * inter + 3 * channels
    assert sorted(m.state_dict()) == sorted(
        [f"{n}.{p}" for n in ("theta", "phi", "g", "W") for p in ("weight", "bias")]
        + [f"bn.{p}" for p in ("weight", "bias", "running_mean", "running_var",
                               "num_batches_tracked")]
    )  # fmt: skip


def test_gradcheck_float64():
    torch.manual_seed(2)
    m = NonLocal(4, 2).double().eval()
    _randomise_output_bn(m)
    x = torch.randn(2, 4, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (x,))


@pytest.mark.parametrize("device", DEVICES)
def test_channels_last_and_bf16(device):
    torch.manual_seed(3)
    m = NonLocal(8, 2).to(device)
    _randomise_output_bn(m)
    x = torch.randn(2, 8, 6, 4, device=device)
    ref = m.eval()(x)
    out = m(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref)
    with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
        low = m(x)
    assert torch.isfinite(low).all()
    assert low.shape == x.shape


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="channels must be positive"):
        NonLocal(0)
    with pytest.raises(TypeError, match="inter_channels must be an int"):
        NonLocal(8, 1.5)  # type: ignore[arg-type]
    m = NonLocal(8)
    with pytest.raises(ValueError, match=r"shape \(B, 8, H, W\)"):
        m(torch.randn(2, 4, 3, 3))
    with pytest.raises(TypeError, match="floating-point"):
        m(torch.zeros(2, 8, 3, 3, dtype=torch.long))
    assert "inter_channels=1" in repr(m)
