"""Train a VI-ReID method on LLCM; evaluate it before and after, in both directions.

    python examples/train_llcm.py                         # synthetic demo data, demo preset, CPU ok
    python examples/train_llcm.py --method agw
    python examples/train_llcm.py --data-root /data/LLCM --preset demo --set ...   # your recipe

LLCM (Zhang & Wang, CVPR 2023) reports infrared→visible (the headline number) and
visible→infrared, each averaged over ten gallery draws, with the same-identity, same-camera
items removed. ``--protocol`` picks the variant: ``deen`` (the official code, default),
``symmetric`` or ``full``; see `vireid.engine.evaluate_llcm`. Without ``--data-root`` a
synthetic LLCM-like tree is generated into a cache folder (and reused next time) and the
``demo`` preset runs. The checkpoint is chosen on a seeded fifth of the training identities
held out for validation (`LLCM.validation_split`), never on the test set. MCJA and AGW have no
released LLCM recipe, so a real tree needs ``--preset demo`` plus overrides.

``results.json`` has the contract of ``train_sysu.py``: ``untrained`` and ``trained`` hold the
infrared→visible `ProtocolResult`; ``directions`` holds both directions.
"""

from __future__ import annotations

import argparse
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

from vireid.data import LLCM, DatasetLayoutError, make_llcm_like
from vireid.engine import (
    FeatureExtractor,
    evaluate_llcm,
    init_distributed,
    seed_everything,
    write_text_atomic,
)
from vireid.metrics import ProtocolResult

# The demo's synthetic tree: 96 identities (64 train, of which 13 validate; 32 test), 128×64.
SYNTHETIC_SIZE = (128, 64)
DIRECTIONS: tuple[Literal["ir2vis", "vis2ir"], ...] = ("ir2vis", "vis2ir")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_training_arguments(p, "LLCM", default_ids=96)
    p.add_argument(
        "--protocol",
        default="deen",
        choices=("deen", "symmetric", "full"),
        help="test protocol variant (default deen, the official code's)",
    )
    p.add_argument("--trials", type=int, default=10, help="gallery draws (default 10)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wall = time.perf_counter()
    ctx = init_distributed(args.device)
    root, synthetic = data_root(args, ctx, "llcm", make_llcm_like, SYNTHETIC_SIZE)
    recipe = build_recipe(args, "llcm", synthetic)
    try:
        dataset = LLCM(root)
    except DatasetLayoutError as err:
        sys.exit(f"error: {err}")
    out = run_folder(args, args.output_dir, "llcm", recipe, ctx)
    if ctx.is_main:
        print(recipe, flush=True)
    samples, num_classes, validation = training_set(dataset, recipe)
    seed_everything(recipe.seed)
    model = build_model(recipe, num_classes, ctx)
    extractor = FeatureExtractor(model, recipe.image_size, device=ctx.device, amp=args.amp)
    trials = None if args.protocol == "full" else range(args.trials)

    def evaluate_both() -> dict[str, ProtocolResult]:
        return {d: evaluate_llcm(extractor, dataset, d, args.protocol, trials) for d in DIRECTIONS}

    untrained_path = out / "untrained.json"
    untrained: dict[str, ProtocolResult] | None = None
    if args.resume is not None and untrained_path.is_file():
        untrained_dicts = json.loads(untrained_path.read_text())
    else:
        untrained = evaluate_both()
        untrained_dicts = {d: r.to_dict() for d, r in untrained.items()}
        if ctx.is_main:
            write_text_atomic(untrained_path, json.dumps(untrained_dicts))
            for d, r in untrained.items():
                print(f"untrained model, LLCM {d} ({args.protocol}):\n{r}", flush=True)

    result = train(args, model, recipe, samples, validation, out, resume=args.resume)
    if not result.finished:
        if ctx.is_main:
            print(
                f"\nstopped after epoch {result.epochs_done} of {recipe.epochs}; continue with "
                f"--output-dir {out} --resume {result.last_checkpoint}"
            )
        return 0
    load_best(model, result, ctx.device)
    trained = evaluate_both()
    if not ctx.is_main:
        return 0
    record: dict[str, Any] = {
        "dataset": "LLCM",
        "data_root": str(Path(root).resolve()),
        "synthetic": synthetic,
        "protocol": {
            "protocol": args.protocol,
            "trials": None if trials is None else list(trials),
            "headline": "ir2vis",
        },
        "untrained": untrained_dicts["ir2vis"],
        "trained": trained["ir2vis"].to_dict(),
        "directions": {
            d: {"untrained": untrained_dicts[d], "trained": trained[d].to_dict()}
            for d in DIRECTIONS
        },
        **run_record(args, recipe, result, ctx, wall),
    }
    write_text_atomic(out / "results.json", json.dumps(record, indent=2))
    print(f"\ntrained model (best epoch {result.best_epoch}, chosen on validation identities):")
    for d in DIRECTIONS:
        print(f"LLCM {d} ({args.protocol}):\n{trained[d]}")
    rows: dict[str, ProtocolResult] = {}
    for d in DIRECTIONS:
        if untrained is not None:
            rows[f"untrained {d}"] = untrained[d]
        rows[f"trained {d}"] = trained[d]
    print("\n" + table(rows))
    minutes = (time.perf_counter() - wall) / 60
    print(
        f"\ntraining {result.train_seconds / 60:.1f} min at {result.images_per_second:.0f} "
        f"img/s; whole run {minutes:.1f} min"
    )
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
