"""Procedural synthetic VI-ReID datasets written in the real SYSU-MM01, RegDB and LLCM layouts.

The real datasets are distributed on request only. These generators draw small stand-ins, image
by image, so that the dataset readers, the evaluation protocols, the tests, the docs and the
demos can run end to end on any machine. The images are cartoons: a person (head, torso, arms,
legs, optional hat and bag) in front of a camera-specific background.

What a model can learn:

* **Identity** — body shape (head size and aspect, torso height and width, leg and arm width),
  clothing colours (upper and lower garment, secondary pattern colour, hair, shoes, bag, hat),
  the upper-garment pattern (plain, horizontal or vertical stripes, checks, diagonal stripes)
  and its period, sleeve length, lower-garment style (trousers, shorts, skirt), hair length,
  a hat or none, and a bag on the left or right side or none (with a shoulder strap).
* **Camera** — background scene (wall, floor, pillars, a band), illumination (gain and, for
  visible cameras, a colour cast), viewpoint (how often the view is mirrored, horizontal and
  vertical offset), scale, sensor noise level and blur. Cameras at the same place share the
  scene geometry (SYSU-MM01 cameras 2 and 3, the RegDB camera pair, LLCM camera ``k`` in both
  modes) but draw its colours or intensities per modality.
* **Image** — scale, offset, background crop, stride, lean, front or back view, illumination
  jitter, occlusion, noise; all scaled by ``difficulty``.

The modality gap:

* **Shared across modalities** (drawn once per identity): every geometric property (body
  shape, pattern type and period, sleeve and lower-garment style, hair length, hat, bag and
  its side and size) and the image-level processes (pose, viewpoint, scale and occlusion
  statistics).
* **Not shared**: intensities. Visible images paint each garment with an RGB colour; infrared
  images paint it with a single intensity drawn **independently** of that colour (skin is
  bright, hair dark, garments anywhere in between). A red shirt can be dark in one identity and
  bright in another, so colour does not transfer across modalities while shape, pattern and
  accessories do. Backgrounds, illumination, noise (stronger for infrared) and blur (stronger
  for infrared) are drawn per camera and modality.

Infrared images are single-intensity and stored as three equal channels: JPEG (SYSU-MM01, LLCM)
encodes equal channels without chroma, so they decode exactly equal; RegDB's BMPs are lossless.

Determinism: every random choice comes from a NumPy generator seeded with a tuple that starts
with ``seed``: the split from ``(seed, dataset)``, an identity's appearance from
``(seed, dataset, pid)``, a camera from ``(seed, dataset, camera, modality)`` and an image from
``(seed, dataset, pid, camera, modality, k)``. The same arguments therefore give byte-identical
files whatever the order of generation, and a different ``seed`` gives different files.
"""

from __future__ import annotations

import colorsys
import contextlib
import io
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["make_llcm_like", "make_regdb_like", "make_sysu_like"]

# Stream tags: the second word of every seed tuple, so that no two streams coincide.
_SPLIT, _LAYOUT, _IDENTITY, _SCENE, _CAMERA, _IMAGE, _PERM = range(1, 8)
_SYSU, _REGDB, _LLCM = 1, 2, 3
_VIS, _IR = 0, 1

_SYSU_VISIBLE = (1, 2, 4, 5)
_SYSU_INFRARED = (3, 6)
_SYSU_LOCATION = {1: 1, 2: 2, 3: 2, 4: 4, 5: 5, 6: 6}  # camera 3 shares camera 2's place
_MULTI_SHOT = 10  # images per (test identity, visible camera) needed by 10-shot galleries
_LLCM_CAMS = tuple(range(1, 10))
_LLCM_NIR_CAMS = (1, 2, 4, 5, 6, 7, 8, 9)  # the LLCM test lists have no NIR camera 3
_MIN_SIZE = (32, 16)
_MAX_PID = 9999  # identity folders are 4-digit numbers
_UNIFORM_BYTE_STD = math.sqrt((256**2 - 1) / 12)  # std of a uniform random byte

# Upper-garment patterns.
_PLAIN, _HSTRIPES, _VSTRIPES, _CHECKS, _DIAGONAL = range(5)
# Lower-garment styles.
_TROUSERS, _SHORTS, _SKIRT = range(3)


# --- argument checks ---------------------------------------------------------------------


def _check_int(
    name: str, value: object, minimum: int, maximum: int | None = None, why: str = ""
) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        expected = f"at least {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ValueError(f"{name} must be {expected}{why}, got {value}")
    return value


def _check_size(size: object) -> tuple[int, int]:
    expected = (
        f"size must be (height, width) with height >= {_MIN_SIZE[0]} and width >= {_MIN_SIZE[1]}"
    )
    if not isinstance(size, Sequence) or isinstance(size, str) or len(size) != 2:
        raise TypeError(f"{expected}, got {size!r}")
    if any(isinstance(v, bool) or not isinstance(v, Integral) for v in size):
        raise TypeError(f"{expected} (two ints), got {size!r}")
    h, w = int(size[0]), int(size[1])
    if h < _MIN_SIZE[0] or w < _MIN_SIZE[1]:
        raise ValueError(f"{expected}, got {size!r}")
    return h, w


def _check_difficulty(difficulty: object) -> float:
    if isinstance(difficulty, bool) or not isinstance(difficulty, Real):
        raise TypeError(f"difficulty must be a number in [0, 1], got {difficulty!r}")
    value = float(difficulty)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty!r}")
    return value


@contextlib.contextmanager
def _staged_root(
    root: str | os.PathLike[str], overwrite: bool, owned: Sequence[str]
) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; move it into ``root`` only on success.

    An interrupted or failed run (disk full, Ctrl-C) removes the staging folder and leaves
    ``root`` as it was, so no partial tree is ever taken for a dataset. A new or empty ``root``
    is replaced by a single rename; with ``overwrite`` the dataset's own entries (``owned``)
    are swapped in one by one after the old ones are removed.
    """
    path = Path(root).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"root must be a folder (new, empty or generated), got the file {str(path)!r}"
        )
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(
            f"root must be a new or empty folder, got {str(path)!r}, which is not empty; pass "
            f"overwrite=True (vireid data synth --overwrite) to replace the generated entries "
            f"({', '.join(owned)}) in it"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    stage.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the dataset private
    try:
        yield stage
        if not path.exists() or not any(path.iterdir()):
            os.replace(stage, path)  # rename(2) replaces an empty folder too
            return
        for name in owned:
            entry = path / name
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            elif entry.exists() or entry.is_symlink():
                entry.unlink()
        for entry in stage.iterdir():
            os.replace(entry, path / entry.name)
        stage.rmdir()
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


# --- random streams ------------------------------------------------------------------------


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(k) for k in key])


def _split(
    seed: int, dataset: int, pids: np.ndarray, sizes: Sequence[int], stream: int = 0
) -> list[list[int]]:
    """Cut a seeded permutation of ``pids`` into consecutive parts of ``sizes``, each sorted."""
    order = _rng(seed, _SPLIT, dataset, stream).permutation(pids)
    parts, start = [], 0
    for n in sizes:
        parts.append(sorted(int(p) for p in order[start : start + n]))
        start += n
    return parts


# --- appearance ----------------------------------------------------------------------------


def _colour(
    rng: np.random.Generator,
    sat: tuple[float, float],
    val: tuple[float, float],
    hue: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    h, s, v = rng.uniform(*hue), rng.uniform(*sat), rng.uniform(*val)
    return np.array(colorsys.hsv_to_rgb(h, s, v), dtype=np.float32)


def _contrasting(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """A colour at least 0.35 away (Euclidean, RGB in [0, 1]) from ``base``."""
    for _ in range(16):
        other = _colour(rng, (0.2, 1.0), (0.15, 1.0))
        if float(np.linalg.norm(other - base)) >= 0.35:
            return other
    return (1.0 - base).astype(np.float32)


def _offset_intensity(rng: np.random.Generator, base: float) -> float:
    """An intensity 0.2–0.45 above or below ``base`` (kept in [0.03, 1])."""
    step = rng.uniform(0.2, 0.45)
    can_go_up, can_go_down = base + step <= 1.0, base - step >= 0.03
    up = rng.random() < 0.5 if can_go_up and can_go_down else can_go_up
    return base + step if up else base - step


@dataclass(frozen=True)
class _Identity:
    """Appearance of one identity; geometry is shared, ``palettes[modality]`` is not."""

    head: float  # head vertical radius / person height
    head_aspect: float  # horizontal / vertical head radius
    torso_h: float
    torso_w: float
    arm_w: float
    leg_w: float
    pattern: int
    period: float  # pattern period / person height
    long_sleeves: bool
    lower_style: int
    long_hair: bool
    hat: bool
    bag: int  # 0 none, -1 left, +1 right (before mirroring)
    bag_size: float
    palettes: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


def _make_identity(seed: int, dataset: int, pid: int) -> _Identity:
    rng = _rng(seed, _IDENTITY, dataset, pid)
    # Geometry (shared by both modalities).
    geometry = {
        "head": rng.uniform(0.055, 0.075),
        "head_aspect": rng.uniform(0.7, 0.95),
        "torso_h": rng.uniform(0.28, 0.36),
        "torso_w": rng.uniform(0.24, 0.38),
        "arm_w": rng.uniform(0.045, 0.07),
        "leg_w": rng.uniform(0.08, 0.12),
        "pattern": int(rng.integers(0, 5)),
        "period": rng.uniform(0.03, 0.065),
        "long_sleeves": bool(rng.random() < 0.5),
        "lower_style": int(rng.choice(3, p=[0.6, 0.2, 0.2])),
        "long_hair": bool(rng.random() < 0.35),
        "hat": bool(rng.random() < 0.3),
        "bag": int(rng.choice([0, -1, 1], p=[0.4, 0.3, 0.3])),
        "bag_size": rng.uniform(0.1, 0.16),
    }
    # Visible colours.
    upper = _colour(rng, (0.25, 1.0), (0.2, 1.0))
    lower = _colour(rng, (0.1, 0.9), (0.1, 0.9))
    visible = {
        "upper": upper,
        "upper2": _contrasting(rng, upper),
        "lower": lower,
        "lower2": _contrasting(rng, lower),
        "skin": _colour(rng, (0.25, 0.6), (0.35, 0.95), hue=(0.02, 0.1)),
        "hair": _colour(rng, (0.0, 0.6), (0.03, 0.45)),
        "shoes": _colour(rng, (0.0, 0.5), (0.05, 0.6)),
        "bag": _colour(rng, (0.0, 1.0), (0.1, 0.9)),
        "hat": _colour(rng, (0.0, 1.0), (0.1, 1.0)),
    }
    # Infrared intensities: independent draws, never derived from the colours above.
    upper_ir = rng.uniform(0.1, 0.95)
    lower_ir = rng.uniform(0.1, 0.9)
    infrared_values = {
        "upper": upper_ir,
        "upper2": _offset_intensity(rng, upper_ir),
        "lower": lower_ir,
        "lower2": _offset_intensity(rng, lower_ir),
        "skin": rng.uniform(0.65, 0.98),
        "hair": rng.uniform(0.05, 0.35),
        "shoes": rng.uniform(0.05, 0.45),
        "bag": rng.uniform(0.1, 0.9),
        "hat": rng.uniform(0.1, 0.9),
    }
    infrared = {k: np.full((1, 1, 1), v, dtype=np.float32) for k, v in infrared_values.items()}
    visible = {k: v.reshape(3, 1, 1) for k, v in visible.items()}
    # The float, int and bool fields of _Identity.
    fields: dict[str, Any] = {
        k: float(v) if isinstance(v, float) else v for k, v in geometry.items()
    }
    return _Identity(**fields, palettes=(visible, infrared))


@dataclass(frozen=True)
class _Camera:
    """One camera in one modality."""

    channels: int
    width: int
    background: np.ndarray  # (channels, H, W + W // 2) float32, cropped per image
    gain: np.ndarray  # (channels, 1, 1)
    flip_p: float
    x_shift: float  # fraction of the width
    y_shift: float  # fraction of the height
    scale: float  # person height / image height
    noise: float  # standard deviation, intensities in [0, 1]
    blur: float  # weight of each neighbour in a 3-tap blur, applied along both axes


def _make_camera(
    seed: int,
    dataset: int,
    cam: int,
    location: int,
    modality: int,
    size: tuple[int, int],
    difficulty: float,
) -> _Camera:
    h, w = size
    wb = w + w // 2
    channels = 3 if modality == _VIS else 1
    geo = _rng(seed, _SCENE, dataset, location)  # the place: shared by co-located cameras
    horizon = round(geo.uniform(0.55, 0.75) * h)
    floor_period = max(2, round(geo.uniform(0.05, 0.12) * h))
    band = sorted(round(v * h) for v in geo.uniform(0.1, 0.45, 2))
    pillars = [
        (int(geo.uniform(0, 1) * wb), max(1, int(geo.uniform(0.06, 0.2) * wb)))
        for _ in range(int(geo.integers(1, 4)))
    ]
    wave = geo.uniform(0.5, 3.0), geo.uniform(0, 2 * math.pi)

    rng = _rng(seed, _CAMERA, dataset, cam, modality)  # its look in this modality

    def paint() -> np.ndarray:
        if modality == _VIS:
            return _colour(rng, (0.0, 0.5), (0.25, 0.9))
        return np.array([rng.uniform(0.04, 0.6)], dtype=np.float32)

    wall_top, wall_bottom, floor, band_colour, pillar = (paint() for _ in range(5))
    bg = np.empty((h, wb, channels), dtype=np.float32)
    t = np.linspace(0.0, 1.0, max(horizon, 1), dtype=np.float32)[:horizon, None, None]
    bg[:horizon] = wall_top * (1 - t) + wall_bottom * t
    bg[horizon:] = floor
    bg[horizon::floor_period] *= np.float32(0.7)
    bg[band[0] : min(band[1], horizon)] = band_colour
    for x0, width in pillars:
        bg[: min(h, horizon + 2), x0 : x0 + width] = pillar
        bg[: min(h, horizon + 2), x0 : x0 + 1] *= np.float32(0.75)
    x = np.arange(wb, dtype=np.float32)
    bg *= (1 + 0.12 * np.sin(2 * math.pi * wave[0] * x / wb + wave[1]))[None, :, None]

    if modality == _VIS:
        gain = rng.uniform(0.8, 1.15) * (1 + rng.uniform(-0.12, 0.12, 3))
        noise = (1.5 + 8 * difficulty) / 255 * rng.uniform(0.7, 1.3)
        blur = (0.04 + 0.16 * difficulty) * rng.uniform(0.7, 1.3)
    else:
        gain = np.array([rng.uniform(0.85, 1.15)])
        noise = (3.0 + 12 * difficulty) / 255 * rng.uniform(0.7, 1.3)
        blur = (0.12 + 0.16 * difficulty) * rng.uniform(0.7, 1.3)
    return _Camera(
        channels=channels,
        width=w,
        background=np.ascontiguousarray(np.clip(bg, 0, 1).transpose(2, 0, 1)),
        gain=gain.astype(np.float32).reshape(-1, 1, 1),
        flip_p=float(rng.choice([0.15, 0.85])),
        x_shift=float(rng.uniform(-0.04, 0.04)),
        y_shift=float(rng.uniform(-0.015, 0.015)),
        scale=float(rng.uniform(0.86, 0.94)),
        noise=float(noise),
        blur=float(blur),
    )


# --- drawing -------------------------------------------------------------------------------


# Images are drawn channel-first, (C, H, W) float32 in [0, 1], and colours are (C, 1, 1) arrays:
# NumPy broadcasts those much faster than a trailing axis of length 3.


def _box(img: np.ndarray, y0: float, y1: float, x0: float, x1: float) -> tuple[int, ...] | None:
    h, w = img.shape[1:]
    a, b = max(round(y0), 0), min(round(y1), h)
    c, d = max(round(x0), 0), min(round(x1), w)
    return (a, b, c, d) if a < b and c < d else None


def _rect(img: np.ndarray, y0: float, y1: float, x0: float, x1: float, colour: np.ndarray) -> None:
    box = _box(img, y0, y1, x0, x1)
    if box is not None:
        img[:, box[0] : box[1], box[2] : box[3]] = colour


def _patterned(
    img: np.ndarray,
    y0: float,
    y1: float,
    x0: float,
    x1: float,
    c1: np.ndarray,
    c2: np.ndarray,
    pattern: int,
    period: int,
) -> None:
    box = _box(img, y0, y1, x0, x1)
    if box is None:
        return
    a, b, c, d = box
    if pattern == _PLAIN:
        img[:, a:b, c:d] = c1
        return
    # Coordinates relative to the garment's own corner, so clipping does not shift the pattern.
    oy, ox = round(y0), round(x0)
    ys = np.arange(a - oy, b - oy)[:, None] // period
    xs = np.arange(c - ox, d - ox)[None, :] // period
    if pattern == _HSTRIPES:
        mask = ys % 2 == 1
    elif pattern == _VSTRIPES:
        mask = xs % 2 == 1
    elif pattern == _CHECKS:
        mask = (ys + xs) % 2 == 1
    else:
        ys = np.arange(a - oy, b - oy)[:, None]
        xs = np.arange(c - ox, d - ox)[None, :]
        mask = ((ys + xs) // period) % 2 == 1
    img[:, a:b, c:d] = np.where(mask, c2, c1)


def _ellipse(
    img: np.ndarray,
    cy: float,
    cx: float,
    ry: float,
    rx: float,
    colour: np.ndarray,
    top_part: float = 2.0,
) -> None:
    """Fill an ellipse; with ``top_part < 2`` only its top ``top_part × ry`` rows."""
    box = _box(img, cy - ry, min(cy + ry + 1, cy - ry + top_part * ry), cx - rx, cx + rx + 1)
    if box is None:
        return
    a, b, c, d = box
    ys = (np.arange(a, b) + (0.5 - cy)) / ry
    xs = (np.arange(c, d) + (0.5 - cx)) / rx
    mask = (ys * ys)[:, None] + (xs * xs)[None, :] <= 1.0
    np.copyto(img[:, a:b, c:d], colour, where=mask)


def _strap(
    img: np.ndarray, y0: float, y1: float, xa: float, xb: float, width: float, colour: np.ndarray
) -> None:
    """A straight band from (y0, xa) to (y1, xb)."""
    box = _box(img, y0, y1, min(xa, xb) - width, max(xa, xb) + width)
    if box is None:
        return
    a, b, c, d = box
    ys = np.arange(a, b, dtype=np.float32)[:, None]
    xs = np.arange(c, d, dtype=np.float32)[None, :]
    centre = xa + (xb - xa) * (ys - y0) / max(y1 - y0, 1.0)
    np.copyto(img[:, a:b, c:d], colour, where=np.abs(xs - centre) <= width / 2)


def _blur(img: np.ndarray, weight: float) -> np.ndarray:
    """Separable 3-tap blur ``[w, 1 - 2w, w]`` along rows and columns, edges replicated.

    Neighbours are taken on the flattened image (offset ``W`` for rows, 1 for columns), which
    keeps every operation on contiguous memory; the first and last row or column, which get
    wrong neighbours that way, are recomputed.
    """
    w = np.float32(weight)
    a = np.float32(1 - 2 * weight)
    width = img.shape[2]
    for step in (width, 1):
        flat = img.reshape(-1)
        out = flat * a
        pairs = flat[: -2 * step] + flat[2 * step :]
        pairs *= w
        out[step:-step] += pairs
        out = out.reshape(img.shape)
        edge = (slice(None), 0) if step == width else (slice(None), slice(None), 0)
        after = (slice(None), 1) if step == width else (slice(None), slice(None), 1)
        last = (slice(None), -1) if step == width else (slice(None), slice(None), -1)
        before = (slice(None), -2) if step == width else (slice(None), slice(None), -2)
        out[edge] = a * img[edge] + w * (img[edge] + img[after])
        out[last] = a * img[last] + w * (img[last] + img[before])
        img = out
    return img


def _render(
    ident: _Identity, cam: _Camera, rng: np.random.Generator, difficulty: float
) -> Image.Image:
    """One RGB image; infrared cameras give three equal channels."""
    d = difficulty
    h, wb = cam.background.shape[1:]
    w = cam.width
    pal = ident.palettes[0 if cam.channels == 3 else 1]
    u = rng.random(20).tolist()
    ox = int(u[0] * (wb - w + 1))
    img = cam.background[:, :, ox : ox + w].copy()

    # Person box and pose.
    ph = h * cam.scale * (1 + (0.02 + 0.10 * d) * (2 * u[1] - 1))
    top = (h - ph) / 2 + h * (cam.y_shift + (0.005 + 0.03 * d) * (2 * u[2] - 1))
    cx = w / 2 + w * (cam.x_shift + (0.02 + 0.06 * d) * (2 * u[3] - 1))
    lean = (0.01 + 0.04 * d) * (2 * u[4] - 1) * ph
    gap = (0.02 + (0.03 + 0.1 * d) * u[5]) * ph
    swing = (0.01 + 0.05 * d) * (2 * u[6] - 1) * ph
    back = u[7] < 0.3

    ry = ident.head * ph
    rx = ry * ident.head_aspect
    head_y = top + ry
    torso_top = top + 1.9 * ry
    th, tw = ident.torso_h * ph, ident.torso_w * ph
    tcx = cx + lean
    hip = torso_top + th
    foot = top + ph
    shoe = foot - 0.035 * ph
    lw = ident.leg_w * ph
    aw = ident.arm_w * ph
    period = max(2, round(ident.period * ph))

    # Long hair behind the shoulders (front view: covered by the torso).
    if ident.long_hair and not back:
        _rect(img, head_y, torso_top + 0.04 * ph, tcx - rx * 0.95, tcx + rx * 0.95, pal["hair"])
    # Legs and lower garment.
    left, right = cx - gap / 2 - lw, cx + gap / 2
    for x0 in (left, right):
        _rect(img, hip, shoe, x0, x0 + lw, pal["skin"] if ident.lower_style else pal["lower"])
        _rect(img, shoe, foot, x0 - 0.01 * ph, x0 + lw + 0.01 * ph, pal["shoes"])
    if ident.lower_style == _SHORTS:
        for x0 in (left, right):
            _rect(img, hip, hip + 0.45 * (shoe - hip), x0, x0 + lw, pal["lower"])
    if ident.lower_style == _SKIRT:
        _patterned(
            img,
            hip - 0.01 * ph,
            hip + 0.45 * (shoe - hip),
            tcx - tw * 0.55,
            tcx + tw * 0.55,
            pal["lower"],
            pal["lower2"],
            _HSTRIPES,
            3 * period,
        )
    else:
        _rect(img, hip - 0.01 * ph, hip + 0.08 * ph, left, right + lw, pal["lower"])
    # Arms (sleeve, then the bare part and the hand).
    arm_end = torso_top + 0.95 * th
    for x0, dy in ((tcx - tw / 2 - aw, swing), (tcx + tw / 2, -swing)):
        _rect(img, torso_top + 0.02 * ph, arm_end + dy, x0, x0 + aw, pal["skin"])
        sleeve_end = arm_end + dy - 0.04 * ph if ident.long_sleeves else torso_top + 0.4 * th
        _rect(img, torso_top + 0.02 * ph, sleeve_end, x0, x0 + aw, pal["upper"])
    # Torso with its pattern.
    _patterned(
        img,
        torso_top,
        hip,
        tcx - tw / 2,
        tcx + tw / 2,
        pal["upper"],
        pal["upper2"],
        ident.pattern,
        period,
    )
    if ident.long_hair and back:
        _rect(img, head_y, torso_top + 0.04 * ph, tcx - rx * 0.95, tcx + rx * 0.95, pal["hair"])
    # Bag with a strap from the opposite shoulder.
    if ident.bag:
        side = ident.bag
        bs = ident.bag_size * ph
        bag_x = tcx + side * (tw / 2 + aw * 0.5)
        bag_y = torso_top + 0.55 * th
        _strap(
            img, torso_top, bag_y, tcx - side * tw * 0.35, bag_x, max(1.0, 0.018 * ph), pal["bag"]
        )
        _rect(img, bag_y, bag_y + bs, bag_x - bs / 2, bag_x + bs / 2, pal["bag"])
    # Head, hair, hat.
    _ellipse(img, head_y, tcx, ry, rx, pal["hair"] if back else pal["skin"])
    if not back:
        _ellipse(img, head_y, tcx, ry, rx, pal["hair"], top_part=0.65)
    if ident.hat:
        _rect(
            img, head_y - 1.15 * ry, head_y - 0.4 * ry, tcx - 1.05 * rx, tcx + 1.05 * rx, pal["hat"]
        )
        brim = -1 if back else 1
        _rect(
            img,
            head_y - 0.55 * ry,
            head_y - 0.35 * ry,
            tcx + brim * 0.2 * rx,
            tcx + brim * 1.7 * rx,
            pal["hat"],
        )

    # Occlusion: an object in front of the person, from the bottom or one side.
    if u[8] < 0.45 * d:
        colour = np.array(u[9 : 9 + cam.channels], dtype=np.float32).reshape(-1, 1, 1) * 0.9 + 0.05
        extent = 0.15 + 0.3 * d * u[12]
        if u[13] < 0.5:
            _rect(img, h * (1 - extent), h, w * u[14] * 0.5, w * (0.5 + u[14] * 0.5), colour)
        else:
            x0 = w * (1 - extent) if u[14] < 0.5 else 0.0
            _rect(img, 0, h, x0, x0 + w * extent, colour)

    # Camera: illumination, optics, sensor.
    img *= cam.gain * np.float32(1 + (0.05 + 0.25 * d) * (2 * u[15] - 1))
    if cam.blur > 0:
        img = _blur(img, cam.blur)
    # Zero-mean uniform sensor noise of standard deviation cam.noise, from random bytes (a
    # fraction of the cost of a Gaussian draw).
    noise = np.frombuffer(rng.bytes(img.size), dtype=np.uint8).reshape(img.shape)
    noise = noise.astype(np.float32)
    noise -= np.float32(127.5)
    noise *= np.float32(cam.noise * 255 / _UNIFORM_BYTE_STD)
    img *= np.float32(255)
    img += noise
    img += np.float32(0.5)
    pixels = np.clip(img, 0, 255).astype(np.uint8)
    h, w = pixels.shape[1:]
    planes = [Image.frombytes("L", (w, h), plane.tobytes()) for plane in pixels]
    image = Image.merge("RGB", planes) if len(planes) == 3 else planes[0].convert("RGB")
    if u[16] < cam.flip_p:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, "JPEG", quality=quality)
    else:
        image.save(buffer, fmt)
    return buffer.getvalue()


class _Painter:
    """Caches identities and cameras of one generated dataset; draws and encodes images."""

    def __init__(self, seed: int, dataset: int, size: tuple[int, int], difficulty: float):
        self.seed, self.dataset, self.size, self.difficulty = seed, dataset, size, difficulty
        self._identities: dict[int, _Identity] = {}
        self._cameras: dict[tuple[int, int], _Camera] = {}

    def image(
        self, pid: int, cam: int, location: int, modality: int, k: int, fmt: str, quality: int = 90
    ) -> bytes:
        ident = self._identities.get(pid)
        if ident is None:
            ident = self._identities[pid] = _make_identity(self.seed, self.dataset, pid)
        camera = self._cameras.get((cam, modality))
        if camera is None:
            camera = _make_camera(
                self.seed, self.dataset, cam, location, modality, self.size, self.difficulty
            )
            self._cameras[(cam, modality)] = camera
        rng = _rng(self.seed, _IMAGE, self.dataset, pid, cam, modality, k)
        return _encode(_render(ident, camera, rng, self.difficulty), fmt, quality)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _common(seed: object, size: object, difficulty: object) -> tuple[int, tuple[int, int], float]:
    return _check_int("seed", seed, 0), _check_size(size), _check_difficulty(difficulty)


# --- SYSU-MM01 -----------------------------------------------------------------------------


def _sysu_cameras(seed: int, pid: int, is_test: bool, per_camera: int) -> dict[int, int]:
    """Image count of each camera that saw ``pid`` (absent cameras are left out)."""
    rng = _rng(seed, _LAYOUT, _SYSU, pid)
    u = rng.random(9)
    counts = per_camera + rng.integers(0, per_camera // 2 + 1, size=6)
    indoor = is_test or u[0] < 0.6
    present = {
        1: indoor and u[1] < 0.85,
        2: indoor and u[2] < 0.85,
        3: indoor and u[3] < 0.85,
        4: u[4] < 0.9,
        5: u[5] < 0.9,
        6: u[6] < 0.85,
    }
    if indoor and not (present[1] or present[2]):
        present[1 if u[7] < 0.5 else 2] = True
    if not any(present[c] for c in _SYSU_VISIBLE):
        present[4 if u[7] < 0.5 else 5] = True
    if not any(present[c] for c in _SYSU_INFRARED):
        present[3 if indoor and u[8] < 0.5 else 6] = True
    out = {}
    for cam in range(1, 7):
        if present[cam]:
            n = int(counts[cam - 1])
            out[cam] = max(n, _MULTI_SHOT) if is_test and cam in _SYSU_VISIBLE else n
    return out


def _write_rand_perm_cam(
    path: Path, seed: int, counts: dict[tuple[int, int], int], max_pid: int
) -> bool:
    """Write ``rand_perm_cam.mat`` in the official structure; ``False`` when SciPy is missing."""
    try:
        from scipy.io import savemat
    except ImportError:
        return False
    cells = np.empty((6, 1), dtype=object)
    for cam in range(1, 7):
        rows = np.empty((max_pid, 1), dtype=object)
        for pid in range(1, max_pid + 1):
            n = counts.get((cam, pid), 0)
            rng = _rng(seed, _PERM, _SYSU, cam, pid)
            perms = [rng.permutation(n) + 1 for _ in range(10)]
            rows[pid - 1, 0] = np.stack(perms).astype(np.min_scalar_type(max(n, 1)))
        cells[cam - 1, 0] = rows
    buffer = io.BytesIO()
    savemat(buffer, {"rand_perm_cam": cells})
    data = bytearray(buffer.getvalue())
    # The 116-byte text header carries a creation time; make it fixed so files are reproducible.
    text = f"MATLAB 5.0 MAT-file, written by vireid.data.synthetic, seed {seed}".encode()
    data[:116] = text[:116].ljust(116, b" ")
    _write(path, bytes(data))
    return True


def make_sysu_like(
    root: str | os.PathLike[str],
    num_ids: int = 32,
    *,
    seed: int = 0,
    size: tuple[int, int] = (128, 64),
    images_per_camera: int = 4,
    difficulty: float = 0.5,
    jpeg_quality: int = 90,
    overwrite: bool = False,
) -> Path:
    """Generate a synthetic dataset in the SYSU-MM01 layout (Wu et al., ICCV 2017).

    Layout:

    ```text
    <root>/cam1 … cam6/<pid:04d>/<k:04d>.jpg   k = 1..n consecutive per (camera, identity)
    <root>/exp/train_id.txt  val_id.txt  test_id.txt   one line of comma-separated ids
    <root>/exp/rand_perm_cam.mat                     only when SciPy is installed
    ```

    Cameras 1, 2, 4, 5 are visible, 3 and 6 infrared (3-channel JPEGs with equal channels);
    camera 3 shares camera 2's scene. Identities are ``1..num_ids``, split at random into
    about 55 % training, 20 % validation and 25 % test identities (each at least one). Like the
    real data, not every identity is seen by every camera: each identity is "indoor" (cameras
    1–3) with probability 0.6 and every camera drops some identities, but every identity has
    at least one visible and one infrared camera, every test identity is indoor with at least
    one of cameras 1 and 2, and every existing (test identity, visible camera) pair has at
    least 10 images so that 10-shot galleries never run short. Other pairs have
    ``images_per_camera`` to ``1.5 × images_per_camera`` images.

    ``exp/rand_perm_cam.mat`` has the official structure: one variable ``rand_perm_cam``, a
    6×1 cell; entry ``c - 1`` is a ``(num_ids, 1)`` cell whose entry ``pid - 1`` is a 10×n
    integer matrix, row ``t`` a seeded permutation of the image numbers 1..n (10×0 for an
    absent pair). Without SciPy the file is skipped: read the tree with
    ``SYSUMM01(root, official_split=False)`` and ``sampler="agw"``, which needs no file.

    Infrared intensities are drawn independently of the visible colours; see the module
    documentation for what is shared across modalities.

    Args:
        root: Output folder; created if missing. It must be new or empty unless ``overwrite``.
            The tree is written into a temporary sibling folder and renamed into place at
            the end, so an interrupted run leaves no partial tree behind.
        num_ids: Number of identities, 3..9999.
        seed: Non-negative seed; the same arguments give byte-identical files.
        size: Image size ``(height, width)``, at least ``(32, 16)``.
        images_per_camera: Smallest image count of an existing (identity, camera) pair, >= 1.
        difficulty: 0..1; scales noise, blur, pose/scale/offset jitter, illumination jitter
            and the probability and size of occlusions.
        jpeg_quality: JPEG quality, 1..100.
        overwrite: Allow a non-empty ``root``; the ``cam1``–``cam6`` and ``exp`` entries are
            removed first, anything else in it is left alone.

    Returns:
        The dataset folder ``root``.

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: an argument out of range (e.g. ``num_ids`` too small for the split).
        FileExistsError: ``root`` is not empty and ``overwrite`` is false.
        NotADirectoryError: ``root`` is a file.
    """
    num_ids = _check_int(
        "num_ids", num_ids, 3, _MAX_PID, " (one identity each for the train, val and test lists)"
    )
    seed, size, difficulty = _common(seed, size, difficulty)
    per_camera = _check_int("images_per_camera", images_per_camera, 1)
    quality = _check_int("jpeg_quality", jpeg_quality, 1, 100)
    with _staged_root(root, overwrite, [f"cam{c}" for c in range(1, 7)] + ["exp"]) as path:
        n_test = max(1, round(0.25 * num_ids))
        n_val = max(1, round(0.2 * num_ids))
        train, val, test = _split(
            seed, _SYSU, np.arange(1, num_ids + 1), (num_ids - n_test - n_val, n_val, n_test)
        )
        test_set = set(test)
        counts: dict[tuple[int, int], int] = {}
        for pid in range(1, num_ids + 1):
            for cam, n in _sysu_cameras(seed, pid, pid in test_set, per_camera).items():
                counts[(cam, pid)] = n

        painter = _Painter(seed, _SYSU, size, difficulty)
        for (cam, pid), n in sorted(counts.items(), key=lambda item: (item[0][1], item[0][0])):
            modality = _VIS if cam in _SYSU_VISIBLE else _IR
            folder = path / f"cam{cam}" / f"{pid:04d}"
            folder.mkdir(parents=True)
            for k in range(1, n + 1):
                data = painter.image(pid, cam, _SYSU_LOCATION[cam], modality, k, "JPEG", quality)
                (folder / f"{k:04d}.jpg").write_bytes(data)
        for cam in range(1, 7):
            (path / f"cam{cam}").mkdir(exist_ok=True)

        exp = path / "exp"
        exp.mkdir()
        for name, ids in (("train", train), ("val", val), ("test", test)):
            (exp / f"{name}_id.txt").write_text(",".join(str(i) for i in ids) + "\n")
        _write_rand_perm_cam(exp / "rand_perm_cam.mat", seed, counts, num_ids)
    return Path(root).expanduser()


# --- RegDB ---------------------------------------------------------------------------------


def make_regdb_like(
    root: str | os.PathLike[str],
    num_ids: int = 20,
    *,
    seed: int = 0,
    size: tuple[int, int] = (128, 64),
    images_per_person: int = 10,
    difficulty: float = 0.5,
    overwrite: bool = False,
) -> Path:
    """Generate a synthetic dataset in the RegDB layout (Nguyen et al., Sensors 2017).

    Layout:

    ```text
    <root>/Visible/<pid>/v_<pid:04d>_<k:02d>.bmp    images_per_person per identity
    <root>/Thermal/<pid>/t_<pid:04d>_<k:02d>.bmp    the same identities (same folder numbers)
    <root>/idx/train_visible_{1..10}.txt  train_thermal_{1..10}.txt
    <root>/idx/test_visible_{1..10}.txt   test_thermal_{1..10}.txt
    ```

    Identities are ``1..num_ids`` (folder names without padding). Each index line is
    ``<path relative to root><space><label>``, the path starting with ``Visible/`` or
    ``Thermal/``. Split ``t`` puts a seeded random half of the identities (``num_ids // 2``)
    in training and the rest in test, a different half per split. The label column is the
    rank of the identity within its half (contiguous ``0..n-1`` in both the train and the test
    files), so it induces the same partition as the folder names. Lines are sorted by
    identity, then image.

    One visible and one thermal camera at the same place (they share the scene geometry).
    Thermal images are single-intensity, stored as RGB BMPs with three equal channels, with
    intensities drawn independently of the visible colours; see the module documentation for
    what is shared across modalities.

    Args:
        root: Output folder; created if missing. It must be new or empty unless ``overwrite``.
            The tree is written into a temporary sibling folder and renamed into place at
            the end, so an interrupted run leaves no partial tree behind.
        num_ids: Number of identities, >= 2.
        seed: Non-negative seed; the same arguments give byte-identical files.
        size: Image size ``(height, width)``, at least ``(32, 16)``.
        images_per_person: Images per identity and modality, >= 1 (RegDB has 10).
        difficulty: 0..1; scales noise, blur, pose/scale/offset jitter, illumination jitter
            and the probability and size of occlusions.
        overwrite: Allow a non-empty ``root``; the ``Visible``, ``Thermal`` and ``idx``
            entries are removed first, anything else in it is left alone.

    Returns:
        The dataset folder ``root``.

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: an argument out of range (e.g. ``num_ids`` below 2).
        FileExistsError: ``root`` is not empty and ``overwrite`` is false.
        NotADirectoryError: ``root`` is a file.
    """
    num_ids = _check_int(
        "num_ids", num_ids, 2, None, " (one training and one test identity per split)"
    )
    seed, size, difficulty = _common(seed, size, difficulty)
    per_person = _check_int("images_per_person", images_per_person, 1)
    with _staged_root(root, overwrite, ["Visible", "Thermal", "idx"]) as path:
        painter = _Painter(seed, _REGDB, size, difficulty)
        files: dict[tuple[str, int], list[str]] = {}
        for pid in range(1, num_ids + 1):
            for cam, (folder, prefix, modality) in enumerate(
                (("Visible", "v", _VIS), ("Thermal", "t", _IR)), start=1
            ):
                names = []
                for k in range(1, per_person + 1):
                    rel = f"{folder}/{pid}/{prefix}_{pid:04d}_{k:02d}.bmp"
                    _write(path / rel, painter.image(pid, cam, 1, modality, k, "BMP"))
                    names.append(rel)
                files[(folder, pid)] = names

        idx = path / "idx"
        idx.mkdir()
        pids = np.arange(1, num_ids + 1)
        for trial in range(1, 11):
            train, test = _split(seed, _REGDB, pids, (num_ids // 2, num_ids - num_ids // 2), trial)
            for part, ids in (("train", train), ("test", test)):
                for folder, name in (("Visible", "visible"), ("Thermal", "thermal")):
                    lines = [
                        f"{rel} {label}"
                        for label, pid in enumerate(ids)
                        for rel in files[(folder, pid)]
                    ]
                    (idx / f"{part}_{name}_{trial}.txt").write_text("\n".join(lines) + "\n")
    return Path(root).expanduser()


# --- LLCM ----------------------------------------------------------------------------------


def _llcm_sequences(seed: int, pid: int, per_camera: int) -> list[tuple[int, int, int, list[int]]]:
    """``(modality, camera, sequence, frames)`` of every sequence that recorded ``pid``."""
    rng = _rng(seed, _LAYOUT, _LLCM, pid)
    out = []
    for modality, cams in ((_VIS, _LLCM_CAMS), (_IR, _LLCM_NIR_CAMS)):
        chosen = rng.choice(len(cams), size=int(rng.integers(1, 4)), replace=False)
        for cam in sorted(cams[i] for i in chosen):
            # Even sequence numbers are VIS recordings, odd ones NIR: one mode per sequence.
            sequence = 2 * int(rng.integers(50000, 500000)) + modality
            start, step = int(rng.integers(1, 9000)), int(rng.integers(5, 41))
            n = per_camera + int(rng.integers(0, per_camera // 2 + 1))
            out.append((modality, cam, sequence, [start + step * i for i in range(n)]))
    return out


def make_llcm_like(
    root: str | os.PathLike[str],
    num_ids: int = 24,
    *,
    seed: int = 0,
    size: tuple[int, int] = (128, 64),
    images_per_camera: int = 4,
    difficulty: float = 0.5,
    jpeg_quality: int = 90,
    overwrite: bool = False,
) -> Path:
    """Generate a synthetic dataset in the LLCM layout (Zhang & Wang, CVPR 2023).

    Layout:

    ```text
    <root>/idx/train_vis.txt  train_nir.txt   "<relative path> <label>", labels 0..C-1
    <root>/idx/test_vis.txt   test_nir.txt    same format, labels 0..T-1
    <root>/idx/test_id.txt                    one line: comma-separated test pids
    <root>/vis/<pid4>/<file>   <root>/nir/<pid4>/<file>
    <root>/test_vis/cam1 … cam9/<pid4>/<file>           the test images again, by camera
    <root>/test_nir/cam1, cam2, cam4 … cam9/<pid4>/<file>
    ```

    File names are ``<pid4>_c<cc>_s<sequence>_f<frame>_<vis|nir>.jpg``, e.g.
    ``0351_c06_s200656_f4830_nir.jpg``. Identities are ``1..num_ids``; a seeded third (at
    least one) are test identities, the rest training identities. Labels are the rank of the
    identity among the training (or test) identities, the same in the VIS and NIR lists.
    The per-camera test folders hold byte-identical copies of the images listed in
    ``test_*.txt``; all camera folders are created, even when empty.

    Nine cameras, numbered 1..9 in both modalities. Each identity is recorded in one to three
    visible sequences (cameras 1..9) and one to three NIR sequences (cameras 1, 2, 4..9; no
    NIR camera 3, as in the LLCM test lists). A sequence is one camera in one mode, so a
    camera number can occur in both modalities over the dataset, with the same scene geometry.
    Sequences have ``images_per_camera`` to ``1.5 × images_per_camera`` frames. NIR images are
    3-channel JPEGs with equal channels, intensities drawn independently of the visible
    colours; see the module documentation for what is shared across modalities.

    Args:
        root: Output folder; created if missing. It must be new or empty unless ``overwrite``.
            The tree is written into a temporary sibling folder and renamed into place at
            the end, so an interrupted run leaves no partial tree behind.
        num_ids: Number of identities, 2..9999.
        seed: Non-negative seed; the same arguments give byte-identical files.
        size: Image size ``(height, width)``, at least ``(32, 16)``.
        images_per_camera: Smallest frame count of a sequence, >= 1.
        difficulty: 0..1; scales noise, blur, pose/scale/offset jitter, illumination jitter
            and the probability and size of occlusions.
        jpeg_quality: JPEG quality, 1..100.
        overwrite: Allow a non-empty ``root``; the ``idx``, ``vis``, ``nir``, ``test_vis`` and
            ``test_nir`` entries are removed first, anything else in it is left alone.

    Returns:
        The dataset folder ``root``.

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: an argument out of range (e.g. ``num_ids`` below 2).
        FileExistsError: ``root`` is not empty and ``overwrite`` is false.
        NotADirectoryError: ``root`` is a file.
    """
    num_ids = _check_int(
        "num_ids", num_ids, 2, _MAX_PID, " (at least one training and one test identity)"
    )
    seed, size, difficulty = _common(seed, size, difficulty)
    per_camera = _check_int("images_per_camera", images_per_camera, 1)
    quality = _check_int("jpeg_quality", jpeg_quality, 1, 100)
    with _staged_root(root, overwrite, ["idx", "vis", "nir", "test_vis", "test_nir"]) as path:
        n_test = max(1, round(num_ids / 3))
        train, test = _split(seed, _LLCM, np.arange(1, num_ids + 1), (num_ids - n_test, n_test))
        test_set = set(test)
        for cam in _LLCM_CAMS:
            (path / "test_vis" / f"cam{cam}").mkdir(parents=True)
        for cam in _LLCM_NIR_CAMS:
            (path / "test_nir" / f"cam{cam}").mkdir(parents=True)

        painter = _Painter(seed, _LLCM, size, difficulty)
        lists: dict[tuple[str, str], list[str]] = {}
        labels = {pid: i for i, pid in enumerate(train)} | {pid: i for i, pid in enumerate(test)}
        for pid in range(1, num_ids + 1):
            part = "test" if pid in test_set else "train"
            for modality, cam, sequence, frames in _llcm_sequences(seed, pid, per_camera):
                mod = "vis" if modality == _VIS else "nir"
                for k, frame in enumerate(frames, start=1):
                    name = f"{pid:04d}_c{cam:02d}_s{sequence}_f{frame}_{mod}.jpg"
                    data = painter.image(pid, cam, cam, modality, k, "JPEG", quality)
                    rel = f"{mod}/{pid:04d}/{name}"
                    _write(path / rel, data)
                    lists.setdefault((part, mod), []).append(f"{rel} {labels[pid]}")
                    if part == "test":
                        _write(path / f"test_{mod}" / f"cam{cam}" / f"{pid:04d}" / name, data)

        idx = path / "idx"
        idx.mkdir()
        for part in ("train", "test"):
            for mod in ("vis", "nir"):
                lines = lists.get((part, mod), [])
                (idx / f"{part}_{mod}.txt").write_text("".join(line + "\n" for line in lines))
        (idx / "test_id.txt").write_text(",".join(str(p) for p in test) + "\n")
    return Path(root).expanduser()
