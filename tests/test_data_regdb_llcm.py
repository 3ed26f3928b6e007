"""RegDB and LLCM readers on small trees written in the real layouts."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from PIL import Image

from vireid.data import INFRARED, LLCM, VISIBLE, DatasetLayoutError, ImageDataset, RegDB

# --- RegDB --------------------------------------------------------------------------------


def make_regdb(root: Path, num_ids=8, per=3, split=1):
    ids = list(range(1, num_ids + 1))
    train, test = ids[: num_ids // 2], ids[num_ids // 2 :]
    (root / "idx").mkdir(parents=True)
    for kind in ("Visible", "Thermal"):
        for pid in ids:
            folder = root / kind / str(pid)
            folder.mkdir(parents=True)
            for k in range(per):
                (folder / f"{kind[0]}_{pid}_{k}.bmp").write_bytes(b"")
    for part, part_ids in (("train", train), ("test", test)):
        for kind in ("Visible", "Thermal"):
            lines = [f"{kind}/{pid}/{kind[0]}_{pid}_{k}.bmp {i}"
                     for i, pid in enumerate(part_ids) for k in range(per)]  # fmt: skip
            (root / "idx" / f"{part}_{kind.lower()}_{split}.txt").write_text("\n".join(lines))
    return train, test


def test_regdb_reads_a_split(tmp_path):
    train_ids, test_ids = make_regdb(tmp_path)
    ds = RegDB(tmp_path, split=1)
    assert len(ds.train) == 2 * 4 * 3
    assert [s.modality for s in ds.train] == [VISIBLE] * 12 + [INFRARED] * 12
    assert {s.label for s in ds.train} == {0, 1, 2, 3}
    assert all(s.label == train_ids.index(s.pid) for s in ds.train)
    assert {s.pid for s in ds.test_visible} == set(test_ids)
    assert {s.cam for s in ds.test_visible} == {1} and {s.cam for s in ds.test_thermal} == {2}
    assert all(s.label == -1 for s in ds.test_thermal)
    assert "differs" in ds.check()  # a toy tree is not the official size


def test_regdb_reports_every_problem(tmp_path):
    make_regdb(tmp_path)
    (tmp_path / "idx" / "test_thermal_1.txt").unlink()
    (tmp_path / "Visible" / "1" / "V_1_0.bmp").unlink()
    with open(tmp_path / "idx" / "train_thermal_1.txt", "a") as f:
        f.write("\nThermal/2/T_2_0.bmp 3\nbad line here")
    with pytest.raises(DatasetLayoutError) as err:
        RegDB(tmp_path, split=1)
    text = str(err.value)
    assert "missing index file idx/test_thermal_1.txt" in text
    assert "image Visible/1/V_1_0.bmp is missing" in text
    assert "label column and the identity folders disagree" in text
    assert "expected '<path> <label>'" in text
    with pytest.raises(ValueError, match="split must be"):
        RegDB(tmp_path, split=11)


# --- LLCM ---------------------------------------------------------------------------------

VIS_CAMS = range(1, 10)
NIR_CAMS = (1, 2, 4, 5, 6, 7, 8, 9)


def make_llcm(root: Path, train_ids=(1, 2, 3), test_ids=(4, 5, 6, 7), seed=0):
    rng = random.Random(seed)
    lists = {k: [] for k in ("train_vis", "train_nir", "test_vis", "test_nir")}
    for part, ids in (("train", train_ids), ("test", test_ids)):
        for mod, cams in (("vis", VIS_CAMS), ("nir", NIR_CAMS)):
            for label, pid in enumerate(ids):
                for cam in rng.sample(list(cams), 3):
                    for frame in range(rng.randint(1, 3)):
                        name = f"{pid:04d}_c{cam:02d}_s{100 + cam}_f{frame}_{mod}.jpg"
                        rel = Path(mod) / f"{pid:04d}" / name
                        (root / rel).parent.mkdir(parents=True, exist_ok=True)
                        (root / rel).write_bytes(b"")
                        lists[f"{part}_{mod}"].append(f"{rel} {label}")
                        if part == "test":
                            copy = root / f"test_{mod}" / f"cam{cam}" / f"{pid:04d}" / name
                            copy.parent.mkdir(parents=True, exist_ok=True)
                            copy.write_bytes(b"")
    (root / "idx").mkdir(parents=True)
    for name, lines in lists.items():
        (root / "idx" / f"{name}.txt").write_text("\n".join(lines))
    (root / "idx" / "test_id.txt").write_text(",".join(map(str, reversed(test_ids))))
    return lists


def test_llcm_train_and_protocol_sets(tmp_path):
    make_llcm(tmp_path)
    ds = LLCM(tmp_path)
    assert {s.label for s in ds.train} == {0, 1, 2}
    assert ds.test_ids == [4, 5, 6, 7]
    all_nir = ds.query("ir2vis", "deen", 0)
    sampled_vis = ds.gallery("ir2vis", "deen", 0)
    assert {s.modality for s in all_nir} == {INFRARED} and {s.modality for s in sampled_vis} == {
        VISIBLE
    }
    # One gallery image per (identity, VIS camera folder), identities ascending.
    pairs = [(s.pid, s.cam) for s in sampled_vis]
    assert len(pairs) == len(set(pairs)) == 4 * 3 and pairs == sorted(pairs)
    # The camera of a test image is its folder, and it matches the _cKK_ token.
    assert all(f"_c{s.cam:02d}_" in s.path.name for s in all_nir + sampled_vis)
    # The DEEN "vis2ir" is sampled NIR queries against every VIS image; symmetric is the reverse.
    q, g = ds.query("vis2ir", "deen", 3), ds.gallery("vis2ir", "deen", 3)
    assert {s.modality for s in q} == {INFRARED} and len(q) == 4 * 3
    assert {s.modality for s in g} == {VISIBLE} and len(g) == len(ds.query("vis2ir", "symmetric"))
    assert [s.path for s in ds.gallery("vis2ir", "symmetric", 3)] == [s.path for s in q]
    # Full protocol: the test lists, no sampling.
    assert len(ds.query("ir2vis", "full")) == len(all_nir)
    with pytest.raises(ValueError, match="single run"):
        ds.query("ir2vis", "full", 1)
    with pytest.raises(ValueError, match="direction"):
        ds.query("nir2vis")


def test_llcm_sampler_draws_with_random_trial_seed(tmp_path):
    make_llcm(tmp_path)
    ds = LLCM(tmp_path)
    for trial in (0, 5):
        rng = random.Random(trial)
        expected = []
        for pid in ds.test_ids:
            for cam in VIS_CAMS:
                folder = tmp_path / "test_vis" / f"cam{cam}" / f"{pid:04d}"
                if folder.is_dir():
                    expected.append(rng.choice(sorted(folder.iterdir())))
        assert [s.path for s in ds.gallery("ir2vis", "deen", trial)] == expected


def test_llcm_reports_every_problem(tmp_path):
    make_llcm(tmp_path)
    (tmp_path / "idx" / "test_id.txt").unlink()
    first = (tmp_path / "idx" / "train_vis.txt").read_text().splitlines()[0].split()[0]
    (tmp_path / first).unlink()
    with open(tmp_path / "idx" / "train_nir.txt", "a") as f:
        f.write("\nnir/0001/nocamera.jpg 0")
    (tmp_path / "nir" / "0001" / "nocamera.jpg").write_bytes(b"")
    with pytest.raises(DatasetLayoutError) as err:
        LLCM(tmp_path)
    text = str(err.value)
    assert "missing id file idx/test_id.txt" in text
    assert f"image {first} is missing" in text
    assert "no '_c<camera>_' token" in text


# --- ImageDataset -------------------------------------------------------------------------


def test_image_dataset_decodes_rgb_and_carries_labels(tmp_path):
    make_regdb(tmp_path)
    ds = RegDB(tmp_path)
    for s in ds.train[:2]:
        Image.new("L", (6, 4), color=7).save(s.path, format="BMP")  # single-channel thermal
    items = ImageDataset(ds.train[:2])
    item = items[1]
    assert item["image"].shape == (3, 4, 6) and item["image"].dtype == torch.uint8
    assert int(item["image"].max()) == 7
    assert (item["pid"], item["label"], item["index"]) == (ds.train[1].pid, 0, 1)
    flipped = ImageDataset(ds.train[:1], transform=lambda im: im.size)[0]
    assert flipped["image"] == (6, 4)
    with pytest.raises(FileNotFoundError, match="sample 0"):
        ImageDataset([ds.train[0].__class__(tmp_path / "gone.bmp", 1, 1, 0)])[0]
