"""Train a VI-ReID method on SYSU-MM01; evaluate it before and after with the official protocol.

    python examples/train_sysu.py                        # synthetic demo data, demo preset, CPU ok
    python examples/train_sysu.py --method agw             # or --method caj / idkl
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
import sys
import time
from pathlib import Path

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

from vireid.data import SYSUMM01, DatasetLayoutError, make_sysu_like
from vireid.engine import (
    FeatureExtractor,
    evaluate_sysu,
    init_distributed,
    save_cmc_plot,
    seed_everything,
    write_text_atomic,
)

# The demo's synthetic tree: 96 identities (53 train, 19 validation, 24 test), 128×64 JPEGs.
SYNTHETIC_SIZE = (128, 64)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_training_arguments(p, "SYSU-MM01", default_ids=96)
    p.add_argument(
        "--custom-split",
        action="store_true",
        help="the tree's exp/*_id.txt are not the official split (e.g. synthetic)",
    )
    p.add_argument("--trials", type=int, default=10, help="SYSU-MM01 test trials (default 10)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wall = time.perf_counter()
    ctx = init_distributed(args.device)
    root, synthetic = data_root(args, ctx, "sysu", make_sysu_like, SYNTHETIC_SIZE)
    recipe = build_recipe(args, "sysu", synthetic)
    try:
        dataset = SYSUMM01(root, official_split=not (synthetic or args.custom_split))
    except DatasetLayoutError as err:
        hint = (
            ""
            if synthetic or args.custom_split
            else "\nIf this tree is synthetic or re-split on purpose, add --custom-split."
        )
        sys.exit(f"error: {err}{hint}")
    out = run_folder(args, args.output_dir, "sysu", recipe, ctx)
    if ctx.is_main:
        print(recipe, flush=True)

    samples, num_classes, validation = training_set(dataset, recipe)
    seed_everything(recipe.seed)
    model = build_model(recipe, num_classes, ctx)
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

    result = train(args, model, recipe, samples, validation, out, resume=args.resume)
    if not result.finished:
        if ctx.is_main:
            print(f"\nstopped after epoch {result.epochs_done} of {recipe.epochs}; continue with "
                  f"--output-dir {out} --resume {result.last_checkpoint}")  # fmt: skip
        return 0
    load_best(model, result, ctx.device)
    trained = evaluate_sysu(extractor, dataset, "all", 1, "official", trials)
    if not ctx.is_main:
        return 0
    results = {
        "dataset": "SYSU-MM01",
        "data_root": str(Path(root).resolve()),
        "synthetic": synthetic,
        "protocol": {"mode": "all", "shots": 1, "sampler": "official", "trials": list(trials)},
        "untrained": untrained_dict,
        "trained": trained.to_dict(),
        **run_record(args, recipe, result, ctx, wall),
    }
    write_text_atomic(out / "results.json", json.dumps(results, indent=2))
    shown = {"trained": trained} if untrained is None else {"untrained": untrained,
                                                             "trained": trained}  # fmt: skip
    plot = save_cmc_plot(shown, out / "cmc.png", title=f"{recipe.method} ({recipe.preset_name})")
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
