"""Identity-list files are read in full: comma- or newline-separated, with or without a BOM."""

from __future__ import annotations

import pytest

from vireid.data import LLCM, SYSUMM01, DatasetLayoutError, make_llcm_like, make_sysu_like
from vireid.data.index_file import read_id_list


@pytest.fixture(scope="module")
def sysu_root(tmp_path_factory):
    return make_sysu_like(tmp_path_factory.mktemp("sysu") / "tree", num_ids=12, seed=4,
                          images_per_camera=2)  # fmt: skip


def _ids(path):
    return [int(p) for p in path.read_text().strip().split(",")]


@pytest.mark.parametrize(
    "write",
    [
        lambda ids: "\n".join(map(str, ids)) + "\n",  # one id per line
        lambda ids: "\ufeff" + ",".join(map(str, ids)),  # UTF-8 byte-order mark
        lambda ids: ",".join(map(str, ids[:2])) + ",\n" + "\r\n".join(map(str, ids[2:])),
        lambda ids: "  " + " , ".join(map(str, ids)) + " \n\n",
    ],
    ids=["per-line", "bom", "mixed-crlf", "spaces"],
)
def test_every_layout_reads_every_identity(tmp_path, write):
    ids = [3, 11, 7, 5, 12]
    f = tmp_path / "ids.txt"
    f.write_text(write(ids), encoding="utf-8")
    problems: list[str] = []
    assert read_id_list(f, "ids.txt", problems) == ids
    assert problems == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2\n3 4\n", "ids.txt:2: '3 4' is not an integer identity"),
        ("1;2;3", "ids.txt:1: '1;2;3' is not an integer"),
        ("\n \n", "ids.txt holds no identity"),
        ("1,2\n2", r"more than once: [2]"),
    ],
)
def test_anything_else_is_a_problem_with_the_file_and_line(tmp_path, text, message):
    f = tmp_path / "ids.txt"
    f.write_text(text)
    problems: list[str] = []
    read_id_list(f, "ids.txt", problems)
    assert any(message in p for p in problems), problems


def test_binary_and_missing_files(tmp_path):
    f = tmp_path / "ids.txt"
    f.write_bytes(b"\xff\xfe\x00garbage")
    problems: list[str] = []
    assert read_id_list(f, "ids.txt", problems) == []
    assert "not a UTF-8 text file" in problems[0]
    problems.clear()
    read_id_list(tmp_path / "nope.txt", "exp/nope.txt", problems)
    assert problems == ["missing id file exp/nope.txt"]


def test_sysu_custom_split_with_one_id_per_line(sysu_root):
    reference = SYSUMM01(sysu_root, official_split=False)
    test_file = sysu_root / "exp" / "test_id.txt"
    original = test_file.read_text()
    try:
        test_file.write_text("\n".join(map(str, _ids(test_file))) + "\n")
        per_line = SYSUMM01(sysu_root, official_split=False)
        assert len(per_line.test_ids) == len(reference.test_ids) > 1
        assert per_line.test_ids == reference.test_ids
        test_file.write_text(original.strip() + "\n13 14\n")
        with pytest.raises(DatasetLayoutError, match=r"exp/test_id.txt:2: '13 14'"):
            SYSUMM01(sysu_root, official_split=False)
    finally:
        test_file.write_text(original)


def test_llcm_test_ids_one_per_line(tmp_path):
    root = make_llcm_like(tmp_path / "llcm", num_ids=10, seed=2)
    reference = LLCM(root)
    f = root / "idx" / "test_id.txt"
    f.write_text("\ufeff" + "\n".join(map(str, reversed(_ids(f)))))
    per_line = LLCM(root)
    assert per_line.test_ids == reference.test_ids and len(per_line.test_ids) > 1
