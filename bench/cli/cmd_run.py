"""`loopvec run`: the benchmark suite, a table, and a results file that nothing can half-write."""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from loopvec.bench.store.model import dumps
from loopvec.bench.cli.args import (bounded_int, clean, impl_names, machine_name, path, pattern, percent,
                                    positive_int)
from loopvec.bench.cli.errors import CLIError
from loopvec.bench.measure.config import PROCESSES, RunConfig
from loopvec.bench.measure.isa import ISAS

DESCRIPTION = """\
Run every case (activation functions, dot, the toy and the MNIST-shaped networks,
the book's one-at-a-time versus batched experiment, and the real MNIST test set
when it is found) through every implementation: check each answer against numpy,
compile Numba outside the timer, then time the implementations of each case side
by side in interleaved passes (A B C, B C A, ...) with pytest-benchmark, print one
table (time per call, speedup over pure Python with its 95% interval, GFLOP/s and
share of the machine's measured peak) and write
results/<machine>/<UTC timestamp>_<commit>.json.

The quick profile takes about 2.5 minutes on 2 cores; full sweeps more sizes (10-15
minutes). Case ids look like forward-mnist-b0100-numpy; --list prints them.
Ctrl-C, SIGTERM or a closed terminal stop the run and keep the finished cases in a
file marked incomplete. Exit codes: 0 done, 1 a wrong answer, 2 bad input,
130 interrupted."""


def register(sub: argparse._SubParsersAction) -> None:
    from loopvec.bench.measure.machine import default_machine_name

    p = sub.add_parser("run", help="run the benchmark suite and print the table", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", choices=["quick", "full"], default="quick", help="case sizes (default: quick)")
    p.add_argument("--impl", nargs="+", action="extend", metavar="NAME", help="implementations to run (default: all available)")
    p.add_argument("--only", action="append", type=pattern, metavar="PATTERN",
                   help="only case ids containing PATTERN (or matching it as a glob, e.g. 'forward-*-numpy'); "
                        "repeatable")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="BLAS and Numba threads for the run, 1 up to NUMBA_NUM_THREADS (the cores here; "
                        "default: the libraries' own default)")
    p.add_argument("--processes", type=bounded_int(1, 64), metavar="N",
                   help="fresh worker processes the passes are spread over, one after another (default: "
                        f"{PROCESSES['quick']} quick, {PROCESSES['full']} full); each is one sample of a process's "
                        "memory layout and thread placement, and the intervals include the spread between them")
    p.add_argument("--isa", choices=ISAS, default="native",
                   help="hold every implementation in the timed processes to this instruction set (Numba's "
                        "target, OpenBLAS's core type, torch's CPU capability): see what another machine would "
                        "get; results go to <machine>-emu-<isa> (default: native)")
    p.add_argument("--startup-probe", action=argparse.BooleanOptionalAction, default=None,
                   help="time Numba's first call in two new processes, compiling into an empty cache and then "
                        "loading it (default: in the full profile only; it compiles every kernel, 20-30 s)")
    p.add_argument("--memory", action=argparse.BooleanOptionalAction, default=None,
                   help="measure the extra memory one call of each case allocates (tracemalloc; Numba's "
                        "allocation counts), in the first worker, after validating and before timing (default: in "
                        "the full profile only; under tracemalloc pure Python runs several times slower)")
    p.add_argument("--ceilings", action=argparse.BooleanOptionalAction, default=True,
                   help="measure the machine's limits, the FLOP peak (large np.dot) and the memory bandwidth "
                        "(STREAM-style), before and after the cases; the rate column shows each case's share of "
                        "the limit that binds it. --no-ceilings saves about 15 s on a short run and shows bare "
                        "rates (default: measured)")
    p.add_argument("--precision", type=percent, metavar="PCT",
                   help="keep adding interleaved passes to a case until every ratio's 95%% interval is within "
                        "±PCT%% or the case's (raised) time cap is reached (default: ±2%% within the profile's cap)")
    p.add_argument("--machine", type=machine_name, metavar="NAME",
                   help=f"results folder name (default: host and CPU, here {default_machine_name()!r})")
    p.add_argument("--results-dir", type=path, default="results", metavar="DIR",
                   help="where results go (default: ./results)")
    p.add_argument("--data", type=path, metavar="DIR",
                   help="real MNIST folder for the mnist-real cases (default: $LOOPVEC_DATA, then the folder "
                        "`loopvec fetch-mnist` fills)")
    p.add_argument("--list", action="store_true", help="print the case ids that would run, and exit")
    p.set_defaults(func=cmd_run)


def short_commit() -> str:
    """The loopvec checkout's commit (with -dirty), or 'nogit' outside a checkout.

    Looks where the code is (an editable install) and then in the current folder
    (`pip install .` run from a clone)."""
    here = Path(__file__).resolve().parents[2]
    for src in (here, Path.cwd()):
        if (src / "bench" / "bench_suite.py").exists() and (src / ".git").exists():
            try:
                rev = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=src, capture_output=True,
                                     text=True, timeout=10)
                if rev.returncode != 0:
                    return "nogit"
                dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "impls",
                                        "bench", "pyproject.toml"], cwd=src, capture_output=True, text=True,
                                       timeout=10).stdout.strip()
                return rev.stdout.strip() + ("-dirty" if dirty else "")
            except (OSError, subprocess.SubprocessError):
                return "nogit"
    return "nogit"


def check_threads(n: int | None, names: list[str]) -> None:
    """--threads reaches Numba when a Numba implementation runs, and Numba allows 1..NUMBA_NUM_THREADS."""
    numba_names = [m for m in names if m.startswith("numba")]
    if n is None or not numba_names:
        return
    import numba

    top = numba.config.NUMBA_NUM_THREADS
    if n > top:
        raise CLIError(f"--threads {n}: {', '.join(numba_names)} can use at most {top} threads here "
                       f"(NUMBA_NUM_THREADS); expected a whole number 1..{top}")


class Out:
    """Progress and table on stdout; if stdout closes (`| head`) or fills (a full disk, /dev/full),
    the run goes on silently and its results are saved all the same."""

    def __init__(self) -> None:
        self.closed = False
        self.error: str | None = None

    def __call__(self, text: str) -> None:
        if self.closed:
            return
        try:
            print(text, flush=True)
        except OSError as exc:  # BrokenPipeError, ENOSPC, EIO ...
            self.closed = True
            self.error = exc.strerror or type(exc).__name__
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def results_folder(results_dir: str, machine_name: str | None, isa: str = "native", sub: str = "") -> tuple[str, Path]:
    """(machine name, the folder results go to), checked writable now, not after the run. An
    emulated ISA gets its own machine folder, <machine>-emu-<isa>: it never mixes with the machine's."""
    from loopvec.bench.measure import machine
    from loopvec.bench.store.atomic import WriteError, probe_writable

    name = machine_name or machine.default_machine_name()
    if isa != "native" and not name.endswith(f"-emu-{isa}"):
        name = f"{name}-emu-{isa}"
    folder = Path(results_dir) / name / sub if sub else Path(results_dir) / name
    try:
        probe_writable(folder)
    except WriteError as exc:
        raise CLIError(f"--results-dir {clean(results_dir)}: {exc}") from None
    return name, folder


def _prepare_data(data: str | None) -> str | None:
    """--data (or $LOOPVEC_DATA, or the default folder) checked before any case runs: the folder
    the workers read the real-MNIST cases from (RunConfig.data), or None when there is none."""
    from loopvec.bench.data.files import ENV_VAR, DataError, data_status, resolve_data_dir
    from loopvec.bench.data.mnist import load_real

    if data is None and not os.environ.get(ENV_VAR) and data_status()[0] is None:
        return None  # no data anywhere: the real-MNIST cases are skipped, saying how to get it
    try:
        folder = str(resolve_data_dir(data).resolve())
        load_real(folder)  # a broken file is a clear error now, not a "wrong answer" later
    except DataError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    return folder


def _save(data: dict[str, Any], final: Path) -> Path | None:
    """Write the results where asked, else wherever there is room (store.atomic.save_with_fallbacks);
    as a last resort the JSON goes to stderr, so a finished run is never lost."""
    from loopvec.bench.store.atomic import save_with_fallbacks

    text = dumps(data)
    path = save_with_fallbacks(final, text, lambda line: print(f"loopvec run: {line}", file=sys.stderr))
    if path is None:
        print("loopvec run: no folder could take the results; here they are as JSON:", file=sys.stderr)
        with contextlib.suppress(OSError):
            sys.stderr.write(text + "\n")
    return path


def cmd_run(args: argparse.Namespace) -> int:
    from loopvec.bench.measure import machine
    from loopvec.bench.measure import workloads as W
    from loopvec.bench.measure.isa import IsaError, check_isa
    from loopvec.bench.measure.pool import run_suite
    from loopvec.bench.measure.runner import restore_signals
    from loopvec.bench.present.table import format_table
    names = impl_names(args.impl)
    check_threads(args.threads, names)
    if args.data is not None and not Path(args.data).is_dir():
        raise CLIError(f"--data {clean(args.data)}: not a folder")
    chosen = W.select(args.profile, names, args.only)
    if not chosen:
        raise CLIError(f"no case matches --only {' '.join(args.only or [])!r} for implementations "
                       f"{', '.join(names)}; `loopvec run --list` shows the case ids")
    if args.list:
        for case, entrants in chosen:
            for e in entrants:
                print(f"{case.id}-{e}")
        return 0
    try:
        check_isa(args.isa)
    except IsaError as exc:
        raise CLIError(str(exc)) from None
    data_dir = _prepare_data(args.data)
    machine_name_, folder = results_folder(args.results_dir, args.machine, args.isa)
    started = dt.datetime.now(dt.timezone.utc)
    commit = short_commit()
    say = Out()
    say(f"machine   {machine_name_}: {machine.cpu_model()}, {os.cpu_count()} logical cores")
    env = machine.speed_env()
    say(f"env       {' '.join(f'{k}={v}' for k, v in env.items()) or 'no OPENBLAS_/OMP_/MKL_/NUMBA_ variables set'}")
    cfg = RunConfig(profile=args.profile, impls=tuple(names), only=tuple(args.only or ()), threads=args.threads,
                    precision=args.precision, processes=args.processes or 0, isa=args.isa, data=data_dir,
                    memory_per_call=args.memory, ceilings=args.ceilings)
    say(f"impls     {', '.join(names)}; threads {args.threads or 'library defaults'}; "
        f"{cfg.n_processes} worker processes" + (f"; held to {args.isa} (emulated)" if args.isa != "native" else ""))
    info = {"profile": args.profile, "machine": machine_name_, "impls": names, "threads": args.threads,
            "only": args.only or [], "precision": args.precision, "command": ["loopvec", *sys.argv[1:]],
            "started_utc": started.isoformat(timespec="seconds"), "commit": commit, "isa": args.isa,
            "emulated": args.isa != "native"}
    try:
        probe = args.startup_probe if args.startup_probe is not None else args.profile == "full"
        data, progress = run_suite(cfg, info, say, probe=probe)
        # run_suite ignores further signals once the cases are over: the save below cannot be cut short
        if data is None:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: no leftover folder from a run that saved nothing
            if progress.interrupted:
                say("\ninterrupted before any case finished: nothing to save")
                return 130
            say("\nno case was timed (all skipped or failed): nothing to save")
            return 1 if progress.failed else 0
        path = _save(data, folder / f"{started.strftime('%Y%m%dT%H%M%SZ')}_{commit}.json")
    finally:
        restore_signals()
    say("")
    say(format_table(data))
    if say.closed:
        why = "was closed" if say.error in (None, "Broken pipe") else f"failed ({say.error})"
        print(f"loopvec run: stdout {why}; the run went on and saved its results to {path}", file=sys.stderr)
    if progress.interrupted:
        say(f"\ninterrupted: kept {data['loopvec']['finished']} finished cases in {path} (marked incomplete)")
        return 130
    say(f"\nresults: {path}" if path is not None else "\nresults: not saved (printed to stderr as JSON)")
    if progress.failed:
        say(f"{len(progress.failed)} case(s) gave a wrong answer and were not timed: "
            + ", ".join(f["id"] for f in progress.failed))
        return 1
    return 0
