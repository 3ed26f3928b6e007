"""Train a VI-ReID method on RegDB; evaluate it before and after, in both directions.

    python examples/train_regdb.py                        # synthetic demo data, demo preset, CPU ok
    python examples/train_regdb.py --method agw --split 3
    python examples/train_regdb.py --data-root /data/RegDB --device cuda        # reference recipe
    python examples/train_regdb.py --data-root /data/RegDB --all-splits         # the 10-split mean

RegDB's protocol trains one model per split (1..10) and reports visible→thermal (the headline
number) and thermal→visible, each query against the whole test set of the other modality. With
``--all-splits`` the ten runs go to ``<output-dir>/split-01`` … ``split-10`` and
``<output-dir>/results.json`` holds their mean. Without ``--data-root`` a synthetic RegDB-like
tree is generated into a cache folder (and reused next time) and the ``demo`` preset runs. The
checkpoint is chosen on a seeded fifth of the training identities held out for validation
(`RegDB.validation_split`), never on the test set.

``results.json`` has the contract of ``train_sysu.py``: ``untrained`` and ``trained`` hold the
visible→thermal `ProtocolResult`; ``directions`` holds both directions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, Literal

from experiment import (
    add_training_arguments,
    build_model,
    build_recipe,
    data_root,
    load_best,
    run_folder,
    run_record,
    table,
    train,
    training_set,
)

from vireid.data import DatasetLayoutError, RegDB, make_regdb_like
from vireid.engine import (
    FeatureExtractor,
    evaluate_regdb,
    init_distributed,
    seed_everything,
    write_text_atomic,
)
from vireid.metrics import ProtocolResult, mean_over_trials

# The demo's synthetic tree: 96 identities (48 train, of which 10 validate; 48 test), 128×64.
SYNTHETIC_SIZE = (128, 64)
DIRECTIONS: tuple[Literal["v2t", "t2v"], ...] = ("v2t", "t2v")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_training_arguments(p, "RegDB", default_ids=96)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--split", type=int, default=1, help="train and test split 1..10")
    which.add_argument("--all-splits", action="store_true", help="train all ten splits")
    p.add_argument("--cmc", default="standard", choices=("standard", "dedup"),
                   help="CMC variant (standard: AGW; dedup: the MPANet lineage)")  # fmt: skip
    args = p.parse_args(argv)
    if not 1 <= args.split <= 10:
        p.error(f"--split must be in 1..10, got {args.split}")
    if args.all_splits and args.resume is not None:
        p.error("--resume continues one split's run; pass its --split and --output-dir")
    return args


def evaluate_both(
    extractor: FeatureExtractor, dataset: RegDB, cmc: Literal["standard", "dedup"]
) -> dict[str, ProtocolResult]:
    return {d: evaluate_regdb(extractor, dataset, d, cmc) for d in DIRECTIONS}


@dataclasses.dataclass
class SplitRun:
    """One split's outcome: its ``results.json`` record and the results per direction."""

    record: dict[str, Any]
    untrained: dict[str, ProtocolResult] | None  # None when a resumed run read it back
    trained: dict[str, ProtocolResult]


def run_split(
    args: argparse.Namespace,
    root: Path,
    split: int,
    output_dir: Path | None,
    synthetic: bool,
    ctx: Any,
) -> SplitRun | None:
    """Train and test one split; ``None`` if it stopped early (``--stop-after``)."""
    wall = time.perf_counter()
    recipe = build_recipe(args, "regdb", synthetic)
    try:
        dataset = RegDB(root, split=split)
    except DatasetLayoutError as err:
        sys.exit(f"error: {err}")
    out = run_folder(args, output_dir, "regdb", recipe, ctx)
    if ctx.is_main:
        print(f"RegDB split {split}\n{recipe}", flush=True)
    samples, num_classes, validation = training_set(dataset, recipe)
    seed_everything(recipe.seed)
    model = build_model(recipe, num_classes, ctx)
    extractor = FeatureExtractor(model, recipe.image_size, device=ctx.device, amp=args.amp)

    untrained_path = out / "untrained.json"
    untrained: dict[str, ProtocolResult] | None = None
    if args.resume is not None and untrained_path.is_file():
        untrained_dicts = json.loads(untrained_path.read_text())
    else:
        untrained = evaluate_both(extractor, dataset, args.cmc)
        untrained_dicts = {d: r.to_dict() for d, r in untrained.items()}
        if ctx.is_main:
            write_text_atomic(untrained_path, json.dumps(untrained_dicts))
            for d, r in untrained.items():
                print(f"untrained model, RegDB split {split}, {d}:\n{r}", flush=True)
    result = train(args, model, recipe, samples, validation, out, resume=args.resume)
    if not result.finished:
        if ctx.is_main:
            print(
                f"\nstopped after epoch {result.epochs_done} of {recipe.epochs}; continue with "
                f"--split {split} --output-dir {out} --resume {result.last_checkpoint}"
            )
        return None
    load_best(model, result, ctx.device)
    trained = evaluate_both(extractor, dataset, args.cmc)
    record = {
        "dataset": "RegDB",
        "split": split,
        "data_root": str(Path(root).resolve()),
        "synthetic": synthetic,
        "protocol": {"split": split, "cmc": args.cmc, "headline": "v2t"},
        "untrained": untrained_dicts["v2t"],
        "trained": trained["v2t"].to_dict(),
        "directions": {
            d: {"untrained": untrained_dicts[d], "trained": trained[d].to_dict()}
            for d in DIRECTIONS
        },
        **run_record(args, recipe, result, ctx, wall),
    }
    if ctx.is_main:
        write_text_atomic(out / "results.json", json.dumps(record, indent=2))
        print(f"\ntrained model (best epoch {result.best_epoch}, chosen on validation "
              f"identities), RegDB split {split}:")  # fmt: skip
        for d in DIRECTIONS:
            print(f"{d}: {trained[d]}")
        rows: dict[str, ProtocolResult] = {}
        for d in DIRECTIONS:
            if untrained is not None:
                rows[f"untrained {d}"] = untrained[d]
            rows[f"trained {d}"] = trained[d]
        print("\n" + table(rows))
        minutes = (time.perf_counter() - wall) / 60
        print(
            f"\ntraining {result.train_seconds / 60:.1f} min at "
            f"{result.images_per_second:.0f} img/s; whole run {minutes:.1f} min"
        )
        print(f"results: {out / 'results.json'}")
    return SplitRun(record, untrained, trained)


def split_mean(results: list[ProtocolResult]) -> ProtocolResult:
    """The ten-split protocol: the mean over split-specific models, trials = split numbers."""
    return dataclasses.replace(
        results[0],
        summary=mean_over_trials([r.per_trial[0] for r in results]),
        trials=tuple(t for r in results for t in r.trials),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wall = time.perf_counter()
    ctx = init_distributed(args.device)
    root, synthetic = data_root(args, ctx, "regdb", make_regdb_like, SYNTHETIC_SIZE)
    if not args.all_splits:
        run_split(args, root, args.split, args.output_dir, synthetic, ctx)
        return 0
    base: Path = args.output_dir or Path("runs") / (
        f"regdb-{args.method}-{args.preset or ('demo' if synthetic else 'reference')}-all-"
        f"{time.strftime('%Y%m%d-%H%M%S')}"
    )
    runs: list[SplitRun] = []
    for split in range(1, 11):
        run = run_split(args, root, split, base / f"split-{split:02d}", synthetic, ctx)
        if run is None:
            return 0
        runs.append(run)
    records = [r.record for r in runs]
    if not ctx.is_main:
        return 0
    summary: dict[str, Any] = {
        "dataset": "RegDB",
        "splits": list(range(1, 11)),
        "method": records[0]["method"],
        "preset": records[0]["preset"],
        "recipe": records[0]["recipe"],
        "data_root": str(Path(root).resolve()),
        "synthetic": synthetic,
        "protocol": {"splits": list(range(1, 11)), "cmc": args.cmc, "headline": "v2t"},
        "split_results": [str(base / f"split-{s:02d}" / "results.json") for s in range(1, 11)],
        "total_seconds": time.perf_counter() - wall,
    }
    # --all-splits never resumes (parse_args), so every split scored its untrained model.
    untrained_runs = [r.untrained for r in runs if r.untrained is not None]
    if len(untrained_runs) != len(runs):
        raise RuntimeError("a split of an --all-splits run has no untrained evaluation")
    means = {}
    for d in DIRECTIONS:
        trained = split_mean([r.trained[d] for r in runs])
        untrained = split_mean([u[d] for u in untrained_runs])
        entry = {"trained": trained.to_dict(), "untrained": untrained.to_dict()}
        summary.setdefault("directions", {})[d] = entry
        means[d] = trained
    summary["trained"] = summary["directions"]["v2t"]["trained"]
    summary["untrained"] = summary["directions"]["v2t"]["untrained"]
    write_text_atomic(base / "results.json", json.dumps(summary, indent=2))
    print("\nRegDB, mean over the ten splits:")
    for d, r in means.items():
        print(f"{d}: {r}")
    print(f"results: {base / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
