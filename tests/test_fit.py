"""time = a + b n over a size sweep: recovery of known lines, crossovers, degenerate input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from loopvec.bench.measure.fit import LineFit, crossover_interval, fit_line, predict_crossover
from loopvec.bench.measure.stats import ESTIMATOR_QUANTILE

SIZES = [10, 30, 100, 300, 1_000, 3_000, 10_000, 100_000, 1_000_000]
# the normal quantile at ESTIMATOR_QUANTILE: noise shifted by it has its lower quartile at 1,
# so the fit's estimator (that quantile) is consistent for the true time
Z_Q = -0.6744897501960817


def sweep(a: float, b: float, seed: int, sigma: float = 0.05, per_size: int = 15) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [list((a + b * n) * np.exp(sigma * (rng.standard_normal(per_size) - Z_Q))) for n in SIZES]


def test_the_synthetic_noise_assumes_the_lower_quartile_estimator() -> None:
    assert ESTIMATOR_QUANTILE == 0.25


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_known_line_is_recovered_within_its_interval(seed: int) -> None:
    a, b = 2e-6, 5e-9  # a fixed cost that dominates below 400 elements
    fit = fit_line(SIZES, samples=sweep(a, b, seed), key=str(seed))
    assert fit.a_lo <= a <= fit.a_hi and fit.b_lo <= b <= fit.b_hi
    assert fit.a == pytest.approx(a, rel=0.1) and fit.b == pytest.approx(b, rel=0.05)
    assert fit.a_lo < fit.a < fit.a_hi and fit.b_lo < fit.b < fit.b_hi
    assert fit.max_rel_residual < 0.2
    d = fit.as_dict()
    json.dumps(d)
    assert d["a"]["value"] == fit.a and d["sizes"] == SIZES


def test_exact_estimates_give_the_exact_line_and_no_interval() -> None:
    fit = fit_line(SIZES, estimates=[1e-6 + 2e-9 * n for n in SIZES])
    assert fit.a == pytest.approx(1e-6, rel=1e-9) and fit.b == pytest.approx(2e-9, rel=1e-9)
    assert fit.a_lo is None and fit.replicates is None and fit.max_rel_residual < 1e-9
    assert fit.predict(500) == pytest.approx(2e-6)


def test_the_crossover_of_two_known_lines() -> None:
    slow_start = fit_line(SIZES, estimates=[5e-6 + 1e-9 * n for n in SIZES])  # high fixed cost, cheap per element
    fast_start = fit_line(SIZES, estimates=[1e-7 + 1e-8 * n for n in SIZES])
    want = (5e-6 - 1e-7) / (1e-8 - 1e-9)
    assert predict_crossover(slow_start, fast_start) == pytest.approx(want, rel=1e-6)
    assert predict_crossover(fast_start, slow_start) == pytest.approx(want, rel=1e-6)
    assert crossover_interval(slow_start, fast_start) is None  # no samples, no interval


def test_the_crossover_interval_from_noisy_sweeps() -> None:
    f1 = fit_line(SIZES, samples=sweep(5e-6, 1e-9, 3), key="1")
    f2 = fit_line(SIZES, samples=sweep(1e-7, 1e-8, 4), key="2")
    iv = crossover_interval(f1, f2)
    want = (5e-6 - 1e-7) / (1e-8 - 1e-9)
    assert iv is not None and iv["lo"] is not None and iv["hi"] is not None
    assert iv["lo"] <= iv["n"] <= iv["hi"] and iv["lo"] <= want <= iv["hi"]


def test_lines_that_do_not_cross_at_positive_n() -> None:
    parallel = [LineFit(1e-6, 1e-9), LineFit(2e-6, 1e-9)]
    assert predict_crossover(*parallel) is None
    always_faster = [LineFit(1e-6, 1e-9), LineFit(2e-6, 2e-9)]  # cheaper fixed cost and per element
    assert predict_crossover(*always_faster) is None


@pytest.mark.parametrize("sizes,estimates", [
    ([100], [1e-6]),  # one size
    ([100, 100, 100], [1e-6, 1.1e-6, 0.9e-6]),  # one distinct size
    ([10, 100], [0.0, 1e-6]),  # a zero time
    ([10, 100], [1e-6, float("nan")]),
    ([10, 100], [-1e-6, 1e-6]),
    ([-10, 100], [1e-6, 2e-6]),
    ([10, 100, 1000], [1e-6, 2e-6]),  # lengths differ
])
def test_degenerate_input_is_a_clear_value_error(sizes: list[int], estimates: list[float]) -> None:
    with pytest.raises(ValueError):
        fit_line(sizes, estimates=estimates)


def test_degenerate_samples_are_a_clear_value_error() -> None:
    with pytest.raises(ValueError):
        fit_line([10, 100])
    with pytest.raises(ValueError):
        fit_line([10, 100], samples=[[1e-6], []])
    with pytest.raises(ValueError):
        fit_line([10, 100], samples=[[1e-6, 0.0], [2e-6]], estimates=[1e-6, 2e-6])
