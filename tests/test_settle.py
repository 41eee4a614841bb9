"""settle(): a pass starts only once the process's other threads have stopped running."""
from __future__ import annotations

import sys
import threading
import time

import pytest

from loopvec.bench.measure.noise import Noise
from loopvec.bench.measure.settle import settle

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")


def _spinner(seconds: float) -> threading.Thread:
    """A thread that keeps a core busy for `seconds`, as a thread pool spins after its work."""
    def spin() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            sum(range(200))
    t = threading.Thread(target=spin, daemon=True)
    t.start()
    return t


def test_waits_for_a_spinning_thread_to_stop() -> None:
    t = _spinner(0.3)
    started = time.perf_counter()
    waited, capped = settle(cap_s=5.0)
    alive_after = t.is_alive()
    t.join()
    assert not capped
    assert not alive_after, "settle returned while the other thread was still running"
    assert waited is not None and waited >= 0.3 - (time.perf_counter() - started) - 0.05


def test_gives_up_after_the_cap_and_says_so() -> None:
    t = _spinner(2.0)
    waited, capped = settle(cap_s=0.05)
    still_spinning = t.is_alive()
    t.join()
    assert still_spinning and capped
    assert waited is not None and 0.05 <= waited < 1.5


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
