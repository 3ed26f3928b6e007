"""The IDKL assembly, its criterion and recipes.

Oracles: the parameter count from the component formulas (torchvision's ResNet-50 stages, the
purifier's two ``C → C/16 → C`` gates, BN necks ``2D``, bias-free heads ``DC``, the modality MLP);
forward hooks that record which tensor reaches each loss and each head (the spec's wiring table);
the criterion's terms against the loss modules it combines, called directly; the two variants
differing exactly in the purifier masks, the confuser's gradient reversal, the discriminator's
input, the entropy head and the extra ``f_sp`` outputs.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torchvision

from vireid.losses import (
    CSALoss,
    InformationPurifierLoss,
    MDRLoss,
    ModalityConfusionLoss,
    TGSALoss,
    TripletLoss,
)
from vireid.models import IDKL, IDKLLoss, IDKLOutput, IDKLRecipe, get_recipe

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
    ),
]
TINY = {"arch": "resnet18", "width": 8}


def _batch(n: int = 8, h: int = 32, w: int = 16, device: str = "cpu", seed: int = 0):
    """Two images per (identity, modality), modalities alternating IR, VIS as the reference."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, h, w, generator=g).to(device)
    labels = torch.arange(n).div(4, rounding_mode="floor").to(device)
    modalities = torch.tensor([1, 0] * (n // 2)).to(device)
    return images, labels, modalities


def _model(variant: str = "reference", device: str = "cpu", **kwargs) -> IDKL:
    torch.manual_seed(0)
    return IDKL(5, variant=variant, **{**TINY, **kwargs}).to(device)  # type: ignore[arg-type]


# --- network -------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_train_and_eval_outputs(variant, device):
    model = _model(variant, device)
    images, _, modalities = _batch(device=device)
    out = model(images, modalities)
    assert isinstance(out, IDKLOutput)
    d = model.embedding_dim
    assert d == 64
    for name in ("pre_bn", "post_bn", "specific_pre_bn", "specific_post_bn", "normalized",
                 "reduced"):  # fmt: skip
        assert getattr(out, name).shape == (8, d), name
    for name in ("logits", "specific_logits", "raw_logits", "enhanced_logits"):
        assert getattr(out, name).shape == (8, 5), name
    assert out.confuser_logits.shape == out.discriminator_logits.shape == (8, 2)
    paper = variant == "paper"
    assert (out.raw_specific_pre_bn is not None) == paper
    assert (out.raw_specific_logits is not None) == paper
    assert out.confuser_reverses_gradient == paper
    assert out.logits.device.type == torch.device(device).type

    # eval: g_sh = BN_sh(GeM(shared(front(x)))) with running statistics; the specific branch
    # never runs.
    model.eval()
    calls = []
    handle = model.specific.register_forward_hook(lambda *a: calls.append(1))
    emb = model(images, modalities)
    handle.remove()
    assert not calls
    expected = model.shared_neck(model.pool(model.shared(model.front(images)))).post_bn
    torch.testing.assert_close(emb, expected)
    assert emb.shape == (8, d)


def test_eval_embedding_does_not_depend_on_batch_order():
    model = _model().eval()
    images, _, modalities = _batch()
    perm = torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])
    ref = model(images, modalities)
    torch.testing.assert_close(model(images[perm], modalities[perm]), ref[perm])


def test_branches_start_from_the_same_weights():
    model = _model("paper")
    a, b = model.shared.state_dict(), model.specific.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert model.shared.layer3[0].conv1.weight is not model.specific.layer3[0].conv1.weight
    images, _, modalities = _batch()
    out = model(images, modalities)
    # at initialisation the paper's un-purified specific feature equals the shared one
    torch.testing.assert_close(out.raw_specific_pre_bn, out.pre_bn)


def test_parameter_count_resnet50():
    tv = dict(torchvision.models.resnet50().named_parameters())
    front = sum(p.numel() for n, p in tv.items() if n.split(".")[0] in
                ("conv1", "bn1", "layer1", "layer2"))  # fmt: skip
    deep = sum(p.numel() for n, p in tv.items() if n.split(".")[0] in ("layer3", "layer4"))
    gates = 2 * (2048 * 128 + 128 * 2048)
    modality = (2048 * 100 + 100) + 200 + (100 * 100 + 100) + 200 + (100 * 2 + 2)
    common = front + 2 * deep + gates + 2 * 4096 + 2 * 2048 * 395 + 2 * modality
    assert (front, deep, modality) == (1_444_928, 22_063_104, 215_602)
    reference = sum(p.numel() for p in IDKL(395, arch="resnet50").parameters())
    paper = sum(p.numel() for p in IDKL(395, variant="paper", arch="resnet50").parameters())
    assert reference == common + 4096 + 2048 * 395 == 49_490_084  # + IN affine, + W_e
    assert paper == common == 48_677_028


def test_variants_differ_exactly_where_the_paper_and_the_code_do():
    ref, paper = _model("reference"), _model("paper")
    assert (ref.purifier.mask_mode, paper.purifier.mask_mode) == ("pixel", "channel")
    assert ref.purifier.norm.affine and not paper.purifier.norm.affine
    assert not ref.confuser.reverse_grad and paper.confuser.reverse_grad
    assert ref.entropy_head is not None and paper.entropy_head is None
    names_ref = {n for n, _ in ref.named_parameters()}
    names_paper = {n for n, _ in paper.named_parameters()}
    assert names_ref - names_paper == {"entropy_head.weight", "purifier.norm.weight",
                                       "purifier.norm.bias"}  # fmt: skip
    assert not names_paper - names_ref
    c_ref, c_paper = IDKLLoss(), IDKLLoss("paper")
    assert (c_ref.confusion_mode, c_paper.confusion_mode) == ("pseudo_label", "grl")
    for name in ("purifier", "tgsa", "csa", "mdr"):
        assert getattr(c_ref, name).variant == "reference"
        assert getattr(c_paper, name).variant == "paper"


def _record_inputs(module: torch.nn.Module, store: list) -> torch.utils.hooks.RemovableHandle:
    return module.register_forward_hook(lambda m, args, out: store.append(args))


@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_heads_and_losses_receive_the_tensors_of_the_spec(variant):
    model = _model(variant)
    seen: dict[str, list] = {}
    model_hooks = [
        _record_inputs(getattr(model, n), seen.setdefault(n, []))
        for n in ("confuser", "discriminator", "specific_neck")
    ]
    images, labels, modalities = _batch()
    out = model(images, modalities)
    for h in model_hooks:
        h.remove()
    # the confuser reads g_sh; the discriminator g_sp (code) or BN_sp(GeM(F_sp)) (paper)
    assert seen["confuser"][0][0] is out.post_bn
    if variant == "reference":
        assert seen["discriminator"][0][0] is out.specific_post_bn
        assert len(seen["specific_neck"]) == 1  # only the purified feature
    else:
        assert seen["specific_neck"][1][0] is out.raw_specific_pre_bn
        torch.testing.assert_close(
            seen["discriminator"][0][0], model.specific_neck(out.raw_specific_pre_bn).post_bn
        )

    criterion = IDKLLoss(variant)  # type: ignore[arg-type]
    names = ("triplet", "identity", "modality", "confuser", "purifier", "tgsa", "csa", "mdr")
    calls: dict[str, list] = {n: [] for n in names}
    hooks = [_record_inputs(getattr(criterion, n), calls[n]) for n in names]
    terms = criterion(out, labels, modalities)
    for h in hooks:
        h.remove()

    def firsts(name: str, k: int = 1) -> list:
        return [args[:k] if k > 1 else args[0] for args in calls[name]]

    if variant == "reference":
        assert firsts("triplet") == [out.pre_bn, out.specific_pre_bn]  # f_sh, f̃_sp (pre-BN)
        assert firsts("identity") == [out.logits, out.specific_logits]
    else:  # L_sp on the un-purified f_sp, then the purified feature's ReID inside L_ip
        assert firsts("triplet") == [out.pre_bn, out.raw_specific_pre_bn, out.specific_pre_bn]
        assert firsts("identity") == [out.logits, out.raw_specific_logits, out.specific_logits]
    assert firsts("modality") == [out.discriminator_logits]
    assert firsts("confuser") == [out.confuser_logits]
    assert firsts("purifier", 4) == [
        (out.raw_logits, out.enhanced_logits, out.normalized, out.reduced)
    ]
    assert firsts("tgsa", 2) == [(out.pre_bn, out.specific_pre_bn)]
    assert firsts("csa", 2) == [(out.logits, out.specific_logits)]
    assert firsts("mdr", 2) == [(out.pre_bn, out.logits)]
    assert all(torch.isfinite(v) for v in terms.values())


def test_paper_confuser_reverses_the_gradient_into_the_shared_branch():
    model = _model("paper")
    model.confuser.drop.p = 0.0  # the same function on both calls below
    images, _, modalities = _batch()
    out = model(images, modalities)
    loss = torch.nn.functional.cross_entropy(out.confuser_logits, modalities)
    (reversed_grad,) = torch.autograd.grad(loss, out.post_bn)
    model.confuser.grl = None  # the same head without the reversal layer
    feature = out.post_bn.detach().requires_grad_()
    plain = torch.nn.functional.cross_entropy(model.confuser(feature), modalities)
    (plain_grad,) = torch.autograd.grad(plain, feature)
    assert plain_grad.abs().sum() > 0
    torch.testing.assert_close(reversed_grad, -plain_grad)


# --- criterion -----------------------------------------------------------------------------------


def test_reference_terms_equal_the_losses_they_combine():
    model = _model()
    images, labels, modalities = _batch()
    out = model(images, modalities)
    terms = IDKLLoss()(out, labels, modalities)
    assert list(terms) == ["triplet_shared", "triplet_specific", "id_shared", "id_specific",
                           "discriminator", "confuser", "purifier", "tgsa", "csa", "mdr",
                           "total"]  # fmt: skip
    y, t = labels, modalities
    tri = TripletLoss(1.3)
    ce = torch.nn.functional.cross_entropy
    expected = {
        "triplet_shared": tri(out.pre_bn, y, t),
        "triplet_specific": tri(out.specific_pre_bn, y, t),
        "id_shared": ce(out.logits, y),
        "id_specific": ce(out.specific_logits, y),
        "discriminator": ce(out.discriminator_logits, t),
        "confuser": ModalityConfusionLoss("pseudo_label")(out.confuser_logits, t),
        "purifier": 0.1
        * InformationPurifierLoss()(
            out.raw_logits, out.enhanced_logits, out.normalized, out.reduced, y, t
        ),
        "tgsa": 0.6 * TGSALoss()(out.pre_bn, out.specific_pre_bn, y, t),
        "csa": 0.8 * CSALoss()(out.logits, out.specific_logits, y, t),
        "mdr": MDRLoss()(out.pre_bn, out.logits, y, t),
    }
    for name, value in expected.items():
        torch.testing.assert_close(terms[name], value, msg=name)
    torch.testing.assert_close(terms["total"], torch.stack(list(expected.values())).sum())
    # RegDB's released config: no TGSA, MDR without its graph part, CSA at 0.3
    regdb = IDKLLoss(tgsa_weight=0.0, csa_weight=0.3, mdr_graph=False)(out, y, t)
    assert "tgsa" not in regdb
    torch.testing.assert_close(regdb["mdr"], MDRLoss()(None, out.logits, y, t))
    torch.testing.assert_close(regdb["csa"], 0.3 * CSALoss()(out.logits, out.specific_logits, y, t))


def test_pairing_follows_labels_not_batch_positions():
    # Identities and modalities in another order give the same loss (uniform confuser:
    # order-free). The k-th visible image of an identity pairs with its k-th infrared image, so
    # the order *within* an (identity, modality) group is kept, as any sampler keeps it.
    model = _model()
    images, labels, modalities = _batch()
    out = model(images, modalities)
    perm = torch.tensor([4, 5, 0, 1, 6, 2, 7, 3])
    shuffled = IDKLOutput(**{
        k: (v[perm] if isinstance(v, torch.Tensor) else v) for k, v in vars(out).items()
    })  # fmt: skip
    loss = IDKLLoss(confusion="uniform")
    a = loss(out, labels, modalities)
    b = loss(shuffled, labels[perm], modalities[perm])
    for name in a:
        torch.testing.assert_close(a[name], b[name], msg=name)


def test_criterion_errors_are_clear():
    model = _model()
    images, labels, modalities = _batch()
    out = model(images, modalities)
    with pytest.raises(TypeError, match="IDKLOutput of an IDKL model in training mode"):
        IDKLLoss()(out.post_bn, labels, modalities)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs the un-purified specific feature"):
        IDKLLoss("paper")(out, labels, modalities)
    with pytest.raises(ValueError, match="confusion='grl' needs a confuser behind a gradient"):
        IDKLLoss(confusion="grl")(out, labels, modalities)
    paper_out = _model("paper")(images, modalities)
    with pytest.raises(ValueError, match="without a gradient reversal layer"):
        IDKLLoss()(paper_out, labels, modalities)
    # the released pseudo-labels need its sampler's order; the message names the way out
    vis_first = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    with pytest.raises(ValueError, match='Use mode="uniform"'):
        IDKLLoss()(out, labels, vis_first)
    with pytest.raises(ValueError, match="nothing to train"):
        IDKLLoss(id_weight=0, triplet_weight=0, modality_weight=0, purifier_weight=0,
                 tgsa_weight=0, csa_weight=0, mdr_weight=0)(out, labels, modalities)  # fmt: skip
    with pytest.raises(ValueError, match="confusion must be one of"):
        IDKLLoss(confusion="adversarial")  # type: ignore[arg-type]


def test_one_modality_batch_is_defined():
    # Visible images only: every cross-modality term is a zero attached to the graph (with a
    # warning), the rest stays finite; never a crash deep inside a loss.
    model = _model()
    images, labels, _ = _batch()
    visible = torch.zeros(8, dtype=torch.long)
    out = model(images, visible)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        terms = IDKLLoss(confusion="uniform")(out, labels, visible)
    assert all(torch.isfinite(v) for v in terms.values())
    terms["total"].backward()
    assert model.shared_classifier.weight.grad is not None


def test_nan_features_give_a_non_finite_total():
    model = _model()
    images, labels, modalities = _batch()
    out = model(images, modalities)
    out.specific_logits = out.specific_logits.clone()
    out.specific_logits[0, 0] = float("nan")
    assert not torch.isfinite(IDKLLoss()(out, labels, modalities)["total"])


# --- compile, autocast ---------------------------------------------------------------------------


def test_torch_compile_smoke():
    torch._dynamo.reset()
    model = _model()
    compiled = torch.compile(model, backend="aot_eager")
    images, _, modalities = _batch()
    out = compiled(images, modalities)
    ref = model(images, modalities)
    torch.testing.assert_close(out.logits, ref.logits, rtol=1e-4, atol=1e-5)
    out.specific_logits.sum().backward()
    assert model.specific_classifier.weight.grad is not None


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("variant", ["reference", "paper"])
def test_bf16_autocast_is_finite(variant, device):
    model = _model(variant, device)
    criterion = IDKLLoss(variant).to(device)  # type: ignore[arg-type]
    # 64×32 (see the MCJA/AGW template): CPU bf16 convolutions on 2×1 maps are unreliable.
    images, labels, modalities = _batch(h=64, w=32, device=device)
    with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
        terms = criterion(model(images, modalities), labels, modalities)
    assert all(torch.isfinite(v) for v in terms.values())
    assert terms["total"].dtype == torch.float32
    terms["total"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


# --- recipes -------------------------------------------------------------------------------------


def test_reference_presets_are_the_released_configs():
    sysu = IDKLRecipe.preset("reference", "sysu")
    assert (sysu.image_size, sysu.sampler, sysu.ids_per_batch, sysu.num_instances) == (
        (384, 144), "idkl_random", 12, 10
    )  # fmt: skip
    assert sysu.batch_size == 120
    assert (sysu.optimizer, sysu.lr, sysu.head_lr, sysu.weight_decay) == ("adam", 3.5e-4, None,
                                                                          5e-3)  # fmt: skip
    assert (sysu.epochs, sysu.milestones, sysu.gamma, sysu.warmup_epochs) == (160, (55, 95),
                                                                              0.1, 0)  # fmt: skip
    assert (sysu.augment, sysu.vimc_p, sysu.margin, sysu.confusion) == ("mcja", 0.0, 1.3,
                                                                        "pseudo_label")  # fmt: skip
    assert (sysu.purifier_weight, sysu.tgsa_weight, sysu.csa_weight, sysu.mdr_weight) == (
        0.1, 0.6, 0.8, 1.0
    )  # fmt: skip
    assert IDKLRecipe.preset("reference", "llcm").replace(dataset="sysu") == sysu
    regdb = IDKLRecipe.preset("reference", "regdb")
    assert (regdb.image_size, regdb.batch_size) == ((256, 128), 60)
    assert (regdb.tgsa_weight, regdb.mdr_graph, regdb.csa_weight) == (0.0, False, 0.3)
    paper = IDKLRecipe.preset("paper")
    assert (paper.variant, paper.confusion, paper.lr, paper.milestones, paper.image_size) == (
        "paper", "grl", 3e-5, (60, 100), (384, 128)
    )  # fmt: skip
    model, loss = paper.replace(pretrained=None).build_model(5), paper.build_criterion()
    assert isinstance(model, IDKL) and model.variant == "paper" and loss.variant == "paper"
    demo = IDKLRecipe.preset("demo")
    assert (demo.sampler, demo.confusion, demo.cross_modality_mining) == ("agw_pk", "uniform",
                                                                          True)  # fmt: skip
    assert get_recipe("idkl", "demo") == demo


def test_recipe_checks_the_confusion_mode():
    with pytest.raises(ValueError, match="confusion='grl' goes with variant='paper'"):
        IDKLRecipe.preset("reference", confusion="grl")
    with pytest.raises(ValueError, match="confusion='grl' goes with variant='paper'"):
        IDKLRecipe.preset("paper", confusion="uniform")
    with pytest.raises(ValueError, match="needs the batch order of sampler='idkl_random'"):
        IDKLRecipe.preset("demo", confusion="pseudo_label")
    with pytest.raises(ValueError, match="'variant' must be one of 'reference', 'paper'"):
        IDKLRecipe.preset("demo", variant="cvpr")


def test_without_the_purifier_the_specific_feature_is_the_raw_one():
    model = _model(purifier=False)
    assert model.purifier is None and model.entropy_head is None
    images, labels, modalities = _batch()
    out = model(images, modalities)
    torch.testing.assert_close(out.specific_pre_bn, model.pool(model.specific(model.front(images))))
    assert out.raw_logits is None and out.normalized is None
    with pytest.raises(ValueError, match=r"built without the purifier.*purifier_weight=0"):
        IDKLLoss()(out, labels, modalities)
    terms = IDKLLoss(purifier_weight=0.0)(out, labels, modalities)
    assert "purifier" not in terms and torch.isfinite(terms["total"])
    recipe = IDKLRecipe.preset("demo", purifier=False)
    assert recipe.build_criterion().purifier_weight == 0.0
    assert recipe.build_model(5).purifier is None
