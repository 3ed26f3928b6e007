"""Dataset integrity: corrupt images found by path, non-image files ignored, a bad .mat named."""

from __future__ import annotations

import pytest

from vireid.cli import main
from vireid.data import (
    LLCM,
    SYSUMM01,
    DatasetLayoutError,
    RegDB,
    find_unreadable,
    make_llcm_like,
    make_regdb_like,
    make_sysu_like,
)


@pytest.fixture()
def sysu(tmp_path):
    return make_sysu_like(tmp_path / "sysu", num_ids=8, seed=2, images_per_camera=2)


def _damage(root, pattern):
    files = sorted(root.glob(pattern))
    truncated, empty, garbage = files[0], files[1], files[2]
    truncated.write_bytes(truncated.read_bytes()[:200])
    empty.write_bytes(b"")
    garbage.write_bytes(b"<html>404 Not Found</html>")
    return {truncated, empty, garbage}


def test_find_unreadable_names_each_bad_file_and_why(sysu):
    bad = _damage(sysu, "cam1/*/*.jpg")
    files = sorted(sysu.glob("cam1/*/*.jpg"))
    found = dict(find_unreadable(files, num_threads=2, progress=False))
    assert set(found) == bad
    reasons = sorted(found.values())
    assert "empty file" in reasons
    assert any("truncated" in r.lower() for r in reasons) and any("identify" in r for r in reasons)
    assert find_unreadable(sorted(sysu.glob("cam2/*/*.jpg")), progress=False) == []


def test_sysu_check_decode_and_the_cli(sysu, capsys):
    bad = _damage(sysu, "cam4/*/*.jpg")
    report = SYSUMM01(sysu, official_split=False).check(decode=True)
    for path in bad:
        assert f"unreadable: {path.relative_to(sysu)}" in report
    assert "3 unreadable" in report
    assert "unreadable" not in SYSUMM01(sysu, official_split=False).check()  # no decode: fast
    assert main(["data", "check", "sysu", str(sysu), "--unofficial", "--decode"]) == 1
    assert "3 unreadable" in capsys.readouterr().out


def test_non_image_files_are_never_samples(sysu):
    before = SYSUMM01(sysu, official_split=False)
    folder = next(iter(sorted((sysu / "cam1").iterdir())))
    (folder / "Thumbs.db").write_bytes(b"\x00" * 10)
    (folder / ".DS_Store").write_bytes(b"\x00" * 10)
    after = SYSUMM01(sysu, official_split=False)
    assert [s.path for s in after.train] == [s.path for s in before.train]
    assert "0 unreadable" in after.check(decode=True)


def test_regdb_and_llcm_check_decode(tmp_path):
    regdb = make_regdb_like(tmp_path / "regdb", num_ids=4, seed=1)
    victim = sorted(regdb.glob("Thermal/*/*.bmp"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    assert f"unreadable: {victim.relative_to(regdb)}" in RegDB(regdb).check(decode=True)
    llcm = make_llcm_like(tmp_path / "llcm", num_ids=6, seed=1)
    victim = sorted(llcm.glob("test_nir/*/*/*.jpg"))[0]
    victim.write_bytes(b"")
    assert f"unreadable: {victim.relative_to(llcm)} (empty file)" in LLCM(llcm).check(decode=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<!DOCTYPE html><html>Not found</html>", "not a readable Matlab file"),
        (b"", "not a readable Matlab file"),
        ("truncate", "not a readable Matlab file"),
        ("other-variable", "holds no variable 'rand_perm_cam'"),
        ("wrong-shape", "6x1 cell array"),
    ],
)
def test_a_bad_rand_perm_cam_is_a_layout_error(sysu, capsys, content, message):
    pytest.importorskip("scipy")
    from scipy.io import savemat

    mat = sysu / "exp" / "rand_perm_cam.mat"
    if content == "truncate":
        mat.write_bytes(mat.read_bytes()[:300])
    elif content == "other-variable":
        savemat(mat, {"perm": [[1, 2]]})
    elif content == "wrong-shape":
        savemat(mat, {"rand_perm_cam": [[1, 2, 3]]})
    else:
        mat.write_bytes(content)
    ds = SYSUMM01(sysu, official_split=False)
    with pytest.raises(DatasetLayoutError, match=message) as info:
        ds.gallery("all", 1, 0, "official")
    assert "exp/rand_perm_cam.mat" in str(
        info.value
    ) and "official SYSU-MM01 evaluation kit" in str(info.value)
    assert "error: " in ds.check()  # the report says so instead of crashing
    assert main(["data", "check", "sysu", str(sysu), "--unofficial"]) == 0
    assert message.split("'")[0] in capsys.readouterr().out
