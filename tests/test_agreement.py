"""Every implementation agrees with the numpy implementation on hypothesis-drawn inputs.

Tolerances (stated once here, used below):

* Activations, float64: rtol 1e-12. The implementations use different exp
  implementations (libm math.exp, NumPy's SIMD exp, LLVM's, Sleef in torch) and
  different but equivalent formulas (1/(1+e^-x) vs e^x/(1+e^x)); they differ by a few
  ulp (~1e-16 relative), so 1e-12 is loose for rounding yet far below any real mistake
  (a wrong formula, a missing max subtraction, the wrong softmax axis: errors > 1e-3).
  atol 1e-300: around sigmoid(-709) and exp(x - max) < 1e-308 results are subnormal
  and lose relative precision, or one implementation gives 0.0 and another 1e-310.
* Activations, float32: the same reasoning with float32's eps (1.2e-7): rtol 1e-5
  (~80 ulp), atol 1e-35 (float32's smallest normal number is 1.2e-38).
* softmax additionally divides by a sum of n terms whose rounding depends on the
  summation order (sequential, pairwise, SIMD lanes): relative error <= n * eps, so
  rtol is max(RTOL, 2 * n * eps).
* dot: the classic bound for a length-n dot product, |fl(a.b) - a.b| <= gamma_n |a|.|b|
  with gamma_n ~ n * eps/2, holds for any summation order and for FMA; two
  implementations are each within it, so |diff| <= 2 * n * eps * (|a| @ |b|) + tiny.
* forward: a forward error analysis layer by layer (helpers.forward_error_bound).
* step: exact, and an integer dtype.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import call, forward_error_bound, out_np, run_forward
from loopvec.impls.network import random_network

RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}
ATOL = {np.dtype(np.float64): 1e-300, np.dtype(np.float32): 1e-35}

# deadline=None: numba compiles on the first call of each signature. 25 examples for each of the
# ~90 implementation x dtype x function tests: the default suite stays within 90 s on 2 cores.
HYP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


ACTIVATIONS = ["sigmoid", "relu", "identity", "softmax"]


def values(dtype: np.dtype, big: float = 1000.0) -> st.SearchStrategy[float]:
    """Values near 0 (down to subnormals) and large positive and negative ones up to +-big.

    Bounds are exact in float32 too (hypothesis insists): 1000.0 and 2**-10 ~ 1e-3."""
    w = 64 if dtype == np.float64 else 32
    return st.one_of(
        st.floats(-big, big, width=w),
        st.floats(-(2.0**-10), 2.0**-10, width=w),
        st.sampled_from([0.0, -0.0, big, -big, 1.0, -1.0]),
    )


@st.composite
def vectors_or_batches(draw: Any, dtype: np.dtype, max_width: int = 300, max_batch: int = 8) -> np.ndarray:
    width = draw(st.integers(1, max_width))
    batch = draw(st.one_of(st.none(), st.integers(1, max_batch)))  # None: a 1-D vector
    shape = (width,) if batch is None else (batch, width)
    return draw(hnp.arrays(dtype, shape, elements=values(dtype)))


def assert_same_kind_of_result(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    assert got.dtype == want.dtype, f"dtype {got.dtype}, numpy gives {want.dtype}"


# ---------------------------------------------------------------- activations

@pytest.mark.parametrize("fn", ACTIVATIONS)
@HYP
@given(data=st.data())
def test_activation_agrees_with_numpy(impl_dtype: tuple[Any, np.dtype], ref: Any, fn: str, data: Any) -> None:
    impl, dt = impl_dtype
    x = data.draw(vectors_or_batches(dt), label="x")
    x_before = x.copy()
    want = call(ref, fn, x)
    got = call(impl, fn, x)
    np.testing.assert_array_equal(x, x_before, err_msg="input modified")
    assert_same_kind_of_result(got, want)
    assert np.isfinite(got).all()
    rtol = RTOL[dt]
    if fn == "softmax":
        rtol = max(rtol, 2 * x.shape[-1] * float(np.finfo(dt).eps))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=ATOL[dt])


@HYP
@given(data=st.data())
def test_step_agrees_exactly(impl_dtype: tuple[Any, np.dtype], ref: Any, data: Any) -> None:
    impl, dt = impl_dtype
    x = data.draw(vectors_or_batches(dt), label="x")
    want = call(ref, "step", x)
    got = call(impl, "step", x)
    assert got.dtype.kind in "iu", f"step returned {got.dtype}"
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got, (x > 0).astype(int))


# ---------------------------------------------------------------- dot

@st.composite
def dot_operands(draw: Any, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """np.dot's cases: (n,)@(n,m), (k,n)@(n,m), (k,n)@(n,), (n,)@(n,); sizes kept small
    enough (k*n*m <= 40000) for the pure-Python loops."""
    kind = draw(st.sampled_from(["vec@mat", "mat@mat", "mat@vec", "vec@vec"]))
    k = draw(st.integers(1, 8))
    n = draw(st.integers(1, 300))
    m = draw(st.integers(1, max(1, min(300, 40_000 // (k * n)))))
    a_shape = (n,) if kind in ("vec@mat", "vec@vec") else (k, n)
    b_shape = (n,) if kind in ("mat@vec", "vec@vec") else (n, m)
    a = draw(hnp.arrays(dtype, a_shape, elements=values(dtype)), label="a")
    b = draw(hnp.arrays(dtype, b_shape, elements=values(dtype)), label="b")
    return a, b


@HYP
@given(data=st.data())
def test_dot_agrees_with_numpy(impl_dtype: tuple[Any, np.dtype], ref: Any, data: Any) -> None:
    impl, dt = impl_dtype
    a, b = data.draw(dot_operands(dt))
    a0, b0 = a.copy(), b.copy()
    want = call(ref, "dot", a, b)
    got = call(impl, "dot", a, b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)
    assert_same_kind_of_result(got, want)
    assert want.shape == a.shape[:-1] + b.shape[1:]  # np.dot's rule for 1-D and 2-D operands
    n = a.shape[-1]
    eps = float(np.finfo(dt).eps)
    bound = 2 * n * eps * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))) + ATOL[dt]
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert np.all(diff <= bound), f"max |diff| {diff.max():g}, max excess {(diff - bound).max():g}"


def test_dot_on_integers_and_known_values(impl: Any) -> None:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[5.0, 6.0], [7.0, 8.0]])
    np.testing.assert_array_equal(call(impl, "dot", a, b), [[19.0, 22.0], [43.0, 50.0]])
    np.testing.assert_array_equal(call(impl, "dot", a[0], b), [19.0, 22.0])
    np.testing.assert_array_equal(call(impl, "dot", a, b[:, 0]), [19.0, 43.0])
    assert float(call(impl, "dot", a[0], b[:, 0])) == 19.0
    # plain lists of ints, as the book writes them
    np.testing.assert_array_equal(out_np(impl, impl.dot([[1, 2], [3, 4]], [[5, 6], [7, 8]])),
                                  [[19, 22], [43, 50]])


# ---------------------------------------------------------------- forward

@st.composite
def networks_and_inputs(draw: Any, dtype: np.dtype) -> tuple[Any, np.ndarray]:
    n_layers = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 300))] + [draw(st.integers(1, 64)) for _ in range(n_layers)]
    net = random_network(
        sizes,
        seed=draw(st.integers(0, 2**32 - 1), label="seed"),
        hidden=draw(st.sampled_from(["sigmoid", "relu"])),
        output=draw(st.sampled_from(["identity", "softmax"])),
        dtype=dtype,
    )
    batch = draw(st.one_of(st.none(), st.integers(1, 9)))  # None: one sample, 1-D
    shape = (sizes[0],) if batch is None else (batch, sizes[0])
    x = draw(hnp.arrays(dtype, shape, elements=values(dtype)), label="x")
    return net, x


@HYP
@given(data=st.data())
def test_forward_agrees_with_numpy(impl_dtype: tuple[Any, np.dtype], ref: Any, data: Any) -> None:
    impl, dt = impl_dtype
    net, x = data.draw(networks_and_inputs(dt))
    x0 = x.copy()
    want = run_forward(ref, net, x)
    got = run_forward(impl, net, x)
    np.testing.assert_array_equal(x, x0, err_msg="input modified")
    assert_same_kind_of_result(got, want)
    assert got.shape == x.shape[:-1] + (net.n_out,)
    assert np.isfinite(got).all()
    bound = forward_error_bound(net, x)
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert np.all(diff <= bound), f"max |diff| {diff.max():g}, max excess {(diff - bound).max():g}"


@pytest.mark.parametrize("n", [512, 513, 1100])
def test_numpy_forward_in_steps_equals_one_step(n: int) -> None:
    # numpy's forward runs a batch of more than CHUNK samples in steps of CHUNK; the
    # stacked steps must equal the whole batch in one step, sample for sample
    from loopvec.impls import impl_numpy

    assert impl_numpy.CHUNK == 512  # the sizes above straddle it
    net = random_network((30, 7, 5), seed=11, hidden="sigmoid", output="softmax")
    X = np.random.default_rng(11).uniform(-2, 2, (n, 30))
    p = impl_numpy.prepare(net)
    got = impl_numpy.forward(p, X)
    whole = impl_numpy._forward(p, X)  # noqa: SLF001: the one-step computation
    assert got.shape == (n, 5)
    np.testing.assert_allclose(got, whole, rtol=1e-13, atol=0)
    np.testing.assert_allclose(got[-1], impl_numpy.forward(p, X[-1]), rtol=1e-13, atol=0)


# networks whose layers reach every layout of the tuned kernel for every vector width
# (2, 4, 8, 16 lanes: SSE2/NEON float64 up to AVX-512 float32): full panels of 2 vectors, a
# last panel of one vector, and tails of 1-4 neurons run along k (2, 3 = a pair + an odd
# one, or only tail neurons) when the layer has enough inputs
LAYOUTS = [(300, 34, 20), (520, 35, 3), (400, 3), (200, 17, 5), (256, 20), (300, 33), (260, 36),
           (784, 50, 100, 10)]


@pytest.mark.parametrize("name", ["numba-tuned", "numba-parallel"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", LAYOUTS)
def test_tuned_kernel_layouts(name: str, dtype: Any, sizes: tuple[int, ...]) -> None:
    # every layout, and every block size of rows: batches below, at and past MR (8 or 6),
    # several register blocks with leftovers of 4 and 1, more than one tile
    from loopvec import impls

    impl, ref = impls.get(name), impls.get("numpy")
    net = random_network(sizes, seed=7, hidden="sigmoid", output="softmax", dtype=dtype)
    for batch in (1, 3, 4, 5, 6, 7, 8, 11, 13, 17, 70):
        X = np.random.default_rng(batch).uniform(-1, 1, (batch, sizes[0])).astype(dtype)
        got = run_forward(impl, net, X)
        want = run_forward(ref, net, X)
        bound = forward_error_bound(net, X)
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        assert np.all(diff <= bound), f"batch {batch}: max |diff| {diff.max():g}"



@pytest.mark.parametrize("lanes", [2, 4, 8, 16])
def test_tuned_kernel_tails_of_every_length_are_reached(lanes: int) -> None:
    from loopvec.impls import _numba_packing as K

    layers = [(n_in, n_out) for sizes in LAYOUTS for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    got = {K.split(n_in, n_out, lanes)[1] for n_in, n_out in layers}
    assert got >= set(range(1, min(K.TAIL_MAX, 2 * lanes - 1) + 1))
    assert 0 in got  # and layers without a tail
    assert any(K.split(n_in, n_out, lanes)[0] % (2 * lanes) == lanes for n_in, n_out in layers)  # a one-vector panel


@pytest.mark.parametrize("name", ["numba-tuned", "numba-parallel"])
@pytest.mark.parametrize("p", [17, 34, 35, 20, 3])
def test_tuned_dot_through_the_tail(name: str, p: int) -> None:
    # dot() runs the same dense kernel (no bias): 300 inputs reach the k-vector tail
    from loopvec import impls

    rng = np.random.default_rng(p)
    A, B = rng.uniform(-1, 1, (70, 300)), rng.uniform(-1, 1, (300, p))
    got = out_np(impls.get(name), call(impls.get(name), "dot", A, B))
    np.testing.assert_allclose(got, A @ B, rtol=1e-12, atol=1e-12)


def test_numpy_forward_and_its_yardstick_take_the_same_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    # the yardstick is numpy's forward less bias and activations, so both must step alike
    from loopvec.bench.measure import workloads
    from loopvec.impls import impl_numpy

    calls: list[str] = []
    real = impl_numpy.in_steps

    def spy(who: str) -> Any:
        def in_steps(step: Any, X: np.ndarray) -> np.ndarray:
            calls.append(who)
            return real(step, X)
        return in_steps

    monkeypatch.setattr(impl_numpy, "in_steps", spy("forward"))
    monkeypatch.setattr(workloads, "in_steps", spy("yardstick"))
    net = random_network((30, 7, 5, 3), seed=1, hidden="sigmoid", output="identity")
    X = np.random.default_rng(1).uniform(-1, 1, (600, 30))
    impl_numpy.forward(impl_numpy.prepare(net), X)
    workloads._three_matmuls(X, *[W for W, _ in net.layers])  # noqa: SLF001
    assert calls == ["forward", "yardstick"]
