"""`loopvec calibrate`: this machine's A/A spread, and what `compare` can resolve on it."""
from __future__ import annotations

import argparse
import datetime as dt
import sys

from loopvec.bench.store.model import dumps
from loopvec.bench.cli.args import bounded_int, machine_name, path, pattern
from loopvec.bench.cli.errors import CLIError
from loopvec.bench.measure.isa import ISAS

DESCRIPTION = """\
Time one implementation against itself, as two arms, in every case, across fresh
worker processes: whatever separates the arms is this machine. Prints the A/A
spread, the spread between worker processes, and how often `loopvec compare`'s
rule (--fail-slower 5, 10, 15) calls unchanged code changed, comparing the first
half of the workers against the second. Stores it all, with every pass, in
results/<machine>/calibrate/<UTC timestamp>_<commit>.json. Know this before you
put a `compare --fail-slower` gate in CI.

Exit codes: 0 done, 1 a wrong answer, 2 bad input, 130 interrupted."""


def register(sub: argparse._SubParsersAction) -> None:
    from loopvec.bench.measure.machine import default_machine_name

    p = sub.add_parser("calibrate", help="A/A: what this machine can resolve", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--impl", default="numpy", metavar="NAME", help="the implementation timed against itself "
                                                                    "(default: numpy)")
    p.add_argument("--profile", choices=["quick", "full"], default="quick", help="case sizes (default: quick)")
    p.add_argument("--only", action="append", type=pattern, metavar="PATTERN",
                   help="only case ids containing PATTERN (repeatable)")
    p.add_argument("--processes", type=bounded_int(2, 64), default=6, metavar="N",
                   help="worker processes, at least 2 (default: 6: three against three)")
    p.add_argument("--isa", choices=ISAS, default="native", help="as for `loopvec run` (default: native)")
    p.add_argument("--machine", type=machine_name, metavar="NAME",
                   help=f"results folder name (default: here {default_machine_name()!r})")
    p.add_argument("--results-dir", type=path, default="results", metavar="DIR",
                   help="where results go (default: ./results)")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from loopvec.bench.cli.args import impl_names
    from loopvec.bench.cli.cmd_run import Out, results_folder, short_commit
    from loopvec.bench.measure import workloads as W
    from loopvec.bench.measure.config import RunConfig
    from loopvec.bench.measure.isa import IsaError, check_isa
    from loopvec.bench.measure.pool import run_suite
    from loopvec.bench.measure.runner import restore_signals
    from loopvec.bench.present.calibration import calibration, calibration_lines
    from loopvec.bench.store.atomic import write_atomic

    names = impl_names([args.impl])
    try:
        check_isa(args.isa)
    except IsaError as exc:
        raise CLIError(str(exc)) from None
    if not W.select(args.profile, names, args.only):
        raise CLIError(f"no case matches --only {' '.join(args.only or [])!r} for {args.impl}")
    name, folder = results_folder(args.results_dir, args.machine, args.isa, "calibrate")
    started = dt.datetime.now(dt.timezone.utc)
    commit = short_commit()
    say = Out()
    cfg = RunConfig(profile=args.profile, impls=tuple(names), only=tuple(args.only or ()),
                    processes=args.processes, aa=True, isa=args.isa,
                    memory_per_call=False)
    info = {"profile": args.profile, "kind": "calibrate", "machine": name, "impls": names, "threads": None,
            "only": args.only or [], "precision": None, "command": ["loopvec", *sys.argv[1:]],
            "started_utc": started.isoformat(timespec="seconds"), "commit": commit, "isa": args.isa}
    try:
        data, progress = run_suite(cfg, info, say, probe=False)
        if data is None or progress.sched is None:
            say("\nnothing was timed: nothing to save")
            return 130 if progress.interrupted else 1
        cal = calibration([st for st in progress.sched.cases.values() if st.done])
        data["loopvec"]["calibration"] = cal
        path_ = write_atomic(folder / f"{started.strftime('%Y%m%dT%H%M%SZ')}_{commit}.json",
                             dumps(data), unique=True)
    finally:
        restore_signals()
    say("")
    for line in calibration_lines(cal, cfg.n_processes):
        say(line)
    say(f"results: {path_}")
    return 130 if progress.interrupted else (1 if progress.failed else 0)
