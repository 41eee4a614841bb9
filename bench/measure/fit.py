"""Fixed cost and cost per element: time = a + b * n fitted over a size sweep, with intervals.

Method. Per size n_i an estimate t_i (seconds per call) and, optionally, its samples (e.g. the
per-pass minima, stats.pass_minima). The line is fitted by weighted least squares with
relative weights 1 / t_i^2, i.e. it minimises sum(((t_i - a - b n_i) / t_i)^2): times span
decades over a sweep, and plain least squares would let the largest size alone decide both
a and b; with relative errors the small sizes determine a and the large ones b. (Computed
on n / max(n) and t / max(t), so the 2x2 normal equations stay well conditioned.)

Intervals: a one-level percentile bootstrap. Each replicate redraws every size's samples
with replacement, takes stats' estimator of them (the ESTIMATOR_QUANTILE quantile, as
stats.estimate does of per-pass minima) and refits; [lo, hi] are the 2.5% and 97.5%
points of a and b over stats.BOOTSTRAP_RESAMPLES replicates (seeded by `key`). Worker
processes are not resampled as a level of their own, so these intervals are narrower than
stats' two-level ones would be. Without samples there are no intervals (lo = hi = None).

Invariants: at least two distinct sizes, every n >= 0 and every time finite and > 0
(else ValueError); a is not forced >= 0 (a negative fixed cost says the line does not
describe the small sizes); crossovers are reported for n > 0 only.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from loopvec.bench.measure.stats import BOOTSTRAP_RESAMPLES, CONFIDENCE, ESTIMATOR_QUANTILE


@dataclass(frozen=True)
class LineFit:
    """time = a + b * n (seconds, seconds per element), with 95% bootstrap intervals."""

    a: float
    b: float
    a_lo: float | None = None
    a_hi: float | None = None
    b_lo: float | None = None
    b_hi: float | None = None
    sizes: tuple[int, ...] = ()
    max_rel_residual: float = 0.0  # worst |t_i - fit(n_i)| / t_i: how straight the line is
    replicates: np.ndarray | None = field(default=None, repr=False, compare=False)  # (B, 2): a, b

    def predict(self, n: float) -> float:
        return self.a + self.b * n

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: {"a": {"value", "lo", "hi"}, "b": {...}, "sizes", "max_rel_residual", "method"}."""
        return {"a": {"value": self.a, "lo": self.a_lo, "hi": self.a_hi},
                "b": {"value": self.b, "lo": self.b_lo, "hi": self.b_hi},
                "sizes": list(self.sizes), "max_rel_residual": self.max_rel_residual,
                "method": "weighted least squares (weights 1/t^2), percentile bootstrap of samples per size"}


def _solve(n: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a, b of the relative-weight fit, for t of shape (k,) or (B, k) against n (k,)."""
    n_scale = float(n.max())
    t_scale = float(t.max())
    x = n / n_scale  # (k,)
    y = t / t_scale  # (k,) or (B, k)
    w = 1.0 / (y * y)
    s0, s1, s2 = w.sum(-1), (w * x).sum(-1), (w * x * x).sum(-1)
    sy, sxy = (w * y).sum(-1), (w * x * y).sum(-1)
    det = s0 * s2 - s1 * s1
    b = (s0 * sxy - s1 * sy) / det
    a = (s2 * sy - s1 * sxy) / det
    return a * t_scale, b * t_scale / n_scale


def _check(sizes: Sequence[int], estimates: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(sizes, dtype=np.float64)  # (k,)
    t = np.asarray(estimates, dtype=np.float64)  # (k,)
    if n.ndim != 1 or n.shape != t.shape:
        raise ValueError(f"sizes and estimates must be two lists of one length, got {n.shape} and {t.shape}")
    if not np.all(np.isfinite(n)) or np.any(n < 0):
        raise ValueError("sizes must be finite and >= 0")
    if np.unique(n).size < 2:
        raise ValueError(f"a line needs at least two distinct sizes, got {sorted(set(n.tolist()))}")
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("times must be finite and > 0 (a relative-weight fit divides by them)")
    return n, t


def fit_line(sizes: Sequence[int], estimates: Sequence[float] | None = None,
             samples: Sequence[Sequence[float]] | None = None, key: str = "") -> LineFit:
    """Fit time = a + b * n over a sweep (module doc). Give `estimates` (one per size), or
    `samples` (per size, e.g. the per-pass minima) from which the estimates are taken as
    stats' quantile, or both; samples give the intervals. Raises ValueError on degenerate input."""
    if estimates is None and samples is None:
        raise ValueError("give the estimates, the samples, or both")
    if samples is not None:
        if len(samples) != len(sizes) or any(len(s) == 0 for s in samples):
            raise ValueError("samples: one non-empty list per size")
        if estimates is None:
            estimates = [float(np.quantile(np.asarray(s, dtype=np.float64), ESTIMATOR_QUANTILE)) for s in samples]
    assert estimates is not None
    n, t = _check(sizes, estimates)
    a, b = (float(v) for v in _solve(n, t))
    resid = float(np.max(np.abs(t - (a + b * n)) / t))
    used = tuple(int(x) for x in n)
    if samples is None:
        return LineFit(a, b, sizes=used, max_rel_residual=resid)
    rng = np.random.default_rng(zlib.crc32(f"fit:{key}".encode()))
    reps = np.empty((BOOTSTRAP_RESAMPLES, n.size))  # (B, k): each size's re-estimated time
    for i, s in enumerate(samples):
        m = np.asarray(s, dtype=np.float64)  # (m,)
        if not np.all(np.isfinite(m)) or np.any(m <= 0):
            raise ValueError(f"samples of size {int(n[i])} must be finite and > 0")
        idx = rng.integers(0, m.size, (BOOTSTRAP_RESAMPLES, m.size))
        reps[:, i] = np.quantile(m[idx], ESTIMATOR_QUANTILE, axis=1)
    ra, rb = _solve(n, reps)  # (B,), (B,)
    tail = 100 * (1 - CONFIDENCE) / 2
    a_lo, a_hi = (float(v) for v in np.percentile(ra, [tail, 100 - tail]))
    b_lo, b_hi = (float(v) for v in np.percentile(rb, [tail, 100 - tail]))
    return LineFit(a, b, min(a_lo, a), max(a_hi, a), min(b_lo, b), max(b_hi, b), sizes=used,
                   max_rel_residual=resid, replicates=np.stack([ra, rb], axis=1))


def predict_crossover(fit1: LineFit, fit2: LineFit) -> float | None:
    """The size n > 0 where the two lines cross, or None (parallel, or crossing at n <= 0:
    then one of them is faster at every size)."""
    if fit1.b == fit2.b:
        return None
    n = (fit2.a - fit1.a) / (fit1.b - fit2.b)
    return n if math.isfinite(n) and n > 0 else None


def crossover_interval(fit1: LineFit, fit2: LineFit) -> dict[str, float | None] | None:
    """{"n", "lo", "hi"}: the crossover and its 95% bootstrap interval, pairing the two fits'
    independent replicates. In each replicate the crossover is the size from which the line
    that wins at large n (the smaller b of the point fits) is the faster: 0 when it is faster
    everywhere, "never" when in that replicate it does not win at large n; an end of the
    interval on "never" is None. None when the lines do not cross or a fit has no replicates."""
    n = predict_crossover(fit1, fit2)
    if n is None or fit1.replicates is None or fit2.replicates is None:
        return None
    win, other = (fit1.replicates, fit2.replicates) if fit1.b < fit2.b else (fit2.replicates, fit1.replicates)
    k = min(len(win), len(other))
    rw, ro = win[:k], other[:k]  # (k, 2) each: a, b
    db = ro[:, 1] - rw[:, 1]  # (k,) > 0 where the winner still wins at large n
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(db > 0, np.maximum((rw[:, 0] - ro[:, 0]) / db, 0.0), np.inf)  # (k,)
    tail = 100 * (1 - CONFIDENCE) / 2
    lo, hi = np.percentile(x, [tail, 100 - tail])
    return {"n": n, "lo": float(lo) if np.isfinite(lo) else None, "hi": float(hi) if np.isfinite(hi) else None}


Sweep = list[tuple[int, float, Sequence[float]]]  # (size, estimate, per-pass minima) per size


def sweep_fits(sweeps: dict[str, dict[str, Sweep]], min_sizes: int = 3) -> dict[str, dict[str, Any]]:
    """Every sweep's fits, JSON-able, as a run stores them: {workload: {"fits": {impl: LineFit.as_dict()},
    "crossover": crossover_interval(numpy, python) or None}}. Sweeps of fewer than `min_sizes` sizes
    (a line through two points shows nothing of how straight it is) and degenerate ones are left out."""
    out: dict[str, dict[str, Any]] = {}
    for workload, per_impl in sweeps.items():
        got: dict[str, LineFit] = {}
        for impl, pts in per_impl.items():
            pts = sorted(p for p in pts if p[0] > 0)
            if len(pts) < min_sizes:
                continue
            try:
                got[impl] = fit_line([s for s, _, _ in pts], [t for _, t, _ in pts],
                                     [list(m) or [t] for _, t, m in pts], key=f"{workload}:{impl}")
            except ValueError:
                continue
        if got:
            cross = crossover_interval(got["numpy"], got["python"]) if "numpy" in got and "python" in got else None
            out[workload] = {"fits": {impl: f.as_dict() for impl, f in got.items()}, "crossover": cross}
    return out
