"""Softmax over long rows (the activation case passes one row of n values): numba-tuned's
vectorized row and numba-parallel's row split into spans over threads agree with numpy,
NaN, +inf and -inf included, and the split's result does not depend on the thread count."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("numba")
import numba  # noqa: E402

from loopvec import impls  # noqa: E402
from loopvec.impls import impl_numba_parallel as P  # noqa: E402
from loopvec.impls._common import TOLERANCE  # noqa: E402

ref = impls.get("numpy")
NUMBA = ["numba-tuned", "numba-parallel"]
DTYPES = [np.float64, np.float32]
LONG = 3 * P.CHUNK + 17  # several spans and a partial one


def _close(got: np.ndarray, want: np.ndarray, dt: Any) -> None:
    rtol, atol = TOLERANCE["elementwise"][np.dtype(dt).name]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def _numpy_softmax(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # inf - inf: numpy's NaN rows
        return ref.softmax(x)


def special_rows(n: int, dt: Any) -> np.ndarray:
    """(9, n): plain; NaN in the last span; +inf; only -inf; -inf over the whole first span;
    only NaN; one huge value; -inf and NaN; every value equal."""
    x = np.random.default_rng(7).standard_normal((9, n)) * 20
    x[1, n - 2] = np.nan
    x[2, n // 2] = np.inf
    x[3] = -np.inf
    x[4, : min(n - 1, P.CHUNK + 5)] = -np.inf
    x[5] = np.nan
    x[6, 3] = 1e30
    x[7, 0], x[7, -1] = -np.inf, np.nan
    x[8] = 0.5
    return x.astype(dt)


@pytest.mark.parametrize("name", NUMBA)
@pytest.mark.parametrize("dt", DTYPES)
def test_one_long_row_agrees(name: str, dt: Any) -> None:
    impl = impls.get(name)
    x = (np.random.default_rng(1).standard_normal(10**6) * 5).astype(dt)  # the activation case's shape
    _close(impl.softmax(x), ref.softmax(x), dt)
    x = x[:LONG]
    _close(impl.softmax(x), ref.softmax(x), dt)


@pytest.mark.parametrize("name", NUMBA)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [LONG, P.CHUNK + 1, 1000])
def test_special_rows_agree(name: str, dt: Any, n: int) -> None:
    impl = impls.get(name)
    x = special_rows(n, dt)
    want = _numpy_softmax(x)
    _close(impl.softmax(x), want, dt)
    for r in range(x.shape[0]):  # each row alone: numba-parallel splits the long ones
        _close(impl.softmax(x[r]), want[r], dt)
    assert np.isnan(want[[1, 2, 3, 5, 7]]).all() and not np.isnan(want[[0, 4, 6, 8]]).any()


@pytest.mark.parametrize("name", NUMBA)
@pytest.mark.parametrize("dt", DTYPES)
def test_rows_of_one_element(name: str, dt: Any) -> None:
    impl = impls.get(name)
    x = np.array([[0.0], [-3.5], [1e30], [np.nan], [np.inf], [-np.inf]], dtype=dt)
    got = impl.softmax(x)
    _close(got, _numpy_softmax(x), dt)
    assert (got[:3] == 1).all() and np.isnan(got[3:]).all()
    _close(impl.softmax(x[:, 0]), _numpy_softmax(x[:, 0]), dt)  # one row of 6


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(1, LONG), (3, P.CHUNK + 1), (2, 2 * P.CHUNK), (1, 1), (1, 7), (5, 33)])
def test_split_kernel_agrees(dt: Any, shape: tuple[int, int]) -> None:
    """The span-splitting kernel on its own, also on shapes the dispatch would not give it."""
    x = (np.random.default_rng(3).standard_normal(shape) * 30).astype(dt)
    out = np.empty_like(x)
    P.softmax_split(x, out)
    _close(out, ref.softmax(x), dt)
    x[0, -1] = np.nan
    P.softmax_split(x, out)
    assert np.isnan(out[0]).all()
    _close(out[1:], ref.softmax(x[1:]), dt)


def test_a_long_row_is_split_and_many_rows_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"softmax_split": 0, "softmax_by_rows": 0}
    for name in calls:
        def counted(x: np.ndarray, out: np.ndarray, _real: Any = getattr(P, name), _name: str = name) -> None:
            calls[_name] += 1
            _real(x, out)

        monkeypatch.setattr(P, name, counted)
    par = impls.get("numba-parallel")
    x = np.random.default_rng(4).standard_normal(LONG)
    _close(par.softmax(x), ref.softmax(x), np.float64)
    assert calls == {"softmax_split": 1, "softmax_by_rows": 0}
    X = np.random.default_rng(5).standard_normal((4 * P.ROWS_PER_THREAD * numba.get_num_threads(), P.CHUNK + 3))
    _close(par.softmax(X), ref.softmax(X), np.float64)
    assert calls == {"softmax_split": 1, "softmax_by_rows": 1}


@pytest.mark.parametrize("dt", DTYPES)
def test_split_result_does_not_depend_on_threads(dt: Any) -> None:
    x = (np.random.default_rng(6).standard_normal((2, LONG)) * 10).astype(dt)
    outs = []
    before = numba.get_num_threads()
    try:
        for t in sorted({1, before}):
            numba.set_num_threads(t)
            out = np.empty_like(x)
            P.softmax_split(x, out)
            outs.append(out)
    finally:
        numba.set_num_threads(before)
    for out in outs[1:]:
        assert np.array_equal(out, outs[0])
    _close(outs[0], ref.softmax(x), dt)
