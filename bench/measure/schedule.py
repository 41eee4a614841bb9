"""Interleaved passes: the order entrants are timed in, how long, and when a case has enough.

A case with entrants A, B, C is timed in passes, rotated so no entrant always goes
first: pass 0 is A B C, pass 1 is B C A, pass 2 is C A B, ... Each entrant's pass is
a few rounds of a calibrated number of calls (one call per pass when a call takes
SLOW_CALL_S or more). After `min_passes`, a further pass runs only while the widest
95% interval of the case's ratios is wider than ±precision and the case has used
less than its time cap: the time goes where the intervals are widest.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from loopvec.bench.measure import stats
from loopvec.bench.measure.noise import Noise
from loopvec.bench.measure.workloads import Setup

SLOW_CALL_S = 0.1  # from this per-call time on, rounds are single calls, one per pass


@dataclass(frozen=True)
class Timing:
    min_passes: int
    max_passes: int
    pass_s: float  # time of one entrant's pass
    round_s: float  # target time of one round (calls are repeated to fill it)
    case_cap_s: float  # no further passes once a case has taken this long
    precision: float  # target half-width of the case's widest ratio interval (0.02 = ±2%)

    def share(self, n: int) -> "Timing":
        """One of n worker processes' share: 1/n of the passes and of the time cap (at least 2
        passes, to see the process's own spread), the precision target loosened by sqrt(n)
        (the n workers' means average out)."""
        if n <= 1:
            return self
        lo = max(2, -(-self.min_passes // n))
        return Timing(min_passes=lo, max_passes=max(lo, -(-self.max_passes // n)), pass_s=self.pass_s,
                      round_s=self.round_s, case_cap_s=self.case_cap_s / n, precision=self.precision * n ** 0.5)


TIMINGS = {
    "quick": Timing(min_passes=6, max_passes=24, pass_s=0.03, round_s=0.001, case_cap_s=3.0, precision=0.02),
    "full": Timing(min_passes=8, max_passes=32, pass_s=0.06, round_s=0.001, case_cap_s=8.0, precision=0.02),
}


def rotated(entrants: list[str], k: int) -> list[str]:
    """The order of pass k: the entrants rotated by k places."""
    if not entrants:
        return []
    s = k % len(entrants)
    return entrants[s:] + entrants[:s]


@dataclass
class Ready:
    """An entrant validated, warmed up and calibrated: what each of its passes runs."""

    setup: Setup | None  # None in the parent, which merges what its workers timed
    first_call_s: float
    iterations: int
    rounds: int
    memory: dict[str, Any] | None = None  # one call's extra memory (memory.measure_call), outside the timer


@dataclass
class CaseState:
    case: Any  # the Workload (or another case type with .id and .info())
    entrants: list[str]
    passes: dict[str, list[list[float]]] = field(default_factory=dict)  # entrant -> per-pass rounds
    workers: dict[str, list[int]] = field(default_factory=dict)  # entrant -> worker process of each pass
    first_calls: dict[str, list[float]] = field(default_factory=dict)  # entrant -> each worker's first call
    excluded: dict[str, str] = field(default_factory=dict)  # entrant -> why it is not timed
    ready: dict[str, Ready] = field(default_factory=dict)
    decisions: dict[int, bool] = field(default_factory=dict)
    started: float = 0.0  # perf_counter() at its first item
    seconds: float = 0.0  # wall time since then, when the last pass was decided
    noise: Noise = field(default_factory=Noise)
    reached: str = ""  # why the passes stopped
    done: bool = False  # every pass it needed has run
    _intervals: Any = field(default=None, repr=False)  # (state of the passes, intervals) last computed

    def timed(self) -> list[str]:
        return [e for e in self.entrants if self.passes.get(e)]

    def intervals(self, key: str) -> dict[tuple[str, str], stats.Interval]:
        """The case's ratio intervals; bootstrapped once per state of its passes (the progress line,
        the noise record and the results all ask for the same ones)."""
        timed = self.timed()
        state = (key, tuple((e, len(self.passes[e])) for e in timed))
        if self._intervals is None or self._intervals[0] != state:
            out = {}
            for num, den in self.case.ratio_pairs(timed):
                iv = stats.ratio(self.passes[num], self.passes[den], key=f"{key}:{num}/{den}",
                                 num_workers=self.workers_of(num), den_workers=self.workers_of(den))
                if iv is not None:
                    out[(num, den)] = iv
            self._intervals = (state, out)
        return dict(self._intervals[1])

    def workers_of(self, entrant: str) -> list[int] | None:
        ws = self.workers.get(entrant)
        return ws if ws is not None and len(ws) == len(self.passes.get(entrant, ())) else None

    def estimate(self, entrant: str) -> float:
        return stats.estimate(self.passes[entrant], self.workers_of(entrant))

    def widest(self, key: str, boot: bool = False) -> float:
        """The widest ratio interval of the case (as ± fraction); boot=True: its bootstrap part
        alone, which is what more passes can shrink."""
        ivs = self.intervals(key)
        if ivs:
            return max(iv.boot_half_width if boot else iv.half_width for iv in ivs.values())
        timed = self.timed()
        if len(timed) == 1:
            iv = stats.estimate_interval(self.passes[timed[0]], key, self.workers_of(timed[0]))
            return iv.half_width if iv else float("inf")
        return float("inf")


class Schedule:
    """The state of one benchmark session, shared by the pytest plugin and the test."""

    def __init__(self, timing: Timing, enabled: bool) -> None:  # held by the pytest plugin, SuitePlugin
        self.timing = timing
        self.enabled = enabled
        self.measure_memory = False  # one worker per run measures memory per call (it is the same in every one)
        self.cases: dict[str, CaseState] = {}

    def passes_planned(self) -> int:
        return self.timing.max_passes if self.enabled else 1

    def add(self, case: Any, entrants: list[str]) -> CaseState:
        return self.cases.setdefault(case.id, CaseState(case, list(entrants)))

    def pass_needed(self, case_id: str, k: int) -> bool:
        """Whether pass k of a case runs (decided once, at its first entrant)."""
        st = self.cases.get(case_id)
        if st is None or k == 0:
            return True
        if k not in st.decisions:
            if len(st.timed()) == 0:
                st.decisions[k] = False
            elif k < self.timing.min_passes:
                st.decisions[k] = True
            elif st.seconds - st.noise.settle_idle_s >= self.timing.case_cap_s:
                # waits for spinning thread pools that did go idle do not cost the case its
                # passes; a wait that ran out (a thread that never idles) does count
                st.decisions[k] = False
                st.reached = st.reached or f"time cap {self.timing.case_cap_s:g} s"
            elif st.widest(case_id, boot=True) <= self.timing.precision:
                st.decisions[k] = False
                st.reached = st.reached or f"precision ±{100 * self.timing.precision:g}%"
            else:
                st.decisions[k] = True
        return st.decisions[k]

    def calibrate(self, s: Setup) -> tuple[int, int]:
        """(iterations per round, rounds per pass) for a function that already ran once."""
        n, total = 1, 0.0
        while True:  # double the calls until they fill a round (or one call is slow)
            t0 = time.perf_counter()
            for _ in range(n):
                s.fn(*s.args)
            total = time.perf_counter() - t0
            if total >= self.timing.round_s or total >= SLOW_CALL_S or n >= 1 << 20:
                break
            n *= 2
        per_call = total / n
        if per_call >= SLOW_CALL_S:
            return 1, 1
        iterations = max(1, round(self.timing.round_s / per_call))
        rounds = max(1, round(self.timing.pass_s / (iterations * per_call)))
        return iterations, rounds


def timed_call(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0
