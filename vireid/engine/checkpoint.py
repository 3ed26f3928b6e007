"""Checkpoints written atomically: the last k epochs, ``last.pt`` and ``best.pt``."""

from __future__ import annotations

import os
import platform
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

import vireid
from vireid.engine.atomic_files import atomic_open

__all__ = ["CheckpointManager", "load_checkpoint", "save_checkpoint", "unwrap_model", "versions"]

_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.pt$")


def versions() -> dict[str, str]:
    """Versions of vireid, torch, torchvision and Python, recorded in checkpoints and results."""
    return {
        "vireid": str(vireid.__version__),
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "python": platform.python_version(),
    }


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module under DistributedDataParallel and ``torch.compile`` wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, then rename.

    A crash or a full disk while writing leaves the previous file intact, never a truncated
    one (``os.replace`` is atomic on POSIX and Windows).
    """
    path = Path(path)
    with atomic_open(path, "wb") as f:
        torch.save(dict(state), f)
    return path


def _link_or_copy(src: Path, dst: Path) -> None:
    """Make ``dst`` the same file as ``src`` (a hard link, else a copy), atomically."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by the engine (``weights_only`` loading: no code runs).

    Raises:
        FileNotFoundError: the file does not exist (the message says where checkpoints live).
        RuntimeError: the file is not a readable checkpoint.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {str(path)!r} does not exist; a training run writes "
            "<output-dir>/checkpoints/last.pt and best.pt"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise RuntimeError(
            f"cannot read checkpoint {str(path)!r} ({type(err).__name__}: {err}); is it a "
            "vireid checkpoint, completely written?"
        ) from err
    if not isinstance(state, dict) or "model" not in state:
        raise RuntimeError(f"{str(path)!r} is not a vireid checkpoint (no 'model' entry)")
    return state


class CheckpointManager:
    """Keeps ``epoch_XXX.pt`` for the last ``keep_last`` epochs, plus ``last.pt`` and ``best.pt``.

    Every file is written atomically. ``last.pt`` and ``best.pt`` are hard links to an epoch
    file where the file system allows it (copies elsewhere), so a checkpoint is written once.

    Args:
        folder: Where the files go (created when needed).
        keep_last: Epoch files to keep (older ones are removed). Default 3.
    """

    def __init__(self, folder: str | os.PathLike[str], keep_last: int = 3) -> None:
        if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1:
            raise ValueError(f"keep_last must be a positive int, got {keep_last!r}")
        self.folder = Path(folder)
        self.keep_last = keep_last

    @property
    def last(self) -> Path:
        """Path of the most recent checkpoint."""
        return self.folder / "last.pt"

    @property
    def best(self) -> Path:
        """Path of the checkpoint chosen by validation (or the last epoch)."""
        return self.folder / "best.pt"

    def save(self, state: Mapping[str, Any], epoch: int, *, is_best: bool) -> Path:
        """Write the checkpoint of a finished ``epoch`` (1-based); update last/best; rotate."""
        path = save_checkpoint(state, self.folder / f"epoch_{epoch:03d}.pt")
        _link_or_copy(path, self.last)
        if is_best:
            _link_or_copy(path, self.best)
        epochs = sorted(
            (int(m.group(1)), p)
            for p in self.folder.iterdir()
            if (m := _EPOCH_FILE.match(p.name)) is not None
        )
        for _, old in epochs[: max(0, len(epochs) - self.keep_last)]:
            old.unlink(missing_ok=True)
        return path
