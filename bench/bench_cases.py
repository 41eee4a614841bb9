"""The benchmarks: every case x every implementation.

Validate (the first call, which is also when Numba compiles: timed separately),
then time with pytest-benchmark. A wrong answer fails the case and is never timed.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

import impls
from bench import cases as C

SLOW_CALL_S = 0.5  # above this, a fixed number of rounds instead of pytest-benchmark's calibration
SLOW_ROUNDS = 3


def test_case(benchmark: Any, case: C.Case, impl_name: str) -> None:
    if impl_name == C.YARDSTICK:
        s, expected = C.setup_yardstick(case)
        problem = None if np.allclose(np.atleast_2d(s.fn(*s.args)), expected, rtol=1e-9, atol=1e-9) else "wrong"
        if problem:
            pytest.fail(f"{case.id}-{impl_name}: wrong answer, not timed", pytrace=False)
        benchmark.group = case.id
        benchmark.extra_info.update(impl=impl_name, workload=case.workload, size=case.size, unit=case.unit,
                                    dtype=case.dtype, flops=case.flops, case=case.id)
        benchmark(s.fn, *s.args)
        return
    impl = impls.get(impl_name)
    if case.workload == "mnist-real":
        reason = C.real_mnist_missing()
        if reason:
            pytest.skip(reason)
    if impl_name == "python" and case.python_estimate_s() > C.PY_CAP_S:
        pytest.skip(f"capped: pure Python would take ~{case.python_estimate_s():.0f} s per call "
                    f"(cap {C.PY_CAP_S:g} s)")
    s = C.setup(case, impl)

    t0 = time.perf_counter()
    out = s.fn(*s.args)  # first call: includes Numba's compile (or cache load)
    first_call_s = time.perf_counter() - t0
    problem = C.check(case, s.to_numpy(out))
    if problem:
        pytest.fail(f"{case.id}-{impl_name}: wrong answer, not timed: {problem}", pytrace=False)

    benchmark.group = case.id
    benchmark.extra_info.update(
        impl=impl_name, workload=case.workload, size=case.size, unit=case.unit, dtype=case.dtype,
        flops=case.flops, first_call_s=first_call_s, case=case.id,
    )
    if first_call_s > SLOW_CALL_S and not benchmark.disabled:
        # The first call may have been slow only because Numba compiled: time a second.
        t0 = time.perf_counter()
        s.fn(*s.args)
        if time.perf_counter() - t0 > SLOW_CALL_S:
            benchmark.pedantic(s.fn, args=s.args, rounds=SLOW_ROUNDS, iterations=1)
            return
    benchmark(s.fn, *s.args)
