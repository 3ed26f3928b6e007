"""Every block takes half-precision input without autocast, and names the fix for a batch of 1."""

from __future__ import annotations

import pytest
import torch

import vireid.nn as N

BLOCKS = {
    "BNNeck": (lambda: N.BNNeck(16), (4, 16), True),
    "ModalityClassifier": (lambda: N.ModalityClassifier(16), (4, 16), True),
    "ModalityDistributionAdapter": (lambda: N.ModalityDistributionAdapter(16), (4, 16, 4, 2), True),
    "NonLocal": (lambda: N.NonLocal(16), (4, 16, 4, 2), False),
    "InformationPurifier": (lambda: N.InformationPurifier(16), (4, 16, 4, 2), False),
}


def _tensors(out):
    return [out] if isinstance(out, torch.Tensor) else [t for t in out]


def _randomise(block):
    # Non-trivial parameters and statistics, so identity-at-init blocks are really exercised.
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3 + (1.0 if p.dim() == 1 else 0.0))
        for b in block.buffers():
            if b.is_floating_point():
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_half_precision_input_in_eval(name, dtype):
    make, shape, _ = BLOCKS[name]
    block = make().eval()
    _randomise(block)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    ref = _tensors(block(x.to(dtype).float()))
    got = _tensors(block(x.to(dtype)))
    for r, o in zip(ref, got, strict=True):
        assert o.dtype == dtype
        torch.testing.assert_close(o.float(), r.to(dtype).float())


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_half_precision_input_in_training_keeps_the_dtype(name):
    make, shape, _ = BLOCKS[name]
    block = make().train()
    x = torch.randn(*shape).to(torch.bfloat16).requires_grad_()
    outs = _tensors(block(x))
    assert all(o.dtype == torch.bfloat16 and torch.isfinite(o).all() for o in outs)
    sum(o.float().sum() for o in outs).backward()
    assert x.grad is not None and x.grad.dtype == torch.bfloat16


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_a_training_batch_of_one(name):
    make, shape, batch_norm_1d = BLOCKS[name]
    x = torch.randn(1, *shape[1:])
    block = make().train()
    if batch_norm_1d:
        with pytest.raises(
            ValueError, match=rf"{name} in training mode needs a batch of at least 2"
        ):
            block(x)
        with pytest.raises(ValueError, match="drop_last=True"):
            block(x)
    else:
        block(x)  # no batch statistics over (B,) alone: a batch of one is fine
    block.eval()(x)  # inference on one image always works
