"""Memory of one call: NumPy, pure Python and Numba allocations are seen, in-place and fused work is not."""
from __future__ import annotations

import importlib.util
import json
import tracemalloc
from typing import Any

import numba
import numpy as np
import pytest

from loopvec.bench.measure.memory import NOT_MEASURED, measure_call, nrt_visible_to_tracemalloc

N = 100_000
KIB = 1024


@numba.njit(cache=False)
def fused_double(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.shape[0]):
        out[i] = 2.0 * x[i]


@numba.njit(cache=False)
def allocating_sum(n):  # type: ignore[no-untyped-def]
    a = np.empty(n)
    a[:] = 1.0
    return a.sum()


def test_numpy_allocating_its_result_is_seen() -> None:
    x = np.ones(N)  # (N,) float64
    m = measure_call("numpy", lambda v: v * 2.0, (x,))
    json.dumps(m)
    assert m["method"] == "tracemalloc"
    assert m["peak_bytes"] >= 8 * N and m["retained_bytes"] >= 8 * N  # the result is kept
    assert m["peak_bytes"] >= m["retained_bytes"] and m["retained_blocks"] >= 1
    assert m["allocations"] is None


def test_numpy_in_place_is_about_zero() -> None:
    x = np.ones(N)
    m = measure_call("numpy", lambda v: np.multiply(v, 2.0, out=v), (x,))
    assert m["peak_bytes"] < KIB


def test_numpy_temporaries_count_in_the_peak_but_not_in_what_is_kept() -> None:
    x = np.ones(N)
    m = measure_call("numpy", lambda v: float(((v + 1.0) * 3.0).sum()), (x,))
    assert m["peak_bytes"] >= 8 * N and m["retained_bytes"] < KIB


def test_pure_python_lists_are_seen() -> None:
    m = measure_call("python", lambda n: [float(i) for i in range(n)], (1000,))
    assert m["peak_bytes"] > 0 and m["retained_blocks"] > 0


def test_a_fused_numba_loop_into_a_preallocated_output_allocates_nothing() -> None:
    x, out = np.ones(N), np.empty(N)
    m = measure_call("numba", fused_double, (x, out))
    assert m["method"] == "tracemalloc+nrt"
    assert m["peak_bytes"] < KIB
    # no data allocated; Numba's NRT counts one data-less MemInfo record per array handed in
    assert m["allocations"] is not None and m["allocations"] <= 2


def test_a_numba_function_allocating_inside_is_seen() -> None:
    m = measure_call("numba-tuned", allocating_sum, (N,))
    assert m["allocations"] >= 1
    if nrt_visible_to_tracemalloc():  # Numba allocates through PyMem_RawMalloc: bytes are seen too
        assert m["peak_bytes"] >= 8 * N and m["retained_bytes"] < KIB


def test_nrt_statistics_are_switched_back_off() -> None:
    from numba.core.runtime import _nrt_python

    was = _nrt_python.memsys_stats_enabled()
    measure_call("numba", allocating_sum, (10,))
    assert _nrt_python.memsys_stats_enabled() == was


def test_a_tracemalloc_already_running_is_left_running() -> None:
    tracemalloc.start()
    try:
        keep = np.ones(N)  # allocated before the call: not counted
        m = measure_call("numpy", lambda v: v + 1.0, (keep,))
        assert tracemalloc.is_tracing()
        assert m["peak_bytes"] >= 8 * N and m["retained_blocks"] >= 1
    finally:
        tracemalloc.stop()
    assert measure_call("numpy", lambda: None, ())["method"] == "tracemalloc" and not tracemalloc.is_tracing()


def test_a_failing_measurement_says_so() -> None:
    calls: list[int] = []

    def fails_the_second_time() -> None:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("boom")

    m = measure_call("numpy", fails_the_second_time, ())
    assert m["method"] == NOT_MEASURED and m["peak_bytes"] is None and "boom" in m["note"]


@pytest.mark.slow  # the profiler's first start in a process takes seconds
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_torch_allocations_are_seen_by_the_profiler() -> None:
    import torch

    x = torch.ones(N, dtype=torch.float64)

    def two_temporaries(v: Any) -> Any:
        return (v * 2.0 + 1.0).sum()

    m = measure_call("torch", two_temporaries, (x,))
    assert m["method"] == "torch-profiler", m["note"]
    assert m["peak_bytes"] >= 8 * N and m["allocations"] >= 2
