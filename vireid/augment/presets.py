"""Training and test pipelines of the reference methods, per image and batched on the device.

Per-image presets take a PIL RGB image (already decoded) and return a normalised float tensor
``(3, H, W)``; they are `torchvision.transforms.v2.Compose` pipelines that include the resize.

`BatchAugment` runs the same recipes on a uint8 batch that is already on the device (the
DataLoader only decodes and resizes), with every random parameter drawn per sample:

| recipe | visible images | infrared images |
|---|---|---|
| ``"mcja"`` (MCJA, Liang et al., TCSVT 2024) | VIMC slot, flip, pad 10 (fill 127) + crop, normalise, random erasing (p 0.5, value 0) | the same without VIMC |
| ``"caj"`` (CAJ, Ye et al., ICCV 2021) | pad 10 (fill 0) + crop, flip, normalise, channel random erasing, then channel exchange for ``view="strong"`` | the same, then adaptive gray |
| ``"agw"`` (AGW, Ye et al., TPAMI 2021) | pad 10 (fill 0) + crop, flip, normalise | the same |
"""  # noqa: E501

from __future__ import annotations

import ctypes
import mmap
import sys
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torchvision.transforms import v2

from vireid._modality import check_modality_values
from vireid.augment.functional import _box_masks, channel_exchange
from vireid.augment.geometry import IMAGENET_MEAN, IMAGENET_STD
from vireid.augment.transforms import (
    VIMC,
    ChannelAdaptiveGray,
    ChannelCutMix,
    ChannelExchange,
    ChannelRandomErasing,
    ChannelSelect,
    HueJitter,
    RandomErasing,
    SpectrumJitter,
    WeightedGrayscale,
    _probability,
)

__all__ = ["BatchAugment", "agw_train", "caj_train", "mcja_test", "mcja_train", "test"]

Size = tuple[int, int]
Transform = Callable[..., torch.Tensor]


def _check_size(size: Size) -> Size:
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(v, int) and v > 0 for v in size)
    ):
        raise ValueError(f"size must be (height, width) with positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _to_normalised() -> list[v2.Transform]:
    return [
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ]


def test(size: Size = (288, 144)) -> v2.Compose:
    """Test transform of every reference: resize, to tensor, normalise (both modalities)."""
    return v2.Compose([v2.Resize(_check_size(size), antialias=True), *_to_normalised()])


def agw_train(size: Size = (288, 144)) -> v2.Compose:
    """AGW training transform: resize, pad 10 (fill 0), random crop, flip, normalise."""
    size = _check_size(size)
    return v2.Compose([
        v2.Resize(size, antialias=True),
        v2.Pad(10, fill=0),
        v2.RandomCrop(size),
        v2.RandomHorizontalFlip(0.5),
        *_to_normalised(),
    ])  # fmt: skip


def mcja_train(
    size: Size = (384, 192), modality: Literal["visible", "infrared"] = "visible"
) -> v2.Compose:
    """MCJA training transform (Liang et al., TCSVT 2024, as in the released code).

    Visible: resize, one VIMC slot (hue jitter / weighted grayscale / cross-channel cutmix /
    spectrum jitter, each at p 0.5), flip, pad 10 with 127 and random crop, normalise, random
    erasing (p 0.5, area (0.02, 0.3), aspect (0.3, 3.3), value 0 in normalised space).
    Infrared: the same without the VIMC slot.
    """
    size = _check_size(size)
    if modality not in ("visible", "infrared"):
        raise ValueError(f"modality must be 'visible' or 'infrared', got {modality!r}")
    steps: list[Transform] = [v2.Resize(size, antialias=True)]
    if modality == "visible":
        steps.append(VIMC())
    steps += [
        v2.RandomHorizontalFlip(0.5),
        v2.Pad(10, fill=127),
        v2.RandomCrop(size),
        *_to_normalised(),
        RandomErasing(p=0.5),
    ]
    return v2.Compose(steps)


def mcja_test(size: Size = (384, 192), view: Literal["none", "r", "g", "b"] = "none") -> v2.Compose:
    """MCJA test transform of visible images; ``view`` ``r``/``g``/``b`` gives the MSER views."""
    size = _check_size(size)
    if view not in ("none", "r", "g", "b"):
        raise ValueError(f"view must be 'none', 'r', 'g' or 'b', got {view!r}")
    steps: list[Transform] = [v2.Resize(size, antialias=True)]
    if view != "none":
        steps.append(ChannelSelect(mode=view, p=1.0))
    return v2.Compose([*steps, *_to_normalised()])


def caj_train(
    size: Size = (288, 144), variant: Literal["iccv21", "pami23"] = "iccv21"
) -> tuple[v2.Compose, v2.Compose, v2.Compose]:
    """CAJ's three training streams (Ye et al., ICCV 2021): visible weak, visible strong, IR.

    All: resize, pad 10 (fill 0), random crop, flip, normalise, channel random erasing. The
    strong visible stream then exchanges channels; the infrared stream applies adaptive gray.
    ``"pami23"`` (CAJ+): erasing p 0.6 on the visible streams, adaptive gray p 0.6, and
    ``RandomGrayscale(0.1)`` on the weak stream before normalising.

    Returns:
        ``(visible_weak, visible_strong, infrared)`` transforms; apply the two visible ones to
        the same image with independent draws.
    """
    size = _check_size(size)
    if variant not in ("iccv21", "pami23"):
        raise ValueError(f"variant must be 'iccv21' or 'pami23', got {variant!r}")
    plus = variant == "pami23"
    p_vis = 0.6 if plus else 0.5

    def geometry(extra: list[Transform]) -> list[Transform]:
        return [
            v2.Resize(size, antialias=True),
            v2.Pad(10, fill=0),
            v2.RandomCrop(size),
            v2.RandomHorizontalFlip(0.5),
            *extra,
            *_to_normalised(),
        ]

    weak = v2.Compose([
        *geometry([v2.RandomGrayscale(0.1)] if plus else []),
        ChannelRandomErasing(p=p_vis),
    ])  # fmt: skip
    strong = v2.Compose([*geometry([]), ChannelRandomErasing(p=p_vis), ChannelExchange()])
    infrared = v2.Compose([
        *geometry([]),
        ChannelRandomErasing(p=0.5),
        ChannelAdaptiveGray(p=0.6 if plus else 0.5),
    ])  # fmt: skip
    return weak, strong, infrared


class BatchAugment(torch.nn.Module):
    """A training recipe on a uint8 batch already on the device, parameters drawn per sample.

    Args:
        recipe: ``"mcja"``, ``"caj"`` or ``"agw"`` (see the module docstring).
        size: ``(height, width)`` of the batch (the DataLoader resizes); checked on input.
        view: For ``"caj"``: the visible stream, ``"weak"`` or ``"strong"``. Run two
            instances on the same batch for CAJ's two visible views.
        variant: For ``"caj"``: ``"iccv21"`` or ``"pami23"``.
        vimc_p: For ``"mcja"``: the probability that the operation of the VIMC slot a visible
            image draws is applied (``VIMC``'s ``hue_p``, ``wg_p``, ``cc_p`` and ``sj_p``).
            MCJA's pipeline uses 0.5, so each of the four operations reaches 1/8 of the
            visible images and half of them pass unchanged; 1.0 sends every visible image
            through one of the four. The number of random draws does not depend on it.
        generator: Optional `torch.Generator` (on the batch's device) for every draw.

    Call with ``(batch, modality)``: ``batch`` uint8 ``(B, 3, H, W)``, ``modality`` ``(B,)``
    (0 visible, 1 infrared). Returns the normalised float32 batch.

    On CUDA every step is a whole-batch tensor op. On a CPU the parameters are drawn for the
    whole batch in the same order, then each image runs through all its steps while it is in
    cache, as single-threaded NumPy ops (see `_forward_cpu`); the results are bit-identical.
    A custom ``vimc`` module (not a `VIMC`) is run on the visible sub-batch, vectorised.
    """

    def __init__(
        self,
        recipe: Literal["mcja", "caj", "agw"],
        size: Size = (288, 144),
        *,
        view: Literal["weak", "strong"] = "weak",
        variant: Literal["iccv21", "pami23"] = "iccv21",
        vimc_p: float = 0.5,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if recipe not in ("mcja", "caj", "agw"):
            raise ValueError(f"recipe must be 'mcja', 'caj' or 'agw', got {recipe!r}")
        if view not in ("weak", "strong"):
            raise ValueError(f"view must be 'weak' or 'strong', got {view!r}")
        if variant not in ("iccv21", "pami23"):
            raise ValueError(f"variant must be 'iccv21' or 'pami23', got {variant!r}")
        if recipe != "caj" and (view, variant) != ("weak", "iccv21"):
            # Silently ignoring them would let a run believe it used CAJ's strong view.
            raise ValueError(
                f"view and variant only apply to recipe='caj'; recipe={recipe!r} got "
                f"view={view!r}, variant={variant!r}. Leave them at their defaults."
            )
        vimc_p = _probability(vimc_p, "vimc_p")
        if recipe != "mcja" and vimc_p != 0.5:
            raise ValueError(
                f"vimc_p only applies to recipe='mcja' (the only one with a VIMC slot); "
                f"recipe={recipe!r} got vimc_p={vimc_p!r}. Leave it at its default."
            )
        self.recipe, self.size, self.view, self.variant = recipe, _check_size(size), view, variant
        self.vimc_p = vimc_p
        self.generator = generator
        plus = variant == "pami23"
        self.vimc = VIMC(hue_p=vimc_p, wg_p=vimc_p, cc_p=vimc_p, sj_p=vimc_p, generator=generator)
        self.erase = RandomErasing(p=0.5, generator=generator)
        self.channel_erase = ChannelRandomErasing(p=0.6 if plus else 0.5, generator=generator)
        self.ir_erase = ChannelRandomErasing(p=0.5, generator=generator)
        self.exchange = ChannelExchange(generator=generator)
        self.adaptive_gray = ChannelAdaptiveGray(p=0.6 if plus else 0.5, generator=generator)

    def _rand(self, n: int, device: torch.device) -> torch.Tensor:
        # Draw where the generator lives (a CPU generator also serves CUDA batches), then move.
        where = self.generator.device if self.generator is not None else device
        return torch.rand(n, device=where, generator=self.generator).to(device)

    def _randint(self, high: int, n: int, device: torch.device) -> torch.Tensor:
        where = self.generator.device if self.generator is not None else device
        return torch.randint(0, high, (n,), device=where, generator=self.generator).to(device)

    def forward(
        self,
        batch: torch.Tensor,
        modality: torch.Tensor,
        *,
        out: torch.Tensor | None = None,
        check: bool | None = None,
    ) -> torch.Tensor:
        """Augment ``batch`` (uint8 ``(B, 3, H, W)``) according to ``modality`` ``(B,)``.

        Args:
            batch: uint8 images on any device.
            modality: ``(B,)`` labels, 0 visible and 1 infrared. Any other value (1-based
                labels ``{1, 2}``, say) is an error, since it would silently switch the
                visible-only ops off or on for the wrong images.
            out: Optional float32 tensor of the batch's shape and device to write the
                result into. Reusing one buffer across steps saves the page faults of a fresh
                allocation on a CPU.
            check: Check that ``modality`` holds only 0 and 1. Default ``None``: on CPU
                tensors (free), not on an accelerator, where it would add a host sync per
                batch; the training engine checks the labels on the host before the copy.

        Returns:
            The normalised float32 batch (``out`` itself when given).
        """
        if not isinstance(batch, torch.Tensor) or batch.dtype != torch.uint8 or batch.dim() != 4:
            raise TypeError(
                "batch must be a uint8 tensor (B, 3, H, W) — decode and resize in the "
                f"DataLoader, augment here; got {getattr(batch, 'dtype', type(batch).__name__)} "
                f"of shape {tuple(getattr(batch, 'shape', ()))}"
            )
        if tuple(batch.shape[-2:]) != self.size or batch.shape[1] != 3:
            raise ValueError(f"batch must be (B, 3, {self.size[0]}, {self.size[1]}), got "
                             f"{tuple(batch.shape)}")  # fmt: skip
        modality = torch.as_tensor(modality, device=batch.device)
        if modality.shape != (batch.shape[0],):
            raise ValueError(f"modality must have shape ({batch.shape[0]},), got "
                             f"{tuple(modality.shape)}")  # fmt: skip
        if modality.dtype == torch.bool or modality.is_floating_point() or modality.is_complex():
            raise TypeError(f"modality must hold integers 0/1, got dtype {modality.dtype}")
        if check or (check is None and modality.device.type == "cpu"):
            check_modality_values(modality)
        device = batch.device
        if out is None:
            out = _empty_float(batch.shape, device)
        elif out.shape != batch.shape or out.dtype != torch.float32 or out.device != device:
            raise ValueError(
                f"out must be a float32 tensor of shape {tuple(batch.shape)} on {device}, got "
                f"{out.dtype} {tuple(out.shape)} on {out.device}"
            )
        visible = modality == 0
        if device.type == "cpu" and (self.recipe != "mcja" or type(self.vimc) is VIMC):
            return self._forward_cpu(batch, visible, out)
        return self._forward_batched(batch, visible, out)

    def _forward_batched(
        self, batch: torch.Tensor, visible: torch.Tensor, out: torch.Tensor
    ) -> torch.Tensor:
        """Whole-batch tensor ops (the CUDA path): no Python loop over images."""
        n, device = batch.shape[0], batch.device
        x = batch
        if self.recipe == "mcja":
            # VIMC on the visible images only (computed on that sub-batch).
            rows = visible.nonzero().squeeze(1)
            if rows.numel() == n:
                x = self.vimc(x)
            elif rows.numel():
                x = x.index_copy(0, rows, self.vimc(x.index_select(0, rows)))
        # Every draw for the whole batch up front, so the chunking below changes nothing.
        top = self._randint(21, n, device)
        left = self._randint(21, n, device)
        flip = self._rand(n, device) < 0.5
        gray = self._rand(n, device) < 0.1  # CAJ+ weak view only
        erase = None
        if self.recipe == "mcja":
            erase = self.erase.sample_params(batch.shape, device=device)
            erase_box = erase.box * erase.apply[:, None].to(erase.box.dtype)  # not applied: empty
        # On a CPU, blocks of a few images keep the temporaries in cache.
        step = n if device.type == "cuda" else _CPU_CHUNK
        fill = 127 if self.recipe == "mcja" else 0
        for s in range(0, n, step):
            e = min(n, s + step)
            crop = _flip_pad_crop(x[s:e], fill, top[s:e], left[s:e], flip[s:e])
            if self.recipe == "caj" and self.view == "weak" and self.variant == "pami23":
                pick = (gray[s:e] & visible[s:e]).view(-1, 1, 1, 1)
                crop = torch.where(pick, v2.functional.rgb_to_grayscale(crop, 3), crop)
            _normalize_into(crop, out[s:e])
            if erase is not None:
                # Erasing in normalised space with value 0 (the ImageNet mean colour).
                out[s:e].masked_fill_(_box_masks(crop, erase_box[s:e], False), 0.0)
        if self.recipe in ("mcja", "agw"):
            return out
        vis = self.channel_erase(out)
        if self.view == "strong":
            vis = self.exchange(vis)
        ir = self.adaptive_gray(self.ir_erase(out))
        return out.copy_(torch.where(visible.view(-1, 1, 1, 1), vis, ir))

    def _forward_cpu(
        self, batch: torch.Tensor, visible: torch.Tensor, out: torch.Tensor
    ) -> torch.Tensor:
        """The same draws and results as `_forward_batched`, computed image by image.

        On a CPU, whole-batch passes stream every temporary through memory (a 128-image float
        batch is far larger than the caches) and the VIMC sub-batches cost gathers and
        scatters. Here each image goes through all its steps while it is in cache: its VIMC
        slot op, then the crop (a strided view of the source, mirrored by a negative stride)
        normalised straight into its slot of ``out``, the padding border filled with the
        normalised fill, then erasing in place. The steps are NumPy ufuncs on views of the
        tensors' memory: single-threaded, so no per-operation thread synchronisation (which,
        for operations this small, costs more than the work, and far more when other
        processes compete for the cores), at about a microsecond of overhead per call. Every
        step repeats the torch ops' float arithmetic operation by operation, so the results
        are bit-identical (tests compare both paths). The parameters are drawn for the whole
        batch first, in the order of `_forward_batched`.
        """
        n, device = batch.shape[0], batch.device
        h, w = self.size
        vis = visible.tolist()
        slot_of: dict[int, tuple[Any, Any, int]] = {}  # image -> (slot transform, params, row)
        if self.recipe == "mcja":
            count = sum(vis)
            if count:
                params = self.vimc.sample_params((count, 3, h, w), device=device)
                slots = self.vimc._candidates()
                # One record per slot, of the slot's own type; every one has its `apply` coins.
                slot_params: tuple[Any, ...] = params.params
                applied = [p.apply.tolist() for p in slot_params]
                rows = [i for i in range(n) if vis[i]]
                for j, k in enumerate(params.choice.tolist()):
                    if applied[k][j]:
                        slot_of[rows[j]] = (slots[k], slot_params[k], j)
        top = self._randint(21, n, device).tolist()
        left = self._randint(21, n, device).tolist()
        flip = (self._rand(n, device) < 0.5).tolist()
        gray = (self._rand(n, device) < 0.1).tolist()  # CAJ+ weak view only
        gray_weak = self.recipe == "caj" and self.view == "weak" and self.variant == "pami23"
        boxes: list[list[int]] | None = None
        if self.recipe == "mcja":
            erase = self.erase.sample_params(batch.shape, device=device)
            boxes = (erase.box * erase.apply[:, None].to(erase.box.dtype)).tolist()
        steps: list[tuple[Any, ...]] = []
        if self.recipe == "caj":
            shape = tuple(batch.shape)
            steps.append(("erase", self.channel_erase, True, False))
            if self.view == "strong":
                steps.append(("exchange", self.exchange, True, False))
            steps.append(("erase", self.ir_erase, False, True))
            steps.append(("exchange", self.adaptive_gray, False, True))
            steps = [(kind, t, on_vis, on_ir, *_per_image(t.sample_params(shape, device=device)))
                     for kind, t, on_vis, on_ir in steps]  # fmt: skip
        fill = 127 if self.recipe == "mcja" else 0
        src_all, dst_all = batch.detach().numpy(), out.detach().numpy()
        crop = np.empty((3, h, w), dtype=np.uint8)
        for i in range(n):
            src = src_all[i]
            if i in slot_of:
                t, p, j = slot_of[i]
                src = _slot_op(t, p, j, batch[i])
            _crop(crop, src, top[i] - _PAD, left[i] - _PAD, flip[i], fill)
            if gray_weak and gray[i] and vis[i]:
                crop[...] = v2.functional.rgb_to_grayscale(torch.from_numpy(crop), 3).numpy()
            dst = dst_all[i]
            _normalize_np(dst, crop)
            if boxes is not None:
                # Erasing in normalised space with value 0 (the ImageNet mean colour).
                bt, bl, bh, bw = boxes[i]
                if bh and bw:
                    dst[:, bt : bt + bh, bl : bl + bw] = 0.0
            for kind, t, on_vis, on_ir, apply, values in steps:
                if not apply[i] or not (on_vis if vis[i] else on_ir):
                    continue
                if kind == "erase":
                    _channel_erase_(dst, values[i], t.fill)
                else:
                    _channel_exchange_(dst, values[i])
        return out


def _per_image(params: Any) -> tuple[list[bool], list[Any]]:
    """``(apply, box or channel)`` of a CAJ step's parameters as per-image Python lists."""
    values = params.box if hasattr(params, "box") else params.channel
    return params.apply.tolist(), values.tolist()


def _crop(dst: np.ndarray, src: np.ndarray, dy: int, dx: int, flip: bool, fill: int) -> None:
    """uint8 ``dst`` = ``src`` padded with ``fill``, cropped at ``(dy, dx)``, mirrored if ``flip``.

    ``(dy, dx)`` is the crop's offset relative to ``src`` (the padded image's ``(top, left)``
    minus the padding); ``src`` may have one channel (a grey image), broadcast to three.
    """
    h, w = dst.shape[-2:]
    r0, c0 = max(0, -dy), max(0, -dx)
    r1, c1 = max(r0, min(h, h - dy)), max(c0, min(w, w - dx))
    part = src[:, r0 + dy : r1 + dy, c0 + dx : c1 + dx]
    if flip:
        part, c0, c1 = part[:, :, ::-1], w - c1, w - c0
    dst[:, r0:r1, c0:c1] = part
    if r0:
        dst[:, :r0] = fill
    if r1 < h:
        dst[:, r1:] = fill
    if c0:
        dst[:, r0:r1, :c0] = fill
    if c1 < w:
        dst[:, r0:r1, c1:] = fill


def _normalize_np(dst: np.ndarray, src: np.ndarray) -> None:
    """`_normalize_into` of one image: ``float32(x) · scale``, then ``+ shift`` (two roundings)."""
    dst[...] = src
    dst *= _SCALE_NP
    dst += _SHIFT_NP


def _channel_erase_(img: np.ndarray, box: list[int], fill: tuple[float, ...]) -> None:
    """`functional.channel_random_erase` of one float image, in place."""
    top, left, height, width = box
    if height and width:
        region = img[:, top : top + height, left : left + width]
        if len(fill) == 1:
            region[...] = fill[0]
        else:
            for c in range(img.shape[0]):
                region[c] = fill[c]


def _channel_exchange_(img: np.ndarray, channel: int) -> None:
    """`functional.channel_exchange` of one float image, in place (channel 3: grey)."""
    if channel < 3:
        for c in range(3):
            if c != channel:
                img[c] = img[channel]
    else:
        x = torch.from_numpy(img).unsqueeze(0)
        img[...] = channel_exchange(x, channel, check=False)[0].numpy()


def _slot_op(t: Any, params: Any, j: int, img: torch.Tensor) -> np.ndarray:
    """VIMC slot ``t`` with row ``j`` of ``params`` on one uint8 image: ``(1 or 3, H, W)``."""
    src = img.detach().numpy()
    if type(t) is HueJitter:  # a subclass may override _op: use its own code
        return _hue_np(src, float(params.factor[j]))
    if type(t) is WeightedGrayscale:  # a subclass may override _op: use its own code
        w = params.weights[j].tolist()
        y = np.multiply(src[0], w[0], dtype=np.float64)
        y += np.multiply(src[1], w[1], dtype=np.float64)
        y += np.multiply(src[2], w[2], dtype=np.float64)
        return np.clip(y, 0, 255, out=y).astype(np.uint8)[None]
    if type(t) is ChannelCutMix:  # a subclass may override _op: use its own code
        top, left, height, width = params.box[j].tolist()
        plane = src[int(params.background[j])].copy()
        fg = int(params.foreground[j])
        plane[top : top + height, left : left + width] = src[
            fg, top : top + height, left : left + width
        ]
        return plane[None]
    if type(t) is SpectrumJitter:  # a subclass may override _op: use its own code
        x = src.astype(np.float32)
        d = x[int(params.channel[j])].copy()
        alpha = np.float32(float(params.alpha[j]))
        np.subtract(x, d, out=x)
        np.multiply(x, alpha, out=x)
        np.add(x, d, out=x)
        return np.clip(x, 0, 255, out=x).astype(np.uint8)
    return t._op(img.unsqueeze(0), params[j : j + 1], False)[0].numpy()


def _hue_np(src: np.ndarray, factor: float) -> np.ndarray:
    """`transforms.adjust_hue` of one uint8 image, operation for operation in float32.

    Two rewrites that give the same floats on uint8 input: ``where(chroma == 0, 1, chroma)``
    is ``max(chroma, 1)`` (chroma holds integers), and ``k mod 6`` for ``k`` in
    ``[-3, 13]`` (hue in sextants ``[-1, 5]`` plus ``n + 6·shift``, ``|shift| <= 0.5``) is
    exact subtractions of 6 (Sterbenz) down to ``[0, 6)``, then ``k + 6`` (one rounding) for
    negative ``k``, as the ``fmod`` of torch's ``remainder`` — several times faster than
    NumPy's scalar ``fmod`` loop.
    """
    f32 = np.float32
    x = src.astype(f32)
    r, g, b = x[0], x[1], x[2]
    maxc = np.maximum(np.maximum(r, g), b)
    chroma = maxc - np.minimum(np.minimum(r, g), b)
    safe = np.maximum(chroma, f32(1.0))
    # where(maxc == r, (g − b)/c, where(maxc == g, (b − r)/c + 2, (r − g)/c + 4))
    h6 = np.subtract(r, g)
    h6 /= safe
    h6 += f32(4.0)
    part = np.subtract(b, r)
    part /= safe
    part += f32(2.0)
    np.copyto(h6, part, where=maxc == g)
    np.subtract(g, b, out=part)
    part /= safe
    np.copyto(h6, part, where=maxc == r)
    k = np.add(h6, _HUE_OFFSET + f32(6.0) * f32(factor), dtype=f32)
    for _ in range(2):
        np.subtract(k, f32(6.0), out=k, where=k >= f32(6.0))
    np.add(k, f32(6.0), out=k, where=k < f32(0.0))
    ramp = np.minimum(k, f32(4.0) - k)
    np.clip(ramp, f32(0.0), f32(1.0), out=ramp)
    scale = (256.0 - 1e-3) / 255.0
    ramp *= chroma * f32(-scale)
    ramp += maxc * f32(scale)
    return np.clip(ramp, f32(0.0), f32(255.0), out=ramp).astype(np.uint8)


_HUE_OFFSET = np.array((5.0, 3.0, 1.0), dtype=np.float32).reshape(3, 1, 1)
_PAD = 10
_CPU_CHUNK = 16
_SCALE = torch.tensor([1.0 / (255.0 * s) for s in IMAGENET_STD]).view(3, 1, 1)
_SHIFT = torch.tensor([-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]).view(
    3, 1, 1
)
_SCALE_NP, _SHIFT_NP = _SCALE.numpy(), _SHIFT.numpy()


def _flip_pad_crop(
    x: torch.Tensor, fill: int, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor
) -> torch.Tensor:
    """Pad by 10, crop per sample at (top, left), mirror where ``flip``: one uint8 copy."""
    h, w = x.shape[-2:]
    padded = torch.nn.functional.pad(x, (_PAD,) * 4, value=fill)
    windows = padded.unfold(2, h, 1).unfold(3, w, 1)  # (B, C, 2·pad+1, 2·pad+1, H, W), a view
    crop = windows[torch.arange(x.shape[0], device=x.device), :, top, left]
    rows = flip.nonzero().squeeze(1)
    if rows.numel():
        crop[rows] = crop[rows].flip(-1)
    return crop


def _normalize_into(crop: torch.Tensor, out: torch.Tensor) -> None:
    """uint8 -> ImageNet-normalised float32 ``x / (255 σ) − μ / σ``, written into ``out``.

    Equal to ``Normalize(ToDtype(x, scale=True))`` up to float rounding; in-place passes on
    ``out`` are several times faster than one broadcasting ``addcmul`` from uint8.
    """
    out.copy_(crop)
    out.mul_(_SCALE.to(out.device)).add_(_SHIFT.to(out.device))


def _empty_float(shape: torch.Size, device: torch.device) -> torch.Tensor:
    """A new float32 tensor; on a Linux CPU, backed by transparent huge pages where possible.

    A large fresh CPU tensor is a new memory mapping: every 4 KiB page faults on first write,
    which costs about as much as the augmentation itself (about 20 ms for a 128×3×288×144
    batch). Advising huge pages on it before it is touched (PyTorch's own
    ``THP_MEM_ALLOC_ENABLE`` does the same for every allocation) leaves one fault per 2 MiB.
    """
    out = torch.empty(shape, dtype=torch.float32, device=device)
    if device.type == "cpu" and out.nbytes >= 4 * _HUGE_PAGE:
        madvise = _madvise()
        start = -(-out.data_ptr() // _HUGE_PAGE) * _HUGE_PAGE
        end = (out.data_ptr() + out.nbytes) // _HUGE_PAGE * _HUGE_PAGE
        if madvise is not None and end > start:
            madvise(start, end - start, mmap.MADV_HUGEPAGE)  # only a hint: errors are ignored
    return out


_HUGE_PAGE = 1 << 21
_MADVISE: list[Callable[[int, int, int], int] | None] = []


def _madvise() -> Callable[[int, int, int], int] | None:
    """The C library's ``madvise`` on Linux (looked up once), else ``None``."""
    if not _MADVISE:
        fn = None
        if sys.platform.startswith("linux") and hasattr(mmap, "MADV_HUGEPAGE"):
            try:
                fn = ctypes.CDLL(None, use_errno=True).madvise
                fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
                fn.restype = ctypes.c_int
            except (OSError, AttributeError):
                fn = None
        _MADVISE.append(fn)
    return _MADVISE[0]
