"""`loopvec compare A B [C ...]`: runs or machines side by side, with a statistical regression guard."""
from __future__ import annotations

import argparse
import sys

from loopvec.bench.cli.args import clean, path, percent
from loopvec.bench.cli.errors import CLIError

DESCRIPTION = """\
Compare two or more runs: what differs between the machines (CPU, cores, BLAS
library/kernel/threads, Python/NumPy/Numba versions, threads, environment), each
case's time per call per run with B/A and its 95% interval, each run's speedup over
pure Python, and, for three or more runs, how far each ratio moved across them.

One rule decides: B/A's 95% interval comes from a two-level bootstrap over each
run's own worker processes and their passes (so the spread between processes that
each run measured is in it). A timing is 'slower' or 'faster' only when the WHOLE
interval lies beyond ±PCT%; PCT is --fail-slower's when given (the table, the
summary and the exit code then always agree), else --min-change.

Each RUN is a results file, or a machine folder (results/<machine>, or just
<machine>) meaning its newest complete run.

--fail-slower PCT (a regression guard for CI): exit 1 when, for any timing, the LOW
end of the 95% interval of a later run's time over the first run's is above
1 + PCT/100, i.e. the slowdown is larger than PCT% even allowing for the noise.

exit codes: 0 compared, 1 the regression guard failed, 2 bad input

example: loopvec compare results/laptop results/ci-runner --fail-slower 10"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare results files or machines side by side", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=path, metavar="RUN", help="results file or machine folder (at least two)")
    p.add_argument("--fail-slower", type=percent, metavar="PCT",
                   help="exit 1 if any timing of a later run is more than PCT%% slower than the first run "
                        "at the low end of its interval")
    p.add_argument("--min-change", type=percent, default=5.0, metavar="PCT",
                   help="without --fail-slower: the smallest change the table names, whole interval beyond "
                        "±PCT%% (default: 5)")
    p.add_argument("--results-dir", type=path, default="results", metavar="DIR",
                   help="where a bare machine name is looked up (default: ./results)")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    from loopvec.bench.present.compare import common_pairs, load_runs, report
    from loopvec.bench.store.results import ResultsError

    if len(args.runs) < 2:
        raise CLIError("give at least two runs to compare (results files or machine folders), "
                       "e.g. loopvec compare results/laptop results/ci-runner")
    warnings: list[str] = []
    try:
        runs = load_runs(args.runs, args.results_dir, warnings)
    except ResultsError as exc:
        raise CLIError(clean(exc)) from None
    for w in warnings:
        print(f"note: {clean(w)}", file=sys.stderr)
    if not common_pairs(runs):
        desc = " and ".join(f"{r.path} ({len(r.rows)} case(s))" for r in runs)
        raise CLIError(f"no case timed in all runs: {desc}")
    lines, failed = report(runs, args.fail_slower, args.min_change)
    print("\n".join(clean(line) for line in lines), flush=True)
    return 1 if failed else 0
