"""The pytest plugin of the benchmark suite: options, interleaved parametrization, pass skipping.

Used two ways: `loopvec run` registers this module with pytest.main; `pytest bench`
finds it through bench/conftest.py. With benchmarks disabled (plain `pytest`, as in
CI) each entrant of each case runs once, to check its answer. With benchmarks
enabled, the items are (case, entrant, pass) in rotated order, and passes a case no
longer needs are not run at all (see schedule.py).
"""
from __future__ import annotations

import time
from typing import Any

import pytest

from loopvec import impls
from loopvec.bench.measure import schedule as S
from loopvec.bench.measure import workloads as W


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
    g.addoption("--loopvec-processes", type=int, default=1, metavar="N",
                help="this process is one of N workers: it takes 1/N of each case's passes and time cap")
    g.addoption("--loopvec-aa", action="store_true", default=False,
                help="A/A: time each implementation against itself as two arms (loopvec calibrate)")


def benchmarks_enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_enable", False) or not config.getoption("benchmark_disable", False))


def pytest_configure(config: pytest.Config) -> None:
    timing = S.TIMINGS[config.getoption("--loopvec-profile")]
    pct = config.getoption("--loopvec-precision")
    if pct is not None:
        timing = S.Timing(**{**timing.__dict__, "precision": pct / 100.0,
                             "case_cap_s": timing.case_cap_s * 4, "max_passes": timing.max_passes * 2})
    timing = timing.share(max(1, config.getoption("--loopvec-processes") or 1))
    S.SCHEDULE.append(S.Schedule(timing, benchmarks_enabled(config)))


def pytest_unconfigure(config: pytest.Config) -> None:
    if S.SCHEDULE:
        S.SCHEDULE.pop()


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


def selected(config: pytest.Config) -> list[tuple[Any, list[str]]]:
    return select_cases(config.getoption("--loopvec-profile"), config.getoption("--loopvec-impl"),
                        config.getoption("--loopvec-only"), config.getoption("--loopvec-explain"),
                        config.getoption("--loopvec-batch"), config.getoption("--loopvec-aa"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pass_no" not in metafunc.fixturenames:
        return
    sched = S.current()
    params = []
    for case, entrants in selected(metafunc.config):
        sched.add(case, entrants)
        passes = sched.passes_planned()
        for k in range(passes):
            for e in S.rotated(entrants, k):
                suffix = f"-pass{k:02d}" if passes > 1 else ""
                params.append(pytest.param(case, e, k, id=f"{case.id}-{e}{suffix}"))
    metafunc.parametrize(("case", "entrant", "pass_no"), params)


def _params(item: pytest.Item) -> dict[str, Any] | None:
    spec = getattr(item, "callspec", None)
    return spec.params if spec is not None and "pass_no" in spec.params else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Run pass 0 always; a later pass only while the schedule says the case needs it."""
    p = _params(item)
    if p is None:
        return None
    sched = S.current()
    st = sched.cases[p["case"].id]
    if not st.started:
        st.started = time.perf_counter()
    st.seconds = time.perf_counter() - st.started
    if p["pass_no"] == 0:
        return None
    if p["entrant"] in st.excluded or not sched.pass_needed(p["case"].id, p["pass_no"]):
        return True  # handled: this pass is not needed, nothing to report
    return None
