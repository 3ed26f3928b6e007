"""The ``vireid`` command line."""

from __future__ import annotations

import pytest

from tests.test_data_regdb_llcm import make_llcm, make_regdb
from tests.test_data_sysu import _small_tree
from vireid.cli import main


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
