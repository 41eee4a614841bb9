"""The benchmark test: one pass of one entrant of one case, timed by pytest-benchmark.

Pass 0 of an entrant first validates (the first call, which is when Numba compiles
or loads its cache: timed separately as first_call_s), then calibrates; a wrong
answer fails the test and is never timed. Every pass waits for the process's other
threads to go idle (settle.py: the previous entrant's thread pools), then runs
benchmark.pedantic(rounds, iterations) and hands the rounds to the schedule.
"""
from __future__ import annotations

from typing import Any

import pytest

from loopvec.bench.measure import schedule as S
from loopvec.bench.measure.settle import settle


def prepare(sched: S.Schedule, st: S.CaseState, case: Any, entrant: str) -> S.Ready:
    reason = case.skip_reason(entrant)
    if reason:
        st.excluded[entrant] = reason
        pytest.skip(reason)
    try:
        setup, check = case.setup(entrant)
        out, first_call_s = S.timed_call(setup.fn, setup.args)  # Numba compiles (or loads its cache) here
        problem = check(setup.to_numpy(out))
    except Exception as exc:
        problem = f"raised {type(exc).__name__}: {' '.join(str(exc).split())}"
    if problem:
        st.excluded[entrant] = f"wrong answer, not timed: {problem}"
        pytest.fail(f"{case.id}-{entrant}: wrong answer, not timed: {problem}", pytrace=False)
    mem = None
    if sched.enabled and sched.measure_memory:  # validated, not yet timed: tracemalloc never runs under the timer
        from loopvec.bench.measure.memory import measure_call

        try:
            mem = measure_call(entrant, setup.fn, setup.args, warmup=False)  # it has just run: validated
        except Exception as exc:  # a measurement that fails costs its record, never the timing
            mem = {"peak_bytes": None, "allocations": None, "method": "not measured",
                   "note": f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"}
    if sched.enabled:
        st.noise.waited(*settle())  # the first call may have left a thread pool spinning
    iterations, rounds = sched.calibrate(setup) if sched.enabled else (1, 1)
    ready = st.ready[entrant] = S.Ready(setup, first_call_s, iterations, rounds, mem)
    return ready


def run_pass(sched: S.Schedule, benchmark: Any, case: Any, entrant: str, k: int) -> None:
    """One pass of `entrant` in `case` (a Workload, or any case with id, entrants, setup,
    skip_reason, ratio_pairs and info, such as explain's stage cases)."""
    st = sched.cases[case.id]
    if entrant in st.excluded:
        pytest.skip(st.excluded[entrant])
    ready = st.ready.get(entrant) or prepare(sched, st, case, entrant)
    assert ready.setup is not None
    benchmark.group = case.id
    benchmark.extra_info.update(case.info(), impl=entrant, first_call_s=ready.first_call_s,
                                iterations=ready.iterations)
    if sched.enabled:
        st.noise.waited(*settle())  # the previous entrant's thread pools stop spinning first
    st.noise.start()
    try:
        benchmark.pedantic(ready.setup.fn, args=ready.setup.args, rounds=ready.rounds,
                           iterations=ready.iterations, warmup_rounds=0)
    finally:
        st.noise.stop()
    if sched.enabled and benchmark.stats is not None:
        rounds = list(benchmark.stats.stats.data)  # per-call seconds of each round of this pass
        if rounds:
            st.passes.setdefault(entrant, []).append(rounds)
