"""The benchmark suite for pytest-benchmark: every case x every implementation, in interleaved passes.

    pytest bench --benchmark-enable                  # time everything (loopvec run does this, plus a table)
    pytest bench --benchmark-enable -k forward-mnist # a selection
    pytest                                           # benchmarks disabled: each case runs once, answer checked

Options (--loopvec-profile, --loopvec-impl, --loopvec-only, --loopvec-precision) come
from loopvec.bench.measure.plugin, loaded by bench/conftest.py; `loopvec run`'s workers hand
the plugin its configuration directly.
"""
from __future__ import annotations

from typing import Any

from loopvec.bench.measure.suite import run_pass
from loopvec.bench.measure.workloads import Workload


def test_case(benchmark: Any, loopvec_schedule: Any, case: Workload, entrant: str, pass_no: int) -> None:
    run_pass(loopvec_schedule, benchmark, case, entrant, pass_no)
