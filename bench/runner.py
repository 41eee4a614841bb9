"""`loopvec run`: the benchmark suite through pytest-benchmark, a table, a results file.

The results file is pytest-benchmark JSON (so `pytest-benchmark compare` reads it)
with two additions: machine_info["loopvec"] (CPU, BLAS, threads, environment) and a
top-level "loopvec" section (profile, completeness, skipped and failed cases, peak).
It is written to a temporary file and renamed into place, so it is never truncated;
after Ctrl-C it still holds the cases already finished and says "complete": false.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from bench import machine
from bench.cli import CLIError, impl_names, positive_int
from bench.table import format_table, fmt_time

BENCH_FILE = Path(__file__).with_name("bench_cases.py")
FORMAT = 1

PYTEST_TIMING = {  # per profile: pytest-benchmark's time budget per case
    "quick": ["--benchmark-max-time=0.2", "--benchmark-min-rounds=3"],
    "full": ["--benchmark-max-time=1.0", "--benchmark-min-rounds=5"],
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run the benchmark suite and print the table",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run every case (activation functions, dot, the toy and the MNIST-shaped networks,\n"
            "the book's one-at-a-time versus batched experiment, and the real MNIST test set\n"
            "when --data or $LOOPVEC_DATA finds it) through every implementation:\n"
            "check each answer against numpy, compile Numba outside the timer, time with\n"
            "pytest-benchmark, then print one table (median per implementation, speedup over\n"
            "pure Python, GFLOP/s and fraction of the machine's measured peak) and write\n"
            "results/<machine>/<UTC timestamp>_<commit>.json.\n\n"
            "The quick profile takes about 1-2 minutes on 2 cores (Numba compiles on the first\n"
            "run; later runs load its cache); full sweeps more sizes and takes 5-10 minutes.\n"
            "Case ids look like forward-mnist-b0100-numpy; --list prints them."),
    )
    p.add_argument("--profile", choices=["quick", "full"], default="quick", help="case sizes (default: quick)")
    p.add_argument("--impl", nargs="+", metavar="NAME", help="implementations to run (default: all available)")
    p.add_argument("--only", action="append", metavar="PATTERN",
                   help="only case ids containing PATTERN (or matching it as a glob, e.g. 'forward-*-numpy'); "
                        "repeatable")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="BLAS and Numba threads for the run (default: the libraries' own default)")
    p.add_argument("--machine", metavar="NAME",
                   help=f"results folder name (default: host and CPU, here {machine.default_machine_name()!r})")
    p.add_argument("--results-dir", default="results", metavar="DIR", help="where results go (default: ./results)")
    p.add_argument("--data", metavar="DIR",
                   help="real MNIST folder for the mnist-real cases (default: $LOOPVEC_DATA; without it "
                        "those cases are skipped, with the reason)")
    p.add_argument("--list", action="store_true", help="print the case ids that would run, and exit")
    p.set_defaults(func=cmd_run)


def short_commit() -> str:
    """The loopvec checkout's commit (with -dirty), or 'nogit' outside a checkout.

    Looks where the code is (an editable install) and then in the current folder
    (`pip install .` run from a clone)."""
    for src in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (src / "bench" / "bench_cases.py").exists() and (src / ".git").exists():
            return _git_commit(src)
    return "nogit"


def _git_commit(src: Path) -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=src, capture_output=True,
                             text=True, timeout=10)
        if rev.returncode != 0:
            return "nogit"
        # "-dirty" when the code that runs differs from the commit (docs and results do not count)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                "impls", "bench", "pyproject.toml"], cwd=src,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "nogit"


@contextlib.contextmanager
def thread_limit(n: int | None) -> Iterator[None]:
    """BLAS (threadpoolctl) and Numba threads set to n for the block."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    try:
        import numba
    except ImportError:
        numba = None  # type: ignore[assignment]
    if numba is not None and n > numba.config.NUMBA_NUM_THREADS:
        raise CLIError(f"--threads {n}: Numba can use at most {numba.config.NUMBA_NUM_THREADS} threads here "
                       f"(NUMBA_NUM_THREADS); expected 1..{numba.config.NUMBA_NUM_THREADS}")
    old = numba.get_num_threads() if numba is not None else None
    with threadpool_limits(limits=n):
        if numba is not None:
            numba.set_num_threads(n)
        try:
            yield
        finally:
            if numba is not None:
                numba.set_num_threads(old)


class RunPlugin:
    """Progress lines while pytest runs, and loopvec's additions to the JSON."""

    def __init__(self, run_info: dict[str, Any], out: Any = sys.stdout) -> None:
        self.info = run_info
        self.out = out
        self.planned = 0
        self.done = 0
        self.skipped: list[dict[str, str]] = []
        self.failed: list[dict[str, str]] = []
        self.interrupted = False
        self.started = time.perf_counter()

    def _line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.planned = len(session.items)
        self._line(f"running {self.planned} cases")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        report = yield
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.done += 1
            name = item.callspec.id if hasattr(item, "callspec") else item.name
            head = f"[{self.done:>3}/{self.planned}] {name:<38}"
            if report.skipped:
                reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
                reason = reason.removeprefix("Skipped: ")
                self.skipped.append({"id": name, "reason": reason})
                self._line(f"{head} skipped: {reason}")
            elif report.failed:
                msg = str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "failed"
                self.failed.append({"id": name, "message": msg})
                self._line(f"{head} FAILED: {msg}")
            else:
                bm = item.funcargs.get("benchmark")  # type: ignore[attr-defined]
                stats = getattr(getattr(bm, "stats", None), "stats", None)
                med = f"{fmt_time(stats.median)} median" if stats else "ok"
                self._line(f"{head} {med}")
        return report

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    def pytest_benchmark_update_json(self, config: pytest.Config, benchmarks: Any, output_json: dict) -> None:
        output_json["machine_info"]["loopvec"] = machine.machine_info()
        for b in output_json.get("benchmarks", []):
            b.get("stats", {}).pop("data", None)  # raw timings: large, and the stats summarise them
            flops = b.get("extra_info", {}).get("flops")
            if flops and b.get("stats", {}).get("median"):
                b["extra_info"]["gflops"] = flops / b["stats"]["median"] / 1e9
        output_json["loopvec"] = self.section(len(output_json.get("benchmarks", [])))

    def section(self, n_timed: int) -> dict[str, Any]:
        complete = not self.interrupted and self.done >= self.planned
        return dict(self.info, format=FORMAT, complete=complete, planned=self.planned, finished=self.done,
                    timed=n_timed, skipped=self.skipped, failed=self.failed,
                    finished_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    seconds=round(time.perf_counter() - self.started, 1))


def _header(names: list[str], machine_name: str, threads: int | None) -> None:
    from bench.machine import blas_info, cpu_model, speed_env

    blas = ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, "
                     f"{b.get('num_threads')} threads)" for b in blas_info() if b.get("user_api") == "blas") or "none found"
    env = speed_env()
    print(f"machine   {machine_name}: {cpu_model()}, {os.cpu_count()} logical cores")
    print(f"BLAS      {blas}")
    print(f"threads   {threads if threads else 'library defaults'}")
    print(f"env       {' '.join(f'{k}={v}' for k, v in env.items()) if env else '(no OPENBLAS_/OMP_/MKL_/NUMBA_ variables set)'}")
    print(f"impls     {', '.join(names)}")


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write to a temporary file beside `path`, then rename: `path` is whole or untouched."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=4))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _remeasure_peak(path: Path, dtypes: list[str]) -> None:
    """Measure the peak again after the cases; keep the higher of the two readings (both recorded)."""
    print("measuring peak again ...", end=" ", flush=True)
    data = json.loads(path.read_text())
    peak = data["loopvec"]["peak_gflops"]
    for d in dtypes:
        again = round(machine.measure_peak(d), 2)
        data["loopvec"].setdefault("peak_gflops_measured", {})[d] = [peak[d], again]
        peak[d] = max(peak[d], again)
    print(", ".join(f"{d} {g:.1f} GFLOP/s" for d, g in peak.items()), flush=True)
    write_json_atomic(path, data)


NUMBA_PROBE = """
import json, sys, time
import numpy as np
import impls
from impls.network import mnist_shaped_network
out = {}
for name in sys.argv[1:]:
    m = impls.get(name)
    p = m.prepare(mnist_shaped_network())
    x = np.zeros((64, 784))  # 64 samples: numba-parallel takes its threaded path
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        m.forward(p, x)
        times.append(time.perf_counter() - t0)
    out[name] = times
print(json.dumps(out))
"""


def numba_startup(names: list[str], threads: int | None) -> dict[str, Any]:
    """First call of each Numba implementation's forward pass in a new process: once
    compiling (empty cache), once loading the cache=True build that run left behind."""
    numba_names = [n for n in names if n.startswith("numba")]
    if not numba_names:
        return {}
    import tempfile

    print("timing Numba's first call: compile, then load from cache in a new process ...", end=" ", flush=True)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        if threads is not None:  # the probe is a new process: --threads must reach it too
            env["NUMBA_NUM_THREADS"] = str(threads)
        runs = []
        for _ in range(2):
            try:
                proc = subprocess.run([sys.executable, "-c", NUMBA_PROBE, *numba_names], env=env,
                                      capture_output=True, text=True, timeout=600)
                if proc.returncode != 0:
                    raise RuntimeError(" ".join(proc.stderr.strip().splitlines()[-1:]))
                runs.append(json.loads(proc.stdout))
            except (subprocess.TimeoutExpired, RuntimeError, ValueError) as exc:
                print(f"failed: {exc}")  # recorded, and the run goes on
                return {n: {"error": str(exc)} for n in numba_names}
    out = {n: {"compile_s": runs[0][n][0], "cached_s": runs[1][n][0], "steady_s": runs[1][n][1]}
           for n in numba_names}
    print("done", flush=True)
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from bench import cases as C

    names = impl_names(args.impl)
    if args.data is not None:
        if not Path(args.data).is_dir():
            raise CLIError(f"--data {args.data}: not a folder")
        os.environ["LOOPVEC_DATA"] = str(Path(args.data).resolve())  # read by the real-MNIST cases
    chosen = C.select(args.profile, names, args.only)
    if not chosen:
        raise CLIError(f"no case matches --only {' '.join(args.only or [])!r} for implementations "
                       f"{', '.join(names)}; `loopvec run --list` shows the case ids")
    if args.list:
        for case, name in chosen:
            print(f"{case.id}-{name}")
        return 0
    machine_name = args.machine or machine.default_machine_name()
    if machine.slug(machine_name) != machine_name:
        raise CLIError(f"--machine {machine_name!r}: expected a folder name of lowercase letters, digits "
                       f"and '-', e.g. {machine.slug(machine_name)!r}")
    results_dir = Path(args.results_dir)
    started = dt.datetime.now(dt.timezone.utc)
    commit = short_commit()  # asks git: once
    final = results_dir / machine_name / f"{started.strftime('%Y%m%dT%H%M%SZ')}_{commit}.json"
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"--results-dir {results_dir}: cannot create {final.parent}: {exc}") from None

    with thread_limit(args.threads):
        _header(names, machine_name, args.threads)
        dtypes = sorted({case.dtype for case, _ in chosen})
        print("measuring peak: large np.dot ...", end=" ", flush=True)
        peak = {d: round(machine.measure_peak(d), 2) for d in dtypes}
        print(", ".join(f"{d} {g:.1f} GFLOP/s" for d, g in peak.items()), flush=True)
        info = {"profile": args.profile, "machine": machine_name, "impls": names, "threads": args.threads,
                "only": args.only or [], "peak_gflops": peak, "command": ["loopvec", *sys.argv[1:]],
                "started_utc": started.isoformat(timespec="seconds"), "commit": commit,
                "numba_startup": numba_startup(names, args.threads)}
        plugin = RunPlugin(info)
        pytest_args = [
            str(BENCH_FILE), "-c", os.devnull, "--rootdir", str(BENCH_FILE.parent), "-p", "no:cacheprovider",
            "-p", "no:terminal", "-p", "no:randomly", "-W", "ignore::pytest.PytestWarning",
            "--benchmark-enable", "--benchmark-disable-gc",
            "--benchmark-min-time=0.00002", "--benchmark-quiet", f"--benchmark-json={tmp}",
            f"--loopvec-profile={args.profile}", *PYTEST_TIMING[args.profile],
            *[f"--loopvec-impl={n}" for n in names], *[f"--loopvec-only={p}" for p in (args.only or [])],
        ]
        code = pytest.main(pytest_args, plugins=[plugin])
        if tmp.exists():
            try:
                json.loads(tmp.read_text())  # whole? (pytest-benchmark writes it in place)
            except ValueError:
                print(f"\nthe benchmark data in {tmp} is not whole JSON (interrupted while it was written); "
                      "kept as it is")
                return 130 if plugin.interrupted else 1
            os.replace(tmp, final)  # atomic: the results file is whole or absent
            if not plugin.interrupted:
                try:
                    _remeasure_peak(final, dtypes)
                except KeyboardInterrupt:
                    print("interrupted: kept the peak measured before the cases")

    if not final.exists():
        if plugin.interrupted:
            print("\ninterrupted before any case was timed: nothing to save")
            return 130
        print("\nno case was timed (all skipped or failed): nothing to save")
        return 1 if plugin.failed else 0
    data = json.loads(final.read_text())
    print()
    print(format_table(data))
    if plugin.interrupted:
        print(f"\ninterrupted: kept {data['loopvec']['timed']} finished cases in {final} (marked incomplete)")
        return 130
    print(f"\nresults: {final}")
    if plugin.failed:
        print(f"{len(plugin.failed)} case(s) gave a wrong answer and were not timed: "
              + ", ".join(f["id"] for f in plugin.failed))
        return 1
    return 0 if code in (pytest.ExitCode.OK,) else 1
