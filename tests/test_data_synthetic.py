"""Synthetic datasets in the SYSU-MM01, RegDB and LLCM layouts (vireid.data.synthetic)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vireid.data import INFRARED, LLCM, SYSUMM01, VISIBLE, ImageDataset, RegDB, synthetic
from vireid.data.synthetic import make_llcm_like, make_regdb_like, make_sysu_like

SYSU_VISIBLE = (1, 2, 4, 5)
SYSU_INFRARED = (3, 6)
LLCM_NAME = re.compile(r"^(\d{4})_c(\d{2})_s(\d+)_f(\d+)_(vis|nir)\.jpg$")


def _tree_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


# --- SYSU-MM01 ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sysu_root(tmp_path_factory):
    return make_sysu_like(
        tmp_path_factory.mktemp("sysu") / "data", num_ids=20, seed=1, images_per_camera=3
    )


def _sysu_pairs(root: Path) -> dict[tuple[int, int], list[str]]:
    pairs = {}
    for cam in range(1, 7):
        for folder in sorted((root / f"cam{cam}").iterdir()):
            pairs[(cam, int(folder.name))] = sorted(f.name for f in folder.iterdir())
    return pairs


def _ids(root: Path, name: str) -> list[int]:
    lines = (root / "exp" / f"{name}_id.txt").read_text().splitlines()
    assert len(lines) == 1
    return [int(v) for v in lines[0].split(",")]


def test_sysu_layout(sysu_root):
    train, val, test = (_ids(sysu_root, n) for n in ("train", "val", "test"))
    assert sorted(train + val + test) == list(range(1, 21))  # disjoint and complete
    assert train == sorted(train) and test == sorted(test)
    pairs = _sysu_pairs(sysu_root)
    for (cam, pid), names in pairs.items():
        assert names == [f"{k:04d}.jpg" for k in range(1, len(names) + 1)], (cam, pid)
    assert len(pairs) < 6 * 20  # some (identity, camera) pairs are absent
    for pid in range(1, 21):
        assert any((c, pid) in pairs for c in SYSU_VISIBLE), pid
        assert any((c, pid) in pairs for c in SYSU_INFRARED), pid
    for pid in test:
        assert (1, pid) in pairs or (2, pid) in pairs, pid
        for cam in SYSU_VISIBLE:
            assert len(pairs.get((cam, pid), "x" * 10)) >= 10, (cam, pid)


def test_sysu_tree_is_read_by_the_reader(sysu_root):
    ds = SYSUMM01(sysu_root, official_split=False)
    pairs = _sysu_pairs(sysu_root)
    test = set(ds.test_ids)
    train_ids = set(ds.train_ids) | set(ds.val_ids)

    train = ds.train
    assert {s.label for s in train} == set(range(len(train_ids)))
    assert {s.pid for s in train} == train_ids
    n_train = sum(len(v) for (_, pid), v in pairs.items() if pid in train_ids)
    assert len(train) == n_train
    assert {s.cam for s in train if s.modality == VISIBLE} <= set(SYSU_VISIBLE)

    query = ds.query()
    n_query = sum(len(v) for (cam, pid), v in pairs.items() if pid in test and cam in (3, 6))
    assert len(query) == n_query > 0
    assert all(s.modality == INFRARED and s.cam in SYSU_INFRARED for s in query)

    n_all = sum(1 for cam, pid in pairs if pid in test and cam in SYSU_VISIBLE)
    n_indoor = sum(1 for cam, pid in pairs if pid in test and cam in (1, 2))
    assert len(ds.gallery("all", 1, 0, "agw")) == n_all
    for trial in (0, 5, 9):
        gallery = ds.gallery("indoor", 10, trial, "agw")
        assert len(gallery) == 10 * n_indoor
        assert len({s.path for s in gallery}) == len(gallery)
        assert {s.pid for s in gallery} == test  # every test identity is indoor


def test_sysu_official_permutations(sysu_root):
    loadmat = pytest.importorskip("scipy.io").loadmat
    cells = loadmat(str(sysu_root / "exp" / "rand_perm_cam.mat"))["rand_perm_cam"]
    assert cells.shape == (6, 1) and cells.dtype == object
    pairs = _sysu_pairs(sysu_root)
    for cam in range(1, 7):
        rows = cells[cam - 1][0]
        assert rows.shape == (20, 1)
        for pid in range(1, 21):
            perm = rows.reshape(-1)[pid - 1]
            n = len(pairs.get((cam, pid), []))
            assert perm.shape == (10, n), (cam, pid)
            assert np.issubdtype(perm.dtype, np.integer)
            for row in perm:
                assert sorted(row.tolist()) == list(range(1, n + 1))
            if n > 2:
                assert len({tuple(r) for r in perm.tolist()}) > 1  # rows are different draws

    ds = SYSUMM01(sysu_root, official_split=False)
    test = set(ds.test_ids)
    n_pairs = {
        "all": sum(1 for cam, pid in pairs if pid in test and cam in SYSU_VISIBLE),
        "indoor": sum(1 for cam, pid in pairs if pid in test and cam in (1, 2)),
    }
    for mode in ("all", "indoor"):
        for shots in (1, 10):
            for trial in (0, 7):
                gallery = ds.gallery(mode, shots, trial, "official")
                assert len(gallery) == shots * n_pairs[mode]
                assert all(s.path.is_file() for s in gallery)
    keys = lambda g: {s.path for s in g}  # noqa: E731
    assert keys(ds.gallery("indoor", 1, 3, "official")) <= keys(ds.gallery("all", 1, 3, "official"))


def test_sysu_without_scipy_skips_the_permutation_file(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.io", None)  # "import scipy.io" now fails
    root = make_sysu_like(tmp_path / "sysu", num_ids=4, images_per_camera=1)
    assert not (root / "exp" / "rand_perm_cam.mat").exists()
    ds = SYSUMM01(root, official_split=False)
    assert len(ds.gallery("all", 10, 0, "agw")) % 10 == 0
    with pytest.raises(FileNotFoundError, match="sampler='agw' needs no file"):
        ds.gallery("all", 1, 0, "official")


# --- RegDB --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regdb_root(tmp_path_factory):
    return make_regdb_like(
        tmp_path_factory.mktemp("regdb") / "data", num_ids=12, seed=2, images_per_person=3
    )


def _index(path: Path) -> list[tuple[str, int]]:
    out = []
    for line in path.read_text().splitlines():
        rel, label = line.split(" ")
        out.append((rel, int(label)))
    return out


def test_regdb_layout(regdb_root):
    for folder in ("Visible", "Thermal"):
        pids = sorted(int(p.name) for p in (regdb_root / folder).iterdir())
        assert pids == list(range(1, 13))
        for pid in pids:
            files = list((regdb_root / folder / str(pid)).iterdir())
            assert len(files) == 3 and all(f.suffix == ".bmp" for f in files)
    halves = set()
    for t in range(1, 11):
        split_pids = {}
        for part in ("train", "test"):
            pid_sets = []
            for modality, folder in (("visible", "Visible"), ("thermal", "Thermal")):
                rows = _index(regdb_root / "idx" / f"{part}_{modality}_{t}.txt")
                assert all(rel.startswith(folder + "/") for rel, _ in rows)
                assert all((regdb_root / rel).is_file() for rel, _ in rows)
                label_of = {}
                for rel, label in rows:
                    pid = int(rel.split("/")[1])
                    assert label_of.setdefault(pid, label) == label  # one label per identity
                assert sorted(label_of.values()) == list(range(len(label_of)))  # contiguous
                assert len(rows) == 3 * len(label_of)
                pid_sets.append(label_of)
            assert pid_sets[0] == pid_sets[1]  # same identities and labels in both modalities
            split_pids[part] = set(pid_sets[0])
        assert not split_pids["train"] & split_pids["test"]
        assert split_pids["train"] | split_pids["test"] == set(range(1, 13))
        assert len(split_pids["train"]) == 6
        halves.add(frozenset(split_pids["train"]))
    assert len(halves) > 5  # different random halves per split


def test_regdb_tree_is_read_by_the_reader(regdb_root):
    for split in (1, 10):
        ds = RegDB(regdb_root, split=split)
        assert len(ds.train) == 2 * 6 * 3
        assert {s.label for s in ds.train} == set(range(6))
        assert len(ds.test_visible) == len(ds.test_thermal) == 6 * 3
        assert {s.pid for s in ds.train}.isdisjoint(s.pid for s in ds.test_visible)
    item = ImageDataset(ds.test_thermal)[0]
    assert tuple(item["image"].shape) == (3, 128, 64)


def test_regdb_default_has_ten_images_per_person(tmp_path):
    root = make_regdb_like(tmp_path / "r", num_ids=2)
    for folder in ("Visible", "Thermal"):
        assert all(len(list(d.iterdir())) == 10 for d in (root / folder).iterdir())


# --- LLCM ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llcm_root(tmp_path_factory):
    return make_llcm_like(
        tmp_path_factory.mktemp("llcm") / "data", num_ids=15, seed=3, images_per_camera=2
    )


def test_llcm_lists(llcm_root):
    idx = llcm_root / "idx"
    parts = {}
    for part in ("train", "test"):
        label_of = {}
        for mod in ("vis", "nir"):
            rows = _index(idx / f"{part}_{mod}.txt")
            assert rows
            for rel, label in rows:
                top, pid4, name = rel.split("/")
                match = LLCM_NAME.match(name)
                assert top == mod and match and match[1] == pid4 and match[5] == mod, rel
                assert 1 <= int(match[2]) <= 9
                assert (llcm_root / rel).is_file()
                assert label_of.setdefault(int(pid4), label) == label
        assert sorted(label_of.values()) == list(range(len(label_of)))  # contiguous
        parts[part] = set(label_of)
    assert not parts["train"] & parts["test"]
    assert parts["train"] | parts["test"] == set(range(1, 16))
    test_ids = [int(v) for v in (idx / "test_id.txt").read_text().splitlines()[0].split(",")]
    assert set(test_ids) == parts["test"]


def test_llcm_tree_is_read_by_the_reader(llcm_root):
    ds = LLCM(llcm_root)
    n_train = len({s.pid for s in ds.train})
    assert n_train == 15 - len(ds.test_ids)
    assert {s.label for s in ds.train} == set(range(n_train))
    n_lines = {m: len(_index(llcm_root / "idx" / f"test_{m}.txt")) for m in ("vis", "nir")}
    pairs = {
        m: {
            (int(p.parent.parent.name[3:]), int(p.parent.name))
            for p in (llcm_root / f"test_{m}").glob("cam*/*/*.jpg")
        }
        for m in ("vis", "nir")
    }
    assert len(ds.query("ir2vis", "deen", 0)) == n_lines["nir"]
    assert len(ds.gallery("ir2vis", "deen", 4)) == len(pairs["vis"])
    assert len(ds.query("vis2ir", "symmetric", 1)) == n_lines["vis"]
    assert len(ds.gallery("vis2ir", "symmetric", 1)) == len(pairs["nir"])
    assert len(ds.gallery("ir2vis", "full", 0)) == n_lines["vis"]
    assert {s.pid for s in ds.gallery()} == set(ds.test_ids)


def test_llcm_camera_folders_hold_the_test_images(llcm_root):
    for mod in ("vis", "nir"):
        listed = {
            rel.split("/")[2]: rel for rel, _ in _index(llcm_root / "idx" / f"test_{mod}.txt")
        }
        cams = sorted(p.name for p in (llcm_root / f"test_{mod}").iterdir())
        expected = [f"cam{c}" for c in range(1, 10) if not (mod == "nir" and c == 3)]
        assert sorted(cams) == sorted(expected)
        found = {}
        for path in (llcm_root / f"test_{mod}").glob("cam*/*/*"):
            cam, pid4, name = path.parts[-3:]
            match = LLCM_NAME.match(name)
            assert match and int(match[2]) == int(cam[3:]) and match[1] == pid4
            found[name] = path
        assert set(found) == set(listed)
        for name, path in found.items():
            assert path.read_bytes() == (llcm_root / listed[name]).read_bytes()


def test_llcm_cameras_and_sequences(llcm_root):
    modalities_of_cam = defaultdict(set)
    modality_of_sequence = {}
    for path in list((llcm_root / "vis").rglob("*.jpg")) + list((llcm_root / "nir").rglob("*.jpg")):
        match = LLCM_NAME.match(path.name)
        cam, mod = int(match[2]), match[5]
        modalities_of_cam[cam].add(mod)
        assert modality_of_sequence.setdefault((cam, match[3]), mod) == mod
    assert "nir" not in modalities_of_cam.get(3, set())
    assert any(len(mods) == 2 for mods in modalities_of_cam.values())


# --- determinism ----------------------------------------------------------------------------

SMALL = {
    make_sysu_like: {"num_ids": 4, "images_per_camera": 1},
    make_regdb_like: {"num_ids": 3, "images_per_person": 2},
    make_llcm_like: {"num_ids": 3, "images_per_camera": 1},
}


@pytest.mark.parametrize("make", list(SMALL), ids=lambda f: f.__name__)
def test_same_seed_same_bytes_different_seed_different_bytes(tmp_path, make):
    a = _tree_hashes(make(tmp_path / "a", seed=5, **SMALL[make]))
    b = _tree_hashes(make(tmp_path / "nested" / "b", seed=5, **SMALL[make]))
    assert a == b and len(a) > 10
    c = _tree_hashes(make(tmp_path / "c", seed=6, **SMALL[make]))
    images = [k for k in a if k.endswith((".jpg", ".bmp"))]
    differ = [k for k in images if c.get(k) not in (None, a[k])]
    assert len(differ) + sum(k not in c for k in images) == len(images)


# --- images and the modality gap ------------------------------------------------------------


def test_infrared_images_have_three_equal_channels(sysu_root, regdb_root, llcm_root):
    infrared = (
        list((sysu_root / "cam3").rglob("*.jpg"))[:20]
        + list((sysu_root / "cam6").rglob("*.jpg"))[:20]
        + list((regdb_root / "Thermal").rglob("*.bmp"))[:20]
        + list((llcm_root / "nir").rglob("*.jpg"))[:20]
    )
    for path in infrared:
        with Image.open(path) as im:
            assert im.mode == "RGB", path
        px = _pixels(path)
        assert np.abs(px[..., 0] - px[..., 1]).max() <= 1, path
        assert np.abs(px[..., 0] - px[..., 2]).max() <= 1, path
    visible = (
        list((sysu_root / "cam1").rglob("*.jpg"))[:5]
        + list((regdb_root / "Visible").rglob("*.bmp"))[:5]
    )
    for path in visible:
        px = _pixels(path)
        assert np.abs(px[..., 0] - px[..., 2]).mean() > 5, path


def test_images_have_the_requested_size(tmp_path):
    root = make_regdb_like(tmp_path / "r", num_ids=2, images_per_person=1, size=(96, 40))
    for path in root.rglob("*.bmp"):
        with Image.open(path) as im:
            assert im.size == (40, 96)


@pytest.fixture(scope="module")
def gap_root(tmp_path_factory):
    """40 identities, 3 images each, no jitter beyond the minimum: for the image statistics."""
    return make_regdb_like(
        tmp_path_factory.mktemp("gap") / "data", num_ids=40, images_per_person=3, difficulty=0.0
    )


def test_visible_identities_have_different_mean_colours(gap_root):
    means = [
        np.stack(
            [_pixels(p).mean(axis=(0, 1)) for p in (gap_root / "Visible" / str(pid)).iterdir()]
        )
        for pid in range(1, 41)
    ]
    per_id = np.stack([m.mean(axis=0) for m in means])
    between = per_id.var(axis=0, ddof=1).sum()
    within = np.mean([m.var(axis=0, ddof=1).sum() for m in means])
    assert between > 4 * within, (between, within)
    dist = np.linalg.norm(per_id[:, None] - per_id[None], axis=-1)
    assert dist[~np.eye(len(dist), dtype=bool)].min() > 1.0


def _torso_statistics(root: Path, num_ids: int) -> dict[str, np.ndarray]:
    """Mean brightness of a patch inside the upper garment, per identity and image.

    At ``difficulty=0`` and the default size the torso always covers rows 36–40 and columns
    25–39 (the person is centred up to a few pixels; see ``_render``).
    """
    stats = {}
    for folder in ("Visible", "Thermal"):
        values = []
        for pid in range(1, num_ids + 1):
            files = sorted((root / folder / str(pid)).iterdir())
            values.append([_pixels(f)[36:41, 25:40].mean() for f in files])
        stats[folder] = np.array(values)
    return stats


def _modality_gap_correlations(root: Path, num_ids: int) -> dict[str, float]:
    s = _torso_statistics(root, num_ids)
    vis, ir = s["Visible"], s["Thermal"]
    r = lambda a, b: float(np.corrcoef(a, b)[0, 1])  # noqa: E731
    return {
        # The patch measures a property of the identity in each modality ...
        "visible_repeat": r(vis[:, 0], vis[:, 1:].mean(axis=1)),
        "infrared_repeat": r(ir[:, 0], ir[:, 1:].mean(axis=1)),
        # ... which does not carry over from one modality to the other.
        "cross": r(vis.mean(axis=1), ir.mean(axis=1)),
    }


def test_infrared_intensity_is_independent_of_visible_colour(gap_root):
    r = _modality_gap_correlations(gap_root, 40)
    assert r["visible_repeat"] > 0.8 and r["infrared_repeat"] > 0.8, r
    assert abs(r["cross"]) < 0.5, r


def test_modality_gap_check_detects_colour_derived_infrared(tmp_path, monkeypatch):
    """The check above fails for a generator whose infrared intensity is the visible luminance."""
    original = synthetic._make_identity

    def colour_derived(seed, dataset, pid):
        ident = original(seed, dataset, pid)
        visible, infrared = ident.palettes
        luminance = {
            k: (np.float32([0.299, 0.587, 0.114]) @ v.reshape(3)).reshape(1, 1, 1)
            for k, v in visible.items()
        }
        return dataclasses.replace(ident, palettes=(visible, {**infrared, **luminance}))

    monkeypatch.setattr(synthetic, "_make_identity", colour_derived)
    root = make_regdb_like(tmp_path / "r", num_ids=40, images_per_person=3, difficulty=0.0)
    assert _modality_gap_correlations(root, 40)["cross"] > 0.7


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kwargs", "error", "match"),
    [
        (make_sysu_like, {"num_ids": 2}, ValueError, r"num_ids must be in 3\.\.9999.*got 2"),
        (make_regdb_like, {"num_ids": 1}, ValueError, r"num_ids must be at least 2.*got 1"),
        (make_llcm_like, {"num_ids": 1}, ValueError, r"num_ids must be in 2\.\.9999.*got 1"),
        (make_sysu_like, {"num_ids": 10000}, ValueError, r"num_ids.*got 10000"),
        (make_sysu_like, {"num_ids": 8.0}, TypeError, r"num_ids must be an int, got 8\.0"),
        (make_llcm_like, {"num_ids": True}, TypeError, r"num_ids must be an int"),
        (
            make_sysu_like,
            {"size": (16, 8)},
            ValueError,
            r"size must be \(height, width\).*\(16, 8\)",
        ),
        (make_regdb_like, {"size": (128, 15)}, ValueError, r"width >= 16, got \(128, 15\)"),
        (make_regdb_like, {"size": "128x64"}, TypeError, r"size must be"),
        (make_llcm_like, {"size": (128.0, 64)}, TypeError, r"size must be"),
        (make_sysu_like, {"seed": -1}, ValueError, r"seed must be at least 0, got -1"),
        (
            make_sysu_like,
            {"difficulty": 1.5},
            ValueError,
            r"difficulty must be in \[0, 1\], got 1\.5",
        ),
        (make_llcm_like, {"difficulty": float("nan")}, ValueError, r"difficulty"),
        (make_regdb_like, {"difficulty": "easy"}, TypeError, r"difficulty"),
        (make_sysu_like, {"images_per_camera": 0}, ValueError, r"images_per_camera.*got 0"),
        (make_regdb_like, {"images_per_person": 0}, ValueError, r"images_per_person.*got 0"),
        (make_llcm_like, {"jpeg_quality": 0}, ValueError, r"jpeg_quality must be in 1\.\.100"),
    ],
)
def test_bad_arguments(tmp_path, make, kwargs, error, match):
    with pytest.raises(error, match=match):
        make(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()  # checked before anything is written


@pytest.mark.parametrize("make", list(SMALL), ids=lambda f: f.__name__)
def test_non_empty_root_needs_overwrite(tmp_path, make):
    root = tmp_path / "out"
    root.mkdir()
    (root / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"not empty.*overwrite=True"):
        make(root, **SMALL[make])
    first = _tree_hashes(make(root, overwrite=True, seed=1, **SMALL[make]))
    kwargs = {**SMALL[make], "num_ids": SMALL[make]["num_ids"] + 1}
    second = _tree_hashes(make(root, overwrite=True, seed=2, **kwargs))
    fresh = _tree_hashes(make(tmp_path / "fresh", seed=2, **kwargs))
    assert first["notes.txt"] == second["notes.txt"]  # unrelated files are kept
    del second["notes.txt"]
    assert second == fresh  # nothing left over from the first tree


def test_root_that_is_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(NotADirectoryError, match="root must be a folder"):
        make_regdb_like(path)


def test_public_names():
    assert synthetic.__all__ == ["make_llcm_like", "make_regdb_like", "make_sysu_like"]
    assert make_sysu_like.__doc__ and "rand_perm_cam" in make_sysu_like.__doc__
