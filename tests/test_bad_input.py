"""Bad and extreme input: every implementation reacts the same way, with impls.InputError."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from loopvec import impls
from helpers import ARRAY_IMPLS, call, out_np, run_forward
from loopvec.impls.network import BOOK_X, BOOK_Y, init_network, random_network

ACTIVATIONS = ["step", "sigmoid", "relu", "identity", "softmax"]
FLOAT_ACTIVATIONS = ["sigmoid", "relu", "identity", "softmax"]


# ---------------------------------------------------------------- shapes

@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((2, 3), (4, 5)), ((3,), (4, 2)), ((2, 3), (2,)), ((3,), (2,))],
    ids=["mat@mat", "vec@mat", "mat@vec", "vec@vec"],
)
def test_dot_inner_dimension_mismatch(impl: Any, a_shape: tuple, b_shape: tuple) -> None:
    a, b = impl.from_numpy(np.ones(a_shape)), impl.from_numpy(np.ones(b_shape))
    with pytest.raises(impls.InputError) as info:
        impl.dot(a, b)
    msg = str(info.value)
    for shape in (a_shape, b_shape):
        text = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
        assert text in msg, f"{text} not in {msg!r}"


@pytest.mark.parametrize("fn", ACTIVATIONS)
def test_activation_rejects_3d(impl: Any, fn: str) -> None:
    with pytest.raises(impls.InputError, match="3-D"):
        getattr(impl, fn)(impl.from_numpy(np.ones((2, 2, 2))))


def test_dot_rejects_3d(impl: Any) -> None:
    with pytest.raises(impls.InputError):
        impl.dot(impl.from_numpy(np.ones((2, 2, 2))), impl.from_numpy(np.ones((2, 2))))


def test_forward_rejects_3d(impl: Any) -> None:
    p = impl.prepare(init_network())
    with pytest.raises(impls.InputError, match="3-D"):
        impl.forward(p, impl.from_numpy(np.ones((3, 1, 2))))


@pytest.mark.parametrize("x", [[1.0, 0.5, 0.2], [[1.0], [0.5]], [[1.0, 0.5, 0.2]] * 2, [1.0]],
                         ids=["3-features", "batch-of-1-feature", "batch-of-3-features", "1-feature"])
def test_forward_wrong_number_of_features(impl: Any, x: list) -> None:
    p = impl.prepare(init_network())
    with pytest.raises(impls.InputError, match="2 features"):
        impl.forward(p, impl.from_numpy(np.array(x)))


# ---------------------------------------------------------------- empty batches

def test_forward_empty_batch(impl_name: str, impl: Any) -> None:
    for net in (init_network(), random_network((6, 4, 3), seed=0)):
        out = out_np(impl, impl.forward(impl.prepare(net), impl.from_numpy(np.zeros((0, net.n_in)))))
        if impl_name == "python":
            assert len(out) == 0  # [] : a list carries no width
        else:
            assert out.shape == (0, net.n_out)
            assert out.dtype == net.dtype


@pytest.mark.parametrize("fn", ACTIVATIONS)
def test_activation_empty_batch(impl_name: str, impl: Any, fn: str) -> None:
    out = call(impl, fn, np.zeros((0, 4)))
    if impl_name == "python":
        assert len(out) == 0
    else:
        assert out.shape == (0, 4)


@pytest.mark.parametrize("name", ARRAY_IMPLS)
def test_dot_empty_batch(name: str) -> None:
    impl = impls.get(name)
    out = call(impl, "dot", np.zeros((0, 3)), np.ones((3, 2)))
    assert out.shape == (0, 2)


# ---------------------------------------------------------------- NaN

@pytest.mark.parametrize("fn", FLOAT_ACTIVATIONS)
def test_nan_propagates_through_activations(impl: Any, ref: Any, fn: str) -> None:
    x = np.array([[0.5, np.nan, -1.0], [1.0, 2.0, -3.0]])
    got = call(impl, fn, x)
    want = call(ref, fn, x)
    if fn == "softmax":  # the NaN spreads over its row through the sum, and no further
        expected_nan = np.array([[True] * 3, [False] * 3])
    else:
        expected_nan = np.isnan(x)
    np.testing.assert_array_equal(np.isnan(got), expected_nan)
    np.testing.assert_allclose(got[~expected_nan], want[~expected_nan], rtol=1e-12)
    one = call(impl, fn, np.array([np.nan]))  # a lone NaN, as a vector
    assert one.shape == (1,) and np.isnan(one).all()


def test_step_of_nan_is_zero(impl: Any) -> None:
    # NaN > 0 is False: step gives 0 there, as np.array(x > 0, dtype=int) does; no exception
    got = call(impl, "step", np.array([np.nan, 1.0, -1.0]))
    np.testing.assert_array_equal(got, [0, 1, 0])


@pytest.mark.parametrize("hidden", ["sigmoid", "relu"])
@pytest.mark.parametrize("output", ["identity", "softmax"])
def test_nan_propagates_through_forward(impl: Any, hidden: str, output: str) -> None:
    net = random_network((4, 5, 3), seed=5, hidden=hidden, output=output)
    X = np.array([[0.1, np.nan, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4]])
    got = run_forward(impl, net, X)
    assert got.shape == (2, 3)
    assert np.isnan(got[0]).all()  # every output depends on every input
    assert np.isfinite(got[1]).all()  # the other sample is untouched
    np.testing.assert_allclose(got[1], run_forward(impls.get("numpy"), net, X[1]), rtol=1e-12)
    toy = run_forward(impl, init_network(), np.array([[1.0, np.nan], BOOK_X]))
    assert np.isnan(toy[0]).all()
    np.testing.assert_allclose(toy[1], BOOK_Y, atol=1e-8)


@pytest.mark.parametrize("output", ["identity", "softmax"])
def test_nan_stays_in_its_row_in_a_tile(impl: Any, output: str) -> None:
    # 70 samples x 24 -> 40 -> 10: the tuned kernels' 8-sample blocks, a one-vector
    # panel (40 = 16 + 16 + 8) and activations run over whole tiles; only row 37 may be NaN
    net = random_network((24, 40, 10), seed=3, hidden="sigmoid", output=output)
    X = np.random.default_rng(3).uniform(-1, 1, (70, 24))
    X[37, 5] = np.nan
    got = run_forward(impl, net, X)
    bad = np.isnan(got).any(axis=1)
    np.testing.assert_array_equal(np.flatnonzero(bad), [37])
    assert np.isnan(got[37]).all()
    keep = np.arange(70) != 37
    np.testing.assert_allclose(got[keep], run_forward(impls.get("numpy"), net, X[keep]), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- non-numeric values
# These are passed as Python values straight to the implementation (from_numpy takes arrays).

NON_NUMERIC = {
    "string-in-list": [1.0, "a"],
    "None-in-list": [1.0, None],
    "string-in-batch": [[1.0, 2.0], [3.0, "x"]],
    "None": None,
    "string": "abc",
    "ragged-batch": [[1.0, 2.0], [3.0]],
}


@pytest.mark.parametrize("fn", ACTIVATIONS)
@pytest.mark.parametrize("bad", list(NON_NUMERIC.values()), ids=list(NON_NUMERIC))
def test_activation_rejects_non_numeric(impl: Any, fn: str, bad: Any) -> None:
    with pytest.raises(impls.InputError):
        getattr(impl, fn)(bad)


@pytest.mark.parametrize(
    "a, b",
    [([1.0, "a"], [[1.0], [2.0]]), ([1.0, None], [[1.0], [2.0]]), ([1.0, 2.0], [[1.0], [None]]),
     (None, [[1.0]]), ([[1.0, 2.0], [3.0]], [[1.0], [2.0]])],
    ids=["string-in-a", "None-in-a", "None-in-b", "a-is-None", "ragged-a"],
)
def test_dot_rejects_non_numeric(impl: Any, a: Any, b: Any) -> None:
    with pytest.raises(impls.InputError):
        impl.dot(a, b)


@pytest.mark.parametrize("bad", [[1.0, "a"], [None, 0.5], [[1.0, 0.5], ["x", 0.5]], None, "ab"],
                         ids=["string", "None-in-list", "string-in-batch", "None", "str"])
def test_forward_rejects_non_numeric(impl: Any, bad: Any) -> None:
    p = impl.prepare(init_network())
    with pytest.raises(impls.InputError):
        impl.forward(p, bad)


# ---------------------------------------------------------------- extreme values

def test_sigmoid_of_plus_minus_1000(impl_dtype: tuple[Any, np.dtype]) -> None:
    impl, dt = impl_dtype
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning leaks out either
        got = call(impl, "sigmoid", np.array([-1000.0, 1000.0], dtype=dt))
        plain = out_np(impl, impl.sigmoid([-1000.0, 1000.0]))
    assert got.dtype == dt
    np.testing.assert_allclose(got, [0.0, 1.0], rtol=0, atol=1e-300)
    np.testing.assert_allclose(plain, [0.0, 1.0], rtol=0, atol=1e-300)


def test_sigmoid_and_softmax_of_huge_values(impl: Any) -> None:
    x = np.array([-1e308, -1e5, -710.0, 710.0, 1e5, 1e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = call(impl, "sigmoid", x)
    # x - max overflows to -inf for a span beyond 1.8e308 (numpy warns about it): exp(-inf) = 0 is right
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sm = call(impl, "softmax", np.array([[1e308, -1e308, 0.0], [1e5, 1e5, -1e5]]))
    np.testing.assert_allclose(s, [0, 0, 0, 1, 1, 1], rtol=0, atol=1e-300)
    np.testing.assert_allclose(sm, [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]], rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("ints", [True, False], ids=["int-list", "float-list"])
def test_softmax_subtracts_the_max(impl: Any, ints: bool) -> None:
    big, small = [1010, 1000, 990], [20, 10, 0]
    if not ints:
        big, small = [float(v) for v in big], [float(v) for v in small]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y_big = out_np(impl, impl.softmax(big))
        y_small = out_np(impl, impl.softmax(small))
        y_batch = out_np(impl, impl.softmax([big, small]))
    assert np.isfinite(y_big).all()
    e = np.exp([0.0, -10.0, -20.0])
    np.testing.assert_allclose(y_small, e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(y_big, y_small, rtol=1e-15)
    np.testing.assert_allclose(y_batch, [y_small, y_small], rtol=1e-15)


def test_step_returns_integers(impl: Any) -> None:
    for x in (np.array([-1.0, 0.0, 2.0]), np.array([[-1.0, 0.0, 2.0], [3.0, -0.0, -5.0]])):
        got = call(impl, "step", x)
        assert got.dtype.kind in "iu", got.dtype
        np.testing.assert_array_equal(got, (x > 0).astype(int))
    plain = out_np(impl, impl.step([-1.0, 0.0, 2.0]))
    assert plain.dtype.kind in "iu"
    np.testing.assert_array_equal(plain, [0, 0, 1])


def test_activations_accept_integer_lists(impl: Any) -> None:
    """The book calls sigmoid(np.array([-1, 1, 2])): integers in, floats out."""
    np.testing.assert_allclose(out_np(impl, impl.sigmoid([-1, 1, 2])), 1 / (1 + np.exp(-np.array([-1.0, 1.0, 2.0]))),
                               rtol=1e-12)
    np.testing.assert_array_equal(out_np(impl, impl.relu([-2, 0, 3])), [0.0, 0.0, 3.0])
    assert out_np(impl, impl.identity([1, 2])).dtype.kind == "f"


@pytest.mark.parametrize("name", ["numba-tuned", "numba-parallel"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_stay_in_their_row_through_the_tail(name: str, bad: float) -> None:
    # 300 inputs -> 34 neurons: 32 in panels and 2 in the k-vector tail (float64)
    impl, ref = impls.get(name), impls.get("numpy")
    net = random_network((300, 34, 20), seed=4, hidden="sigmoid", output="softmax")
    X = np.random.default_rng(4).uniform(-1, 1, (70, 300))
    X[37, 123] = bad
    got = run_forward(impl, net, X)
    with np.errstate(invalid="ignore", over="ignore"):
        want = run_forward(ref, net, X)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    keep = np.arange(70) != 37
    assert np.isfinite(got[keep]).all()
    np.testing.assert_allclose(got[keep], want[keep], rtol=1e-9, atol=1e-12)
