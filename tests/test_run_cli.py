"""`loopvec run`: results file, pytest-benchmark compatibility, errors, interruption."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers import sigint_as_at_a_terminal
from loopvec.bench import core as fmt
from loopvec.bench.present import rows as R

LOOPVEC = [sys.executable, "-m", "loopvec.bench"]
REPO = Path(__file__).resolve().parent.parent


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*LOOPVEC, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def only_file(folder: Path) -> Path:
    files = [p for p in folder.rglob("*.json")]
    assert len(files) == 1, files
    return files[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("results")
    proc = run("run", "--no-ceilings", "--impl", "python", "numpy", "--only", "dot-n0002", "--only", "forward-toy",
               "--machine", "test-box", "--results-dir", str(out))
    return proc, out


@pytest.mark.slow
def test_run_writes_results_file_pytest_benchmark_reads(tiny_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    proc, out = tiny_run
    assert proc.returncode == 0, proc.stderr + proc.stdout
    path = only_file(out)
    assert path.parent.name == "test-box"
    assert str(path) in proc.stdout
    data = json.loads(path.read_text())
    assert data["loopvec"]["complete"] is True
    assert {b["extra_info"]["case"] for b in data["benchmarks"]} == {"dot-n0002", "forward-toy-b0001",
                                                                     "forward-toy-b0100"}
    for b in data["benchmarks"]:
        e = b["extra_info"]
        assert {"impl", "workload", "size", "dtype", "flops", "first_call_s"} <= set(e)
        assert b["stats"]["median"] > 0
    lm = data["machine_info"]["loopvec"]
    assert {"cpu_model", "logical_cores", "ram_bytes", "os", "versions", "blas", "numba", "env"} <= set(lm)
    assert "peak_gflops" not in data["loopvec"]  # --no-ceilings: the run with them is below
    # pytest-benchmark's own loader and comparer accept the file
    cli = "import sys; from pytest_benchmark.cli import main; sys.argv[0] = 'pytest-benchmark'; main()"
    cmp = subprocess.run([sys.executable, "-c", cli, "compare", "--columns=median", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert cmp.returncode == 0, cmp.stderr
    assert "forward-toy-b0001-numpy" in cmp.stdout


@pytest.mark.slow
def test_run_prints_table_with_speedups(tiny_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    proc, out = tiny_run
    data = json.loads(only_file(out).read_text())
    rows = {r.case: r for r in R.rows(data)}
    toy = rows["forward-toy-b0001"]
    iv = toy.speedup_iv["numpy"]  # the speedup and its interval, as stored
    assert iv.lo <= iv.value <= iv.hi
    assert iv.value == pytest.approx(toy.estimate["python"] / toy.estimate["numpy"])  # a ratio of the estimates
    assert f"x{fmt.fmt_ratio(iv.value)} {fmt.pm(iv)}" in proc.stdout  # printed as stored, with its interval
    assert "crossover" in proc.stdout  # forward-toy ran at two sizes
    assert "forward-toy" in proc.stdout.split("crossover")[1]


@pytest.mark.parametrize(
    "args, expect",
    [
        (["--impl", "nope"], "unknown implementation 'nope'"),
        (["--threads", "0"], "--threads"),
        (["--threads", "many"], "--threads"),
        (["--threads", "100000"], "--threads"),
        (["--only", "no-such-case"], "no case matches"),
        (["--machine", "Bad Name/x"], "--machine"),
    ],
)
@pytest.mark.slow
def test_run_bad_arguments_exit_2(tmp_path: Path, args: list[str], expect: str) -> None:
    proc = run("run", *args, "--results-dir", str(tmp_path), timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expect in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("*.json"))


@pytest.mark.slow
def test_interrupted_run_keeps_finished_cases(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*LOOPVEC, "run", "--no-ceilings", "--impl", "python", "--only", "sigmoid", "--only", "softmax", "--only", "forward-mnist",
         "--machine", "interrupted", "--results-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        preexec_fn=sigint_as_at_a_terminal)
    assert proc.stdout is not None
    watchdog = threading.Timer(300, proc.kill)  # a stalled run fails the test instead of hanging it
    watchdog.start()
    finished = 0
    try:
        for line in proc.stdout:  # Ctrl-C once two cases have finished
            if "] " in line and " passes, " in line:  # a case line of the first worker
                finished += 1
                if finished == 2:
                    proc.send_signal(signal.SIGINT)
                    break
        rest, err = proc.communicate(timeout=120)
    finally:
        watchdog.cancel()
    assert proc.returncode == 130, err
    assert "interrupted" in rest
    path = only_file(tmp_path)
    data = json.loads(path.read_text())
    assert data["loopvec"]["complete"] is False
    assert 2 <= data["loopvec"]["finished"] < data["loopvec"]["planned"]
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_list_prints_case_ids_and_writes_nothing(tmp_path: Path) -> None:
    proc = run("run", "--list", "--impl", "numpy", "numpy", "--only", "forward-mnist-b0100",
               "--results-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    # duplicates in --impl run once; numpy's matrix products alone are timed beside its forward
    assert proc.stdout.split() == ["forward-mnist-b0100-numpy", "forward-mnist-b0100-numpy-matmuls"]
    assert not list(tmp_path.rglob("*"))


@pytest.mark.slow
def test_data_option_must_be_a_folder(tmp_path: Path) -> None:
    proc = run("run", "--data", str(tmp_path / "missing"), "--results-dir", str(tmp_path))
    assert proc.returncode == 2
    assert "--data" in proc.stderr and "not a folder" in proc.stderr


@pytest.mark.slow
def test_all_cases_skipped_is_not_an_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LOOPVEC_DATA"}
    proc = subprocess.run([*LOOPVEC, "run", "--no-ceilings", "--impl", "numpy", "--only", "mnist-real", "--results-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "real MNIST not found: run `loopvec fetch-mnist` (or set LOOPVEC_DATA)" in proc.stdout
    assert "no case was timed" in proc.stdout
    assert "Warning" not in proc.stderr


@pytest.mark.slow
def test_numba_run_records_compile_and_cached_first_calls(tmp_path: Path) -> None:
    proc = run("run", "--no-ceilings", "--impl", "numba", "--only", "forward-toy-b0001", "--startup-probe", "--results-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(only_file(tmp_path).read_text())
    st = data["loopvec"]["numba_startup"]["numba"]
    assert st["compile_s"] > 0 and st["cached_s"] > 0 and st["steady_s"] > 0
    assert "compiling" in proc.stdout and "cache=True" in proc.stdout
    (b,) = data["benchmarks"]
    assert b["extra_info"]["first_call_s"] > 0
    # the toy network 2-3-2-2 does 2*3 + 3*2 + 2*2 = 16 multiply-adds a sample, 2 flops each
    assert b["extra_info"]["flops"] == 32
    assert b["extra_info"]["gflops"] * b["extra_info"]["estimate"] * 1e9 == pytest.approx(32)


@pytest.mark.slow
def test_a_run_records_bandwidth_bytes_and_memory_per_call(tmp_path: Path) -> None:
    proc = run("run", "--impl", "numpy", "numba-tuned", "--only", "relu-n1000", "--only", "forward-toy-b0001",
               "--memory", "--processes", "1", "--results-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(only_file(tmp_path).read_text())
    assert data["loopvec"]["peak_gflops"]["float64"] > 0
    bw = data["loopvec"]["bandwidth"]
    assert bw["ceiling"]["cache"] > 0 and bw["ceiling"]["dram"] > 0
    assert bw["footprints"]["cache"] < bw["l3_bytes"] < bw["footprints"]["dram"]
    assert "bandwidth (STREAM-style" in proc.stdout and "rate (best, % of the binding limit)" in proc.stdout
    got = {(b["extra_info"]["case"], b["extra_info"]["impl"]): b["extra_info"] for b in data["benchmarks"]}
    assert got[("relu-n1000", "numpy")]["bytes"] == 16_000  # 1000 float64 read, 1000 written
    assert got[("forward-toy-b0001", "numpy")]["bytes"] == 27 * 8  # x 2, W and b 6+3, 6+2, 4+2, out 2
    for e in got.values():
        assert e["memory"]["method"] != "not measured", e["memory"]
        assert e["gbps"] == pytest.approx(e["bytes"] / e["estimate"] / 1e9)
    assert got[("relu-n1000", "numpy")]["memory"]["peak_bytes"] >= 8_000  # its output array
    assert got[("relu-n1000", "numba-tuned")]["memory"]["allocations"] >= 1  # the output, through Numba's NRT
