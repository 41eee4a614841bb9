"""numba-parallel switches to its threaded kernels only above a size; check that those
kernels really ran (their dispatchers gained a compiled signature, or their call counter
moved) and agree with numpy (the hypothesis tests stay below the thresholds)."""
from __future__ import annotations

import numpy as np
import pytest

from loopvec import impls
from loopvec.impls.network import mnist_shaped_network, random_network

from loopvec.impls import impl_numba_parallel as P
from loopvec.impls import impl_numba_tuned as T

par = impls.get("numba-parallel")
ref = impls.get("numpy")
BIG = 3 * P.PARALLEL_MIN_ELEMENTS + 7  # not a multiple of anything
ROWS = 5 * P.PARALLEL_MIN_ROWS + 3  # several tiles and a partial one


class Calls:
    """Counts the calls of the serial and the parallel drivers of one function: the serial one
    where numba-tuned and numba-parallel call it, the threaded ones where numba-parallel does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.n = {"serial": 0, "parallel": 0}
        threaded = ["softmax_split", "softmax_by_rows"] if name == "softmax" else [f"{name}_parallel"]
        for kind, where in (("serial", [(T, f"{name}_serial"), (P, f"{name}_serial")]),
                            ("parallel", [(P, n) for n in threaded])):
            for module, attr in where:
                real = getattr(module, attr)

                def counted(*args: object, _real=real, _kind=kind) -> object:
                    self.n[_kind] += 1
                    return _real(*args)

                monkeypatch.setattr(module, attr, counted)


@pytest.mark.parametrize("fn", ["activation", "softmax", "forward", "matmul"])
def test_the_threaded_build_runs_above_the_threshold_only(monkeypatch: pytest.MonkeyPatch, fn: str) -> None:
    calls = Calls(monkeypatch, fn)
    rng = np.random.default_rng(0)
    if fn == "forward":
        p = par.prepare(mnist_shaped_network())
        small, big = (lambda: par.forward(p, rng.standard_normal((3, 784)))), \
            (lambda: par.forward(p, rng.standard_normal((ROWS, 784))))
    elif fn == "matmul":
        small, big = (lambda: par.dot(np.ones((3, 5)), np.ones((5, 4)))), \
            (lambda: par.dot(np.ones((ROWS, 5)), np.ones((5, 4))))
    else:
        name = "sigmoid" if fn == "activation" else fn
        small, big = (lambda: getattr(par, name)(np.ones((2, 10)))), \
            (lambda: getattr(par, name)(np.ones((BIG // 10, 10))))
    small()
    assert calls.n == {"serial": 1, "parallel": 0}
    big()
    assert calls.n == {"serial": 1, "parallel": 1}
    tuned = impls.get("numba-tuned")  # the serial implementation never takes the threaded build, however big
    if fn == "forward":
        tuned.forward(tuned.prepare(mnist_shaped_network()), np.ones((ROWS, 784)))
    elif fn == "matmul":
        tuned.dot(np.ones((ROWS, 5)), np.ones((5, 4)))
    else:
        getattr(tuned, "sigmoid" if fn == "activation" else fn)(np.ones((BIG // 10, 10)))
    assert calls.n == {"serial": 2, "parallel": 1}


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
