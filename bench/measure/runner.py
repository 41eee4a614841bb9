"""Run the benchmark suite through pytest-benchmark and build the results (pytest-benchmark JSON).

The results are pytest-benchmark's JSON layout (so `pytest-benchmark compare` reads
them): one benchmark per (case, entrant), whose stats are pytest-benchmark's own
statistics over every round of every pass, with the raw round times and their
passes, plus loopvec's additions: extra_info["estimate"] (the per-call time ratios
are computed from), the speedup over pure Python and the ratio to numpy with 95%
intervals, machine_info["loopvec"] and a top-level "loopvec" section (profile,
completeness, skipped and failed cases, peak, noise per case).
"""
from __future__ import annotations

import contextlib
import functools
import datetime as dt
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from loopvec import impls
from loopvec.bench.measure import fit, machine, stats, traffic
from loopvec.bench.measure.workloads import Workload
from loopvec.bench.measure import schedule as S
from loopvec.bench.core import REFERENCE, YARDSTICK, fit_x
from loopvec.bench.store.model import (NUMPY_OVER_MATMULS, OVER_TORCH, benchmark_entry, interval_key,
                                       loopvec_section, results_document)  # the format written and its keys

SUITE_FILE = Path(__file__).resolve().parent.parent / "bench_suite.py"
NOISY_PCT = 10.0  # a case whose widest ratio interval is wider than ±10% is marked noisy

Say = Callable[[str], None]


@contextlib.contextmanager
def thread_limit(n: int | None, names: list[str]) -> Iterator[None]:
    """BLAS threads (threadpoolctl) set to n for the block, and Numba's and torch's own thread pools
    when those implementations run (threadpoolctl does not reach torch's intra-op pool)."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    restore = []
    if any(m.startswith("numba") for m in names):
        import numba

        restore.append((numba.set_num_threads, numba.get_num_threads()))
        numba.set_num_threads(n)
    if "torch" in names:
        import torch

        restore.append((torch.set_num_threads, torch.get_num_threads()))
        torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        for setter, old in restore:
            setter(old)


@dataclass
class Progress:
    """pytest plugin: a line per finished case, and who was skipped or failed."""

    say: Say
    on_case: Callable[[S.CaseState], None] | None = None  # a worker hands each finished case on
    sched: S.Schedule | None = None  # the suite plugin's, given by whoever runs the session
    planned: int = 0
    finished: int = 0
    current: str | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    interrupted: bool = False

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        assert self.sched is not None
        self.planned = len(self.sched.cases)
        n = sum(len(st.entrants) for st in self.sched.cases.values())
        self.say(f"running {self.planned} cases ({n} timings), in interleaved passes")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        case_id = item.callspec.params["case"].id if hasattr(item, "callspec") else None
        if case_id != self.current:
            self._finish_current()
            self.current = case_id

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.interrupted:
            self._finish_current()

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        report = yield
        name = item.callspec.id if hasattr(item, "callspec") else item.name
        name = name.split("-pass", 1)[0]
        if report.skipped and report.when in ("setup", "call"):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            self.skipped.append({"id": name, "reason": reason.removeprefix("Skipped: ")})
        elif report.failed and report.when == "call":
            msg = str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "failed"
            self.failed.append({"id": name, "message": msg})
        return report

    def _finish_current(self) -> None:
        if self.current is None or self.sched is None:
            return
        st = self.sched.cases[self.current]
        st.seconds = time.perf_counter() - st.started if st.started else 0.0
        st.done = True
        self.finished += 1
        if self.on_case is not None and st.timed():
            self.on_case(st)
        self.say(case_line(self.finished, self.planned, st))
        self.current = None


def case_line(i: int, n: int, st: S.CaseState) -> str:
    from loopvec.bench.core import fmt_ratio, fmt_time, pm

    head = f"[{i:>3}/{n}] {st.case.id:<26}"
    timed = st.timed()
    if not timed:
        return f"{head} not timed: " + "; ".join(sorted(set(st.excluded.values())))[:160]
    passes = max(len(st.passes[e]) for e in timed)
    bits = []
    ivs = st.intervals(st.case.id)
    for e in timed:
        sp = ivs.get(("python", e))
        bits.append(f"{e} {fmt_time(st.estimate(e))}"
                    + (f" x{fmt_ratio(sp.value)} {pm(sp)}" if sp else ""))
    return f"{head} {passes} passes, {st.seconds:.1f} s: " + ", ".join(bits)


def noise_record(st: S.CaseState) -> dict[str, Any]:
    """Per case: CPU steal and other load while it ran, how its rounds scattered, and
    whether its widest interval makes it noisy (with the reason when one is known)."""
    widest = st.widest(st.case.id)
    spread = max((stats.round_spread(st.passes[e]) for e in st.timed()), default=0.0)
    ivs = list(st.intervals(st.case.id).values())
    between = max((iv.between for iv in ivs if iv.between is not None), default=None)
    within = max((iv.within for iv in ivs if iv.within is not None), default=None)
    workers = len({w for e in st.timed() for w in (st.workers_of(e) or [0])})
    steal, other = st.noise.steal_pct(), st.noise.other_load_pct()
    rec: dict[str, Any] = {
        "widest_pct": None if widest == float("inf") else round(100 * widest, 2),
        "steal_pct": None if steal is None else round(steal, 2),
        "other_load_pct": None if other is None else round(other, 2),
        "round_spread_pct": round(100 * spread, 2), "seconds": round(st.seconds, 2),
        "settle_s": None if st.noise.settle_s is None else round(st.noise.settle_s, 3),
        "settle_max_ms": round(1e3 * st.noise.settle_max_s, 1), "settle_capped": st.noise.settle_capped,
        "passes": max((len(st.passes[e]) for e in st.timed()), default=0), "stopped": st.reached or "max passes",
        "workers": workers,  # the between-process part: how far the workers' own ratios lie apart (max/min - 1)
        "process_spread_pct": None if between is None else round(100 * between, 2),
        "within_pct": None if within is None else round(100 * within, 2),  # one worker's own interval, typical
    }
    noisy = rec["widest_pct"] is not None and rec["widest_pct"] > NOISY_PCT
    rec["noisy"] = noisy
    if noisy:
        rec["reason"] = (f"steal {steal:.0f}%" if steal is not None and steal >= 5 else
                         f"other load {other:.0f}%" if other is not None and other >= 20 else
                         f"other threads still busy after {st.noise.settle_capped} waits" if st.noise.settle_capped else
                         f"process spread {100 * between:.0f}%" if between is not None and between >= 0.05 else
                         f"rounds scatter {100 * spread:.0f}%" if spread >= 0.1 else "the ratio varied from pass to pass")
    return rec


@functools.lru_cache(maxsize=None)
def code_hash(name: str) -> str:
    return impls.source_hash(name)


def benchmark_entries(sched: S.Schedule) -> list[dict[str, Any]]:
    """One pytest-benchmark entry per (case, entrant) of every finished case."""
    out = []
    for case_id, st in sched.cases.items():
        if not st.done:
            continue
        ivs = st.intervals(case_id)
        for e in st.timed():
            ready, passes, workers = st.ready[e], st.passes[e], st.workers_of(e)
            est = st.estimate(e)
            extra: dict[str, Any] = dict(st.case.info(), impl=e, first_call_s=ready.first_call_s,
                                         iterations=ready.iterations, estimate=est, passes=len(passes),
                                         pass_rounds=[len(p) for p in passes])
            if workers is not None:  # which worker process timed each pass, and each worker's own estimate
                extra["pass_workers"] = list(workers)
                extra["worker_estimates"] = {str(w): v for w, v in stats.worker_estimates(passes, workers).items()}
            explained = extra.get("explained")
            if e in impls.REGISTRY or explained in impls.REGISTRY:
                extra["code"] = code_hash(e if e in impls.REGISTRY else explained)
            flops = extra.get("flops")
            if flops:
                extra["gflops"] = flops / est / 1e9
            if isinstance(st.case, Workload):  # the least it must move: inputs read once, outputs written once
                extra["bytes"] = traffic.min_bytes(st.case)
                extra["gbps"] = extra["bytes"] / est / 1e9
                extra["intensity"] = traffic.intensity(st.case)
            if ready.memory is not None:
                extra["memory"] = ready.memory
            if getattr(st.case, "unit", None) == "batch" and REFERENCE in st.timed() and e not in (REFERENCE, YARDSTICK):
                # this entrant's time over torch's, the library a user would pick instead (table, README)
                iv = stats.ratio(passes, st.passes[REFERENCE], key=f"{case_id}:{e}/{REFERENCE}", num_workers=workers,
                                 den_workers=st.workers_of(REFERENCE)) if len(passes) > 1 else None
                if iv is not None:
                    extra[OVER_TORCH] = iv.as_dict()
            for (num, den), iv in ivs.items():  # how many times faster than pure Python / numpy; a stage's share
                key = interval_key(num, den, e)
                if key is not None:
                    extra[key] = iv.as_dict()
            if NUMPY_OVER_MATMULS in extra:  # last, where the files written before the model have it
                extra[NUMPY_OVER_MATMULS] = extra.pop(NUMPY_OVER_MATMULS)
            out.append(benchmark_entry(case_id, e, extra, stats.merged_stats(passes, ready.iterations), len(passes)))
    return out


def run_fits(done: list[S.CaseState]) -> dict[str, Any]:
    """time = a + b*n per implementation over each workload's sizes (fit.py), stored with the run so
    that every reader shows the same fits without bootstrapping them again."""
    sweeps: dict[str, dict[str, fit.Sweep]] = {}
    for st in done:
        if not isinstance(st.case, Workload):
            continue
        for e in st.timed():
            sweeps.setdefault(st.case.name, {}).setdefault(e, []).append(
                (fit_x(st.case.name, st.case.size)[0], st.estimate(e), stats.pass_minima(st.passes[e]).tolist()))
    return fit.sweep_fits(sweeps)


def results(sched: S.Schedule, progress: Progress, info: dict[str, Any]) -> dict[str, Any] | None:
    """The results JSON of the finished cases, or None when no case was timed."""
    from pytest_benchmark import __version__ as pb_version
    from pytest_benchmark.plugin import pytest_benchmark_generate_machine_info
    from pytest_benchmark.utils import get_commit_info

    entries = benchmark_entries(sched)
    if not entries:
        return None
    done = [st for st in sched.cases.values() if st.done]
    mi = pytest_benchmark_generate_machine_info()
    mi["loopvec"] = machine.machine_info()
    complete = not progress.interrupted and len(done) == len(sched.cases)
    lv = loopvec_section(info, complete=complete, planned=len(sched.cases), finished=len(done),
              timed=len(entries), skipped=progress.skipped, failed=progress.failed,
              finished_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              estimator={"per_pass": "min", "quantile": stats.ESTIMATOR_QUANTILE, "across_workers": "pooled",
                         "interval": f"{100 * stats.CONFIDENCE:g}% two-level bootstrap (worker processes, then "
                                     f"their passes, paired), {stats.BOOTSTRAP_RESAMPLES} resamples, widened by "
                                     f"t/z*sqrt(W/(W-1)) for W workers"},
              timing=dict(sched.timing.__dict__),
              noise={st.case.id: noise_record(st) for st in done}, fits=run_fits(done))
    return results_document(mi, get_commit_info(), entries, dt.datetime.now(dt.timezone.utc).isoformat(),
                            pb_version, lv)


def pytest_args(storage: str) -> list[str]:
    """The pytest command line of one worker process (what to run comes with its SuitePlugin)."""
    args = [
        str(SUITE_FILE), "-c", os.devnull, "--rootdir", str(SUITE_FILE.parent), "--noconftest",
        "--import-mode=importlib", "--assert=plain", "-p", "no:cacheprovider", "-p", "no:terminal",
        "-p", "no:randomly", "-p", "no:xdist", "-W", "ignore::pytest.PytestWarning",
        "--benchmark-enable", "--benchmark-disable-gc", "--benchmark-quiet", f"--benchmark-storage=file://{storage}",
    ]
    return args


_HELD: dict[int, Any] = {}


def hold_signals() -> None:
    """Ignore SIGINT, SIGTERM and SIGHUP (a second Ctrl-C must not cost the finished cases)."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and sig not in _HELD:
            _HELD[sig] = signal.signal(sig, signal.SIG_IGN)


def restore_signals() -> None:
    while _HELD:
        sig, handler = _HELD.popitem()
        signal.signal(sig, handler)
