"""The book's chapter-3 experiment on the real MNIST test set, through every implementation.

Runs only when LOOPVEC_DATA names a folder with the files listed in bench/mnist.py
(CI sets it when ../shared/data/mnist exists); the data is never copied here.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from loopvec import impls
from loopvec.bench.data import files, idx, weights
from loopvec.bench.data import mnist
from loopvec.bench.cli.main import main
from loopvec.impls.network import Network

DATA_DIR, WHY = files.data_status(None)  # from $LOOPVEC_DATA only
if DATA_DIR is None and not os.environ.get(files.ENV_VAR):
    WHY = f"{files.ENV_VAR} is not set"
pytestmark = pytest.mark.skipif(
    DATA_DIR is None,
    reason=f"real MNIST test set not available: {WHY}; set {files.ENV_VAR} to a folder holding "
    f"{', '.join(f.name for f in files.NEEDED_FILES)}",
)
BOOK_ACCURACY = 0.9352


@pytest.fixture(scope="module")
def data_dir() -> Path:
    assert DATA_DIR is not None
    return DATA_DIR


@pytest.fixture(scope="module")
def test_set(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return idx.load_mnist(data_dir)


@pytest.fixture(scope="module")
def network(data_dir: Path) -> Network:
    return weights.load_weights(data_dir / files.WEIGHTS_FILE.name)


@pytest.fixture(scope="module")
def numpy_predictions(network: Network, test_set: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return mnist.reference_predictions(network, test_set[0])


def test_files_are_the_documented_ones(data_dir: Path) -> None:
    for f in files.NEEDED_FILES:
        path = files.find_data_file(data_dir, f)
        if path.name != f.name:
            pytest.skip(f"{path} is the uncompressed variant; sizes and sha256 refer to {f.name}")
        data = path.read_bytes()
        assert len(data) == f.size, path
        assert hashlib.sha256(data).hexdigest() == f.sha256, path


def test_test_set_shapes(test_set: tuple[np.ndarray, np.ndarray], network: Network) -> None:
    images, labels = test_set
    assert images.shape == (10_000, 784) and images.dtype == np.float32
    assert labels.shape == (10_000,) and labels.dtype == np.int64
    assert float(images.min()) == 0.0 and float(images.max()) == 1.0
    assert network.sizes == (784, 50, 100, 10) and network.dtype == np.float32
    assert (network.hidden, network.output) == ("sigmoid", "softmax")


def test_numpy_reaches_the_books_accuracy(test_set: tuple[np.ndarray, np.ndarray],
                                          numpy_predictions: np.ndarray) -> None:
    accuracy = float(np.mean(numpy_predictions == test_set[1]))
    assert abs(accuracy - BOOK_ACCURACY) < 5e-5, accuracy


# pure Python takes 10-30 s over the 10,000 images: slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "python" else n
                                  for n in impls.available()])
def test_every_impl_reaches_the_books_accuracy(name: str, network: Network,
                                               test_set: tuple[np.ndarray, np.ndarray],
                                               numpy_predictions: np.ndarray) -> None:
    images, labels = test_set
    # Pure Python does the same work one at a time or batched (~10-30 s a pass): run it once.
    slow = name == "python"
    r = mnist.run_experiment(name, network, images, labels, batch=100, one_at_a_time=not slow)
    assert abs(r.accuracy - BOOK_ACCURACY) < 5e-5, (name, r.accuracy)
    assert int(np.sum(r.predictions != numpy_predictions)) == 0, name
    if not slow:
        assert r.modes_disagree == 0, name  # one at a time and in batches of 100 agree too


def test_npz_conversion_keeps_the_weights(tmp_path: Path, data_dir: Path, network: Network,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sample_weight.npz"
    assert main(["convert-weights", str(data_dir / files.WEIGHTS_FILE.name), str(out)]) == 0
    capsys.readouterr()
    back = weights.load_weights(out)
    assert back.dtype == np.float32
    for (W, b), (W2, b2) in zip(network.layers, back.layers):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_mnist_cli_on_real_data(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The command's plumbing on real files; every implementation's accuracy is checked above.
    code = main(["mnist", "--data", str(data_dir), "--impl", "numpy", "numba", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["n_images"] == 10_000 and report["batch"] == 100 and report["data"] == str(data_dir)
    for name, row in report["implementations"].items():
        assert abs(row["accuracy"] - BOOK_ACCURACY) < 5e-5, name
        assert row["disagreements"] == 0, name
