"""Estimates and confidence intervals from interleaved passes.

A case is timed in passes: in each pass every entrant (implementation) runs a few
rounds, back to back, in an order that rotates from pass to pass. The raw data of
one entrant is therefore `passes[k] = [per-call time of each round of pass k]`, and
pass k of every entrant of a case was timed within the same fraction of a second.

The estimator (chosen on A/A evidence from this project's 2-vCPU VM, see README):
each pass contributes its fastest round (slower rounds are the machine being busy
elsewhere, never the code being faster than it is), and the estimate is the
ESTIMATOR_QUANTILE quantile of those per-pass minima. A ratio is the ratio of two
estimates of the same case, and its 95% interval is a paired bootstrap: the passes
are resampled together (the same pass indices for both sides), so drift that hits
both sides of a pass cancels, and drift between them widens the interval; the result
is then widened by RUN_FLOOR, what an identical rerun moves on top of that.

Evidence for the estimator (three A/A quick runs on the 2-vCPU VM, the 29 forward-pass
ratios python/numpy, numpy/numba*): the largest distance of a ratio from its median over
the runs was 3.9% for the lower quartile of per-pass minima, 7.7% for the plain minimum,
7.4% for their median and 12.1% for the median of all rounds.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

ESTIMATOR_QUANTILE = 0.25
BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95
# The bootstrap sees the noise within one run; an identical rerun also moves a ratio, by
# what no pass of the first run could see (where each process's arrays land in memory,
# the other core's state). On this project's 2-vCPU VM, three A/A runs moved the forward
# ratios by up to 4.1% from their median; with each interval widened by RUN_FLOOR, 97% of
# the other runs' values fell inside a run's own interval (91% at 3%, 29% with no floor).
RUN_FLOOR = 0.04

Passes = Sequence[Sequence[float]]  # per pass, the per-call time of each of its rounds


@dataclass(frozen=True)
class Interval:
    value: float
    lo: float
    hi: float
    boot_lo: float | None = None  # the bootstrap interval alone, before the run-to-run floor
    boot_hi: float | None = None

    @property
    def boot_half_width(self) -> float:
        """The half-width more passes can shrink (the bootstrap part)."""
        if self.boot_lo is None or self.boot_hi is None or self.value <= 0:
            return self.half_width
        return max(self.boot_hi / self.value - 1.0, 1.0 - self.boot_lo / self.value)

    @property
    def half_width(self) -> float:
        """The larger relative distance from the value to an end: the '±' shown."""
        if self.value <= 0:
            return float("inf")
        return max(self.hi / self.value - 1.0, 1.0 - self.lo / self.value)

    def contains(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    def as_dict(self) -> dict[str, float]:
        d = {"value": self.value, "lo": self.lo, "hi": self.hi}
        if self.boot_lo is not None and self.boot_hi is not None:
            d.update(boot_lo=self.boot_lo, boot_hi=self.boot_hi)
        return d

    @staticmethod
    def from_dict(d: Any) -> "Interval | None":
        try:
            iv = Interval(float(d["value"]), float(d["lo"]), float(d["hi"]))
        except (TypeError, KeyError, ValueError):
            return None
        if not (iv.lo <= iv.value <= iv.hi):
            return None
        return iv

    def widened(self, floor: float) -> "Interval":
        """This bootstrap interval widened by ±floor for what a rerun moves (see RUN_FLOOR)."""
        return Interval(self.value, self.lo / (1 + floor), self.hi * (1 + floor), self.lo, self.hi)


def pass_minima(passes: Passes) -> np.ndarray:
    return np.array([min(p) for p in passes if len(p)], dtype=np.float64)


def estimate(passes: Passes) -> float:
    """The per-call time a case's ratios are computed from (seconds)."""
    m = pass_minima(passes)
    return float(np.quantile(m, ESTIMATOR_QUANTILE)) if m.size else float("nan")


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(key.encode()))


def _resampled(m: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.quantile(m[idx], ESTIMATOR_QUANTILE, axis=1)


def _interval(value: float, samples: np.ndarray) -> Interval:
    tail = 100 * (1 - CONFIDENCE) / 2
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return Interval(value, float(min(lo, value)), float(max(hi, value)))


def ratio(num: Passes, den: Passes, key: str = "", paired: bool = True) -> Interval | None:
    """estimate(num) / estimate(den) with its 95% bootstrap interval.

    paired=True: num and den were timed side by side, pass k beside pass k; only the
    passes both have are used, resampled together. paired=False (two separate runs):
    each side is resampled on its own. None when a side has no timing.
    """
    a, b = pass_minima(num), pass_minima(den)
    if paired:
        n = min(a.size, b.size)
        a, b = a[:n], b[:n]
    if a.size == 0 or b.size == 0:
        return None
    value = float(np.quantile(a, ESTIMATOR_QUANTILE) / np.quantile(b, ESTIMATOR_QUANTILE))
    if min(a.size, b.size) < 2:
        return Interval(value, value, value).widened(RUN_FLOOR) if paired else Interval(value, value, value)
    rng = _rng(key)
    ia = rng.integers(0, a.size, (BOOTSTRAP_RESAMPLES, a.size))
    ib = ia if paired else rng.integers(0, b.size, (BOOTSTRAP_RESAMPLES, b.size))
    iv = _interval(value, _resampled(a, ia) / _resampled(b, ib))
    return iv.widened(RUN_FLOOR) if paired else iv


def estimate_interval(passes: Passes, key: str = "") -> Interval | None:
    """estimate(passes) with its 95% bootstrap interval (for a case with one entrant)."""
    m = pass_minima(passes)
    if m.size == 0:
        return None
    value = float(np.quantile(m, ESTIMATOR_QUANTILE))
    if m.size < 2:
        return Interval(value, value, value)
    idx = _rng(key).integers(0, m.size, (BOOTSTRAP_RESAMPLES, m.size))
    return _interval(value, _resampled(m, idx))


def merged_stats(passes: Passes, iterations: int) -> dict[str, Any]:
    """pytest-benchmark's own statistics over every round of every pass, with the raw data."""
    from pytest_benchmark.stats import Stats

    s = Stats()
    for p in passes:
        for t in p:
            s.update(t)
    out: dict[str, Any] = s.as_dict()
    out["data"] = list(s.data)
    out["iterations"] = iterations
    return out


def round_spread(passes: Passes) -> float:
    """How much the rounds scatter: interquartile range over median of all rounds."""
    flat = np.array([t for p in passes for t in p], dtype=np.float64)
    if flat.size < 2:
        return 0.0
    q1, med, q3 = np.percentile(flat, [25, 50, 75])
    return float((q3 - q1) / med) if med > 0 else 0.0
