"""RegDB reader.

RegDB: Nguyen et al., "Person Recognition System Based on a Combination of Body Images from
Visible Light and Thermal Cameras", Sensors 2017.

Layout:

```text
<root>/Visible/<pid>/<file>.bmp      10 visible images per person
<root>/Thermal/<pid>/<file>.bmp      10 thermal images per person
<root>/idx/{train,test}_{visible,thermal}_{1..10}.txt
                                     lines "<path relative to root> <integer label>"
```

Each of the ten splits puts 206 people in training and the other 206 in test, and needs its own
model; the reported number is the mean over the ten split-specific models.
"""

from __future__ import annotations

import os
from pathlib import Path

from vireid.data.errors import DatasetLayoutError
from vireid.data.index_file import read_index_file
from vireid.data.integrity import decode_report
from vireid.data.sample import INFRARED, VISIBLE, Sample
from vireid.data.validation import ValidationSplit, carve_identities, hold_out_identities

__all__ = ["RegDB"]

VISIBLE_CAM = 1
"""Camera number given to RegDB's visible images.

RegDB has one visible and one thermal camera, so no exclusion rule ever applies.
"""
THERMAL_CAM = 2
"""Camera number given to RegDB's thermal images."""
_MODALITY = {"Visible": (VISIBLE, VISIBLE_CAM), "Thermal": (INFRARED, THERMAL_CAM)}
_HINT = (
    "RegDB is distributed by its authors on request. Expected layout: <root>/Visible/<pid>/*.bmp, "
    "<root>/Thermal/<pid>/*.bmp and <root>/idx/{train,test}_{visible,thermal}_{1..10}.txt with "
    "lines '<relative path> <label>'."
)


class RegDB:
    """One train/test split of RegDB (Nguyen et al., Sensors 2017).

    Identities are the integer names of the parent folders (as the MPANet lineage reads them);
    the reader checks that they split the images exactly as the label column of the index files
    does (the AGW reading). Training labels are the label column, which must be contiguous.
    Visible images get camera 1 and thermal images camera 2.

    Args:
        root: Dataset folder.
        split: Split number 1..10.

    Attributes:
        train: training images of the split: the visible list, then the thermal list.
        test_visible: the split's visible test images (queries for visible→thermal).
        test_thermal: the split's thermal test images.

    Raises:
        DatasetLayoutError: every problem found (missing index files, malformed lines, listed
            images that are missing, labels inconsistent with the folders).
    """

    def __init__(self, root: str | os.PathLike[str], split: int = 1) -> None:
        if isinstance(split, bool) or not isinstance(split, int) or not 1 <= split <= 10:
            raise ValueError(f"split must be an int in 1..10, got {split!r}")
        self.root = Path(root).expanduser().resolve()
        self.split = split
        if not self.root.is_dir():
            raise DatasetLayoutError("RegDB", self.root, ["the folder does not exist"], _HINT)
        problems: list[str] = []
        lists = {}
        for part in ("train", "test"):
            for modality in ("visible", "thermal"):
                lists[part, modality] = self._read(f"{part}_{modality}_{split}.txt", problems)
        train = lists["train", "visible"] + lists["train", "thermal"]
        test = lists["test", "visible"] + lists["test", "thermal"]
        self._check_labels(train, "train", problems, contiguous=True)
        self._check_labels(test, "test", problems, contiguous=False)
        common = {s.pid for s, _ in train} & {s.pid for s, _ in test}
        if common:
            problems.append(
                f"split {split}: {len(common)} identities are in both training and test, e.g. "
                f"{sorted(common)[:5]}"
            )
        if problems:
            raise DatasetLayoutError("RegDB", self.root, problems, _HINT)
        self.train = [
            Sample(s.path, s.pid, s.cam, s.modality, label) for s, label in train
        ]  # fmt: skip
        self.test_visible = [s for s, _ in lists["test", "visible"]]
        self.test_thermal = [s for s, _ in lists["test", "thermal"]]

    @property
    def label_map(self) -> dict[int, int]:
        """Training label of every training identity: dataset pid → ``0..C-1``."""
        return {s.pid: s.label for s in self.train}

    @property
    def num_classes(self) -> int:
        """Number of training identities (the classifier's output size)."""
        return len({s.label for s in self.train})

    def validation_split(self, fraction: float = 0.2, *, seed: int = 0) -> ValidationSplit:
        """Hold a seeded share of the training identities out, for model selection.

        RegDB has no official validation list, so ``fraction`` of the training identities
        (drawn by `carve_identities` with ``seed``) are held out: their visible images query
        their thermal images (the visible→thermal direction, no exclusion rule), and the rest
        train with labels ``0..C'-1``. The same arguments always hold out the same people.

        Args:
            fraction: Share of the training identities to hold out, in ``(0, 1)``.
            seed: Seed of the draw.

        Returns:
            A [`vireid.data.ValidationSplit`][vireid.data.ValidationSplit].
        """
        held = carve_identities(self.train, fraction, seed=seed)
        return hold_out_identities(self.train, held, query_modality=VISIBLE, exclude="none")

    def _read(self, name: str, problems: list[str]) -> list[tuple[Sample, int]]:
        out = []
        for e in read_index_file(self.root, name, problems):
            kind = e.rel.parts[0]
            if kind not in _MODALITY or len(e.rel.parts) < 3:
                problems.append(f"{e.where}: path must be Visible/<pid>/<file> or Thermal/..., "
                                f"got {str(e.rel)!r}")  # fmt: skip
                continue
            modality, cam = _MODALITY[kind]
            out.append((Sample(self.root / e.rel, e.pid, cam, modality), e.label))
        return out

    def _check_labels(
        self, items: list[tuple[Sample, int]], part: str, problems: list[str], contiguous: bool
    ) -> None:
        label_of: dict[int, int] = {}
        pid_of: dict[int, int] = {}
        for s, label in items:
            if (
                label_of.setdefault(s.pid, label) != label
                or pid_of.setdefault(label, s.pid) != s.pid
            ):
                problems.append(
                    f"split {self.split} {part}: the label column and the identity folders "
                    f"disagree (identity {s.pid}, label {label})"
                )
                return
        if contiguous and label_of and sorted(set(label_of.values())) != list(range(len(label_of))):
            problems.append(f"split {self.split} train: labels must be contiguous 0..C-1")

    def check(self, decode: bool = False) -> str:
        """Counts of the split next to the official ones (206 ids, 2,060 images per list).

        Args:
            decode: Also decode every image of the split and list the unreadable ones.
        """
        rows = [
            ("train identities", len({s.pid for s in self.train}), 206),
            ("train visible images", sum(s.modality == VISIBLE for s in self.train), 2060),
            ("train thermal images", sum(s.modality == INFRARED for s in self.train), 2060),
            ("test identities", len({s.pid for s in self.test_visible}), 206),
            ("test visible images", len(self.test_visible), 2060),
            ("test thermal images", len(self.test_thermal), 2060),
        ]
        width = max(len(r[0]) for r in rows)
        lines = [f"RegDB split {self.split} at {self.root}",
                 f"{'':<{width}}  {'found':>8}  {'official':>8}"]  # fmt: skip
        for name, found, official in rows:
            mark = "" if found == official else "  <- differs"
            lines.append(f"{name:<{width}}  {found:>8}  {official:>8}{mark}")
        if decode:
            samples = [*self.train, *self.test_visible, *self.test_thermal]
            lines.append(decode_report(dict.fromkeys(x.path for x in samples), self.root))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"RegDB(root={str(self.root)!r}, split={self.split})"
