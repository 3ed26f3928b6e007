"""Held-out validation identities and the resizing/caching ImageDataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vireid.data import (
    INFRARED,
    LLCM,
    SYSUMM01,
    VISIBLE,
    ImageDataset,
    RegDB,
    Sample,
    carve_identities,
    hold_out_identities,
    make_llcm_like,
    make_regdb_like,
    make_sysu_like,
)


@pytest.fixture(scope="module")
def sysu(tmp_path_factory):
    root = make_sysu_like(tmp_path_factory.mktemp("s") / "tree", num_ids=16, seed=2,
                          size=(40, 20), images_per_camera=2)  # fmt: skip
    return SYSUMM01(root, official_split=False)


def _samples():
    out = []
    for pid in (3, 5, 8, 9):
        for m in (VISIBLE, INFRARED):
            for k in range(2):
                out.append(Sample(Path(f"{pid}_{m}_{k}.jpg"), pid, 1 + 2 * m, m, label=pid // 2))
    return out


def test_hold_out_relabels_the_rest_in_label_order():
    split = hold_out_identities(_samples(), [5])
    assert split.held_out == (5,)
    assert split.label_of == {3: 0, 8: 1, 9: 2} and split.num_classes == 3
    assert {s.pid for s in split.train} == {3, 8, 9}
    assert sorted({s.label for s in split.train}) == [0, 1, 2]
    assert all(s.pid == 5 and s.modality == INFRARED and s.label == -1 for s in split.query)
    assert all(s.pid == 5 and s.modality == VISIBLE and s.label == -1 for s in split.gallery)
    assert len(split.query) == len(split.gallery) == 2
    flipped = hold_out_identities(_samples(), [5], query_modality=VISIBLE)
    assert all(s.modality == VISIBLE for s in flipped.query)


def test_hold_out_errors():
    with pytest.raises(ValueError, match="not in samples: \\[4\\]"):
        hold_out_identities(_samples(), [4])
    with pytest.raises(ValueError, match="every identity"):
        hold_out_identities(_samples(), [3, 5, 8, 9])
    one_sided = [s for s in _samples() if not (s.pid == 5 and s.modality == VISIBLE)]
    with pytest.raises(ValueError, match=r"both modalities.*\[5\]"):
        hold_out_identities(one_sided, [5])
    with pytest.raises(ValueError, match="exclude must be one of"):
        hold_out_identities(_samples(), [5], exclude="camera")


def test_carve_identities_is_seeded_and_leaves_some():
    samples = _samples()
    a = carve_identities(samples, 0.5, seed=1)
    assert a == carve_identities(samples, 0.5, seed=1) and len(a) == 2
    assert set(a) <= {3, 5, 8, 9}
    assert len(carve_identities(samples, 0.99)) == 3  # never all of them
    with pytest.raises(ValueError, match="fraction must be in"):
        carve_identities(samples, 1.0)


def test_sysu_validation_split_holds_out_val_ids(sysu):
    split = sysu.validation_split()
    assert split.held_out == tuple(sorted(sysu.val_ids))
    assert split.exclude == "sysu"
    assert split.num_classes == len(sysu.train_ids)
    assert sysu.num_classes == len(sysu.train_ids) + len(sysu.val_ids)
    assert {s.pid for s in split.train} == set(sysu.train_ids)
    label_map = sysu.label_map
    assert sorted(label_map.values()) == list(range(sysu.num_classes))
    assert all(label_map[s.pid] == s.label for s in sysu.train)


def test_regdb_and_llcm_expose_num_classes(tmp_path):
    regdb = RegDB(make_regdb_like(tmp_path / "regdb", num_ids=8), split=1)
    assert regdb.num_classes == 4
    assert sorted(regdb.label_map.values()) == [0, 1, 2, 3]
    assert all(regdb.label_map[s.pid] == s.label for s in regdb.train)
    llcm = LLCM(make_llcm_like(tmp_path / "llcm", num_ids=9))
    assert llcm.num_classes == len({s.pid for s in llcm.train})
    assert sorted(llcm.label_map.values()) == list(range(llcm.num_classes))


def test_regdb_and_llcm_carve_a_seeded_validation_split(tmp_path):
    regdb = RegDB(make_regdb_like(tmp_path / "regdb", num_ids=20), split=2)
    split = regdb.validation_split()
    assert split.held_out == carve_identities(regdb.train, 0.2, seed=0) and len(split.held_out) == 2
    assert split.num_classes == regdb.num_classes - 2 and split.exclude == "none"
    assert all(s.modality == VISIBLE for s in split.query)  # the visible->thermal direction
    assert all(s.modality == INFRARED for s in split.gallery)
    assert not {s.pid for s in split.train} & set(split.held_out)
    assert regdb.validation_split().held_out == split.held_out  # same arguments, same people
    assert regdb.validation_split(0.5, seed=1).num_classes == regdb.num_classes - 5
    llcm = LLCM(make_llcm_like(tmp_path / "llcm", num_ids=15))
    split = llcm.validation_split()
    assert split.exclude == "same_id_same_camera"  # the LLCM test rule
    assert all(s.modality == INFRARED for s in split.query)
    assert split.num_classes == llcm.num_classes - len(split.held_out)
    with pytest.raises(ValueError, match="fraction must be in"):
        llcm.validation_split(0.0)


def test_image_dataset_resizes_mixed_sizes(tmp_path):
    paths = []
    for i, size in enumerate([(30, 12), (17, 40), (64, 32)]):
        p = tmp_path / f"{i}.png"
        Image.fromarray(np.full((*size, 3), 40 * i, dtype=np.uint8)).save(p)
        paths.append(Sample(p, i, 1, VISIBLE, i))
    ds = ImageDataset(paths, size=(24, 12))
    batch = torch.utils.data.default_collate([ds[i] for i in range(3)])
    assert batch["image"].shape == (3, 3, 24, 12) and batch["image"].dtype == torch.uint8
    assert int(batch["image"][2].float().mean()) == 80
    cached = ImageDataset(paths, size=(24, 12), cache=True)
    assert cached.cached
    for i in range(3):
        assert torch.equal(cached[i]["image"], ds[i]["image"])
    lanczos = ImageDataset(paths, size=(24, 12), interpolation="lanczos")
    assert lanczos[0]["image"].shape == (3, 24, 12)


def test_image_dataset_errors_name_the_sample(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    ds = ImageDataset([Sample(tmp_path / "gone.jpg", 1, 1, 0, 0), Sample(broken, 2, 1, 0, 0)])
    with pytest.raises(FileNotFoundError, match=r"gone\.jpg \(sample 0\) is missing"):
        ds[0]
    with pytest.raises(OSError, match=r"cannot decode image .*broken\.jpg \(sample 1\)"):
        ds[1]
    with pytest.raises(ValueError, match="cache=True needs size"):
        ImageDataset([], cache=True)
    with pytest.raises(ValueError, match="interpolation must be one of"):
        ImageDataset([], size=(8, 4), interpolation="area")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size must be None or"):
        ImageDataset([], size=(8,))  # type: ignore[arg-type]
