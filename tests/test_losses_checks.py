"""Boundary behaviour shared by every loss: argument checks and the graph-attached zero."""

from __future__ import annotations

import pytest
import torch

from vireid.losses import (
    CSALoss,
    InformationPurifierLoss,
    MDRLoss,
    TGSALoss,
)
from vireid.losses._checks import check_number, zero_loss


def test_zero_loss_is_an_attached_zero_that_lets_non_finite_inputs_through():
    x = torch.tensor([[3.0, 1.0], [-2.0, 2.0]], requires_grad=True)
    y = torch.ones(3, requires_grad=True)
    z = zero_loss(x, y)
    assert float(z.detach()) == 0.0
    z.backward()
    assert torch.equal(x.grad, torch.zeros_like(x)) and torch.equal(y.grad, torch.zeros_like(y))
    for poison in (float("inf"), float("nan")):
        bad = x.detach().clone()
        bad[1, 0] = poison
        assert torch.isnan(zero_loss(bad.requires_grad_(), y))


def test_check_number():
    assert check_number(2, "tau", positive=True) == 2.0
    with pytest.raises(TypeError, match="tau must be a real number, got NoneType"):
        check_number(None, "tau")
    with pytest.raises(TypeError, match="sign must be a real number, got bool"):
        check_number(True, "sign")
    with pytest.raises(ValueError, match="margin must be finite"):
        check_number(float("inf"), "margin")
    with pytest.raises(ValueError, match="tau must be > 0"):
        check_number(0.0, "tau", positive=True)
    with pytest.raises(ValueError, match="w must be >= 0"):
        check_number(-1, "w", minimum=0)


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: TGSALoss(tau=None), TypeError, "tau must be a real number"),
        (lambda: TGSALoss(sign=True), TypeError, "sign must be a real number"),
        (lambda: TGSALoss(sign=0.5), ValueError, "sign must be \\+1 or -1"),
        (lambda: CSALoss(tau="1"), TypeError, "tau must be a real number"),
        (lambda: MDRLoss(graph_weight=float("inf")), ValueError, "graph_weight must be finite"),
        (lambda: InformationPurifierLoss(margin_e=float("inf")), ValueError, "margin_e"),
        (lambda: InformationPurifierLoss(margin_r=True), TypeError, "margin_r"),
    ],
)
def test_hyper_parameters_are_checked_by_name(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_mixed_graph_needs_an_even_count_per_modality():
    # 3 identities x (1 visible + 1 infrared): the released code's mixed graph is undefined.
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    modalities = torch.tensor([0, 1, 0, 1, 0, 1])
    feats = torch.randn(6, 8, generator=g)
    logits = torch.randn(6, 5, generator=g)
    with pytest.raises(ValueError, match="even number of samples per modality, got 3"):
        MDRLoss()(feats, logits, labels, modalities)
    # The true cross-affinity graph has no such restriction.
    assert torch.isfinite(MDRLoss(cross="true")(feats, logits, labels, modalities))
