"""Benchmark of MCJA's visible training augmentation: per-image PIL/NumPy against batched tensors.

The workload is the MCJA visible-image training pipeline (spec mcja.md §1.5): resize, one
colour/VIMC slot out of four (hue jitter / weighted grayscale / cross-channel cutmix / spectrum
jitter, each applied with p 0.5), horizontal flip, pad 10 with 127 + random crop, to tensor,
ImageNet normalisation, random erasing (p 0.5, value 0). Every path turns the same batch of
images into a normalised float32 batch ``(B, 3, H, W)``:

* (a) **reference, per image** — the reference's structure, re-implemented here: a Python
  loop over PIL images; WG / CC / SJ as NumPy channel algebra (SJ blends with Pillow's
  ``Image.blend``, as the reference), hue jitter, flip, pad, crop, ``ToTensor``, ``Normalize``
  and ``RandomErasing`` from ``torchvision.transforms``; then ``torch.stack`` (the collation).
* (b) **vireid per image** — ``vireid.augment.presets.mcja_train(size)`` on each PIL image,
  then ``torch.stack``.
* (c) **vireid batched, CPU** — ``BatchAugment("mcja", size)(batch, modality)`` on a uint8
  ``(B, 3, H, W)`` batch with every image visible (modality 0). Row (c+) also counts the
  per-image PIL → uint8 tensor conversion and stacking the DataLoader then does instead of the
  per-image augmentation, i.e. the end-to-end cost of moving augmentation after collation.
* (d) **vireid batched, CUDA** — as (c) with the batch already on the GPU (when available).

If ``vireid.augment.presets`` cannot be imported (it is developed alongside this script), (b)
is skipped and (c)/(d) are replaced by (c*)/(d*): a minimal vectorised pipeline written in this
file from ``vireid.augment.functional`` (per-sample WG / CC / SJ and hue jitter, flip, pad-crop,
normalise, erasing). ``--minimal`` adds those rows even when the presets import.

Input images: ``vireid.data.make_sysu_like`` writes a synthetic SYSU-MM01 tree (384×192 JPEGs)
into a temporary folder; the visible-camera images are decoded once, converted to RGB and
resized (PIL bilinear) to each benchmark size before timing, so decoding is not timed and the
pipelines' own resize step is a same-size copy for every path. ``--source random`` uses smooth
random images instead (upsampled uniform noise), without touching the disk.

Timing: one warm-up call per path, then ``--repeats`` rounds that time every path once (so
load from other processes hits all paths alike); the best round counts. Each call processes
the same ``--batch`` images. Throughput is images per second; "vs (a)" is the speed-up over
path (a) at the same size. The per-image paths run in this one Python process: a DataLoader
with N workers would multiply them by up to N, while the batched CPU path uses torch's
intra-op threads (``--threads``; compare with ``--threads 1`` for a per-core figure).

Target: (c) ≥ 3× (a) images/s on the CPU.

Run::

    python benchmarks/bench_augment.py --out bench_augment.json
    python benchmarks/bench_augment.py --threads 1 --sizes 384x192
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms.functional import pil_to_tensor

from vireid.augment import functional as VF

try:
    from vireid.augment.presets import BatchAugment, mcja_train

    PRESETS_ERROR: str | None = None
except Exception as err:  # any import-time failure of the module under development
    BatchAugment = mcja_train = None  # type: ignore[assignment,misc]
    PRESETS_ERROR = f"{type(err).__name__}: {err}"

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
Size = tuple[int, int]


# --- (a) the reference's per-image pipeline, re-implemented -----------------------------------


class RefWeightedGrayscale:
    """WG per image (mcja.md §1.1): normalised uniform weights, float64 NumPy, truncation."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Image.Image) -> Image.Image:
        """Transform one RGB image with probability ``p``."""
        if random.uniform(0, 1) > self.p:
            return img
        u = [random.uniform(0, 1) for _ in range(3)]
        total = sum(u)
        arr = np.asarray(img)
        y = arr[..., 0] * (u[0] / total) + arr[..., 1] * (u[1] / total)
        y = (y + arr[..., 2] * (u[2] / total)).astype(np.uint8)
        return Image.fromarray(np.dstack([y, y, y]))


class RefChannelCutMix:
    """CC per image (mcja.md §1.2, [fix] geometry, on a copy; empty box if no attempt fits)."""

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3)) -> None:
        self.p, self.scale, self.log_ratio = p, scale, (math.log(ratio[0]), math.log(ratio[1]))

    def __call__(self, img: Image.Image) -> Image.Image:
        """Transform one RGB image with probability ``p``."""
        if random.uniform(0, 1) > self.p:
            return img
        arr = np.array(img)  # a writable copy (the reference wrote into a read-only view)
        size_h, size_w = arr.shape[:2]
        top = left = h = w = 0
        for _ in range(10):
            area = size_h * size_w * random.uniform(*self.scale)
            r = math.exp(random.uniform(*self.log_ratio))
            hh, ww = round(math.sqrt(area * r)), round(math.sqrt(area / r))
            if hh < size_h and ww < size_w:
                h, w = hh, ww
                top, left = random.randint(0, size_h - h), random.randint(0, size_w - w)
                break
        b, f = random.sample(range(3), 2)
        out = arr[..., b].copy()
        out[top : top + h, left : left + w] = arr[top : top + h, left : left + w, f]
        return Image.fromarray(np.dstack([out, out, out]))


class RefSpectrumJitter:
    """SJ per image (mcja.md §1.3): one channel D, then Pillow's blend D + α(I − D)."""

    def __init__(self, p: float = 0.5, factor=(0.0, 1.0)) -> None:
        self.p, self.factor = p, factor

    def __call__(self, img: Image.Image) -> Image.Image:
        """Transform one RGB image with probability ``p``."""
        if random.uniform(0, 1) > self.p:
            return img
        c = random.randint(0, 2)
        d = np.asarray(img)[..., c]
        return Image.blend(Image.fromarray(np.dstack([d, d, d])), img, random.uniform(*self.factor))


def reference_pipeline(size: Size) -> Callable[[Image.Image], torch.Tensor]:
    """MCJA's visible training transform (mcja.md §1.5) as the reference composes it."""
    return T.Compose([
        T.Resize(size, interpolation=T.InterpolationMode.BILINEAR),
        T.RandomChoice([
            T.RandomApply([T.ColorJitter(hue=0.2)], p=0.5),
            RefWeightedGrayscale(p=0.5),
            RefChannelCutMix(p=0.5),
            RefSpectrumJitter(p=0.5),
        ]),
        T.RandomHorizontalFlip(0.5),
        T.Pad(10, fill=127),
        T.RandomCrop(size),
        T.ToTensor(),
        T.Normalize(MEAN, STD),
        T.RandomErasing(p=0.5, scale=(0.02, 0.3), ratio=(0.3, 3.3), value=0),
    ])  # fmt: skip


def _stack(transform: Callable[[Image.Image], torch.Tensor], pils: list) -> torch.Tensor:
    """Per-image transform in a Python loop, then the DataLoader's collation."""
    return torch.stack([transform(im) for im in pils])


# --- (c*) fallback: a minimal batched pipeline from vireid.augment.functional -----------------


def _uniform(n: int, low: float, high: float, gen, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen, device=device)


def _boxes(n: int, size: Size, scale, ratio, gen, device) -> torch.Tensor:
    """Random-erasing boxes ``(n, 4)``: 10 vectorised attempts, the first that fits, else empty."""
    size_h, size_w = size
    tries = 10
    area = size_h * size_w * _uniform(n * tries, *scale, gen, device).view(n, tries)
    r = torch.exp(_uniform(n * tries, math.log(ratio[0]), math.log(ratio[1]), gen, device))
    r = r.view(n, tries)
    h = torch.sqrt(area * r).round().long()
    w = torch.sqrt(area / r).round().long()
    ok = (h < size_h) & (w < size_w)
    first = ok.int().argmax(1, keepdim=True)  # index of the first fitting attempt
    found = ok.any(1)
    h = torch.where(found, h.gather(1, first).squeeze(1), 0)
    w = torch.where(found, w.gather(1, first).squeeze(1), 0)
    top = (torch.rand(n, generator=gen, device=device) * (size_h - h + 1)).long()
    left = (torch.rand(n, generator=gen, device=device) * (size_w - w + 1)).long()
    return torch.stack([top, left, h, w], 1)


def _hue_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Per-sample HSV hue rotation of uint8 images (what ``ColorJitter(hue=…)`` does per image).

    Value and chroma are kept and the hue sextant ``h6 ∈ [0, 6)`` is rotated; RGB comes back
    through ``v − chroma·clamp(min(k, 4 − k), 0, 1)`` with ``k = (n + h6) mod 6``,
    ``n = (5, 3, 1)``, which needs no per-sextant table (few full-size temporaries on the CPU).
    """
    rgb = x.float()
    r, g, b = rgb.unbind(-3)
    v, lo = rgb.amax(-3), rgb.amin(-3)
    chroma = v - lo
    div = torch.where(chroma > 0, chroma, 1.0)
    h6 = torch.where(
        v == r, (g - b) / div, torch.where(v == g, (b - r) / div + 2, (r - g) / div + 4)
    )
    h6 = (h6 + 6.0 * shift.view(-1, 1, 1)).remainder_(6.0)
    k = (torch.tensor([5.0, 3.0, 1.0], device=x.device).view(3, 1, 1) + h6.unsqueeze(-3)) % 6.0
    ramp = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    out = v.unsqueeze(-3) - chroma.unsqueeze(-3) * ramp
    return out.round_().clamp_(0, 255).to(torch.uint8)


def _subset(
    x: torch.Tensor, pick: torch.Tensor, op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> None:
    """Apply ``op(images, indices)`` to the picked images only (no work on the others)."""
    idx = pick.nonzero().squeeze(1)
    if idx.numel():
        x[idx] = op(x[idx], idx)


def _pad_crop(x: torch.Tensor, pad: int, fill: int, gen) -> torch.Tensor:
    """Pad every side with ``fill``, then crop back at per-sample offsets in ``0..2·pad``.

    Vectorised without index tensors: a strided view holds every ``(top, left)`` window of each
    padded image, and indexing it with the per-sample offsets copies whole windows (a
    ``gather`` reads an int64 index per pixel and is about 5× slower on the CPU).
    """
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad,) * 4, value=fill)
    top = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=x.device)
    left = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=x.device)
    sn, sc, sh, sw = padded.stride()
    windows = padded.as_strided((n, 2 * pad + 1, 2 * pad + 1, c, h, w), (sn, sh, sw, sc, sh, sw))
    return windows[torch.arange(n, device=x.device), top, left]


class MinimalBatchMCJA:
    """MCJA's visible training pipeline on a uint8 batch, per-sample draws, from functional ops.

    On the CPU the batch is processed in chunks of ``chunk`` images written into one output
    tensor: batch-sized float temporaries (113 MB at 128×3×384×192) exceed glibc's largest
    mmap threshold, so each is a fresh mapping that page-faults in, and none fits a cache;
    chunk-sized ones are reused from the heap. On CUDA the whole batch is one chunk.
    """

    def __init__(
        self, size: Size, generator: torch.Generator | None = None, chunk: int = 16
    ) -> None:
        self.size, self.gen, self.chunk = size, generator, chunk

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """Augment a uint8 ``(B, 3, H, W)`` batch of visible images; returns normalised float32."""
        out = torch.empty(batch.shape, dtype=torch.float32, device=batch.device)
        step = batch.shape[0] if batch.is_cuda else self.chunk
        for dst, src in zip(out.split(step), batch.split(step), strict=True):
            self._chunk(src, dst)
        return out

    def _chunk(self, batch: torch.Tensor, out: torch.Tensor) -> None:
        gen, dev = self.gen, batch.device
        n = batch.shape[0]
        x = batch.clone()
        slot = torch.randint(0, 4, (n,), generator=gen, device=dev)
        fire = torch.rand(n, generator=gen, device=dev) <= 0.5
        # slot 0: hue jitter
        hue = _uniform(n, -0.2, 0.2, gen, dev)
        _subset(x, fire & (slot == 0), lambda im, i: _hue_shift(im, hue[i]))
        # slot 1: weighted grayscale, w = u / Σu
        u = torch.rand(n, 3, generator=gen, device=dev)
        weights = u / u.sum(1, keepdim=True)
        _subset(x, fire & (slot == 1), lambda im, i: VF.weighted_grayscale(im, weights[i]))
        # slot 2: cross-channel cutmix, an ordered pair of distinct channels
        boxes = _boxes(n, self.size, (0.02, 0.33), (0.3, 3.3), gen, dev)
        bg = torch.randint(0, 3, (n,), generator=gen, device=dev)
        fg = (bg + torch.randint(1, 3, (n,), generator=gen, device=dev)) % 3
        _subset(
            x,
            fire & (slot == 2),
            lambda im, i: VF.channel_cutmix(im, boxes[i], bg[i], fg[i], check=False),
        )
        # slot 3: spectrum jitter, α ~ U(0, 1)
        channel = torch.randint(0, 3, (n,), generator=gen, device=dev)
        alpha = torch.rand(n, generator=gen, device=dev)
        _subset(x, fire & (slot == 3), lambda im, i: VF.spectrum_jitter(im, channel[i], alpha[i]))
        # flip, pad 10 with 127 + crop, all in uint8 (a quarter of the float traffic)
        _subset(x, torch.rand(n, generator=gen, device=dev) < 0.5, lambda im, i: im.flip(-1))
        x = _pad_crop(x, 10, 127, gen)
        # normalise in place into the output: (x − 255·mean) / (255·std)
        mean = torch.tensor(MEAN, device=dev).view(3, 1, 1) * 255
        inv_std = 1 / (torch.tensor(STD, device=dev).view(3, 1, 1) * 255)
        out.copy_(x).sub_(mean).mul_(inv_std)
        # erase with 0 (the mean colour) in normalised space; no attempt fitting = empty box
        boxes = _boxes(n, self.size, (0.02, 0.3), (0.3, 3.3), gen, dev)
        erase = torch.rand(n, generator=gen, device=dev) <= 0.5
        _subset(out, erase, lambda im, i: VF.channel_random_erase(im, boxes[i], 0.0, check=False))


# --- inputs -----------------------------------------------------------------------------------


def load_images(source: str, count: int, sizes: list[Size], seed: int) -> dict[Size, list]:
    """``count`` RGB PIL images per size (see the module docstring for the two sources)."""
    base: list[Image.Image] = []
    if source == "sysu":
        from vireid.data import make_sysu_like

        with tempfile.TemporaryDirectory() as tmp:
            num_ids = 8
            while len(base) < count and num_ids <= 256:
                root = make_sysu_like(Path(tmp) / str(num_ids), num_ids, seed=seed, size=(384, 192))
                files = sorted(p for c in (1, 2, 4, 5) for p in root.glob(f"cam{c}/*/*.jpg"))
                base = [Image.open(p).convert("RGB") for p in files[:count]]
                num_ids *= 2
    else:
        rng = np.random.default_rng(seed)
        for _ in range(count):
            small = rng.integers(0, 256, (24, 12, 3), dtype=np.uint8)
            base.append(Image.fromarray(small).resize((192, 384), Image.Resampling.BILINEAR))
    base = (base * (count // max(len(base), 1) + 1))[:count]
    return {s: [im.resize((s[1], s[0]), Image.Resampling.BILINEAR) for im in base] for s in sizes}


TimedPath = tuple[str, str, Callable[[], torch.Tensor], bool]  # key, label, call, runs on CUDA


def build_paths(
    size: Size, pils: list, *, presets: bool, cuda: bool, minimal: bool
) -> list[TimedPath]:
    """The timed calls for one size; each turns the same ``pils`` into a normalised batch."""
    batch = torch.stack([pil_to_tensor(im) for im in pils])  # uint8 (B, 3, H, W)
    modality = torch.zeros(len(pils), dtype=torch.long)  # all visible
    ref = reference_pipeline(size)
    paths: list[TimedPath] = [
        ("a", "reference per image (PIL/NumPy)", lambda: _stack(ref, pils), False)
    ]
    if presets:
        per_image = mcja_train(size)
        aug = BatchAugment("mcja", size)
        buffer = torch.empty(batch.shape, dtype=torch.float32)
        paths += [
            ("b", "vireid per image (mcja_train)", lambda: _stack(per_image, pils), False),
            ("c", "vireid batched CPU (BatchAugment)", lambda: aug(batch, modality), False),
            (
                "c2",
                "(c) writing into a reused out= buffer",
                lambda: aug(batch, modality, out=buffer),
                False,
            ),
            (
                "c+",
                "(c) + per-image PIL->uint8 and stack",
                lambda: aug(torch.stack([pil_to_tensor(im) for im in pils]), modality),
                False,
            ),
        ]
        if cuda:
            aug_gpu = BatchAugment("mcja", size).cuda()
            batch_gpu, mod_gpu = batch.cuda(), modality.cuda()
            paths.append(
                (
                    "d",
                    "vireid batched CUDA (BatchAugment)",
                    lambda: aug_gpu(batch_gpu, mod_gpu),
                    True,
                )
            )
    if minimal:
        mini = MinimalBatchMCJA(size)
        paths.append(("c*", "functional-only batched CPU (this file)", lambda: mini(batch), False))
        if cuda:
            mini_gpu_batch = batch.cuda()
            paths.append(
                (
                    "d*",
                    "functional-only batched CUDA (this file)",
                    lambda: mini(mini_gpu_batch),
                    True,
                )
            )
    return paths


# --- timing -----------------------------------------------------------------------------------


def _call(fn: Callable[[], torch.Tensor], cuda: bool) -> torch.Tensor:
    out = fn()
    if cuda:
        torch.cuda.synchronize()
    return out


def time_paths(paths: list[TimedPath], repeats: int) -> list[float]:
    """Best wall time per path: one warm-up call each, then ``repeats`` interleaved rounds.

    Each round times every path once, so a burst of load from other processes hits all paths
    alike instead of one of them.
    """
    for _, _, fn, cuda in paths:
        out = _call(fn, cuda)
        assert out.dtype == torch.float32 and out.dim() == 4 and out.shape[1] == 3, out.shape
    best = [float("inf")] * len(paths)
    for _ in range(repeats):
        for k, (_, _, fn, cuda) in enumerate(paths):
            t0 = time.perf_counter()
            _call(fn, cuda)
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def _parse_size(text: str) -> Size:
    h, w = text.lower().split("x")
    return int(h), int(w)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--sizes", nargs="+", type=_parse_size, default=[(288, 144), (384, 192)], help="HxW"
    )
    parser.add_argument("--batch", type=int, default=128, help="images per timed call")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (best of)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--source", choices=["sysu", "random"], default="sysu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cuda", action="store_true", help="skip the CUDA path")
    parser.add_argument(
        "--minimal", action="store_true", help="also time the functional-only batched pipeline"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    cuda = torch.cuda.is_available() and not args.no_cuda
    presets = PRESETS_ERROR is None
    minimal = args.minimal or not presets
    if not presets:
        print(
            f"NOTE: vireid.augment.presets could not be imported ({PRESETS_ERROR}); path (b) is "
            "skipped and (c*)/(d*) time a minimal batched pipeline built in this script from "
            "vireid.augment.functional instead of BatchAugment."
        )

    images = load_images(args.source, args.batch, args.sizes, args.seed)
    rows: list[dict] = []
    for size in args.sizes:
        pils = images[size]
        paths = build_paths(size, pils, presets=presets, cuda=cuda, minimal=minimal)

        base_rate = None
        for (key, label, _, _), seconds in zip(paths, time_paths(paths, args.repeats), strict=True):
            rate = len(pils) / seconds
            base_rate = rate if key == "a" else base_rate
            rows.append(
                dict(
                    path=key,
                    label=label.strip(),
                    size=list(size),
                    batch=len(pils),
                    seconds_per_batch=seconds,
                    images_per_s=rate,
                    speedup_vs_a=rate / base_rate,
                )
            )

    print(
        f"torch {torch.__version__} | threads {torch.get_num_threads()} | "
        f"{platform.processor() or platform.machine()} | batch {args.batch} | "
        f"source {args.source} | best of {args.repeats}"
        + (f" | cuda {torch.cuda.get_device_name()}" if cuda else " | no CUDA")
    )
    head = f"{'path':<4} {'':<42} {'size':>8} {'images/s':>10} {'vs (a)':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['path']:<4} {r['label']:<42} {'x'.join(map(str, r['size'])):>8} "
            f"{r['images_per_s']:10.0f} {r['speedup_vs_a']:6.1f}x"
        )
    target_key = "c" if presets else "c*"
    checks = {}
    for size in args.sizes:
        rate = {r["path"]: r["speedup_vs_a"] for r in rows if tuple(r["size"]) == size}
        met = rate.get(target_key, 0.0) >= 3.0
        checks["x".join(map(str, size))] = dict(
            path=target_key, speedup=rate.get(target_key), met=met
        )
        print(
            f"target ({target_key}) >= 3x (a) at {size[0]}x{size[1]}: "
            f"{rate.get(target_key, 0.0):.1f}x -> {'met' if met else 'NOT met'}"
        )
    result = dict(
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        machine=platform.machine(),
        cuda=torch.cuda.get_device_name() if cuda else None,
        presets_available=presets,
        presets_error=PRESETS_ERROR,
        source=args.source,
        batch=args.batch,
        repeats=args.repeats,
        rows=rows,
        target=checks,
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
