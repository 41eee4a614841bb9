"""numba-parallel switches to its threaded kernels only above a size; check those paths
agree with numpy too (the hypothesis tests stay below the thresholds)."""
from __future__ import annotations

import numpy as np
import pytest

from loopvec import impls
from loopvec.impls.network import mnist_shaped_network, random_network

pytest.importorskip("numba")
from loopvec.impls import _numba_api  # noqa: E402

par = impls.get("numba-parallel")
ref = impls.get("numpy")
BIG = 3 * _numba_api.PARALLEL_MIN_ELEMENTS + 7  # not a multiple of anything
ROWS = 5 * _numba_api.PARALLEL_MIN_ROWS + 3  # several tiles and a partial one


@pytest.mark.parametrize("fn", ["step", "sigmoid", "relu", "identity", "softmax"])
def test_threaded_activations_agree(fn: str) -> None:
    x = np.random.default_rng(1).standard_normal(BIG) * 30
    got, want = getattr(par, fn)(x), getattr(ref, fn)(x)
    if fn == "step":
        assert np.array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    X = x[: (BIG // 10) * 10].reshape(-1, 10)  # a batch: softmax along rows
    np.testing.assert_allclose(getattr(par, fn)(X), getattr(ref, fn)(X), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_threaded_forward_agrees(dtype: type, tol: float) -> None:
    for net in (mnist_shaped_network(seed=3, dtype=dtype),
                random_network((5, 7, 3), seed=4, hidden="relu", output="identity", dtype=dtype)):
        X = np.random.default_rng(2).standard_normal((ROWS, net.n_in)).astype(dtype)
        got = par.forward(par.prepare(net), X)
        want = ref.forward(ref.prepare(net), X)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
        assert np.array_equal(got.argmax(1), want.argmax(1))
        rows = np.stack([par.forward(par.prepare(net), x) for x in X[:3]])  # serial path, one at a time
        np.testing.assert_allclose(got[:3], rows, rtol=tol, atol=tol)


def test_threaded_matmul_agrees() -> None:
    rng = np.random.default_rng(5)
    A, B = rng.standard_normal((ROWS, 33)), rng.standard_normal((33, 21))
    np.testing.assert_allclose(par.dot(A, B), A @ B, rtol=1e-12, atol=1e-12)
