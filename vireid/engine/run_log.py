"""What a training run records: one JSON line per log step and evaluation, and TensorBoard."""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["RunLog", "peak_memory_mb"]


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory in MiB: CUDA ``max_memory_allocated`` on a GPU, else the process's peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class RunLog:
    """Appends records to ``<folder>/metrics.jsonl`` and, optionally, to TensorBoard.

    Each record is one JSON object per line with a ``"kind"`` (``"train"``, ``"eval"``,
    ``"epoch"`` …), the wall-clock ``"time"`` and its values, so a run can be read with
    ``pandas.read_json(path, lines=True)`` or a few lines of Python. Only the main process of a
    distributed run should hold one.

    Args:
        folder: Run folder (created when needed).
        tensorboard: Also write TensorBoard scalars under ``<folder>/tensorboard`` (needs the
            ``tensorboard`` extra: ``pip install 'vireid[tensorboard]'``).
    """

    def __init__(self, folder: str | os.PathLike[str], *, tensorboard: bool = False) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "metrics.jsonl"
        self._file = self.path.open("a", encoding="utf-8")
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                raise ImportError(
                    "tensorboard=True needs the tensorboard package: "
                    "pip install 'vireid[tensorboard]'"
                ) from err
            self._writer = SummaryWriter(str(self.folder / "tensorboard"))

    def write(self, kind: str, step: int, **values: Any) -> None:
        """Append one record; numeric values also go to TensorBoard as ``kind/name``."""
        record = {"kind": kind, "step": step, "time": time.time(), **_jsonable(values)}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._writer is not None:
            for name, value in values.items():
                if isinstance(value, torch.Tensor) and value.numel() == 1:
                    value = value.item()
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._writer.add_scalar(f"{kind}/{name}", value, step)

    def close(self) -> None:
        """Flush and close the files."""
        self._file.close()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
