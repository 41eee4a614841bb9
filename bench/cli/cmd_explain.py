"""`loopvec explain`: where each implementation's forward-pass time goes, stage by stage."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from loopvec.bench.cli.args import clean, impl_names, machine_name, path, percent, positive_int
from loopvec.bench.cli.errors import CLIError

DESCRIPTION = """\
Time each stage of the forward pass separately, per layer, for every implementation:
the matrix product, the bias add, the activation (the output function for the last
layer), and the forward pass of an empty batch (the fixed cost of a call: checks,
conversion, dispatch). Stages are validated first and timed beside the whole forward
pass in interleaved passes, like `loopvec run`; each stage's share of the whole comes
with a 95% interval, and the rest (the whole minus its stages) is shown by name.

Fused kernels are not split where they cannot be: numba-tuned's product and bias are
one step, torch's addmm too; the table says how each implementation was split.

Writes RESULTS_DIR/<machine>/explain/<UTC time>_<commit>.json (pytest-benchmark JSON)
and a stacked-bar PNG per batch size next to it; `loopvec report` includes them."""


def register(sub: argparse._SubParsersAction) -> None:
    from loopvec.bench.measure.machine import default_machine_name

    p = sub.add_parser("explain", help="where each implementation's time goes, stage by stage",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--network", choices=["toy", "mnist"], default="mnist",
                   help="the book's toy 2-3-2-2 network or the MNIST-shaped 784-50-100-10 (default: mnist)")
    p.add_argument("--batch", nargs="+", action="extend", type=positive_int, metavar="N",
                   help="batch sizes (default: 1 100 10000 for mnist, 1 100 for toy)")
    p.add_argument("--impl", nargs="+", action="extend", metavar="NAME",
                   help="implementations (default: python numpy numba numba-tuned, and torch when installed)")
    p.add_argument("--precision", type=percent, metavar="PCT", help="as in loopvec run (default ±2%%)")
    p.add_argument("--machine", type=machine_name, metavar="NAME",
                   help=f"results folder name (default: here {default_machine_name()!r})")
    p.add_argument("--results-dir", type=path, default="results", metavar="DIR",
                   help="where results go (default: ./results)")
    p.set_defaults(func=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    from loopvec.bench.cli.cmd_run import Out, short_commit
    from loopvec.bench.measure import machine
    from loopvec.bench.measure.config import RunConfig
    from loopvec.bench.measure.pool import run_suite
    from loopvec.bench.measure.runner import restore_signals
    from loopvec.bench.measure.stages import EXPLAINED
    from loopvec.bench.present.explain import breakdown_lines, plot_breakdown
    from loopvec.bench.store.atomic import WriteError, probe_writable, write_atomic

    names = [n for n in impl_names(args.impl) if n in EXPLAINED or args.impl]
    left_out = [n for n in names if n not in EXPLAINED]
    if left_out:
        raise CLIError(f"--impl {' '.join(left_out)}: not taken apart (numba-parallel is numba-tuned's stages "
                       f"split across threads); expected some of {', '.join(EXPLAINED)}")
    batches = args.batch or ([1, 100, 10_000] if args.network == "mnist" else [1, 100])
    name = args.machine or machine.default_machine_name()
    folder = Path(args.results_dir) / name / "explain"
    try:
        probe_writable(folder)
    except WriteError as exc:
        raise CLIError(f"--results-dir {clean(args.results_dir)}: {exc}") from None
    started = dt.datetime.now(dt.timezone.utc)
    commit = short_commit()
    say = Out()
    info = {"profile": "explain", "kind": "explain", "machine": name, "impls": names, "threads": None, "only": [],
            "network": args.network, "batches": batches, "precision": args.precision,
            "command": ["loopvec", *sys.argv[1:]], "started_utc": started.isoformat(timespec="seconds"),
            "commit": commit}
    cfg = RunConfig(profile="quick", impls=tuple(names), precision=args.precision, explain=args.network,
                    batches=tuple(batches))
    try:
        data, progress = run_suite(cfg, info, say, probe=False)
        if data is None:
            say("\nnothing was timed: nothing to save")
            return 130 if progress.interrupted else 1
        path = write_atomic(folder / f"{started.strftime('%Y%m%dT%H%M%SZ')}_{commit}.json", json.dumps(data, indent=1),
                            unique=True)
    finally:
        restore_signals()
    say("")
    for line in breakdown_lines(data):
        say(line)
    for b in batches:
        png = folder / f"{args.network}-b{b:05d}.png"
        if plot_breakdown(data, args.network, b, png):
            say(f"wrote {png}")
    say(f"results: {path}")
    return 130 if progress.interrupted else 0
