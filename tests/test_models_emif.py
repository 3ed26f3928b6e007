"""The EMIF assembly (a proposal on the AGW network), its criterion and recipes.

Oracles: the parameter count from the component formulas (AGW's network plus per-modality
``layer4`` copies with their heads); each image's branch output against its modality's branch
applied by hand; the criterion's terms against the loss modules it combines, called directly.
"""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch
import torchvision

from vireid.losses import DistributionConsistencyLoss, IntraModalityLoss
from vireid.models import AGW, EMIF, AGWLoss, EMIFLoss, EMIFOutput, EMIFRecipe, get_recipe

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    ),
]
TINY = {"arch": "resnet18", "width": 8}


def _batch(n: int = 8, h: int = 32, w: int = 16, device: str = "cpu", seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, h, w, generator=g).to(device)
    labels = torch.arange(n).div(4, rounding_mode="floor").to(device)
    modalities = torch.tensor([0, 1] * (n // 2)).to(device)
    return images, labels, modalities


def _model(device: str = "cpu", **kwargs) -> EMIF:
    torch.manual_seed(0)
    return EMIF(5, **{**TINY, **kwargs}).to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("branch", ["layer4", "mlp"])
def test_train_and_eval_outputs(branch, device):
    model = _model(device, branch=branch)
    images, _, modalities = _batch(device=device)
    out = model(images, modalities)
    assert isinstance(out, EMIFOutput)
    d = model.embedding_dim
    for name in ("pre_bn", "post_bn", "branch_pre_bn", "branch_post_bn"):
        assert getattr(out, name).shape == (8, d), name
    assert out.logits.shape == out.branch_logits.shape == (8, 5)
    model.eval()
    emb = model(images, modalities)
    fmap = model.body(model.stems(images, modalities))
    torch.testing.assert_close(emb, model.head.embed(fmap))
    concat = _model(device, branch=branch, test_feature="concat").eval()(images, modalities)
    assert concat.shape == (8, 2 * d)
    torch.testing.assert_close(concat[:, :d].norm(dim=1), torch.ones(8, device=device))


@pytest.mark.parametrize("branch", ["layer4", "mlp"])
def test_each_image_goes_through_the_branch_of_its_modality(branch):
    model = _model(branch=branch).eval()
    with torch.no_grad():  # make the two branches differ
        for p in model.branches[1].parameters():
            p.mul_(-1.0)
    images, _, modalities = _batch()
    # The training-mode path with every layer in eval mode (BN with running statistics), so
    # that a per-image oracle is possible.
    model.training = True
    out = model(images, modalities)
    stages = model.body.forward_stages(model.stems(images, modalities))
    for i, m in enumerate(modalities.tolist()):
        branch_module = model.branches[m]
        source = stages["layer3"] if branch == "layer4" else out.pre_bn
        pre, _, logits = branch_module(source[i : i + 1])
        torch.testing.assert_close(out.branch_pre_bn[i : i + 1], pre)
        torch.testing.assert_close(out.branch_logits[i : i + 1], logits)


def test_parameter_count_resnet50():
    agw = sum(p.numel() for p in AGW(395, arch="resnet50").parameters())
    layer4 = sum(p.numel() for n, p in torchvision.models.resnet50().named_parameters()
                 if n.startswith("layer4"))  # fmt: skip
    expected = agw + 2 * (layer4 + 2 * 2048 + 2048 * 395)
    assert (agw, layer4) == (24_359_311, 14_964_736)
    assert sum(p.numel() for p in EMIF(395, arch="resnet50").parameters()) == expected
    assert expected == 55_914_895


def test_branches_start_from_the_shared_layer4_and_are_heads_in_their_group():
    model = _model()
    shared = model.body.layer4.state_dict()
    for branch in model.branches:
        own = branch.layer4.layer4.state_dict()
        assert all(torch.equal(shared[k], own[k]) for k in shared)
    groups = model.parameter_groups()
    head = {id(p) for p in groups["head"]}
    assert id(model.branches[0].head.classifier.weight) in head
    assert id(model.branches[0].layer4.layer4[0].conv1.weight) not in head
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert head | {id(p) for p in groups["backbone"]} == trainable


def test_terms_equal_the_losses_they_combine():
    model = _model()
    images, labels, modalities = _batch()
    out = model(images, modalities)
    terms = EMIFLoss()(out, labels, modalities)
    assert list(terms) == ["id", "wrt", "branch_id", "intra", "dcl", "total"]
    agw = AGWLoss()(out, labels, modalities)
    torch.testing.assert_close(terms["id"], agw["id"])
    torch.testing.assert_close(terms["wrt"], agw["wrt"])
    ce = torch.nn.functional.cross_entropy
    vis, ir = modalities == 0, modalities == 1
    branch_id = ce(out.branch_logits[vis], labels[vis]) + ce(out.branch_logits[ir], labels[ir])
    torch.testing.assert_close(terms["branch_id"], branch_id)
    intra = IntraModalityLoss()(out.branch_pre_bn, labels, modalities)
    torch.testing.assert_close(terms["intra"], intra)
    dcl = DistributionConsistencyLoss()(out.post_bn, labels, modalities)
    torch.testing.assert_close(terms["dcl"], dcl)
    torch.testing.assert_close(terms["total"], sum(v for k, v in terms.items() if k != "total"))
    weighted = EMIFLoss(ime_weight=0.5, dcl_weight=2.0)(out, labels, modalities)
    torch.testing.assert_close(weighted["dcl"], 2.0 * dcl)
    torch.testing.assert_close(weighted["intra"], 0.5 * intra)
    assert list(EMIFLoss(dcl_weight=0, ime_weight=0)(out, labels, modalities)) == [
        "id", "wrt", "total"
    ]  # fmt: skip


def test_one_modality_batch_and_errors():
    model = _model()
    images, labels, _ = _batch()
    infrared = torch.ones(8, dtype=torch.long)
    out = model(images, infrared)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        terms = EMIFLoss()(out, labels, infrared)
    assert all(torch.isfinite(v) for v in terms.values())
    terms["total"].backward()  # the visible branch simply gets no gradient
    assert model.branches[0].head.classifier.weight.grad is None
    with pytest.raises(TypeError, match="EMIFOutput of an EMIF model in training mode"):
        EMIFLoss()(out.post_bn, labels, infrared)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="EMIF runs each image through the stem"):
        model(images)
    with pytest.raises(ValueError, match="branch must be one of"):
        EMIF(5, branch="layer3", **TINY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nothing to train"):
        EMIFLoss(id_weight=0, metric_weight=0, ime_weight=0, dcl_weight=0)(out, labels, infrared)


def test_torch_compile_smoke():
    torch._dynamo.reset()
    model = _model()
    compiled = torch.compile(model, backend="aot_eager")
    images, _, modalities = _batch()
    out = compiled(images, modalities)
    ref = model(images, modalities)
    torch.testing.assert_close(out.branch_logits, ref.branch_logits, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_bf16_autocast_is_finite(device):
    model = _model(device)
    images, labels, modalities = _batch(h=64, w=32, device=device)
    with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
        terms = EMIFLoss().to(device)(model(images, modalities), labels, modalities)
    assert all(torch.isfinite(v) for v in terms.values())
    assert terms["total"].dtype == torch.float32
    terms["total"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_presets():
    proposal = EMIFRecipe.preset("proposal")
    agw = get_recipe("agw", "reference")
    differ = [
        f.name for f in dataclasses.fields(agw) if getattr(proposal, f.name) != getattr(agw, f.name)
    ]
    assert differ == ["preset_name"]  # every AGW setting is the AGW reference's
    assert (proposal.branch, proposal.ime_weight, proposal.dcl_weight, proposal.divergence) == (
        "layer4", 1.0, 1.0, "jeffreys"
    )  # fmt: skip
    demo = get_recipe("emif", "demo", "llcm")
    assert demo.cross_modality_mining and demo.arch == "resnet18"
    with pytest.raises(ValueError, match="EMIF has no preset 'reference'; available: 'proposal'"):
        get_recipe("emif", "reference")
    with pytest.raises(ValueError, match="'divergence' must be one of"):
        EMIFRecipe.preset("demo", divergence="kl")
    loss = demo.build_criterion()
    assert isinstance(loss, EMIFLoss) and loss.unified.metric_loss.cross_modality_only
