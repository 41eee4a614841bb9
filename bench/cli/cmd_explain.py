"""`loopvec explain`: where each implementation's forward-pass time goes, stage by stage."""
from __future__ import annotations

import argparse
import datetime as dt
import sys

from loopvec.bench.store.model import dumps
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


SIZES = {"toy": (2, 3, 2, 2), "mnist": (784, 50, 100, 10)}
COPIES = 6  # the input, every layer's output and temporaries, in several implementations' forms at once


def check_memory(network: str, batch: int, ram: int | None) -> None:
    """Refuse, before allocating anything, a batch whose inputs and activations would not fit in memory."""
    need = batch * sum(SIZES[network]) * 8 * COPIES
    limit = ram if ram else 2**40
    if need > limit // 2:
        raise CLIError(f"--batch {batch:,}: about {need / 2**30:,.1f} GiB of inputs and activations for the "
                       f"{network} network; this machine has {limit / 2**30:,.1f} GiB of memory (expected a batch "
                       f"that needs at most half of it)")


def cmd_explain(args: argparse.Namespace) -> int:
    from loopvec.bench.cli.cmd_run import Out, results_folder, short_commit
    from loopvec.bench.measure import machine
    from loopvec.bench.measure.config import RunConfig
    from loopvec.bench.measure.pool import run_suite
    from loopvec.bench.measure.runner import restore_signals
    from loopvec.bench.measure.stages import EXPLAINED
    from loopvec.bench.present.explain import breakdown_lines, plot_breakdown
    from loopvec.bench.store.atomic import save_with_fallbacks

    names = [n for n in impl_names(args.impl) if n in EXPLAINED or args.impl]
    left_out = [n for n in names if n not in EXPLAINED]
    if left_out:
        raise CLIError(f"--impl {' '.join(left_out)}: not taken apart (numba-parallel is numba-tuned's stages "
                       f"split across threads); expected some of {', '.join(EXPLAINED)}")
    batches = args.batch or ([1, 100, 10_000] if args.network == "mnist" else [1, 100])
    check_memory(args.network, max(batches), machine.ram_bytes())
    name, folder = results_folder(args.results_dir, args.machine, sub="explain")
    started = dt.datetime.now(dt.timezone.utc)
    commit = short_commit()
    say = Out()
    info = {"profile": "explain", "kind": "explain", "machine": name, "impls": names, "threads": None, "only": [],
            "network": args.network, "batches": batches, "precision": args.precision,
            "command": ["loopvec", *sys.argv[1:]], "started_utc": started.isoformat(timespec="seconds"),
            "commit": commit}
    cfg = RunConfig(profile="quick", impls=tuple(names), precision=args.precision, explain=args.network,
                    batches=tuple(batches), memory_per_call=True)  # which stage allocates what
    try:
        data, progress = run_suite(cfg, info, say, probe=False)
        if data is None:
            say("\nnothing was timed: nothing to save")
            return 130 if progress.interrupted else 1
        say("")
        for line in breakdown_lines(data):  # the printout first: a full disk cannot cost it
            say(line)
        final = folder / f"{started.strftime('%Y%m%dT%H%M%SZ')}_{commit}.json"
        path_ = save_with_fallbacks(final, dumps(data),
                                    lambda line: print(f"loopvec explain: {line}", file=sys.stderr))
    finally:
        restore_signals()
    say(f"results: {path_}" if path_ is not None else "results: not saved (no folder could take them)")
    refused = 0
    for b in batches:
        png = folder / f"{args.network}-b{b:05d}.png"
        try:
            if plot_breakdown(data, args.network, b, png):
                say(f"wrote {png}")
        except OSError as exc:  # WriteError too: a folder or a device where the plot goes, a full disk
            refused += 1
            print(f"loopvec explain: error: {clean(' '.join(str(exc).split()))}", file=sys.stderr)
    if progress.interrupted:
        return 130
    return 2 if refused else 0

