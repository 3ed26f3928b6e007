"""SYSU-MM01 reader and gallery samplers, checked against the spec's values (§1.6).

The golden tests build a tree of empty image files from the official evaluation split in
``../shared/data/sysu_mm01_eval`` (skipped when that folder or SciPy is absent).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from vireid.data import INFRARED, SYSUMM01, VISIBLE, DatasetLayoutError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "sysu_mm01_eval"


def _key_hash(gallery):
    keys = sorted(f"cam{s.cam}/{s.pid:04d}/{s.path.stem}" for s in gallery)
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def _number_sum(gallery):
    return sum(int(s.path.stem) for s in gallery)


@pytest.fixture(scope="module")
def official_tree(tmp_path_factory):
    if not SHARED.is_dir():
        pytest.skip(f"official split files not found at {SHARED}")
    loadmat = pytest.importorskip("scipy.io").loadmat
    root = tmp_path_factory.mktemp("sysu")
    cells = loadmat(str(SHARED / "rand_perm_cam.mat"))["rand_perm_cam"]
    with_images = set()
    for cam in range(1, 7):
        for pid0, perm in enumerate(cells[cam - 1][0].reshape(-1)):
            if perm.size == 0:
                continue
            folder = root / f"cam{cam}" / f"{pid0 + 1:04d}"
            folder.mkdir(parents=True)
            for k in range(1, perm.shape[1] + 1):
                (folder / f"{k:04d}.jpg").touch()
            with_images.add(pid0 + 1)
    test = loadmat(str(SHARED / "test_id.mat"))["id"].ravel().tolist()
    train = loadmat(str(SHARED / "train_id.mat"))["id"].ravel().tolist()
    val = sorted(with_images - set(test) - set(train))[:99]  # any 99 others stand in for val
    (root / "exp").mkdir()
    for name, ids in (("train", train), ("val", val), ("test", test)):
        (root / "exp" / f"{name}_id.txt").write_text(",".join(map(str, ids)) + "\n")
    shutil.copy(SHARED / "rand_perm_cam.mat", root / "exp" / "rand_perm_cam.mat")
    return root


@pytest.fixture(scope="module")
def sysu(official_tree):
    return SYSUMM01(official_tree)


SUMS = {
    ("official", "all"): [3671, 3668, 3453, 3491, 3745, 3497, 3485, 3490, 3450, 3591],
    ("official", "indoor"): [1570, 1544, 1553, 1401, 1723, 1498, 1415, 1459, 1485, 1525],
    ("agw", "all"): [3649, 3566, 3469, 3639, 3419, 3482, 3705, 3545, 3586, 3453],
    ("agw", "indoor"): [1647, 1568, 1722, 1681, 1458, 1487, 1600, 1482, 1529, 1376],
}
HASHES = {
    ("official", "all", 1): "19465f2d6522e47e",
    ("official", "indoor", 1): "fff7fed7618a119b",
    ("official", "all", 10): "416fa97f2056abfd",
    ("official", "indoor", 10): "6bd93f4ca1393d42",
    ("agw", "all", 1): "3ab50a5067f0d8d7",
    ("agw", "indoor", 1): "b478ea42987d0aae",
}


@pytest.mark.parametrize(("sampler", "mode", "shots"), sorted(HASHES))
def test_trial0_gallery_hash(sysu, sampler, mode, shots):
    gallery = sysu.gallery(mode, shots, 0, sampler)
    assert _key_hash(gallery) == HASHES[(sampler, mode, shots)]
    assert len(gallery) == {"all": 301, "indoor": 112}[mode] * shots
    assert all(s.modality == VISIBLE and s.label == -1 for s in gallery)


@pytest.mark.parametrize(("sampler", "mode"), sorted(SUMS))
def test_image_number_sums_over_ten_trials(sysu, sampler, mode):
    sums = [_number_sum(sysu.gallery(mode, 1, t, sampler)) for t in range(10)]
    assert sums == SUMS[(sampler, mode)]


def test_first_draws_and_orders(sysu):
    agw = [(s.pid, s.cam, int(s.path.stem)) for s in sysu.gallery("all", 1, 0, "agw")[:6]]
    assert agw == [(6, 1, 25), (6, 2, 25), (6, 4, 14), (6, 5, 2), (10, 1, 17), (10, 2, 17)]
    off = [(s.pid, s.cam, int(s.path.stem)) for s in sysu.gallery("all", 1, 0, "official")[:6]]
    assert off == [(6, 1, 5), (10, 1, 18), (27, 1, 5), (28, 1, 1), (54, 1, 31), (63, 1, 16)]


def test_subset_relations(sysu):
    keys = lambda g: {(s.cam, s.pid, s.path.stem) for s in g}  # noqa: E731
    for t in (0, 3):
        assert keys(sysu.gallery("indoor", 1, t)) <= keys(sysu.gallery("all", 1, t))
        assert keys(sysu.gallery("all", 1, t)) <= keys(sysu.gallery("all", 10, t))
    # Under the AGW sampler the draws for cameras 4/5 shift the stream: not a subset.
    assert not keys(sysu.gallery("indoor", 1, 0, "agw")) <= keys(sysu.gallery("all", 1, 0, "agw"))


def test_agw_multi_shot_is_deterministic_and_keeps_draw_order(sysu):
    a = sysu.gallery("all", 10, 2, "agw")
    b = sysu.gallery("all", 10, 2, "agw")
    assert a == b and len(a) == 3010
    first = a[:10]
    assert len({s.path for s in first}) == 10 and {(s.pid, s.cam) for s in first} == {(6, 1)}


def test_query_set_and_counts(sysu):
    query = sysu.query()
    assert len(query) == 3803
    assert {s.cam for s in query} == {3, 6} and all(s.modality == INFRARED for s in query)
    assert len({s.pid for s in query if s.cam == 3}) == 93
    assert len({s.pid for s in query}) == 96
    indoor_ids = {s.pid for s in sysu.gallery("indoor", 1, 0)}
    assert sum(s.pid in indoor_ids for s in query) == 2208
    report = sysu.check()
    for line in report.splitlines():
        if line.startswith(("test ids", "query images", "gallery", "valid indoor")):
            assert "differs" not in line, line


def test_training_labels(official_tree, sysu):
    train = sysu.train
    assert {s.label for s in train} == set(range(395))
    assert all(s.pid not in set(sysu.test_ids) for s in train)
    vis = [s for s in train if s.modality == VISIBLE]
    assert train[: len(vis)] == vis  # visible list first, then infrared
    assert {s.cam for s in vis} == {1, 2, 4, 5}
    first_pid = min(sysu.train_ids + sysu.val_ids)
    assert all(s.label == 0 for s in train if s.pid == first_pid)
    listed = SYSUMM01(official_tree, label_order="listed")
    head = listed.train_ids[0]
    assert {s.label for s in listed.train if s.pid == head} == {0}


def test_missing_permutation_file_says_where_to_get_it(official_tree, tmp_path):
    root = tmp_path / "sysu"
    shutil.copytree(official_tree / "exp", root / "exp")
    (root / "exp" / "rand_perm_cam.mat").unlink()
    for cam in range(1, 7):
        src = official_tree / f"cam{cam}"
        (root / f"cam{cam}").symlink_to(src, target_is_directory=True)
    ds = SYSUMM01(root)
    with pytest.raises(FileNotFoundError, match=r"evaluation kit.*sampler='agw' needs no file"):
        ds.gallery()
    assert len(ds.gallery(sampler="agw")) == 301


def test_bad_arguments(sysu):
    with pytest.raises(ValueError, match="mode"):
        sysu.gallery("outdoor")
    with pytest.raises(ValueError, match="shots"):
        sysu.gallery("all", 5)
    with pytest.raises(ValueError, match="trial"):
        sysu.gallery("all", 1, 10)
    with pytest.raises(ValueError, match="sampler"):
        sysu.gallery("all", 1, 0, "random")


# --- layout validation (no shared data needed) -------------------------------------------


def _small_tree(root: Path):
    (root / "exp").mkdir(parents=True)
    (root / "exp" / "train_id.txt").write_text("1,2\n")
    (root / "exp" / "val_id.txt").write_text("3\n")
    (root / "exp" / "test_id.txt").write_text("4,5\n")
    for cam in range(1, 7):
        for pid in range(1, 6):
            folder = root / f"cam{cam}" / f"{pid:04d}"
            folder.mkdir(parents=True)
            for k in range(1, 4):
                (folder / f"{k:04d}.jpg").touch()


def test_every_layout_problem_is_reported_at_once(tmp_path):
    _small_tree(tmp_path)
    shutil.rmtree(tmp_path / "cam4")
    (tmp_path / "exp" / "val_id.txt").unlink()
    for f in (tmp_path / "cam2" / "0003").iterdir():
        f.unlink()
    (tmp_path / "exp" / "test_id.txt").write_text("4,x,2\n")
    with pytest.raises(DatasetLayoutError) as err:
        SYSUMM01(tmp_path, official_split=False)
    text = str(err.value)
    for expected in ("missing camera folder cam4/", "missing id file exp/val_id.txt",
                     "cam2/0003/ is empty", "'x' is not an integer",
                     "exp/train_id.txt and exp/test_id.txt share 1"):  # fmt: skip
        assert expected in text
    assert len(err.value.problems) == 5


def test_official_split_check_and_small_trees(tmp_path):
    _small_tree(tmp_path)
    with pytest.raises(DatasetLayoutError, match="lists 2 identities; the official split has 296"):
        SYSUMM01(tmp_path)
    ds = SYSUMM01(tmp_path, official_split=False)
    assert len(ds.query()) == 2 * 2 * 3
    assert len(ds.gallery("all", 1, 0, "agw")) == 2 * 4
    with pytest.raises(DatasetLayoutError, match="multi-shot needs 10"):
        ds.gallery("all", 10, 0, "agw")
    assert "SYSUMM01(" in repr(ds)


def test_missing_root(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        SYSUMM01(tmp_path / "nowhere")
