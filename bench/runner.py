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

import impls
from bench import machine
from bench.cli import CLIError, _positive_int
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
            "the book's one-at-a-time versus batched experiment) through every implementation:\n"
            "check each answer against numpy, compile Numba outside the timer, time with\n"
            "pytest-benchmark, then print one table (median per implementation, speedup over\n"
            "pure Python, GFLOP/s and fraction of the machine's measured peak) and write\n"
            "results/<machine>/<UTC timestamp>_<commit>.json.\n\n"
            "The quick profile takes 1-3 minutes on 2 cores; full sweeps more sizes."),
    )
    p.add_argument("--profile", choices=["quick", "full"], default="quick", help="case sizes (default: quick)")
    p.add_argument("--impl", nargs="+", metavar="NAME", help="implementations to run (default: all available)")
    p.add_argument("--only", action="append", metavar="PATTERN",
                   help="only case ids containing PATTERN (or matching it as a glob, e.g. 'forward-*-numpy'); "
                        "repeatable")
    p.add_argument("--threads", type=_positive_int, metavar="N",
                   help="BLAS and Numba threads for the run (default: the libraries' own default)")
    p.add_argument("--machine", metavar="NAME",
                   help=f"results folder name (default: host and CPU, here {machine.default_machine_name()!r})")
    p.add_argument("--results-dir", default="results", metavar="DIR", help="where results go (default: ./results)")
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
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=src,
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


def _remeasure_peak(path: Path, dtypes: list[str]) -> None:
    """Measure the peak again after the cases; keep the higher of the two measurements."""
    print("measuring peak again ...", end=" ", flush=True)
    data = json.loads(path.read_text())
    peak = data["loopvec"]["peak_gflops"]
    for d in dtypes:
        again = round(machine.measure_peak(d), 2)
        data["loopvec"].setdefault("peak_gflops_measured", {})[d] = [peak[d], again]
        peak[d] = max(peak[d], again)
    print(", ".join(f"{d} {g:.1f} GFLOP/s" for d, g in peak.items()), flush=True)
    tmp2 = path.with_name(path.name + ".2")
    tmp2.write_text(json.dumps(data, indent=4))
    os.replace(tmp2, path)


def cmd_run(args: argparse.Namespace) -> int:
    from bench import cases as C

    names = args.impl or impls.available()
    for name in names:
        try:
            impls.get(name)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    machine_name = args.machine or machine.default_machine_name()
    if machine.slug(machine_name) != machine_name:
        raise CLIError(f"--machine {machine_name!r}: expected a folder name of lowercase letters, digits "
                       f"and '-', e.g. {machine.slug(machine_name)!r}")
    results_dir = Path(args.results_dir)
    started = dt.datetime.now(dt.timezone.utc)
    final = results_dir / machine_name / f"{started.strftime('%Y%m%dT%H%M%SZ')}_{short_commit()}.json"
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"--results-dir {results_dir}: cannot create {final.parent}: {exc}") from None

    if not C.select(args.profile, names, args.only):
        raise CLIError(f"no case matches --only {' '.join(args.only or [])!r} for implementations "
                       f"{', '.join(names)}; case ids look like 'forward-mnist-b0100-numpy'")
    with thread_limit(args.threads):
        _header(names, machine_name, args.threads)
        dtypes = sorted({c.dtype for c in C.cases(args.profile)})
        print("measuring peak: large np.dot ...", end=" ", flush=True)
        peak = {d: round(machine.measure_peak(d), 2) for d in dtypes}
        print(", ".join(f"{d} {g:.1f} GFLOP/s" for d, g in peak.items()), flush=True)
        info = {"profile": args.profile, "machine": machine_name, "impls": names, "threads": args.threads,
                "only": args.only or [], "peak_gflops": peak, "command": ["loopvec", *sys.argv[1:]],
                "started_utc": started.isoformat(timespec="seconds"), "commit": short_commit()}
        plugin = RunPlugin(info)
        pytest_args = [
            str(BENCH_FILE), "-c", os.devnull, "--rootdir", str(BENCH_FILE.parent), "-p", "no:cacheprovider",
            "-p", "no:terminal", "-p", "no:randomly", "--benchmark-enable", "--benchmark-disable-gc",
            "--benchmark-min-time=0.00002", "--benchmark-quiet", f"--benchmark-json={tmp}",
            f"--loopvec-profile={args.profile}", *PYTEST_TIMING[args.profile],
            *[f"--loopvec-impl={n}" for n in names], *[f"--loopvec-only={p}" for p in (args.only or [])],
        ]
        code = pytest.main(pytest_args, plugins=[plugin])
        if not plugin.interrupted and tmp.exists():
            _remeasure_peak(tmp, dtypes)

    if not tmp.exists():
        print("\nno case was timed: nothing to save" + (" (interrupted)" if plugin.interrupted else ""))
        return 130 if plugin.interrupted else 1
    os.replace(tmp, final)  # atomic: the results file is whole or absent
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
