"""NumPy, vectorized: np.dot / @ and ufuncs, no Python loop over elements."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from loopvec.impls._common import as_numeric_array, check_dot_shapes, check_forward_input
from loopvec.impls.network import Network

NAME = "numpy"
DTYPES = ("float64", "float32")


def from_numpy(a: np.ndarray) -> np.ndarray:
    return np.asarray(a)


def to_numpy(x: Any) -> np.ndarray:
    return np.asarray(x)


def step(x: Any) -> np.ndarray:
    a = as_numeric_array(x)
    return (a > 0).astype(np.int64)


def _sigmoid_inplace(z: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-z)); exp(+large) -> inf -> 1/inf = 0, which is right, so the
    # overflow is expected and silenced by the caller's errstate.
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    np.reciprocal(z, out=z)
    return z


def _relu_inplace(z: np.ndarray) -> np.ndarray:
    # maximum (not a > 0 mask) propagates NaN like the loop versions.
    return np.maximum(z, 0.0, out=z)


def _softmax_inplace(z: np.ndarray) -> np.ndarray:
    if z.size == 0:
        return z  # nothing to normalise (max of an empty row is undefined)
    # Subtract the row maximum first so exp never overflows.
    z -= z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def _identity_inplace(z: np.ndarray) -> np.ndarray:
    return z


def _float_copy(x: Any) -> np.ndarray:
    a = as_numeric_array(x)
    return a.astype(a.dtype if a.dtype.kind == "f" else np.float64, copy=True)


def sigmoid(x: Any) -> np.ndarray:
    z = _float_copy(x)
    with np.errstate(over="ignore"):
        return _sigmoid_inplace(z)


def relu(x: Any) -> np.ndarray:
    return _relu_inplace(_float_copy(x))


def identity(x: Any) -> np.ndarray:
    return _float_copy(x)


def softmax(x: Any) -> np.ndarray:
    return _softmax_inplace(_float_copy(x))


def dot(a: Any, b: Any) -> np.ndarray:
    A = as_numeric_array(a, "a")
    B = as_numeric_array(b, "b")
    check_dot_shapes(A.shape, B.shape)
    return np.dot(A, B)


_ACT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": _sigmoid_inplace,
    "relu": _relu_inplace,
    "identity": _identity_inplace,
    "softmax": _softmax_inplace,
}


def _sigmoid_of_negated_inplace(u: np.ndarray) -> np.ndarray:
    # u = -z already (the layer's weights were negated once in prepare): 1 / (1 + exp(u))
    np.exp(u, out=u)
    u += 1.0
    np.reciprocal(u, out=u)
    return u


class Prepared:
    """Weights as contiguous arrays of the network's dtype, activations resolved once.

    Sigmoid hidden layers keep -W and -b: x @ (-W) + (-b) is exactly -(x @ W + b)
    (negation is exact), so the sigmoid's exp(-z) needs no extra pass over z.
    """

    __slots__ = ("layers", "hidden", "output", "dtype", "n_in", "n_out")

    def __init__(self, network: Network) -> None:
        negate = network.hidden == "sigmoid"
        last = len(network.layers) - 1
        self.layers = tuple(
            (np.ascontiguousarray(-W if negate and k < last else W), np.ascontiguousarray(-b if negate and k < last else b))
            for k, (W, b) in enumerate(network.layers)
        )
        self.hidden = _sigmoid_of_negated_inplace if negate else _ACT[network.hidden]
        self.output = _ACT[network.output]
        self.dtype = network.dtype
        self.n_in = network.n_in
        self.n_out = network.n_out


# Samples per step of a large batch: a step's activations (512 x 160 values, 640 KiB)
# stay in the L2 cache, where the bias add and the activations' passes over them run at
# cache speed. How it was measured, and what was tried: docs/methodology.md.
CHUNK = 512


def in_steps(step: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
    """step(X), in steps of CHUNK samples when X is a larger batch (rows stacked back)."""
    if X.ndim == 2 and X.shape[0] > CHUNK:
        # the book's batch loop (predict on x[i:i+batch_size]), here for the cache's sake
        return np.concatenate([step(X[i : i + CHUNK]) for i in range(0, X.shape[0], CHUNK)])
    return step(X)


def prepare(network: Network) -> Prepared:
    return Prepared(network)


def forward(p: Prepared, x: Any) -> np.ndarray:
    X = as_numeric_array(x)
    check_forward_input(X.shape, p.n_in)
    if X.dtype != p.dtype:
        X = X.astype(p.dtype)
    return in_steps(lambda x: _forward(p, x), X)


def stages(p: Prepared, k: int) -> dict[str, Any]:
    """Layer k of the forward pass as the three calls _forward makes (what `loopvec explain` times):
    "product" a @ W, "bias" z += b in place, "activation" in place; and "sign", -1.0 where the
    layer keeps -W and -b (a sigmoid hidden layer: its z arrives negated), else 1.0."""
    W, b = p.layers[k]

    def bias(z: np.ndarray) -> np.ndarray:
        z += b  # in place, as _forward does
        return z

    hidden = k < len(p.layers) - 1
    return {"product": lambda a: a @ W, "bias": bias, "activation": p.hidden if hidden else p.output,
            "sign": -1.0 if hidden and p.hidden is _sigmoid_of_negated_inplace else 1.0}


def _forward(p: Prepared, X: np.ndarray) -> np.ndarray:
    a = X
    last = len(p.layers) - 1
    with np.errstate(over="ignore"):
        for k, (W, b) in enumerate(p.layers):
            z = a @ W  # (batch, n_in) @ (n_in, n_out) -> (batch, n_out); 1-D x gives (n_out,)
            z += b  # in place: no second temporary
            a = p.output(z) if k == last else p.hidden(z)
    return a
