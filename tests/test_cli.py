"""The ``vireid`` command line."""

from __future__ import annotations

import os

import pytest

from tests.test_data_regdb_llcm import make_llcm, make_regdb
from tests.test_data_sysu import _small_tree
from vireid.cli import CommandError, main


def test_check_prints_counts(tmp_path, capsys):
    _small_tree(tmp_path / "sysu")
    make_regdb(tmp_path / "regdb", split=2)
    make_llcm(tmp_path / "llcm")
    assert main(["data", "check", "sysu", str(tmp_path / "sysu"), "--unofficial"]) == 0
    assert "query images" in capsys.readouterr().out
    assert main(["data", "check", "regdb", str(tmp_path / "regdb"), "--split", "2"]) == 0
    assert "RegDB split 2" in capsys.readouterr().out
    assert main(["data", "check", "llcm", str(tmp_path / "llcm")]) == 0
    assert "test identities" in capsys.readouterr().out


def test_check_reports_layout_problems_with_exit_code_1(tmp_path, capsys):
    _small_tree(tmp_path)
    assert main(["data", "check", "sysu", str(tmp_path)]) == 1
    assert "the official split has 296" in capsys.readouterr().err


def test_usage_errors_exit_via_argparse(capsys):
    with pytest.raises(SystemExit):
        main(["data", "check", "market", "x"])
    with pytest.raises(SystemExit) as err:
        main(["--version"])
    assert err.value.code == 0 and "vireid" in capsys.readouterr().out


@pytest.mark.parametrize("dataset", ["sysu", "regdb", "llcm"])
def test_synth_then_check(tmp_path, capsys, dataset):
    root = tmp_path / dataset
    assert main(["data", "synth", dataset, str(root), "--ids", "12", "--seed", "3"]) == 0
    assert str(root) in capsys.readouterr().out
    extra = ["--unofficial"] if dataset == "sysu" else []
    assert main(["data", "check", dataset, str(root), *extra]) == 0
    assert "found" in capsys.readouterr().out


def test_synth_refuses_a_non_empty_root_until_overwrite(tmp_path, capsys):
    root = tmp_path / "tree"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    assert main(["data", "synth", "regdb", str(root), "--ids", "4"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vireid: error: root must be a new or empty")
    assert "--overwrite" in err and "Traceback" not in err
    assert main(["data", "synth", "regdb", str(root), "--ids", "4", "--overwrite"]) == 0
    assert (root / "notes.txt").read_text() == "mine"  # only the generated entries are replaced
    assert (root / "idx").is_dir()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "synth", "sysu", "{file}", "--ids", "6"], "root must be a folder"),
        (["data", "synth", "sysu", "{dir}", "--ids", "1"], "num_ids must be"),
        (["data", "check", "regdb", "{dir}", "--split", "11"], "split"),
    ],
)
def test_failures_are_one_line_with_exit_code_1(tmp_path, capsys, argv, message):
    (tmp_path / "afile").write_text("x")
    subs = {"{file}": str(tmp_path / "afile"), "{dir}": str(tmp_path / "new")}
    assert main([subs.get(a, a) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vireid: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_debug_shows_the_exception(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(CommandError) as info:
        main(["--debug", "data", "synth", "sysu", str(tmp_path / "afile")])
    assert isinstance(info.value.__cause__, NotADirectoryError)  # the traceback shows both


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as err:
        main(["data", "synth"])
    assert err.value.code == 2 and "usage:" in capsys.readouterr().err


def test_an_interrupted_synth_leaves_no_partial_tree(tmp_path, monkeypatch):
    from vireid.data import synthetic

    calls = {"n": 0}
    real = synthetic._Painter.image

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt  # as a Ctrl-C halfway through
        return real(self, *args, **kwargs)

    monkeypatch.setattr(synthetic._Painter, "image", failing)
    root = tmp_path / "tree"
    with pytest.raises(KeyboardInterrupt):
        synthetic.make_sysu_like(root, num_ids=6, images_per_camera=2)
    assert not root.exists() and list(tmp_path.iterdir()) == []
    monkeypatch.setattr(synthetic._Painter, "image", real)
    synthetic.make_sysu_like(root, num_ids=6, images_per_camera=2)
    assert (root / "exp" / "test_id.txt").is_file() and list(tmp_path.iterdir()) == [root]
    umask = os.umask(0)
    os.umask(umask)
    assert root.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's private 0700
