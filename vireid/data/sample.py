"""The record every dataset reader returns: one image with its identity, camera and modality."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vireid import _modality

__all__ = ["INFRARED", "VISIBLE", "Sample"]

VISIBLE = _modality.VISIBLE
"""Modality label of visible (RGB) images."""
INFRARED = _modality.INFRARED
"""Modality label of infrared / thermal images."""


@dataclass(frozen=True)
class Sample:
    """One image of a re-identification dataset.

    Attributes:
        path: Absolute path of the image file.
        pid: Identity as numbered by the dataset (SYSU-MM01: 1–533).
        cam: Camera number as in the dataset (SYSU-MM01: 1–6).
        modality: ``VISIBLE`` (0) or ``INFRARED`` (1).
        label: Contiguous training label ``0..C-1``, or ``-1`` outside the training set.
    """

    path: Path
    pid: int
    cam: int
    modality: int
    label: int = -1
