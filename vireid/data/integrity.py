"""Decoding every image of a dataset once, to find corrupt files before a run does.

The readers list files without opening them (a SYSU-MM01 tree has ~45,000 images); a truncated
or empty JPEG then fails hours into training, or is silently read as a partial image.
`find_unreadable` decodes each file fully, in parallel threads (PIL releases the GIL while it
decodes), and returns the ones that fail with the reason.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "find_unreadable", "is_image_file"]

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
"""File suffixes (lower case) the folder-scanning readers take as images."""


def is_image_file(name: str) -> bool:
    """Whether a file name is an image the readers take (``Thumbs.db``, ``.DS_Store`` are not)."""
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES


def _decode_problem(path: Path) -> str | None:
    from PIL import Image

    try:
        if path.stat().st_size == 0:
            return "empty file"
        with Image.open(path) as img:
            img.load()  # decodes every pixel: a truncated file fails here, not at open()
        return None
    except OSError as err:  # PIL's UnidentifiedImageError and truncation errors are OSErrors
        return " ".join(str(err).split()) or type(err).__name__
    except Exception as err:  # a malformed file can break a decoder in other ways
        return f"{type(err).__name__}: {err}"


def find_unreadable(
    paths: Iterable[str | os.PathLike[str]],
    *,
    num_threads: int | None = None,
    progress: bool | None = None,
) -> list[tuple[Path, str]]:
    """Decode every image in ``paths``; return ``(path, reason)`` for each one that fails.

    Args:
        paths: Image files.
        num_threads: Decoding threads. Default: the CPU count, at most 8.
        progress: Show a progress bar on stderr. Default: when stderr is a terminal.

    Returns:
        The unreadable files in input order, with PIL's reason (``"empty file"``, ``"image
        file is truncated"``, ``"cannot identify image file"``, ...); empty when all decode.
    """
    files: Sequence[Path] = [Path(p) for p in paths]
    threads = num_threads or min(8, os.cpu_count() or 1)
    show = sys.stderr.isatty() if progress is None else progress
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = pool.map(_decode_problem, files, chunksize=64)
        if show:
            from tqdm import tqdm  # a core dependency, imported only for the bar

            results = tqdm(results, total=len(files), desc="decoding", unit="img", leave=False)
        problems = list(results)
    return [(p, why) for p, why in zip(files, problems, strict=True) if why is not None]


def decode_report(
    paths: Iterable[str | os.PathLike[str]],
    root: Path,
    *,
    num_threads: int | None = None,
    progress: bool | None = None,
) -> str:
    """The lines `check(decode=True)` appends: a count and every unreadable file, by path."""
    files = list(paths)
    bad = find_unreadable(files, num_threads=num_threads, progress=progress)
    lines = [f"decoded {len(files)} images: {len(bad)} unreadable"]
    for path, why in bad:
        try:
            shown = path.relative_to(root)
        except ValueError:
            shown = path
        lines.append(f"  unreadable: {shown} ({why})")
    return "\n".join(lines)
