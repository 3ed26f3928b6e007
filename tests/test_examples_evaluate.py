"""``examples/evaluate.py``: any checkpoint on any protocol, and clear errors for the wrong one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vireid.data import make_llcm_like, make_regdb_like

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "examples" / "train_sysu.py"
EVALUATE = ROOT / "examples" / "evaluate.py"
TINY = ["--synthetic-ids", "12", "--epochs", "1", "--trials", "2", "--no-progress",
        "--set", "image_size=32,16", "--set", "width=8", "--set", "ids_per_batch=3",
        "--set", "num_instances=2", "--set", "warmup_epochs=1", "--device", "cpu"]  # fmt: skip


def _run(script: Path, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          cwd=cwd, check=check, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny MCJA run on a 12-identity synthetic SYSU-like tree: (run folder, tree)."""
    base = tmp_path_factory.mktemp("evaluate")
    cache, run = base / "cache", base / "run"
    _run(TRAIN, "--synthetic-dir", str(cache), "--output-dir", str(run), *TINY, cwd=base)
    tree = next(p for p in cache.iterdir() if not p.name.startswith("."))
    return run, tree


def test_evaluate_reproduces_the_training_scripts_final_test(trained, tmp_path):
    run, tree = trained
    out = tmp_path / "eval.json"
    proc = _run(EVALUATE, str(run / "checkpoints" / "best.pt"), "--dataset", "sysu",
                "--data-root", str(tree), "--custom-split", "--trials", "2", "--device", "cpu",
                "--output", str(out), "--method", "mcja", cwd=tmp_path)  # fmt: skip
    assert "sysu ir2vis" in proc.stdout
    record = json.loads(out.read_text())
    trained_result = json.loads((run / "results.json").read_text())["trained"]
    # Same weights, same protocol, same trials: the same numbers as train_sysu.py's final test.
    assert record["results"]["ir2vis"]["summary"] == trained_result["summary"]
    assert record["method"] == "mcja" and record["protocol"]["sampler"] == "official"
    assert record["recipe"]["pretrained"] is None and {"torch", "vireid"} <= set(record["versions"])


def test_evaluate_other_sysu_protocols(trained, tmp_path):
    run, tree = trained
    out = tmp_path / "indoor.json"
    _run(EVALUATE, str(run / "checkpoints" / "last.pt"), "--dataset", "sysu", "--data-root",
         str(tree), "--custom-split", "--mode", "indoor", "--shots", "10", "--sampler", "agw",
         "--trials", "2", "--device", "cpu", "--output", str(out), cwd=tmp_path)  # fmt: skip
    settings = json.loads(out.read_text())["results"]["ir2vis"]["settings"]
    assert (settings["mode"], settings["shots"], settings["sampler"]) == ("indoor", 10, "agw")


def test_evaluate_refuses_the_wrong_method_or_class_count(trained, tmp_path):
    run, tree = trained
    ckpt = str(run / "checkpoints" / "best.pt")
    proc = _run(EVALUATE, ckpt, "--dataset", "sysu", "--data-root", str(tree), "--custom-split",
                "--method", "agw", cwd=tmp_path, check=False)  # fmt: skip
    assert proc.returncode != 0 and "is a 'mcja' checkpoint, but --method is 'agw'" in proc.stderr
    regdb = tmp_path / "regdb"
    make_regdb_like(regdb, 20, seed=3, size=(32, 16))
    proc = _run(EVALUATE, ckpt, "--dataset", "regdb", "--data-root", str(regdb), cwd=tmp_path,
                check=False)  # fmt: skip
    assert proc.returncode != 0
    assert "classifier, but regdb at" in proc.stderr and "--allow-other-dataset" in proc.stderr
    out = tmp_path / "cross.json"
    _run(EVALUATE, ckpt, "--dataset", "regdb", "--data-root", str(regdb), "--device", "cpu",
         "--allow-other-dataset", "--output", str(out), cwd=tmp_path)  # fmt: skip
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"v2t", "t2v"}  # both directions by default
    proc = _run(EVALUATE, str(tmp_path / "missing.pt"), "--dataset", "sysu", "--data-root",
                str(tree), cwd=tmp_path, check=False)  # fmt: skip
    assert proc.returncode != 0 and "does not exist" in proc.stderr
    proc = _run(EVALUATE, ckpt, "--dataset", "regdb", "--data-root", str(regdb), "--direction",
                "ir2vis", cwd=tmp_path, check=False)  # fmt: skip
    assert proc.returncode != 0 and "must be one of v2t, t2v or both" in proc.stderr


def test_evaluate_llcm_both_directions(trained, tmp_path):
    run, _ = trained
    llcm = tmp_path / "llcm"
    make_llcm_like(llcm, 20, seed=4, size=(32, 16))
    out = tmp_path / "llcm.json"
    _run(EVALUATE, str(run / "checkpoints" / "best.pt"), "--dataset", "llcm", "--data-root",
         str(llcm), "--trials", "2", "--device", "cpu", "--allow-other-dataset", "--output",
         str(out), cwd=tmp_path)  # fmt: skip
    record = json.loads(out.read_text())
    assert set(record["results"]) == {"ir2vis", "vis2ir"}
    assert record["protocol"] == {"dataset": "llcm", "protocol": "deen", "trials": [0, 1]}
