"""Modules of vireid.augment.transforms: input kinds, per-sample draws, replay, distributions."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as tvf

from vireid.augment import functional as F
from vireid.augment.transforms import (
    VIMC,
    ChannelAdaptiveGray,
    ChannelCutMix,
    ChannelExchange,
    ChannelRandomErasing,
    ChannelSelect,
    HueJitter,
    ModalityAware,
    RandomChoice,
    RandomErasing,
    SpectrumJitter,
    TransformParams,
    WeightedGrayscale,
    adjust_hue,
)

H, W = 12, 10

# name -> factory (fresh module each time)
MODULES = {
    "wg": lambda: WeightedGrayscale(),
    "wg_fixed": lambda: WeightedGrayscale(p=0.7, weights=(0.2, 0.3, 0.5)),
    "cc": lambda: ChannelCutMix(),
    "cc_ref": lambda: ChannelCutMix(p=0.8, reference_geometry=True),
    "sj": lambda: SpectrumJitter(),
    "sj_scalar": lambda: SpectrumJitter(0.5, p=0.9),
    "cs_rand": lambda: ChannelSelect("rand"),
    "cs_g": lambda: ChannelSelect("g", p=0.5),
    "cs_rg_avg": lambda: ChannelSelect("rg_avg", p=0.5),
    "cs_avg": lambda: ChannelSelect("avg"),
    "ce": lambda: ChannelExchange(),
    "ce_gray": lambda: ChannelExchange(include_gray=True),
    "cag": lambda: ChannelAdaptiveGray(),
    "cre": lambda: ChannelRandomErasing(p=0.7),
    "re": lambda: RandomErasing(p=0.7, value=(0.1, 0.2, 0.3)),
    "hue": lambda: HueJitter(),
    "vimc": lambda: VIMC(),
    "vimc_ref": lambda: VIMC(reference_geometry=True, color_jitter=False),
    "choice": lambda: RandomChoice(
        [ChannelExchange(), None, WeightedGrayscale(p=1.0)], p=[1, 2, 3]
    ),
}
DTYPES = [torch.uint8, torch.float32, torch.float64]
KINDS = ["pil", "chw", "bchw", "nbchw"]
TEMPLATE = [
    (name, dtype, kind)
    for name in MODULES
    for dtype in DTYPES
    for kind in KINDS
    if kind != "pil" or dtype == torch.uint8
]


def make_images(shape, dtype, seed=0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    if dtype == torch.uint8:
        return x.to(device)
    return (x.to(dtype) / 255).to(device)


def make_input(kind, dtype, seed=0):
    if kind == "pil":
        arr = make_images((3, H, W), torch.uint8, seed).permute(1, 2, 0).numpy()
        return Image.fromarray(np.ascontiguousarray(arr))
    shape = {"chw": (3, H, W), "bchw": (6, 3, H, W), "nbchw": (2, 3, 3, H, W)}[kind]
    return make_images(shape, dtype, seed)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def flat_tensors(params):
    out = []
    params.map(lambda t: out.append(t) or t)
    return out


def assert_same(a, b):
    if a.dtype == torch.uint8:
        assert torch.equal(a, b)
    else:
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


# --- the module template ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "dtype", "kind"), TEMPLATE)
def test_module_template(name, dtype, kind):
    module = MODULES[name]()
    img = make_input(kind, dtype)
    out, params = module(img, generator=gen(1), return_params=True)
    assert isinstance(params, TransformParams)
    if kind == "pil":
        assert isinstance(out, Image.Image)
        assert out.size == img.size and out.mode == img.mode
        # PIL in -> same as the uint8 tensor path with the same parameters
        ref = module.replay(tvf.pil_to_tensor(img), params)
        assert torch.equal(tvf.pil_to_tensor(out), ref)
        return
    assert out.shape == img.shape and out.dtype == img.dtype and out.device == img.device
    # replay reproduces the output exactly, by either entry point
    assert_same(module.replay(img, params), out)
    assert_same(module(img, params=params), out)
    # the same seed gives the same output; sample_params draws the same parameters
    assert_same(module(img, generator=gen(1)), out)
    assert_same(module.replay(img, module.sample_params(img, gen(1))), out)
    # batched call == per-image calls with the replayed parameters
    batch = img.shape[:-3]
    for index in np.ndindex(*batch):
        assert_same(module.replay(img[index], params[index]), out[index])


@pytest.mark.parametrize("name", list(MODULES))
def test_module_in_v2_compose(name):
    pipeline = v2.Compose([v2.Resize((H + 4, W + 2)), MODULES[name](), v2.RandomHorizontalFlip()])
    out = pipeline(make_input("pil", torch.uint8))
    assert isinstance(out, Image.Image) and out.size == (W + 2, H + 4)
    tensor_pipeline = v2.Compose(
        [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), MODULES[name]()]
    )
    out = tensor_pipeline(make_input("pil", torch.uint8))
    assert isinstance(out, tv_tensors.Image) and out.shape == (3, H, W)
    assert out.dtype == torch.float32


def test_full_caj_like_compose_on_pil():
    pipeline = v2.Compose([
        v2.Resize((24, 12)),
        VIMC(),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ChannelRandomErasing(),
        ChannelExchange(),
    ])  # fmt: skip
    out = pipeline(make_input("pil", torch.uint8))
    assert out.shape == (3, 24, 12) and out.dtype == torch.float32


@pytest.mark.parametrize("name", list(MODULES))
def test_unapplied_samples_are_unchanged(name):
    module = MODULES[name]()
    x = make_images((64, 3, H, W), torch.float32)
    out, params = module(x, generator=gen(2), return_params=True)
    keep = getattr(params, "apply", None)
    if keep is None:  # RandomChoice: the identity slot, or a slot that did not fire
        keep = torch.zeros(64, dtype=torch.bool)
        for k, sub in enumerate(params.params):
            keep |= (params.choice == k) & sub.apply
    changed = (out != x).flatten(1).any(1)
    assert not bool((changed & ~keep).any())


def test_per_sample_parameters_differ_and_seed_reproduces():
    x = make_images((1, 3, H, W), torch.uint8).expand(32, 3, H, W)
    for module in [
        WeightedGrayscale(p=1.0),
        ChannelCutMix(p=1.0),
        SpectrumJitter(p=1.0),
        ChannelSelect("rand"),
        ChannelExchange(),
        ChannelRandomErasing(p=1.0),
        HueJitter(p=1.0),
        VIMC(),
    ]:
        out = module(x, generator=gen(3))
        distinct = {tuple(o.flatten().tolist()) for o in out}
        assert len(distinct) > 2, module
        assert torch.equal(module(x, generator=gen(3)), out)
        assert not torch.equal(module(x, generator=gen(4)), out)
    params = ChannelCutMix(p=1.0).sample_params((32, 3, 64, 32), gen(0))
    assert len({tuple(b.tolist()) for b in params.box}) > 20
    weights = WeightedGrayscale(p=1.0).sample_params((32, 3, 4, 4), gen(0)).weights
    assert len({tuple(w.tolist()) for w in weights}) == 32


def test_constructor_generator_and_global_rng():
    x = make_images((8, 3, H, W), torch.uint8)
    a = ChannelCutMix(p=1.0, generator=gen(5))(x)
    b = ChannelCutMix(p=1.0, generator=gen(5))(x)
    assert torch.equal(a, b)
    # a forward generator overrides the constructor's
    c = ChannelCutMix(p=1.0, generator=gen(6))(x, generator=gen(5))
    assert torch.equal(a, c)
    torch.manual_seed(0)
    d = ChannelCutMix(p=1.0)(x)
    torch.manual_seed(0)
    assert torch.equal(ChannelCutMix(p=1.0)(x), d)


def test_sample_params_from_shape_pil_and_tensor():
    module = ChannelCutMix()
    p_shape = module.sample_params((5, 3, H, W), gen(0))
    p_tensor = module.sample_params(torch.zeros(5, 3, H, W), gen(0))
    assert torch.equal(p_shape.box, p_tensor.box) and p_shape.box.shape == (5, 4)
    p_pil = module.sample_params(make_input("pil", torch.uint8), gen(0))
    assert p_pil.box.shape == (4,) and p_pil.apply.shape == ()
    sub = p_shape[1:3]
    assert sub.box.shape == (2, 4) and sub.background.shape == (2,)


def test_batch_of_zero_images():
    x = torch.zeros(0, 3, H, W, dtype=torch.uint8)
    for name, factory in MODULES.items():
        assert factory()(x).shape == x.shape, name


# --- statistics of the sampled parameters ----------------------------------------------------

N = 40_000


def rate_close(mask, p, sigmas=5.0):
    rate = mask.double().mean().item()
    se = math.sqrt(max(p * (1 - p), 1e-12) / mask.numel())
    assert abs(rate - p) <= sigmas * se + 1e-12, (rate, p)


@pytest.mark.parametrize(
    "factory",
    [
        lambda p: WeightedGrayscale(p=p),
        lambda p: ChannelCutMix(p=p),
        lambda p: SpectrumJitter(p=p),
        lambda p: ChannelSelect("rand", p=p),
        lambda p: ChannelRandomErasing(p=p),
        lambda p: RandomErasing(p=p),
        lambda p: HueJitter(p=p),
    ],
)
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_apply_rate_is_p(factory, p):
    params = factory(p).sample_params((N, 3, 8, 8), gen(7))
    rate_close(params.apply, p)


def test_weighted_grayscale_weights_are_normalised_uniforms_not_dirichlet():
    w = WeightedGrayscale(p=1.0).sample_params((N, 3, 2, 2), gen(8)).weights
    torch.testing.assert_close(w.sum(-1), torch.ones(N, dtype=w.dtype))
    assert bool((w > 0).all())
    top = w.max(-1).values
    rng = np.random.default_rng(0)
    u = rng.random((400_000, 3))
    ref = (u / u.sum(1, keepdims=True)).max(1)
    dirichlet = rng.dirichlet(np.ones(3), 400_000).max(1)
    se = top.std().item() / math.sqrt(N)
    assert abs(top.mean().item() - ref.mean()) < 5 * se + 1e-3
    assert abs(top.mean().item() - dirichlet.mean()) > 0.05  # 0.523 vs 0.611
    # P(max weight > 0.8): about 3 % for normalised uniforms, 12 % for Dirichlet(1, 1, 1)
    assert abs((top > 0.8).double().mean().item() - (ref > 0.8).mean()) < 0.006


def test_weighted_grayscale_fixed_weights():
    params = WeightedGrayscale(p=1.0, weights=(0.2, 0.3, 0.5)).sample_params((4, 3, 2, 2))
    assert torch.equal(params.weights[3], torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64))


def test_cutmix_boxes_within_scale_and_ratio():
    size_h, size_w = 4000, 2000  # large, so rounding h and w barely moves area and aspect
    params = ChannelCutMix(p=1.0).sample_params((N, 3, size_h, size_w), gen(9))
    top, left, h, w = params.box.unbind(-1)
    assert bool((h > 0).all() & (w > 0).all())  # failure of all 10 attempts: ~2e-10
    assert bool((top >= 0).all() & (left >= 0).all())
    assert bool((top + h <= size_h).all() & (left + w <= size_w).all())
    frac = (h * w).double() / (size_h * size_w)
    assert frac.min() >= 0.02 * 0.99 and frac.max() <= 0.33 * 1.01
    aspect = h.double() / w
    assert aspect.min() >= 0.3 * 0.99 and aspect.max() <= 3.3 * 1.01
    # offsets uniform: the box centre's relative row spans the free range evenly
    rel = top.double() / (size_h - h)
    assert abs(rel.mean().item() - 0.5) < 0.01


def test_cutmix_aspect_is_log_uniform():
    # tiny areas on a square image: every first attempt is accepted
    params = ChannelCutMix(p=1.0, scale=(0.01, 0.02)).sample_params((N, 3, 3000, 3000), gen(10))
    log_aspect = torch.log(params.box[:, 2].double() / params.box[:, 3])
    lo, hi = math.log(0.3), math.log(3.3)
    assert abs(log_aspect.mean().item() - (lo + hi) / 2) < 0.02
    assert abs(log_aspect.std().item() - (hi - lo) / math.sqrt(12)) < 0.02


def test_cutmix_channel_pairs_uniform_and_distinct():
    params = ChannelCutMix().sample_params((60_000, 3, 8, 8), gen(11))
    b, f = params.background, params.foreground
    assert bool((b != f).all())
    pair = b * 3 + f
    for code in (1, 2, 3, 5, 6, 7):
        rate_close(pair == code, 1 / 6)


def test_cutmix_output_matches_box_and_channels():
    x = make_images((16, 3, H, W), torch.uint8)
    out, params = ChannelCutMix(p=1.0)(x, generator=gen(12), return_params=True)
    for i in range(16):
        top, left, h, w = params.box[i].tolist()
        b, f = int(params.background[i]), int(params.foreground[i])
        expected = x[i, b].clone()
        expected[top : top + h, left : left + w] = x[i, f, top : top + h, left : left + w]
        for c in range(3):
            assert torch.equal(out[i, c], expected)


def test_cutmix_reference_geometry_top_rows_only():
    size_h, size_w = 384, 192
    params = ChannelCutMix(p=1.0, reference_geometry=True).sample_params(
        (N, 3, size_h, size_w), gen(13)
    )
    top, left, h, w = params.box.unbind(-1)
    assert bool((top + h <= size_w).all())  # only the top W rows
    assert bool((left + w <= size_w).all())
    empty = (h * w == 0).double().mean().item()
    assert abs(empty - 0.26) < 0.02  # spec §1.2: about 26 % paste nothing
    fixed = ChannelCutMix(p=1.0).sample_params((N, 3, size_h, size_w), gen(13))
    assert bool((fixed.box[:, 0] + fixed.box[:, 2] > size_w).any())


def test_cutmix_reference_geometry_clips_on_landscape_images():
    module = ChannelCutMix(p=1.0, reference_geometry=True)
    x = make_images((2000, 3, 8, 30), torch.uint8)
    out, params = module(x, generator=gen(14), return_params=True)
    top, left, h, w = params.box.unbind(-1)
    assert bool((top + h <= 8).all() & (left + w <= 30).all())
    assert torch.equal(module.replay(x, params), out)  # replay validates the boxes


def test_cutmix_no_fit_gives_plain_background_channel():
    # area >= 90 % of a 2x2 image: h or w is 2 in every attempt -> empty box, plain channel b
    x = make_images((50, 3, 2, 2), torch.uint8)
    out, params = ChannelCutMix(p=1.0, scale=(0.9, 1.0))(x, generator=gen(15), return_params=True)
    assert bool((params.box == 0).all())
    index = params.background.view(-1, 1, 1, 1).expand(-1, 1, 2, 2)
    expected = x.gather(1, index).expand(-1, 3, 2, 2)
    assert torch.equal(out, expected)


def test_channel_exchange_outcomes_uniform():
    c = ChannelExchange().sample_params((N, 3, 2, 2), gen(16))
    assert bool(c.apply.all())
    for k in range(3):
        rate_close(c.channel == k, 1 / 3)
    c = ChannelExchange(include_gray=True).sample_params((N, 3, 2, 2), gen(17))
    for k in range(4):
        rate_close(c.channel == k, 1 / 4)


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_channel_adaptive_gray_outcome_probabilities(p):
    params = ChannelAdaptiveGray(p=p).sample_params((N, 3, 2, 2), gen(18))
    for k in range(3):
        rate_close((params.channel == k) & params.apply, 1 / 4)
    rate_close((params.channel == 3) & params.apply, p / 4)
    rate_close(~params.apply, (1 - p) / 4)
    assert bool(params.apply[params.channel < 3].all())


def test_channel_adaptive_gray_output():
    x = torch.randn(64, 3, H, W)
    out, params = ChannelAdaptiveGray()(x, generator=gen(19), return_params=True)
    gray = F.channel_exchange(x, 3)
    for i in range(64):
        if not params.apply[i]:
            assert torch.equal(out[i], x[i])
        elif params.channel[i] == 3:
            assert torch.equal(out[i], gray[i])
        else:
            assert torch.equal(out[i], x[i, int(params.channel[i])].expand(3, H, W))


def test_channel_select_rand_uniform_and_fixed_modes():
    c = ChannelSelect("rand").sample_params((N, 3, 2, 2), gen(20)).channel
    for k in range(3):
        rate_close(c == k, 1 / 3)
    x = make_images((4, 3, H, W), torch.uint8)
    for mode in F.CHANNEL_SELECT_MODES:
        assert torch.equal(ChannelSelect(mode)(x), F.channel_select(x, mode))


def test_vimc_slot_frequencies():
    params = VIMC().sample_params((N, 3, 8, 8), gen(21))
    for k in range(4):
        rate_close(params.choice == k, 1 / 4)
    # each operation reaches ~1/8 of the images
    for k in range(4):
        rate_close((params.choice == k) & params.params[k].apply, 1 / 8)


def test_vimc_disabled_slot_is_identity_but_still_picked():
    x = make_images((400, 3, H, W), torch.uint8)
    module = VIMC(color_jitter=False, vimc_wg=False, vimc_cc=False, vimc_sj=True, sj_p=1.0)
    out, params = module(x, generator=gen(22), return_params=True)
    picked_sj = params.choice == 3
    assert 60 < int(picked_sj.sum()) < 140
    assert torch.equal(out[~picked_sj], x[~picked_sj])
    assert not torch.equal(out[picked_sj], x[picked_sj])


def test_random_choice_weights():
    module = RandomChoice([None, ChannelExchange(), None], p=[0.2, 0.0, 0.8])
    choice = module.sample_params((N, 3, 2, 2), gen(23)).choice
    assert not bool((choice == 1).any())
    rate_close(choice == 0, 0.2)


def test_channel_random_erasing_distribution():
    module = ChannelRandomErasing(p=1.0, scale=(0.01, 0.02))
    box = module.sample_params((N, 3, 3000, 3000), gen(24)).box
    aspect = box[:, 2].double() / box[:, 3]
    # plain uniform U(0.3, 1/0.3) as the reference (log-uniform would have mean ~1.26)
    assert abs(aspect.mean().item() - (0.3 + 1 / 0.3) / 2) < 0.02
    default = ChannelRandomErasing(p=1.0).sample_params((N, 3, 288, 144), gen(25)).box
    frac = (default[:, 2] * default[:, 3]).double() / (288 * 144)
    assert frac.max() <= 0.4 * 1.05 and frac[frac > 0].min() >= 0.02 * 0.9


def test_channel_random_erasing_fill_and_one_channel():
    x = torch.randn(32, 3, H, W)
    out, params = ChannelRandomErasing(p=1.0)(x, generator=gen(26), return_params=True)
    fill = torch.tensor((0.4914, 0.4822, 0.4465))
    for i in range(32):
        top, left, h, w = params.box[i].tolist()
        region = out[i, :, top : top + h, left : left + w]
        assert torch.equal(region, fill.view(3, 1, 1).expand_as(region))
    x1 = torch.randn(32, 1, H, W)
    out1, params1 = ChannelRandomErasing(p=1.0)(x1, generator=gen(26), return_params=True)
    top, left, h, w = params1.box[0].tolist()
    assert bool((out1[0, 0, top : top + h, left : left + w] == fill[0]).all())
    pil = Image.fromarray(np.zeros((H, W), dtype=np.uint8), mode="L")
    assert ChannelRandomErasing(p=1.0, fill=200)(pil).mode == "L"


def test_erasing_never_fits_leaves_image_unchanged():
    x = make_images((20, 3, 2, 2), torch.uint8)
    module = ChannelRandomErasing(p=1.0, scale=(0.9, 1.0), max_attempts=3)
    out, params = module(x, return_params=True)
    assert bool((params.box == 0).all()) and torch.equal(out, x)


def test_spectrum_jitter_ranges():
    params = SpectrumJitter(0.5, p=1.0).sample_params((N, 3, 2, 2), gen(27))
    assert params.alpha.min() >= 0.5 and params.alpha.max() < 1.5
    params = SpectrumJitter((0.0, 1.0), p=1.0).sample_params((N, 3, 2, 2), gen(27))
    assert abs(params.alpha.mean().item() - 0.5) < 0.01
    for k in range(3):
        rate_close(params.channel == k, 1 / 3)
    assert SpectrumJitter(2.0).factor == (0.0, 3.0)
    x = torch.rand(8, 3, H, W)
    for factor in [(1.0, 1.0), 0.0]:
        module = SpectrumJitter(factor, p=1.0)
        assert module.disabled and torch.equal(module(x), x)


def test_gradients_flow_for_float_inputs():
    x = torch.rand(4, 3, H, W, dtype=torch.float64, requires_grad=True)
    out, params = WeightedGrayscale(p=1.0)(x, generator=gen(28), return_params=True)
    out.sum().backward()
    expected = 3 * params.weights.view(4, 3, 1, 1).expand(4, 3, H, W)
    torch.testing.assert_close(x.grad, expected)
    x.grad = None
    out, params = SpectrumJitter(p=1.0)(x, generator=gen(29), return_params=True)
    out.sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
    assert bool((x.grad != 1).any())  # not the identity
    y = torch.rand(4, 3, H, W, requires_grad=True)
    VIMC()(y).sum().backward()
    assert y.grad is not None


# --- hue ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_adjust_hue_matches_torchvision_per_image(dtype):
    x = make_images((7, 3, 16, 12), dtype, seed=30)
    factors = torch.tensor([-0.5, -0.2, -0.05, 0.0, 0.1, 0.33, 0.5])
    out = adjust_hue(x, factors)
    assert out.dtype == dtype
    for i in range(7):
        ref = tvf.adjust_hue(x[i], float(factors[i]))
        if dtype == torch.uint8:
            assert (out[i].int() - ref.int()).abs().max() <= 1
        else:
            torch.testing.assert_close(out[i], ref, atol=1e-5, rtol=0)


def test_hue_jitter_factor_range_and_wrap():
    params = HueJitter(0.2, p=1.0).sample_params((N, 3, 2, 2), gen(31))
    assert params.factor.min() >= -0.2 and params.factor.max() < 0.2
    x = make_images((2, 3, 8, 8), torch.float32)
    torch.testing.assert_close(adjust_hue(x, 0.5), adjust_hue(x, -0.5), atol=1e-5, rtol=0)


# --- ModalityAware -----------------------------------------------------------------------------


def test_modality_aware_routes_per_sample():
    x = make_images((10, 3, H, W), torch.float32)
    modality = torch.tensor([0, 1] * 5)
    module = ModalityAware(visible=ChannelExchange(), infrared=None)
    out, params = module(x, modality, generator=gen(32), return_params=True)
    assert torch.equal(out[1::2], x[1::2])
    assert torch.equal(out[::2], ChannelExchange().replay(x[::2], params.visible[::2]))
    both = ModalityAware(WeightedGrayscale(p=1.0), ChannelAdaptiveGray())
    out, params = both(x, modality, generator=gen(33), return_params=True)
    vis = both.visible.replay(x, params.visible)
    ir = both.infrared.replay(x, params.infrared)
    assert torch.equal(out[::2], vis[::2]) and torch.equal(out[1::2], ir[1::2])
    assert torch.equal(both.replay(x, params), out)
    # a scalar modality for a single image
    single = both(x[0], 1, generator=gen(33))
    assert single.shape == (3, H, W)


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: WeightedGrayscale(p=1.5), r"p must be a probability in \[0, 1\], got 1.5"),
        (lambda: WeightedGrayscale(p=-0.1), "got -0.1"),
        (lambda: ChannelCutMix(p="0.5"), "p must be a probability"),
        (lambda: WeightedGrayscale(weights=(1.0, 2.0)), "weights must be 3"),
        (lambda: SpectrumJitter((0.8, 0.2)), r"factor must satisfy 0 <= low and low <= high"),
        (lambda: SpectrumJitter((-0.1, 1.0)), "factor must satisfy"),
        (lambda: SpectrumJitter(-1.0), "factor must be a finite number >= 0, got -1.0"),
        (lambda: SpectrumJitter((0.0, 1.0, 2.0)), "factor must be a pair"),
        (lambda: ChannelCutMix(scale=(0.5, 0.1)), r"scale must satisfy .*got \(0.5, 0.1\)"),
        (lambda: ChannelCutMix(scale=(0.1, 1.5)), "high <= 1"),
        (lambda: ChannelCutMix(ratio=(0.0, 3.3)), "ratio must satisfy 0 < low"),
        (lambda: ChannelCutMix(ratio=(3.3, 0.3)), "ratio must satisfy"),
        (lambda: RandomErasing(ratio=(2.0, 1.0)), "ratio must satisfy"),
        (lambda: ChannelRandomErasing(r1=0.0), "r1 must be a finite number > 0, got 0.0"),
        (lambda: ChannelRandomErasing(scale=(0.4, 0.02)), "scale must satisfy"),
        (lambda: ChannelRandomErasing(max_attempts=0), "max_attempts must be an int >= 1"),
        (lambda: ChannelRandomErasing(fill=(1.0, 2.0)), "fill must be 1 or 3"),
        (lambda: ChannelSelect("x"), "mode must be one of .*got 'x'"),
        (lambda: HueJitter(0.7), r"hue must be in \[0, 0.5\], got 0.7"),
        (lambda: HueJitter((0.2, -0.2)), "hue must satisfy"),
        (lambda: RandomChoice([]), "at least one"),
        (lambda: RandomChoice([None, None], p=[1.0, -1.0]), "non-negative weights"),
        (lambda: RandomChoice([None, None], p=[1.0]), "p must be 2"),
        (lambda: VIMC(cc_p=2.0), "cc_p must be a probability"),
    ],
)
def test_invalid_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_invalid_types_and_inputs():
    with pytest.raises(TypeError, match=r"transforms\[0\] must be a vireid\.augment transform"):
        RandomChoice([v2.RandomHorizontalFlip()])
    with pytest.raises(TypeError, match="visible must be"):
        ModalityAware(visible=torch.nn.Identity())
    with pytest.raises(TypeError, match=r"img must be a PIL\.Image\.Image or a torch\.Tensor"):
        WeightedGrayscale()(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="3 channels"):
        WeightedGrayscale()(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="3 channels"):
        ChannelExchange()(torch.zeros(2, 4, 4, 4))
    with pytest.raises(ValueError, match="3 channels"):
        VIMC()(Image.new("L", (4, 4)))
    with pytest.raises(ValueError, match="C = 3"):
        ChannelCutMix().sample_params((2, 1, 4, 4))
    with pytest.raises(TypeError, match="dtype"):
        SpectrumJitter()(torch.zeros(2, 3, 4, 4, dtype=torch.int32))
    with pytest.raises(TypeError, match="params must be ChannelCutMixParams"):
        ChannelCutMix().replay(torch.zeros(3, 4, 4), WeightedGrayscale().sample_params((3, 4, 4)))
    bad = ChannelCutMix().sample_params((3, 4, 4))
    bad = type(bad)(bad.apply | True, torch.tensor([2, 2, 5, 5]), bad.background, bad.foreground)
    with pytest.raises(ValueError, match="box"):
        ChannelCutMix().replay(torch.zeros(3, 4, 4), bad)
    module = ModalityAware(ChannelExchange())
    with pytest.raises(ValueError, match="modality must be 0 \\(visible\\) or 1"):
        module(torch.zeros(2, 3, 4, 4), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="modality is required"):
        module(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="does not broadcast"):
        module(torch.zeros(2, 3, 4, 4), torch.tensor([0, 1, 0]))
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator"):
        ChannelExchange(generator=0)


# --- CUDA --------------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", list(MODULES))
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_cuda_matches_cpu(name, dtype):
    module = MODULES[name]()
    x = make_images((16, 3, H, W), dtype)
    out, params = module(x, generator=gen(40), return_params=True)
    # a CPU generator with a CUDA input: drawn on the CPU, then moved -> the same parameters
    out_cuda, params_cuda = module(x.cuda(), generator=gen(40), return_params=True)
    assert out_cuda.device.type == "cuda"
    for a, b in zip(flat_tensors(params_cuda), flat_tensors(params), strict=True):
        assert a.device.type == "cuda" and torch.equal(a.cpu(), b)
    replayed = module.replay(x.cuda(), params.to("cuda"))
    if dtype == torch.uint8:
        assert (out_cuda.cpu().int() - out.int()).abs().max() <= 1
        assert (replayed.cpu().int() - out.int()).abs().max() <= 1
    else:
        torch.testing.assert_close(out_cuda.cpu(), out, atol=1e-5, rtol=0)
        torch.testing.assert_close(replayed.cpu(), out, atol=1e-5, rtol=0)
    # CUDA-side draws with a CUDA generator
    g = torch.Generator(device="cuda").manual_seed(0)
    a = module(x.cuda(), generator=g)
    g.manual_seed(0)
    assert torch.equal(module(x.cuda(), generator=g), a)


def test_single_parameter_set_broadcasts_over_a_batch():
    x = make_images((5, 3, H, W), torch.float32)
    for module in [ChannelCutMix(p=1.0), SpectrumJitter(p=0.5), VIMC(), ChannelRandomErasing()]:
        params = module.sample_params(x, gen(50))[2]  # the parameters of one image
        out = module.replay(x, params)
        for i in range(5):
            assert_same(out[i], module.replay(x[i], params))


def test_module_methods_of_torch_still_work():
    # nn.Module.to / float / apply recurse through children; the transforms must not shadow them
    container = torch.nn.ModuleDict(
        {"vimc": VIMC(), "mod": ModalityAware(ChannelExchange(), ChannelAdaptiveGray())}
    )
    container.to("cpu").float().train().eval()
    seen = []
    container.apply(lambda m: seen.append(type(m).__name__))
    assert "WeightedGrayscale" in seen and "ChannelAdaptiveGray" in seen
    assert container.state_dict() == {}
    x = make_images((4, 3, H, W), torch.uint8)
    assert container["vimc"](x).shape == x.shape
    clone = pickle.loads(pickle.dumps(copy.deepcopy(VIMC(generator=gen(1)))))
    assert torch.equal(clone(x), VIMC(generator=gen(1))(x))


def test_hue_on_a_normalised_tensor_is_an_error():
    from vireid.augment.transforms import adjust_hue

    img = torch.rand(2, 3, 8, 4)
    adjust_hue(img, 0.1)  # [0, 1] floats are the contract
    normalised = (img - 0.45) / 0.225
    with pytest.raises(ValueError, match=r"values in \[0, 1\] for a hue shift.*normalise"):
        adjust_hue(normalised, 0.1)
    with pytest.raises(ValueError, match="hue shift"):
        adjust_hue(img * 255, 0.0)  # floats on the 0..255 scale: pass uint8 instead
    assert adjust_hue((img * 255).to(torch.uint8), 0.1).dtype == torch.uint8
