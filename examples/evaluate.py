"""Evaluate a saved checkpoint on SYSU-MM01, RegDB or LLCM with any of their protocols.

    python examples/evaluate.py runs/a/checkpoints/best.pt --dataset sysu --data-root /data/SYSU
    python examples/evaluate.py best.pt --dataset sysu --data-root /data/SYSU --mode indoor
    python examples/evaluate.py best.pt --dataset regdb --data-root /data/RegDB --split 3
    python examples/evaluate.py best.pt --dataset llcm --data-root /data/LLCM --direction both

The checkpoint carries its method, recipe and class count, so the network is rebuilt exactly as
it was trained (without downloading pretrained weights: the checkpoint holds every weight) and
embeds the test images at the recipe's input size. Each requested direction is scored and
printed; ``results.json`` (next to the checkpoint's run folder unless ``--output`` says
otherwise) holds every ``ProtocolResult`` with the checkpoint, recipe, protocol and versions.

A checkpoint whose class count is not what the dataset trains (its training identities, or
those left after holding the validation identities out) was trained on something else: that is
an error, since an evaluation of the wrong model looks like a bad number, not a mistake. Pass
``--allow-other-dataset`` to evaluate it anyway (a cross-dataset test; the classifier is not
used at test time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from vireid.data import LLCM, SYSUMM01, DatasetLayoutError, RegDB
from vireid.engine import (
    FeatureExtractor,
    evaluate_llcm,
    evaluate_regdb,
    evaluate_sysu,
    init_distributed,
    load_checkpoint,
    resolve_amp,
    versions,
    write_text_atomic,
)
from vireid.metrics import ProtocolResult
from vireid.models import METHODS

DIRECTIONS = {"sysu": ("ir2vis",), "regdb": ("v2t", "t2v"), "llcm": ("ir2vis", "vis2ir")}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("checkpoint", type=Path, help="a checkpoint written by the engine (*.pt)")
    p.add_argument("--dataset", required=True, choices=("sysu", "regdb", "llcm"))
    p.add_argument("--data-root", type=Path, required=True, help="the dataset's folder")
    p.add_argument("--method", help="expected method; an error if the checkpoint is another's")
    p.add_argument(
        "--custom-split",
        action="store_true",
        help="SYSU-MM01: the tree's exp/*_id.txt are not the official split",
    )
    p.add_argument("--mode", default="all", choices=("all", "indoor"), help="SYSU-MM01 search mode")
    p.add_argument("--shots", type=int, default=1, choices=(1, 10), help="SYSU-MM01 gallery shots")
    p.add_argument("--sampler", default="official", choices=("official", "agw"),
                   help="SYSU-MM01 gallery sampler")  # fmt: skip
    p.add_argument("--trials", type=int, default=10, help="SYSU-MM01 / LLCM trials (default 10)")
    p.add_argument("--split", type=int, default=1, help="RegDB split 1..10 (default 1)")
    p.add_argument("--cmc", default="standard", choices=("standard", "dedup"),
                   help="RegDB CMC variant")  # fmt: skip
    p.add_argument("--protocol", default="deen", choices=("deen", "symmetric", "full"),
                   help="LLCM protocol variant")  # fmt: skip
    p.add_argument("--direction", default="default",
                   help="sysu: ir2vis; regdb: v2t | t2v | both (default both); "
                        "llcm: ir2vis | vis2ir | both (default both)")  # fmt: skip
    p.add_argument("--output", type=Path, help="results file (default: <run>/eval-<dataset>.json)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--amp", default="auto", choices=("auto", "bf16", "fp16", "none"),
                   help="autocast dtype (auto: bf16 on CUDA, fp32 on CPU)")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=128, help="images per forward pass")
    p.add_argument(
        "--allow-other-dataset",
        action="store_true",
        help="evaluate a checkpoint whose class count does not fit the dataset",
    )
    return p.parse_args(argv)


def directions(args: argparse.Namespace) -> tuple[str, ...]:
    known = DIRECTIONS[args.dataset]
    if args.direction in ("default", "both"):
        return known
    if args.direction not in known:
        sys.exit(f"error: --direction for {args.dataset} must be one of "
                 f"{', '.join(known)} or both, got {args.direction!r}")  # fmt: skip
    return (args.direction,)


def load_dataset(args: argparse.Namespace) -> SYSUMM01 | RegDB | LLCM:
    try:
        if args.dataset == "sysu":
            return SYSUMM01(args.data_root, official_split=not args.custom_split)
        if args.dataset == "regdb":
            return RegDB(args.data_root, split=args.split)
        return LLCM(args.data_root)
    except DatasetLayoutError as err:
        hint = "\nIf this tree is synthetic or re-split on purpose, add --custom-split." if (
            args.dataset == "sysu" and not args.custom_split) else ""  # fmt: skip
        sys.exit(f"error: {err}{hint}")
    except ValueError as err:
        sys.exit(f"error: {err}")


def class_counts(dataset: SYSUMM01 | RegDB | LLCM) -> dict[str, int]:
    """Class counts a model trained on ``dataset`` can have: all training ids, or fewer."""
    counts = {"training identities": dataset.num_classes}
    with contextlib.suppress(ValueError):  # too few identities to hold any out
        counts["training minus validation identities"] = dataset.validation_split().num_classes
    return counts


def evaluate(
    extractor: FeatureExtractor, dataset: Any, args: argparse.Namespace, direction: str
) -> ProtocolResult:
    if args.dataset == "sysu":
        return evaluate_sysu(extractor, dataset, args.mode, args.shots, args.sampler,
                             range(args.trials))  # fmt: skip
    if args.dataset == "regdb":
        return evaluate_regdb(extractor, dataset, direction, args.cmc)
    trials = None if args.protocol == "full" else range(args.trials)
    return evaluate_llcm(extractor, dataset, direction, args.protocol, trials)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    wanted = directions(args)
    try:
        state = load_checkpoint(args.checkpoint)
    except (FileNotFoundError, RuntimeError) as err:
        sys.exit(f"error: {err}")
    method = state.get("method")
    if method not in METHODS or "recipe" not in state or "model" not in state:
        sys.exit(
            f"error: {args.checkpoint} is not a vireid training checkpoint (method {method!r}; "
            f"expected one of {sorted(METHODS)} with a recipe and weights)"
        )
    if args.method is not None and args.method != method:
        sys.exit(f"error: {args.checkpoint} is a {method!r} checkpoint, but --method is "
                 f"{args.method!r}")  # fmt: skip
    # The checkpoint holds every weight: never fetch pretrained ones to build the network.
    recipe = METHODS[method].from_dict(state["recipe"]).replace(pretrained=None)
    num_classes = int(state["num_classes"])
    dataset = load_dataset(args)
    counts = class_counts(dataset)
    if num_classes not in counts.values() and not args.allow_other_dataset:
        listed = ", ".join(f"{v} ({k})" for k, v in counts.items())
        sys.exit(f"error: {args.checkpoint} has a {num_classes}-class classifier, but "
                 f"{args.dataset} at {args.data_root} trains {listed}: the checkpoint was "
                 "trained on another dataset or split. Pass --allow-other-dataset to evaluate "
                 "it anyway (a cross-dataset test).")  # fmt: skip
    model = recipe.build_model(num_classes)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        sys.exit(f"error: the weights in {args.checkpoint} do not fit a {method} network "
                 f"built from its own recipe: {err}")  # fmt: skip
    try:  # the engine's device choice: "auto" takes the GPU, a missing CUDA says so
        device = init_distributed(args.device).device
    except RuntimeError as err:
        sys.exit(f"error: {err}")
    model.to(device)
    extractor = FeatureExtractor(model, recipe.image_size, device=device, amp=args.amp,
                                 batch_size=args.batch_size)  # fmt: skip
    results: dict[str, ProtocolResult] = {}
    for direction in wanted:
        results[direction] = evaluate(extractor, dataset, args, direction)
        print(f"{args.dataset} {direction}:\n{results[direction]}\n", flush=True)
    protocol: dict[str, Any] = {"dataset": args.dataset}
    if args.dataset == "sysu":
        protocol.update(mode=args.mode, shots=args.shots, sampler=args.sampler,
                        trials=list(range(args.trials)))  # fmt: skip
    elif args.dataset == "regdb":
        protocol.update(split=args.split, cmc=args.cmc)
    else:
        trials = None if args.protocol == "full" else list(range(args.trials))
        protocol.update(protocol=args.protocol, trials=trials)
    out = args.output or args.checkpoint.resolve().parent.parent / f"eval-{args.dataset}.json"
    record = {
        "checkpoint": str(args.checkpoint.resolve()),
        "method": method,
        "epoch": state.get("epoch"),
        "recipe": recipe.to_dict(),
        "num_classes": num_classes,
        "data_root": str(args.data_root.resolve()),
        "protocol": protocol,
        "results": {d: r.to_dict() for d, r in results.items()},
        "device": str(device),
        "precision": str(resolve_amp(args.amp, device) or torch.float32).removeprefix("torch."),
        "seconds": time.perf_counter() - start,
        "versions": versions(),
    }
    write_text_atomic(out, json.dumps(record, indent=2))
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
