"""Estimates and confidence intervals from interleaved passes spread over worker processes.

A case is timed in passes: in each pass every entrant (implementation) runs a few
rounds, back to back, in an order that rotates from pass to pass. The passes are
spread over several fresh worker processes (measure/pool.py), because some effects
are fixed for the life of a process (where its arrays land in memory, its hash seed,
its threads' cores): within one process the passes agree, and whether they are right
depends on the draw. The raw data of one entrant is `passes[k] = [per-call time of
each round of pass k]` with `workers[k]`, the worker process pass k ran in.

The estimate. Each pass contributes its fastest round (slower rounds are the machine
being busy elsewhere, never the code being faster than it is); the case's estimate is the
ESTIMATOR_QUANTILE quantile of those per-pass minima over all the workers. (The geometric
mean of per-worker quantiles was tried: with 2 passes a worker, one slow pass moves a
worker's quantile, and over three quick runs on a 2-vCPU EPYC only 15 of 28 forward ratios
stayed within 10% of their median, against 23 of 28 pooled, from the same passes.)

The interval: a two-level (hierarchical) bootstrap. Resample the worker processes
with replacement, then the passes within each drawn worker (for a ratio, the same
passes for both sides: pass k of a worker was timed beside pass k, so drift that hits
both cancels), pool them and take the estimate's statistic. The percentile interval of
that distribution is then widened, in log space around the estimate, by
small_sample_factor(W): a bootstrap over W clusters
under-covers for small W (its variance is (W-1)/W of the true one, and the mean of
W values wants Student's t, not the normal quantile). Nothing in an interval is a
constant measured on some other machine: the between-process part is this run's own.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

ESTIMATOR_QUANTILE = 0.25
BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95
_Z = 1.959963984540054  # the normal 97.5% quantile
# Student's t 97.5% quantiles for 1..30 degrees of freedom (mathematical constants)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)

Passes = Sequence[Sequence[float]]  # per pass, the per-call time of each of its rounds
Workers = Sequence[int] | None  # per pass, the worker process it ran in (None: all in one)


def t975(df: int) -> float:
    if df < 1:
        return float("inf")
    return _T975[df - 1] if df <= len(_T975) else _Z + 2.4 / df  # within 0.1% of t beyond 30


def small_sample_factor(n_workers: int, df: int | None = None) -> float:
    """How much a W-cluster percentile bootstrap interval is widened: t_{df}/z * sqrt(W/(W-1))
    (df = W - 1 unless given). 1 for a single worker: there is nothing to resample then."""
    if n_workers < 2:
        return 1.0
    return t975(df if df is not None else n_workers - 1) / _Z * math.sqrt(n_workers / (n_workers - 1))


@dataclass(frozen=True)
class Interval:
    value: float
    lo: float
    hi: float
    boot_lo: float | None = None  # the bootstrap percentile interval, before the small-sample widening
    boot_hi: float | None = None
    workers: int = 1  # worker processes behind it
    between: float | None = None  # spread of the per-worker values: max/min - 1
    within: float | None = None  # the typical half-width of one worker's own bootstrap

    @property
    def boot_half_width(self) -> float:
        """The bootstrap half-width alone (what more passes in one process can shrink)."""
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
        d: dict[str, Any] = {"value": self.value, "lo": self.lo, "hi": self.hi}
        if self.boot_lo is not None and self.boot_hi is not None:
            d.update(boot_lo=self.boot_lo, boot_hi=self.boot_hi)
        d["workers"] = self.workers
        if self.between is not None:
            d["between"] = self.between
        if self.within is not None:
            d["within"] = self.within
        return d

    @staticmethod
    def from_dict(d: Any) -> "Interval | None":
        try:
            iv = Interval(float(d["value"]), float(d["lo"]), float(d["hi"]), workers=int(d.get("workers", 1)))
        except (TypeError, KeyError, ValueError, AttributeError, OverflowError):
            return None
        if not all(math.isfinite(x) for x in (iv.value, iv.lo, iv.hi)) or not (0 < iv.lo <= iv.value <= iv.hi):
            return None
        return iv


def _groups(passes: Passes, workers: Workers) -> dict[int, np.ndarray]:
    """{worker: its per-pass minima, in pass order}; passes without rounds are left out."""
    ws = list(workers) if workers is not None and len(workers) == len(passes) else [0] * len(passes)
    out: dict[int, list[float]] = {}
    for w, p in zip(ws, passes):
        if len(p):
            out.setdefault(int(w), []).append(min(p))
    return {w: np.array(v, dtype=np.float64) for w, v in sorted(out.items())}


def pass_minima(passes: Passes) -> np.ndarray:
    return np.array([min(p) for p in passes if len(p)], dtype=np.float64)


def _q(m: np.ndarray, axis: int | None = None) -> Any:
    return np.quantile(m, ESTIMATOR_QUANTILE, axis=axis)


def worker_estimates(passes: Passes, workers: Workers = None) -> dict[int, float]:
    """{worker: its own estimate (the quantile of its per-pass minima)}."""
    return {w: float(_q(m)) for w, m in _groups(passes, workers).items()}


def estimate(passes: Passes, workers: Workers = None) -> float:
    """The per-call time a case's ratios are computed from (seconds): the lower quartile of
    every pass's minimum, over all the workers (the workers only matter to its interval)."""
    m = pass_minima(passes)
    return float(_q(m)) if m.size else float("nan")


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(key.encode()))


def _log_q_resampled(m: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.log(_q(m[idx], axis=-1))


def _pooled_dist(pairs: list[tuple[np.ndarray, np.ndarray | None]], rng: np.random.Generator) -> np.ndarray:
    """Bootstrap distribution (BOOTSTRAP_RESAMPLES,) of log q(pooled a) [- log q(pooled b), paired]:
    W workers drawn with replacement, then each drawn worker's passes resampled (the same
    indices for a_w and b_w), all of them pooled, and the statistic computed as for the estimate."""
    B, W = BOOTSTRAP_RESAMPLES, len(pairs)
    sizes = np.array([a.size for a, _ in pairs])
    nmax = int(sizes.max())

    def padded(k: int) -> np.ndarray:
        out = np.full((W, nmax), np.inf)
        for w, pair in enumerate(pairs):
            out[w, : pair[k].size] = pair[k]  # type: ignore[index,union-attr]
        return out

    pick = rng.integers(0, W, (B, W, 1))
    n = sizes[pick]  # (B, W, 1): the drawn worker's number of passes
    idx = (rng.random((B, W, nmax)) * n).astype(np.int64)
    valid = np.arange(nmax)[None, None, :] < n
    count = n.reshape(B, W).sum(axis=1)  # pooled passes in each replicate
    stat = np.zeros(B)
    for k, sign in ((0, 1.0), (1, -1.0)):
        if k == 1 and pairs[0][1] is None:
            break
        # the padding sorts last (+inf): the quantile of the first `count` values, as np.quantile interpolates
        vals = np.sort(np.where(valid, padded(k)[pick, idx], np.inf).reshape(B, -1), axis=1)
        pos = ESTIMATOR_QUANTILE * (count - 1)
        lo = np.floor(pos).astype(np.int64)
        frac = pos - lo
        hi = np.minimum(lo + 1, count - 1)
        rows = np.arange(B)
        q = vals[rows, lo] + frac * (vals[rows, hi] - vals[rows, lo])
        stat += sign * np.log(q)
    return stat


def _within(pairs: list[tuple[np.ndarray, np.ndarray | None]], rng: np.random.Generator) -> float | None:
    """The typical half-width (relative) of one worker's own bootstrap: the within-process part."""
    widths = []
    for pair in pairs:
        if pair[0].size > 1:
            lo, hi = np.percentile(_pooled_dist([pair], rng), [2.5, 97.5])
            widths.append((hi - lo) / 2)
    return float(np.expm1(np.median(widths))) if widths else None


def _two_level(pairs: list[tuple[np.ndarray, np.ndarray | None]], rng: np.random.Generator
               ) -> tuple[np.ndarray, float | None]:
    """The two-level bootstrap distribution of the pooled statistic, and the within-process part."""
    return _pooled_dist(pairs, rng), (_within(pairs, rng) if len(pairs) > 1 else None)


def _interval(log_value: float, dist: np.ndarray, n_workers: int, factor: float, between: float | None,
              within: float | None) -> Interval:
    tail = 100 * (1 - CONFIDENCE) / 2
    lo, hi = np.percentile(dist, [tail, 100 - tail])
    lo, hi = min(lo, log_value), max(hi, log_value)
    wlo, whi = log_value - factor * (log_value - lo), log_value + factor * (hi - log_value)
    return Interval(math.exp(log_value), math.exp(wlo), math.exp(whi), math.exp(lo), math.exp(hi),
                    workers=n_workers, between=between, within=within)


def _spread(values: list[float]) -> float | None:
    return max(values) / min(values) - 1 if len(values) > 1 and min(values) > 0 else None


def ratio(num: Passes, den: Passes, key: str = "", paired: bool = True,
          num_workers: Workers = None, den_workers: Workers = None) -> Interval | None:
    """estimate(num) / estimate(den) with its 95% two-level bootstrap interval.

    paired=True (the same run): pass k of a worker beside pass k of the same worker; only
    the workers and passes both sides have are used, resampled together. paired=False (two
    separate runs, as compare does): each side is resampled on its own, over its own
    workers. None when a side has no timing."""
    ga, gb = _groups(num, num_workers), _groups(den, den_workers)
    rng = _rng(key)
    if paired:
        pairs = []
        for w in ga.keys() & gb.keys():
            n = min(ga[w].size, gb[w].size)
            pairs.append((ga[w][:n], gb[w][:n]))
        if not pairs:
            return None
        logs = [float(np.log(_q(a)) - np.log(_q(b))) for a, b in pairs]  # each worker's own ratio
        value = float(np.log(_q(np.concatenate([a for a, _ in pairs]))) - np.log(_q(np.concatenate([b for _, b in pairs]))))
        between = _spread([math.exp(x) for x in logs])
        if all(a.size < 2 for a, _ in pairs) and len(pairs) < 2:
            v = math.exp(value)
            return Interval(v, v, v, v, v, workers=1)
        dist, within = _two_level(pairs, rng)
        return _interval(value, dist, len(pairs), small_sample_factor(len(pairs)), between, within)
    if not ga or not gb:
        return None
    value = float(np.log(_q(np.concatenate(list(ga.values())))) - np.log(_q(np.concatenate(list(gb.values())))))
    da, wa = _two_level([(m, None) for m in ga.values()], rng)
    db, wb = _two_level([(m, None) for m in gb.values()], rng)
    w = min(len(ga), len(gb))
    factor = small_sample_factor(w, df=len(ga) + len(gb) - 2) if w >= 2 else 1.0
    within = max((x for x in (wa, wb) if x is not None), default=None)
    return _interval(value, da - db, w, factor, None, within)


def estimate_interval(passes: Passes, key: str = "", workers: Workers = None) -> Interval | None:
    """estimate(passes) with its 95% two-level bootstrap interval (a case with one entrant)."""
    g = _groups(passes, workers)
    if not g:
        return None
    logs = [float(np.log(_q(m))) for m in g.values()]
    value = float(np.log(_q(np.concatenate(list(g.values())))))
    if len(g) < 2 and all(m.size < 2 for m in g.values()):
        v = math.exp(value)
        return Interval(v, v, v, v, v)
    dist, within = _two_level([(m, None) for m in g.values()], _rng(key))
    return _interval(value, dist, len(g), small_sample_factor(len(g)), _spread([math.exp(x) for x in logs]),
                     within)


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
