"""`loopvec report [RESULTS_DIR]`: results/README.md and PNG plots from every machine's newest run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from loopvec.bench.cli.args import clean, path, positive_int
from loopvec.bench.cli.errors import CLIError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write results/README.md and plots from every machine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Write RESULTS_DIR/README.md and PNG plots next to it from the newest complete run\n"
            "of every machine folder RESULTS_DIR/<machine>/: per machine the table of `loopvec run`\n"
            "and its environment, time and speedup (with 95% intervals) versus size per workload,\n"
            "GFLOP/s against the measured peak; across machines, the MNIST-shaped forward pass at\n"
            "batch 1, 100 and 1 000. Regenerating overwrites the same files, atomically.\n\n"
            "Each run is read once; with many machines, the plots show the 6 most recent and the\n"
            "README lists every one."),
    )
    p.add_argument("results_dir", nargs="?", type=path, default="results", metavar="RESULTS_DIR",
                   help="folder of machine folders (default: ./results)")
    p.add_argument("--jobs", type=positive_int, metavar="N",
                   help="worker processes that read the runs and draw the plots (default: one per CPU; "
                        "1: all in this process)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from loopvec.bench.present.report import ReportError, write_report

    root = Path(args.results_dir)
    if root.exists() and not root.is_dir():
        raise CLIError(f"{clean(root)}: is a file; expected the results folder that holds machine folders "
                       f"(e.g. results)")
    try:
        warnings, written, readme, runs = write_report(root, jobs=args.jobs)
    except ReportError as exc:
        raise CLIError(clean(exc)) from None
    for w in warnings:
        print(f"note: {clean(w)}", file=sys.stderr)
    # machine folder names come from the disk: cleaned of control characters, as every name printed is
    print(clean(f"report of {len(runs)} machine(s): {', '.join(f'{m} ({p.name})' for m, (p, _) in runs.items())}"))
    print(f"wrote {clean(readme)}")
    for w in written:
        print(f"wrote {clean(w)}")
    return 0
