"""LLCM reader (Zhang & Wang, CVPR 2023, the LLCM benchmark and its DEEN evaluation code).

Layout:

```text
<root>/idx/train_vis.txt  train_nir.txt  test_vis.txt  test_nir.txt
                                   lines "<relative path> <label>", paths vis/<pid4>/<file>
                                   or nir/<pid4>/<file>
<root>/idx/test_id.txt             comma- or newline-separated test ids
<root>/vis/<pid4>/<file>  <root>/nir/<pid4>/<file>
<root>/test_vis/cam1 … cam9/<pid4>/<file>
<root>/test_nir/cam1, cam2, cam4 … cam9/<pid4>/<file>
```

File names carry the camera: ``<pid4>_c<cc>_s<sequence>_f<frame>_<vis|nir>.jpg``. Camera
numbers 1–9 are shared by the visible (VIS) and near-infrared (NIR) images.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Literal

from vireid.data.errors import DatasetLayoutError
from vireid.data.index_file import read_id_list, read_index_file
from vireid.data.integrity import decode_report, is_image_file
from vireid.data.sample import INFRARED, VISIBLE, Sample
from vireid.data.validation import ValidationSplit, carve_identities, hold_out_identities

__all__ = ["LLCM"]

VIS_TEST_CAMS = (1, 2, 3, 4, 5, 6, 7, 8, 9)
NIR_TEST_CAMS = (1, 2, 4, 5, 6, 7, 8, 9)
DIRECTIONS = ("ir2vis", "vis2ir")
PROTOCOLS = ("deen", "symmetric", "full")
_CAMERA_TOKEN = re.compile(r"_c(\d+)_")
_HINT = (
    "LLCM is distributed by its authors on request. Expected layout: <root>/idx/{train,test}_"
    "{vis,nir}.txt and test_id.txt, <root>/vis and <root>/nir image folders, and the per-camera "
    "test folders <root>/test_vis/camK/<pid4>/ and <root>/test_nir/camK/<pid4>/."
)


def _camera_from_name(name: str) -> int | None:
    match = _CAMERA_TOKEN.search(name)
    return int(match.group(1)) if match else None


class LLCM:
    """LLCM: training lists, and per-trial query/gallery sets of its three protocol variants.

    Protocol variants (``protocol=``):

    * ``"deen"`` (official, DEEN release code): per trial t, ``random.Random(t)`` draws one
      image per (identity, camera) of the gallery modality from the per-camera test folders
      (identities ascending, cameras in list order, sorted files; missing folders draw nothing);
      the other modality's test images are all queries. Its ``"vis2ir"`` is what the code
      computes: **sampled NIR queries against the full VIS set**.
    * ``"symmetric"``: as ``"deen"``, but ``"vis2ir"`` means all VIS queries against sampled NIR
      galleries (what the name suggests).
    * ``"full"`` (MPANet lineage): all test images of one modality against all of the other, a
      single run (trial 0), no camera exclusion.

    Exclusion for ``"deen"``/``"symmetric"``: same identity and same camera number
    ([`vireid.metrics.llcm_metrics`][vireid.metrics.llcm_metrics]); for ``"full"`` none.

    Args:
        root: Dataset folder.

    Raises:
        DatasetLayoutError: every problem found (missing lists or folders, malformed lines,
            missing images, non-contiguous training labels, camera numbers not in file names).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DatasetLayoutError("LLCM", self.root, ["the folder does not exist"], _HINT)
        problems: list[str] = []
        train_vis = self._read("train_vis.txt", VISIBLE, problems)
        train_nir = self._read("train_nir.txt", INFRARED, problems)
        self._test_lists = {
            VISIBLE: [s for s, _ in self._read("test_vis.txt", VISIBLE, problems)],
            INFRARED: [s for s, _ in self._read("test_nir.txt", INFRARED, problems)],
        }
        self.test_ids = self._read_test_ids(problems)
        self._folders = {
            VISIBLE: self._scan("test_vis", VIS_TEST_CAMS, VISIBLE, problems),
            INFRARED: self._scan("test_nir", NIR_TEST_CAMS, INFRARED, problems),
        }
        labels = sorted({label for _, label in train_vis + train_nir})
        if labels and labels != list(range(len(labels))):
            problems.append("idx/train_*.txt: labels must be contiguous 0..C-1")
        pid_of: dict[int, int] = {}
        for s, label in train_vis + train_nir:
            if pid_of.setdefault(label, s.pid) != s.pid:
                problems.append(f"idx/train_*.txt: label {label} names two identity folders")
                break
        if problems:
            raise DatasetLayoutError("LLCM", self.root, problems, _HINT)
        self.train = [Sample(s.path, s.pid, s.cam, s.modality, label)
                      for s, label in train_vis + train_nir]  # fmt: skip

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

        LLCM has no official validation list, so ``fraction`` of the training identities
        (drawn by `carve_identities` with ``seed``) are held out: their infrared images query
        their visible images (the headline IR→VIS direction) with the same-identity,
        same-camera items removed as in the test protocol, and the rest train with labels
        ``0..C'-1``. The same arguments always hold out the same people.

        Args:
            fraction: Share of the training identities to hold out, in ``(0, 1)``.
            seed: Seed of the draw.

        Returns:
            A [`vireid.data.ValidationSplit`][vireid.data.ValidationSplit].
        """
        held = carve_identities(self.train, fraction, seed=seed)
        return hold_out_identities(
            self.train, held, query_modality=INFRARED, exclude="same_id_same_camera"
        )

    # --- construction ------------------------------------------------------------------

    def _read(self, name: str, modality: int, problems: list[str]) -> list[tuple[Sample, int]]:
        out = []
        for e in read_index_file(self.root, name, problems):
            cam = _camera_from_name(e.rel.name)
            if cam is None:
                problems.append(
                    f"{e.where}: no '_c<camera>_' token in the file name {e.rel.name!r}"
                )
                continue
            out.append((Sample(self.root / e.rel, e.pid, cam, modality), e.label))
        return out

    def _read_test_ids(self, problems: list[str]) -> list[int]:
        return sorted(read_id_list(self.root / "idx" / "test_id.txt", "idx/test_id.txt", problems))

    def _scan(
        self, folder: str, cams: tuple[int, ...], modality: int, problems: list[str]
    ) -> dict[tuple[int, int], list[Sample]]:
        base = self.root / folder
        if not base.is_dir():
            problems.append(f"missing test folder {folder}/")
            return {}
        found: dict[tuple[int, int], list[Sample]] = {}
        for cam in cams:
            cam_dir = base / f"cam{cam}"
            if not cam_dir.is_dir():
                continue  # a camera without test images of this modality
            for entry in os.scandir(cam_dir):
                if not entry.is_dir():
                    continue
                try:
                    pid = int(entry.name)
                except ValueError:
                    problems.append(f"{folder}/cam{cam}/{entry.name}: identity folders are numbers")
                    continue
                files = sorted(
                    Path(f.path)
                    for f in os.scandir(entry.path)
                    if f.is_file() and is_image_file(f.name)
                )
                found[(cam, pid)] = [Sample(p, pid, cam, modality) for p in files]
        return found

    # --- protocol sets -------------------------------------------------------------------

    def _all(self, modality: int) -> list[Sample]:
        cams = VIS_TEST_CAMS if modality == VISIBLE else NIR_TEST_CAMS
        folders = self._folders[modality]
        return [s for pid in self.test_ids for cam in cams for s in folders.get((cam, pid), ())]

    def _sampled(self, modality: int, trial: int) -> list[Sample]:
        cams = VIS_TEST_CAMS if modality == VISIBLE else NIR_TEST_CAMS
        folders = self._folders[modality]
        rng = random.Random(trial)
        out = []
        for pid in self.test_ids:
            for cam in cams:
                files = folders.get((cam, pid))
                if files:  # a missing folder consumes no random number
                    out.append(rng.choice(files))
        return out

    def _roles(self, direction: str, protocol: str, trial: int) -> tuple[list[Sample], ...]:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        if isinstance(trial, bool) or not isinstance(trial, int) or not 0 <= trial < 10:
            raise ValueError(f"trial must be an int in 0..9, got {trial!r}")
        if protocol == "full":
            if trial != 0:
                raise ValueError("protocol='full' is a single run: trial must be 0")
            vis, nir = self._test_lists[VISIBLE], self._test_lists[INFRARED]
            return (nir, vis) if direction == "ir2vis" else (vis, nir)
        if direction == "ir2vis":
            return self._all(INFRARED), self._sampled(VISIBLE, trial)
        if protocol == "deen":
            return self._sampled(INFRARED, trial), self._all(VISIBLE)
        return self._all(VISIBLE), self._sampled(INFRARED, trial)

    def query(
        self,
        direction: Literal["ir2vis", "vis2ir"] = "ir2vis",
        protocol: Literal["deen", "symmetric", "full"] = "deen",
        trial: int = 0,
    ) -> list[Sample]:
        """Query set of one trial (see the class docstring for the variants)."""
        return self._roles(direction, protocol, trial)[0]

    def gallery(
        self,
        direction: Literal["ir2vis", "vis2ir"] = "ir2vis",
        protocol: Literal["deen", "symmetric", "full"] = "deen",
        trial: int = 0,
    ) -> list[Sample]:
        """Gallery set of one trial (see the class docstring for the variants)."""
        return self._roles(direction, protocol, trial)[1]

    def check(self, decode: bool = False) -> str:
        """Counts found next to the official ones (713 training and 351 test identities).

        Args:
            decode: Also decode every training and test image and list the unreadable ones.
        """
        rows = [
            ("train identities", len({s.label for s in self.train}), 713),
            ("test identities", len(self.test_ids), 351),
            ("train VIS images", sum(s.modality == VISIBLE for s in self.train), None),
            ("train NIR images", sum(s.modality == INFRARED for s in self.train), None),
            ("test VIS images", len(self._test_lists[VISIBLE]), None),
            ("test NIR images", len(self._test_lists[INFRARED]), None),
        ]
        width = max(len(r[0]) for r in rows)
        lines = [f"LLCM at {self.root}", f"{'':<{width}}  {'found':>8}  {'official':>8}"]
        for name, found, official in rows:
            mark = "" if official is None or found == official else "  <- differs"
            lines.append(f"{name:<{width}}  {found:>8}  {official or '-':>8}{mark}")
        if decode:
            samples = [*self.train, *self._test_lists[VISIBLE], *self._test_lists[INFRARED]]
            samples += [s for m in self._folders for group in self._folders[m].values()
                        for s in group]  # fmt: skip
            lines.append(decode_report(dict.fromkeys(x.path for x in samples), self.root))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"LLCM(root={str(self.root)!r}, test_ids={len(self.test_ids)})"
