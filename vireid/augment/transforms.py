"""Modality augmentations as modules that draw their parameters per sample.

Each module wraps a deterministic op of [`vireid.augment.functional`][vireid.augment.functional]
with a parameter sampler. It accepts

* a ``PIL.Image`` (converted to a uint8 ``(3, H, W)`` tensor — ``(1, H, W)`` for mode ``L``,
  other modes are converted to RGB — transformed, and returned as a ``PIL.Image``), so it can
  sit in a `torchvision.transforms.v2.Compose` pipeline next to torchvision's transforms;
* a ``(3, H, W)`` tensor, or a batch ``(..., 3, H, W)`` (e.g. ``(B, 3, H, W)`` after
  collation), in uint8 or a floating dtype. ``torchvision.tv_tensors.Image`` inputs come back as
  ``tv_tensors.Image``.

The output has the input's shape, dtype and device. uint8 results are clipped and truncated (the
reference code's semantics, see [`vireid.augment.functional`][vireid.augment.functional]); float
results are neither clipped nor rounded, so gradients flow where the maths allows.

**Per-sample randomness.** On a batch every image gets its own parameters: all random draws are
tensors shaped like the batch dimensions, made in one go on the input's device (or on the
generator's device, then moved), with no Python loop over images. Every probability ``p`` follows
one convention throughout: draw ``u ~ U(0, 1]`` per sample and apply iff ``u ≤ p``, so ``p = 0``
never and ``p = 1`` always applies.

**Cost.** Only the samples a transform changes are computed: their indices come from one
``nonzero`` per transform (a host synchronisation), the op runs on that sub-batch, and the results
are copied into a new tensor. When no sample changes, the input tensor itself is returned (never
modified in place), as torchvision's random transforms do.

**Generators.** Draws come from the ``generator`` given to ``forward`` (or `sample_params`), else
from the one given to the constructor, else from PyTorch's global generator of the input's
device. A constructor generator is part of the module's state: DataLoader workers each get a copy
of it and therefore draw the *same* stream; in per-image dataset pipelines keep
``generator=None`` (the DataLoader seeds the global generator of each worker differently).

**Replay.** ``forward(x, return_params=True)`` returns ``(out, params)``; ``params`` is a frozen
dataclass of tensors (see `TransformParams`; index it like the batch, ``params[i]``).
``forward(x, params=params)`` or ``replay(x, params)`` applies exactly those parameters again,
e.g. to a second view of the same batch. ``sample_params(x)`` draws parameters without applying
them. (The method is not called ``apply`` because `torch.nn.Module.apply` is taken.)

References:
    MCJA: T. Liang et al., "Bridging the Gap: Multi-level Cross-modality Joint Alignment for
    Visible-Infrared Person Re-Identification", IEEE TCSVT 2024 (weighted grayscale,
    cross-channel cutmix, spectrum jitter, channel selection, the VIMC slot).
    CAJ: M. Ye et al., "Channel Augmented Joint Learning for Visible-Infrared Recognition",
    ICCV 2021 (channel exchange, adaptive gray, channel-level random erasing).

Differences from the released code are listed in each class's docstring. Common to all: the
reference draws from Python's / NumPy's global generators one image at a time inside DataLoader
workers; here draws are per sample from an explicit `torch.Generator`, so the streams (not the
distributions) differ from the reference's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar, cast

import torch
from PIL import Image
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as tvf

from vireid._modality import check_modality_values
from vireid.augment import functional as F

__all__ = [
    "VIMC",
    "ChannelAdaptiveGray",
    "ChannelAdaptiveGrayParams",
    "ChannelCutMix",
    "ChannelCutMixParams",
    "ChannelExchange",
    "ChannelExchangeParams",
    "ChannelRandomErasing",
    "ChannelSelect",
    "ChannelSelectParams",
    "ErasingParams",
    "HueJitter",
    "HueJitterParams",
    "ModalityAware",
    "ModalityAwareParams",
    "RandomChoice",
    "RandomChoiceParams",
    "RandomErasing",
    "SpectrumJitter",
    "SpectrumJitterParams",
    "TransformParams",
    "WeightedGrayscale",
    "WeightedGrayscaleParams",
    "adjust_hue",
]

ImageInput = torch.Tensor | Image.Image
ShapeLike = Sequence[int] | torch.Size
_P = TypeVar("_P", bound="TransformParams")
_PT = TypeVar("_PT", bound="TransformParams")  # the record type a transform draws


# --- parameter containers -------------------------------------------------------------------


def _map_value(value: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, TransformParams):
        return value.map(fn)
    if isinstance(value, tuple):
        return tuple(_map_value(v, fn) for v in value)
    return value


@dataclass(frozen=True)
class TransformParams:
    """Base of the parameter records returned by ``forward(..., return_params=True)``.

    Every tensor field is shaped ``(*batch, ...)``: the image's batch dimensions first (``()``
    for a single image), then the parameter's own dimensions. Indexing a record indexes every
    tensor's batch dimensions, so ``params[i]`` holds the parameters of image ``i``.
    """

    def map(self: _P, fn: Callable[[torch.Tensor], torch.Tensor]) -> _P:
        """A copy with ``fn`` applied to every tensor (nested records included).

        Args:
            fn: Function from tensor to tensor.

        Returns:
            A record of the same type.
        """
        values = {f.name: _map_value(getattr(self, f.name), fn) for f in fields(self)}
        return type(self)(**values)

    def __getitem__(self: _P, index: Any) -> _P:
        return self.map(lambda t: t[index])

    def to(self: _P, device: torch.device | str) -> _P:
        """A copy with every tensor moved to ``device``.

        Args:
            device: Target device.

        Returns:
            A record of the same type.
        """
        return self.map(lambda t: t.to(device))


@dataclass(frozen=True)
class WeightedGrayscaleParams(TransformParams):
    """`WeightedGrayscale` parameters.

    Attributes:
        apply: ``(*batch,)`` bool, the per-sample coin (``u ≤ p``).
        weights: ``(*batch, 3)`` channel weights.
    """

    apply: torch.Tensor
    weights: torch.Tensor


@dataclass(frozen=True)
class ChannelCutMixParams(TransformParams):
    """`ChannelCutMix` parameters.

    Attributes:
        apply: ``(*batch,)`` bool coin.
        box: ``(*batch, 4)`` int64 ``(top, left, height, width)`` inside the image; an empty
            box (no attempt succeeded, or a reference-geometry box clipped away) gives plain
            channel ``background``.
        background: ``(*batch,)`` int64 channel 0..2.
        foreground: ``(*batch,)`` int64 channel 0..2, different from ``background``.
    """

    apply: torch.Tensor
    box: torch.Tensor
    background: torch.Tensor
    foreground: torch.Tensor


@dataclass(frozen=True)
class SpectrumJitterParams(TransformParams):
    """`SpectrumJitter` parameters.

    Attributes:
        apply: ``(*batch,)`` bool coin (all ``False`` when the range is (1, 1)).
        channel: ``(*batch,)`` int64 channel 0..2.
        alpha: ``(*batch,)`` float64 blend factor.
    """

    apply: torch.Tensor
    channel: torch.Tensor
    alpha: torch.Tensor


@dataclass(frozen=True)
class ChannelSelectParams(TransformParams):
    """`ChannelSelect` parameters.

    Attributes:
        apply: ``(*batch,)`` bool coin.
        channel: ``(*batch,)`` int64 channel 0..2 for the modes ``r``, ``g``, ``b`` and
            ``rand``; ``None`` for the averaging modes.
    """

    apply: torch.Tensor
    channel: torch.Tensor | None


@dataclass(frozen=True)
class ChannelExchangeParams(TransformParams):
    """`ChannelExchange` parameters.

    Attributes:
        apply: ``(*batch,)`` bool, always ``True`` (the operation always fires).
        channel: ``(*batch,)`` int64, 0..2 replicate R/G/B, 3 grey.
    """

    apply: torch.Tensor
    channel: torch.Tensor


@dataclass(frozen=True)
class ChannelAdaptiveGrayParams(TransformParams):
    """`ChannelAdaptiveGray` parameters.

    Attributes:
        apply: ``(*batch,)`` bool, ``False`` for the "unchanged" outcome.
        channel: ``(*batch,)`` int64 draw ``u`` in 0..3 (3 = grey when ``apply``).
    """

    apply: torch.Tensor
    channel: torch.Tensor


@dataclass(frozen=True)
class ErasingParams(TransformParams):
    """`ChannelRandomErasing` / `RandomErasing` parameters.

    Attributes:
        apply: ``(*batch,)`` bool coin.
        box: ``(*batch, 4)`` int64 ``(top, left, height, width)``; empty when no attempt fit.
    """

    apply: torch.Tensor
    box: torch.Tensor


@dataclass(frozen=True)
class HueJitterParams(TransformParams):
    """`HueJitter` parameters.

    Attributes:
        apply: ``(*batch,)`` bool coin.
        factor: ``(*batch,)`` float64 hue shift, a fraction of the hue circle.
    """

    apply: torch.Tensor
    factor: torch.Tensor


@dataclass(frozen=True)
class RandomChoiceParams(TransformParams):
    """`RandomChoice` / `VIMC` parameters.

    Attributes:
        choice: ``(*batch,)`` int64 index of the transform picked for each sample.
        params: Parameters of every candidate transform, drawn for the whole batch (only the
            picked transform's parameters matter for a sample).
    """

    choice: torch.Tensor
    params: tuple[TransformParams, ...]


@dataclass(frozen=True)
class ModalityAwareParams(TransformParams):
    """`ModalityAware` parameters.

    Attributes:
        modality: ``(*batch,)`` int64, 0 visible, 1 infrared.
        visible: Parameters of the visible transform for the whole batch, or ``None``.
        infrared: Parameters of the infrared transform for the whole batch, or ``None``.
    """

    modality: torch.Tensor
    visible: TransformParams | None
    infrared: TransformParams | None


# --- validation --------------------------------------------------------------------------------


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _probability(value: Any, name: str = "p") -> float:
    if not _is_real(value) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def _pair(value: Any, name: str) -> tuple[float, float]:
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(_is_real(v) and math.isfinite(v) for v in value)
    ):
        raise ValueError(f"{name} must be a pair of finite numbers (low, high), got {value!r}")
    return float(value[0]), float(value[1])


def _range(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    positive: bool = False,
) -> tuple[float, float]:
    a, b = _pair(value, name)
    bounds = []
    if positive:
        bounds.append("0 < low")
    elif low is not None:
        bounds.append(f"{low:g} <= low")
    bounds.append("low <= high")
    if high is not None:
        bounds.append(f"high <= {high:g}")
    ok = a <= b and (a > 0 if positive else low is None or a >= low) and (high is None or b <= high)
    if not ok:
        raise ValueError(f"{name} must satisfy {' and '.join(bounds)}, got {value!r}")
    return a, b


def _int_at_least(value: Any, name: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _floats(value: Any, name: str, lengths: tuple[int, ...]) -> tuple[float, ...]:
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if _is_real(value) and 1 in lengths:
        value = (value,)
    if (
        not isinstance(value, (tuple, list))
        or len(value) not in lengths
        or not all(_is_real(v) and math.isfinite(v) for v in value)
    ):
        expected = " or ".join(map(str, lengths))
        raise ValueError(f"{name} must be {expected} finite number(s), got {value!r}")
    return tuple(float(v) for v in value)


# --- input handling ----------------------------------------------------------------------------


def _to_tensor(img: Any) -> tuple[torch.Tensor, Callable[[torch.Tensor], Any]]:
    """The input as a plain tensor, and a function turning a result back into the input's kind."""
    if isinstance(img, Image.Image):
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        return tvf.pil_to_tensor(img), tvf.to_pil_image
    if isinstance(img, tv_tensors.TVTensor):
        like = img
        return img.as_subclass(torch.Tensor), lambda out: tv_tensors.wrap(out, like=like)
    if isinstance(img, torch.Tensor):
        return img, lambda out: out
    raise TypeError(
        f"img must be a PIL.Image.Image or a torch.Tensor (..., C, H, W), got {type(img).__name__}"
    )


def _shape_device(
    img_or_shape: Any, device: torch.device | str | None
) -> tuple[tuple[int, ...], torch.device]:
    if isinstance(img_or_shape, Image.Image):
        w, h = img_or_shape.size
        c = 1 if img_or_shape.mode == "L" else 3
        return (c, h, w), torch.device(device or "cpu")
    if isinstance(img_or_shape, torch.Tensor):
        return tuple(img_or_shape.shape), img_or_shape.device
    try:
        shape = tuple(int(s) for s in img_or_shape)
    except TypeError as err:
        raise TypeError(
            "img_or_shape must be an image (PIL or tensor) or an image shape (..., C, H, W), "
            f"got {type(img_or_shape).__name__}"
        ) from err
    if len(shape) < 3 or any(s < 0 for s in shape):
        raise ValueError(f"img_or_shape must be an image shape (..., C, H, W), got {shape}")
    return shape, torch.device(device or "cpu")


def _check_channels(shape: tuple[int, ...], channels: tuple[int, ...], owner: str) -> None:
    if len(shape) < 3 or shape[-3] not in channels:
        expected = " or ".join(map(str, channels))
        raise ValueError(
            f"{owner} expects images of shape (..., C, H, W) with C = {expected}, got shape "
            f"{shape}"
            + (" (convert 1-channel images to RGB first)" if shape[-3:][:1] == (1,) else "")
        )


def _run_masked(
    x: torch.Tensor,
    mask: torch.Tensor,
    params: Any,
    fn: Callable[[torch.Tensor, Any], torch.Tensor],
    inplace: bool = False,
) -> torch.Tensor:
    """``fn`` on the samples of ``x`` where ``mask`` is set, computed on those samples only.

    ``params`` is indexed along with the images; its batch shape is that of ``params.apply``
    and must broadcast against the image's. With ``inplace`` the results are written into
    ``x`` (which the caller owns) instead of a copy.
    """
    batch = x.shape[:-3]
    if not batch:
        return fn(x, params) if bool(mask) else x
    n = math.prod(batch)
    try:
        flat = mask.expand(batch).reshape(n)
    except RuntimeError as err:
        raise ValueError(
            f"parameters of batch shape {tuple(mask.shape)} do not broadcast against the image's "
            f"batch dimensions {tuple(batch)}"
        ) from err
    index = flat.nonzero().squeeze(1)
    count = index.numel()
    if count == 0:
        return x
    if count == n:
        return fn(x, params)
    lead = params.apply.dim()

    def pick(t: torch.Tensor) -> torch.Tensor:
        trailing = t.shape[lead:]
        return t.expand(*batch, *trailing).reshape(n, *trailing)[index]

    flat_x = x.reshape(n, *x.shape[-3:])
    out = fn(flat_x[index], params.map(pick))
    if inplace and flat_x.data_ptr() == x.data_ptr():
        flat_x.index_copy_(0, index, out.to(flat_x.dtype))
        return x
    return flat_x.index_copy(0, index, out).reshape(x.shape)


# --- random draws --------------------------------------------------------------------------------


class _Draw:
    """Batched draws from one generator, made on its device and moved to the image's."""

    def __init__(self, generator: torch.Generator | None, device: torch.device) -> None:
        self.generator = generator
        self.device = device
        self.source = generator.device if generator is not None else device

    def rand(self, shape: tuple[int, ...]) -> torch.Tensor:
        u = torch.rand(shape, generator=self.generator, device=self.source, dtype=torch.float64)
        return u.to(self.device)

    def uniform(self, shape: tuple[int, ...], low: float, high: float) -> torch.Tensor:
        """``low + (high − low)·u``, ``u ~ U[0, 1)`` (Python's ``random.uniform``)."""
        return low + (high - low) * self.rand(shape)

    def coin(self, shape: tuple[int, ...], p: float) -> torch.Tensor:
        """``u ≤ p`` with ``u ~ U(0, 1]``: ``True`` with probability exactly ``p``."""
        return (1.0 - self.rand(shape)) <= p

    def integers(self, n: int, shape: tuple[int, ...]) -> torch.Tensor:
        """Uniform integers in ``0..n−1``."""
        out = torch.randint(0, n, shape, generator=self.generator, device=self.source)
        return out.to(self.device)

    def integers_upto(self, high: torch.Tensor) -> torch.Tensor:
        """Uniform integers in ``0..high`` (inclusive), ``high`` an int64 tensor per sample."""
        u = self.rand(tuple(high.shape))
        return torch.minimum((u * (high + 1)).floor().long(), high)


def _sample_boxes(
    draw: _Draw,
    batch: tuple[int, ...],
    size: tuple[int, int],
    *,
    attempts: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    log_ratio: bool,
    swapped: bool = False,
) -> torch.Tensor:
    """Random-erasing style boxes ``(*batch, 4)``, all attempts vectorised.

    Per attempt: area ``H·W·U(scale)``, aspect ``r`` (``exp(U(ln r0, ln r1))`` if ``log_ratio``
    else ``U(r0, r1)``), ``h = round(√(A·r))``, ``w = round(√(A/r))``; accepted if ``h < H`` and
    ``w < W``. The first accepted attempt wins (argmax over the success mask); offsets are
    uniform integers ``top ∈ [0, H−h]``, ``left ∈ [0, W−w]``. No success: an empty box.
    ``swapped`` reproduces MCJA's (width, height) mix-up: check ``h < W``, ``w < H``, draw
    ``top ∈ [0, W−h]``, ``left ∈ [0, H−w]``, then clip the box to the image.
    """
    size_h, size_w = size
    shape = (*batch, attempts)
    area = (size_h * size_w) * draw.uniform(shape, *scale)
    if log_ratio:
        aspect = torch.exp(draw.uniform(shape, math.log(ratio[0]), math.log(ratio[1])))
    else:
        aspect = draw.uniform(shape, *ratio)
    h = torch.round(torch.sqrt(area * aspect)).long()
    w = torch.round(torch.sqrt(area / aspect)).long()
    limit_h, limit_w = (size_w, size_h) if swapped else (size_h, size_w)
    ok = (h < limit_h) & (w < limit_w)
    first = ok.to(torch.uint8).argmax(-1, keepdim=True)
    found = ok.any(-1)
    zero = torch.zeros((), dtype=torch.long, device=draw.device)
    h = torch.where(found, h.gather(-1, first).squeeze(-1), zero)
    w = torch.where(found, w.gather(-1, first).squeeze(-1), zero)
    top = torch.where(found, draw.integers_upto(limit_h - h), zero)
    left = torch.where(found, draw.integers_upto(limit_w - w), zero)
    if swapped:  # numpy slicing arr[top:top+h, left:left+w] clips to the array
        bottom, right = (top + h).clamp(max=size_h), (left + w).clamp(max=size_w)
        top, left = top.clamp(max=size_h), left.clamp(max=size_w)
        h, w = (bottom - top).clamp(min=0), (right - left).clamp(min=0)
    return torch.stack((top, left, h, w), dim=-1)


# --- hue ---------------------------------------------------------------------------------------


def adjust_hue(img: torch.Tensor, factor: float | torch.Tensor) -> torch.Tensor:
    """Shift the HSV hue of each image by its own ``factor`` (vectorised ``adjust_hue``).

    RGB → HSV, ``h ← (h + factor) mod 1`` (wraps around), HSV → RGB: what
    `torchvision.transforms.v2.functional.adjust_hue` computes on tensors, but with a factor per
    image, and with a closed-form HSV → RGB (``V − C·clamp(min(k, 4 − k), 0, 1)``) that is
    cheaper than torchvision's table lookup; the two agree to float rounding (uint8 results
    differ by at most 1 on a few pixels). uint8 images are scaled to [0, 1] and back as
    torchvision does (``× 255.999``, truncated);
    float images must hold values in [0, 1] (hue is meaningless on normalised tensors; on CPU
    anything else is a `ValueError`, on an accelerator it is not checked) and are computed in
    their own dtype (torchvision computes in float32). Pillow's PIL-image kernel
    quantises hue to 8 bits, so results on PIL images differ from torchvision's PIL path by
    rounding.

    Args:
        img: ``(..., 3, H, W)`` float or uint8 image(s).
        factor: Hue shift in [-0.5, 0.5] as a fraction of the hue circle: a scalar or one per
            image, broadcasting against the batch dimensions.

    Returns:
        Tensor like ``img``.
    """
    F.check_image(img)
    if img.is_floating_point() and img.device.type == "cpu" and img.numel():
        # Free on the CPU; on an accelerator it would cost a host sync, so there the [0, 1]
        # contract above is documented rather than checked.
        lo, hi = (float(v) for v in torch.aminmax(img.detach()))
        if lo < -1e-6 or hi > 1.0 + 1e-6:
            raise ValueError(
                f"img must hold values in [0, 1] for a hue shift, got values in [{lo:.3g}, "
                f"{hi:.3g}]: a normalised (mean/std) tensor would get wrong colours. Augment "
                "uint8 or [0, 1] images and normalise afterwards."
            )
    shift = torch.as_tensor(
        factor, dtype=torch.float32 if img.dtype == torch.uint8 else img.dtype, device=img.device
    )
    batch = img.shape[:-3]
    F.check_batch_shape(shift.shape, img, "factor")
    if img.device.type != "cpu" or img.dim() < 4 or img.requires_grad:
        return _hue_block(img, shift)
    # On a CPU, blocks of a few images keep the dozen temporaries in cache (and out of fresh,
    # page-faulting allocations), several times faster than one pass over a large batch.
    flat = img.reshape(-1, *img.shape[-3:])
    shifts = shift.expand(batch).reshape(-1)
    out = torch.empty_like(flat)
    for s in range(0, flat.shape[0], _HUE_BLOCK):
        out[s : s + _HUE_BLOCK] = _hue_block(flat[s : s + _HUE_BLOCK], shifts[s : s + _HUE_BLOCK])
    return out.reshape(img.shape)


_HUE_BLOCK = 4


def _hue_block(img: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """`adjust_hue` on one block; ``shift`` broadcasts against the batch dimensions."""
    # uint8 works on the 0..255 scale (the maths is scale-invariant), saving two passes.
    x = img.float() if img.dtype == torch.uint8 else img
    # RGB -> hue in sextants h6 ∈ [0, 6) (Pillow's / torchvision's tie-breaking: R, then G).
    r, g, b = x.unbind(dim=-3)
    # Element-wise max/min of the three planes: much faster than a reduction over dim -3.
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    chroma = maxc - minc  # = S·V; S and V are unchanged by a hue shift
    safe = torch.where(chroma == 0, torch.ones_like(chroma), chroma)
    h6 = torch.where(
        maxc == r,
        (g - b) / safe,
        torch.where(maxc == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0),
    )
    # Shifted HSV -> RGB in closed form: channel n ∈ (5, 3, 1) for (R, G, B) is
    # V − C·clamp(min(k, 4 − k), 0, 1) with k = (n + 6·(h + shift)) mod 6.
    offset = torch.tensor((5.0, 3.0, 1.0), dtype=x.dtype, device=x.device).view(3, 1, 1)
    k = (h6.unsqueeze(-3) + (offset + 6.0 * shift.reshape(*shift.shape, 1, 1, 1))).remainder(6.0)
    if img.dtype == torch.uint8:  # no autograd here: in-place on temporaries
        ramp = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
        # torchvision's float -> uint8 is × (255 + 1 − 1e-3) on the [0, 1] scale, truncated;
        # the factor is folded into the single-plane V and C to save a pass over 3 planes.
        scale = (256.0 - 1e-3) / 255.0
        out = ramp.mul_((chroma * -scale).unsqueeze(-3)).add_((maxc * scale).unsqueeze(-3))
        return out.clamp_(0, 255).to(torch.uint8)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    return (maxc.unsqueeze(-3) - chroma.unsqueeze(-3) * ramp).to(img.dtype)


# --- base module ---------------------------------------------------------------------------------


class _ParamTransform(nn.Module, Generic[_PT]):
    """Shared plumbing: input conversion, sampling, replay (subclasses: ``_sample``, ``_op``)."""

    channels: tuple[int, ...] = (3,)
    params_type: type[TransformParams] = TransformParams

    def __init__(self, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
        self.generator = generator

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> _PT:
        raise NotImplementedError

    def _op(self, x: torch.Tensor, params: Any, check: bool) -> torch.Tensor:
        """The operation on every sample of ``x`` (``params`` shaped like its batch)."""
        raise NotImplementedError

    def _apply_params(
        self,
        x: torch.Tensor,
        params: Any,
        check: bool,
        select: torch.Tensor | None = None,
        inplace: bool = False,
    ) -> torch.Tensor:
        """Apply to the samples whose ``params.apply`` (and ``select``) is set; others unchanged.

        Only those samples are computed: their indices come from one ``nonzero`` (a host
        synchronisation), then the op runs on the gathered sub-batch and the results are copied
        back (no Python loop over images) — into ``x`` itself when ``inplace``.
        """
        mask = params.apply.to(x.device)
        if select is not None:
            mask = mask & select
        return _run_masked(x, mask, params, lambda xs, ps: self._op(xs, ps, check), inplace)

    def _draw(self, generator: torch.Generator | None, device: torch.device) -> _Draw:
        gen = generator if generator is not None else self.generator
        if gen is not None and not isinstance(gen, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {gen!r}")
        return _Draw(gen, device)

    def _check_params(self, params: Any) -> None:
        expected = self.params_type
        if not isinstance(params, expected):
            raise TypeError(
                f"params must be {expected.__name__} for {type(self).__name__}, "
                f"got {type(params).__name__}"
            )

    def sample_params(
        self,
        img_or_shape: ImageInput | ShapeLike,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str | None = None,
    ) -> _PT:
        """Draw parameters for an image or batch without applying them.

        Args:
            img_or_shape: The image(s) (PIL or tensor), or their shape ``(..., C, H, W)``;
                the batch dimensions ``...`` get one parameter set each.
            generator: Generator for the draws (default: the constructor's, else global).
            device: Device of the parameters when a shape or a PIL image is given (default
                CPU); tensors use their own device.

        Returns:
            The transform's `TransformParams` record (e.g. `ErasingParams` for
            `RandomErasing`), for `replay`.
        """
        shape, dev = _shape_device(img_or_shape, device)
        _check_channels(shape, self.channels, type(self).__name__)
        return self._sample(shape, self._draw(generator, dev))

    def forward(
        self,
        img: ImageInput,
        *,
        params: TransformParams | None = None,
        generator: torch.Generator | None = None,
        return_params: bool = False,
    ) -> Any:
        """Transform an image or a batch, drawing parameters per sample unless given.

        Args:
            img: PIL image, ``(C, H, W)`` tensor or ``(..., C, H, W)`` batch, uint8 or float.
            params: Parameters to replay (from ``return_params=True`` or `sample_params`);
                ``None`` draws new ones.
            generator: Generator for this call's draws (overrides the constructor's).
            return_params: Also return the parameters used.

        Returns:
            The transformed input, of the input's kind, shape, dtype and device; with
            ``return_params=True`` the pair ``(output, params)``.
        """
        x, restore = _to_tensor(img)
        F.check_image(x, "img", self.channels)
        if params is None:
            params = self._sample(tuple(x.shape), self._draw(generator, x.device))
            out = self._apply_params(x, params, False)
        else:
            self._check_params(params)
            out = self._apply_params(x, params.to(x.device), True)
        out = restore(out)
        return (out, params) if return_params else out

    def replay(self, img: ImageInput, params: TransformParams) -> Any:
        """Apply the given parameters (same as ``forward(img, params=params)``).

        Args:
            img: PIL image, ``(C, H, W)`` tensor or ``(..., C, H, W)`` batch.
            params: Parameters whose batch shape broadcasts against the image's.

        Returns:
            The transformed input.
        """
        return self.forward(img, params=params)


@dataclass(frozen=True)
class _IdentityParams(TransformParams):
    apply: torch.Tensor


class _Identity(_ParamTransform[_IdentityParams]):
    """A disabled slot of `RandomChoice` / `VIMC`."""

    channels = (1, 3)
    params_type = _IdentityParams

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> _IdentityParams:
        return _IdentityParams(torch.zeros(shape[:-3], dtype=torch.bool, device=draw.device))

    def _apply_params(
        self,
        x: torch.Tensor,
        params: Any,
        check: bool,
        select: torch.Tensor | None = None,
        inplace: bool = False,
    ) -> torch.Tensor:
        return x


# --- MCJA --------------------------------------------------------------------------------------


class WeightedGrayscale(_ParamTransform[WeightedGrayscaleParams]):
    """Weighted grayscale (MCJA VIMC "WG"; Liang et al., TCSVT 2024).

    With probability ``p`` (per sample, ``u ≤ p``) replace the image by
    ``Y = w_R·R + w_G·G + w_B·B`` copied into the three channels. Random weights (default) are
    drawn per sample as ``w_c = u_c / (u_R + u_G + u_B)`` with ``u_c ~ U(0, 1]`` independent:
    a normalised vector of uniforms, deliberately **not** Dirichlet(1, 1, 1), as the reference.

    Differences from the released code: none in distribution (the reference constructor's
    default is ``p = 1.0``; its training pipeline, and this class's default, use ``p = 0.5``).
    ``u_c`` is drawn from (0, 1] instead of [0, 1), so the weights are always defined.

    Args:
        p: Probability of applying, per sample.
        weights: Fixed ``(w_R, w_G, w_B)`` used as given, or ``None`` for random weights.
        generator: Default `torch.Generator` for the draws.
    """

    params_type = WeightedGrayscaleParams

    def __init__(
        self,
        p: float = 0.5,
        weights: Sequence[float] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        self.p = _probability(p)
        self.weights = None if weights is None else _floats(weights, "weights", (3,))

    def extra_repr(self) -> str:
        """The constructor arguments, shown by ``repr``."""
        return f"p={self.p}, weights={self.weights}"

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> WeightedGrayscaleParams:
        batch = shape[:-3]
        apply = draw.coin(batch, self.p)
        if self.weights is None:
            u = 1.0 - draw.rand((*batch, 3))
            weights = u / u.sum(-1, keepdim=True)
        else:
            weights = torch.tensor(self.weights, dtype=torch.float64, device=draw.device)
            weights = weights.expand(*batch, 3).clone()
        return WeightedGrayscaleParams(apply=apply, weights=weights)

    def _op(self, x: torch.Tensor, params: WeightedGrayscaleParams, check: bool) -> torch.Tensor:
        return F.weighted_grayscale(x, params.weights)


class ChannelCutMix(_ParamTransform[ChannelCutMixParams]):
    """Cross-channel cutmix (MCJA VIMC "CC"; Liang et al., TCSVT 2024).

    Per sample, with probability ``p``: choose a box in at most 10 attempts (all attempts drawn
    at once; the first success wins): ``A = H·W·U(scale)``, ``r = exp(U(ln r0, ln r1))``,
    ``h = round(√(A·r))``, ``w = round(√(A/r))``, accepted if ``h < H`` and ``w < W``, then
    ``top ~ UInt[0, H−h]``, ``left ~ UInt[0, W−w]``. Choose an ordered channel pair ``(b, f)``,
    ``b ≠ f``, all 6 pairs equally likely. Output channel ``b`` with the box showing channel
    ``f``, copied into the three channels. If no attempt succeeds the box is empty (plain
    channel ``b``).

    Differences from the released code:

    * The reference swaps height and width (the box is checked against ``h < W``, ``w < H``,
      offsets are drawn in ``[0, W−h]`` × ``[0, H−w]`` and the paste is clipped), so at 384×192
      boxes stay in the top 192 rows and ~26 % of applications paste nothing. The default is the
      intended geometry; ``reference_geometry=True`` reproduces the swapped one.
    * The reference crashes when all 10 attempts fail (either geometry) and writes into a
      read-only array with current Pillow/numpy; here the box is empty and a new tensor is
      returned.

    Args:
        p: Probability of applying, per sample.
        scale: Range of the box area as a fraction of the image, ``0 <= low <= high <= 1``.
        ratio: Range of the aspect ratio height/width (log-uniform), ``0 < low <= high``.
        reference_geometry: Reproduce the reference's swapped height/width.
        generator: Default `torch.Generator` for the draws.
    """

    params_type = ChannelCutMixParams

    attempts = 10

    def __init__(
        self,
        p: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.33),
        ratio: tuple[float, float] = (0.3, 3.3),
        reference_geometry: bool = False,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        self.p = _probability(p)
        self.scale = _range(scale, "scale", low=0.0, high=1.0)
        self.ratio = _range(ratio, "ratio", positive=True)
        self.reference_geometry = bool(reference_geometry)

    def extra_repr(self) -> str:
        """The constructor arguments, shown by ``repr``."""
        return (
            f"p={self.p}, scale={self.scale}, ratio={self.ratio}, "
            f"reference_geometry={self.reference_geometry}"
        )

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> ChannelCutMixParams:
        batch = shape[:-3]
        apply = draw.coin(batch, self.p)
        box = _sample_boxes(
            draw,
            batch,
            (shape[-2], shape[-1]),
            attempts=self.attempts,
            scale=self.scale,
            ratio=self.ratio,
            log_ratio=True,
            swapped=self.reference_geometry,
        )
        pair = draw.integers(6, batch)
        background = pair // 2
        foreground = (background + 1 + pair % 2) % 3
        return ChannelCutMixParams(apply, box, background, foreground)

    def _op(self, x: torch.Tensor, params: ChannelCutMixParams, check: bool) -> torch.Tensor:
        return F.channel_cutmix(x, params.box, params.background, params.foreground, check=check)


def _factor_range(factor: Any) -> tuple[float, float]:
    if _is_real(factor):
        if not math.isfinite(factor) or factor < 0:
            raise ValueError(f"factor must be a finite number >= 0, got {factor!r}")
        return max(0.0, 1.0 - float(factor)), 1.0 + float(factor)
    return _range(factor, "factor", low=0.0)


class SpectrumJitter(_ParamTransform[SpectrumJitterParams]):
    """Spectrum jitter (MCJA VIMC "SJ"; Liang et al., TCSVT 2024).

    Per sample, with probability ``p``: pick a channel ``c`` uniformly, let ``D`` be it copied
    into three channels, draw ``α ~ U(a, b)`` and output ``D + α·(I − D)`` (clipped and
    truncated for uint8, as Pillow's ``Image.blend``). ``α = 0`` is the pure channel, ``α = 1``
    the original, ``α > 1`` extrapolates.

    Differences from the released code: the reference crashes when the range is exactly
    (1, 1) and the transform fires; here that range disables the transform (identity, the
    ``apply`` parameters are all ``False``). The reference constructor's default factor is
    0.5, i.e. [0.5, 1.5]; this class defaults to the training pipeline's (0, 1).

    Args:
        factor: A scalar ``f >= 0`` meaning the range ``[max(0, 1−f), 1+f]``, or a pair
            ``(a, b)`` with ``0 <= a <= b``.
        p: Probability of applying, per sample.
        generator: Default `torch.Generator` for the draws.
    """

    params_type = SpectrumJitterParams

    def __init__(
        self,
        factor: float | tuple[float, float] = (0.0, 1.0),
        p: float = 0.5,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        self.factor = _factor_range(factor)
        self.p = _probability(p)

    @property
    def disabled(self) -> bool:
        """Whether the range is exactly (1, 1), which makes the transform the identity."""
        return self.factor == (1.0, 1.0)

    def extra_repr(self) -> str:
        """The constructor arguments, shown by ``repr``."""
        return f"factor={self.factor}, p={self.p}"

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> SpectrumJitterParams:
        batch = shape[:-3]
        apply = draw.coin(batch, self.p) & (not self.disabled)
        channel = draw.integers(3, batch)
        alpha = draw.uniform(batch, *self.factor)
        return SpectrumJitterParams(apply, channel, alpha)

    def _op(self, x: torch.Tensor, params: SpectrumJitterParams, check: bool) -> torch.Tensor:
        return F.spectrum_jitter(x, params.channel, params.alpha, check=check)


class ChannelSelect(_ParamTransform[ChannelSelectParams]):
    """Channel selection (MCJA "CS", the test-time MSER views; Liang et al., TCSVT 2024).

    Per sample, with probability ``p``, replace the image by one channel (``r``, ``g``, ``b``,
    or ``rand``: a channel drawn uniformly per sample) or an average (``avg`` of the three,
    ``rg_avg``/``rb_avg``/``gb_avg`` of two), copied into the three channels.

    Differences from the released code: the reference's pair-average modes are broken (they
    average over the width axis); here they are the per-pixel mean of the two channels.

    Args:
        mode: One of ``functional.CHANNEL_SELECT_MODES`` or ``"rand"``.
        p: Probability of applying, per sample.
        generator: Default `torch.Generator` for the draws.
    """

    params_type = ChannelSelectParams

    modes = (*F.CHANNEL_SELECT_MODES, "rand")

    def __init__(
        self, mode: str = "rand", p: float = 1.0, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__(generator)
        if mode not in self.modes:
            raise ValueError(f"mode must be one of {self.modes}, got {mode!r}")
        self.mode = mode
        self.p = _probability(p)

    def extra_repr(self) -> str:
        """The constructor arguments, shown by ``repr``."""
        return f"mode={self.mode!r}, p={self.p}"

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> ChannelSelectParams:
        batch = shape[:-3]
        apply = draw.coin(batch, self.p)
        channel: torch.Tensor | None = None
        if self.mode == "rand":
            channel = draw.integers(3, batch)
        elif self.mode in ("r", "g", "b"):
            channel = torch.full(batch, "rgb".index(self.mode), device=draw.device)
        return ChannelSelectParams(apply, channel)

    def _op(self, x: torch.Tensor, params: ChannelSelectParams, check: bool) -> torch.Tensor:
        if self.mode in ("r", "g", "b", "rand"):
            channel = params.channel
            if channel is None:
                raise ValueError(f"params.channel is required for mode {self.mode!r}, got None")
            if check and not bool(((channel >= 0) & (channel <= 2)).all()):
                raise ValueError(f"params.channel must be in 0..2, got {channel!r}")
            return F.channel_exchange(x, channel, check=False)  # validated just above
        return F.channel_select(x, self.mode)


# --- CAJ ---------------------------------------------------------------------------------------


class ChannelExchange(_ParamTransform[ChannelExchangeParams]):
    """Random channel exchange / replication (CAJ, Ye et al., ICCV 2021; ``ChannelExchange``).

    Per sample draw ``u ~ UInt{0, 1, 2}`` (``UInt{0..3}`` with ``include_gray``) and copy
    channel ``u`` into all three channels; ``u = 3`` gives grey
    ``0.2989·R + 0.5870·G + 0.1140·B``. It **always fires** (no "unchanged" outcome).

    CAJ applies it to ImageNet-normalised float tensors (after ``ToTensor`` + ``Normalize``;
    the grey weights then act on normalised values); uint8 input also works (grey truncated).

    Differences from the released code: none (the reference's ``gray=2``/``gray=3`` are
    ``include_gray=False``/``True``; it modifies the tensor in place, this returns a new one).

    Args:
        include_gray: Add the grey outcome (each of the four then has probability 1/4).
        generator: Default `torch.Generator` for the draws.
    """

    params_type = ChannelExchangeParams

    def __init__(
        self, include_gray: bool = False, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__(generator)
        self.include_gray = bool(include_gray)

    def extra_repr(self) -> str:
        """The constructor arguments, shown by ``repr``."""
        return f"include_gray={self.include_gray}"

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> ChannelExchangeParams:
        batch = shape[:-3]
        channel = draw.integers(4 if self.include_gray else 3, batch)
        return ChannelExchangeParams(torch.ones_like(channel, dtype=torch.bool), channel)

    def _op(self, x: torch.Tensor, params: ChannelExchangeParams, check: bool) -> torch.Tensor:
        return F.channel_exchange(x, params.channel, check=check)


class ChannelAdaptiveGray(_ParamTransform[ChannelAdaptiveGrayParams]):
    """Adaptive channel-or-grey (CAJ's infrared stream; Ye et al., ICCV 2021).

    Per sample draw ``u ~ UInt{0..3}``: ``u = 0, 1, 2`` copies channel ``u`` into all three;
    ``u = 3`` gives grey (``0.2989·R + 0.5870·G + 0.1140·B``) with probability ``p`` (a second
    draw ``v ≤ p``) and leaves the image unchanged otherwise. Outcome probabilities: 1/4 for
    each channel, ``p/4`` grey, ``(1 − p)/4`` unchanged.

    Meant for ImageNet-normalised float tensors, as CAJ; uint8 input also works.

    Differences from the released code (``ChannelAdapGray``): none in distribution; returns a
    new tensor instead of modifying in place.

    Args:
        p: Probability of grey given ``u = 3``.
        generator: Default `torch.Generator` for the draws.
    """

    params_type = ChannelAdaptiveGrayParams

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        super().__init__(generator)
        self.p = _probability(p)

    def extra_repr(self) -> str:
        """The constructor arguments, shown by ``repr``."""
        return f"p={self.p}"

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> ChannelAdaptiveGrayParams:
        batch = shape[:-3]
        channel = draw.integers(4, batch)
        gray = draw.coin(batch, self.p)
        return ChannelAdaptiveGrayParams((channel < 3) | gray, channel)

    def _op(self, x: torch.Tensor, params: ChannelAdaptiveGrayParams, check: bool) -> torch.Tensor:
        return F.channel_exchange(x, params.channel, check=check)


class _Erasing(_ParamTransform[ErasingParams]):
    """Box erasing with a constant per channel (shared by the two erasing classes)."""

    params_type = ErasingParams

    channels = (1, 3)
    attempts: int
    scale: tuple[float, float]
    ratio: tuple[float, float]
    log_ratio: bool
    fill: tuple[float, ...]
    p: float

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> ErasingParams:
        batch = shape[:-3]
        apply = draw.coin(batch, self.p)
        box = _sample_boxes(
            draw,
            batch,
            (shape[-2], shape[-1]),
            attempts=self.attempts,
            scale=self.scale,
            ratio=self.ratio,
            log_ratio=self.log_ratio,
        )
        return ErasingParams(apply, box)

    def _op(self, x: torch.Tensor, params: ErasingParams, check: bool) -> torch.Tensor:
        fill: float | tuple[float, ...] = self.fill
        if len(self.fill) == 1 or x.shape[-3] == 1:
            fill = self.fill[0]
        return F.channel_random_erase(x, params.box, fill, check=check)


class ChannelRandomErasing(_Erasing):
    """Channel-level random erasing (CAJ, Ye et al., ICCV 2021; ``ChannelRandomErasing``).

    Per sample, with probability ``p``: up to ``max_attempts`` attempts (all drawn at once; the
    first fit wins) of ``target = U(sl, sh)·H·W``, ``aspect = U(r1, 1/r1)`` (plain uniform, not
    log-uniform, as the reference), ``h = round(√(target·aspect))``,
    ``w = round(√(target/aspect))``, accepted if ``w < W`` and ``h < H``; then
    ``top ~ UInt[0, H−h]``, ``left ~ UInt[0, W−w]``, and channel ``c`` of the box is set to
    ``fill[c]`` (a 1-channel image uses ``fill[0]``). If no attempt fits the image is unchanged.

    CAJ writes the fill ``(0.4914, 0.4822, 0.4465)`` (CIFAR-10 means) into **ImageNet-normalised**
    float tensors. uint8 input works, but the fill is cast to uint8 (truncated): pass values in
    0..255 then.

    Differences from the released code: draws are per sample from a `torch.Generator` instead
    of Python's ``random``; returns a new tensor instead of erasing in place.

    Args:
        p: Probability of applying, per sample.
        scale: ``(sl, sh)``, range of the erased area fraction, ``0 <= sl <= sh <= 1``.
        r1: Aspect range parameter ``> 0``: the aspect is ``U(r1, 1/r1)``.
        fill: One value, or one per channel (3).
        max_attempts: Number of box attempts (``>= 1``).
        generator: Default `torch.Generator` for the draws.
    """

    log_ratio = False

    def __init__(
        self,
        p: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.4),
        r1: float = 0.3,
        fill: float | Sequence[float] = (0.4914, 0.4822, 0.4465),
        max_attempts: int = 100,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        self.p = _probability(p)
        self.scale = _range(scale, "scale", low=0.0, high=1.0)
        if not _is_real(r1) or not math.isfinite(r1) or r1 <= 0:
            raise ValueError(f"r1 must be a finite number > 0, got {r1!r}")
        self.r1 = float(r1)
        self.ratio = (self.r1, 1.0 / self.r1)
        self.fill = _floats(fill, "fill", (1, 3))
        self.attempts = _int_at_least(max_attempts, "max_attempts", 1)

    @property
    def max_attempts(self) -> int:
        """Number of box attempts."""
        return self.attempts

    def extra_repr(self) -> str:
        """The constructor arguments, shown by ``repr``."""
        return (
            f"p={self.p}, scale={self.scale}, r1={self.r1}, fill={self.fill}, "
            f"max_attempts={self.attempts}"
        )


class RandomErasing(_Erasing):
    """Random erasing (Zhong et al., AAAI 2020) as the last step of MCJA's training pipeline.

    Per sample, with probability ``p``: up to ``max_attempts`` attempts (all drawn at once) of
    area ``U(scale)·H·W`` and log-uniform aspect ``exp(U(ln r0, ln r1))``, accepted if
    ``h < H`` and ``w < W``; uniform position; the box is set to ``value`` (per channel or one
    for all). Nothing is erased if no attempt fits. MCJA erases with 0 in normalised space.

    Differences: the default ``scale`` is MCJA's (0.02, 0.3) (torchvision's default is
    (0.02, 0.33)); draws are per sample.

    Args:
        p: Probability of applying, per sample.
        scale: Range of the erased area fraction, ``0 <= low <= high <= 1``.
        ratio: Range of the aspect ratio (log-uniform), ``0 < low <= high``.
        value: Fill value, one for all channels or one per channel.
        max_attempts: Number of box attempts (``>= 1``).
        generator: Default `torch.Generator` for the draws.
    """

    log_ratio = True

    def __init__(
        self,
        p: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.3),
        ratio: tuple[float, float] = (0.3, 3.3),
        value: float | Sequence[float] = 0.0,
        max_attempts: int = 10,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        self.p = _probability(p)
        self.scale = _range(scale, "scale", low=0.0, high=1.0)
        self.ratio = _range(ratio, "ratio", positive=True)
        self.fill = _floats(value, "value", (1, 3))
        self.attempts = _int_at_least(max_attempts, "max_attempts", 1)

    def extra_repr(self) -> str:
        """The constructor arguments, shown by ``repr``."""
        return (
            f"p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.fill}, "
            f"max_attempts={self.attempts}"
        )


# --- hue and composition -------------------------------------------------------------------------


class HueJitter(_ParamTransform[HueJitterParams]):
    """Hue jitter (the colour slot of MCJA's VIMC; Liang et al., TCSVT 2024).

    Per sample, with probability ``p``, shift the HSV hue by ``factor ~ U(a, b)`` (wrapping),
    with `adjust_hue`; brightness, contrast and saturation are unchanged. Expects uint8 images
    or floats in [0, 1] (not normalised tensors).

    Differences from the released code: the reference uses torchvision's ``ColorJitter`` on PIL
    images, where Pillow quantises hue to 8 bits; this computes the shift in float for every
    input kind (PIL images included), so results differ by rounding.

    Args:
        hue: A scalar ``h`` in [0, 0.5] meaning ``U(−h, h)``, or a range ``(a, b)`` with
            ``-0.5 <= a <= b <= 0.5``.
        p: Probability of applying, per sample.
        generator: Default `torch.Generator` for the draws.
    """

    params_type = HueJitterParams

    def __init__(
        self,
        hue: float | tuple[float, float] = 0.2,
        p: float = 0.5,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        if isinstance(hue, (int, float)) and not isinstance(hue, bool):
            if not 0.0 <= float(hue) <= 0.5:
                raise ValueError(f"hue must be in [0, 0.5], got {hue!r}")
            self.hue = (-float(hue), float(hue))
        else:
            self.hue = _range(hue, "hue", low=-0.5, high=0.5)
        self.p = _probability(p)

    def extra_repr(self) -> str:
        """The constructor arguments, shown by ``repr``."""
        return f"hue={self.hue}, p={self.p}"

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> HueJitterParams:
        batch = shape[:-3]
        apply = draw.coin(batch, self.p)
        return HueJitterParams(apply, draw.uniform(batch, *self.hue))

    def _op(self, x: torch.Tensor, params: HueJitterParams, check: bool) -> torch.Tensor:
        return adjust_hue(x, params.factor)


class RandomChoice(_ParamTransform[RandomChoiceParams]):
    """Apply one of several transforms, picked independently for each sample.

    Per sample draw an index ``k`` (uniformly, or with probabilities proportional to ``p``)
    and output ``transforms[k]`` applied to that sample. Parameters are drawn for every
    candidate and every sample (so the draws do not depend on the picks), but each candidate
    only computes the samples that picked it and that its own coin applies to.

    Args:
        transforms: Candidate transforms of this module (`WeightedGrayscale`, `HueJitter`, …,
            or nested `RandomChoice`); ``None`` is the identity.
        p: Optional non-negative weights, one per transform (normalised to sum 1).
        generator: Default `torch.Generator` for the draws (the candidates' own generators
            are not used inside a `RandomChoice`).
    """

    params_type = RandomChoiceParams

    def __init__(
        self,
        transforms: Sequence[_ParamTransform | None],
        p: Sequence[float] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        if not isinstance(transforms, (list, tuple, nn.ModuleList)):
            raise TypeError(
                f"transforms must be a sequence of transforms, got {type(transforms).__name__}"
            )
        if len(transforms) == 0:
            raise ValueError("transforms must hold at least one transform, got an empty sequence")
        modules: list[_ParamTransform] = []
        for i, t in enumerate(transforms):
            if t is None:
                t = _Identity()
            if not isinstance(t, _ParamTransform):
                raise TypeError(
                    f"transforms[{i}] must be a vireid.augment transform or None, got "
                    f"{type(t).__name__} (per-sample batching needs its sample_params/replay)"
                )
            modules.append(t)
        self.transforms = nn.ModuleList(modules)
        channels = set(modules[0].channels)
        for t in modules[1:]:
            channels &= set(t.channels)
        if not channels:
            raise ValueError("transforms must accept a common channel count")
        self.channels = tuple(sorted(channels))
        if p is None:
            weights = [1.0] * len(modules)
        else:
            weights = list(_floats(p, "p", (len(modules),)))
            if any(w < 0 for w in weights) or sum(weights) <= 0:
                raise ValueError(
                    f"p must hold {len(modules)} non-negative weights with a positive sum, "
                    f"got {p!r}"
                )
        total = sum(weights)
        self.p = tuple(w / total for w in weights)

    def extra_repr(self) -> str:
        """The constructor arguments, shown by ``repr``."""
        return f"p={self.p}"

    def _candidates(self) -> list[_ParamTransform]:
        return [cast(_ParamTransform, t) for t in self.transforms]

    def _sample(self, shape: tuple[int, ...], draw: _Draw) -> RandomChoiceParams:
        batch = shape[:-3]
        cdf = torch.tensor(self.p, dtype=torch.float64, device=draw.device).cumsum(0)
        cdf[-1] = 1.0
        u = draw.rand(batch)
        choice = torch.searchsorted(cdf, u.reshape(-1), right=True).reshape(batch)
        choice = choice.clamp(max=len(self.p) - 1)
        params = tuple(t._sample(shape, draw) for t in self._candidates())
        return RandomChoiceParams(choice, params)

    def _check_params(self, params: Any) -> None:
        if not isinstance(params, RandomChoiceParams) or len(params.params) != len(self.transforms):
            raise TypeError(
                f"params must be RandomChoiceParams with {len(self.transforms)} entries, "
                f"got {type(params).__name__}"
            )
        for t, sub in zip(self._candidates(), params.params, strict=True):
            t._check_params(sub)

    def _apply_params(
        self,
        x: torch.Tensor,
        params: RandomChoiceParams,
        check: bool,
        select: torch.Tensor | None = None,
        inplace: bool = False,
    ) -> torch.Tensor:
        # The candidates touch disjoint sets of samples and each only reads the samples it
        # changes, so they can be chained on one tensor.
        choice = params.choice.to(x.device)
        # One copy of the batch, then every candidate writes its own samples into it.
        out = x if inplace else x.clone()
        for k, (t, sub) in enumerate(zip(self._candidates(), params.params, strict=True)):
            picked = choice == k if select is None else (choice == k) & select
            out = t._apply_params(out, sub, check, picked, inplace=True)
        return out


class VIMC(RandomChoice):
    """MCJA's Visible-Infrared Modality Coordinator slot (Liang et al., TCSVT 2024).

    Per sample pick one of four slots uniformly (probability 1/4 each):

    - (a) hue jitter, applied with probability ``hue_p`` (0.5), factor ``U(−hue, hue)``;
    - (b) `WeightedGrayscale` with ``p = wg_p`` (0.5);
    - (c) `ChannelCutMix` with ``p = cc_p`` (0.5), ``cc_scale``, ``cc_ratio``;
    - (d) `SpectrumJitter` with range ``sj_factor`` (0, 1) and ``p = sj_p`` (0.5).

    With the defaults each operation reaches 1/8 of the images and half are unchanged. A slot
    turned off by its flag (``color_jitter``, ``vimc_wg``, ``vimc_cc``, ``vimc_sj``, as the
    reference config) becomes the identity and is still picked with probability 1/4. Visible
    images only, before normalisation (uint8, or floats in [0, 1] for the hue slot); combine it
    with `ModalityAware` for mixed batches.

    Differences from the released code: those of the four operations (`HueJitter`,
    `ChannelCutMix`, `SpectrumJitter`); the cutmix uses the intended geometry unless
    ``reference_geometry=True``.

    Args:
        hue: Hue range half-width (or range) of slot (a).
        hue_p: Probability of applying the hue jitter when slot (a) is picked.
        wg_p: ``p`` of the weighted grayscale.
        cc_p: ``p`` of the cross-channel cutmix.
        cc_scale: Box area range of the cutmix.
        cc_ratio: Box aspect range of the cutmix.
        reference_geometry: Cutmix with the reference's swapped geometry.
        sj_factor: Range (or scalar factor) of the spectrum jitter.
        sj_p: ``p`` of the spectrum jitter.
        color_jitter: Enable slot (a).
        vimc_wg: Enable slot (b).
        vimc_cc: Enable slot (c).
        vimc_sj: Enable slot (d).
        generator: Default `torch.Generator` for the draws.
    """

    def __init__(
        self,
        hue: float | tuple[float, float] = 0.2,
        hue_p: float = 0.5,
        wg_p: float = 0.5,
        cc_p: float = 0.5,
        cc_scale: tuple[float, float] = (0.02, 0.33),
        cc_ratio: tuple[float, float] = (0.3, 3.3),
        reference_geometry: bool = False,
        sj_factor: float | tuple[float, float] = (0.0, 1.0),
        sj_p: float = 0.5,
        *,
        color_jitter: bool = True,
        vimc_wg: bool = True,
        vimc_cc: bool = True,
        vimc_sj: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        slots = [
            HueJitter(hue, p=_probability(hue_p, "hue_p")) if color_jitter else None,
            WeightedGrayscale(p=_probability(wg_p, "wg_p")) if vimc_wg else None,
            ChannelCutMix(_probability(cc_p, "cc_p"), cc_scale, cc_ratio, reference_geometry)
            if vimc_cc
            else None,
            SpectrumJitter(sj_factor, p=_probability(sj_p, "sj_p")) if vimc_sj else None,
        ]
        super().__init__(slots, generator=generator)


class ModalityAware(nn.Module):
    """Route each sample to the visible or the infrared transform by its modality label.

    Call as ``module(img, modality)`` with ``modality`` 0 (visible) or 1 (infrared), a scalar
    or a tensor broadcasting against the batch dimensions. Parameters of both transforms are
    drawn for the whole batch; each transform only computes the samples of its modality.
    ``None`` is the identity for that modality.

    Args:
        visible: Transform of visible images (a vireid.augment transform) or ``None``.
        infrared: Transform of infrared images or ``None``.
        generator: Default `torch.Generator` for the draws.
    """

    def __init__(
        self,
        visible: _ParamTransform | None = None,
        infrared: _ParamTransform | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, t in (("visible", visible), ("infrared", infrared)):
            if t is not None and not isinstance(t, _ParamTransform):
                raise TypeError(
                    f"{name} must be a vireid.augment transform or None, got {type(t).__name__}"
                )
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
        self.visible = visible
        self.infrared = infrared
        self.generator = generator
        channels = {1, 3}
        for t in (visible, infrared):
            if t is not None:
                channels &= set(t.channels)
        self.channels = tuple(sorted(channels))

    def _modality(
        self, modality: Any, batch: tuple[int, ...], device: torch.device
    ) -> torch.Tensor:
        if modality is None:
            raise ValueError("modality is required (0 visible, 1 infrared) unless params given")
        m = torch.as_tensor(modality, device=device)
        if m.dtype.is_floating_point or m.dtype.is_complex:
            raise TypeError(f"modality must hold integers 0/1 or bools, got dtype {m.dtype}")
        try:
            if m.dim() > len(batch):
                raise RuntimeError
            m = m.expand(batch).long()
        except RuntimeError as err:
            raise ValueError(
                f"modality of shape {tuple(m.shape)} does not broadcast against the batch "
                f"dimensions {batch}"
            ) from err
        check_modality_values(m)
        return m.clone()

    def _check_params(self, params: Any) -> None:
        if not isinstance(params, ModalityAwareParams):
            raise TypeError(f"params must be ModalityAwareParams, got {type(params).__name__}")
        for name, t in (("visible", self.visible), ("infrared", self.infrared)):
            sub = getattr(params, name)
            if t is None and sub is not None:
                raise TypeError(f"params.{name} must be None (no {name} transform), got {sub!r}")
            if t is not None:
                if sub is None:
                    raise TypeError(f"params.{name} is None but a {name} transform is set")
                t._check_params(sub)

    def sample_params(
        self,
        img_or_shape: ImageInput | ShapeLike,
        modality: Any,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str | None = None,
    ) -> ModalityAwareParams:
        """Draw parameters for an image or batch without applying them.

        Args:
            img_or_shape: The image(s) or their shape ``(..., C, H, W)``.
            modality: 0 (visible) / 1 (infrared), scalar or per sample.
            generator: Generator for the draws (default: the constructor's, else global).
            device: Device of the parameters when a shape or PIL image is given.

        Returns:
            `ModalityAwareParams`.
        """
        shape, dev = _shape_device(img_or_shape, device)
        _check_channels(shape, self.channels, type(self).__name__)
        gen = generator if generator is not None else self.generator
        draw = _Draw(gen, dev)
        vis = None if self.visible is None else self.visible._sample(shape, draw)
        ir = None if self.infrared is None else self.infrared._sample(shape, draw)
        return ModalityAwareParams(self._modality(modality, shape[:-3], dev), vis, ir)

    def forward(
        self,
        img: ImageInput,
        modality: Any = None,
        *,
        params: ModalityAwareParams | None = None,
        generator: torch.Generator | None = None,
        return_params: bool = False,
    ) -> Any:
        """Transform each sample with the transform of its modality.

        Args:
            img: PIL image, ``(C, H, W)`` tensor or ``(..., C, H, W)`` batch.
            modality: 0 / 1 per sample (ignored when ``params`` is given).
            params: Parameters to replay; ``None`` draws new ones.
            generator: Generator for this call's draws.
            return_params: Also return the parameters used.

        Returns:
            The transformed input (and the parameters with ``return_params=True``).
        """
        x, restore = _to_tensor(img)
        F.check_image(x, "img", self.channels)
        check = params is not None
        if params is None:
            params = self.sample_params(x, modality, generator)
        else:
            self._check_params(params)
            params = params.to(x.device)
        modality = params.modality.to(x.device)
        # Each transform changes (and reads) only the samples of its modality, so both can
        # write into one copy of the input.
        out = x.clone()
        if self.visible is not None:
            out = self.visible._apply_params(out, params.visible, check, modality == 0, True)
        if self.infrared is not None:
            out = self.infrared._apply_params(out, params.infrared, check, modality == 1, True)
        out = restore(out)
        return (out, params) if return_params else out

    def replay(self, img: ImageInput, params: ModalityAwareParams) -> Any:
        """Apply the given parameters (same as ``forward(img, params=params)``).

        Args:
            img: PIL image, ``(C, H, W)`` tensor or ``(..., C, H, W)`` batch.
            params: `ModalityAwareParams` from an earlier call.

        Returns:
            The transformed input.
        """
        return self.forward(img, params=params)
