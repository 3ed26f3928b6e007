"""The training scripts (the README's main job first): output contract and clear errors.

The demo itself (minutes on a CPU) is measured by hand and reported in the README; here the same
script runs a one-epoch, tiny-network version of it on a small synthetic tree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "train_sysu.py"
TINY_NO_TRIALS = ["--synthetic-ids", "12", "--epochs", "1", "--no-progress", "--device", "cpu",
                  "--set", "image_size=32,16", "--set", "width=8", "--set", "ids_per_batch=3",
                  "--set", "num_instances=2", "--set", "warmup_epochs=1"]  # fmt: skip
TINY = [*TINY_NO_TRIALS, "--trials", "2"]


def _run(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=cwd, check=check, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("method", ["mcja", "agw", "caj", "idkl", "emif"])
def test_train_sysu_output_contract(method, cache, tmp_path):
    out = tmp_path / "run"
    proc = _run("--method", method, "--synthetic-dir", str(cache), "--output-dir", str(out),
                *TINY, cwd=tmp_path)  # fmt: skip
    assert "SYNTHETIC" in proc.stdout  # the user is told loudly
    results = json.loads((out / "results.json").read_text())
    for key in ("method", "preset", "recipe", "untrained", "trained", "best_epoch",
                "train_seconds", "images_per_second", "device", "versions"):  # fmt: skip
        assert key in results, key
    assert results["method"] == method and results["preset"] == "demo"
    assert results["amp"] == "auto" and results["precision"] == "float32"  # auto on a CPU
    assert results["recipe"]["method"] == method and results["recipe"]["width"] == 8
    for name in ("untrained", "trained"):
        settings = results[name]["settings"]
        assert (settings["dataset"], settings["mode"], settings["shots"], settings["sampler"]) == (
            "SYSU-MM01", "all", 1, "official"
        )  # fmt: skip
        assert settings["trials"] == [0, 1] and not settings["reranked"]
        assert 0.0 <= results[name]["summary"]["mAP"] <= 1.0
    assert results["best_epoch"] == 1 and results["synthetic"] is True
    assert {"torch", "vireid"} <= set(results["versions"])
    assert (out / "metrics.jsonl").is_file()
    assert (out / "checkpoints" / "last.pt").is_file() and (
        out / "checkpoints" / "best.pt"
    ).is_file()
    # the synthetic tree is cached and reused
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 1

    again = _run("--method", method, "--synthetic-dir", str(cache), "--output-dir", str(out),
                 *TINY, cwd=tmp_path, check=False)  # fmt: skip
    assert again.returncode != 0 and "already holds a run" in again.stderr


def test_train_sysu_resume_continues_the_run(cache, tmp_path):
    out = tmp_path / "run"
    first = _run("--synthetic-dir", str(cache), "--output-dir", str(out), *TINY, "--epochs", "2",
                 "--stop-after", "1", cwd=tmp_path)  # fmt: skip
    assert "stopped after epoch 1 of 2" in first.stdout and "--resume" in first.stdout
    assert not (out / "results.json").exists()
    resumed = _run("--synthetic-dir", str(cache), "--output-dir", str(out), *TINY,
                   "--epochs", "2", "--resume", str(out / "checkpoints" / "last.pt"),
                   cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0
    results = json.loads((out / "results.json").read_text())
    assert results["epochs"] == 2 and "untrained" in results
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "nope"], "unknown --method 'nope'"),
        (["--preset", "bogus"], "no preset 'bogus'"),
        (["--set", "lr=fast"], "lr must be a number"),
        (["--set", "colour=red"], "has no field 'colour'"),
    ],
)
def test_train_sysu_bad_arguments(args, message, cache, tmp_path):
    proc = _run("--synthetic-dir", str(cache), *TINY, *args, cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_train_sysu_bad_data_root(tmp_path):
    proc = _run("--data-root", str(tmp_path / "missing"), cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "the folder does not exist" in proc.stderr
    bad = tmp_path / "not-sysu"
    (bad / "cam1").mkdir(parents=True)
    proc = _run("--data-root", str(bad), cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "missing id file exp/train_id.txt" in proc.stderr


def test_train_sysu_synthetic_tree_needs_custom_split(cache, tmp_path):
    _run("--synthetic-dir", str(cache), "--output-dir", str(tmp_path / "a"), *TINY, cwd=tmp_path)
    tree = next(p for p in cache.iterdir() if not p.name.startswith("."))
    proc = _run("--data-root", str(tree), "--preset", "demo", *TINY, cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "--custom-split" in proc.stderr
    _run("--data-root", str(tree), "--preset", "demo", "--custom-split", *TINY,
              "--output-dir", str(tmp_path / "b"), cwd=tmp_path)  # fmt: skip
    assert json.loads((tmp_path / "b" / "results.json").read_text())["synthetic"] is False


# --- the RegDB and LLCM scripts: the same contract, both directions -----------------------------

REGDB = ROOT / "examples" / "train_regdb.py"
LLCM = ROOT / "examples" / "train_llcm.py"


def _run_script(script: Path, *args: str, cwd: Path, check: bool = True):
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          cwd=cwd, check=check, timeout=900)  # fmt: skip


def _check_record(results: dict, method: str, directions: tuple[str, str], headline: str) -> None:
    keys = ("method", "preset", "recipe", "untrained", "trained", "best_epoch", "train_seconds",
            "images_per_second", "device", "versions", "directions")  # fmt: skip
    for key in keys:
        assert key in results, key
    assert results["method"] == method and results["preset"] == "demo"
    assert set(results["directions"]) == set(directions)
    for name in ("untrained", "trained"):
        assert results[name] == results["directions"][headline][name]  # the headline direction
        for d in directions:
            settings = results["directions"][d][name]["settings"]
            assert settings["direction"] == d and not settings["reranked"]


@pytest.mark.parametrize("method", ["mcja", "agw"])
def test_train_regdb_output_contract(method, cache, tmp_path):
    out = tmp_path / "run"
    proc = _run_script(REGDB, "--method", method, "--synthetic-dir", str(cache), "--output-dir",
                       str(out), "--split", "2", *TINY_NO_TRIALS, cwd=tmp_path)  # fmt: skip
    assert "SYNTHETIC RegDB-like" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    _check_record(results, method, ("v2t", "t2v"), "v2t")
    assert results["split"] == 2 and results["recipe"]["dataset"] == "regdb"
    assert results["trained"]["settings"]["trials"] == [2]  # RegDB's trials are split numbers
    assert (out / "checkpoints" / "best.pt").is_file()


def test_train_regdb_all_splits_reports_the_ten_split_mean(cache, tmp_path):
    out = tmp_path / "all"
    _run_script(REGDB, "--synthetic-dir", str(cache), "--output-dir", str(out), "--all-splits",
                *TINY_NO_TRIALS, "--max-steps-per-epoch", "2", cwd=tmp_path)  # fmt: skip
    summary = json.loads((out / "results.json").read_text())
    assert summary["splits"] == list(range(1, 11))
    per_split = [json.loads((out / f"split-{s:02d}" / "results.json").read_text())
                 for s in range(1, 11)]  # fmt: skip
    for d in ("v2t", "t2v"):
        mean = summary["directions"][d]["trained"]
        assert mean["settings"]["trials"] == list(range(1, 11))
        expected = sum(r["directions"][d]["trained"]["summary"]["mAP"] for r in per_split) / 10
        assert mean["summary"]["mAP"] == pytest.approx(expected, abs=1e-12)
    assert summary["trained"] == summary["directions"]["v2t"]["trained"]


def test_train_llcm_output_contract(cache, tmp_path):
    out = tmp_path / "run"
    proc = _run_script(LLCM, "--synthetic-dir", str(cache), "--output-dir", str(out),
                       "--trials", "2", *TINY_NO_TRIALS, cwd=tmp_path)  # fmt: skip
    assert "SYNTHETIC LLCM-like" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    _check_record(results, "mcja", ("ir2vis", "vis2ir"), "ir2vis")
    assert results["protocol"]["protocol"] == "deen" and results["recipe"]["dataset"] == "llcm"
    assert results["trained"]["settings"]["trials"] == [0, 1]


def test_train_regdb_and_llcm_bad_arguments(cache, tmp_path):
    proc = _run_script(REGDB, "--split", "11", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "--split must be in 1..10, got 11" in proc.stderr
    proc = _run_script(REGDB, "--data-root", str(tmp_path / "missing"), cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "the folder does not exist" in proc.stderr
    proc = _run_script(LLCM, "--data-root", str(tmp_path), "--preset", "reference", cwd=tmp_path,
                       check=False)  # fmt: skip
    assert proc.returncode != 0 and "not 'llcm'" in proc.stderr
