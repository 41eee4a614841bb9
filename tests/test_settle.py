"""settle(): a pass starts only once the process's other threads have stopped running."""
from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from loopvec.bench.measure import schedule as S
from loopvec.bench.measure import settle as settle_module
from loopvec.bench.measure.noise import Noise
from loopvec.bench.measure.settle import settle

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")


def _spinner(seconds: float) -> threading.Thread:
    """A thread that keeps a core busy for `seconds`, as a thread pool spins after its work."""
    def spin() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            sum(range(200))
    t = threading.Thread(target=spin, daemon=True)
    t.start()
    return t


@linux_only
def test_waits_for_a_spinning_thread_to_stop() -> None:
    t = _spinner(0.3)
    started = time.perf_counter()
    waited, capped = settle(cap_s=5.0)
    alive_after = t.is_alive()
    t.join()
    assert not capped
    assert not alive_after, "settle returned while the other thread was still running"
    assert waited is not None and waited >= 0.3 - (time.perf_counter() - started) - 0.05


@linux_only
def test_gives_up_after_the_cap_and_says_so() -> None:
    t = _spinner(2.0)
    waited, capped = settle(cap_s=0.05)
    still_spinning = t.is_alive()
    t.join()
    assert still_spinning and capped
    assert waited is not None and 0.05 <= waited < 1.5


@linux_only
def test_an_idle_process_starts_at_once() -> None:
    waited, capped = settle(cap_s=5.0)
    assert not capped and waited is not None and waited < 0.5


def test_waits_are_recorded_with_the_noise() -> None:
    n = Noise()
    n.waited(0.12, False)
    n.waited(0.5, True)
    assert (n.settle_s, n.settle_max_s, n.settle_capped) == pytest.approx((0.62, 0.5, 1))
    n.waited(None, False)  # once unknown, the total is unknown
    assert n.settle_s is None


def test_the_noise_summary_shows_the_waits() -> None:
    from loopvec.bench.present.table import noise_lines

    rec = {"widest_pct": 3.0, "steal_pct": 0.0, "other_load_pct": 1.0, "round_spread_pct": 2.0,
           "seconds": 5.0, "passes": 8, "stopped": "precision", "noisy": False}
    waited = {"a": dict(rec, settle_s=1.25, settle_max_ms=118.0, settle_capped=0),
              "b": dict(rec, settle_s=0.5, settle_max_ms=40.0, settle_capped=2)}
    line = noise_lines({"noise": waited})[1]
    assert "waited 1.8 s in all" in line and "longest 118 ms" in line and "still busy after 2 waits" in line
    old = noise_lines({"noise": {"a": rec}})[1]  # a run recorded before the waits existed
    assert "waited" not in old


def test_without_proc_there_is_no_wait_and_the_wait_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settle_module, "_others_running", lambda me: None)  # as off Linux
    started = time.perf_counter()
    assert settle(cap_s=5.0) == (None, False)
    assert time.perf_counter() - started < 0.5
    n = Noise()
    n.waited(*settle(cap_s=5.0))
    assert n.settle_s is None  # recorded as unknown, not as zero


@linux_only
def test_counts_only_running_threads() -> None:
    me = threading.get_native_id()
    settle(cap_s=2.0)  # thread pools of earlier tests may still spin for a moment
    assert settle_module._others_running(me) == 0
    t = _spinner(0.5)
    time.sleep(0.05)
    assert settle_module._others_running(me) >= 1
    t.join()


class _Case:
    id = "case"

    def ratio_pairs(self, entrants: list[str]) -> list[tuple[str, str]]:
        return [("python", "numpy")]


def _noisy_state(sched: S.Schedule) -> S.CaseState:
    st = sched.add(_Case(), ["python", "numpy"])
    rng = np.random.default_rng(3)
    for _ in range(3):  # noisy, unpaired passes: a wide interval, so only the cap can stop the case
        st.passes.setdefault("python", []).append(list(1.0 + rng.uniform(0, 0.5, 3)))
        st.passes.setdefault("numpy", []).append(list(0.1 + rng.uniform(0, 0.05, 3)))
    return st


def test_waits_that_ended_idle_do_not_count_against_the_case_cap() -> None:
    timing = S.Timing(min_passes=3, max_passes=20, pass_s=0.01, round_s=0.001, case_cap_s=5.0, precision=0.02)
    idle = S.Schedule(timing, enabled=True)
    st = _noisy_state(idle)
    st.seconds = 6.0  # past the cap by wall time...
    st.noise.waited(2.0, False)  # ...but 2 s of it was waiting for thread pools that went idle
    assert idle.pass_needed("case", 3)
    busy = S.Schedule(timing, enabled=True)
    st2 = _noisy_state(busy)
    st2.seconds = 6.0
    st2.noise.waited(2.0, True)  # a thread that never idled: that time counts
    assert not busy.pass_needed("case", 3) and "time cap" in st2.reached


def test_the_noise_record_carries_the_waits_and_names_a_busy_thread() -> None:
    from loopvec.bench.measure.runner import noise_record

    timing = S.Timing(min_passes=3, max_passes=20, pass_s=0.01, round_s=0.001, case_cap_s=5.0, precision=0.02)
    st = S.Schedule(timing, enabled=True).add(_Case(), ["python", "numpy"])
    rng = np.random.default_rng(5)
    for _ in range(3):  # passes far apart: an interval wider than ±10%, a noisy case
        st.passes.setdefault("python", []).append(list(1.0 + rng.uniform(0, 1.0, 3)))
        st.passes.setdefault("numpy", []).append(list(0.1 + rng.uniform(0, 0.1, 3)))
    st.noise.waited(0.118, False)
    st.noise.waited(0.5, True)
    rec = noise_record(st)
    assert rec["settle_s"] == pytest.approx(0.618) and rec["settle_max_ms"] == pytest.approx(500.0)
    assert rec["settle_capped"] == 1
    assert rec["noisy"] and rec["reason"] == "other threads still busy after 1 waits"
