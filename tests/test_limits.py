"""The table's limits (bench/present/limits.py) and the roofline and memory plots (roofline.py),
on synthetic rows and runs whose answers are known by hand."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopvec.bench.present import limits
from loopvec.bench.present.roofline import plot_memory, plot_roofline, points
from loopvec.bench.present.rows import Row
from loopvec.bench.store.model import Run, as_run


def typed(**fields: Any) -> Run:
    """A run of one benchmark with the given fields (peak_gflops, bandwidth, fits) and nothing else."""
    base = as_run({"machine_info": {}, "loopvec": {"commit": "abc"},
                   "benchmarks": [{"name": "b", "extra_info": {"case": "c", "impl": "numpy"}, "stats": {"median": 1.0}}]})
    return dataclasses.replace(base, **fields)


BW = {"l3_bytes": 32 << 20, "ceiling": {"cache": 60.0, "dram": 20.0}, "footprints": {"cache": 8 << 20, "dram": 128 << 20},
      "threads": 2, "GBps": {"copy": {"numpy": {"cache": 40.0, "dram": 15.0}, "numba-1t": {"cache": 50.0, "dram": 18.0},
                                      "numba-all": {"cache": 60.0, "dram": 20.0}}}}
LV = typed(peak_gflops={"float64": 100.0}, bandwidth=BW)


def row(kind_unit: str, size: int, flops: int | None, nbytes: int, est: dict[str, float]) -> Row:
    return Row(case=f"x-{size}", workload="x", size=size, unit=kind_unit, dtype="float64", flops=flops,
               estimate=dict(est), nbytes=nbytes)


def test_an_activation_is_held_to_the_bandwidth_of_its_footprint() -> None:
    # 1e6 float64 in and out: 16 MB, fits the 32 MiB L3 -> the cache ceiling, 60 GB/s
    r = row("elements", 10**6, None, 16_000_000, {"numpy": 1e-3, "numba-tuned": 0.5e-3})
    rate, unit, share = limits.binding(r, "numba-tuned", LV)
    assert unit == "GB/s|cache bandwidth" and rate == pytest.approx(32.0) and share == pytest.approx(32 / 60)
    big = row("elements", 10**7, None, 160_000_000, {"numpy": 16e-3})  # 160 MB > L3 -> DRAM, 20 GB/s
    rate, unit, share = limits.binding(big, "numpy", LV)
    assert unit == "GB/s|dram bandwidth" and share == pytest.approx(10 / 20)
    assert "53% of cache bandwidth" in limits.rate_text(r, LV) and "numba-tuned" in limits.rate_text(r, LV)


def test_a_forward_pass_is_held_to_the_lower_roof() -> None:
    # 1 GFLOP over 1 MB: intensity 1000 FLOP/B, so the 100 GFLOP/s peak binds (60 GB/s x 1000 is far above)
    dense = row("batch", 1000, 10**9, 10**6, {"numpy": 0.02})
    rate, unit, share = limits.binding(dense, "numpy", LV)
    assert unit == "GFLOP/s|peak" and rate == pytest.approx(50.0) and share == pytest.approx(0.5)
    # 1 MFLOP over 1 MB: intensity 1, so bandwidth x intensity = 60 GFLOP/s binds, below the peak
    thin = row("batch", 10, 10**6, 10**6, {"numpy": 1e-4})
    rate, unit, share = limits.binding(thin, "numpy", LV)
    assert unit == "GFLOP/s|cache bandwidth" and rate == pytest.approx(10.0) and share == pytest.approx(10 / 60)
    assert "1 FLOP/B" in limits.rate_text(thin, LV)


def test_without_bandwidth_the_peak_alone_is_the_limit_and_activations_say_nothing() -> None:
    lv = typed(peak_gflops={"float64": 100.0})
    assert limits.binding(row("batch", 1000, 10**9, 10**6, {"numpy": 0.02}), "numpy", lv)[1] == "GFLOP/s|peak"
    assert limits.rate_text(row("elements", 10, None, 160, {"numpy": 1e-6}), lv) == ""
    assert limits.bandwidth_header(lv) == []
    head = limits.bandwidth_header(LV)[0]
    assert "cache 60.0 GB/s (8 MiB" in head and "DRAM 20.0 GB/s (128 MiB" in head and "2 threads 60.0" in head


def sweep(a: dict[str, float], b: dict[str, float], sizes: list[int], noise: float = 0.0) -> list[Row]:
    """Rows of one workload whose per-call times are a + b*n exactly (times 1 +- noise, per pass)."""
    rng = np.random.default_rng(3)
    out = []
    for n in sizes:
        r = Row(case=f"w-n{n:04d}", workload="w", size=n, unit="elements", dtype="float64", flops=None)
        for impl in a:
            t = a[impl] + b[impl] * n
            r.estimate[impl] = t
            r.passes[impl] = [[t * (1 + noise * rng.uniform(0, 1))] for _ in range(8)]
        out.append(r)
    return out


def test_fit_lines_recover_the_fixed_cost_and_predict_the_crossover() -> None:
    # numpy: 5 us a call + 1 ns an element; python: 0.1 us + 100 ns: they cross at 4.9/99e-3 = 49.5 elements
    rs = sweep({"numpy": 5e-6, "python": 1e-7}, {"numpy": 1e-9, "python": 1e-7}, [10, 100, 1000, 10000], noise=0.01)
    text = "\n".join(limits.fit_lines(rs))
    assert "numpy" in text and "per call" in text and "per element" in text
    f = limits.run_fits(rs)["w"]["fits"]["numpy"]
    assert f["a"]["value"] == pytest.approx(5e-6, rel=0.05) and f["b"]["value"] == pytest.approx(1e-9, rel=0.05)
    assert f["a"]["lo"] <= f["a"]["value"] <= f["a"]["hi"]
    # a run that stored its fits is read, not fitted again: a stored fixed cost of 7 us is what is shown
    stored = typed(fits={"w": {"fits": {"numpy": dict(f, a={"value": 7e-6, "lo": None, "hi": None})}, "crossover": None}})
    assert "numpy            7 µs per call" in "\n".join(limits.fit_lines(rs, stored))
    line = next(ln for ln in text.splitlines() if "predicted" in ln)
    assert "predicted numpy/pure-Python crossover: n=49.5" in line  # 4.9e-6 / 99e-9
    assert "measured: n=100" in line  # the first measured size at which numpy is faster


def test_no_fit_below_three_sizes() -> None:
    rs = sweep({"numpy": 5e-6}, {"numpy": 1e-9}, [10, 100])
    assert limits.run_fits(rs) == {} and limits.fit_lines(rs) == []


def test_memory_lines_name_each_implementation_at_the_largest_batch() -> None:
    rs = [Row(case=f"f-b{b:04d}", workload="f", size=b, unit="batch", dtype="float64", flops=1) for b in (1, 100)]
    rs[1].estimate = {"numpy": 1.0, "numba-tuned": 1.0}
    rs[1].memory = {"numpy": {"peak_bytes": 1_600_000, "allocations": None},
                    "numba-tuned": {"peak_bytes": 0, "allocations": 0}}
    text = "\n".join(limits.memory_lines(rs))
    assert "f-b0100" in text and "numpy 1.6 MB" in text and "numba-tuned 0 B in 0 allocations" in text
    assert limits.memory_text({"peak_bytes": None, "allocations": None, "method": "not measured",
                               "note": "no profiler"}) == "not measured (no profiler)"


def bench(case: str, impl: str, kind: str, size: int, est: float, nbytes: int, flops: int | None,
          memory: dict[str, Any] | None = None) -> dict[str, Any]:
    e = {"case": case, "workload": case.rsplit("-", 1)[0], "kind": kind, "size": size,
         "unit": "batch" if kind == "forward" else "elements", "dtype": "float64", "impl": impl,
         "estimate": est, "bytes": nbytes, "flops": flops}
    if memory is not None:
        e["memory"] = memory
    return {"name": f"{case}-{impl}", "group": case, "extra_info": e,
            "stats": {"median": est, "q1": est, "q3": est, "data": [est]}}


def run_data(with_bandwidth: bool = True) -> dict[str, Any]:
    """A run's JSON, as a results file holds it (as_run types it)."""
    benches = [bench("relu-n1000000", "numpy", "activation", 10**6, 1e-3, 16_000_000, None),
               bench("relu-n1000000", "numba-tuned", "activation", 10**6, 5e-4, 16_000_000, None)]
    for b in (1, 100, 10000):
        for impl, mem in (("numpy", 8 * 150 * b), ("numba-tuned", 0)):
            benches.append(bench(f"forward-mnist-b{b:04d}", impl, "forward", b, 1e-5 * b, 8 * 800 * b,
                                 2 * 89_400 * b, {"peak_bytes": mem, "allocations": None, "method": "tracemalloc"}))
    lv: dict[str, Any] = {"peak_gflops": {"float64": 70.0}, "commit": "abc"}
    if with_bandwidth:
        lv["bandwidth"] = BW
    return {"benchmarks": benches, "loopvec": lv, "machine_info": {}, "datetime": "2026-11-30T00:00:00"}


def test_the_roofline_places_every_case_and_draws_pngs(tmp_path: Path) -> None:
    data = as_run(run_data())
    pts = points(data)
    assert len(pts) == 8
    relu = next(p for p in pts if p["case"] == "relu-n1000000" and p["impl"] == "numpy")
    assert relu["ops"] / relu["bytes"] == pytest.approx(1 / 16)  # one op per 16-byte element
    assert plot_roofline("m", data, tmp_path / "r.png") and (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert plot_memory("m", data, tmp_path / "m.png") and (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"


def test_an_older_run_gets_its_bytes_from_its_cases_and_a_roofline_of_the_peak_alone(tmp_path: Path) -> None:
    data = run_data(with_bandwidth=False)
    for b in data["benchmarks"]:
        b["extra_info"].pop("bytes")
        b["extra_info"]["network"] = "mnist-shaped" if b["extra_info"]["kind"] == "forward" else None
    data = as_run(data)
    got = {(p["case"], p["impl"]): p["bytes"] for p in points(data)}
    assert got[("relu-n1000000", "numpy")] == 16_000_000
    # 100 samples of 784 in, 10 out, and the 784*50+50 + 50*100+100 + 100*10+10 weights and biases
    assert got[("forward-mnist-b0100", "numpy")] == 8 * (100 * 784 + 100 * 10 + 39_250 + 5_100 + 1_010)
    assert plot_roofline("m", data, tmp_path / "r.png")


def test_no_memory_plot_without_records(tmp_path: Path) -> None:
    data = run_data()
    for b in data["benchmarks"]:
        b["extra_info"].pop("memory", None)
    assert not plot_memory("m", as_run(data), tmp_path / "m.png")
    assert not list(tmp_path.iterdir())


def test_the_readme_states_the_memory_lesson_in_the_runs_own_figures() -> None:
    from loopvec.bench.present.readme_block import limits_sentences

    big = Row(case="forward-mnist-b10000", workload="forward-mnist", size=10_000, unit="batch", dtype="float64",
              flops=1, estimate={"numpy": 0.036, "numba-tuned": 0.034})
    big.memory = {"numpy": {"peak_bytes": 1_603_896}, "numba-tuned": {"peak_bytes": 898_591}}
    relu = Row(case="relu-n1000000", workload="relu", size=10**6, unit="elements", dtype="float64", flops=None,
               estimate={"numpy": 1e-3, "numba-parallel": 4e-4}, nbytes=16_000_000)
    text = " ".join(limits_sentences({r.case: r for r in (big, relu)}, LV))
    assert "numpy call allocates 1.6 MB" in text and "numba-tuned 899 kB" in text and "result alone is 800 kB" in text
    assert "relu 40.0 GB/s (numba-parallel, 67% of the cache bandwidth)" in text


def test_a_matrix_product_is_fitted_per_multiply_add() -> None:
    # dot n: n^3 multiply-adds; numpy 1 us + 0.1 ns each, python 0.1 us + 50 ns each: they cross at
    # n^3 = 0.9e-6 / 49.9e-9 = 18.04, n = 2.62
    rs = []
    for n in (2, 4, 8, 16):
        r = Row(case=f"dot-n{n:04d}", workload="dot", size=n, unit="n", dtype="float64", flops=2 * n**3)
        for impl, a, b in (("numpy", 1e-6, 1e-10), ("python", 1e-7, 5e-8)):
            r.estimate[impl] = a + b * n**3
            r.passes[impl] = [[r.estimate[impl]]] * 4
        rs.append(r)
    f = limits.run_fits(rs)["dot"]["fits"]["python"]
    assert f["b"]["value"] == pytest.approx(5e-8, rel=1e-6) and f["max_rel_residual"] < 1e-6
    text = "\n".join(limits.fit_lines(rs))
    assert "per multiply-add" in text and "crossover: n=2.6" in text


def test_two_bandwidth_readings_keep_the_higher_of_each_and_both_ceilings() -> None:
    from loopvec.bench.measure.pool import higher

    first = {"l3_bytes": 1, "ceiling": {"cache": 60.0, "dram": 20.0},
             "GBps": {"copy": {"numpy": {"cache": 60.0, "dram": 12.0}}, "triad": {"numpy": {"cache": 50.0, "dram": 20.0}}}}
    again = {"l3_bytes": 1, "ceiling": {"cache": 90.0, "dram": 18.0},
             "GBps": {"copy": {"numpy": {"cache": 90.0, "dram": 18.0}}, "triad": {"numpy": {"cache": 40.0, "dram": 10.0}}}}
    got = higher(first, again)
    assert got["ceiling"] == {"cache": 90.0, "dram": 20.0}
    assert got["GBps"]["copy"]["numpy"] == {"cache": 90.0, "dram": 18.0}
    assert got["GBps"]["triad"]["numpy"] == {"cache": 50.0, "dram": 20.0}
    assert got["ceiling_measured"] == {"cache": [60.0, 90.0], "dram": [20.0, 18.0]}
    assert "cache 90.0 GB/s (0 MiB; readings 60.0, 90.0;" in limits.bandwidth_header(typed(bandwidth=got))[0]
