"""One policy for every loss: a non-finite input gives a non-finite loss value.

A loss that masked NaN rows out of its value but not out of its backward would return a
plausible finite number with NaN gradients, and the training engine's finiteness check (which
reads the loss, not every gradient) would never see it. Oracle: for every loss, every input
tensor and every poison (NaN, +inf), the value must be non-finite. Edge batches (one modality,
one identity) that return the graph-attached zero follow the same rule.
"""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch

from vireid import losses as L

B, D, C = 8, 6, 4
LABELS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
MODS = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])


def _f(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# name -> (loss, tensor inputs, trailing non-tensor-poisoned inputs)
CASES = {
    "CMRLoss": (L.CMRLoss(), [_f(B, D)], [LABELS, MODS]),
    "TripletLoss": (L.TripletLoss(), [_f(B, D)], [LABELS, MODS]),
    "WeightedRegularizationTriplet": (L.WeightedRegularizationTriplet(), [_f(B, D)], [LABELS]),
    "AdaptiveTripletLoss": (L.AdaptiveTripletLoss(), [_f(B, D)], [LABELS, MODS]),
    "HeteroCenterTripletLoss": (L.HeteroCenterTripletLoss(), [_f(B, D)], [LABELS, MODS]),
    "DistributionConsistencyLoss": (L.DistributionConsistencyLoss(), [_f(B, D)], [LABELS, MODS]),
    "IntraModalityLoss": (L.IntraModalityLoss(), [_f(B, D)], [LABELS, MODS]),
    "CrossEntropyLabelSmooth": (L.CrossEntropyLabelSmooth(), [_f(B, C)], [LABELS]),
    "ModalityConfusionLoss": (L.ModalityConfusionLoss(), [_f(B, 2)], [MODS]),
    "SymmetricKLLoss": (L.SymmetricKLLoss(), [_f(B, C), _f(B, C, seed=1)], []),
    "TGSALoss": (L.TGSALoss(), [_f(B, C), _f(B, C, seed=1)], [LABELS, MODS]),
    "CSALoss": (L.CSALoss(), [_f(B, C), _f(B, C, seed=1)], [LABELS, MODS]),
    "MDRLoss": (L.MDRLoss(), [_f(B, D), _f(B, C, seed=1)], [LABELS, MODS]),
    "InformationPurifierLoss": (
        L.InformationPurifierLoss(),
        [_f(B, C), _f(B, C, seed=1), _f(B, D, seed=2), _f(B, D, seed=3)],
        [LABELS, MODS],
    ),
}
# Variants with their own code paths (masks, graphs, reductions), as "<name>:<options>".
_VARIANTS = {
    "TGSALoss": [{"variant": "paper"}],
    "CSALoss": [{"variant": "paper"}, {"level": "sample"}, {"level": "set"}],
    "MDRLoss": [{"variant": "paper"}, {"cross": "true"}],
    "InformationPurifierLoss": [{"variant": "paper"}],
    "HeteroCenterTripletLoss": [{"variant": "paper"}, {"soft_margin": True}],
    "TripletLoss": [{"soft_margin": True}],
    "IntraModalityLoss": [{"form": "center"}],
    "DistributionConsistencyLoss": [
        {"divergence": d, "level": lv}
        for d in ("jeffreys", "w2", "moments")
        for lv in ("modality", "identity", "both")
    ],
    "ModalityConfusionLoss": [{"mode": "grl"}, {"mode": "uniform"}],
    "SymmetricKLLoss": [{"kl": "forward"}],
}
for _name, _options in _VARIANTS.items():
    _loss, _tensors, _rest = CASES[_name]
    for _kw in _options:
        _label = ",".join(f"{k}={v}" for k, v in _kw.items())
        CASES[f"{_name}:{_label}"] = (type(_loss)(**_kw), _tensors, _rest)
CASES["WeightedRegularizationTriplet:cross_modality_only=True"] = (
    L.WeightedRegularizationTriplet(cross_modality_only=True),
    [_f(B, D)],
    [LABELS, MODS],
)


def test_every_exported_loss_is_covered():
    exported = {n for n in L.__all__ if n != "functional"}
    assert exported == {name.split(":")[0] for name in CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_clean_inputs_give_a_finite_loss(name):
    loss, tensors, rest = CASES[name]
    assert torch.isfinite(loss(*tensors, *rest))


@pytest.mark.parametrize("poison", [float("nan"), float("inf")], ids=["nan", "inf"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_non_finite_input_gives_a_non_finite_loss(name, poison):
    loss, tensors, rest = CASES[name]
    for which, row in itertools.product(range(len(tensors)), range(B)):
        inputs = [t.clone().requires_grad_() for t in tensors]
        with torch.no_grad():
            inputs[which][row, 1] = poison
        try:
            value = loss(*inputs, *rest)
        except ValueError as err:  # the other allowed outcome: an error that says so
            assert "finite" in str(err)
            continue
        assert not torch.isfinite(value), (
            f"{name}: {poison} in input {which}, row {row} gave the finite loss {float(value)}"
        )


@pytest.mark.parametrize("name", ["TripletLoss", "CMRLoss", "HeteroCenterTripletLoss"])
def test_edge_batches_follow_the_same_rule(name):
    # One identity seen in one modality: no negatives and no cross-modality pairs, so each
    # loss returns its graph-attached zero, which must still carry a NaN through.
    loss, tensors, _ = CASES[name]
    one_id, one_modality = torch.zeros(B, dtype=torch.long), torch.zeros(B, dtype=torch.long)
    x = tensors[0].clone()
    x[2, 0] = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the one-time "undefined batch" warnings
        clean = loss(tensors[0].clone().requires_grad_(), one_id, one_modality)
        value = loss(x.requires_grad_(), one_id, one_modality)
    assert float(clean) == 0.0
    assert not torch.isfinite(value)
