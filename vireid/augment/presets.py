"""Training and test pipelines of the reference methods, per image and batched on the device.

Per-image presets take a PIL RGB image (already decoded) and return a normalised float tensor
``(3, H, W)``; they are `torchvision.transforms.v2.Compose` pipelines that include the resize.

`BatchAugment` runs the same recipes on a uint8 batch that is already on the device (the
DataLoader only decodes and resizes), with every random parameter drawn per sample:

| recipe | visible images | infrared images |
|---|---|---|
| ``"mcja"`` (MCJA, spec mcja.md §1.5) | VIMC slot, flip, pad 10 (fill 127) + crop, normalise, random erasing (p 0.5, value 0) | the same without VIMC |
| ``"caj"`` (CAJ, spec channel_aug §A.2.5, §A.3) | pad 10 (fill 0) + crop, flip, normalise, channel random erasing, then channel exchange for ``view="strong"`` | the same, then adaptive gray |
| ``"agw"`` (AGW, spec protocols §5.2) | pad 10 (fill 0) + crop, flip, normalise | the same |
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torchvision.transforms import v2

from vireid.augment.functional import _box_masks, channel_exchange
from vireid.augment.geometry import IMAGENET_MEAN, IMAGENET_STD
from vireid.augment.transforms import (
    VIMC,
    ChannelAdaptiveGray,
    ChannelExchange,
    ChannelRandomErasing,
    ChannelSelect,
    RandomErasing,
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
    """MCJA training transform (spec mcja.md §1.5).

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
    """CAJ's three training streams (spec channel_aug §A.3): visible weak, visible strong, IR.

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
        generator: Optional `torch.Generator` (on the batch's device) for every draw.

    Call with ``(batch, modality)``: ``batch`` uint8 ``(B, 3, H, W)``, ``modality`` ``(B,)``
    (0 visible, 1 infrared). Returns the normalised float32 batch.
    """

    def __init__(
        self,
        recipe: Literal["mcja", "caj", "agw"],
        size: Size = (288, 144),
        *,
        view: Literal["weak", "strong"] = "weak",
        variant: Literal["iccv21", "pami23"] = "iccv21",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if recipe not in ("mcja", "caj", "agw"):
            raise ValueError(f"recipe must be 'mcja', 'caj' or 'agw', got {recipe!r}")
        if view not in ("weak", "strong"):
            raise ValueError(f"view must be 'weak' or 'strong', got {view!r}")
        if variant not in ("iccv21", "pami23"):
            raise ValueError(f"variant must be 'iccv21' or 'pami23', got {variant!r}")
        self.recipe, self.size, self.view, self.variant = recipe, _check_size(size), view, variant
        self.generator = generator
        plus = variant == "pami23"
        self.vimc = VIMC(generator=generator)
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
        self, batch: torch.Tensor, modality: torch.Tensor, *, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Augment ``batch`` (uint8 ``(B, 3, H, W)``) according to ``modality`` ``(B,)``.

        Args:
            batch: uint8 images on any device.
            modality: ``(B,)`` labels, 0 visible and 1 infrared.
            out: Optional float32 tensor of the batch's shape and device to write the
                ``"mcja"``/``"agw"`` result into. Reusing one buffer across steps saves the
                page faults of a fresh allocation on a CPU (a large share of the time there).

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
        device = batch.device
        if out is None:
            out = torch.empty(batch.shape, dtype=torch.float32, device=device)
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
        batch is far larger than the caches) and the VIMC sub-batches cost gathers and scatters;
        here every step of an image (its VIMC slot op, the crop as slice copies, normalising and
        erasing in place in ``out``) runs while the image is in cache. The parameters are drawn
        for the whole batch first, in the order of `_forward_batched`, so both paths give the
        same results for the same generator state.
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
                applied = [p.apply.tolist() for p in params.params]
                rows = [i for i in range(n) if vis[i]]
                for j, k in enumerate(params.choice.tolist()):
                    if applied[k][j]:
                        slot_of[rows[j]] = (slots[k], params.params[k], j)
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
        scale, shift = _SCALE.to(device), _SHIFT.to(device)
        scratch = torch.empty((_CPU_IMAGES, 3, h, w), dtype=torch.uint8, device=device)
        for s in range(0, n, _CPU_IMAGES):
            e = min(n, s + _CPU_IMAGES)
            for i in range(s, e):
                src = batch[i]
                if i in slot_of:
                    t, p, j = slot_of[i]
                    src = t._op(src.unsqueeze(0), p[j : j + 1], False)[0]
                crop = scratch[i - s]
                _crop_into(crop, src, fill, top[i] - _PAD, left[i] - _PAD, flip[i])
                if gray_weak and gray[i] and vis[i]:
                    crop.copy_(v2.functional.rgb_to_grayscale(crop, 3))
            dst = out[s:e]
            dst.copy_(scratch[: e - s]).mul_(scale).add_(shift)
            for i in range(s, e):
                if boxes is not None:
                    # Erasing in normalised space with value 0 (the ImageNet mean colour).
                    bt, bl, bh, bw = boxes[i]
                    if bh and bw:
                        out[i, :, bt : bt + bh, bl : bl + bw] = 0.0
                for kind, t, on_vis, on_ir, apply, values in steps:
                    if not apply[i] or not (on_vis if vis[i] else on_ir):
                        continue
                    if kind == "erase":
                        _channel_erase_(out[i], values[i], t.fill)
                    else:
                        _channel_exchange_(out[i], values[i])
        return out


def _per_image(params: Any) -> tuple[list[bool], list[Any]]:
    """``(apply, box or channel)`` of a CAJ step's parameters as per-image Python lists."""
    values = params.box if hasattr(params, "box") else params.channel
    return params.apply.tolist(), values.tolist()


def _crop_into(
    dst: torch.Tensor, src: torch.Tensor, fill: int, dy: int, dx: int, flip: bool
) -> None:
    """``dst`` = ``src`` padded with ``fill``, cropped at offset ``(dy, dx)``, mirrored if ``flip``.

    Slice copies of one image (the CPU path of `_flip_pad_crop`, offsets relative to ``src``).
    """
    h, w = src.shape[-2:]
    r0, c0 = max(0, -dy), max(0, -dx)
    r1, c1 = max(r0, min(h, h - dy)), max(c0, min(w, w - dx))
    if r0 or c0 or r1 < h or c1 < w:
        dst.fill_(fill)
    part = src[:, r0 + dy : r1 + dy, c0 + dx : c1 + dx]
    if flip:
        dst[:, r0:r1, w - c1 : w - c0] = part.flip(-1)
    else:
        dst[:, r0:r1, c0:c1] = part


def _channel_erase_(img: torch.Tensor, box: list[int], fill: tuple[float, ...]) -> None:
    """`functional.channel_random_erase` of one float image, in place."""
    top, left, height, width = box
    if height and width:
        region = img[:, top : top + height, left : left + width]
        if len(fill) == 1:
            region.fill_(fill[0])
        else:
            for c in range(img.shape[0]):
                region[c].fill_(fill[c])


def _channel_exchange_(img: torch.Tensor, channel: int) -> None:
    """`functional.channel_exchange` of one float image, in place (channel 3: grey)."""
    if channel < 3:
        for c in range(3):
            if c != channel:
                img[c].copy_(img[channel])
    else:
        img.copy_(channel_exchange(img.unsqueeze(0), channel, check=False)[0])


_PAD = 10
#: Images per block of the CPU path (uint8 crops, then one normalising pass over the block).
_CPU_IMAGES = 2
_CPU_CHUNK = 16
_SCALE = torch.tensor([1.0 / (255.0 * s) for s in IMAGENET_STD]).view(3, 1, 1)
_SHIFT = torch.tensor([-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]).view(
    3, 1, 1
)


def _flip_pad_crop(
    x: torch.Tensor, fill: int, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor
) -> torch.Tensor:
    """Pad by 10, crop per sample at (top, left), mirror where ``flip``: one uint8 copy."""
    h, w = x.shape[-2:]
    padded = torch.nn.functional.pad(x, (10, 10, 10, 10), value=fill)
    windows = padded.unfold(2, h, 1).unfold(3, w, 1)  # (B, C, 21, 21, H, W), a view
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
