"""The README's main-job command keeps working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_evaluate_synthetic_example_runs():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "evaluate_synthetic.py"), "--trials", "2"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert "mean   : R1" in out.stdout and "exclude=sysu" in out.stdout
