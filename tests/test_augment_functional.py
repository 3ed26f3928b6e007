"""Tests of `vireid.augment.functional` against independent NumPy oracles.

The oracles below are written from the specs (mcja.md §0-§1, channel_aug_and_distribution.md
Part A), not from the implementation: each transforms ONE image ``(C, H, W)`` with scalar
parameters. uint8 convention (mcja.md §0): the arithmetic runs in float32, the result is
clipped to [0, 255] and truncated (floored). Float images keep their dtype, with no clipping.

Batched calls with per-sample parameters are checked against a Python loop over the images
(in the tests only), so the library's vectorisation is tested against the per-image meaning.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vireid.augment import functional as F

# Spec values, hard-coded rather than imported so that a change in the library is caught.
BT601 = (0.2989, 0.5870, 0.1140)
MODES = ("r", "g", "b", "avg", "rg_avg", "rb_avg", "gb_avg")
FLOAT_DTYPES = (torch.float16, torch.float32, torch.float64)
ALL_DTYPES = (torch.uint8, *FLOAT_DTYPES)


# --- NumPy oracles (one image (C, H, W), scalar parameters) -----------------------------------


def _work(x: np.ndarray) -> np.ndarray:
    # uint8 arithmetic runs in float32 (the library's documented convention; Pillow's blend and
    # numpy on float32 agree); float images are computed in their own dtype.
    return x.astype(np.float32) if x.dtype == np.uint8 else x


def _finish(y: np.ndarray, like: np.ndarray) -> np.ndarray:
    if like.dtype == np.uint8:
        return np.floor(np.clip(y, 0, 255)).astype(np.uint8)
    return y.astype(like.dtype)


def _rep3(y: np.ndarray) -> np.ndarray:
    """A single channel (H, W) copied into three."""
    return np.stack([y, y, y])


def np_weighted_grayscale(x: np.ndarray, w) -> np.ndarray:
    """mcja.md §1.1 step 3: Y = wR·R + wG·G + wB·B, truncated, copied into 3 channels."""
    xf = _work(x)
    w = np.asarray(w, dtype=xf.dtype)
    return _finish(_rep3(xf[0] * w[0] + xf[1] * w[1] + xf[2] * w[2]), x)


def np_channel_cutmix(x: np.ndarray, box, b: int, f: int) -> np.ndarray:
    """mcja.md §1.2 [fix] step 4: channel b, with rows/cols of the box from channel f."""
    top, left, h, w = box
    out = x[b].copy()
    out[top : top + h, left : left + w] = x[f][top : top + h, left : left + w]
    return _rep3(out)


def np_spectrum_jitter(x: np.ndarray, c: int, alpha: float) -> np.ndarray:
    """mcja.md §1.3 step 3: D + α·(I − D), clipped and truncated for uint8."""
    xf = _work(x)
    d = xf[c][None]
    a = xf.dtype.type(alpha)
    return _finish(d + a * (xf - d), x)


def np_channel_select(x: np.ndarray, mode: str) -> np.ndarray:
    """mcja.md §1.4 with the [fix] pair averages."""
    if mode in ("r", "g", "b"):
        return _rep3(x["rgb".index(mode)])
    xf = _work(x)
    if mode == "avg":
        y = (xf[0] + xf[1] + xf[2]) / 3
    else:
        i, j = {"rg_avg": (0, 1), "rb_avg": (0, 2), "gb_avg": (1, 2)}[mode]
        y = (xf[i] + xf[j]) / 2
    return _finish(_rep3(y), x)


def np_channel_exchange(x: np.ndarray, c: int) -> np.ndarray:
    """channel_aug A.2.1: replicate channel c (0..2), or BT.601 grey for c = 3."""
    if c < 3:
        return _rep3(x[c])
    xf = _work(x)
    w = np.asarray(BT601, dtype=xf.dtype)
    return _finish(_rep3(xf[0] * w[0] + xf[1] * w[1] + xf[2] * w[2]), x)


def np_channel_random_erase(x: np.ndarray, box, fill) -> np.ndarray:
    """channel_aug A.2.4: channel k of the box set to fill[k]; 1-channel images use fill[0]."""
    top, left, h, w = box
    fill = np.broadcast_to(np.asarray(fill, dtype=np.float64), (3,))
    out = x.copy()
    for k in range(x.shape[0]):
        value = fill[k]
        if x.dtype == np.uint8:
            value = np.floor(np.clip(value, 0, 255))
        out[k, top : top + h, left : left + w] = value
    return out


# --- helpers ----------------------------------------------------------------------------------


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def assert_matches(out: torch.Tensor, expected: np.ndarray) -> None:
    """Exact for uint8; for floats, close at a tolerance suited to the dtype."""
    assert out.dtype != torch.uint8 or expected.dtype == np.uint8
    if out.dtype == torch.uint8:
        np.testing.assert_array_equal(_np(out), expected)
    else:
        tol = {torch.float16: 2e-3, torch.float32: 1e-5, torch.float64: 1e-7}[out.dtype]
        np.testing.assert_allclose(
            _np(out).astype(np.float64), expected.astype(np.float64), rtol=tol, atol=tol
        )


def random_images(shape, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
    # normalised-looking values: negative and positive
    return (torch.randn(shape, generator=gen, dtype=torch.float64) * 1.2).to(dtype)


def random_boxes(n: int, size_h: int, size_w: int, seed: int = 0) -> torch.Tensor:
    """(n, 4) boxes (top, left, height, width) inside the image, empty ones included."""
    gen = torch.Generator().manual_seed(seed)
    h = torch.randint(0, size_h + 1, (n,), generator=gen)
    w = torch.randint(0, size_w + 1, (n,), generator=gen)
    top = (torch.rand(n, generator=gen) * (size_h - h + 1)).long()
    left = (torch.rand(n, generator=gen) * (size_w - w + 1)).long()
    return torch.stack([top, left, h, w], 1)


#: Every function with one valid set of parameters, for dtype/device/shape-generic checks.
CALLS = {
    "weighted_grayscale": lambda x: F.weighted_grayscale(x, (0.2, 0.3, 0.5)),
    "channel_cutmix": lambda x: F.channel_cutmix(x, (1, 1, 2, 3), 2, 0),
    "spectrum_jitter": lambda x: F.spectrum_jitter(x, 1, 0.4),
    "channel_select": lambda x: F.channel_select(x, "avg"),
    "channel_exchange": lambda x: F.channel_exchange(x, 3),
    "channel_random_erase": lambda x: F.channel_random_erase(x, (1, 1, 2, 3), (0.5, 9.0, -2.0)),
}


# --- hand-computed 1×3×2×2 examples -----------------------------------------------------------

R = [[10, 20], [30, 40]]
G = [[100, 110], [120, 130]]
B = [[200, 210], [220, 255]]


def tiny(dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    return torch.tensor([[R, G, B]], dtype=dtype)


def rep3(plane) -> torch.Tensor:
    return torch.tensor([[plane, plane, plane]], dtype=torch.uint8)


class TestHandComputed:
    def test_weighted_grayscale(self):
        # 0.5·R + 0.25·G + 0.25·B = 80, 90, 100, 116.25 -> truncated to 116
        out = F.weighted_grayscale(tiny(), (0.5, 0.25, 0.25))
        assert torch.equal(out, rep3([[80, 90], [100, 116]]))
        out_f = F.weighted_grayscale(tiny(torch.float32), (0.5, 0.25, 0.25))
        torch.testing.assert_close(out_f[0, 1], torch.tensor([[80.0, 90.0], [100.0, 116.25]]))

    def test_channel_cutmix(self):
        # background R, the right column (rows 0..1, column 1) from B
        out = F.channel_cutmix(tiny(), (0, 1, 2, 1), 0, 2)
        assert torch.equal(out, rep3([[10, 210], [30, 255]]))
        # an empty box is plain channel b
        assert torch.equal(F.channel_cutmix(tiny(), (0, 0, 0, 0), 1, 2), rep3(G))
        assert torch.equal(F.channel_cutmix(tiny(), (1, 1, 0, 1), 2, 0), rep3(B))

    def test_spectrum_jitter_interpolates(self):
        # channel R, α = 0.5: G -> (R+G)/2, B -> (R+B)/2 with 147.5 -> 147
        out = F.spectrum_jitter(tiny(), 0, 0.5)
        expected = torch.tensor(
            [[R, [[55, 65], [75, 85]], [[105, 115], [125, 147]]]], dtype=torch.uint8
        )
        assert torch.equal(out, expected)

    def test_spectrum_jitter_clips_above(self):
        # channel R, α = 1.5: G = R + 1.5·(G − R) = 145..175; B exceeds 255 everywhere
        out = F.spectrum_jitter(tiny(), 0, 1.5)
        expected = torch.tensor(
            [[R, [[145, 155], [165, 175]], [[255, 255], [255, 255]]]], dtype=torch.uint8
        )
        assert torch.equal(out, expected)

    def test_spectrum_jitter_clips_below(self):
        # channel B, α = 1.5: R = B + 1.5·(R − B) < 0 -> 0; G = 50, 60, 70, 67.5 -> 67
        out = F.spectrum_jitter(tiny(), 2, 1.5)
        expected = torch.tensor([[[[0, 0], [0, 0]], [[50, 60], [70, 67]], B]], dtype=torch.uint8)
        assert torch.equal(out, expected)

    @pytest.mark.parametrize(
        ("mode", "plane"),
        [
            ("r", R),
            ("g", G),
            ("b", B),
            ("avg", [[103, 113], [123, 141]]),  # 103.33, 113.33, 123.33, 141.67
            ("rg_avg", [[55, 65], [75, 85]]),
            ("rb_avg", [[105, 115], [125, 147]]),  # 147.5
            ("gb_avg", [[150, 160], [170, 192]]),  # 192.5
        ],
    )
    def test_channel_select(self, mode, plane):
        assert torch.equal(F.channel_select(tiny(), mode), rep3(plane))

    def test_channel_exchange(self):
        for c, plane in enumerate((R, G, B)):
            assert torch.equal(F.channel_exchange(tiny(), c), rep3(plane))
        # 0.2989·R + 0.5870·G + 0.1140·B = 84.489, 94.488, 104.487, 117.336
        assert torch.equal(F.channel_exchange(tiny(), 3), rep3([[84, 94], [104, 117]]))

    def test_channel_random_erase(self):
        # bottom row; fills truncated (1.9 -> 1, 77.5 -> 77) and clipped (300 -> 255)
        out = F.channel_random_erase(tiny(), (1, 0, 1, 2), (1.9, 77.5, 300.0))
        expected = torch.tensor(
            [[[[10, 20], [1, 1]], [[100, 110], [77, 77]], [[200, 210], [255, 255]]]],
            dtype=torch.uint8,
        )
        assert torch.equal(out, expected)

    def test_channel_random_erase_one_channel_uses_fill0(self):
        img = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        out = F.channel_random_erase(img, (0, 1, 2, 1), (0.4914, 0.4822, 0.4465))
        torch.testing.assert_close(out, torch.tensor([[[[1.0, 0.4914], [3.0, 0.4914]]]]))
        out8 = F.channel_random_erase(tiny()[:, :1], (0, 0, 1, 1), (5, 6, 7))
        assert torch.equal(out8, torch.tensor([[[[5, 20], [30, 40]]]], dtype=torch.uint8))


# --- oracles on random images; per-sample parameters == per-image calls ----------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
class TestPerSampleMatchesOracle:
    """A batch with per-sample parameters equals the per-image oracle, image by image."""

    n, h, w = 6, 7, 5

    def images(self, dtype):
        return random_images((self.n, 3, self.h, self.w), dtype, seed=1)

    def test_weighted_grayscale(self, dtype):
        x = self.images(dtype)
        u = torch.rand(self.n, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        weights = u / u.sum(1, keepdim=True)  # MCJA's normalised uniforms
        out = F.weighted_grayscale(x, weights)
        for i in range(self.n):
            wi = weights[i]
            assert_matches(out[i], np_weighted_grayscale(_np(x[i]), np.asarray(wi)))
            assert torch.equal(out[i : i + 1], F.weighted_grayscale(x[i : i + 1], weights[i]))

    def test_channel_cutmix(self, dtype):
        x = self.images(dtype)
        boxes = random_boxes(self.n, self.h, self.w, seed=3)
        bg = torch.tensor([0, 1, 2, 0, 2, 1])
        fg = torch.tensor([1, 2, 0, 2, 1, 0])
        out = F.channel_cutmix(x, boxes, bg, fg)
        for i in range(self.n):
            box = boxes[i].tolist()
            assert_matches(out[i], np_channel_cutmix(_np(x[i]), box, int(bg[i]), int(fg[i])))
            assert torch.equal(out[i], F.channel_cutmix(x[i], box, int(bg[i]), int(fg[i])))

    def test_spectrum_jitter(self, dtype):
        x = self.images(dtype)
        channel = torch.tensor([0, 1, 2, 2, 1, 0])
        alpha = torch.tensor([0.0, 0.25, 0.5, 1.0, 1.5, -0.3])
        out = F.spectrum_jitter(x, channel, alpha)
        for i in range(self.n):
            c, a = int(channel[i]), float(alpha[i])
            assert_matches(out[i], np_spectrum_jitter(_np(x[i]), c, a))
            assert torch.equal(out[i], F.spectrum_jitter(x[i], c, a))

    def test_channel_exchange(self, dtype):
        x = self.images(dtype)
        channel = torch.tensor([0, 1, 2, 3, 3, 1])
        out = F.channel_exchange(x, channel)
        for i in range(self.n):
            assert_matches(out[i], np_channel_exchange(_np(x[i]), int(channel[i])))
            assert torch.equal(out[i], F.channel_exchange(x[i], int(channel[i])))

    @pytest.mark.parametrize("mode", MODES)
    def test_channel_select(self, dtype, mode):
        x = self.images(dtype)
        out = F.channel_select(x, mode)
        for i in range(self.n):
            assert_matches(out[i], np_channel_select(_np(x[i]), mode))

    @pytest.mark.parametrize("channels", [1, 3])
    def test_channel_random_erase(self, dtype, channels):
        x = random_images((self.n, channels, self.h, self.w), dtype, seed=4)
        boxes = random_boxes(self.n, self.h, self.w, seed=5)
        fill = torch.tensor([[0.4914, 0.4822, 0.4465], [12.7, 250.2, 300.0]]).repeat(3, 1)
        out = F.channel_random_erase(x, boxes, fill)
        for i in range(self.n):
            box, fi = boxes[i].tolist(), fill[i].tolist()
            if dtype == torch.float64:  # the fill tensor is float32; the image keeps float64
                fi = fill[i].double().tolist()
            assert_matches(out[i], np_channel_random_erase(_np(x[i]), box, fi))


def test_spectrum_jitter_uint8_matches_pillow_blend():
    """The reference blends with Pillow: ``Image.blend(D, I, α)``, bit for bit."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        img = rng.integers(0, 256, (3, 9, 11), dtype=np.uint8)
        c, a = int(rng.integers(0, 3)), float(rng.uniform(-0.5, 2.0))
        pil = Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0)))
        d = Image.fromarray(np.ascontiguousarray(np.repeat(img[c][..., None], 3, axis=2)))
        ref = np.asarray(Image.blend(d, pil, a)).transpose(2, 0, 1)
        np.testing.assert_array_equal(_np(F.spectrum_jitter(torch.from_numpy(img), c, a)), ref)


def test_weighted_grayscale_close_to_float64_reference():
    """The reference computes WG with numpy in float64; float32 may differ by one grey level."""
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (3, 32, 16), dtype=np.uint8)
    u = rng.random(3)
    w = u / u.sum()
    ref64 = (img.astype(np.float64) * w[:, None, None]).sum(0).astype(np.uint8)
    out = _np(F.weighted_grayscale(torch.from_numpy(img), torch.from_numpy(w)))[0]
    assert np.abs(out.astype(int) - ref64.astype(int)).max() <= 1


# --- broadcasting and leading batch dimensions ------------------------------------------------


class TestBroadcasting:
    n, h, w = 4, 6, 5

    def test_scalar_equals_per_sample(self):
        x = random_images((self.n, 3, self.h, self.w), torch.uint8)
        n = self.n
        wg = F.weighted_grayscale(x, (0.2, 0.3, 0.5))
        assert torch.equal(wg, F.weighted_grayscale(x, torch.tensor([[0.2, 0.3, 0.5]] * n)))
        assert torch.equal(wg, F.weighted_grayscale(x, torch.tensor([0.2, 0.3, 0.5])))
        sj = F.spectrum_jitter(x, 1, 0.3)
        assert torch.equal(sj, F.spectrum_jitter(x, torch.full((n,), 1), torch.full((n,), 0.3)))
        assert torch.equal(sj, F.spectrum_jitter(x, torch.tensor(1), torch.tensor(0.3)))
        ce = F.channel_exchange(x, 2)
        assert torch.equal(ce, F.channel_exchange(x, torch.full((n,), 2)))
        cc = F.channel_cutmix(x, (1, 2, 3, 2), 0, 1)
        box_t = torch.tensor([1, 2, 3, 2])
        assert torch.equal(cc, F.channel_cutmix(x, box_t, 0, 1))
        assert torch.equal(cc, F.channel_cutmix(x, box_t.expand(n, 4), torch.zeros(n).long(), 1))
        per_part = [torch.full((n,), v) for v in (1, 2, 3, 2)]
        assert torch.equal(cc, F.channel_cutmix(x, per_part, 0, torch.ones(n).long()))
        er = F.channel_random_erase(x, (0, 0, 2, 2), 7)
        assert torch.equal(er, F.channel_random_erase(x, (0, 0, 2, 2), (7, 7, 7)))
        assert torch.equal(er, F.channel_random_erase(x, (0, 0, 2, 2), torch.full((n, 3), 7.0)))

    def test_leading_batch_dims(self):
        """(2, 3, 3, H, W) with (2, 3) parameters == the flattened (6, 3, H, W) call."""
        x = random_images((2, 3, 3, self.h, self.w), torch.uint8, seed=6)
        flat = x.reshape(6, 3, self.h, self.w)
        gen = torch.Generator().manual_seed(7)
        weights = torch.rand(2, 3, 3, generator=gen)
        channel = torch.randint(0, 3, (2, 3), generator=gen)
        alpha = torch.rand(2, 3, generator=gen) * 1.5
        boxes = random_boxes(6, self.h, self.w, seed=8)
        fill = torch.rand(2, 3, 3, generator=gen) * 255
        pairs = [
            (
                F.weighted_grayscale(x, weights),
                F.weighted_grayscale(flat, weights.reshape(6, 3)),
            ),
            (
                F.spectrum_jitter(x, channel, alpha),
                F.spectrum_jitter(flat, channel.reshape(6), alpha.reshape(6)),
            ),
            (
                F.channel_cutmix(x, boxes.reshape(2, 3, 4), channel, (channel + 1) % 3),
                F.channel_cutmix(flat, boxes, channel.reshape(6), (channel.reshape(6) + 1) % 3),
            ),
            (F.channel_exchange(x, channel + 1), F.channel_exchange(flat, channel.reshape(6) + 1)),
            (F.channel_select(x, "gb_avg"), F.channel_select(flat, "gb_avg")),
            (
                F.channel_random_erase(x, boxes.reshape(2, 3, 4), fill),
                F.channel_random_erase(flat, boxes, fill.reshape(6, 3)),
            ),
        ]
        for batched, flattened in pairs:
            assert batched.shape == x.shape
            assert torch.equal(batched.reshape(flattened.shape), flattened)

    def test_parameters_broadcast_over_trailing_batch_dim(self):
        # a (3,) parameter against batch dims (2, 3) varies along the last batch dim
        x = random_images((2, 3, 3, self.h, self.w), torch.float64, seed=9)
        alpha = torch.tensor([0.0, 0.5, 1.0])
        out = F.spectrum_jitter(x, 0, alpha)
        for i in range(2):
            for j in range(3):
                expected = np_spectrum_jitter(_np(x[i, j]), 0, float(alpha[j]))
                assert_matches(out[i, j], expected)
        col = F.spectrum_jitter(x, 0, alpha.view(1, 3).expand(2, 3))
        assert torch.equal(out, col)
        # and a (2, 1) parameter along the first
        out2 = F.channel_exchange(x, torch.tensor([[0], [3]]))
        assert torch.equal(out2[0], F.channel_exchange(x[0], 0))
        assert torch.equal(out2[1], F.channel_exchange(x[1], 3))


# --- dtype, device, no aliasing ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_dtype_shape_device_preserved(name, dtype):
    x = random_images((2, 3, 5, 6), dtype)
    before = x.clone()
    out = CALLS[name](x)
    assert out.dtype == dtype
    assert out.shape == x.shape
    assert out.device == x.device
    assert torch.equal(x, before), "the input must not be modified"
    assert out.data_ptr() != x.data_ptr()
    # unbatched (C, H, W) works too and agrees with the batched result
    assert torch.equal(CALLS[name](x[0]), out[0])


@pytest.mark.parametrize("name", sorted(CALLS))
def test_float16_close_to_float32(name):
    x = random_images((2, 3, 5, 6), torch.float32)
    out16 = CALLS[name](x.half()).float()
    torch.testing.assert_close(out16, CALLS[name](x.half().float()), rtol=5e-3, atol=5e-3)


# --- special values ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_spectrum_jitter_alpha_endpoints(dtype):
    x = random_images((3, 3, 6, 4), dtype, seed=10)
    for c in range(3):
        pure = F.spectrum_jitter(x, c, 0.0)
        assert torch.equal(pure, x[:, c : c + 1].expand_as(x))
        same = F.spectrum_jitter(x, c, 1.0)
        if dtype == torch.uint8:
            assert torch.equal(same, x)
        else:
            # D + 1·(I − D) is I up to one rounding in floating point
            torch.testing.assert_close(same, x)


def test_spectrum_jitter_uint8_extrapolation_clips():
    x = random_images((4, 3, 8, 8), torch.uint8, seed=11)
    out = F.spectrum_jitter(x, torch.tensor([0, 1, 2, 0]), 1.5)
    for i in range(4):
        expected = np_spectrum_jitter(_np(x[i]), int([0, 1, 2, 0][i]), 1.5)
        np.testing.assert_array_equal(_np(out[i]), expected)
    # both ends are reached on random data
    assert (out == 0).any() and (out == 255).any()


def test_channel_cutmix_full_box_is_foreground():
    x = random_images((2, 3, 5, 4), torch.uint8, seed=12)
    out = F.channel_cutmix(x, (0, 0, 5, 4), 0, 2)
    assert torch.equal(out, x[:, 2:3].expand_as(x))


def test_channel_cutmix_check_false_skips_validation_only():
    x = random_images((2, 3, 5, 4), torch.uint8, seed=13)
    box = torch.tensor([[0, 1, 3, 2], [2, 0, 0, 4]])
    assert torch.equal(F.channel_cutmix(x, box, 1, 0, check=False), F.channel_cutmix(x, box, 1, 0))


def test_channel_random_erase_empty_box_is_identity():
    x = random_images((2, 3, 5, 4), torch.float32, seed=14)
    assert torch.equal(F.channel_random_erase(x, (2, 2, 0, 0), 0.0), x)


# --- gradients --------------------------------------------------------------------------------


def _grad_input(shape=(2, 3, 3, 4)) -> torch.Tensor:
    return random_images(shape, torch.float64, seed=15).requires_grad_()


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.weighted_grayscale(x, torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])),
        lambda x: F.spectrum_jitter(x, torch.tensor([0, 2]), torch.tensor([0.3, 1.4])),
        lambda x: F.channel_exchange(x, torch.tensor([1, 3])),
        lambda x: F.channel_select(x, "avg"),
        lambda x: F.channel_select(x, "rb_avg"),
        lambda x: F.channel_cutmix(x, torch.tensor([[0, 1, 2, 2], [1, 0, 2, 4]]), 0, 2),
        lambda x: F.channel_random_erase(x, (1, 1, 1, 2), 0.0),
    ],
    ids=["wg", "sj", "ce", "cs_avg", "cs_rb", "cc", "erase"],
)
def test_gradcheck_wrt_image(fn):
    assert torch.autograd.gradcheck(fn, (_grad_input(),))


def test_gradcheck_spectrum_jitter_wrt_alpha():
    x = random_images((2, 3, 3, 4), torch.float64, seed=16)
    alpha = torch.tensor([0.3, 1.2], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: F.spectrum_jitter(x, 1, a), (alpha,))


def test_gradcheck_weighted_grayscale_wrt_weights_float64():
    x = random_images((2, 3, 3, 4), torch.float64, seed=17)
    w = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: F.weighted_grayscale(x, w), (w,))


def test_weighted_grayscale_float64_full_precision():
    x = random_images((2, 3, 4, 4), torch.float64, seed=18)
    w = (0.1, 0.2, 0.7)
    out = F.weighted_grayscale(x, w)
    for i in range(2):
        np.testing.assert_allclose(_np(out[i]), np_weighted_grayscale(_np(x[i]), w), rtol=1e-13)


def test_channel_random_erase_float64_fill_exact():
    x = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    out = F.channel_random_erase(x, (0, 0, 1, 1), (0.4914, 0.4822, 0.4465))
    assert out[0, :, 0, 0].tolist() == [0.4914, 0.4822, 0.4465]


def test_channel_random_erase_one_fill_value_per_image():
    x = torch.zeros(2, 3, 2, 2)
    out = F.channel_random_erase(x, (0, 0, 1, 1), torch.tensor([[1.0], [2.0]]))
    assert out[:, :, 0, 0].tolist() == [[1.0] * 3, [2.0] * 3]


# --- errors -----------------------------------------------------------------------------------


def _img(channels=3, dtype=torch.float32, shape=(2, 5, 4)):
    n, h, w = shape
    return torch.zeros(n, channels, h, w, dtype=dtype)


@pytest.mark.parametrize("name", sorted(set(CALLS) - {"channel_random_erase"}))
@pytest.mark.parametrize("channels", [1, 2, 4])
def test_wrong_channel_count(name, channels):
    with pytest.raises(ValueError, match="channels"):
        CALLS[name](_img(channels))


def test_erase_channel_counts():
    F.channel_random_erase(_img(1), (0, 0, 1, 1), 0.5)  # accepted
    with pytest.raises(ValueError, match="channels"):
        F.channel_random_erase(_img(2), (0, 0, 1, 1), 0.5)


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool, torch.int8])
def test_bad_dtype(name, dtype):
    with pytest.raises(TypeError, match="dtype"):
        CALLS[name](_img(dtype=dtype))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_not_a_tensor_or_too_few_dims(name):
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        CALLS[name](np.zeros((3, 5, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        CALLS[name](torch.zeros(3, 5))


@pytest.mark.parametrize(
    "box",
    [
        (-1, 0, 2, 2),  # above the image
        (0, -1, 2, 2),  # left of it
        (4, 0, 2, 2),  # bottom edge past H = 5
        (0, 3, 2, 2),  # right edge past W = 4
        (0, 0, 6, 1),  # taller than the image
        (0, 0, -1, 2),  # negative size
        torch.tensor([[0, 0, 2, 2], [0, 0, 2, 5]]),  # only the second image's box is bad
    ],
)
@pytest.mark.parametrize("op", ["cutmix", "erase"])
def test_box_outside_image(box, op):
    with pytest.raises(ValueError, match="inside"):
        if op == "cutmix":
            F.channel_cutmix(_img(), box, 0, 1)
        else:
            F.channel_random_erase(_img(), box, 0.0)


@pytest.mark.parametrize("box", [(0, 0, 1), torch.tensor([0, 0, 1]), torch.zeros(2, 5)])
def test_box_wrong_length(box):
    with pytest.raises(ValueError, match="box"):
        F.channel_cutmix(_img(), box, 0, 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: F.channel_cutmix(x, (0, 0, 1, 1), 3, 0),
        lambda x: F.channel_cutmix(x, (0, 0, 1, 1), 0, -1),
        lambda x: F.channel_cutmix(x, (0, 0, 1, 1), torch.tensor([0, 5]), 1),
        lambda x: F.spectrum_jitter(x, 3, 0.5),
        lambda x: F.spectrum_jitter(x, torch.tensor([0, -1]), 0.5),
        lambda x: F.channel_exchange(x, 4),
        lambda x: F.channel_exchange(x, -1),
    ],
)
def test_channel_out_of_range(call):
    with pytest.raises(ValueError, match=r"in 0\.\.[23]"):
        call(_img())


@pytest.mark.parametrize("mode", ["rand", "R", "", "rgb_avg", "none"])
def test_bad_mode(mode):
    with pytest.raises(ValueError, match="mode"):
        F.channel_select(_img(), mode)


@pytest.mark.parametrize(
    "weights", [(0.5, 0.5), (0.2, 0.3, 0.4, 0.1), 1.0, torch.rand(3, 3), torch.rand(2, 3, 3)]
)
def test_weights_wrong_shape(weights):
    # last dim not 3, a scalar, or leading dims that do not match the batch of 2
    with pytest.raises(ValueError, match="weights"):
        F.weighted_grayscale(_img(), weights)


def test_parameter_does_not_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        F.spectrum_jitter(_img(), 0, torch.rand(3))
    with pytest.raises(ValueError, match="more dimensions"):
        F.spectrum_jitter(_img(), 0, torch.rand(2, 1))
    with pytest.raises(ValueError, match="fill"):
        F.channel_random_erase(_img(), (0, 0, 1, 1), (0.1, 0.2))


# --- properties -------------------------------------------------------------------------------


@st.composite
def uint8_images(draw, max_side=6):
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).integers(0, 256, (3, h, w), dtype=np.uint8)


unit = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(uint8_images(), unit, unit, unit)
def test_weighted_grayscale_convex_stays_between_channels(img, u0, u1, u2):
    """Weights summing to 1: min channel − 1 ≤ Y ≤ max channel (−1: float32 truncation)."""
    total = u0 + u1 + u2
    weights = (1 / 3,) * 3 if total == 0 else (u0 / total, u1 / total, u2 / total)
    out = _np(F.weighted_grayscale(torch.from_numpy(img), weights)).astype(int)
    np.testing.assert_array_equal(out, np_weighted_grayscale(img, weights))
    low, high = img.min(0).astype(int), img.max(0).astype(int)
    assert (out[0] >= low - 1).all() and (out[0] <= high).all()
    assert (out == out[:1]).all()


@settings(max_examples=100, deadline=None)
@given(uint8_images(), st.integers(0, 2), unit)
def test_spectrum_jitter_interpolation_stays_between(img, c, alpha):
    """α ∈ [0, 1]: each output lies between D and I exactly (both are integers)."""
    out = _np(F.spectrum_jitter(torch.from_numpy(img), c, alpha)).astype(int)
    np.testing.assert_array_equal(out, np_spectrum_jitter(img, c, alpha))
    d = img[c][None].astype(int)
    i = img.astype(int)
    assert (out >= np.minimum(d, i)).all() and (out <= np.maximum(d, i)).all()


@settings(max_examples=100, deadline=None)
@given(uint8_images(), st.sampled_from(MODES))
def test_channel_select_average_stays_between(img, mode):
    out = _np(F.channel_select(torch.from_numpy(img), mode)).astype(int)
    np.testing.assert_array_equal(out, np_channel_select(img, mode))
    assert (out >= img.min(0)).all() and (out <= img.max(0)).all()


# --- CUDA vs CPU ------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_cuda_matches_cpu(dtype):
    n, h, w = 5, 9, 7
    x = random_images((n, 3, h, w), dtype, seed=19)
    gen = torch.Generator().manual_seed(20)
    weights = torch.rand(n, 3, generator=gen)
    weights = weights / weights.sum(1, keepdim=True)
    channel = torch.randint(0, 3, (n,), generator=gen)
    alpha = torch.rand(n, generator=gen) * 1.5
    boxes = random_boxes(n, h, w, seed=21)
    fill = torch.rand(n, 3, generator=gen) * 255

    def run(dev: str) -> list[torch.Tensor]:
        xd = x.to(dev)

        def on(t):
            return t.to(dev)

        outs = [
            F.weighted_grayscale(xd, on(weights)),
            F.channel_cutmix(xd, on(boxes), on(channel), on((channel + 1) % 3)),
            F.spectrum_jitter(xd, on(channel), on(alpha)),
            F.channel_exchange(xd, on(channel + 1)),
            F.channel_random_erase(xd, on(boxes), on(fill)),
            *(F.channel_select(xd, m) for m in MODES),
        ]
        assert all(o.device.type == torch.device(dev).type for o in outs)
        return [o.cpu() for o in outs]

    for cpu, gpu in zip(run("cpu"), run("cuda"), strict=True):
        if dtype == torch.uint8:
            # separate elementwise kernels, float32 on both: bit-identical expected; allow one
            # grey level in case a backend fuses multiply-add
            assert (cpu.int() - gpu.int()).abs().max() <= 1
        else:
            torch.testing.assert_close(gpu, cpu)
