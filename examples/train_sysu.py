"""Train a VI-ReID method on SYSU-MM01; evaluate it before and after with the official protocol.

    python examples/train_sysu.py                        # synthetic demo data, demo preset, CPU ok
    python examples/train_sysu.py --method agw
    python examples/train_sysu.py --data-root /data/SYSU-MM01 --device cuda   # reference recipe
    torchrun --nproc_per_node 4 examples/train_sysu.py --data-root /data/SYSU-MM01

Without ``--data-root`` a synthetic SYSU-MM01-like tree is generated into a cache folder (and
reused next time) and the ``demo`` preset runs. The run folder gets ``results.json`` (recipe,
``untrained`` and ``trained`` SYSU-MM01 all-search single-shot results with the official sampler
over 10 trials, best epoch, timings, device, versions), ``metrics.jsonl``, ``cmc.png`` (with
matplotlib) and ``checkpoints/{last,best}.pt``. The checkpoint is chosen on held-out
validation identities (``exp/val_id.txt``), never on the test set; the test runs once, at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from vireid.data import SYSUMM01, DatasetLayoutError, make_sysu_like
from vireid.engine import (
    FeatureExtractor,
    NonFiniteLossError,
    evaluate_sysu,
    fit,
    init_distributed,
    load_checkpoint,
    resolve_amp,
    save_cmc_plot,
    seed_everything,
    unwrap_model,
    versions,
    write_text_atomic,
)
from vireid.metrics import ProtocolResult
from vireid.models import METHODS, Recipe, get_recipe

# The demo's synthetic tree: 96 identities (53 train, 19 validation, 24 test), 128×64 JPEGs.
SYNTHETIC = {"num_ids": 96, "seed": 0, "size": (128, 64)}
SYNTHETIC_VERSION = 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--method", default="mcja", help=f"one of {sorted(METHODS)} (default mcja)")
    p.add_argument("--data-root", type=Path, help="SYSU-MM01 folder; omit for synthetic data")
    p.add_argument(
        "--custom-split",
        action="store_true",
        help="the tree's exp/*_id.txt are not the official split (e.g. synthetic)",
    )
    p.add_argument(
        "--output-dir", type=Path, help="run folder (default runs/sysu-<method>-<preset>-<time>)"
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
    p.add_argument("--trials", type=int, default=10, help="SYSU-MM01 test trials (default 10)")
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
        default=SYNTHETIC["num_ids"],
        help="identities of the synthetic tree (default 96)",
    )
    p.add_argument(
        "--synthetic-seed",
        type=int,
        default=SYNTHETIC["seed"],
        help="seed of the synthetic tree (default 0)",
    )
    p.add_argument("--max-steps-per-epoch", type=int, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def cache_home() -> Path:
    base = os.environ.get("VIREID_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(base).expanduser() / "vireid" if base else Path.home() / ".cache" / "vireid"


def synthetic_tree(args: argparse.Namespace, announce: bool) -> Path:
    """The cached synthetic SYSU-MM01-like tree, generated on first use (atomically)."""
    h, w = SYNTHETIC["size"]
    name = (
        f"sysu-like-v{SYNTHETIC_VERSION}-ids{args.synthetic_ids}-seed{args.synthetic_seed}-{h}x{w}"
    )
    root = (args.synthetic_dir or cache_home()) / name
    if announce:
        bar = "=" * 78
        print(f"{bar}\n  No --data-root: training on SYNTHETIC SYSU-MM01-like data (cartoon "
              f"people),\n  cached in {root}.\n  These numbers say nothing about the real "
              f"dataset; for it pass --data-root DIR.\n{bar}", flush=True)  # fmt: skip
    if (root / ".complete").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root.parent))
    start = time.perf_counter()
    make_sysu_like(tmp, num_ids=args.synthetic_ids, seed=args.synthetic_seed,
                   size=SYNTHETIC["size"], overwrite=True)  # fmt: skip
    (tmp / ".complete").write_text("generated by vireid.data.make_sysu_like\n")
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)
    if announce:
        print(f"generated in {time.perf_counter() - start:.1f} s", flush=True)
    return root


def build_recipe(args: argparse.Namespace, synthetic: bool) -> Recipe:
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
            recipe = get_recipe(args.method, preset, "sysu")
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


def device_name(device: torch.device) -> str:
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


def table(results: dict[str, ProtocolResult]) -> str:
    lines = [f"{'':<10}" + "".join(f"{c:>9}" for c in ("R1", "R5", "R10", "R20", "mAP", "mINP"))]
    for name, r in results.items():
        s = r.summary
        vals = [s.rank(k) for k in (1, 5, 10, 20) if k <= len(s.cmc)] + [s.mAP, s.mINP]
        lines.append(f"{name:<10}" + "".join(f"{100 * v:>9.2f}" for v in vals))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wall = time.perf_counter()
    ctx = init_distributed(args.device)
    synthetic = args.data_root is None
    if synthetic:
        if ctx.is_main:
            synthetic_tree(args, announce=True)
        ctx.barrier()
        root = synthetic_tree(args, announce=False)
    else:
        root = args.data_root
    recipe = build_recipe(args, synthetic)
    try:
        dataset = SYSUMM01(root, official_split=not (synthetic or args.custom_split))
    except DatasetLayoutError as err:
        hint = (
            ""
            if synthetic or args.custom_split
            else "\nIf this tree is synthetic or re-split on purpose, add --custom-split."
        )
        sys.exit(f"error: {err}{hint}")

    preset_name = recipe.preset_name
    out = args.output_dir or Path("runs") / (
        f"sysu-{recipe.method}-{preset_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    if ctx.distributed:  # the ranks' clocks may straddle a second: rank 0's name counts
        shared = [str(out)]
        torch.distributed.broadcast_object_list(shared, src=0)
        out = Path(shared[0])
    if ctx.is_main:
        if (
            (out / "checkpoints" / "last.pt").exists()
            and args.resume is None
            and not args.overwrite
        ):
            sys.exit(
                f"error: {out} already holds a run; pass --resume {out}/checkpoints/last.pt to "
                "continue it, --overwrite to start over, or another --output-dir"
            )
        if args.overwrite and args.resume is None and out.exists():
            for name in ("checkpoints", "metrics.jsonl", "results.json", "untrained.json"):
                target = out / name
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        print(recipe, flush=True)
    ctx.barrier()

    if recipe.selection == "val":
        split = dataset.validation_split()
        train, num_classes, validation = split.train, split.num_classes, split
    else:
        train, num_classes, validation = dataset.train, dataset.num_classes, None
    seed_everything(recipe.seed)
    try:
        model = recipe.build_model(num_classes).to(ctx.device)
    except (RuntimeError, FileNotFoundError) as err:  # e.g. ImageNet weights while offline
        sys.exit(f"error: {err}\nPass local weights with --set pretrained=/path/to/weights.pth "
                 "or train from scratch with --set pretrained=none")  # fmt: skip
    criterion = recipe.build_criterion()
    extractor = FeatureExtractor(model, recipe.image_size, device=ctx.device, amp=args.amp)
    trials = range(args.trials)

    untrained_path = out / "untrained.json"
    if args.resume is not None and untrained_path.is_file():
        untrained_dict = json.loads(untrained_path.read_text())
        untrained = None
    else:
        start = time.perf_counter()
        untrained = evaluate_sysu(extractor, dataset, "all", 1, "official", trials)
        untrained_dict = untrained.to_dict()
        if ctx.is_main:
            write_text_atomic(untrained_path, json.dumps(untrained_dict))
            print(f"untrained model, SYSU-MM01 all-search single-shot "
                  f"({time.perf_counter() - start:.1f} s):\n{untrained}", flush=True)  # fmt: skip

    workers = args.num_workers
    if workers is None:
        workers = min(8, max(0, (os.cpu_count() or 1) - 1))
    try:
        result = fit(
            model, criterion, recipe, train, validation=validation, output_dir=out,
            device=args.device, amp=args.amp, compile=args.compile,
            deterministic=args.deterministic, sync_bn=args.sync_bn, resume=args.resume,
            num_workers=workers, tensorboard=args.tensorboard, progress=not args.no_progress,
            max_steps_per_epoch=args.max_steps_per_epoch, stop_after=args.stop_after,
        )  # fmt: skip
    except (NonFiniteLossError, ValueError) as err:
        sys.exit(f"error: {err}")

    if not result.finished:
        if ctx.is_main:
            print(f"\nstopped after epoch {result.epochs_done} of {recipe.epochs}; continue with "
                  f"--output-dir {out} --resume {result.last_checkpoint}")  # fmt: skip
        return 0
    best = load_checkpoint(result.best_checkpoint, map_location=ctx.device)
    unwrap_model(model).load_state_dict(best["model"])
    trained = evaluate_sysu(extractor, dataset, "all", 1, "official", trials)
    if not ctx.is_main:
        return 0
    results = {
        "method": recipe.method,
        "preset": preset_name,
        "recipe": recipe.to_dict(),
        "dataset": "SYSU-MM01",
        "data_root": str(Path(root).resolve()),
        "synthetic": synthetic,
        "protocol": {"mode": "all", "shots": 1, "sampler": "official", "trials": list(trials)},
        "untrained": untrained_dict,
        "trained": trained.to_dict(),
        "best_epoch": result.best_epoch,
        "best_validation_score": result.best_score,
        "selection": recipe.selection,
        "validation_history": result.history,
        "epochs": result.epochs_done,
        "train_seconds": result.train_seconds,
        "images_per_second": result.images_per_second,
        "total_seconds": time.perf_counter() - wall,
        "device": str(ctx.device),
        "device_name": device_name(ctx.device),
        "world_size": ctx.world_size,
        "amp": args.amp,
        # What "auto" became on this device: the autocast dtype, or float32.
        "precision": str(resolve_amp(args.amp, ctx.device) or torch.float32).removeprefix("torch."),
        "versions": versions(),
    }  # fmt: skip
    write_text_atomic(out / "results.json", json.dumps(results, indent=2))
    shown = {"trained": trained} if untrained is None else {"untrained": untrained,
                                                             "trained": trained}  # fmt: skip
    plot = save_cmc_plot(shown, out / "cmc.png", title=f"{recipe.method} ({preset_name})")
    print(f"\ntrained model (best epoch {result.best_epoch}, chosen on validation "
          f"identities), SYSU-MM01 all-search single-shot:\n{trained}\n")  # fmt: skip
    if untrained is not None:
        print(table({"untrained": untrained, "trained": trained}))
    print(f"\ntraining {result.train_seconds / 60:.1f} min at {result.images_per_second:.0f} "
          f"img/s; whole run {(time.perf_counter() - wall) / 60:.1f} min")  # fmt: skip
    print(f"results: {out / 'results.json'}" + (f"   CMC plot: {plot}" if plot else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
