"""The interface functions around the Numba kernels, for `numba` and `numba-parallel`.

Thin Python wrappers: check and convert input, allocate the output, call a bare kernel.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from impls import _numba_kernels as K
from impls._common import as_numeric_array, check_dot_shapes, check_forward_input
from impls.network import Network

# Samples per tile of the fused forward kernel: enough rows to reuse each row of W
# from L1 several times, few enough that the tile's activations stay in L1.
TILE = 8
# Below these sizes a parallel launch costs more than it saves: numba-parallel
# runs the serial kernels instead.
PARALLEL_MIN_ROWS = 2 * TILE
PARALLEL_MIN_ELEMENTS = 20_000


def from_numpy(a: np.ndarray) -> np.ndarray:
    return np.asarray(a)


def to_numpy(x: Any) -> np.ndarray:
    return np.asarray(x)


def _float(a: np.ndarray) -> np.ndarray:
    # the kernels are compiled for float32 and float64; everything else computes in float64
    dt = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(a, dtype=dt)


class Prepared:
    """Weights as tuples of contiguous arrays (one Numba type), activations as codes."""

    __slots__ = ("WTs", "bs", "hidden", "output", "dtype", "n_in", "n_out", "width")

    def __init__(self, network: Network) -> None:
        self.WTs = tuple(np.ascontiguousarray(W.T) for W, _ in network.layers)  # (n_out, n_in)
        self.bs = tuple(np.ascontiguousarray(b) for _, b in network.layers)
        self.hidden = K.ACT_CODE[network.hidden]
        self.output = K.ACT_CODE[network.output]
        self.dtype = network.dtype
        self.n_in = network.n_in
        self.n_out = network.n_out
        self.width = max(network.sizes[1:-1], default=1)  # widest hidden layer


class NumbaImpl:
    def __init__(self, parallel: bool) -> None:
        self.serial = K.build(False)
        self.k = K.build(parallel)  # the same object as self.serial when not parallel

    def _kernels(self, size: int, threshold: int) -> Any:
        return self.k if size >= threshold else self.serial

    def _elementwise(self, kernel: str, x: Any, out_dtype: Any = None) -> np.ndarray:
        a = _float(as_numeric_array(x))
        out = np.empty(a.shape, dtype=out_dtype or a.dtype)
        k = self._kernels(a.size, PARALLEL_MIN_ELEMENTS)
        getattr(k, kernel)(a.reshape(-1), out.reshape(-1))  # flat views, no copies
        return out

    def step(self, x: Any) -> np.ndarray:
        return self._elementwise("step", x, np.int64)

    def sigmoid(self, x: Any) -> np.ndarray:
        return self._elementwise("sigmoid", x)

    def relu(self, x: Any) -> np.ndarray:
        return self._elementwise("relu", x)

    def identity(self, x: Any) -> np.ndarray:
        return self._elementwise("identity", x)

    def softmax(self, x: Any) -> np.ndarray:
        a = _float(as_numeric_array(x))
        out = np.empty_like(a)
        if a.size:
            k = self._kernels(a.size, PARALLEL_MIN_ELEMENTS)
            k.softmax(a.reshape(-1, a.shape[-1]), out.reshape(-1, a.shape[-1]))
        return out

    def dot(self, a: Any, b: Any) -> Any:
        A = as_numeric_array(a, "a")
        B = as_numeric_array(b, "b")
        check_dot_shapes(A.shape, B.shape)
        dt = np.result_type(A.dtype, B.dtype)  # as np.dot: integers stay integers
        if dt not in (np.float32, np.float64, np.int64):
            dt = np.dtype(np.int64) if dt.kind in "biu" else np.dtype(np.float64)
        A = np.ascontiguousarray(A, dtype=dt)
        B = np.ascontiguousarray(B, dtype=dt)
        if B.shape[0] == 0:  # empty inner dimension: a sum of nothing, zeros of the result shape
            return np.zeros(A.shape[:-1] + B.shape[1:], dtype=dt)[()]
        if B.ndim == 1:
            # (m, n) @ (n,) -> (m,): x against every row of A, i.e. the dense kernel with
            # x as a 1-row batch and A in the place of the transposed weights; (n,) @ (n,) alike.
            WT = A.reshape(-1, B.shape[0])
            out = np.empty((1, WT.shape[0]), dtype=dt)
            self.serial.matmul(B.reshape(1, -1), WT, np.zeros(WT.shape[0], dtype=dt), out, TILE)
            return out[0] if A.ndim == 2 else out[0, 0]
        A2 = A.reshape(1, -1) if A.ndim == 1 else A
        out = np.empty((A2.shape[0], B.shape[1]), dtype=dt)
        # (m, n) @ (n, p) -> (m, p); B transposed once so both operands are read along rows
        k = self._kernels(A2.shape[0], PARALLEL_MIN_ROWS)
        k.matmul(A2, np.ascontiguousarray(B.T), np.zeros(B.shape[1], dtype=dt), out, TILE)
        return out[0] if A.ndim == 1 else out

    def prepare(self, network: Network) -> Prepared:
        return Prepared(network)

    def forward(self, p: Prepared, x: Any) -> np.ndarray:
        X = as_numeric_array(x)
        check_forward_input(X.shape, p.n_in)
        X2 = np.ascontiguousarray(X.reshape(-1, p.n_in), dtype=p.dtype)
        out = np.empty((X2.shape[0], p.n_out), dtype=p.dtype)
        k = self._kernels(X2.shape[0], PARALLEL_MIN_ROWS)
        k.forward(X2, p.WTs, p.bs, p.hidden, p.output, out, TILE, p.width)
        return out[0] if X.ndim == 1 else out

    def interface(self) -> tuple[Any, ...]:
        """step, sigmoid, relu, identity, softmax, dot, prepare, forward: in that order."""
        return (self.step, self.sigmoid, self.relu, self.identity, self.softmax,
                self.dot, self.prepare, self.forward)
