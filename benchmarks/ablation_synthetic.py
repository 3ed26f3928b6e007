"""Ablations on synthetic data: each method with each of its blocks switched off in turn.

    python benchmarks/ablation_synthetic.py --out results/ablation             # every cell
    python benchmarks/ablation_synthetic.py --methods mcja idkl --seeds 0 1 2
    python benchmarks/ablation_synthetic.py --markdown docs/snippets/ablation.md  # the docs table

Every cell is one run of the README's main job, ``examples/train_sysu.py`` with its ``demo``
preset on the default synthetic SYSU-MM01-like tree (cached and shared by all cells), with one
block switched off through recipe overrides and the recipe seed set; the test is SYSU-MM01
all-search single-shot with the official sampler over 10 trials. A run takes about 6–8 minutes
on a 2-core CPU, so the full table (16 cells × 3 seeds) takes hours there, minutes per cell on a
GPU (``--device cuda``). Each finished run's ``results.json`` stays in ``<out>/<cell>/seed-<s>``
and is reused on the next call, so the script can be stopped and restarted; ``--epochs`` shortens
every run, capping the warm-up and the first validation epoch at the new length (a quick look,
not the table).

The blocks (``FULL`` is the method's demo preset as is):

| method | block off | how |
|---|---|---|
| MCJA | VIMC | ``vimc_p=0`` (no visible image through a VIMC operation) |
| MCJA | MDA | ``mda=false`` (the plain backbone) |
| MCJA | CMR | ``cmr_weight=0`` (CE + the demo's triplet) |
| IDKL | purifier | ``purifier=false`` (``f̃_sp = GeM(F_sp)``, no ``L_e``/``L_r``) |
| IDKL | confuser/discriminator | ``modality_weight=0`` |
| IDKL | TGSA | ``tgsa_weight=0`` |
| IDKL | CSA | ``csa_weight=0`` |
| IDKL | MDR | ``mdr_weight=0`` |
| EMIF | enhancing branches | ``ime_weight=0`` |
| EMIF | DCL | ``dcl_weight=0`` |
| CAJ | channel augmentation | ``augment=agw`` (AGW's plain crop and flip, one view per image) |
| CAJ | ADP → WRT | ``metric_loss=wrt`` |

The output is ``<out>/ablation.json`` (every run, and per cell the mean ± std over seeds of R1 and
mAP) and a Markdown table (``--markdown``) for the documentation. On synthetic data a block can
help, do nothing or hurt; the table says which, it does not predict real data.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from vireid.models import get_recipe

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "train_sysu.py"

CELLS: dict[str, list[tuple[str, dict[str, str]]]] = {
    "mcja": [
        ("FULL", {}),
        ("VIMC", {"vimc_p": "0"}),
        ("MDA", {"mda": "false"}),
        ("CMR", {"cmr_weight": "0"}),
    ],
    "idkl": [
        ("FULL", {}),
        ("purifier", {"purifier": "false"}),
        ("confuser/discriminator", {"modality_weight": "0"}),
        ("TGSA", {"tgsa_weight": "0"}),
        ("CSA", {"csa_weight": "0"}),
        ("MDR", {"mdr_weight": "0"}),
    ],
    "emif": [
        ("FULL", {}),
        ("enhancing branches", {"ime_weight": "0"}),
        ("DCL", {"dcl_weight": "0"}),
    ],
    "caj": [
        ("FULL", {}),
        ("channel augmentation", {"augment": "agw"}),
        ("ADP (WRT instead)", {"metric_loss": "wrt"}),
    ],
}


def _cell_dir(out: Path, method: str, block: str) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in block.lower()).strip("-")
    return out / f"{method}-{slug}"


def run_cell(
    method: str, overrides: dict[str, str], seed: int, folder: Path, args: argparse.Namespace
) -> dict:
    """One training run (or its earlier result); returns the summary of ``results.json``."""
    results = folder / "results.json"
    if not results.is_file():
        cmd = [sys.executable, str(SCRIPT), "--method", method, "--seed", str(seed),
               "--output-dir", str(folder), "--overwrite", "--no-progress",
               "--device", args.device]  # fmt: skip
        if args.synthetic_dir:
            cmd += ["--synthetic-dir", str(args.synthetic_dir)]
        if args.epochs:
            # A shortened run keeps its warm-up and first validation inside the new length.
            demo = get_recipe(method, "demo")
            cmd += ["--epochs", str(args.epochs),
                    "--set", f"warmup_epochs={min(demo.warmup_epochs, args.epochs)}",
                    "--set", f"eval_start={min(demo.eval_start, args.epochs)}"]  # fmt: skip
        for field, value in overrides.items():
            cmd += ["--set", f"{field}={value}"]
        print(" ".join(cmd[1:]), flush=True)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"run failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
        print(f"  done in {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    data = json.loads(results.read_text())
    return {
        "seed": seed,
        "untrained_mAP": 100 * data["untrained"]["summary"]["mAP"],
        "rank1": 100 * data["trained"]["summary"]["cmc"][0],
        "mAP": 100 * data["trained"]["summary"]["mAP"],
        "best_epoch": data["best_epoch"],
        "train_seconds": data["train_seconds"],
        "epochs": data["epochs"],
    }


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.pstdev(values) if len(values) > 1 else 0.0)


def markdown(table: list[dict]) -> str:
    """The cells as a Markdown table (mean ± std over seeds, the change against FULL)."""
    lines = [
        "| method | block off | R1 | mAP | Δ mAP vs full | seeds |",
        "|---|---|---|---|---|---|",
    ]
    full = {row["method"]: row["mAP"][0] for row in table if row["block"] == "FULL"}
    for row in table:
        (r1, r1s), (m, ms) = row["rank1"], row["mAP"]
        delta = "—" if row["block"] == "FULL" else f"{m - full[row['method']]:+.1f}"
        block = "none (full demo preset)" if row["block"] == "FULL" else row["block"]
        lines.append(
            f"| {row['method'].upper()} | {block} | {r1:.1f} ± {r1s:.1f} | {m:.1f} ± {ms:.1f} | "
            f"{delta} | {len(row['runs'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=list(CELLS), choices=list(CELLS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("results/ablation"))
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--epochs", type=int, help="shorten every run (a quick look)")
    parser.add_argument("--synthetic-dir", type=Path, help="cache of the synthetic tree")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = []
    for method in args.methods:
        for block, overrides in CELLS[method]:
            runs = [
                run_cell(method, overrides, seed,
                         _cell_dir(args.out, method, block) / f"seed-{seed}", args)
                for seed in args.seeds
            ]  # fmt: skip
            table.append({
                "method": method, "block": block, "overrides": overrides, "runs": runs,
                "rank1": _mean_std([r["rank1"] for r in runs]),
                "mAP": _mean_std([r["mAP"] for r in runs]),
            })  # fmt: skip
            r1, m = table[-1]["rank1"], table[-1]["mAP"]
            print(f"{method:<5} {block:<24} R1 {r1[0]:5.1f} ± {r1[1]:4.1f}   "
                  f"mAP {m[0]:5.1f} ± {m[1]:4.1f}", flush=True)  # fmt: skip
    record = {"seeds": args.seeds, "epochs": args.epochs, "device": args.device, "cells": table}
    (args.out / "ablation.json").write_text(json.dumps(record, indent=2))
    text = markdown(table)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
