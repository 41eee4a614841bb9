"""MNIST loaders, safe weights and `loopvec mnist` / `convert-weights` on small files made here.

No real data: IDX files, pickles and .npz are written by the tests (see
tests/test_mnist_real.py for the real test set through LOOPVEC_DATA).
"""
from __future__ import annotations

import builtins
import gzip
import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from loopvec import impls
from loopvec.bench.data import files, idx, weights
from loopvec.bench.data import mnist
from loopvec.bench.cli.main import main
from loopvec.bench.data.files import ENV_VAR, IMAGES_FILE, LABELS_FILE, NEEDED_FILES, DataError
from loopvec.bench.data.idx import load_images_labels, load_mnist, read_idx
from loopvec.bench.data.mnist import run_experiment
from loopvec.bench.data.weights import load_weights, save_npz
from loopvec.impls.network import Network, random_network, to_dict

N_IMAGES = 20


# --- helpers ---

def idx_bytes(magic: int, array: np.ndarray) -> bytes:
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def write(path: Path, data: bytes, gz: bool | None = None) -> Path:
    if gz is None:
        gz = path.suffix == ".gz"
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def make_data(folder: Path, n: int = N_IMAGES, seed: int = 0, gz: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    # Without gzip, the files go under the uncompressed names (".gz" dropped), which load_mnist also accepts.
    names = (IMAGES_FILE.name, LABELS_FILE.name) if gz else (IMAGES_FILE.name[:-3], LABELS_FILE.name[:-3])
    write(folder / names[0], idx_bytes(2051, images), gz=gz)
    write(folder / names[1], idx_bytes(2049, labels), gz=gz)
    return images, labels


def tiny_network(seed: int = 0) -> Network:
    return random_network((784, 16, 10), seed=seed, hidden="sigmoid", output="softmax", dtype=np.float32)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    make_data(d)
    save_npz(tiny_network(), d / "net.npz")
    return d


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # a usage error from argparse: one line, exit 2
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("loopvec ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --- IDX: valid files ---

@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_read_idx_gzip_and_raw(tmp_path: Path, gz: bool) -> None:
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 256
    path = write(tmp_path / ("img.gz" if gz else "img"), idx_bytes(2051, images), gz=gz)
    out = read_idx(path, 2051)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)


def test_gzip_detected_by_magic_bytes_not_name(tmp_path: Path) -> None:
    labels = np.array([1, 2, 3], dtype=np.uint8)
    path = write(tmp_path / "labels.idx", idx_bytes(2049, labels), gz=True)  # gzip under a plain name
    np.testing.assert_array_equal(read_idx(path, 2049), labels)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_load_mnist_preprocesses_as_the_book(tmp_path: Path, gz: bool) -> None:
    images, labels = make_data(tmp_path, gz=gz)
    X, y = load_mnist(tmp_path)
    assert X.dtype == np.float32 and X.shape == (N_IMAGES, 784)
    assert y.dtype == np.int64 and y.shape == (N_IMAGES,)
    expected = images.reshape(N_IMAGES, 784).astype(np.float32)
    expected /= 255.0
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_array_equal(y, labels)
    assert 0.0 <= X.min() and X.max() <= 1.0


# --- IDX: broken files ---

def _html(d: Path) -> tuple[Path, tuple[str, ...]]:
    p = d / IMAGES_FILE.name
    p.write_bytes(b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head></html>\n")
    return p, ("not a gzip file", "HTML")


def _truncated(d: Path) -> tuple[Path, tuple[str, ...]]:
    p = d / IMAGES_FILE.name
    full = gzip.decompress(p.read_bytes())
    write(p, full[:-100])
    return p, ("truncated", f"expected {len(full)} bytes", f"got {len(full) - 100}")


def _truncated_gzip_stream(d: Path) -> tuple[Path, tuple[str, ...]]:
    p = d / LABELS_FILE.name
    p.write_bytes(p.read_bytes()[:-12])
    return p, ("corrupt or truncated gzip",)


def _trailing(d: Path) -> tuple[Path, tuple[str, ...]]:
    p = d / LABELS_FILE.name
    write(p, gzip.decompress(p.read_bytes()) + b"\x00\x00")
    return p, ("trailing bytes", f"expected {8 + N_IMAGES} bytes", f"got more than {8 + N_IMAGES}")


def _wrong_magic(d: Path) -> tuple[Path, tuple[str, ...]]:
    p = d / IMAGES_FILE.name
    write(p, idx_bytes(2049, np.zeros(N_IMAGES, dtype=np.uint8)))  # a labels file under the images name
    return p, ("wrong magic number 2049", "expected 2051", "labels")


def _wrong_magic_labels(d: Path) -> tuple[Path, tuple[str, ...]]:
    p = d / LABELS_FILE.name
    write(p, struct.pack(">II", 1234, N_IMAGES) + bytes(N_IMAGES))
    return p, ("wrong magic number 1234", "expected 2049")


def _count_mismatch(d: Path) -> tuple[Path, tuple[str, ...]]:
    p = d / LABELS_FILE.name
    write(p, idx_bytes(2049, np.zeros(N_IMAGES - 1, dtype=np.uint8)))
    return p, (f"{N_IMAGES} images", f"{N_IMAGES - 1} labels", IMAGES_FILE.name)


def _missing(d: Path) -> tuple[Path, tuple[str, ...]]:
    p = d / LABELS_FILE.name
    p.unlink()
    return p, ("file not found",)


def _wrong_size_images(d: Path) -> tuple[Path, tuple[str, ...]]:
    p = d / IMAGES_FILE.name
    write(p, idx_bytes(2051, np.zeros((N_IMAGES, 10, 10), dtype=np.uint8)))
    return p, ("10 x 10", "expected 28 x 28")


BROKEN = {
    "html-named-gz": _html,
    "truncated": _truncated,
    "truncated-gzip": _truncated_gzip_stream,
    "trailing-bytes": _trailing,
    "wrong-magic-images": _wrong_magic,
    "wrong-magic-labels": _wrong_magic_labels,
    "count-mismatch": _count_mismatch,
    "missing-file": _missing,
    "not-28x28": _wrong_size_images,
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_data_is_a_data_error_naming_file_and_problem(data_dir: Path, case: str) -> None:
    path, needles = BROKEN[case](data_dir)
    with pytest.raises(DataError) as info:
        load_mnist(data_dir)
    msg = str(info.value)
    assert str(path) in msg
    for needle in needles:
        assert needle in msg, (needle, msg)


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_data_via_cli_is_exit_2_one_line(data_dir: Path, case: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path, needles = BROKEN[case](data_dir)
    code, out, err = run_cli(capsys, "mnist", "--data", data_dir, "--weights", data_dir / "net.npz",
                             "--impl", "numpy")
    assert_one_line_error(code, err, path.name, *needles)
    assert out == ""


def test_wrong_magic_names_the_file_directly(tmp_path: Path) -> None:
    p = write(tmp_path / "x.gz", struct.pack(">I", 2049) + bytes(8))
    with pytest.raises(DataError, match=r"x\.gz: wrong magic number 2049"):
        read_idx(p, 2051)


def test_empty_file_named_gz(tmp_path: Path) -> None:
    p = tmp_path / "empty.gz"
    p.write_bytes(b"")
    with pytest.raises(DataError, match="not a gzip file; it is empty"):
        read_idx(p, 2051)


def test_loaders_never_return_a_wrong_array_for_a_short_header(tmp_path: Path) -> None:
    p = write(tmp_path / "short", struct.pack(">II", 2051, 5), gz=False)  # 3 dims promised, 1 given
    with pytest.raises(DataError, match="truncated: expected 16 bytes of header"):
        read_idx(p, 2051)


def test_count_mismatch_direct(tmp_path: Path) -> None:
    imgs = write(tmp_path / "i", idx_bytes(2051, np.zeros((3, 28, 28), np.uint8)), gz=False)
    labs = write(tmp_path / "l", idx_bytes(2049, np.zeros(4, np.uint8)), gz=False)
    with pytest.raises(DataError, match="has 3 images but .* has 4 labels"):
        load_images_labels(imgs, labs)


# --- data folder resolution ---

def test_no_data_folder_lists_needed_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(DataError) as info:
        files.resolve_data_dir(None)
    msg = str(info.value)
    assert "--data" in msg and ENV_VAR in msg
    for f in NEEDED_FILES:
        assert f.name in msg and str(f.size) in msg and f.sha256 in msg


def test_no_data_folder_via_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    code, out, err = run_cli(capsys, "mnist", "--impl", "numpy")
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith("loopvec mnist: error: no MNIST data folder given")
    assert all(f.sha256 in err for f in NEEDED_FILES)


def test_env_var_is_used_and_data_beats_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "a"))
    assert files.resolve_data_dir(None) == tmp_path / "a"
    assert files.resolve_data_dir(tmp_path / "b") == tmp_path / "b"


def test_data_folder_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "mnist", "--data", tmp_path / "nowhere", "--impl", "numpy")
    assert_one_line_error(code, err, "nowhere", "data folder not found", "--data")


def test_data_status_reports_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    found, why = files.data_status(None)
    assert found is None and "no MNIST data folder" in why
    make_data(tmp_path)
    found, why = files.data_status(tmp_path)
    assert found is None and "sample_weight.pkl: file not found" in why
    (tmp_path / "sample_weight.pkl").write_bytes(pickle.dumps({}, protocol=3))
    assert files.data_status(tmp_path) == (tmp_path, "")


# --- weights: safe pickle ---

def book_like_params(sizes: tuple[int, ...] = (784, 50, 100, 10), seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {}
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{k}"] = rng.standard_normal((a, b)).astype(np.float32)
        params[f"b{k}"] = rng.standard_normal(b).astype(np.float32)
    return params


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_safe_unpickler_loads_book_style_weights(tmp_path: Path, protocol: int) -> None:
    params = book_like_params((784, 8, 6, 10))
    p = tmp_path / "w.pkl"
    p.write_bytes(pickle.dumps(params, protocol=protocol))
    net = load_weights(p)
    assert net.dtype == np.float32 and net.sizes == (784, 8, 6, 10)
    assert (net.hidden, net.output) == ("sigmoid", "softmax")
    for key, value in to_dict(net).items():
        np.testing.assert_array_equal(value, params[key])


class _Gadget:
    """An object whose unpickling calls func(*args): what a malicious weights file does."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.func, self.args


def _gadgets(target: Path) -> dict[str, tuple[object, str]]:
    return {
        "os.system": (_Gadget(os.system, f"touch {target}"), f"{os.system.__module__}.system"),
        "builtins.exec": (_Gadget(builtins.exec, f"open({str(target)!r}, 'w').close()"), "builtins.exec"),
        "builtins.open": (_Gadget(builtins.open, str(target), "w"), "io.open"),  # pickled as io.open
        "builtins.eval": (_Gadget(builtins.eval, f"open({str(target)!r}, 'w')"), "builtins.eval"),
    }


@pytest.mark.parametrize("gadget", ["os.system", "builtins.exec", "builtins.open", "builtins.eval"])
@pytest.mark.parametrize("protocol", [0, 3, 5])
def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path: Path, gadget: str, protocol: int,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "pwned"
    obj, global_name = _gadgets(target)[gadget]
    params: dict[str, object] = dict(book_like_params((784, 4, 10)))
    params["b2"] = obj  # hidden among real arrays, after some were already loaded
    p = tmp_path / "sample_weight.pkl"
    p.write_bytes(pickle.dumps(params, protocol=protocol))
    with pytest.raises(DataError) as info:
        load_weights(p)
    msg = str(info.value)
    if protocol < 3:  # pickle writes Python 2 names for old protocols
        global_name = global_name.replace("builtins.", "__builtin__.")
    assert str(p) in msg and f"refused to unpickle the global {global_name}" in msg
    assert not target.exists()

    code, out, err = run_cli(capsys, "convert-weights", p, tmp_path / "out.npz")
    assert_one_line_error(code, err, "refused", global_name)
    assert not target.exists()
    assert not (tmp_path / "out.npz").exists()


def test_malicious_pickle_alone_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    p = tmp_path / "w.pkl"
    p.write_bytes(pickle.dumps(_Gadget(os.system, f"touch {target}"), protocol=3))
    with pytest.raises(DataError, match="refused to unpickle the global"):
        load_weights(p)
    assert not target.exists()


def test_object_arrays_in_a_pickle_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "w.pkl"
    p.write_bytes(pickle.dumps({"W1": np.array([[1.0, "x"]], dtype=object), "b1": np.zeros(2)}, protocol=3))
    with pytest.raises(DataError, match="refused.*dtype object"):
        load_weights(p)


def test_array_subclasses_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "w.pkl"
    p.write_bytes(pickle.dumps({"W1": np.ma.masked_array(np.zeros((2, 2))), "b1": np.zeros(2)}, protocol=3))
    with pytest.raises(DataError, match="refused to unpickle the global numpy.ma"):
        load_weights(p)


@pytest.mark.parametrize("content,needle", [
    (b"<html><body>Not Found</body></html>", "HTML"),
    (b"\x80\x03}q\x00(X\x02\x00\x00\x00W1", "not a valid weights pickle"),  # cut short
    (pickle.dumps([1, 2, 3], protocol=3), "expected a pickled dict"),
    (pickle.dumps({"W1": "text", "b1": np.zeros(3)}, protocol=3), "W1 must be an array of real numbers"),
])
def test_bad_weights_files(tmp_path: Path, content: bytes, needle: str) -> None:
    p = tmp_path / "sample_weight.pkl"
    p.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_weights(p)
    assert str(p) in str(info.value) and needle in str(info.value)


def test_missing_weights_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DataError, match="nope.pkl: file not found"):
        load_weights(tmp_path / "nope.pkl")
    make_data(tmp_path)  # images and labels present, default weights missing
    code, _, err = run_cli(capsys, "mnist", "--data", tmp_path, "--impl", "numpy")
    assert_one_line_error(code, err, "sample_weight.pkl", "file not found")


# --- weights: shapes that do not chain ---

@pytest.mark.parametrize("fmt", ["pkl", "npz"])
def test_weights_that_do_not_chain_are_refused_naming_layers(tmp_path: Path, fmt: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    params = book_like_params((784, 50, 100, 10))
    params["W2"] = np.zeros((40, 100), np.float32)  # W1 has 50 columns
    p = tmp_path / f"w.{fmt}"
    if fmt == "pkl":
        p.write_bytes(pickle.dumps(params, protocol=3))
    else:
        np.savez(p, **params)
    with pytest.raises(DataError) as info:
        load_weights(p)
    msg = str(info.value)
    assert str(p) in msg and "do not chain" in msg and "W1" in msg and "W2" in msg

    code, _, err = run_cli(capsys, "convert-weights", p, tmp_path / "out.npz")
    assert_one_line_error(code, err, p.name, "do not chain", "W1", "W2")
    assert not (tmp_path / "out.npz").exists()


def test_weights_missing_a_bias(tmp_path: Path) -> None:
    params = book_like_params((784, 5, 10))
    del params["b2"]
    p = tmp_path / "w.pkl"
    p.write_bytes(pickle.dumps(params, protocol=3))
    with pytest.raises(DataError, match=r"w\.pkl: .*miss b2"):
        load_weights(p)


def test_weights_with_nan_are_refused(tmp_path: Path) -> None:
    params = book_like_params((784, 5, 10))
    params["W2"][0, 0] = np.nan
    p = tmp_path / "w.npz"
    np.savez(p, **params)
    with pytest.raises(DataError, match=r"w\.npz: layer 2 .*NaN"):
        load_weights(p)


# --- weights: .npz ---

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_npz_round_trip(tmp_path: Path, dtype: type) -> None:
    net = random_network((784, 7, 10), seed=3, output="softmax", dtype=dtype)
    out = save_npz(net, tmp_path / "w.npz")
    assert sorted(os.listdir(tmp_path)) == ["w.npz"]  # the temporary file is gone
    back = load_weights(out)
    assert back.dtype == np.dtype(dtype) and back.sizes == net.sizes
    for (W, b), (W2, b2) in zip(net.layers, back.layers):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_npz_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "w.npz"
    target.write_bytes(b"old")
    save_npz(tiny_network(seed=1), target)
    assert load_weights(target).sizes == (784, 16, 10)


def test_npz_with_object_array_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "w.npz"
    np.savez(p, W1=np.array([[1, "x"]], dtype=object), b1=np.zeros(2))
    with pytest.raises(DataError, match=r"w\.npz: not a valid \.npz"):
        load_weights(p)


def test_save_npz_into_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot write"):
        save_npz(tiny_network(), tmp_path / "no" / "such" / "w.npz")


def test_convert_weights_cli_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = book_like_params((784, 50, 100, 10), seed=5)
    src = tmp_path / "sample_weight.pkl"
    src.write_bytes(pickle.dumps(params, protocol=3))
    dst = tmp_path / "out" / "weights.npz"
    dst.parent.mkdir()
    code, out, err = run_cli(capsys, "convert-weights", src, dst)
    assert code == 0, err
    assert str(dst) in out and "float32" in out
    assert sorted(os.listdir(dst.parent)) == ["weights.npz"]
    with np.load(dst, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(params)
        for key, value in params.items():
            assert z[key].dtype == np.float32
            np.testing.assert_array_equal(z[key], value)


def test_convert_weights_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "convert-weights", tmp_path / "in.pkl", tmp_path / "out.npz")
    assert_one_line_error(code, err, "in.pkl", "file not found")


# --- the experiment ---

@pytest.mark.parametrize("name", impls.available())
def test_run_experiment_every_impl_matches_numpy(tmp_path: Path, name: str) -> None:
    make_data(tmp_path)
    X, y = load_mnist(tmp_path)
    net = tiny_network()
    ref = mnist.reference_predictions(net, X)
    calls: list[tuple[str, str, int, int]] = []
    r = run_experiment(name, net, X, y, batch=6, progress=lambda *a: calls.append(a))
    np.testing.assert_array_equal(r.predictions, ref)
    assert r.modes_disagree == 0
    assert r.accuracy == pytest.approx(float(np.mean(ref == y)))
    assert r.n_images == N_IMAGES and r.batch == 6
    assert r.seconds_one_at_a_time is not None and r.seconds_one_at_a_time > 0
    assert r.seconds_batched is not None and r.seconds_batched > 0
    assert (name, mnist.ONE_AT_A_TIME, N_IMAGES, N_IMAGES) in calls
    assert (name, mnist.BATCHED, N_IMAGES, N_IMAGES) in calls
    assert (name, mnist.BATCHED, 0, N_IMAGES) in calls


def test_run_experiment_one_mode_only(tmp_path: Path) -> None:
    make_data(tmp_path)
    X, y = load_mnist(tmp_path)
    r = run_experiment("python", tiny_network(), X, y, one_at_a_time=False)
    assert r.seconds_one_at_a_time is None and r.seconds_batched is not None
    assert r.speedup is None and r.modes_disagree is None


def test_run_experiment_rejects_bad_arguments(tmp_path: Path) -> None:
    make_data(tmp_path)
    X, y = load_mnist(tmp_path)
    with pytest.raises(ValueError, match="batch"):
        run_experiment("numpy", tiny_network(), X, y, batch=0)
    with pytest.raises(impls.InputError, match="unknown implementation"):
        run_experiment("fortran", tiny_network(), X, y)


# --- loopvec mnist ---

def test_mnist_cli_json_reports_every_impl(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "mnist", "--data", data_dir, "--weights", data_dir / "net.npz",
                             "--batch", "7", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["n_images"] == N_IMAGES and report["batch"] == 7
    assert report["data"] == str(data_dir)
    X, y = load_mnist(data_dir)
    expected = float(np.mean(mnist.reference_predictions(tiny_network(), X) == y))
    assert list(report["implementations"]) == impls.available()
    for name, row in report["implementations"].items():
        assert row["accuracy"] == pytest.approx(expected), name
        assert row["disagreements"] == 0, name
        assert row["seconds_one_at_a_time"] > 0 and row["seconds_batched"] > 0
    assert "python" in err  # progress goes to stderr, never into the JSON


def test_mnist_cli_table_and_limit(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "mnist", "--data", data_dir, "--weights", data_dir / "net.npz",
                             "--impl", "numpy", "python", "--limit", "5")
    assert code == 0, err
    assert "5 images" in out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["numpy"], ["python"])]
    assert [r[0] for r in rows] == ["numpy", "python"]
    assert all(r[2] == "0" for r in rows)  # no disagreements with numpy


def test_mnist_cli_env_var(data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(ENV_VAR, str(data_dir))
    code, out, err = run_cli(capsys, "mnist", "--weights", data_dir / "net.npz", "--impl", "numpy", "--json")
    assert code == 0, err
    assert json.loads(out)["data"] == str(data_dir)


@pytest.mark.parametrize("argv,needles", [
    (["--batch", "0"], ("--batch", "got 0")),
    (["--batch", "ten"], ("--batch", "'ten'")),
    (["--limit", "-3"], ("--limit", "got -3")),
    (["--impl", "fortran"], ("unknown implementation 'fortran'", "numpy")),
])
def test_mnist_cli_bad_options(data_dir: Path, argv: list[str], needles: tuple[str, ...],
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "mnist", "--data", data_dir, "--weights", data_dir / "net.npz", *argv)
    assert_one_line_error(code, err, *needles)
    assert out == ""


def test_mnist_cli_network_of_wrong_size(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_npz(random_network((100, 5, 10), output="softmax", dtype=np.float32), data_dir / "small.npz")
    code, _, err = run_cli(capsys, "mnist", "--data", data_dir, "--weights", data_dir / "small.npz",
                           "--impl", "numpy")
    assert_one_line_error(code, err, "small.npz", "100-5-10", "784 inputs")


def test_help_texts(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("mnist", "convert-weights"):
        with pytest.raises(SystemExit) as info:
            main([cmd, "--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert "safe" in out or "refused" in out
    with pytest.raises(SystemExit):
        main(["mnist", "--help"])
    out = capsys.readouterr().out
    assert ENV_VAR in out and IMAGES_FILE.sha256 in out and "--batch" in out


def test_load_real_for_the_benchmark_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_data(tmp_path)
    (tmp_path / "sample_weight.pkl").write_bytes(pickle.dumps(book_like_params((784, 5, 10)), protocol=3))
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    net, X, y = mnist.load_real()
    assert net.sizes == (784, 5, 10) and X.shape == (N_IMAGES, 784) and y.shape == (N_IMAGES,)
    assert mnist.load_real(tmp_path)[1] is X  # cached: the suite asks once per case
    assert not X.flags.writeable
    monkeypatch.delenv(ENV_VAR)
    with pytest.raises(DataError, match="no MNIST data folder"):
        mnist.load_real()
