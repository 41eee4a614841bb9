"""Nothing lost, nothing clobbered: real signals, concurrent runs, failing writes, hostile files.

Every test writes only inside its own tmp_path; devices are stood in for by fifos made there.
"""
from __future__ import annotations

import gzip
import io
import json
from typing import Any
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import AVAILABLE, sigint_as_at_a_terminal

REPO = Path(__file__).resolve().parent.parent
LOOPVEC = [sys.executable, "-m", "loopvec.bench"]


def env_for(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LOOPVEC_DATA", "NUMBA_NUM_THREADS",
                                                            "NUMBA_THREADING_LAYER")}
    (tmp / "tmp").mkdir(exist_ok=True)
    env.update(TMPDIR=str(tmp / "tmp"), XDG_DATA_HOME=str(tmp / "data-home"), **extra)
    return env


def cli(tmp: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*LOOPVEC, *args], capture_output=True, text=True, timeout=timeout, cwd=tmp,
                          env=env or env_for(tmp))


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def results_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.json"))


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith("loopvec-")]


# ------------------------------------------------------------------ signals: a run keeps every finished case (cli/cmd_run.py, measure/pool.py)

def run_and_signal(tmp: Path, sigs: list[int], gap: float = 0.0) -> tuple[subprocess.Popen, str, str]:
    """Start a run whose second case is slow pure Python (about 2 s a call; the full profile does not
    cap it); send `sigs` while
    that case's first round runs, once the first case has finished."""
    proc = subprocess.Popen([*LOOPVEC, "run", "--no-ceilings", "--profile", "full", "--impl", "numpy", "python", "--only", "forward-mnist-b0001-",
                             "--only", "forward-mnist-b1000-", "--machine", "sig", "--results-dir", str(tmp / "res")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp, env=env_for(tmp),
                            preexec_fn=sigint_as_at_a_terminal)
    watchdog = threading.Timer(240, proc.kill)
    watchdog.start()
    out = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if "[  1/2]" in line:  # the first worker finished its first case
                time.sleep(0.5)  # inside the slow case: validating or timing its first call
                for i, s in enumerate(sigs):
                    if i:
                        time.sleep(gap)
                    proc.send_signal(s)
                break
        rest, err = proc.communicate(timeout=120)
    finally:
        watchdog.cancel()
    return proc, "".join(out) + rest, err


@pytest.mark.slow
@pytest.mark.parametrize("sigs", [[signal.SIGINT], [signal.SIGINT, signal.SIGINT], [signal.SIGTERM], [signal.SIGHUP]],
                         ids=["sigint", "double-sigint", "sigterm", "sighup"])
def test_a_signal_during_a_slow_case_keeps_the_finished_case(tmp_path: Path, sigs: list[int]) -> None:
    proc, out, err = run_and_signal(tmp_path, sigs, gap=0.2)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    (path,) = results_files(tmp_path / "res")
    data = json.loads(path.read_text())
    lv = data["loopvec"]
    assert lv["complete"] is False and lv["finished"] == 1 and lv["planned"] == 2
    assert {b["extra_info"]["case"] for b in data["benchmarks"]} == {"forward-mnist-b0001"}
    assert not leftovers(tmp_path / "res") and not leftovers(tmp_path / "tmp")


def _probe_processes() -> list[str]:
    found = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        if b"mnist_shaped_network" in cmd and b"-c" in cmd:
            found.append(d.name)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to look for orphan processes")
def test_sigterm_during_the_numba_probe_leaves_no_orphan_and_no_temp_folder(tmp_path: Path) -> None:
    before = set(_probe_processes())
    proc = subprocess.Popen([*LOOPVEC, "run", "--no-ceilings", "--impl", "numba", "--only", "forward-toy-b0001", "--startup-probe",
                             "--results-dir", str(tmp_path / "res")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=env_for(tmp_path))
    assert proc.stdout is not None
    for line in proc.stdout:
        if "first call in a new process" in line:
            time.sleep(1.0)  # the probe child is running now
            proc.send_signal(signal.SIGTERM)
            break
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    time.sleep(0.5)
    assert set(_probe_processes()) - before == set()
    assert not leftovers(tmp_path / "tmp")
    assert not list((tmp_path / "res").rglob("*"))  # nothing saved, no empty machine folder left


# ------------------------------------------------------------------ two runs at once: unique names (store/atomic.py)

@pytest.mark.slow
def test_two_concurrent_runs_into_one_folder_keep_both_files(tmp_path: Path) -> None:
    args = [*LOOPVEC, "run", "--no-ceilings", "--only", "step-n0010", "--impl", "numpy", "--machine", "same", "--results-dir",
            str(tmp_path / "res")]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                              env=env_for(tmp_path)) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    files = results_files(tmp_path / "res")
    assert len(files) == 2, files
    assert all(json.loads(f.read_text())["loopvec"]["complete"] for f in files)


# ------------------------------------------------------------------ writing: unwritable, failing and closed outputs (store/atomic.py, cli/cmd_run.py)

@pytest.mark.slow  # subprocess runs of loopvec
def test_unwritable_results_folder_fails_before_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "res"
    blocker.write_text("a file where the results folder should be")
    proc = cli(tmp_path, "run", "--only", "step-n0010", "--impl", "numpy", "--results-dir", str(blocker))
    one_line_error(proc, "--results-dir", "res")
    assert "measuring peak" not in proc.stdout  # refused before any work
    assert blocker.read_text().startswith("a file")


FAILING_WRITES = """
import errno, os, sys
results = sys.argv[1]
real_link, real_replace = os.link, os.replace
def full(*paths):
    if any(str(p).startswith(results) for p in paths[1:]):
        raise OSError(errno.ENOSPC, "No space left on device")
def link(a, b, *k, **kw):
    full(a, b); return real_link(a, b, *k, **kw)
def replace(a, b, *k, **kw):
    full(a, b); return real_replace(a, b, *k, **kw)
os.link, os.replace = link, replace
from loopvec.bench.cli.main import main
sys.argv = ["loopvec", "run", "--no-ceilings", "--only", "step-n0010", "--impl", "numpy", "--machine", "m", "--results-dir", results]
sys.exit(main())
"""


@pytest.mark.slow
def test_a_failing_final_write_saves_to_the_temp_folder_and_says_so(tmp_path: Path) -> None:
    res = str(tmp_path / "res")
    proc = subprocess.run([sys.executable, "-c", FAILING_WRITES, res], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env_for(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "No space left on device" in proc.stderr and "saved them instead" in proc.stderr
    assert not list(Path(res).rglob("*.json")) and not leftovers(Path(res))  # no partial file
    (saved,) = results_files(tmp_path / "tmp" / "loopvec-results")
    assert json.loads(saved.read_text())["loopvec"]["complete"] is True


@pytest.mark.slow
def test_closed_stdout_does_not_stop_the_run(tmp_path: Path) -> None:
    proc = subprocess.Popen([*LOOPVEC, "run", "--no-ceilings", "--only", "step-n0010", "--impl", "numpy", "--results-dir",
                             str(tmp_path / "res")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                            env=env_for(tmp_path))
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, err
    assert "stdout was closed" in err
    assert len(results_files(tmp_path / "res")) == 1


@pytest.mark.slow  # subprocess runs of loopvec
def test_convert_weights_refuses_a_fifo_and_its_own_input(tmp_path: Path) -> None:
    from loopvec.bench.data.weights import save_npz
    from loopvec.impls.network import mnist_shaped_network

    src = save_npz(mnist_shaped_network(dtype=np.float32), tmp_path / "w.npz")
    fifo = tmp_path / "out.npz"
    os.mkfifo(fifo)  # stands in for /dev/null: not a regular file
    one_line_error(cli(tmp_path, "convert-weights", str(src), str(fifo)), "fifo")
    assert fifo.is_fifo()
    before = src.read_bytes()
    link = tmp_path / "link.npz"
    link.symlink_to(src)
    one_line_error(cli(tmp_path, "convert-weights", str(src), str(link)), "input file itself")
    one_line_error(cli(tmp_path, "convert-weights", str(src), str(src)), "input file itself")
    assert src.read_bytes() == before


# ------------------------------------------------------------------ Numba's environment variables (impls/_numba_setup.py)

@pytest.mark.parametrize("var, value, command", [
    ("NUMBA_NUM_THREADS", "0", ["list"]),
    ("NUMBA_NUM_THREADS", "many", ["check"]),
    ("NUMBA_THREADING_LAYER", "bogus", ["run", "--only", "step-n0010"]),
])
@pytest.mark.slow  # subprocess runs of loopvec
def test_bad_numba_settings_are_one_line_errors(tmp_path: Path, var: str, value: str, command: list[str]) -> None:
    extra = ["--results-dir", str(tmp_path / "res")] if command[0] == "run" else []
    proc = cli(tmp_path, *command, *extra, env=env_for(tmp_path, **{var: value}))
    one_line_error(proc, var)
    assert not (tmp_path / "res").exists()


# ------------------------------------------------------------------ hostile files: results, weights, IDX (store/results.py, data/weights.py, data/idx.py)

def _good_run(tmp: Path) -> Path:
    proc = cli(tmp, "run", "--no-ceilings", "--only", "step-n0010", "--impl", "numpy", "--machine", "good", "--results-dir",
               str(tmp / "res"))
    assert proc.returncode == 0, proc.stderr
    return results_files(tmp / "res")[0]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _good_run(tmp_path_factory.mktemp("good"))


@pytest.mark.slow  # good_run is a subprocess run of loopvec
@pytest.mark.parametrize("breakage", ["env-list", "versions-str", "peak-str", "deep", "fifo", "ansi"])
def test_compare_refuses_hostile_results_files(tmp_path: Path, good_run: Path, breakage: str) -> None:
    data = json.loads(good_run.read_text())
    bad = tmp_path / "bad.json"
    if breakage == "env-list":
        data["machine_info"]["loopvec"]["env"] = ["OPENBLAS_CORETYPE"]
    elif breakage == "versions-str":
        data["machine_info"]["loopvec"]["versions"] = "numpy 2"
    elif breakage == "peak-str":
        data["loopvec"]["peak_gflops"] = {"float64": "fast"}
    elif breakage == "ansi":
        data["loopvec"]["machine"] = "\x1b[31mred\x1b[0m"
    if breakage == "deep":
        bad.write_text("[" * 100_000 + "]" * 100_000)
    elif breakage == "fifo":
        os.mkfifo(bad)  # stands in for /dev/zero: never opened
    else:
        bad.write_text(json.dumps(data))
    proc = cli(tmp_path, "compare", str(good_run), str(bad), timeout=60)
    if breakage == "ansi":
        assert proc.returncode == 0 and "\x1b" not in proc.stdout and "red" in proc.stdout
        return
    one_line_error(proc, "bad.json")


@pytest.mark.slow  # good_run is a subprocess run of loopvec
def test_report_of_a_file_says_it_is_a_file(tmp_path: Path, good_run: Path) -> None:
    one_line_error(cli(tmp_path, "report", str(good_run)), "is a file")


def _npz_claiming(tmp: Path, shape: tuple[int, ...]) -> Path:
    buf = io.BytesIO()
    np.lib.format.write_array_header_2_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    path = tmp / "bomb.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("W1.npy", b"\x93NUMPY\x02\x00" + buf.getvalue()[8:] + b"\0" * 64)
    return path


def test_npz_whose_header_claims_a_huge_array_is_refused(tmp_path: Path) -> None:
    from loopvec.bench.data.files import DataError
    from loopvec.bench.data.weights import load_weights

    with pytest.raises(DataError, match="claims shape"):
        load_weights(_npz_claiming(tmp_path, (10**6, 10**6)))


def test_npz_zip_bomb_is_refused_before_it_inflates(tmp_path: Path) -> None:
    from loopvec.bench.data.files import DataError
    from loopvec.bench.data.weights import load_weights

    path = tmp_path / "zipbomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf, zf.open("W1.npy", "w", force_zip64=True) as f:
        chunk = b"\0" * 2**20
        for _ in range(80):  # 80 MB of zeros, a few hundred kB on disk
            f.write(chunk)
    assert path.stat().st_size < 2**20
    with pytest.raises(DataError, match="would inflate"):
        load_weights(path)


def test_gzip_bomb_idx_is_refused_without_inflating_it(tmp_path: Path) -> None:
    from loopvec.bench.data.files import DataError
    from loopvec.bench.data.idx import IMAGES_MAGIC, read_idx

    header = struct.pack(">IIII", IMAGES_MAGIC, 10, 28, 28)
    comp = gzip.GzipFile(tmp_path / "bomb.gz", "wb")
    comp.write(header + b"\0" * (10 * 28 * 28))
    chunk = b"\0" * 2**20
    for _ in range(200):  # 200 MB past the data the header announces
        comp.write(chunk)
    comp.close()
    with pytest.raises(DataError, match="trailing bytes"):
        read_idx(tmp_path / "bomb.gz", IMAGES_MAGIC)
    (tmp_path / "huge.idx").write_bytes(struct.pack(">IIII", IMAGES_MAGIC, 100_000, 1000, 1000))
    with pytest.raises(DataError, match="claims"):
        read_idx(tmp_path / "huge.idx", IMAGES_MAGIC)


@pytest.mark.parametrize("dtype", [np.int64, np.bool_])
def test_integer_or_boolean_weights_are_refused(tmp_path: Path, dtype: type) -> None:
    from loopvec.bench.data.files import DataError
    from loopvec.bench.data.weights import load_weights

    params = {"W1": np.ones((4, 3), dtype=dtype), "b1": np.ones(3, dtype=dtype)}
    np.savez(tmp_path / "w.npz", **params)
    with pytest.raises(DataError, match=f"dtype {np.dtype(dtype)}"):
        load_weights(tmp_path / "w.npz")


@pytest.mark.parametrize("args, needle", [(["--seed", "-1"], "--seed"), (["--samples", "10000000"], "--samples")])
@pytest.mark.slow  # subprocess runs of loopvec
def test_check_bad_numbers_are_one_line_errors(tmp_path: Path, args: list[str], needle: str) -> None:
    one_line_error(cli(tmp_path, "check", *args), needle)


@pytest.mark.slow  # a subprocess run of loopvec
def test_corrupt_data_folder_is_an_input_error_before_any_case(tmp_path: Path) -> None:
    data = tmp_path / "mnist"
    data.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "sample_weight.pkl"):
        (data / name).write_bytes(b"<html>403 Forbidden</html>")
    proc = cli(tmp_path, "run", "--only", "mnist-real", "--data", str(data), "--results-dir", str(tmp_path / "res"))
    one_line_error(proc)
    assert "measuring peak" not in proc.stdout


# ------------------------------------------------------------------ argument messages and leftovers (cli/args.py, cli/cmd_run.py)

@pytest.mark.parametrize("args, needle", [
    (["--only", ""], "empty pattern"),
    (["--machine", "m" * 300], "at most 60"),
    (["--threads", "1000", "--only", "dot-n0002", "--impl", "numba"], "numba can use at most"),
    (["--data", ""], "empty string"),
])
@pytest.mark.slow  # subprocess runs of loopvec
def test_run_argument_messages(tmp_path: Path, args: list[str], needle: str) -> None:
    one_line_error(cli(tmp_path, "run", *args, "--results-dir", str(tmp_path / "res")), needle)
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("command", [["run", "--results-dir", ""], ["report", ""], ["fetch-mnist", "--dest", ""],
                                     ["compare", "a.json", "", "--results-dir", "r"], ["explain", "--results-dir", ""]])
@pytest.mark.slow  # subprocess runs of loopvec
def test_an_empty_path_is_refused_not_taken_as_the_current_folder(tmp_path: Path, command: list[str]) -> None:
    one_line_error(cli(tmp_path, *command), "empty string")
    assert not [p for p in tmp_path.iterdir() if p.name not in ("tmp",)]


@pytest.mark.slow  # subprocess runs of loopvec
def test_threads_with_numpy_alone_does_not_blame_numba(tmp_path: Path) -> None:
    proc = cli(tmp_path, "run", "--threads", "3", "--impl", "numpy", "--list")
    assert proc.returncode == 0 and "Numba" not in proc.stderr


@pytest.mark.slow
def test_a_run_that_saves_nothing_leaves_no_folder(tmp_path: Path) -> None:
    proc = cli(tmp_path, "run", "--impl", "numpy", "--only", "mnist-real", "--results-dir", str(tmp_path / "res"))
    assert proc.returncode == 0, proc.stderr
    assert "nothing to save" in proc.stdout
    assert not list((tmp_path / "res").rglob("*"))
    assert not (tmp_path / ".benchmarks").exists()


# ------------------------------------------------------------------ bad input to the implementations (impls/impl_python.py, impl_torch.py)

def test_pure_python_refuses_object_arrays_like_the_others() -> None:
    from loopvec import impls
    from loopvec.impls.network import init_network

    x = np.array([1.0, "a"], dtype=object)
    for name in ("python", "numpy"):
        m = impls.get(name)
        with pytest.raises(impls.InputError):
            m.forward(m.prepare(init_network()), x)


def test_pure_python_empty_inner_dimension_is_the_documented_difference() -> None:
    from loopvec import impls

    py = impls.get("python")
    assert py.dot(np.zeros((2, 0)), np.zeros((0, 3))) == [0, 0]  # as documented: shape (2,), not (2, 3)
    assert impls.get("numpy").dot(np.zeros((2, 0)), np.zeros((0, 3))).shape == (2, 3)


@pytest.mark.skipif("torch" not in AVAILABLE, reason="torch is not installed")
def test_torch_takes_read_only_arrays_without_a_warning() -> None:
    import warnings

    from loopvec import impls
    from loopvec.impls.network import init_network

    t = impls.get("torch")
    x = np.frombuffer(np.array([1.0, 0.5]).tobytes())  # read-only
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = t.to_numpy(t.forward(t.prepare(init_network()), x))
    np.testing.assert_allclose(out, [0.31682708, 0.69627909], atol=1e-8)


# ------------------------------------------------------------------ output on a full device

@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", [["list"], ["run", "--no-ceilings", "--only", "forward-toy-b0001", "--impl", "numpy", "--processes",
                                                "1", "--machine", "full"]])
def test_a_full_stdout_is_one_line_and_never_costs_the_results(tmp_path: Path, command: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([*LOOPVEC, *command, "--results-dir", str(tmp_path)] if command[0] == "run"
                              else [*LOOPVEC, *command], stdout=full, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path, env=env_for(tmp_path), timeout=300)
    assert "Traceback" not in proc.stderr
    assert "No space left on device" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    if command[0] == "run":
        assert proc.returncode == 0 and len(results_files(tmp_path / "full")) == 1  # saved all the same
    else:
        assert proc.returncode == 1


@pytest.mark.slow
def test_report_cleans_machine_names_it_prints(tmp_path: Path, good_run: Path) -> None:
    evil = tmp_path / "res" / "evil\x1b]0;pwned\x07\x1b[2J"
    evil.mkdir(parents=True)
    (evil / good_run.name).write_bytes(good_run.read_bytes())
    proc = subprocess.run([*LOOPVEC, "report", str(tmp_path / "res")], capture_output=True, text=True,
                          env=env_for(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout and "evil]0;pwned" in proc.stdout


def test_results_go_wherever_there_is_room_and_stderr_as_a_last_resort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The results folder and the temporary folder full (ENOSPC, as on one full disk): saved under
    the home folder; every folder full: the JSON goes to stderr."""
    import errno

    from loopvec.bench.cli import cmd_run
    from loopvec.bench.store import atomic

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(atomic.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    real = atomic.write_atomic
    room = {"home": True}

    def full_but_home(path: Any, data: Any, **kw: Any) -> Path:
        if room["home"] and Path(path).is_relative_to(home):
            return real(path, data, **kw)
        raise atomic.WriteError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "write_atomic", full_but_home)
    final = tmp_path / "res" / "m" / "x.json"
    saved = cmd_run._save({"benchmarks": []}, final)
    assert saved is not None and saved.is_relative_to(home) and json.loads(saved.read_text()) == {"benchmarks": []}
    err = capsys.readouterr().err
    assert "cannot save the results where asked" in err and f"saved them instead to {saved}" in err
    room["home"] = False
    monkeypatch.chdir(tmp_path)
    assert cmd_run._save({"benchmarks": [1]}, final) is None
    err = capsys.readouterr().err
    assert '"benchmarks": [' in err and "here they are as JSON" in err


class _Declares:
    """Pickles as a call that would allocate a lot: `fn(*args)`."""

    def __init__(self, fn: Any, args: tuple) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple:
        return self.fn, self.args


def _reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct as r
    except ImportError:  # NumPy 1
        from numpy.core.multiarray import _reconstruct as r
    return r


@pytest.mark.parametrize("fn, args, needle", [
    (bytearray, (4 << 30,), "bytearray of 4,294,967,296 bytes"),
    (np.ndarray, ((1 << 28,), "f8"), "2,147,483,648 bytes"),
    ("reconstruct", (np.ndarray, (784, 1_300_000), "f4"), "4,076,800,000 bytes"),
], ids=["bytearray", "ndarray", "reconstruct"])
def test_a_pickle_that_declares_a_huge_allocation_is_refused_before_it(tmp_path: Path, fn: Any, args: tuple,
                                                                        needle: str) -> None:
    import pickle
    import tracemalloc

    from loopvec.bench.data.files import DataError
    from loopvec.bench.data.weights import load_pickle_params

    f = tmp_path / "it.pkl"
    f.write_bytes(pickle.dumps({"W1": _Declares(_reconstruct() if fn == "reconstruct" else fn, args)}, protocol=2))
    assert f.stat().st_size < 200
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=needle):
            load_pickle_params(f)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20  # refused from what it declares, not after allocating it
