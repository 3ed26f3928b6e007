"""SYSU-MM01 reader and its two standard gallery samplers.

Wu et al., "RGB-Infrared Cross-Modality Person Re-Identification", ICCV 2017: the dataset and its
official evaluation kit; the second sampler is the one of the AGW code (Ye et al., TPAMI 2021).

Layout (images as distributed by the dataset authors):

```text
<root>/cam1 … cam6/<pid:04d>/<k:04d>.jpg      k = 1..n per (camera, identity)
<root>/exp/train_id.txt, val_id.txt, test_id.txt   comma- or newline-separated ids
<root>/exp/rand_perm_cam.mat                 from the official evaluation kit
                                             (evaluation/data_split/); only the
                                             sampler="official" galleries need it
```

Cameras 1, 2, 4, 5 are visible, 3 and 6 infrared. Training uses train ∪ val (395 identities);
queries are every infrared test image; each trial draws a visible gallery.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vireid.data.errors import DatasetLayoutError
from vireid.data.index_file import read_id_list
from vireid.data.integrity import decode_report, is_image_file
from vireid.data.sample import INFRARED, VISIBLE, Sample
from vireid.data.validation import ValidationSplit, hold_out_identities

__all__ = ["SYSUMM01"]

VISIBLE_CAMS = (1, 2, 4, 5)
INFRARED_CAMS = (3, 6)
GALLERY_CAMS = {"all": (1, 2, 4, 5), "indoor": (1, 2)}
SAMPLERS = ("official", "agw")
NUM_TRIALS = 10

OFFICIAL_COUNTS = {
    "train_ids": 296,
    "val_ids": 99,
    "test_ids": 96,
    "query_images": 3803,
    "gallery_all_1": 301,
    "gallery_all_10": 3010,
    "gallery_indoor_1": 112,
    "gallery_indoor_10": 1120,
    "valid_queries_indoor": 2208,
}
"""Sizes of the official SYSU-MM01 split and protocol sets (Wu et al., ICCV 2017)."""
# First 16 hex digits of SHA-256 over the comma-joined sorted ids of the official lists, so the
# reader can recognise them without shipping the lists.
_OFFICIAL_ID_HASH = {"train": "1152145f1e15aac4", "test": "d11bc1de3c591e3e"}

_HINT = (
    "SYSU-MM01 is distributed by its authors on request. Expected layout: <root>/cam1..cam6/"
    "<pid:04d>/<k:04d>.jpg and <root>/exp/{train,val,test}_id.txt; for sampler='official' also "
    "<root>/exp/rand_perm_cam.mat from the official evaluation kit. Pass official_split=False for "
    "a tree with a different identity split (e.g. synthetic data)."
)


def _id_hash(ids: Iterable[int]) -> str:
    text = ",".join(str(i) for i in sorted(ids))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SYSUMM01:
    """SYSU-MM01 (Wu et al., ICCV 2017): training list, query set and per-trial galleries.

    The folder is checked on construction; every problem found is reported in one
    `DatasetLayoutError`.

    Enumeration follows the AGW code: identities ascending; visible cameras
    1, 2, 4, 5 and infrared cameras 3, 6 in that order; files sorted by path.

    Args:
        root: Dataset folder.
        label_order: ``"sorted"`` (default, AGW): the training label is the rank of the identity
            among the sorted training identities. ``"listed"`` (MPANet lineage): its position in
            ``train_id.txt`` followed by ``val_id.txt``. Only checkpoint compatibility depends
            on this.
        official_split: Check that the id files hold the official split (296 / 99 / 96
            identities, and the official training and test lists). Default ``True``.

    Raises:
        DatasetLayoutError: missing folders or id files, empty identity folders, id files with
            the wrong content, listed identities without images.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        label_order: Literal["sorted", "listed"] = "sorted",
        official_split: bool = True,
    ) -> None:
        if label_order not in ("sorted", "listed"):
            raise ValueError(f"label_order must be 'sorted' or 'listed', got {label_order!r}")
        self.root = Path(root).expanduser().resolve()
        self.label_order = label_order
        self.official_split = official_split
        if not self.root.is_dir():
            raise DatasetLayoutError("SYSU-MM01", self.root, ["the folder does not exist"], _HINT)
        problems: list[str] = []
        self.train_ids, self.val_ids, self.test_ids = (
            self._read_ids(name, problems) for name in ("train", "val", "test")
        )
        self._images = self._scan(problems)
        self._check_split(problems)
        if problems:
            raise DatasetLayoutError("SYSU-MM01", self.root, problems, _HINT)
        self._perm: Any = None

    # --- construction ------------------------------------------------------------------

    def _read_ids(self, name: str, problems: list[str]) -> list[int]:
        return read_id_list(self.root / "exp" / f"{name}_id.txt", f"exp/{name}_id.txt", problems)

    def _scan(self, problems: list[str]) -> dict[tuple[int, int], list[Path]]:
        images: dict[tuple[int, int], list[Path]] = {}
        for cam in range(1, 7):
            cam_dir = self.root / f"cam{cam}"
            if not cam_dir.is_dir():
                problems.append(f"missing camera folder cam{cam}/")
                continue
            for entry in sorted(os.scandir(cam_dir), key=lambda e: e.name):
                if not entry.is_dir():
                    continue
                if not (len(entry.name) == 4 and entry.name.isdigit()):
                    problems.append(f"cam{cam}/{entry.name}: identity folders are 4-digit numbers")
                    continue
                files = sorted(
                    Path(f.path)
                    for f in os.scandir(entry.path)
                    if f.is_file() and is_image_file(f.name)
                )
                if not files:
                    problems.append(f"cam{cam}/{entry.name}/ is empty")
                    continue
                images[(cam, int(entry.name))] = files
        return images

    def _check_split(self, problems: list[str]) -> None:
        lists = {"train": self.train_ids, "val": self.val_ids, "test": self.test_ids}
        if self.official_split:
            for name, ids in lists.items():
                expected = OFFICIAL_COUNTS[f"{name}_ids"]
                if ids and len(ids) != expected:
                    problems.append(
                        f"exp/{name}_id.txt lists {len(ids)} identities; the official split has "
                        f"{expected}"
                    )
                elif ids and name in _OFFICIAL_ID_HASH and _id_hash(ids) != _OFFICIAL_ID_HASH[name]:
                    problems.append(
                        f"exp/{name}_id.txt does not hold the official {name} identities "
                        f"(the official evaluation kit's {name}_id.mat)"
                    )
        for a, b in (("train", "test"), ("val", "test"), ("train", "val")):
            common = set(lists[a]) & set(lists[b])
            if common:
                problems.append(
                    f"exp/{a}_id.txt and exp/{b}_id.txt share {len(common)} identities, e.g. "
                    f"{sorted(common)[:5]}"
                )
        with_images = {pid for _, pid in self._images}
        for name, ids in lists.items():
            missing = sorted(set(ids) - with_images)
            if missing and self._images:
                problems.append(
                    f"{len(missing)} identities of exp/{name}_id.txt have no image folder in any "
                    f"camera, e.g. {missing[:5]}"
                )

    # --- sets ------------------------------------------------------------------------

    def _enumerate(self, pids: Iterable[int], cams: tuple[int, ...]) -> Iterable[tuple]:
        for pid in sorted(pids):
            for cam in cams:
                for path in self._images.get((cam, pid), ()):
                    yield path, pid, cam

    @cached_property
    def train(self) -> list[Sample]:
        """Training images of train ∪ val: the visible list, then the infrared list (AGW order)."""
        ids = self.train_ids + self.val_ids
        label_of = self.label_map
        out = [Sample(p, pid, cam, VISIBLE, label_of[pid])
               for p, pid, cam in self._enumerate(ids, VISIBLE_CAMS)]  # fmt: skip
        out += [Sample(p, pid, cam, INFRARED, label_of[pid])
                for p, pid, cam in self._enumerate(ids, INFRARED_CAMS)]  # fmt: skip
        return out

    @property
    def label_map(self) -> dict[int, int]:
        """Training label of every training identity (train ∪ val): dataset pid → ``0..C-1``."""
        ids = self.train_ids + self.val_ids
        order = sorted(ids) if self.label_order == "sorted" else ids
        return {pid: i for i, pid in enumerate(order)}

    @property
    def num_classes(self) -> int:
        """Number of training identities (train ∪ val; 395 for the official split)."""
        return len(self.label_map)

    def validation_split(self) -> ValidationSplit:
        """Hold the identities of ``exp/val_id.txt`` out of training, for model selection.

        The standard protocol trains on train ∪ val (395 identities). To choose a checkpoint
        without looking at the test set, train on ``exp/train_id.txt`` only and validate on the
        val identities: their infrared images query all their visible images, with the SYSU
        camera rule (camera-3 queries skip camera-2 images).

        Returns:
            A [`vireid.data.ValidationSplit`][vireid.data.ValidationSplit] (training labels
            ``0..len(train_ids)-1``).
        """
        return hold_out_identities(self.train, self.val_ids, exclude="sysu")

    def query(self) -> list[Sample]:
        """Every infrared test image (cameras 3 and 6); the same for all-search and indoor."""
        return [
            Sample(p, pid, cam, INFRARED)
            for p, pid, cam in self._enumerate(self.test_ids, INFRARED_CAMS)
        ]

    def gallery(
        self,
        mode: Literal["all", "indoor"] = "all",
        shots: int = 1,
        trial: int = 0,
        sampler: Literal["official", "agw"] = "official",
    ) -> list[Sample]:
        """Visible gallery of one trial.

        Args:
            mode: ``"all"`` (cameras 1, 2, 4, 5) or ``"indoor"`` (cameras 1, 2).
            shots: Images per (identity, camera): 1 (single-shot) or 10 (multi-shot).
            trial: Trial index 0..9.
            sampler: ``"official"`` (default): row ``trial`` of the official
                ``exp/rand_perm_cam.mat``, the Matlab protocol used by the MPANet lineage
                (IDKL, MCJA); needs SciPy. Gallery order: camera, identity, image number.
                ``"agw"``: the AGW/CAJ/DEEN draw, ``random.Random(trial)`` choosing one file
                per (identity, camera) with identities ascending and cameras in order; with
                ``shots=10`` ten files are drawn with ``sample`` (a vireid extension; AGW
                implements single-shot only). Gallery order: draw order.

        Returns:
            One `Sample` per gallery image (modality visible, label -1).

        Raises:
            ValueError: an unknown mode, sampler, shot count or trial.
            DatasetLayoutError: the permutation file names images that are not on disk.
            ImportError / FileNotFoundError: ``sampler="official"`` without SciPy or without
                ``exp/rand_perm_cam.mat``.
        """
        if mode not in GALLERY_CAMS:
            raise ValueError(f"mode must be 'all' or 'indoor', got {mode!r}")
        if shots not in (1, 10):
            raise ValueError(f"shots must be 1 (single-shot) or 10 (multi-shot), got {shots!r}")
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        if isinstance(trial, bool) or not isinstance(trial, int) or not 0 <= trial < NUM_TRIALS:
            raise ValueError(f"trial must be an int in 0..{NUM_TRIALS - 1}, got {trial!r}")
        cams = GALLERY_CAMS[mode]
        if sampler == "agw":
            return self._agw_gallery(cams, shots, trial)
        return self._official_gallery(cams, shots, trial)

    def _agw_gallery(self, cams: tuple[int, ...], shots: int, trial: int) -> list[Sample]:
        rng = random.Random(trial)  # the reference reseeds the global generator with the trial
        out = []
        for pid in sorted(self.test_ids):
            for cam in cams:
                files = self._images.get((cam, pid))
                if not files:
                    continue  # a missing folder consumes no random number
                if shots == 1:
                    chosen = [rng.choice(files)]
                else:
                    if len(files) < shots:
                        raise DatasetLayoutError("SYSU-MM01", self.root, [
                            f"cam{cam}/{pid:04d}/ has {len(files)} images; multi-shot needs "
                            f"{shots}"
                        ])  # fmt: skip
                    chosen = rng.sample(files, shots)
                out += [Sample(p, pid, cam, VISIBLE) for p in chosen]
        return out

    def _permutations(self) -> Any:
        if self._perm is None:
            path = self.root / "exp" / "rand_perm_cam.mat"
            if not path.is_file():
                raise FileNotFoundError(
                    f"sampler='official' reads {path}, which is missing. It is not part of the "
                    f"SYSU-MM01 image archive: copy evaluation/data_split/rand_perm_cam.mat from "
                    f"the official SYSU-MM01 evaluation kit into {path.parent}. "
                    f"sampler='agw' needs no file."
                )
            try:
                import scipy.io  # noqa: F401  (needed by _read_rand_perm_cam)
            except ImportError as err:
                raise ImportError(
                    "sampler='official' reads exp/rand_perm_cam.mat with SciPy, which is not "
                    "installed: pip install 'vireid[scipy]'. sampler='agw' needs no SciPy."
                ) from err
            self._perm = _read_rand_perm_cam(path, self.root)
        return self._perm

    @cached_property
    def _by_name(self) -> dict[tuple[int, int], dict[str, Path]]:
        """File name -> path for every (camera, identity) folder; the official file names images."""
        return {key: {p.name: p for p in files} for key, files in self._images.items()}

    def _official_gallery(self, cams: tuple[int, ...], shots: int, trial: int) -> list[Sample]:
        perm = self._permutations()
        picked: list[tuple[int, int, int]] = []
        problems = []
        for cam in cams:
            rows = perm[cam - 1]
            for pid in sorted(self.test_ids):
                if pid > len(rows) or rows[pid - 1].size == 0:
                    continue
                trials = rows[pid - 1].shape[0]
                if trial >= trials:
                    problems.append(f"rand_perm_cam: cam{cam}, identity {pid} has {trials} "
                                    f"trials, trial {trial} asked")  # fmt: skip
                    continue
                order = rows[pid - 1][trial]
                if order.size < shots:
                    problems.append(f"rand_perm_cam: cam{cam}, identity {pid} has only "
                                    f"{order.size} images for {shots}-shot")  # fmt: skip
                    continue
                picked += [(cam, pid, int(k)) for k in order[:shots]]
        out = []
        by_name = self._by_name
        for cam, pid, k in sorted(picked):
            name = f"{k:04d}.jpg"
            path = by_name.get((cam, pid), {}).get(name)
            if path is None:
                problems.append(
                    f"cam{cam}/{pid:04d}/{name} (named by rand_perm_cam.mat) is missing"
                )
                continue
            out.append(Sample(path, pid, cam, VISIBLE))
        if problems:
            raise DatasetLayoutError("SYSU-MM01", self.root, problems, _HINT)
        return out

    # --- report ------------------------------------------------------------------------

    def check(self, decode: bool = False) -> str:
        """A table of the dataset's counts next to the official SYSU-MM01 counts.

        Args:
            decode: Also decode every image (in parallel threads, with a progress bar on a
                terminal) and list the corrupt, truncated or empty files by path.
        """
        train = self.train
        query = self.query()
        official_perm = (self.root / "exp" / "rand_perm_cam.mat").is_file()
        sampler: Literal["official", "agw"] = "official" if official_perm else "agw"
        rows: list[tuple[str, int | str, int]] = [
            ("train ids", len(self.train_ids), OFFICIAL_COUNTS["train_ids"]),
            ("val ids", len(self.val_ids), OFFICIAL_COUNTS["val_ids"]),
            ("test ids", len(self.test_ids), OFFICIAL_COUNTS["test_ids"]),
            ("train visible images", sum(s.modality == VISIBLE for s in train), 22258),
            ("train infrared images", sum(s.modality == INFRARED for s in train), 11909),
            ("query images", len(query), OFFICIAL_COUNTS["query_images"]),
        ]
        size: int | str  # the gallery size, or why it could not be read
        for mode in ("all", "indoor"):
            for shots in (1, 10):
                try:
                    size = len(self.gallery(mode, shots, 0, sampler))
                except (DatasetLayoutError, ImportError) as err:
                    first = err.problems[0] if isinstance(err, DatasetLayoutError) else str(err)
                    size = f"error: {first.splitlines()[0]}"
                rows.append((f"gallery {mode} {shots}-shot (trial 0, {sampler})", size,
                             OFFICIAL_COUNTS[f"gallery_{mode}_{shots}"]))  # fmt: skip
        indoor_ids = {pid for (cam, pid) in self._images if cam in GALLERY_CAMS["indoor"]}
        valid = sum(s.pid in indoor_ids for s in query)
        rows.append(("valid indoor queries", valid, OFFICIAL_COUNTS["valid_queries_indoor"]))
        width = max(len(r[0]) for r in rows)
        lines = [f"SYSU-MM01 at {self.root}", f"{'':<{width}}  {'found':>8}  {'official':>8}"]
        for name, found, official in rows:
            mark = "" if found == official else "  <- differs"
            lines.append(f"{name:<{width}}  {found!s:>8}  {official:>8}{mark}")
        if decode:
            paths = [p for _, files in sorted(self._images.items()) for p in files]
            lines.append(decode_report(paths, self.root))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"SYSUMM01(root={str(self.root)!r}, train_ids={len(self.train_ids)}, "
            f"val_ids={len(self.val_ids)}, test_ids={len(self.test_ids)})"
        )


def _read_rand_perm_cam(path: Path, root: Path) -> list[Any]:
    """The official gallery permutations: per camera, one ``(trials, n)`` array per identity.

    Anything that is not the official file (an HTML error page saved under its name, a
    truncated download, another variable) is a `DatasetLayoutError` naming the file.
    """
    from scipy.io import loadmat

    rel = "exp/rand_perm_cam.mat"
    hint = (
        f"Copy evaluation/data_split/rand_perm_cam.mat from the official SYSU-MM01 evaluation "
        f"kit into {path.parent} again, or evaluate with sampler='agw', which needs no file."
    )

    def bad(problem: str) -> DatasetLayoutError:
        return DatasetLayoutError("SYSU-MM01", root, [f"{rel}: {problem}"], hint)

    try:
        mat = loadmat(str(path))
    except Exception as err:  # SciPy raises ValueError, TypeError, OSError, ... on garbage
        raise bad(f"not a readable Matlab file ({type(err).__name__}: {err})") from err
    if "rand_perm_cam" not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise bad(f"holds no variable 'rand_perm_cam' (variables found: {found})")
    cells = mat["rand_perm_cam"]
    if not isinstance(cells, np.ndarray) or cells.shape != (6, 1) or cells.dtype != object:
        shape = getattr(cells, "shape", None)
        raise bad(f"expected 'rand_perm_cam' to be a 6x1 cell array, got shape {shape}")
    perm = []
    for c in range(6):
        rows = np.asarray(cells[c][0]).reshape(-1)
        for pid, entry in enumerate(rows, start=1):
            if not isinstance(entry, np.ndarray) or (
                entry.size and (entry.ndim != 2 or not np.issubdtype(entry.dtype, np.number))
            ):
                raise bad(
                    f"camera {c + 1}, identity {pid}: expected a numeric (trials, images) "
                    f"matrix, got {type(entry).__name__} {getattr(entry, 'shape', '')}"
                )
        perm.append(rows)
    return perm
