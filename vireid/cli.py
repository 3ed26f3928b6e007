"""The ``vireid`` command line.

vireid data synth {sysu,regdb,llcm} ROOT [--ids N] [--seed S]
vireid data check {sysu,regdb,llcm} ROOT [--split T] [--unofficial]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vireid import __version__

DATASETS = ("sysu", "regdb", "llcm")


def _synth(args: argparse.Namespace) -> int:
    from vireid.data import synthetic

    make = {
        "sysu": synthetic.make_sysu_like,
        "regdb": synthetic.make_regdb_like,
        "llcm": synthetic.make_llcm_like,
    }[args.dataset]
    kwargs = {"seed": args.seed}
    if args.ids is not None:
        kwargs["num_ids"] = args.ids
    root = make(args.root, **kwargs)
    print(f"wrote a synthetic {args.dataset} tree to {root}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from vireid.data import LLCM, SYSUMM01, DatasetLayoutError, RegDB

    try:
        if args.dataset == "sysu":
            report = SYSUMM01(args.root, official_split=not args.unofficial).check()
        elif args.dataset == "regdb":
            report = RegDB(args.root, split=args.split).check()
        else:
            report = LLCM(args.root).check()
    except DatasetLayoutError as err:
        print(err, file=sys.stderr)
        return 1
    print(report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``vireid`` command."""
    parser = argparse.ArgumentParser(prog="vireid", description="vireid command line tools")
    parser.add_argument("--version", action="version", version=f"vireid {__version__}")
    top = parser.add_subparsers(dest="group", required=True)
    data = top.add_parser("data", help="dataset tools").add_subparsers(dest="command",
                                                                        required=True)  # fmt: skip
    synth = data.add_parser("synth", help="write a synthetic dataset in the real folder layout")
    synth.add_argument("dataset", choices=DATASETS)
    synth.add_argument("root", help="folder to create")
    synth.add_argument("--ids", type=int, default=None, help="number of identities")
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(run=_synth)
    check = data.add_parser("check", help="validate a dataset folder and print its counts")
    check.add_argument("dataset", choices=DATASETS)
    check.add_argument("root")
    check.add_argument("--split", type=int, default=1, help="RegDB split 1..10")
    check.add_argument("--unofficial", action="store_true",
                       help="SYSU-MM01: do not require the official identity split")  # fmt: skip
    check.set_defaults(run=_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vireid`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
