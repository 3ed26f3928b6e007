"""The ``vireid`` command line.

```text
vireid [--debug] data synth {sysu,regdb,llcm} ROOT [--ids N] [--seed S] [--overwrite]
vireid [--debug] data check {sysu,regdb,llcm} ROOT [--split T] [--unofficial] [--decode]
```

Exit codes: 0 success, 1 a bad dataset or a failed command (one line on stderr, ``vireid:
error: ...``), 2 a usage error (argparse's message). ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from vireid import __version__

DATASETS = ("sysu", "regdb", "llcm")

#: Exit status of a failed command (bad dataset, existing folder, unwritable path).
EXIT_FAILURE = 1
#: Exit status of a usage error (unknown option, missing argument), as argparse uses.
EXIT_USAGE = 2


class CommandError(Exception):
    """A failure the user can fix; printed as one line, exit status `EXIT_FAILURE`."""


def _synth(args: argparse.Namespace) -> int:
    from vireid.data import synthetic

    makers: dict[str, Callable[..., Path]] = {
        "sysu": synthetic.make_sysu_like,
        "regdb": synthetic.make_regdb_like,
        "llcm": synthetic.make_llcm_like,
    }
    make = makers[args.dataset]
    kwargs = {"seed": args.seed, "overwrite": args.overwrite}
    if args.ids is not None:
        kwargs["num_ids"] = args.ids
    try:
        root = make(args.root, **kwargs)
    except (FileExistsError, NotADirectoryError, PermissionError, ValueError, TypeError) as err:
        raise CommandError(str(err)) from err
    print(f"wrote a synthetic {args.dataset} tree to {root}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from vireid.data import LLCM, SYSUMM01, DatasetLayoutError, RegDB

    dataset: SYSUMM01 | RegDB | LLCM
    try:
        if args.dataset == "sysu":
            dataset = SYSUMM01(args.root, official_split=not args.unofficial)
        elif args.dataset == "regdb":
            dataset = RegDB(args.root, split=args.split)
        else:
            dataset = LLCM(args.root)
        report = dataset.check(decode=args.decode)
    except DatasetLayoutError as err:
        # The reader lists every problem, one per line: the one place the CLI prints more
        # than one line of error.
        print(f"vireid: error: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except (FileNotFoundError, NotADirectoryError, PermissionError, ValueError) as err:
        raise CommandError(str(err)) from err
    print(report)
    # With --decode an unreadable image fails the check: the tree is not fit to train on.
    return EXIT_FAILURE if "\n  unreadable: " in report else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``vireid`` command."""
    parser = argparse.ArgumentParser(prog="vireid", description="vireid command line tools")
    parser.add_argument("--version", action="version", version=f"vireid {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    top = parser.add_subparsers(dest="group", required=True)
    data = top.add_parser("data", help="dataset tools").add_subparsers(dest="command",
                                                                        required=True)  # fmt: skip
    synth = data.add_parser("synth", help="write a synthetic dataset in the real folder layout")
    synth.add_argument("dataset", choices=DATASETS)
    synth.add_argument("root", help="folder to create")
    synth.add_argument("--ids", type=int, default=None, help="number of identities")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--overwrite", action="store_true",
                       help="replace the generated entries of a non-empty ROOT")  # fmt: skip
    synth.set_defaults(run=_synth)
    check = data.add_parser("check", help="validate a dataset folder and print its counts")
    check.add_argument("dataset", choices=DATASETS)
    check.add_argument("root")
    check.add_argument("--split", type=int, default=1, help="RegDB split 1..10")
    check.add_argument("--unofficial", action="store_true",
                       help="SYSU-MM01: do not require the official identity split")  # fmt: skip
    check.add_argument("--decode", action="store_true",
                       help="decode every image; list corrupt or empty files")  # fmt: skip
    check.set_defaults(run=_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vireid`` console script; returns the exit status.

    Usage errors exit with `EXIT_USAGE` through argparse; every other failure prints one
    ``vireid: error: ...`` line on stderr and returns `EXIT_FAILURE` (with ``--debug``, the
    exception propagates with its traceback).
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CommandError as err:
        if args.debug:
            raise
        message = " ".join(str(err).split())  # one line, whatever the exception held
        print(f"vireid: error: {message}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as err:  # an unexpected failure: still one line, the traceback on demand
        if args.debug:
            raise
        message = " ".join(f"{type(err).__name__}: {err}".split())
        print(f"vireid: error: {message} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
