"""Crash-safe file writes: a temporary file in the target's folder, renamed over it at the end.

Everything the engine and the examples write (checkpoints, ``results.json``, plots) goes
through `atomic_open`, so an interrupted run or a full disk leaves the previous file or no
file, never a truncated one that a later tool would read as valid.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "write_text_atomic"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on success it replaces ``path`` in one rename.

    Args:
        path: The final file. Its folder is created if missing.
        mode: ``"wb"`` (default) or ``"w"`` (UTF-8 text).

    Yields:
        The open temporary file. If the block raises, the file is removed and ``path`` is
        left as it was.

    Example:
        ```python
        with atomic_open("runs/x/results.json", "w") as f:
            json.dump(results, f)
        ```
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        f: IO[Any] = os.fdopen(fd, "w", encoding="utf-8") if mode == "w" else os.fdopen(fd, "wb")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` with `atomic_open`; returns the path."""
    with atomic_open(path, "w") as f:
        f.write(text)
    return Path(path)
