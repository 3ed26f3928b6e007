"""What the training scripts share: their options, the cached synthetic tree, the run folder.

``train_sysu.py``, ``train_regdb.py`` and ``train_llcm.py`` differ only in the dataset, its
protocol and its synthetic stand-in; everything else — the recipe with its overrides, the run
folder, training with `vireid.engine.fit` and the record written to ``results.json`` — lives
here, in plain functions a reader can follow from the scripts.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vireid.engine import (
    DistributedContext,
    FitResult,
    NonFiniteLossError,
    fit,
    load_checkpoint,
    resolve_amp,
    unwrap_model,
    versions,
)
from vireid.metrics import ProtocolResult
from vireid.models import METHODS, Recipe, get_recipe

# Bump when a generator change makes cached synthetic trees stale.
SYNTHETIC_VERSION = 1
# What a run writes into its folder (and --overwrite removes; nothing else is touched).
RUN_FILES = ("checkpoints", "metrics.jsonl", "results.json", "untrained.json", "cmc.png")


def add_training_arguments(p: argparse.ArgumentParser, dataset: str, default_ids: int) -> None:
    """The options every training script takes (``dataset`` names the folder in the help)."""
    p.add_argument("--method", default="mcja", help=f"one of {sorted(METHODS)} (default mcja)")
    p.add_argument("--data-root", type=Path, help=f"{dataset} folder; omit for synthetic data")
    p.add_argument(
        "--output-dir",
        type=Path,
        help="run folder (default runs/<dataset>-<method>-<preset>-<time>)",
    )
    p.add_argument("--overwrite", action="store_true", help="reuse an --output-dir holding a run")
    p.add_argument("--preset", help="reference | demo (default: demo without --data-root, "
                   "reference with it)")  # fmt: skip
    p.add_argument("--epochs", type=int, help="override the recipe's epochs")
    p.add_argument("--seed", type=int, help="override the recipe's seed")
    p.add_argument(
        "--set",
        metavar="FIELD=VALUE",
        action="append",
        default=[],
        help="override any recipe field, e.g. --set lr=0.01 --set image_size=256,128",
    )
    p.add_argument("--resume", type=Path, help="continue from a checkpoint (e.g. .../last.pt)")
    p.add_argument(
        "--stop-after",
        type=int,
        metavar="N",
        help="return after N epochs (a time-limited job); --resume continues",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument(
        "--amp",
        default="auto",
        choices=("auto", "bf16", "fp16", "none"),
        help="autocast dtype (auto: bf16 on CUDA, fp32 on CPU)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--deterministic", action="store_true", help="deterministic kernels")
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm under torchrun")
    p.add_argument("--num-workers", type=int, help="DataLoader workers (default: by machine)")
    p.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--synthetic-dir",
        type=Path,
        help="where the synthetic tree is cached (default ~/.cache/vireid)",
    )
    p.add_argument(
        "--synthetic-ids",
        type=int,
        default=default_ids,
        help=f"identities of the synthetic tree (default {default_ids})",
    )
    p.add_argument(
        "--synthetic-seed", type=int, default=0, help="seed of the synthetic tree (default 0)"
    )
    p.add_argument("--max-steps-per-epoch", type=int, help=argparse.SUPPRESS)


def cache_home() -> Path:
    """``$VIREID_CACHE``, else ``$XDG_CACHE_HOME/vireid``, else ``~/.cache/vireid``."""
    base = os.environ.get("VIREID_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(base).expanduser() / "vireid" if base else Path.home() / ".cache" / "vireid"


def synthetic_tree(
    args: argparse.Namespace,
    kind: str,
    make: Callable[..., Path],
    size: tuple[int, int],
    announce: bool,
) -> Path:
    """The cached synthetic tree ``make`` draws, generated on first use (atomically).

    Args:
        args: The parsed options (``--synthetic-dir``, ``--synthetic-ids``, ``--synthetic-seed``).
        kind: ``"sysu"``, ``"regdb"`` or ``"llcm"`` (the cache folder's name and the banner).
        make: ``make_sysu_like`` & co.
        size: Image size of the tree.
        announce: Print the banner and the generation time (rank 0).
    """
    h, w = size
    ids, seed = args.synthetic_ids, args.synthetic_seed
    name = f"{kind}-like-v{SYNTHETIC_VERSION}-ids{ids}-seed{seed}-{h}x{w}"
    root = (args.synthetic_dir or cache_home()) / name
    if announce:
        label = {"sysu": "SYSU-MM01", "regdb": "RegDB", "llcm": "LLCM"}[kind]
        bar = "=" * 78
        print(f"{bar}\n  No --data-root: training on SYNTHETIC {label}-like data (cartoon "
              f"people),\n  cached in {root}.\n  These numbers say nothing about the real "
              f"dataset; for it pass --data-root DIR.\n{bar}", flush=True)  # fmt: skip
    if (root / ".complete").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root.parent))
    start = time.perf_counter()
    make(tmp, args.synthetic_ids, seed=args.synthetic_seed, size=size, overwrite=True)
    (tmp / ".complete").write_text(f"generated by vireid.data.{make.__name__}\n")
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)
    if announce:
        print(f"generated in {time.perf_counter() - start:.1f} s", flush=True)
    return root


def data_root(
    args: argparse.Namespace,
    ctx: DistributedContext,
    kind: str,
    make: Callable[..., Path],
    size: tuple[int, int],
) -> tuple[Path, bool]:
    """``(root, synthetic)``: ``--data-root``, or the cached synthetic tree (rank 0 makes it)."""
    if args.data_root is not None:
        return args.data_root, False
    if ctx.is_main:
        synthetic_tree(args, kind, make, size, announce=True)
    ctx.barrier()
    return synthetic_tree(args, kind, make, size, announce=False), True


def build_recipe(args: argparse.Namespace, dataset: str, synthetic: bool) -> Recipe:
    """The recipe of the run: the checkpoint's when resuming, else the preset, plus overrides."""
    if args.method not in METHODS:
        sys.exit(f"error: unknown --method {args.method!r}; choose from {sorted(METHODS)}")
    if args.resume is not None:
        state = load_checkpoint(args.resume)
        if state.get("method") != args.method:
            sys.exit(f"error: {args.resume} is a {state.get('method')!r} checkpoint, but "
                     f"--method is {args.method!r}")  # fmt: skip
        recipe = METHODS[args.method].from_dict(state["recipe"])
    else:
        preset = args.preset or ("demo" if synthetic else "reference")
        try:
            recipe = get_recipe(args.method, preset, dataset)
        except ValueError as err:
            sys.exit(f"error: {err}")
    overrides: dict[str, str] = {}
    for item in args.set:
        if "=" not in item:
            sys.exit(f"error: --set needs FIELD=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        overrides[key.strip()] = value
    if args.epochs is not None:
        overrides["epochs"] = str(args.epochs)
    if args.seed is not None:
        overrides["seed"] = str(args.seed)
    try:
        return recipe.with_strings(overrides)
    except (TypeError, ValueError) as err:
        sys.exit(f"error: {err}")


def run_folder(
    args: argparse.Namespace,
    output_dir: Path | None,
    dataset: str,
    recipe: Recipe,
    ctx: DistributedContext,
) -> Path:
    """The run folder (``output_dir`` or a dated default), made ready on rank 0.

    Refuses to mix two runs in one folder unless ``--resume`` or ``--overwrite`` says so.
    """
    out: Path = output_dir or Path("runs") / (
        f"{dataset}-{recipe.method}-{recipe.preset_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    if ctx.distributed:  # the ranks' clocks may straddle a second: rank 0's name counts
        shared = [str(out)]
        torch.distributed.broadcast_object_list(shared, src=0)
        out = Path(shared[0])
    if ctx.is_main:
        holds_run = (out / "checkpoints" / "last.pt").exists()
        if holds_run and args.resume is None and not args.overwrite:
            sys.exit(
                f"error: {out} already holds a run; pass --resume {out}/checkpoints/last.pt to "
                "continue it, --overwrite to start over, or another --output-dir"
            )
        if args.overwrite and args.resume is None and out.exists():
            for name in RUN_FILES:
                target = out / name
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
    ctx.barrier()
    return out


def training_set(dataset: Any, recipe: Recipe) -> tuple[Any, int, Any]:
    """``(samples, num_classes, validation)``: the training identities the recipe trains on.

    ``selection="val"`` holds the dataset's validation identities out (``validation_split()``)
    to choose the checkpoint; ``"last"`` trains on every training identity, with no validation.
    """
    if recipe.selection == "val":
        held = dataset.validation_split()
        return held.train, held.num_classes, held
    return dataset.train, dataset.num_classes, None


def build_model(recipe: Recipe, num_classes: int, ctx: DistributedContext) -> nn.Module:
    """``recipe.build_model`` on the run's device, with a clear exit when weights are missing."""
    try:
        return recipe.build_model(num_classes).to(ctx.device)
    except (RuntimeError, FileNotFoundError) as err:  # e.g. ImageNet weights while offline
        sys.exit(f"error: {err}\nPass local weights with --set pretrained=/path/to/weights.pth "
                 "or train from scratch with --set pretrained=none")  # fmt: skip


def train(
    args: argparse.Namespace,
    model: nn.Module,
    recipe: Recipe,
    samples: Any,
    validation: Any,
    out: Path,
    *,
    resume: Path | None,
) -> FitResult:
    """`vireid.engine.fit` with the script's options; a bad value or a NaN loss exits."""
    workers = args.num_workers
    if workers is None:
        workers = min(8, max(0, (os.cpu_count() or 1) - 1))
    try:
        return fit(
            model, recipe.build_criterion(), recipe, samples, validation=validation,
            output_dir=out, device=args.device, amp=args.amp, compile=args.compile,
            deterministic=args.deterministic, sync_bn=args.sync_bn, resume=resume,
            num_workers=workers, tensorboard=args.tensorboard, progress=not args.no_progress,
            max_steps_per_epoch=args.max_steps_per_epoch, stop_after=args.stop_after,
        )  # fmt: skip
    except (NonFiniteLossError, ValueError) as err:
        sys.exit(f"error: {err}")


def load_best(model: nn.Module, result: FitResult, device: torch.device) -> None:
    """Load the checkpoint selected on the validation identities into ``model``."""
    best = load_checkpoint(result.best_checkpoint, map_location=device)
    unwrap_model(model).load_state_dict(best["model"])


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU model with its core and thread counts."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def table(results: Mapping[str, ProtocolResult]) -> str:
    """A compact R1/R5/R10/R20/mAP/mINP table, one row per named result."""
    lines = [f"{'':<14}" + "".join(f"{c:>9}" for c in ("R1", "R5", "R10", "R20", "mAP", "mINP"))]
    for name, r in results.items():
        s = r.summary
        # A gallery smaller than k has no rank-k entry: a dash keeps the columns aligned.
        ranks = [f"{100 * s.rank(k):>9.2f}" if k <= len(s.cmc) else f"{'-':>9}"
                 for k in (1, 5, 10, 20)]  # fmt: skip
        lines.append(f"{name:<14}" + "".join(ranks) + f"{100 * s.mAP:>9.2f}{100 * s.mINP:>9.2f}")
    return "\n".join(lines)


def run_record(
    args: argparse.Namespace,
    recipe: Recipe,
    result: FitResult,
    ctx: DistributedContext,
    wall_start: float,
) -> dict[str, Any]:
    """The fields of ``results.json`` every script writes (the scripts add data and results)."""
    return {
        "method": recipe.method,
        "preset": recipe.preset_name,
        "recipe": recipe.to_dict(),
        "best_epoch": result.best_epoch,
        "best_validation_score": result.best_score,
        "selection": recipe.selection,
        "validation_history": result.history,
        "epochs": result.epochs_done,
        "train_seconds": result.train_seconds,
        "images_per_second": result.images_per_second,
        "total_seconds": time.perf_counter() - wall_start,
        "device": str(ctx.device),
        "device_name": device_name(ctx.device),
        "world_size": ctx.world_size,
        "amp": args.amp,
        # What "auto" became on this device: the autocast dtype, or float32.
        "precision": str(resolve_amp(args.amp, ctx.device) or torch.float32).removeprefix("torch."),
        "versions": versions(),
    }  # fmt: skip
