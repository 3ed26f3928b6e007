"""Batched geometric and photometric steps with per-sample parameters (flip, pad-crop, normalise).

These are the pieces of the training pipelines that torchvision applies with one parameter
draw per call; here every image of a batch gets its own draw, vectorised, on the batch's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vireid.augment.functional import check_image

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "hflip", "normalize", "pad_crop"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""Per-channel ImageNet mean used by every VI-ReID pipeline, for both modalities."""
IMAGENET_STD = (0.229, 0.224, 0.225)
"""Per-channel ImageNet standard deviation, the companion of `IMAGENET_MEAN`."""


def hflip(img: torch.Tensor, flip: torch.Tensor | bool) -> torch.Tensor:
    """Mirror the images whose ``flip`` flag is set.

    Args:
        img: ``(..., C, H, W)`` images.
        flip: bool, or a per-sample bool tensor broadcasting against the batch dimensions.

    Returns:
        Tensor like ``img``.
    """
    check_image(img, channels=(1, 3))
    mask = torch.as_tensor(flip, dtype=torch.bool, device=img.device)
    mask = mask.reshape(*mask.shape, 1, 1, 1)
    return torch.where(mask, img.flip(-1), img)


def pad_crop(
    img: torch.Tensor,
    padding: int,
    fill: float,
    top: torch.Tensor | int,
    left: torch.Tensor | int,
    *,
    check: bool = True,
) -> torch.Tensor:
    """Pad every side by ``padding`` with the constant ``fill``, then crop back per sample.

    The crop of image ``i`` starts at row ``top[i]`` and column ``left[i]`` of the padded
    image (both in ``0..2·padding``), as ``Pad`` followed by ``RandomCrop`` to the original size.

    Args:
        img: ``(B, C, H, W)`` images.
        padding: Pixels added on each side.
        fill: Constant for the padding (e.g. 0 for AGW/CAJ, 127 for MCJA on uint8 images).
        top: Per-sample crop offsets, ``(B,)`` or a scalar.
        left: Per-sample crop offsets, ``(B,)`` or a scalar.
        check: Validate the offsets (a host synchronisation).

    Returns:
        Tensor like ``img``.
    """
    check_image(img, channels=(1, 3))
    if img.dim() != 4:
        raise ValueError(f"pad_crop expects a (B, C, H, W) batch, got shape {tuple(img.shape)}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    b, c, h, w = img.shape
    padded = torch.nn.functional.pad(img, (padding,) * 4, value=fill)
    top_t = torch.as_tensor(top, device=img.device).expand(b).view(b, 1, 1, 1)
    left_t = torch.as_tensor(left, device=img.device).expand(b).view(b, 1, 1, 1)
    if check:
        bad = (top_t < 0) | (top_t > 2 * padding) | (left_t < 0) | (left_t > 2 * padding)
        if bool(bad.any()):
            raise ValueError(f"crop offsets must lie in 0..{2 * padding}")
    rows = top_t + torch.arange(h, device=img.device).view(1, 1, h, 1)
    out = padded.gather(2, rows.expand(b, c, h, w + 2 * padding))
    cols = (left_t + torch.arange(w, device=img.device).view(1, 1, 1, w)).expand(b, c, h, w)
    return out.gather(3, cols)


def normalize(
    img: torch.Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """uint8 → float in [0, 1] → ``(x − mean) / std`` per channel (floats are taken as [0, 1])."""
    check_image(img)
    x = img.float() / 255.0 if img.dtype == torch.uint8 else img
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x - m) / s
