"""`loopvec compare` and `loopvec report` on results files built here (no timing involved)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopvec.bench.cli.main import main
from loopvec.bench.measure.stats import estimate, merged_stats
from loopvec.bench.store.find import newest_runs, resolve
from loopvec.bench.store.results import ResultsError, load_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MNIST_FLOP = 2 * (784 * 50 + 50 * 100 + 100 * 10)  # per sample


# ------------------------------------------------------------------ building results files

def case_meta(case: str) -> dict[str, Any]:
    """'forward-mnist-b0100' -> workload, size, unit, dtype, flops as `loopvec run` records them."""
    workload, tag = case.rsplit("-", 1)
    size = int(tag[1:])
    if workload == "dot":
        unit, flops = "n", 2 * size**3
    elif tag[0] == "n":
        unit, flops = "elements", None
    else:
        unit, flops = "batch", (MNIST_FLOP if workload.startswith("forward-mnist") else 2 * 14) * size
    dtype = "float32" if workload.endswith("f32") else "float64"
    return {"workload": workload, "size": size, "unit": unit, "dtype": dtype, "flops": flops}


PASSES, ROUNDS = 8, 4


def bench(case: str, impl: str, median: float, spread: float = 0.02) -> dict[str, Any]:
    """A format-2 benchmark: PASSES passes of ROUNDS rounds scattered by +-spread around `median`
    (the same pattern for every timing, so two runs' ratio is exactly the ratio of the medians)."""
    rng = np.random.default_rng(7)
    data = [float(median * (1 + spread * u)) for u in rng.uniform(-1, 1, PASSES * ROUNDS)]
    stats = merged_stats([data[i:i + ROUNDS] for i in range(0, len(data), ROUNDS)], 1)
    passes = [data[i:i + ROUNDS] for i in range(0, len(data), ROUNDS)]
    return {
        "group": case, "name": f"test_case[{case}-{impl}]", "fullname": f"bench_suite.py::test_case[{case}-{impl}]",
        "param": f"{case}-{impl}", "params": {"case": case, "entrant": impl},
        "extra_info": dict(case_meta(case), impl=impl, case=case, first_call_s=median * 3, estimate=estimate(passes),
                           pass_rounds=[ROUNDS] * PASSES),
        "stats": stats,
    }


def make_run(machine: str, times: dict[tuple[str, str], float], *, threads: int | None = None,
             blas_threads: int = 4, cpu: str = "Test CPU 9000", complete: bool = True,
             skipped: list[dict[str, str]] | None = None, spread: float = 0.02,
             env: dict[str, str] | None = None, numpy_version: str = "2.0.0") -> dict[str, Any]:
    benchmarks = [bench(case, impl, t, spread) for (case, impl), t in times.items()]
    return {
        "machine_info": {
            "node": "box", "processor": "x86_64", "python_version": "3.11.7",
            "loopvec": {
                "cpu_model": cpu, "logical_cores": 4, "ram_bytes": 8 * 2**30, "os": "Linux 6.1",
                "versions": {"python": "3.11.7", "numpy": numpy_version, "numba": "0.60.0"},
                "blas": [{"user_api": "blas", "internal_api": "openblas", "version": "0.3.27",
                          "architecture": "Haswell", "threading_layer": "pthreads", "num_threads": blas_threads}],
                "numba": {"version": "0.60.0", "num_threads": blas_threads, "threading_layer": "omp"},
                "env": env or {},
            },
        },
        "commit_info": {"id": "abc"},
        "benchmarks": benchmarks,
        "datetime": "2026-01-02T03:04:05+00:00",
        "version": "5.1.0",
        "loopvec": {
            "profile": "quick", "machine": machine, "impls": ["python", "numpy", "numba"], "threads": threads,
            "only": [], "peak_gflops": {"float64": 50.0, "float32": 100.0}, "commit": "abc1234", "format": 2,
            "command": ["loopvec", "run", "--machine", machine], "complete": complete,
            "planned": len(benchmarks) + (0 if complete else 5), "finished": len(benchmarks),
            "timed": len(benchmarks), "skipped": skipped or [], "failed": [],
        },
    }


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


# Run A: the first run. B: --threads 1, with numba twice as fast, python 1.5x slower,
# numpy inside the spread; dot-n0002 only in A, b1000 python capped in B.
TIMES_A = {
    ("dot-n0002", "python"): 4e-6, ("dot-n0002", "numpy"): 1.3e-6,
    ("forward-mnist-b0001", "python"): 2e-3, ("forward-mnist-b0001", "numpy"): 20e-6,
    ("forward-mnist-b0001", "numba"): 14e-6,
    ("forward-mnist-b0100", "python"): 10e-3, ("forward-mnist-b0100", "numpy"): 100e-6,
    ("forward-mnist-b0100", "numba"): 50e-6,
    ("forward-mnist-b1000", "python"): 100e-3, ("forward-mnist-b1000", "numpy"): 500e-6,
    ("forward-mnist-b1000", "numba"): 400e-6,
}
TIMES_B = {
    ("forward-mnist-b0001", "python"): 2e-3, ("forward-mnist-b0001", "numpy"): 20e-6,
    ("forward-mnist-b0001", "numba"): 14e-6,
    ("forward-mnist-b0100", "python"): 15e-3, ("forward-mnist-b0100", "numpy"): 101e-6,
    ("forward-mnist-b0100", "numba"): 25e-6,
    ("forward-mnist-b1000", "numpy"): 900e-6, ("forward-mnist-b1000", "numba"): 400e-6,
}
CAPPED_B = [{"id": "forward-mnist-b1000-python", "reason": "pure Python capped: one call would take ~3.1 s"}]


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    a = write(tmp_path / "results" / "box-a" / "20260102T030405Z_abc1234.json", make_run("box-a", TIMES_A))
    b = write(tmp_path / "results" / "box-b" / "20260102T040405Z_abc1234.json",
              make_run("box-b", TIMES_B, threads=1, blas_threads=1, skipped=CAPPED_B))
    return a, b


def compare(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = main(["compare", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def row(out: str, case: str, impl: str) -> str:
    """The first line for (case, impl): in the timings table (a case's name is only on its first line)."""
    current = None
    for line in out.splitlines():
        parts = line.split()
        if parts and not line.startswith(" "):
            current, parts = parts[0], parts[1:]
        if current == case and parts[:1] == [impl]:
            return line
    raise AssertionError(f"no row {case} {impl} in\n{out}")


# ------------------------------------------------------------------ bad input

BAD_FILES = {
    "missing": (None, "no such file"),
    "empty": ("", "empty file"),
    "blank": ("  \n", "empty file"),
    "truncated": (None, "truncated JSON"),  # filled in from a real run below
    "not-json": ("median: 3 ms\n", "not JSON"),
    "json-list": ("[1, 2, 3]", "not a pytest-benchmark result"),
    "no-benchmarks": ('{"machine_info": {}}', "no 'benchmarks' list"),
    "no-machine-info": ('{"benchmarks": []}', "no 'machine_info'"),
    "no-median": ('{"machine_info": {}, "benchmarks": [{"name": "t", "stats": {"mean": 1}}]}', "stats.median"),
    "no-timings": ('{"machine_info": {}, "benchmarks": []}', "no timed benchmark"),
}


def bad_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.json"
    text = BAD_FILES[kind][0]
    if kind == "truncated":
        full = json.dumps(make_run("box-a", TIMES_A), indent=2)
        text = full[: len(full) // 2]
    if text is not None:
        path.write_text(text)
    return path


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_load_run_rejects_bad_files_in_one_line(tmp_path: Path, kind: str) -> None:
    path = bad_file(tmp_path, kind)
    with pytest.raises(ResultsError) as info:
        load_run(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg and BAD_FILES[kind][1] in msg


@pytest.mark.parametrize("kind", list(BAD_FILES))
@pytest.mark.parametrize("position", ["first", "second"])
def test_compare_bad_file_exit_2_one_line(tmp_path: Path, two_runs: tuple[Path, Path], kind: str, position: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = bad_file(tmp_path, kind)
    args = [bad, two_runs[0]] if position == "first" else [two_runs[0], bad]
    code, out, err = compare(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("loopvec compare: error: ")
    assert str(bad) in err and BAD_FILES[kind][1] in err
    assert "Traceback" not in err


def test_compare_no_case_in_common(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a.json", make_run("box-a", {("dot-n0002", "numpy"): 1e-6}))
    b = write(tmp_path / "b.json", make_run("box-b", {("dot-n0016", "numpy"): 2e-6}))
    code, out, err = compare(capsys, a, b)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no case" in err and str(a) in err and str(b) in err


def test_compare_needs_two_runs(two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = compare(capsys, two_runs[0])
    assert code == 2 and "at least two" in err and err.count("\n") == 1


def test_compare_missing_folder_and_folder_of_machines(tmp_path: Path, two_runs: tuple[Path, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = compare(capsys, tmp_path / "nowhere", two_runs[0])
    assert code == 2 and "no such file or folder" in err and err.count("\n") == 1
    code, _, err = compare(capsys, tmp_path / "results", two_runs[0])  # the folder above the machines
    assert code == 2 and "machine folders" in err and "box-a" in err and err.count("\n") == 1


# ------------------------------------------------------------------ compare output

def test_compare_shows_what_differs_and_ratios(two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = compare(capsys, *two_runs)
    assert code == 0, err
    # what differs between the machines comes first, with the thread settings
    differs = out.index("what differs")
    assert differs < out.index("time per call")
    section = out[differs:out.index("time per call")]
    assert re.search(r"loopvec threads\s+library default\s+1", section)
    assert re.search(r"BLAS threads\s+4\s+1", section)
    assert "CPU Test CPU 9000" in section  # the same on both: listed as such, not as a difference
    # ratios: "~ same" unless the whole interval is beyond --min-change (5%); else the ratio and its interval
    assert row(out, "forward-mnist-b0100", "numpy").rstrip().endswith("~ same")  # 1% slower: not a change
    assert re.search(r"2x faster ±[\d.]+%$", row(out, "forward-mnist-b0100", "numba").rstrip())
    assert re.search(r"1\.5x slower ±[\d.]+%$", row(out, "forward-mnist-b0100", "python").rstrip())
    assert re.search(r"1\.8x slower ±[\d.]+%$", row(out, "forward-mnist-b1000", "numpy").rstrip())
    # speedups over pure Python side by side: numba x200 in A, x600 in B at batch 100
    sp = out[out.index("speedup over pure Python"):]
    assert re.search(r"forward-mnist-b0100\s+numpy\s+x100 ±[\d.]+%\s+x149 ±[\d.]+%", sp)
    assert re.search(r"\n\s+numba\s+x200 ±[\d.]+%\s+x600 ±[\d.]+%", sp)
    assert re.search(r"forward-mnist-b1000\s+numpy\s+x200 ±[\d.]+%\s+capped", sp)
    # present in only one run: listed, not dropped
    partial = out[out.index("in only some of the runs"):]
    assert "dot-n0002: only in A" in partial
    assert "forward-mnist-b1000 python: timed only in A (B: capped)" in partial


def test_compare_identical_runs_all_same(two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = compare(capsys, two_runs[0], two_runs[0], "--fail-slower", "0")
    assert code == 0
    assert "the runs' machines and settings are the same" in out
    assert "0 of 11 timings changed by more than 0%" in out
    assert "slower" not in out.split("B vs A")[-1].split("speedup")[0]


def test_compare_synthetic_slowdown_of_20_percent_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a.json", make_run("box", TIMES_A))
    b = write(tmp_path / "b.json", make_run("box", {k: 1.2 * t for k, t in TIMES_A.items()}))
    code, out, _ = compare(capsys, a, b, "--fail-slower", "10")
    assert code == 1
    assert f"{len(TIMES_A)} of {len(TIMES_A)} timings changed by more than 10%" in out
    assert re.search(r"1\.2x slower ±", row(out, "forward-mnist-b0100", "numpy"))
    code, out, _ = compare(capsys, a, write(tmp_path / "c.json", make_run("box", TIMES_A)), "--fail-slower", "10")
    assert code == 0 and f"0 of {len(TIMES_A)} timings changed" in out


def test_compare_three_runs(tmp_path: Path, two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    c = write(tmp_path / "c.json", make_run("box-c", TIMES_A, cpu="Other CPU", numpy_version="1.26.4"))
    code, out, _ = compare(capsys, *two_runs, c)
    assert code == 0
    assert re.search(r"CPU\s+Test CPU 9000\s+Test CPU 9000\s+Other CPU", out)
    assert re.search(r"NumPy\s+2\.0\.0\s+2\.0\.0\s+1\.26\.4", out)
    assert "C vs A" in out
    # three runs: each speedup's spread across them, and how often the others fall inside a run's interval
    assert re.search(r"forward-mnist-b0100\s+numpy\s+x100 ±[\d.]+%\s+x149 ±[\d.]+%\s+x100 ±[\d.]+%\s+48\.5%", out), out
    assert "reproducibility over 3 runs" in out


def test_compare_speed_env_difference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a.json", make_run("box-a", TIMES_A))
    b = write(tmp_path / "b.json", make_run("box-a", TIMES_A, env={"OMP_NUM_THREADS": "1"}))
    _, out, _ = compare(capsys, a, b)
    assert re.search(r"OMP_NUM_THREADS\s+\(unset\)\s+1", out)


# ------------------------------------------------------------------ regression guard

def _worker_run(tmp_path: Path, name: str, factor: float, seed: int) -> Path:
    """A format-3 run: forward-mnist-b0100 numpy timed in 4 worker processes that differ by a few
    percent each (a process effect), 3 passes each, all times scaled by `factor`."""
    rng = np.random.default_rng(seed)
    data = make_run("box", {("forward-mnist-b0100", "numpy"): 1e-3})
    b = data["benchmarks"][0]
    passes, workers = [], []
    for w in range(4):
        effect = 1 + 0.04 * rng.standard_normal()
        for _ in range(3):
            passes.append([float(factor * 1e-3 * effect * (1 + 0.01 * u)) for u in rng.uniform(0, 1, ROUNDS)])
            workers.append(w)
    b["stats"] = merged_stats(passes, 1)
    b["extra_info"].update(pass_rounds=[ROUNDS] * len(passes), pass_workers=workers,
                           estimate=estimate(passes, workers))
    data["loopvec"]["format"] = 3
    return write(tmp_path / f"{name}.json", data)


@pytest.mark.parametrize("factor", [1.0, 1.05, 1.1, 1.15, 1.2, 1.3])
def test_the_table_and_the_guard_decide_by_one_rule(tmp_path: Path, factor: float,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    a = _worker_run(tmp_path, "a", 1.0, seed=1)
    b = _worker_run(tmp_path, "b", factor, seed=2)
    code, out, _ = compare(capsys, a, b, "--fail-slower", "10")
    slower_in_table = "slower" in row(out, "forward-mnist-b0100", "numpy")
    assert (code == 1) == slower_in_table  # the exit code and the table never disagree
    assert ("REGRESSION" in out) == slower_in_table
    summary = re.search(r"B vs A: (\d+) of 1 timings changed by more than 10%", out)
    assert summary and int(summary.group(1)) == int(slower_in_table)
    if factor == 1.0:
        assert code == 0  # identical code is not flagged
    if factor >= 1.3:
        assert code == 1  # a 30% slowdown is caught despite the 4% process effect

def test_guard_triggers(two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = compare(capsys, *two_runs, "--fail-slower", "40")
    assert code == 1
    guard = out[out.index("REGRESSION"):]
    assert "forward-mnist-b0100 python" in guard and "50% slower" in guard  # 10 ms -> 15 ms, interval above 40%
    assert "forward-mnist-b1000 numpy" in guard and "80% slower" in guard  # 500 µs -> 900 µs
    assert "numba" not in guard  # faster is never a regression


def test_guard_does_not_trigger(two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = compare(capsys, *two_runs, "--fail-slower", "80")
    assert code == 0
    assert "REGRESSION" not in out and "no timing of B is more than 80% slower than A" in out


def test_guard_uses_the_low_end_of_the_interval(two_runs: tuple[Path, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # python at batch 100: 10 ms -> 15 ms (+50%, rounds scattered ±2%): the interval's low end is
    # above +45% but not above +55%, so --fail-slower 45 fails and 55 passes
    code, out, _ = compare(capsys, *two_runs, "--fail-slower", "45")
    assert code == 1 and "forward-mnist-b0100 python" in out[out.index("REGRESSION"):]
    code, out, _ = compare(capsys, *two_runs, "--fail-slower", "55")
    assert "forward-mnist-b0100 python" not in out[out.index("regression guard") if code == 0 else out.index("REGRESSION"):]


def test_guard_first_run_is_the_baseline(two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = compare(capsys, two_runs[1], two_runs[0], "--fail-slower", "60")
    assert code == 1  # A's numba at batch 100 is 2x slower than B's
    assert "forward-mnist-b0100 numba" in out[out.index("REGRESSION"):]


@pytest.mark.parametrize("pct", ["-5", "abc"])
def test_guard_rejects_bad_percentages(two_runs: tuple[Path, Path], pct: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["compare", str(two_runs[0]), str(two_runs[1]), "--fail-slower", pct])
    assert info.value.code == 2
    assert "percentage" in capsys.readouterr().err


# ------------------------------------------------------------------ machine folders

@pytest.fixture
def machine_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "results" / "box-a"
    write(folder / "20260101T000000Z_aaaaaaa.json", make_run("box-a", TIMES_A))
    newer = {k: v * 2 for k, v in TIMES_A.items()}
    write(folder / "20260201T000000Z_bbbbbbb.json", make_run("box-a", newer))
    write(folder / "20260301T000000Z_ccccccc.json", make_run("box-a", TIMES_A, complete=False))  # interrupted
    (folder / ".20260401T000000Z_ddddddd.json.123.tmp").write_text("{")  # a run being written
    return folder


def test_resolve_picks_newest_complete_run(machine_folder: Path) -> None:
    warnings: list[str] = []
    assert resolve(machine_folder, warnings).name == "20260201T000000Z_bbbbbbb.json"
    assert any("20260301T000000Z_ccccccc.json" in w and "incomplete" in w for w in warnings)
    file = machine_folder / "20260101T000000Z_aaaaaaa.json"
    assert resolve(file) == file
    # a bare machine name is looked up under the results folder
    assert resolve("box-a", results_dir=machine_folder.parent).name == "20260201T000000Z_bbbbbbb.json"
    assert newest_runs(machine_folder.parent) == {"box-a": machine_folder / "20260201T000000Z_bbbbbbb.json"}


def test_resolve_passes_over_a_partial_run(machine_folder: Path) -> None:
    partial = make_run("box-a", {k: v for k, v in list(TIMES_A.items())[:1]})
    partial["loopvec"]["only"] = ["dot-n0002"]
    write(machine_folder / "20260501T000000Z_eeeeeee.json", partial)  # newest, but a few cases only
    warnings: list[str] = []
    assert resolve(machine_folder, warnings).name == "20260201T000000Z_bbbbbbb.json"
    assert any("eeeeeee" in w and "partial run" in w for w in warnings)
    only_partial = machine_folder.parent / "box-b"
    write(only_partial / "20260501T000000Z_fffffff.json", partial)
    assert resolve(only_partial).name == "20260501T000000Z_fffffff.json"  # nothing better: used


def test_compare_machine_folder_uses_newest_complete_run(machine_folder: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    oldest = machine_folder / "20260101T000000Z_aaaaaaa.json"
    code, out, err = compare(capsys, oldest, machine_folder, "--fail-slower", "50")
    assert code == 1  # the newest complete run is 2x slower everywhere
    assert "20260201T000000Z_bbbbbbb.json" in out and "ccccccc" not in out
    assert "incomplete" in err and "ccccccc" in err
    assert row(out, "forward-mnist-b0100", "numpy").rstrip().rsplit(" ±", 1)[0].endswith("2x slower")


def test_machine_folder_skips_broken_newest_file(machine_folder: Path) -> None:
    (machine_folder / "20260501T000000Z_eeeeeee.json").write_text('{"benchmarks": [')
    warnings: list[str] = []
    assert resolve(machine_folder, warnings).name == "20260201T000000Z_bbbbbbb.json"
    assert any("eeeeeee" in w and "truncated" in w for w in warnings)


def test_machine_folder_without_complete_run(tmp_path: Path, two_runs: tuple[Path, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "results" / "box-z"
    write(folder / "20260301T000000Z_ccccccc.json", make_run("box-z", TIMES_A, complete=False))
    code, _, err = compare(capsys, folder, two_runs[0])
    assert code == 2 and "no complete run" in err and err.count("\n") == 1
    empty = tmp_path / "results" / "box-empty"
    empty.mkdir()
    code, _, err = compare(capsys, empty, two_runs[0])
    assert code == 2 and "no results file" in err


def test_incomplete_file_named_explicitly_is_compared_and_flagged(tmp_path: Path, two_runs: tuple[Path, Path],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    part = write(tmp_path / "part.json", make_run("box-a", TIMES_A, complete=False))
    code, out, _ = compare(capsys, two_runs[0], part)
    assert code == 0 and "INCOMPLETE" in out


# ------------------------------------------------------------------ plain pytest-benchmark files

def plain(times: dict[str, float]) -> dict[str, Any]:
    """A pytest-benchmark file of someone else's suite: no loopvec sections, no extra_info."""
    data: dict[str, Any] = {"machine_info": {"node": "x", "python_version": "3.12.1"}, "benchmarks": []}
    for name, t in times.items():
        b = bench("x-b0001", "y", t)
        b.update(name=name, fullname=f"test_x.py::{name}", group=None, extra_info={})
        b["param"] = name.split("[")[1].rstrip("]") if "[" in name else None
        data["benchmarks"].append(b)
    return data


def test_plain_pytest_benchmark_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path / "a.json", plain({"test_sort[numpy]": 1e-3, "test_sort[python]": 5e-3, "test_io": 2e-3}))
    b = write(tmp_path / "b.json", plain({"test_sort[numpy]": 3e-3, "test_sort[python]": 5e-3, "test_io": 2e-3}))
    data = load_run(a)
    cells = {(x["extra_info"]["case"], x["extra_info"]["impl"]) for x in data["benchmarks"]}
    assert cells == {("test_sort", "numpy"), ("test_sort", "python"), ("test_io", "time")}
    code, out, _ = compare(capsys, a, b)
    assert code == 0
    assert row(out, "test_sort", "numpy").rstrip().rsplit(" ±", 1)[0].endswith("3x slower")
    assert re.search(r"test_sort\s+numpy\s+x5 ±[\d.]+%\s+x1\.67 ±[\d.]+%", out)


# ------------------------------------------------------------------ report

def full_times(scale: float) -> dict[tuple[str, str], float]:
    """A run with several workloads and sizes, the shape of the quick profile."""
    t: dict[tuple[str, str], float] = {}
    for n in (10, 1000, 100000):
        t[(f"sigmoid-n{n:04d}", "python")] = 2e-7 * n * scale
        t[(f"sigmoid-n{n:04d}", "numpy")] = (2e-6 + 5e-9 * n) * scale
    for n in (2, 16, 128):
        t[(f"dot-n{n:04d}", "python")] = 5e-8 * n**3 * scale
        t[(f"dot-n{n:04d}", "numpy")] = (1e-6 + 1e-10 * n**3) * scale
        t[(f"dot-n{n:04d}", "numba")] = (3e-6 + 1e-9 * n**3) * scale
    for wl in ("forward-mnist", "forward-mnist-f32"):
        for b in (1, 100, 1000):
            if wl == "forward-mnist" and b < 1000:
                t[(f"{wl}-b{b:04d}", "python")] = 2e-3 * b * scale
            t[(f"{wl}-b{b:04d}", "numpy")] = (20e-6 + 1e-6 * b) * scale
            t[(f"{wl}-b{b:04d}", "numba")] = (14e-6 + 2e-6 * b) * scale
    t[("batchexp-one-n10000", "numpy")] = 0.2 * scale
    return t


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    capped = [{"id": "forward-mnist-b1000-python", "reason": "pure Python capped: one call would take ~3 s"}]
    write(root / "box-a" / "20260102T030405Z_abc1234.json", make_run("box-a", full_times(1.0), skipped=capped))
    write(root / "box-b" / "20260102T040405Z_abc1234.json",
          make_run("box-b", full_times(1.7), threads=1, blas_threads=1, skipped=capped))
    write(root / "box-b" / "20260103T000000Z_def5678.json", make_run("box-b", full_times(9.0), complete=False))
    (root / "broken").mkdir()
    (root / "broken" / "20260101T000000Z_0000000.json").write_text("")
    return root


def linked_pngs(readme: str) -> list[str]:
    return re.findall(r"!\[[^\]]+\]\(([^)]+\.png)\)", readme)


def test_report_writes_readme_and_valid_linked_pngs(report_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib.image

    assert main(["report", str(report_dir)]) == 0
    out, err = capsys.readouterr()
    assert "broken" in err  # a machine folder without a usable run is reported, not fatal
    readme = (report_dir / "README.md").read_text()
    pngs = sorted(p.name for p in report_dir.glob("*.png"))
    assert pngs == sorted(["box-a-ladder.png", "box-a-time.png", "box-a-speedup.png", "box-a-gflops.png",
                           "box-b-ladder.png", "box-b-time.png", "box-b-speedup.png", "box-b-gflops.png",
                           "headline.png", "machines-forward-mnist.png"])
    links = linked_pngs(readme)
    assert sorted(links) == pngs  # every plot linked, by a relative link, once
    for name in pngs:
        path = report_dir / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        img = matplotlib.image.imread(path)
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300
        assert f"wrote {path}" in out
    # per machine: the run's table and environment; the newest *complete* run of box-b
    assert "## Machine box-a" in readme and "## Machine box-b" in readme
    section_b = readme[readme.index("## Machine box-b"):]
    assert section_b.splitlines()[2].startswith("Run [`box-b/20260102T040405Z_abc1234.json`]")
    assert "20260103T000000Z_def5678.json: incomplete run" in readme  # the newer, interrupted one: a note
    assert "forward-mnist-b0100" in readme and "crossover" in readme and "--threads 1" in readme
    assert "How to read the tables" in readme and "loopvec report" in readme
    for link in re.findall(r"\]\(([^)#]+)\)", readme):  # every relative link resolves
        assert (report_dir / link).is_file(), link
    assert not list(report_dir.glob(".*.tmp"))


@pytest.mark.slow  # two whole reports, every plot drawn twice
def test_report_regenerates_the_same_files(report_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(report_dir)]) == 0
    first = (report_dir / "README.md").read_text()
    files = sorted(p.name for p in report_dir.iterdir())
    assert main(["report", str(report_dir)]) == 0
    assert (report_dir / "README.md").read_text() == first
    assert sorted(p.name for p in report_dir.iterdir()) == files


def test_report_of_plain_and_minimal_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "results"
    write(root / "one-case" / "20260102T030405Z_abc1234.json",
          make_run("one-case", {("forward-mnist-b0001", "numpy"): 2e-5}))
    write(root / "plain" / "20260102T030405Z_abc1234.json", plain({"test_sort[numpy]": 1e-3}))
    assert main(["report", str(root)]) == 0
    readme = (root / "README.md").read_text()
    for link in linked_pngs(readme):
        assert (root / link).read_bytes()[:8] == PNG_SIGNATURE
    assert "headline.png" in linked_pngs(readme)
    assert "## Machine plain" in readme and "test_sort" in readme


@pytest.mark.parametrize("setup", ["missing", "empty", "machine-folder", "only-broken"])
def test_report_bad_results_dir(tmp_path: Path, setup: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "results"
    if setup == "empty":
        root.mkdir()
    elif setup == "machine-folder":
        write(root / "20260102T030405Z_abc1234.json", make_run("box-a", TIMES_A))
    elif setup == "only-broken":
        (root / "box").mkdir(parents=True)
        (root / "box" / "20260102T030405Z_abc1234.json").write_text("{")
    assert main(["report", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("loopvec report: error: ") and err.count("\n") == 1 and str(root) in err
    assert not (root / "README.md").exists()


def test_load_run_does_not_change_the_file(two_runs: tuple[Path, Path]) -> None:
    before = two_runs[0].read_text()
    data = load_run(two_runs[0])
    assert two_runs[0].read_text() == before
    assert data["loopvec"]["machine"] == "box-a"


def test_reference_lines_compare_the_fastest_own_implementation_with_torch() -> None:
    from loopvec.bench.present.rows import Row
    from loopvec.bench.present.table import reference_lines

    rng = np.random.default_rng(4)
    drift = 1.0 + rng.uniform(0, 0.2, 12)  # the machine's speed, pass by pass

    def passes(t: float) -> list[list[float]]:
        return [[t * d, t * d * 1.01] for d in drift]

    r = Row("forward-mnist-b0100", "forward-mnist", 100, "batch", "float64", None)
    for impl, t in (("numpy", 170e-6), ("numpy-matmuls", 50e-6), ("numba-parallel", 90e-6), ("torch", 150e-6)):
        r.estimate[impl] = float(np.quantile([min(p) for p in passes(t)], 0.25))
        r.passes[impl] = passes(t)
    act = Row("sigmoid-n0100", "sigmoid", 100, "elements", "float64", None, estimate={"numpy": 1e-6, "torch": 2e-6})
    lines = reference_lines([act, r])
    assert len(lines) == 3  # blank, title, one forward case: activations and the yardstick are left out
    assert "numba-parallel" in lines[2] and "0.60x" in lines[2]
    assert "±" in lines[2] and "±?" not in lines[2]
    assert reference_lines([Row("forward-mnist-b0001", "forward-mnist", 1, "batch", "float64", None,
                                estimate={"numpy": 1e-5})]) == []  # no torch: nothing to say


@pytest.mark.parametrize("seconds, text", [(0.0009996, "1 ms"), (0.0009995, "1 ms"), (999.7e-9, "1 µs"), (0.000999, "999 µs"), (1.5e-6, "1.5 µs"),
                                           (12.34, "12.3 s"), (1234.0, "1234 s"), (4e-10, "0.4 ns"),
                                           (0.0, "0 ns")])
def test_times_never_use_exponents(seconds: float, text: str) -> None:
    from loopvec.bench.core import fmt_time

    assert fmt_time(seconds) == text


@pytest.mark.parametrize("fmt, needle", [(99, "newer loopvec"), (None, "loopvec.format"), ("3", "loopvec.format")])
def test_a_results_format_this_loopvec_cannot_read_is_one_line(tmp_path: Path, fmt: Any, needle: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = make_run("box", TIMES_A)
    data["loopvec"]["format"] = fmt
    bad = write(tmp_path / "bad.json", data)
    good = write(tmp_path / "good.json", make_run("box", TIMES_A))
    code, _, err = compare(capsys, good, bad)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("estimate", [float("inf"), float("nan"), -1e-3, 0.0])
def test_an_impossible_estimate_is_refused_not_compared(tmp_path: Path, estimate: float,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = make_run("box", TIMES_A)
    data["benchmarks"][0]["extra_info"]["estimate"] = estimate
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))  # Infinity and NaN as Python's json writes them
    good = write(tmp_path / "good.json", make_run("box", TIMES_A))
    code, _, err = compare(capsys, good, bad, "--fail-slower", "5")
    assert code == 2 and "estimate" in err
