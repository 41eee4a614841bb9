"""Estimates, intervals, the interleaved order and the merged statistics, on synthetic data."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from loopvec.bench.measure import schedule as S
from loopvec.bench.measure import stats

REPO = Path(__file__).resolve().parent.parent


def test_estimate_is_the_lower_quartile_of_per_pass_minima() -> None:
    passes = [[3.0, 1.0, 2.0], [5.0, 4.0], [2.0, 6.0]]  # minima 1, 4, 2
    assert stats.estimate(passes) == pytest.approx(np.quantile([1.0, 2.0, 4.0], 0.25))


def test_ratio_of_exactly_proportional_passes() -> None:
    rng = np.random.default_rng(0)
    a = [list(1.0 + rng.uniform(0, 0.3, 5)) for _ in range(10)]
    b = [[2.0 * t for t in p] for p in a]  # B is A twice over, pass by pass: drift cancels when paired
    iv = stats.ratio(a, b, key="x")
    assert iv.value == pytest.approx(0.5)
    assert (iv.lo, iv.hi) == pytest.approx((0.5, 0.5))  # one process: nothing is added to the bootstrap
    assert iv.workers == 1


def test_pairing_cancels_drift_that_hits_both_sides() -> None:
    rng = np.random.default_rng(1)
    drift = 1 + rng.uniform(0, 0.5, 12)  # the machine's speed, pass by pass
    a = [[d * (1 + 0.01 * u) for u in rng.uniform(0, 1, 4)] for d in drift]
    b = [[3 * d * (1 + 0.01 * u) for u in rng.uniform(0, 1, 4)] for d in drift]
    paired = stats.ratio(a, b, key="p")
    unpaired = stats.ratio(a, b, key="p", paired=False)
    assert paired.boot_half_width < 0.02 < unpaired.half_width


def test_the_bootstrap_interval_covers_the_true_ratio_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2)
    hits = 0
    for trial in range(200):
        a = [list(1.0 + rng.exponential(0.05, 4)) for _ in range(12)]
        b = [list(4.0 * (1.0 + rng.exponential(0.05, 4))) for _ in range(12)]
        iv = stats.ratio(a, b, key=f"t{trial}")
        hits += iv.lo <= 0.25 <= iv.hi  # the true ratio of the two distributions' quartiles
    assert 0.80 <= hits / 200 <= 1.0


def _workers_with_a_process_effect(rng: np.random.Generator, n_workers: int, n_passes: int
                                   ) -> tuple[list[list[float]], list[list[float]], list[int]]:
    """Synthetic passes: B is 2x A, but each worker process has its own fixed slowdown of A
    (lognormal, 10%), as where a process's arrays land does; drift hits both sides of a pass."""
    num, den, ws = [], [], []
    for w in range(n_workers):
        effect = float(np.exp(rng.normal(0, 0.10)))
        for _ in range(n_passes):
            drift = 1 + rng.uniform(0, 0.3)
            num.append([drift * 2.0 * (1 + e) for e in rng.exponential(0.01, 3)])
            den.append([drift * effect * (1 + e) for e in rng.exponential(0.01, 3)])
            ws.append(w)
    return num, den, ws


def test_the_two_level_bootstrap_covers_a_between_process_effect_the_one_level_misses() -> None:
    rng = np.random.default_rng(4)
    true = 2.0  # the process effect's median is 1: the population's ratio is 2
    two = one = 0
    for trial in range(200):
        num, den, ws = _workers_with_a_process_effect(rng, n_workers=5, n_passes=8)
        iv2 = stats.ratio(num, den, key=f"t{trial}", num_workers=ws, den_workers=ws)
        iv1 = stats.ratio(num, den, key=f"t{trial}")  # the same passes, as if from one process
        two += iv2.contains(true)
        one += iv1.contains(true)
        assert iv2.workers == 5 and iv1.workers == 1
    assert two / 200 >= 0.90
    assert one / 200 <= 0.75  # what round two printed: intervals that a rerun misses


def test_the_between_process_spread_is_the_workers_own() -> None:
    # worker 0 measures B/A = 0.5, worker 1 measures 0.6: the spread is 20%, whatever the passes say
    a = [[1.0], [1.0], [1.0], [1.0]]
    b = [[2.0], [2.0], [1.0 / 0.6], [1.0 / 0.6]]
    iv = stats.ratio(a, b, key="s", num_workers=[0, 0, 1, 1], den_workers=[0, 0, 1, 1])
    assert iv.between == pytest.approx(0.2)
    assert iv.value == pytest.approx(1.0 / np.quantile([2.0, 2.0, 1 / 0.6, 1 / 0.6], 0.25))  # all passes pooled
    assert iv.lo < 0.5 and iv.hi >= 0.6  # two workers: t with one degree of freedom, wide


def test_the_estimate_pools_every_workers_passes() -> None:
    passes = [[1.0], [2.0], [4.0], [3.0]]
    assert stats.estimate(passes, [0, 0, 1, 1]) == pytest.approx(np.quantile([1.0, 2.0, 3.0, 4.0], 0.25))
    assert stats.worker_estimates(passes, [0, 0, 1, 1]) == {0: 1.25, 1: 3.25}


def test_the_small_sample_factor_follows_student() -> None:
    assert stats.small_sample_factor(1) == 1.0
    assert stats.small_sample_factor(3) == pytest.approx(4.303 / 1.96 * np.sqrt(1.5), rel=1e-3)
    assert stats.small_sample_factor(1000) == pytest.approx(1.0, abs=0.01)


def test_one_pass_gives_a_value_and_no_interval() -> None:
    iv = stats.ratio([[2.0]], [[1.0]], key="one")
    assert iv.value == 2.0 and iv.lo == iv.hi == 2.0
    assert stats.ratio([], [[1.0]]) is None


def test_unpaired_intervals_use_each_runs_own_workers() -> None:
    rng = np.random.default_rng(5)
    a = [[1.0 + 0.001 * rng.random()] for _ in range(6)]
    b = [[1.0 + 0.001 * rng.random()] for _ in range(6)]
    tight = stats.ratio(b, a, key="u", paired=False)  # one process each: only the passes' scatter
    wa = [0, 0, 1, 1, 2, 2]
    spread_b = [[x[0] * f] for x, f in zip(b, (1.0, 1.0, 1.1, 1.1, 0.95, 0.95))]  # B's processes differ by 15%
    wide = stats.ratio(spread_b, a, key="u", paired=False, num_workers=wa, den_workers=wa)
    assert tight.half_width < 0.01 < wide.half_width


def test_merged_stats_equal_pytest_benchmarks_own() -> None:
    from pytest_benchmark.stats import Stats

    passes = [[1e-6, 2e-6, 1.5e-6], [3e-6], [0.9e-6, 4e-6]]
    s = Stats()
    for t in [t for p in passes for t in p]:
        s.update(t)
    merged = stats.merged_stats(passes, iterations=7)
    assert merged["data"] == [t for p in passes for t in p] and merged["iterations"] == 7
    assert {k: merged[k] for k in Stats.fields} == s.as_dict()


@pytest.mark.slow
def test_passes_rotate_and_entrants_alternate() -> None:
    assert S.rotated(["A", "B", "C"], 0) == ["A", "B", "C"]
    assert S.rotated(["A", "B", "C"], 1) == ["B", "C", "A"]
    assert S.rotated(["A", "B", "C"], 5) == ["C", "A", "B"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "bench/bench_suite.py", "--collect-only", "-q",
                           "--benchmark-enable", "-p", "no:randomly", "--loopvec-only", "dot-n0002",
                           "--loopvec-impl", "python", "--loopvec-impl", "numpy"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = [ln.split("[", 1)[1].rstrip("]") for ln in proc.stdout.splitlines() if "test_case[" in ln]
    assert ids[:4] == ["dot-n0002-python-pass00", "dot-n0002-numpy-pass00",
                       "dot-n0002-numpy-pass01", "dot-n0002-python-pass01"]
    assert len(ids) == 2 * S.TIMINGS["quick"].max_passes


class FakeCase:
    id = "case"

    def ratio_pairs(self, entrants: list[str]) -> list[tuple[str, str]]:
        return [("python", "numpy")]


def test_passes_stop_at_the_precision_or_the_time_cap() -> None:
    timing = S.Timing(min_passes=3, max_passes=20, pass_s=0.01, round_s=0.001, case_cap_s=5.0, precision=0.02)
    sched = S.Schedule(timing, enabled=True)
    st = sched.add(FakeCase(), ["python", "numpy"])
    rng = np.random.default_rng(3)
    for _ in range(3):  # noisy, unpaired passes: a wide interval
        st.passes.setdefault("python", []).append(list(1.0 + rng.uniform(0, 0.5, 3)))
        st.passes.setdefault("numpy", []).append(list(0.1 + rng.uniform(0, 0.05, 3)))
    assert sched.pass_needed("case", 1) and sched.pass_needed("case", 2)  # below min_passes: always
    assert sched.pass_needed("case", 3)  # wide interval, time left: another pass
    st.seconds = 6.0  # a fake clock past the cap
    assert not sched.pass_needed("case", 4) and "time cap" in st.reached
    assert sched.pass_needed("case", 3)  # a pass is decided once, at its first entrant
    quiet = S.Schedule(timing, enabled=True)
    st2 = quiet.add(FakeCase(), ["python", "numpy"])
    for _ in range(4):
        st2.passes.setdefault("python", []).append([1.0, 1.0])
        st2.passes.setdefault("numpy", []).append([0.1, 0.1])
    assert not quiet.pass_needed("case", 4) and "precision" in st2.reached
