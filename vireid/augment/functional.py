"""Modality augmentations as deterministic functions with explicit parameters.

Every function takes images shaped ``(..., C, H, W)`` (``C = 3``, except `channel_random_erase`,
which also takes ``C = 1``) in a floating dtype (any range, e.g. ImageNet-normalised) or uint8,
and returns a new tensor of the same shape, dtype and device.

Parameters may be Python scalars or tensors whose shape broadcasts against the leading batch
dimensions ``...`` of the image, so one call transforms a whole batch with a different parameter
per image, without a Python loop over images.

uint8 semantics (the reference code's): the arithmetic runs in float32 and the result is
clipped to [0, 255] and **truncated** (floored), not rounded — as numpy's ``astype(np.uint8)``
on non-negative values and Pillow's ``Image.blend`` do. Float inputs are neither clipped nor
rounded, so the ops are differentiable where the maths is (weights, blends, selections).

References: MCJA — Liang et al., "Bridging the Gap: Multi-level Cross-modality Joint Alignment
for Visible-Infrared Person Re-Identification", IEEE TCSVT 2024 (weighted grayscale,
cross-channel cutmix, spectrum jitter, channel selection); CAJ — Ye et al., "Channel Augmented
Joint Learning for Visible-Infrared Recognition", ICCV 2021 (channel exchange, adaptive gray,
channel-level random erasing).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = [
    "CHANNEL_SELECT_MODES",
    "GRAY_WEIGHTS",
    "channel_cutmix",
    "channel_exchange",
    "channel_random_erase",
    "channel_select",
    "spectrum_jitter",
    "weighted_grayscale",
]

GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)
"""Grey conversion used by CAJ's channel exchange (ITU-R BT.601 luma weights)."""
CHANNEL_SELECT_MODES = ("r", "g", "b", "avg", "rg_avg", "rb_avg", "gb_avg")
"""Modes of `channel_select`."""
_PAIRS = {"rg_avg": (0, 1), "rb_avg": (0, 2), "gb_avg": (1, 2)}

Param = float | int | torch.Tensor
Box = torch.Tensor | Sequence[Param]


# --- shared helpers ---------------------------------------------------------------------------


def check_image(img: torch.Tensor, name: str = "img", channels: tuple[int, ...] = (3,)) -> None:
    """Raise a clear error unless ``img`` is a ``(..., C, H, W)`` float or uint8 tensor."""
    if not isinstance(img, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(img).__name__}")
    if img.dim() < 3:
        raise ValueError(f"{name} must have shape (..., C, H, W), got shape {tuple(img.shape)}")
    if img.shape[-3] not in channels:
        expected = " or ".join(map(str, channels))
        raise ValueError(
            f"{name} must have {expected} channels in dim -3, got shape {tuple(img.shape)} "
            f"({img.shape[-3]} channels)"
        )
    if not (img.is_floating_point() or img.dtype == torch.uint8):
        raise TypeError(f"{name} must be floating point or uint8, got dtype {img.dtype}")


def check_batch_shape(shape: Sequence[int], img: torch.Tensor, name: str) -> None:
    """Raise unless a per-sample parameter shape broadcasts against ``img``'s batch dimensions."""
    batch = img.shape[:-3]
    if len(shape) > len(batch):
        raise ValueError(
            f"{name} of shape {tuple(shape)} has more dimensions than the image's batch "
            f"dimensions {tuple(batch)}"
        )
    try:
        torch.broadcast_shapes(tuple(shape), batch)
    except RuntimeError as err:
        raise ValueError(
            f"{name} of shape {tuple(shape)} does not broadcast against the image's batch "
            f"dimensions {tuple(batch)}"
        ) from err


def _param(value: Param, img: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A parameter as a tensor shaped (..., 1, 1, 1) against the image's batch dimensions."""
    t = torch.as_tensor(value, dtype=dtype, device=img.device)
    check_batch_shape(t.shape, img, "a per-sample parameter")
    return t.reshape(*t.shape, 1, 1, 1)


def _per_channel(value: torch.Tensor, img: torch.Tensor, name: str) -> torch.Tensor:
    """Per-channel values ``(..., C)`` as a tensor shaped (..., C, 1, 1) against the image."""
    check_batch_shape(value.shape[:-1], img, f"{name} (expected (..., {img.shape[-3]}))")
    return value.reshape(*value.shape, 1, 1)


def _work(img: torch.Tensor) -> torch.Tensor:
    return img.float() if img.dtype == torch.uint8 else img


def _finish(out: torch.Tensor, like: torch.Tensor, owned: bool = False) -> torch.Tensor:
    """Back to ``like``'s dtype: uint8 clips and truncates (in place on ``out`` if ``owned``)."""
    if like.dtype == torch.uint8:
        out = out.clamp_(0, 255) if owned else out.clamp(0, 255)
        return out.floor_().to(torch.uint8)
    return out.to(like.dtype)


def _channel(img: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Channel ``index`` (shaped (..., 1, 1, 1)) of each image, as (..., 1, H, W)."""
    shape = (*img.shape[:-3], 1, *img.shape[-2:])
    return img.gather(-3, index.expand(shape))


def _three(single: torch.Tensor) -> torch.Tensor:
    return single.expand(*single.shape[:-3], 3, *single.shape[-2:]).contiguous()


def _box_masks(img: torch.Tensor, box: Box, check: bool) -> torch.Tensor:
    """Boolean (..., 1, H, W) mask of the box ``(top, left, height, width)`` of each image."""
    parts: tuple[Param, ...]
    if isinstance(box, torch.Tensor):
        if box.shape[-1:] != (4,):
            raise ValueError(f"box must have a last dimension of 4, got shape {tuple(box.shape)}")
        parts = box.unbind(-1)
    else:
        if len(box) != 4:
            raise ValueError(f"box must be (top, left, height, width), got {box!r}")
        parts = tuple(box)
    top, left, height, width = (_param(v, img, torch.int64) for v in parts)
    size_h, size_w = img.shape[-2:]
    if check:
        ok = (top >= 0) & (left >= 0) & (height >= 0) & (width >= 0)
        ok &= (top + height <= size_h) & (left + width <= size_w)
        if not bool(ok.all()):
            raise ValueError(
                f"box (top, left, height, width) must lie inside the {size_h}x{size_w} image "
                f"with non-negative sizes; got {box!r}"
            )
    rows = torch.arange(size_h, device=img.device).view(size_h, 1)
    cols = torch.arange(size_w, device=img.device).view(1, size_w)
    return (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)


def _channel_index(
    value: Param, img: torch.Tensor, high: int, name: str, check: bool = True
) -> torch.Tensor:
    t = _param(value, img, torch.int64)
    if check and not bool(((t >= 0) & (t <= high)).all()):
        raise ValueError(f"{name} must be in 0..{high}, got {value!r}")
    return t


# --- MCJA ---------------------------------------------------------------------------------------


def weighted_grayscale(img: torch.Tensor, weights: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Weighted grayscale (MCJA VIMC, WG): ``Y = w_R·R + w_G·G + w_B·B`` copied into 3 channels.

    Args:
        img: ``(..., 3, H, W)`` float or uint8 image(s).
        weights: ``(3,)`` or per-sample ``(..., 3)`` channel weights. MCJA draws
            ``w_c = u_c / Σ u`` with ``u_c ~ U(0, 1)`` (not Dirichlet).

    Returns:
        Tensor like ``img`` with three identical channels.
    """
    check_image(img)
    x = _work(img)
    if isinstance(weights, torch.Tensor):
        w = weights.to(img.device)
        w = w.to(torch.promote_types(x.dtype, w.dtype) if w.is_floating_point() else x.dtype)
    else:
        w = torch.as_tensor(weights, dtype=x.dtype, device=img.device)
    if w.shape[-1:] != (3,):
        raise ValueError(f"weights must have a last dimension of 3, got shape {tuple(w.shape)}")
    w = _per_channel(w, img, "weights")
    # Channel by channel on single-channel temporaries (cheaper than a float copy of the
    # image), summed in the order R, G, B; separate multiply and add keep the rounding of the
    # reference's float arithmetic.
    y = x[..., 0:1, :, :] * w[..., 0:1, :, :]
    y = y.add_(x[..., 1:2, :, :] * w[..., 1:2, :, :])
    y = y.add_(x[..., 2:3, :, :] * w[..., 2:3, :, :])
    return _three(_finish(y, img, owned=True))


def channel_cutmix(
    img: torch.Tensor, box: Box, background: Param, foreground: Param, *, check: bool = True
) -> torch.Tensor:
    """Cross-channel cutmix (MCJA VIMC, CC): channel ``background`` with a box of ``foreground``.

    The output is single-band — the result copied into all three channels — made of two
    spectral bands: channel ``b`` everywhere except rows ``[top, top+height)`` × columns
    ``[left, left+width)``, which show channel ``f``. An empty box gives plain channel ``b``.

    Args:
        img: ``(..., 3, H, W)`` float or uint8 image(s).
        box: ``(top, left, height, width)``: four scalars or per-sample tensors, or one
            ``(..., 4)`` tensor. Must lie inside the image.
        background: Channel index 0..2 (scalar or per sample).
        foreground: Channel index 0..2 (scalar or per sample).
        check: Validate the box and channels (a host synchronisation); pass ``False`` in hot
            loops whose parameters are valid by construction.

    Returns:
        Tensor like ``img`` with three identical channels.
    """
    check_image(img)
    b = _channel_index(background, img, 2, "background", check)
    f = _channel_index(foreground, img, 2, "foreground", check)
    mask = _box_masks(img, box, check)
    out = torch.where(mask, _channel(img, f), _channel(img, b))
    return _three(out)


def spectrum_jitter(
    img: torch.Tensor, channel: Param, alpha: Param, *, check: bool = True
) -> torch.Tensor:
    """Spectrum jitter (MCJA VIMC, SJ): ``D + α·(I − D)`` with ``D`` one channel copied thrice.

    ``α = 0`` gives the pure channel, ``α = 1`` the original image, ``α > 1`` extrapolates away
    from ``D``. For uint8 the result is clipped to [0, 255] and truncated, as Pillow's
    ``Image.blend`` does.

    Args:
        img: ``(..., 3, H, W)`` float or uint8 image(s).
        channel: Channel index 0..2 (scalar or per sample).
        alpha: Blend factor (scalar or per sample).
        check: Validate ``channel`` (a host synchronisation); pass ``False`` in hot loops whose
            parameters are valid by construction.

    Returns:
        Tensor like ``img``.
    """
    check_image(img)
    c = _channel_index(channel, img, 2, "channel", check)
    x = _work(img)
    a = _param(alpha, img, x.dtype)
    d = _channel(x, c)
    if img.dtype == torch.uint8:
        # D + α·(I − D), in place on the float copy, in that order (subtract, scale, add).
        return _finish(x.sub_(d).mul_(a).add_(d), img, owned=True)
    return d + a * (x - d)


def channel_select(img: torch.Tensor, mode: str) -> torch.Tensor:
    """Channel selection (MCJA CS): one channel, or an average of channels, copied thrice.

    Args:
        img: ``(..., 3, H, W)`` float or uint8 image(s).
        mode: ``"r"``, ``"g"``, ``"b"``, ``"avg"`` (mean of the three) or ``"rg_avg"``,
            ``"rb_avg"``, ``"gb_avg"`` (mean of two; the reference code's versions of these
            are broken: they average over the width axis). Per-sample channel choice: use
            `channel_exchange`.

    Returns:
        Tensor like ``img`` with three identical channels.
    """
    check_image(img)
    if mode not in CHANNEL_SELECT_MODES:
        raise ValueError(f"mode must be one of {CHANNEL_SELECT_MODES}, got {mode!r}")
    if mode in ("r", "g", "b"):
        index = "rgb".index(mode)
        return _three(img[..., index : index + 1, :, :])
    x = _work(img)
    if mode == "avg":
        y = x.sum(-3, keepdim=True) / 3
    else:
        i, j = _PAIRS[mode]
        y = (x[..., i : i + 1, :, :] + x[..., j : j + 1, :, :]) / 2
    return _finish(_three(y), img)


# --- CAJ ----------------------------------------------------------------------------------------


def channel_exchange(img: torch.Tensor, channel: Param, *, check: bool = True) -> torch.Tensor:
    """Channel exchange / replication (CAJ): copy channel ``c`` into all three, or grey.

    ``channel`` 0, 1, 2 replicates R, G or B; 3 gives grey ``0.2989·R + 0.5870·G + 0.1140·B``.
    CAJ applies it to ImageNet-normalised tensors (the grey weights then act on normalised
    values); uint8 input is also accepted (grey truncated).

    Args:
        img: ``(..., 3, H, W)`` float or uint8 image(s).
        channel: 0..3 (scalar or per sample).
        check: Validate ``channel`` (a host synchronisation).

    Returns:
        Tensor like ``img`` with three identical channels.
    """
    check_image(img)
    c = _channel_index(channel, img, 3, "channel", check)
    x = _work(img)
    gray_w = torch.tensor(GRAY_WEIGHTS, dtype=x.dtype, device=img.device).view(3, 1, 1)
    gray = (x * gray_w).sum(-3, keepdim=True)
    picked = _channel(x, c.clamp(max=2))
    return _finish(_three(torch.where(c == 3, gray, picked)), img)


def channel_random_erase(
    img: torch.Tensor, box: Box, fill: Param | Sequence[float], *, check: bool = True
) -> torch.Tensor:
    """Channel-level random erasing (CAJ): set channel ``c`` of the box to ``fill[c]``.

    Args:
        img: ``(..., C, H, W)`` float or uint8 image(s), ``C`` = 1 or 3.
        box: ``(top, left, height, width)``: four scalars or per-sample tensors, or one
            ``(..., 4)`` tensor. Must lie inside the image; an empty box erases nothing.
        fill: One value, ``C`` values (one per channel), or per-sample ``(..., C)`` values.
            CAJ writes ``(0.4914, 0.4822, 0.4465)`` into normalised tensors. Cast to the image
            dtype (truncated for uint8).
        check: Validate the box (a host synchronisation).

    Returns:
        Tensor like ``img``.
    """
    check_image(img, channels=(1, 3))
    channels = img.shape[-3]
    fill_dtype = img.dtype if img.is_floating_point() else torch.float32
    value = torch.as_tensor(fill, dtype=fill_dtype, device=img.device)
    if value.dim() == 0:
        value = value.expand(channels)
    if value.shape[-1] != channels:
        if value.shape[-1] == 3 and channels == 1:
            value = value[..., :1]  # a 1-channel image takes fill[0], as the reference
        elif value.shape[-1] == 1:
            value = value.expand(*value.shape[:-1], channels)  # one value for every channel
        else:
            raise ValueError(
                f"fill must hold 1 or {channels} values per image (last dimension), got shape "
                f"{tuple(value.shape)}"
            )
    value = _per_channel(value, img, "fill")
    mask = _box_masks(img, box, check)
    if img.dtype == torch.uint8:
        value = value.clamp(0, 255).floor()
    return torch.where(mask, value.to(img.dtype), img)
