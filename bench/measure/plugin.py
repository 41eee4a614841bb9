"""The pytest plugin of the benchmark suite: interleaved parametrization and pass skipping.

One object, `SuitePlugin(cfg)`, carries the run's configuration (a RunConfig) and its
schedule: a worker process hands it to `pytest.main(plugins=[...])`, no command-line
round trip and no module-global state. `pytest bench` gets one too: bench/conftest.py
calls `pytest_addoption` and `register_from_options` below. With benchmarks disabled
(plain `pytest`) each entrant of each case runs once, to check its answer. With
benchmarks enabled, the items are (case, entrant, pass) in rotated order, and passes a
case no longer needs are not run at all (see schedule.py).
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from loopvec import impls
from loopvec.bench.measure import schedule as S
from loopvec.bench.measure import workloads as W
from loopvec.bench.measure.config import RunConfig


def select_cases(profile: str, names: list[str], only: list[str], explain: str | None = None,
                 batches: list[int] | None = None, aa: bool = False) -> list[tuple[Any, list[str]]]:
    """(case, its entrants) in run order: what the workers time and the parent merges."""
    names = list(dict.fromkeys(names)) or impls.available()
    if explain:
        from loopvec.bench.measure import stages

        return stages.select(explain, list(batches or [1]), names)
    chosen = W.select(profile, names, only)
    if aa:
        from loopvec.bench.measure.aa import twins

        return twins(chosen)
    return chosen


def timing_for(cfg: RunConfig, processes: int) -> S.Timing:
    """The profile's timing, with --precision (more passes and time to reach it), shared by the workers."""
    timing = S.TIMINGS[cfg.profile]
    if cfg.precision is not None:
        timing = S.Timing(**{**timing.__dict__, "precision": cfg.precision / 100.0,
                             "case_cap_s": timing.case_cap_s * 4, "max_passes": timing.max_passes * 2})
    return timing.share(max(1, processes))


def benchmarks_enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_enable", False) or not config.getoption("benchmark_disable", False))


def _params(item: pytest.Item) -> dict[str, Any] | None:
    spec = getattr(item, "callspec", None)
    return spec.params if spec is not None and "pass_no" in spec.params else None


class SuitePlugin:
    """The suite's hooks and its schedule, for one pytest session."""

    def __init__(self, cfg: RunConfig, processes: int = 1) -> None:
        self.cfg = cfg
        self.processes = processes
        self.sched = S.Schedule(timing_for(cfg, processes), enabled=True)

    def pytest_configure(self, config: pytest.Config) -> None:
        self.sched.enabled = benchmarks_enabled(config)

    @pytest.fixture
    def loopvec_schedule(self) -> S.Schedule:
        return self.sched

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "pass_no" not in metafunc.fixturenames:
            return
        cfg = self.cfg
        params = []
        for case, entrants in select_cases(cfg.profile, list(cfg.impls), list(cfg.only), cfg.explain,
                                           list(cfg.batches), cfg.aa):
            self.sched.add(case, entrants)
            passes = self.sched.passes_planned()
            for k in range(passes):
                for e in S.rotated(entrants, k):
                    suffix = f"-pass{k:02d}" if passes > 1 else ""
                    # plain pytest checks each case's answer; the book's 10 000-sample loop is slow work for that
                    slow = [pytest.mark.slow] if not self.sched.enabled and getattr(case, "kind", "") == "batches" else []
                    params.append(pytest.param(case, e, k, id=f"{case.id}-{e}{suffix}", marks=slow))
        metafunc.parametrize(("case", "entrant", "pass_no"), params)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
        """Run pass 0 always; a later pass only while the schedule says the case needs it."""
        p = _params(item)
        if p is None:
            return None
        st = self.sched.cases[p["case"].id]
        if not st.started:
            st.started = time.perf_counter()
        st.seconds = time.perf_counter() - st.started
        if p["pass_no"] == 0:
            return None
        if p["entrant"] in st.excluded or not self.sched.pass_needed(p["case"].id, p["pass_no"]):
            return True  # handled: this pass is not needed, nothing to report
        return None


# ---- `pytest bench`: options on the command line, read once into a RunConfig ----

def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("loopvec")
    g.addoption("--loopvec-profile", default="quick", choices=sorted(W.PROFILES), help="case sizes (default quick)")
    g.addoption("--loopvec-impl", action="append", default=[], help="implementation to run (repeatable; default all)")
    g.addoption("--loopvec-only", action="append", default=[],
                help="run only case ids matching this substring or glob (repeatable)")
    g.addoption("--loopvec-explain", default=None, choices=["toy", "mnist"],
                help="time the stages of the forward pass of this network instead of the workloads")
    g.addoption("--loopvec-batch", action="append", type=int, default=[], help="explain: batch size (repeatable)")
    g.addoption("--loopvec-precision", type=float, default=None, metavar="PCT",
                help="add passes to a case until its ratio intervals are within ±PCT%% or its time cap")


def register_from_options(config: pytest.Config) -> None:
    """`pytest bench`: one SuitePlugin from the command line's --loopvec-* options."""
    cfg = RunConfig(profile=config.getoption("--loopvec-profile"), impls=tuple(config.getoption("--loopvec-impl")),
                    only=tuple(config.getoption("--loopvec-only")), precision=config.getoption("--loopvec-precision"),
                    explain=config.getoption("--loopvec-explain"), batches=tuple(config.getoption("--loopvec-batch")))
    plugin = SuitePlugin(cfg)
    config.pluginmanager.register(plugin, "loopvec-suite")
    plugin.pytest_configure(config)
