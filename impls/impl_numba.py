"""Numba: the loops of impl_python, compiled with @njit(cache=True). Nothing else changed.

Put this file beside impl_python.py: the same loops in the same order (sample,
neuron, input), the same activation loops, the same max-subtracted softmax. Only
the types differ: NumPy arrays instead of lists, so Numba can compile the loops
to machine code. No fastmath, no blocking, no tiling: what compiling alone buys.
The tuned versions of these loops are `numba-tuned` and `numba-parallel`.
"""
from __future__ import annotations

from math import exp
from typing import Any

import numpy as np

from loopvec.impls._common import Checked, InputError, as_numeric_array, check_dot_shapes, check_forward_input, check_rows
from loopvec.impls._numba_setup import njit
from loopvec.impls.network import Network

NAME = "numba"
DTYPES = ("float64", "float32")


def from_numpy(a: np.ndarray) -> np.ndarray:
    return np.asarray(a)


def to_numpy(x: Any) -> np.ndarray:
    return np.asarray(x)


# --- activations on one vector (the loops of impl_python, on arrays) ---

@njit(cache=True)
def _step(x):  # type: ignore[no-untyped-def]
    out = np.empty(x.shape[0], dtype=np.int64)
    for i in range(x.shape[0]):
        out[i] = 1 if x[i] > 0 else 0
    return out


@njit(cache=True)
def _sigmoid(x):  # type: ignore[no-untyped-def]
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        v = x[i]
        # exp(1000) overflows, so only ever exponentiate -|v|.
        if v >= 0.0:
            out[i] = 1.0 / (1.0 + exp(-v))
        else:
            e = exp(v)
            out[i] = e / (1.0 + e)
    return out


@njit(cache=True)
def _relu(x):  # type: ignore[no-untyped-def]
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        v = x[i]
        out[i] = 0.0 if v <= 0.0 else v  # NaN <= 0 is False: NaN passes through
    return out


@njit(cache=True)
def _identity(x):  # type: ignore[no-untyped-def]
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i]
    return out


@njit(cache=True)
def _softmax(x):  # type: ignore[no-untyped-def]
    m = x[0] if x.shape[0] else 0.0
    for i in range(x.shape[0]):
        if x[i] > m:
            m = x[i]
    exps = np.empty_like(x)
    total = 0.0
    for i in range(x.shape[0]):
        e = exp(x[i] - m)  # x - m <= 0: no overflow
        exps[i] = e
        total += e
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = exps[i] / total
    return out


@njit(cache=True)
def _activate(name, z):  # type: ignore[no-untyped-def]
    # impl_python looks the function up once; here a name picks the loop
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "relu":
        return _relu(z)
    if name == "softmax":
        return _softmax(z)
    return _identity(z)


@njit(cache=True)
def _each_row(name, x, out):  # type: ignore[no-untyped-def]
    # (rows, n) -> (rows, n): one vector function per row, as impl_python's _elementwise
    for r in range(x.shape[0]):
        if name == "step":
            out[r] = _step(x[r])
        else:
            out[r] = _activate(name, x[r])


def _elementwise(name: str, x: Any) -> np.ndarray:
    a = as_numeric_array(x)
    a = np.ascontiguousarray(a, dtype=a.dtype if a.dtype in (np.float32, np.float64) else np.float64)
    out = np.empty(a.shape, dtype=np.int64 if name == "step" else a.dtype)
    rows = a.reshape(-1, a.shape[-1]) if a.size else a.reshape(0, 0)
    _each_row(name, rows, out.reshape(rows.shape))
    return out


def step(x: Any) -> np.ndarray:
    return _elementwise("step", x)


def sigmoid(x: Any) -> np.ndarray:
    return _elementwise("sigmoid", x)


def relu(x: Any) -> np.ndarray:
    return _elementwise("relu", x)


def identity(x: Any) -> np.ndarray:
    return _elementwise("identity", x)


def softmax(x: Any) -> np.ndarray:
    return _elementwise("softmax", x)


# --- dot ---

@njit(cache=True)
def _rows_times_cols(rows, cols, out):  # type: ignore[no-untyped-def]
    # (k, n) @ (n, m) with b given as its m columns (m, n) -> (k, m)
    for r in range(rows.shape[0]):
        for j in range(cols.shape[0]):
            s = out.dtype.type(0)  # integers stay integers, as in np.dot
            for i in range(rows.shape[1]):
                s += rows[r, i] * cols[j, i]
            out[r, j] = s


def dot(a: Any, b: Any) -> Any:
    A = as_numeric_array(a, "a")
    B = as_numeric_array(b, "b")
    check_dot_shapes(A.shape, B.shape)
    dt = np.result_type(A.dtype, B.dtype)
    if dt not in (np.float32, np.float64, np.int64):
        dt = np.dtype(np.int64) if dt.kind in "biu" else np.dtype(np.float64)
    if B.ndim == 1:  # (m, n) @ (n,) -> (m,): each row of a against b, b as the one column
        rows = np.ascontiguousarray(A.reshape(-1, B.shape[0]), dtype=dt)
        out = np.empty((1, rows.shape[0]), dtype=dt)
        _rows_times_cols(np.ascontiguousarray(B.reshape(1, -1), dtype=dt), rows, out)
        return out[0] if A.ndim == 2 else out[0, 0]
    rows = np.ascontiguousarray(A.reshape(-1, A.shape[-1]), dtype=dt)
    cols = np.ascontiguousarray(B.T, dtype=dt)  # transpose once: the columns of b
    out = np.empty((rows.shape[0], cols.shape[0]), dtype=dt)
    _rows_times_cols(rows, cols, out)
    return out[0] if A.ndim == 1 else out


# --- network ---

class Prepared:
    """Each layer's W stored as its columns (what the inner loop reads), b as an array."""

    __slots__ = ("cols", "bs", "hidden", "output", "dtype", "n_in", "n_out")

    def __init__(self, network: Network) -> None:
        self.cols = tuple(np.ascontiguousarray(W.T) for W, _ in network.layers)  # (n_out, n_in)
        self.bs = tuple(np.ascontiguousarray(b) for _, b in network.layers)
        self.hidden = network.hidden
        self.output = network.output
        self.dtype = network.dtype
        self.n_in = network.n_in
        self.n_out = network.n_out


def prepare(network: Network) -> Prepared:
    return Prepared(network)


@njit(cache=True)
def _forward_one(layers_cols, layers_b, hidden, output, x):  # type: ignore[no-untyped-def]
    a = x
    last = len(layers_cols) - 1
    for k in range(len(layers_cols)):
        cols, b = layers_cols[k], layers_b[k]
        z = np.empty(b.shape[0], dtype=x.dtype)
        for j in range(cols.shape[0]):  # one output neuron per column of W
            s = b[j]
            for i in range(cols.shape[1]):
                s += a[i] * cols[j, i]
            z[j] = s
        a = _activate(output, z) if k == last else _activate(hidden, z)
    return a


@njit(cache=True)
def _forward(layers_cols, layers_b, hidden, output, X, out):  # type: ignore[no-untyped-def]
    # (batch, n_in) -> (batch, n_out), one sample at a time as impl_python
    for r in range(X.shape[0]):
        out[r] = _forward_one(layers_cols, layers_b, hidden, output, X[r])


def forward(p: Prepared, x: Any) -> np.ndarray:
    X = as_numeric_array(x)
    check_forward_input(X.shape, p.n_in)
    X2 = np.ascontiguousarray(X.reshape(-1, p.n_in), dtype=p.dtype)
    out = np.empty((X2.shape[0], p.n_out), dtype=p.dtype)
    _forward(p.cols, p.bs, p.hidden, p.output, X2, out)
    return out[0] if X.ndim == 1 else out


# --- forward's steps one at a time, for `loopvec explain` ---

@njit(cache=True)
def _product_rows(a, cols, b, z):  # type: ignore[no-untyped-def]
    # _forward_one's product loop over a batch (batch, n_in) -> (batch, n_out): the sum starts at the bias
    for r in range(a.shape[0]):
        for j in range(cols.shape[0]):
            s = b[j]
            for i in range(cols.shape[1]):
                s += a[r, i] * cols[j, i]
            z[r, j] = s


def stages(p: Prepared, k: int) -> dict[str, Any]:
    """Layer k of the forward pass as the steps it runs, over a batch (what `loopvec explain` times):
    "product" (bias included: the sums start at it) and "activation", each the loop forward runs
    for one sample, here for every row; into `out` when given, else into a new array."""
    cols, b = p.cols[k], p.bs[k]
    name = p.output if k == len(p.cols) - 1 else p.hidden

    checked_product, checked_activation = Checked(), Checked()

    def product(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if not checked_product.same(a, out):  # the compiled loops trust their arguments
            check_rows(a, a.dtype if isinstance(a, np.ndarray) else np.float64, cols.shape[1], "stages product: a",
                       width=cols.shape[1])
            if out is not None:
                check_rows(out, a.dtype, b.shape[0], "stages product: out", width=b.shape[0])
                if out.shape[0] != a.shape[0]:
                    raise InputError(f"stages product: out has {out.shape[0]} rows, a has {a.shape[0]}")
                checked_product.remember(a, out)
        z = np.empty((a.shape[0], b.shape[0]), dtype=a.dtype) if out is None else out
        _product_rows(a, cols, b, z)  # (batch, n_in) @ (n_in, n_out) + b -> (batch, n_out)
        return z

    def activation(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if not checked_activation.same(z, out):
            check_rows(z, z.dtype if isinstance(z, np.ndarray) else np.float64, b.shape[0], "stages activation: z",
                       width=b.shape[0])
            if out is not None:
                check_rows(out, z.dtype, b.shape[0], "stages activation: out", width=b.shape[0])
                if out.shape[0] != z.shape[0]:
                    raise InputError(f"stages activation: out has {out.shape[0]} rows, z has {z.shape[0]}")
                checked_activation.remember(z, out)
        a = np.empty_like(z) if out is None else out
        _each_row(name, z, a)  # _activate(name, row) per row, as forward per sample
        return a

    return {"product": product, "activation": activation}
