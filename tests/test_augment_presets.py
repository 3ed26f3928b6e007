"""Batched geometry steps, per-image presets and BatchAugment."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from vireid.augment import presets
from vireid.augment.geometry import IMAGENET_MEAN, IMAGENET_STD, hflip, normalize, pad_crop
from vireid.augment.presets import BatchAugment


def _batch(n=6, h=24, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=g)


def test_geometry_matches_per_image_torchvision():
    x = _batch()
    top = torch.tensor([0, 20, 3, 10, 7, 20])
    left = torch.tensor([0, 0, 20, 5, 19, 11])
    out = pad_crop(x, 10, 127, top, left)
    for i in range(len(x)):
        padded = TF.pad(x[i], [10], fill=127)
        expected = padded[:, top[i] : top[i] + 24, left[i] : left[i] + 12]
        assert torch.equal(out[i], expected)
    flips = torch.tensor([True, False, True, False, False, True])
    flipped = hflip(x, flips)
    for i in range(len(x)):
        assert torch.equal(flipped[i], TF.horizontal_flip(x[i]) if flips[i] else x[i])
    ref = TF.normalize(x.float() / 255, IMAGENET_MEAN, IMAGENET_STD)
    torch.testing.assert_close(normalize(x), ref)
    with pytest.raises(ValueError, match="crop offsets"):
        pad_crop(x, 10, 0, 21, 0)


def test_batch_agw_equals_per_image_steps_with_the_same_draws():
    x = _batch()
    aug = BatchAugment("agw", (24, 12), generator=torch.Generator().manual_seed(5))
    out = aug(x, torch.zeros(6, dtype=torch.long))
    g = torch.Generator().manual_seed(5)  # replay the draw order: top, left, flip
    top = torch.randint(0, 21, (6,), generator=g)
    left = torch.randint(0, 21, (6,), generator=g)
    flip = torch.rand(6, generator=g) < 0.5
    for i in range(6):
        img = TF.pad(x[i], [10], fill=0)[:, top[i] : top[i] + 24, left[i] : left[i] + 12]
        img = TF.horizontal_flip(img) if flip[i] else img
        expected = TF.normalize(img.float() / 255, IMAGENET_MEAN, IMAGENET_STD)
        torch.testing.assert_close(out[i], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("recipe", ["mcja", "caj", "agw"])
def test_batch_augment_is_reproducible_and_per_sample(recipe):
    x = _batch(n=16)
    modality = torch.tensor([0, 1] * 8)
    a = BatchAugment(recipe, (24, 12), generator=torch.Generator().manual_seed(1))(x, modality)
    b = BatchAugment(recipe, (24, 12), generator=torch.Generator().manual_seed(1))(x, modality)
    assert a.dtype == torch.float32 and a.shape == x.shape and torch.equal(a, b)
    same = torch.stack([x[0]] * 16)
    c = BatchAugment(recipe, (24, 12), generator=torch.Generator().manual_seed(2))(same, modality)
    assert len({tuple(img.flatten()[:50].tolist()) for img in c}) > 1  # own draws per sample


def test_mcja_vimc_only_touches_visible_images():
    aug = BatchAugment("mcja", (24, 12), generator=torch.Generator().manual_seed(0))
    seen = []

    class Blackout(torch.nn.Module):
        def forward(self, x):
            seen.append(x.shape[0])
            return torch.zeros_like(x)

    aug.vimc = Blackout()
    modality = torch.tensor([0, 1, 1, 0, 1, 1])
    out = aug(_batch(), modality)
    assert seen == [2]  # called once, on the visible sub-batch only
    black = normalize(torch.zeros(1, 3, 1, 1, dtype=torch.uint8)).view(1, 3, 1, 1)
    share = (out - black).abs().amax(dim=1).lt(1e-5).flatten(1).float().mean(1)
    assert (share[modality == 0] > 0.3).all() and (share[modality == 1] < 0.05).all()


@pytest.mark.parametrize("vimc_p", [0.0, 0.5, 1.0])
def test_mcja_vimc_p_is_the_share_of_visible_images_recoloured(vimc_p):
    # Uniformly coloured images: one whose VIMC op was skipped still shows the exact colour
    # (erasing covers at most 30 %, the padding is grey); every op changes it.
    colour = torch.tensor([200, 40, 110], dtype=torch.uint8).view(1, 3, 1, 1)
    x = colour.expand(600, 3, 32, 16).contiguous()
    aug = BatchAugment("mcja", (32, 16), vimc_p=vimc_p, generator=torch.Generator().manual_seed(7))
    out = aug(x, torch.zeros(600, dtype=torch.long))
    original = normalize(colour).view(1, 3, 1, 1)
    kept = (out - original).abs().amax(dim=1).lt(1e-5).flatten(1).any(1).float().mean().item()
    assert abs(kept - (1.0 - vimc_p)) < 0.07, kept


def test_mcja_erasing_rate_and_value():
    x = torch.full((400, 3, 32, 16), 200, dtype=torch.uint8)
    out = BatchAugment("mcja", (32, 16), generator=torch.Generator().manual_seed(3))(
        x, torch.ones(400, dtype=torch.long)
    )
    erased = (out == 0).all(dim=1).flatten(1).any(1)  # value 0 in every channel somewhere
    assert 0.40 < erased.float().mean().item() < 0.60


def test_batch_augment_out_buffer_and_errors():
    x = _batch()
    aug = BatchAugment("mcja", (24, 12))
    buf = torch.empty(x.shape)
    assert aug(x, torch.zeros(6, dtype=torch.long), out=buf) is buf
    with pytest.raises(ValueError, match="out must be"):
        aug(x, torch.zeros(6, dtype=torch.long), out=torch.empty(1))
    with pytest.raises(TypeError, match="uint8"):
        aug(x.float(), torch.zeros(6))
    with pytest.raises(ValueError, match=r"\(B, 3, 24, 12\)"):
        aug(_batch(h=20), torch.zeros(6))
    with pytest.raises(ValueError, match="modality"):
        aug(x, torch.zeros(5))
    # 1-based labels would silently skip VIMC on every visible image.
    with pytest.raises(ValueError, match=r"0 \(visible\) or 1 \(infrared\), found \[2\]"):
        aug(x, torch.tensor([1, 2, 1, 2, 1, 2]))
    with pytest.raises(ValueError, match=r"found \[-1\]"):
        aug(x, torch.tensor([0, 1, -1, 0, 1, 0]))
    with pytest.raises(TypeError, match="modality must hold integers"):
        aug(x, torch.zeros(6))
    with pytest.raises(ValueError, match="recipe"):
        BatchAugment("simclr")
    with pytest.raises(ValueError, match="view and variant only apply to recipe='caj'"):
        BatchAugment("mcja", (24, 12), view="strong")
    with pytest.raises(ValueError, match="variant='pami23'"):
        BatchAugment("agw", (24, 12), variant="pami23")
    BatchAugment("caj", (24, 12), view="strong", variant="pami23")
    with pytest.raises(ValueError, match=r"vimc_p must be a probability in \[0, 1\], got 1.5"):
        BatchAugment("mcja", (24, 12), vimc_p=1.5)
    with pytest.raises(ValueError, match="vimc_p only applies to recipe='mcja'"):
        BatchAugment("agw", (24, 12), vimc_p=1.0)


def test_per_image_presets_on_pil():
    img = Image.fromarray(_batch(n=1, h=40, w=20)[0].permute(1, 2, 0).numpy())
    for t in (
        presets.test((32, 16)),
        presets.agw_train((32, 16)),
        presets.mcja_train((32, 16)),
        presets.mcja_train((32, 16), "infrared"),
        presets.mcja_test((32, 16), "g"),
        *presets.caj_train((32, 16)),
        *presets.caj_train((32, 16), "pami23"),
    ):
        out = t(img)
        assert out.shape == (3, 32, 16) and out.dtype == torch.float32
    view = presets.mcja_test((32, 16), "r")(img)
    grey = view * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(
        3, 1, 1
    )
    torch.testing.assert_close(grey[0], grey[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(grey[1], grey[2], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="view"):
        presets.mcja_test((32, 16), "avg")
    with pytest.raises(ValueError, match="size"):
        presets.test((32,))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("recipe", ["mcja", "caj", "agw"])
def test_batch_augment_cuda_matches_cpu_with_a_cpu_generator(recipe):
    x = _batch(n=8)
    modality = torch.tensor([0, 1] * 4)
    cpu = BatchAugment(recipe, (24, 12), generator=torch.Generator().manual_seed(4))(x, modality)
    gpu = BatchAugment(recipe, (24, 12), generator=torch.Generator().manual_seed(4))(
        x.cuda(), modality.cuda()
    )
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-4)


# --- the CPU path (NumPy, image by image) against the vectorised path ------------------------

_RECIPES = [
    ("mcja", {}),
    ("mcja", {"vimc_p": 1.0}),
    ("agw", {}),
    ("caj", {}),
    ("caj", {"view": "strong"}),
    ("caj", {"variant": "pami23"}),
    ("caj", {"view": "strong", "variant": "pami23"}),
]


def _both_paths(make, x, modality):
    fast = make()(x, modality)  # a CPU batch takes the per-image NumPy path
    ref = make()._forward_batched(x, modality == 0, torch.empty(x.shape))
    return fast, ref


@pytest.mark.parametrize(("recipe", "kwargs"), _RECIPES)
@pytest.mark.parametrize("size", [(24, 12), (37, 19), (6, 5)])
def test_cpu_path_is_bit_identical_to_the_vectorised_path(recipe, kwargs, size):
    x = _batch(n=40, h=size[0], w=size[1], seed=11)
    mixed = torch.randint(0, 2, (40,), generator=torch.Generator().manual_seed(12))
    for modality in (torch.zeros(40, dtype=torch.long), torch.ones(40, dtype=torch.long), mixed):
        for seed in (0, 1):

            def make(seed=seed):
                gen = torch.Generator().manual_seed(seed)
                return BatchAugment(recipe, size, generator=gen, **kwargs)

            fast, ref = _both_paths(make, x, modality)
            assert torch.equal(fast, ref), (recipe, kwargs, size, seed)


@pytest.mark.parametrize("reference_geometry", [False, True])
def test_cpu_path_vimc_slots_always_applied_are_bit_identical(reference_geometry):
    from vireid.augment.transforms import VIMC

    x = torch.cat([_batch(n=48, h=32, w=16, seed=13), _batch(n=16, h=32, w=16, seed=14) // 64 * 64])

    def make():
        gen = torch.Generator().manual_seed(3)
        aug = BatchAugment("mcja", (32, 16), generator=gen)
        aug.vimc = VIMC(
            0.5,
            hue_p=1.0,
            wg_p=1.0,
            cc_p=1.0,
            reference_geometry=reference_geometry,
            sj_factor=(0.0, 2.0),
            sj_p=1.0,
            generator=gen,
        )
        return aug

    fast, ref = _both_paths(make, x, torch.zeros(64, dtype=torch.long))
    assert torch.equal(fast, ref)


def test_numpy_hue_equals_adjust_hue():
    from vireid.augment.transforms import adjust_hue

    g = torch.Generator().manual_seed(15)
    factors = [-0.5, 0.5, 0.0, -0.2, 0.2, *(torch.rand(45, generator=g) - 0.5).tolist()]
    for t, f in enumerate(factors):
        x = torch.randint(0, 256, (3, 17, 23), dtype=torch.uint8, generator=g)
        if t % 3 == 0:
            x = x // 64 * 64  # greys and ties between channels
        expected = adjust_hue(x[None], torch.tensor([f], dtype=torch.float64))[0]
        assert torch.equal(torch.from_numpy(presets._hue_np(x.numpy(), f)), expected), f


def test_cpu_path_out_buffer_empty_batch_and_fallback():
    x = _batch()
    modality = torch.tensor([0, 1] * 3)
    for recipe in ("mcja", "caj", "agw"):
        buf = torch.empty(x.shape)
        assert BatchAugment(recipe, (24, 12))(x, modality, out=buf) is buf
        empty = BatchAugment(recipe, (24, 12))(x[:0], modality[:0])
        assert empty.shape == (0, 3, 24, 12)
    # A fresh large output (huge pages advised on Linux) is an ordinary float32 tensor.
    big = presets._empty_float(torch.Size((4, 3, 512, 512)), torch.device("cpu"))
    assert big.dtype == torch.float32 and big.shape == (4, 3, 512, 512)
    big.fill_(2.0)
    assert big.sum().item() == 2.0 * big.numel()
