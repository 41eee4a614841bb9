"""The network model (impls.network) and the forward pass of every implementation on it."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from loopvec import impls
from helpers import forward_error_bound, run_forward
from loopvec.impls.network import (
    BOOK_X,
    BOOK_Y,
    MNIST_SIZES,
    Network,
    from_dict,
    init_network,
    make_network,
    mnist_shaped_network,
    random_network,
    to_dict,
)

BOOK_W = {
    "W1": [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]], "b1": [0.1, 0.2, 0.3],
    "W2": [[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]], "b2": [0.1, 0.2],
    "W3": [[0.1, 0.3], [0.2, 0.4]], "b3": [0.1, 0.2],
}


def assert_same_network(a: Network, b: Network) -> None:
    assert (a.hidden, a.output, a.dtype, a.sizes) == (b.hidden, b.output, b.dtype, b.sizes)
    for (Wa, ba), (Wb, bb) in zip(a.layers, b.layers):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


# ---------------------------------------------------------------- the toy network

def test_toy_network_is_the_books() -> None:
    net = init_network()
    assert net.sizes == (2, 3, 2, 2)
    assert (net.hidden, net.output, net.dtype) == ("sigmoid", "identity", np.float64)
    assert_same_network(net, from_dict(BOOK_W, hidden="sigmoid", output="identity"))


def test_toy_network_gives_the_books_output(impl: Any) -> None:
    y = run_forward(impl, init_network(), np.array(BOOK_X))
    assert y.shape == (2,)
    # the book prints 8 decimals: the exact value is within 5e-9 of it
    np.testing.assert_allclose(y, BOOK_Y, rtol=0, atol=1e-8)


def test_toy_network_float32(impl_dtype: tuple[Any, np.dtype]) -> None:
    impl, dt = impl_dtype
    y = run_forward(impl, init_network(dtype=dt), np.array(BOOK_X, dtype=dt))
    assert y.dtype == dt
    # float32 carries ~7 significant digits; three layers of rounding stay below 1e-6
    np.testing.assert_allclose(y, BOOK_Y, rtol=0, atol=1e-8 if dt == np.float64 else 1e-6)


def test_toy_batch_rows_equal_single_calls(impl: Any) -> None:
    x2 = [-0.3, 2.0]
    p = impl.prepare(init_network())
    one = np.asarray(impl.to_numpy(impl.forward(p, impl.from_numpy(np.array(BOOK_X)))))
    two = np.asarray(impl.to_numpy(impl.forward(p, impl.from_numpy(np.array(x2)))))
    both = np.asarray(impl.to_numpy(impl.forward(p, impl.from_numpy(np.array([BOOK_X, x2])))))
    assert both.shape == (2, 2)
    # same arithmetic per row; a 1-D call may use a matrix-vector kernel, so allow an ulp or two
    np.testing.assert_allclose(both[0], one, rtol=1e-14, atol=0)
    np.testing.assert_allclose(both[1], two, rtol=1e-14, atol=0)
    np.testing.assert_allclose(both[0], BOOK_Y, atol=1e-8)


def test_batch_rows_equal_single_calls_across_tiles(impl: Any) -> None:
    """19 rows: more than one tile of the fused numba kernel, and a partial last tile."""
    net = random_network((7, 5, 4, 3), seed=3, hidden="relu", output="softmax")
    X = np.random.default_rng(1).standard_normal((19, 7))
    batch = run_forward(impl, net, X)
    singles = np.stack([run_forward(impl, net, row) for row in X])
    assert batch.shape == (19, 3)
    np.testing.assert_allclose(batch, singles, rtol=1e-13, atol=1e-300)


def test_prepare_is_reusable(impl: Any) -> None:
    net = init_network()
    p = impl.prepare(net)
    x = impl.from_numpy(np.array(BOOK_X))
    first = np.array(impl.to_numpy(impl.forward(p, x)), copy=True)
    second = np.asarray(impl.to_numpy(impl.forward(p, x)))
    np.testing.assert_array_equal(first, second)
    assert_same_network(net, init_network())  # prepare/forward left the network alone


# ---------------------------------------------------------------- MNIST-shaped

N_SAMPLES = 300


@pytest.fixture(scope="module")
def mnist_inputs() -> np.ndarray:
    # Standard-normal inputs rather than pixels in [0, 1): with random weights and
    # pixel-like inputs the sigmoid network predicts one class for every sample,
    # which would make "identical argmax" a weak check.
    return np.random.default_rng(12345).standard_normal((N_SAMPLES, 784))


@pytest.mark.parametrize("hidden", ["sigmoid", "relu"])
def test_mnist_shaped_network_agrees(impl_dtype: tuple[Any, np.dtype], ref: Any, mnist_inputs: np.ndarray,
                                     hidden: str) -> None:
    impl, dt = impl_dtype
    if hidden == "sigmoid":
        net = mnist_shaped_network(seed=7, dtype=dt)
        assert (net.hidden, net.output, net.dtype) == ("sigmoid", "softmax", dt)
    else:
        net = random_network(MNIST_SIZES, seed=7, hidden="relu", output="softmax", dtype=dt)
    assert net.sizes == (784, 50, 100, 10)
    X = mnist_inputs.astype(dt)
    want = run_forward(ref, net, X)
    got = run_forward(impl, net, X)
    assert got.shape == (N_SAMPLES, 10)
    assert got.dtype == dt
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=0, atol=1e-12 if dt == np.float64 else 1e-5)
    diff = np.abs(got.astype(np.float64) - want)
    bound = forward_error_bound(net, X)
    assert np.all(diff <= bound), f"max |diff| {diff.max():g}"
    # plain tolerances too, as `loopvec check` uses: far above rounding, far below a mistake
    assert diff.max() <= (1e-12 if dt == np.float64 else 1e-5)
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))
    assert len(set(want.argmax(axis=1))) > 1, "a degenerate network would make argmax agreement trivial"


# ---------------------------------------------------------------- the Network model

def test_dict_round_trip() -> None:
    for net in (init_network(), mnist_shaped_network(seed=1), random_network((3, 4), seed=2, dtype=np.float32)):
        d = to_dict(net)
        assert sorted(d) == sorted(f"{p}{k}" for k in range(1, len(net.layers) + 1) for p in "Wb")
        back = from_dict(d, hidden=net.hidden, output=net.output)
        assert_same_network(back, net)


def test_from_dict_defaults_and_dtype() -> None:
    net = from_dict(BOOK_W)
    assert (net.hidden, net.output, net.dtype) == ("sigmoid", "softmax", np.float64)
    net32 = from_dict({k: np.asarray(v, dtype=np.float32) for k, v in BOOK_W.items()})
    assert net32.dtype == np.float32  # dtype kept unless given
    assert from_dict(BOOK_W, dtype=np.float32).dtype == np.float32


def test_from_dict_missing_keys() -> None:
    with pytest.raises(impls.InputError, match="W1"):
        from_dict({"w1": [[1.0]], "b1": [1.0]})
    partial = {k: v for k, v in BOOK_W.items() if k != "b2"}
    with pytest.raises(impls.InputError, match="b2"):
        from_dict(partial)


def test_layers_that_do_not_chain() -> None:
    W1, b1 = np.zeros((2, 3)), np.zeros(3)
    W2, b2 = np.zeros((4, 2)), np.zeros(2)
    with pytest.raises(impls.InputError) as info:
        make_network([(W1, b1), (W2, b2)])
    msg = str(info.value)
    assert "W1" in msg and "W2" in msg
    assert "3 columns" in msg and "4 rows" in msg
    with pytest.raises(impls.InputError, match="W2"):
        from_dict({"W1": W1, "b1": b1, "W2": W2, "b2": b2})


@pytest.mark.parametrize(
    "layers, kwargs, pattern",
    [
        ([(np.zeros((2, 3)), np.zeros(2))], {}, "b1"),  # b does not fit W
        ([(np.zeros(3), np.zeros(3))], {}, "W1"),  # W not 2-D
        ([(np.zeros((2, 3)), np.zeros(3))], {"hidden": "tanh"}, "tanh"),
        ([(np.zeros((2, 3)), np.zeros(3))], {"output": "relu"}, "relu"),
        ([], {}, "layer"),
    ],
    ids=["b-mismatch", "W-1d", "bad-hidden", "bad-output", "no-layers"],
)
def test_invalid_networks(layers: list, kwargs: dict, pattern: str) -> None:
    with pytest.raises(impls.InputError, match=pattern):
        make_network(layers, **kwargs)


def test_network_rejects_integer_and_mixed_dtypes() -> None:
    with pytest.raises(impls.InputError, match="float64 or float32"):
        Network(((np.zeros((2, 2), dtype=np.int64), np.zeros(2, dtype=np.int64)),))
    with pytest.raises(impls.InputError, match="mixes dtypes"):
        Network(((np.zeros((2, 2)), np.zeros(2, dtype=np.float32)),))


def test_random_network_is_seeded() -> None:
    a = random_network((5, 4, 3), seed=11)
    b = random_network((5, 4, 3), seed=11)
    c = random_network((5, 4, 3), seed=12)
    assert_same_network(a, b)
    assert not np.array_equal(a.layers[0][0], c.layers[0][0])
    assert a.sizes == (5, 4, 3) and (a.n_in, a.n_out) == (5, 3)
    assert (a.hidden, a.output, a.dtype) == ("sigmoid", "softmax", np.float64)
    assert_same_network(mnist_shaped_network(seed=4), mnist_shaped_network(seed=4))
    assert not np.array_equal(mnist_shaped_network(seed=4).layers[2][0], mnist_shaped_network(seed=5).layers[2][0])
    r = random_network((3, 2), seed=0, hidden="relu", output="identity", dtype=np.float32)
    assert (r.hidden, r.output, r.dtype) == ("relu", "identity", np.float32)


@pytest.mark.parametrize("sizes", [(5,), (), (3, 0, 2), (4, -1)])
def test_random_network_bad_sizes(sizes: tuple) -> None:
    with pytest.raises(impls.InputError):
        random_network(sizes)


def test_flops() -> None:
    toy = init_network()
    assert toy.flops() == 2 * (2 * 3 + 3 * 2 + 2 * 2) == 32
    assert toy.flops(batch=10) == 320
    assert mnist_shaped_network().flops() == 2 * (784 * 50 + 50 * 100 + 100 * 10)


def test_astype() -> None:
    net = mnist_shaped_network(seed=2)
    net32 = net.astype(np.float32)
    assert net32.dtype == np.float32 and net.dtype == np.float64  # a new network; the old one unchanged
    assert (net32.sizes, net32.hidden, net32.output) == (net.sizes, net.hidden, net.output)
    for (W, b), (W32, b32) in zip(net.layers, net32.layers):
        assert W32.dtype == b32.dtype == np.float32
        np.testing.assert_array_equal(W32, W.astype(np.float32))
        np.testing.assert_array_equal(b32, b.astype(np.float32))
    assert_same_network(mnist_shaped_network(seed=2, dtype=np.float32), net32)
    assert net32.astype(np.float64).dtype == np.float64
    with pytest.raises(impls.InputError):
        net.astype(np.int32)
