"""MCJA and AGW assemblies and their criteria, from one test template.

Oracles: parameter counts from the component formulas (torchvision's ResNet-50 without ``fc``,
MDA ``2CM + M + 4C``, non-local ``4CC′ + 3C′ + 3C``, BN neck ``2D``, classifier ``DC``); exact
identity of the inserted blocks at initialisation (the network equals the plain backbone + head);
AGW's stem routing against a manual per-modality forward; the criteria against the loss
functions they combine.
"""

from __future__ import annotations

import math

import pytest
import torch
import torchvision

from vireid.losses import AdaptiveTripletLoss, CMRLoss, TripletLoss, WeightedRegularizationTriplet
from vireid.models import AGW, MCJA, AGWLoss, MCJALoss, ReIDOutput
from vireid.nn import ModalityDistributionAdapter, NonLocal

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    ),
]
TINY = {"arch": "resnet18", "width": 8}
ASSEMBLIES = {"mcja": MCJA, "agw": AGW}


def _batch(n: int = 8, h: int = 32, w: int = 16, device: str = "cpu", seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, h, w, generator=g).to(device)
    labels = torch.arange(n).div(4, rounding_mode="floor").to(device)  # 2 images per (id, mod)
    modalities = torch.tensor([0, 1] * (n // 2)).to(device)
    return images, labels, modalities


def _randomise_bn(model: torch.nn.Module) -> None:
    """Give every BN non-trivial statistics and affine parameters (eval mode becomes generic)."""
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


# --- shapes and outputs --------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(ASSEMBLIES))
def test_train_and_eval_outputs(name, device):
    torch.manual_seed(0)
    model = ASSEMBLIES[name](5, **TINY).to(device)
    images, _, modalities = _batch(device=device)
    out = model(images, modalities)
    assert isinstance(out, ReIDOutput)
    dim = model.embedding_dim
    assert dim == 64  # 8 · 8 channels out of a width-8 ResNet-18
    assert out.pre_bn.shape == out.post_bn.shape == (8, dim)
    assert out.logits.shape == (8, 5)
    assert out.logits.device.type == torch.device(device).type
    model.eval()
    emb = model(images, modalities)
    assert isinstance(emb, torch.Tensor) and emb.shape == (8, dim)
    # The eval embedding is the BN-neck feature with running statistics.
    fmap = model.backbone(images) if name == "mcja" else model.body(model.stems(images, modalities))
    torch.testing.assert_close(emb, model.head.embed(fmap))


@pytest.mark.parametrize("name", sorted(ASSEMBLIES))
def test_eval_embedding_does_not_depend_on_batch_order(name):
    torch.manual_seed(0)
    model = ASSEMBLIES[name](5, **TINY).eval()
    _randomise_bn(model)
    images, _, modalities = _batch()
    perm = torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])
    ref = model(images, modalities)
    torch.testing.assert_close(model(images[perm], modalities[perm]), ref[perm])


def test_agw_routes_each_image_through_its_modality_stem():
    torch.manual_seed(0)
    model = AGW(5, **TINY).eval()
    with torch.no_grad():  # make the two stems differ
        model.infrared_stem.conv1.weight.mul_(-1.0)
    images, _, modalities = _batch()
    mixed = model.stems(images, modalities)
    for i, m in enumerate(modalities.tolist()):
        stem = model.visible_stem if m == 0 else model.infrared_stem
        torch.testing.assert_close(mixed[i : i + 1], stem(images[i : i + 1]))
    # one modality only
    vis = model.stems(images, torch.zeros(8, dtype=torch.long))
    torch.testing.assert_close(vis, model.visible_stem(images))


def test_agw_needs_modalities_and_rejects_other_labels():
    model = AGW(5, **TINY)
    images, _, modalities = _batch()
    with pytest.raises(ValueError, match="pass modalities"):
        model(images)
    with pytest.raises(ValueError, match=r"0 \(visible\) or 1 \(infrared\).*\[2\]"):
        model(images, modalities + 1)
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        model(images, modalities[:4])
    with pytest.raises(TypeError, match="integers"):
        model(images, modalities.float())


@pytest.mark.parametrize("name", sorted(ASSEMBLIES))
def test_bad_images_are_clear_errors(name):
    model = ASSEMBLIES[name](5, **TINY)
    with pytest.raises(TypeError, match="normalised floating-point batch"):
        model(torch.zeros(2, 3, 32, 16, dtype=torch.uint8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.zeros(2, 1, 32, 16), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"0 \(visible\) or 1 \(infrared\), found \[2\]"):
        model(torch.zeros(2, 3, 32, 16), torch.tensor([1, 2]))  # 1-based labels
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        ASSEMBLIES[name](0, **TINY)
    with pytest.raises(ValueError, match="arch must be one of"):
        ASSEMBLIES[name](5, arch="resnet101")


# --- identity at initialisation ------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
def test_mcja_mdas_are_the_identity_at_init(training):
    torch.manual_seed(0)
    with_mda = MCJA(5, **TINY).train(training)
    plain = MCJA(5, mda=False, **TINY).train(training)
    plain.load_state_dict(with_mda.state_dict(), strict=False)
    mdas = [m for m in with_mda.modules() if isinstance(m, ModalityDistributionAdapter)]
    assert len(mdas) == 4  # ResNet-18: the last 2 blocks of layer2 and layer3 (capped at 2)
    images, _, _ = _batch()
    a, b = with_mda(images), plain(images)
    if training:
        assert torch.equal(a.post_bn, b.post_bn) and torch.equal(a.logits, b.logits)
    else:
        assert torch.equal(a, b)


@pytest.mark.parametrize("training", [True, False])
def test_agw_non_local_blocks_are_the_identity_at_init(training):
    torch.manual_seed(0)
    with_nl = AGW(5, **TINY).train(training)
    plain = AGW(5, non_local=False, **TINY).train(training)
    plain.load_state_dict(with_nl.state_dict(), strict=False)
    blocks = [m for m in with_nl.modules() if isinstance(m, NonLocal)]
    assert len(blocks) == 4 and all(b.inter_channels == 1 for b in blocks)
    images, _, modalities = _batch()
    a, b = with_nl(images, modalities), plain(images, modalities)
    if training:
        assert torch.equal(a.pre_bn, b.pre_bn)
    else:
        assert torch.equal(a, b)


def test_insertion_layouts():
    mcja = MCJA(5, arch="resnet50")
    assert mcja.mda_layout == {"layer2": 2, "layer3": 3}
    assert [(s, b) for s, b, _ in mcja.backbone.named_insertions()] == [
        ("layer2", 2), ("layer2", 3), ("layer3", 3), ("layer3", 4), ("layer3", 5)
    ]  # fmt: skip
    agw = AGW(5, arch="resnet50", inter_channels="half")
    assert [(s, b, m.inter_channels) for s, b, m in agw.body.named_insertions()] == [
        ("layer2", 2, 256), ("layer2", 3, 256), ("layer3", 3, 512), ("layer3", 4, 512),
        ("layer3", 5, 512),
    ]  # fmt: skip
    custom = MCJA(5, mda_layout={"layer1": 1, "layer3": 0}, **TINY)
    assert [(s, b) for s, b, _ in custom.backbone.named_insertions()] == [("layer1", 1)]
    with pytest.raises(ValueError, match=r"mda_layout\['layer3'\] must be an int in 0..2"):
        MCJA(5, mda_layout={"layer3": 3}, **TINY)
    with pytest.raises(ValueError, match="inter_channels must be"):
        AGW(5, inter_channels="quarter", **TINY)  # type: ignore[arg-type]


# --- parameter counts ----------------------------------------------------------------------------

RESNET50_NO_FC = sum(
    p.numel() for n, p in torchvision.models.resnet50().named_parameters() if not n.startswith("fc")
)


def test_mcja_parameter_count_resnet50():
    model = MCJA(395, arch="resnet50")
    mda = sum(2 * c * 2 + 2 + 4 * c for c in (512, 512, 1024, 1024, 1024))
    expected = RESNET50_NO_FC + mda + 2 * 2048 + 2048 * 395
    assert mda == 32_778
    assert sum(p.numel() for p in model.parameters()) == expected == 24_353_866
    regdb = MCJA(206, arch="resnet50", mda_masks=12)
    mda12 = sum(2 * c * 12 + 12 + 4 * c for c in (512, 512, 1024, 1024, 1024))
    assert mda12 == 114_748
    assert sum(p.numel() for p in regdb.parameters()) == RESNET50_NO_FC + mda12 + 4096 + 2048 * 206


def test_agw_parameter_count_resnet50():
    model = AGW(395, arch="resnet50")
    stem = 3 * 64 * 7 * 7 + 2 * 64
    nl = sum(4 * c + 3 + 3 * c for c in (512, 512, 1024, 1024, 1024))
    expected = RESNET50_NO_FC + stem + nl + 2 * 2048 + 2048 * 395
    assert nl == 28_687
    assert sum(p.numel() for p in model.parameters()) == expected == 24_359_311


def test_demo_sized_parameter_counts():
    # ResNet-18 at width 32 with 53 identities: the demo presets' networks.
    mcja = MCJA(53, arch="resnet18", width=32, last_stride=1)
    agw = AGW(53, arch="resnet18", width=32)
    backbone = 2_798_880
    mda = sum(2 * c * 2 + 2 + 4 * c for c in (64, 64, 128, 128))
    nl = sum(4 * c + 3 + 3 * c for c in (64, 64, 128, 128))
    head = 2 * 256 + 256 * 53
    assert sum(p.numel() for p in mcja.parameters()) == backbone + mda + head
    assert sum(p.numel() for p in agw.parameters()) == backbone + 32 * 3 * 49 + 64 + nl + head


def test_parameter_groups_split_head_from_backbone():
    model = AGW(5, **TINY)
    groups = model.parameter_groups()
    head = {id(p) for p in groups["head"]}
    assert head == {id(model.head.neck.bn.weight), id(model.head.classifier.weight)}
    assert not model.head.neck.bn.bias.requires_grad  # frozen β is in no group
    all_trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert head | {id(p) for p in groups["backbone"]} == all_trainable


# --- compile, autocast ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ASSEMBLIES))
def test_torch_compile_smoke(name):
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = ASSEMBLIES[name](5, **TINY)
    compiled = torch.compile(model, backend="aot_eager")
    images, _, modalities = _batch()
    out = compiled(images, modalities)
    ref = model(images, modalities)
    torch.testing.assert_close(out.logits, ref.logits, rtol=1e-4, atol=1e-5)
    out.logits.sum().backward()
    assert model.head.classifier.weight.grad is not None


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(ASSEMBLIES))
def test_bf16_autocast_is_finite(name, device):
    torch.manual_seed(0)
    model = ASSEMBLIES[name](5, **TINY).to(device)
    criterion = (MCJALoss() if name == "mcja" else AGWLoss()).to(device)
    # 64×32 rather than the 32×16 of the other tests: torch's CPU bf16 convolution sometimes
    # returns NaN weight gradients when a 3×3 stride-2 conv maps a 2×1 map to 1×1.
    images, labels, modalities = _batch(h=64, w=32, device=device)
    with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
        terms = criterion(model(images, modalities), labels, modalities)
    assert all(torch.isfinite(v) for v in terms.values())
    assert terms["total"].dtype == torch.float32
    terms["total"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


# --- criteria ------------------------------------------------------------------------------------


def test_mcja_loss_terms_are_ce_plus_cmr_on_the_bn_feature():
    torch.manual_seed(0)
    out = ReIDOutput(torch.randn(8, 6), torch.randn(8, 6), torch.randn(8, 3))
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    modalities = torch.tensor([0, 1, 0, 1, 0, 1, 1, 0])
    terms = MCJALoss(id_weight=0.5, cmr_weight=2.0)(out, labels, modalities)
    assert list(terms) == ["id", "cmr", "total"]
    ce = torch.nn.functional.cross_entropy(out.logits, labels)
    torch.testing.assert_close(terms["id"], 0.5 * ce)
    torch.testing.assert_close(terms["cmr"], 2.0 * CMRLoss()(out.post_bn, labels, modalities))
    torch.testing.assert_close(terms["total"], terms["id"] + terms["cmr"])
    only_id = MCJALoss(cmr_weight=0.0)(out, labels, modalities)
    assert list(only_id) == ["id", "total"]
    with_triplet = MCJALoss(triplet_weight=0.5)(out, labels, modalities)
    torch.testing.assert_close(with_triplet["triplet"], 0.5 * TripletLoss(0.3)(out.pre_bn, labels))
    assert list(with_triplet) == ["id", "cmr", "triplet", "total"]
    crossed = MCJALoss(triplet_weight=0.5, cross_modality_only=True)(out, labels, modalities)
    expected = TripletLoss(0.3, cross_modality_only=True)(out.pre_bn, labels, modalities)
    torch.testing.assert_close(crossed["triplet"], 0.5 * expected)
    assert not torch.allclose(crossed["triplet"], with_triplet["triplet"])


_AGW_METRICS = [
    ("wrt", WeightedRegularizationTriplet()),
    ("triplet", TripletLoss(0.3)),
    ("adp", AdaptiveTripletLoss(1.0, 1.0, True)),
]


@pytest.mark.parametrize(("metric", "loss"), _AGW_METRICS)
def test_agw_loss_terms_read_the_pre_bn_feature(metric, loss):
    torch.manual_seed(0)
    out = ReIDOutput(torch.randn(8, 6), torch.randn(8, 6), torch.randn(8, 3))
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    modalities = torch.tensor([0, 1, 0, 1, 0, 1, 1, 0])
    terms = AGWLoss(metric=metric)(out, labels, modalities)
    assert list(terms) == ["id", metric, "total"]
    torch.testing.assert_close(terms[metric], loss(out.pre_bn, labels, modalities))
    torch.testing.assert_close(terms["total"], terms["id"] + terms[metric])
    crossed = AGWLoss(metric=metric, cross_modality_only=True)(out, labels, modalities)
    loss.cross_modality_only = True
    torch.testing.assert_close(crossed[metric], loss(out.pre_bn, labels, modalities))
    assert not torch.allclose(crossed[metric], terms[metric])


def test_agw_loss_adp_matches_the_caj_test_vector():
    # Four features, two identities, α = γ = 1: the ADP values computed by hand from the
    # released code's formulas (squared 0.328743, plain soft margin 0.335670); CE on zero
    # logits is log(2).
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [2.0, 2.0]], dtype=torch.float64)
    out = ReIDOutput(f, f, torch.zeros(4, 2, dtype=torch.float64))
    labels, modalities = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
    terms = AGWLoss(metric="adp")(out, labels, modalities)
    assert list(terms) == ["id", "adp", "total"]
    assert terms["adp"].item() == pytest.approx(0.328743, abs=1e-6)
    assert terms["id"].item() == pytest.approx(math.log(2), abs=1e-12)
    plain = AGWLoss(metric="adp", adp_square=False)(out, labels, modalities)
    assert plain["adp"].item() == pytest.approx(0.335670, abs=1e-6)


def test_criteria_reject_eval_outputs_and_empty_objectives():
    labels, modalities = torch.tensor([0, 0]), torch.tensor([0, 1])
    with pytest.raises(TypeError, match="eval mode"):
        MCJALoss()(torch.randn(2, 4), labels, modalities)  # type: ignore[arg-type]
    out = ReIDOutput(torch.randn(2, 4), torch.randn(2, 4), torch.randn(2, 3))
    with pytest.raises(ValueError, match="nothing to train"):
        AGWLoss(id_weight=0, metric_weight=0)(out, labels, modalities)
    with pytest.raises(ValueError, match="id_weight must be >= 0"):
        MCJALoss(id_weight=-1)
    with pytest.raises(ValueError, match="metric must be one of"):
        AGWLoss(metric="circle")  # type: ignore[arg-type]


def test_nan_features_give_a_non_finite_total():
    # A poisoned forward pass must surface as a non-finite total (the engine then stops and
    # names the term), never as a finite loss.
    out = ReIDOutput(torch.randn(8, 6), torch.randn(8, 6), torch.randn(8, 3))
    out.logits[0, 0] = float("nan")
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    modalities = torch.tensor([0, 1, 0, 1, 0, 1, 1, 0])
    assert not torch.isfinite(MCJALoss()(out, labels, modalities)["total"])
    assert not torch.isfinite(AGWLoss()(out, labels, modalities)["id"])
