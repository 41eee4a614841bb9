"""The interface functions around the Numba kernels, for `numba-tuned` and `numba-parallel`.

Thin Python wrappers: check and convert input, allocate the output, call a bare kernel
(serial below the PARALLEL_MIN_* sizes, where starting threads costs more than it saves).
"""
from __future__ import annotations

from typing import Any

import numba
import numpy as np

from loopvec.impls import _numba_elementwise as E
from loopvec.impls import _numba_kernels as K
from loopvec.impls._common import as_numeric_array, check_dot_shapes, check_forward_input
from loopvec.impls.network import Network

TILE = K.TILE
# Below these sizes numba-parallel runs the serial kernels. Measured on 2 cores, MNIST-shaped
# forward, float64: 8 rows 19 us serial / 26 us threaded, 16 rows 36 / 28 us, 64 rows 131 / 76 us.
PARALLEL_MIN_ROWS = 16
PARALLEL_MIN_ELEMENTS = 20_000


def from_numpy(a: np.ndarray) -> np.ndarray:
    return np.asarray(a)


def to_numpy(x: Any) -> np.ndarray:
    return np.asarray(x)


def _float(a: np.ndarray) -> np.ndarray:
    # the kernels are compiled for float32 and float64; everything else computes in float64
    dt = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(a, dtype=dt)


ALIGN = 64  # bytes: a zmm load from a 64-byte boundary never straddles two cache lines


def aligned_empty(n: int, dtype: np.dtype) -> np.ndarray:
    """np.empty(n) starting on a 64-byte boundary. Measured: the batch-1 forward pass ran
    10% slower when the packed weights happened to sit 8, 16 or 32 bytes off it, which
    made the same code's speed differ from process to process."""
    itemsize = np.dtype(dtype).itemsize
    buf = np.empty(n + ALIGN // itemsize, dtype=dtype)
    start = (-(buf.ctypes.data % ALIGN) // itemsize) % (ALIGN // itemsize)
    return buf[start:start + n]


def _aligned(a: np.ndarray) -> np.ndarray:
    out = aligned_empty(a.size, a.dtype)
    out[:] = a
    return out


def _pack(W: np.ndarray) -> tuple[np.ndarray, int]:
    """W (n_in, n_out) as SIMD panels (see K.pack_weights) and the padded width."""
    L = K.lanes(W.dtype)
    npad = K.padded(W.shape[1], L)
    out = aligned_empty(W.shape[0] * npad, W.dtype)
    out[:] = 0  # with a tail, the packed weights fill less than n_in * npad: the rest stays 0
    K.pack_weights(np.ascontiguousarray(W), L, out)
    return out, npad


class Prepared:
    """Weights packed once into SIMD panels, biases zero-padded, activations as codes."""

    __slots__ = ("wflat", "bflat", "offs", "sizes", "lanes", "hidden", "output", "dtype", "n_in", "n_out",
                 "width")

    def __init__(self, network: Network) -> None:
        packed = [_pack(W) for W, _ in network.layers]
        # all layers in one weight array and one bias array; offs[k] = (start of W_k, start of b_k)
        self.wflat = _aligned(np.concatenate([wp for wp, _ in packed]))
        self.bflat = _aligned(np.concatenate([np.concatenate([b, np.zeros(npad - b.shape[0], b.dtype)])
                                              for (_, b), (_, npad) in zip(network.layers, packed)]))
        self.offs = np.zeros((len(packed) + 1, 2), dtype=np.int64)
        self.offs[1:, 0] = np.cumsum([wp.shape[0] for wp, _ in packed])
        self.offs[1:, 1] = np.cumsum([npad for _, npad in packed])
        self.sizes = np.array(network.sizes, dtype=np.int64)
        self.lanes = K.lanes(network.dtype)
        self.hidden = K.ACT_CODE[network.hidden]
        self.output = K.ACT_CODE[network.output]
        self.dtype = network.dtype
        self.n_in = network.n_in
        self.n_out = network.n_out
        self.width = max(npad for _, npad in packed)  # widest padded layer


class NumbaImpl:
    def __init__(self, parallel: bool) -> None:
        self.parallel = parallel

    def _kernel(self, name: str, size: int, threshold: int) -> Any:
        """An elementwise kernel (step, activation, softmax): the threaded build from `threshold` elements."""
        par = self.parallel and size >= threshold
        return getattr(E, f"{name}_parallel" if par else f"{name}_serial")

    def _threaded(self, name: str, rows: int) -> tuple[Any, int]:
        """The row-split kernel and its thread count (serial, 1 thread, below PARALLEL_MIN_ROWS)."""
        if self.parallel and rows >= PARALLEL_MIN_ROWS:
            return getattr(K, f"{name}_parallel"), numba.get_num_threads()
        return getattr(K, f"{name}_serial"), 1

    @staticmethod
    def _run(kernel: Any, nthreads: int, *args: Any) -> None:
        """Call a row-split kernel; threaded ones hand out their work items one at a time."""
        if nthreads == 1:
            kernel(*args)
            return
        prev = numba.set_parallel_chunksize(1)
        try:
            kernel(*args)
        finally:
            numba.set_parallel_chunksize(prev)

    def _elementwise(self, activation: str, x: Any) -> np.ndarray:
        a = _float(as_numeric_array(x))
        if activation == "step":
            out = np.empty(a.shape, dtype=np.int64)
            self._kernel("step", a.size, PARALLEL_MIN_ELEMENTS)(a.reshape(-1), out.reshape(-1))
            return out
        out = np.empty_like(a)
        kernel = self._kernel("activation", a.size, PARALLEL_MIN_ELEMENTS)
        kernel(K.ACT_CODE[activation], a.reshape(-1), out.reshape(-1))
        return out

    def step(self, x: Any) -> np.ndarray:
        return self._elementwise("step", x)

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
            k = self._kernel("softmax", a.size, PARALLEL_MIN_ELEMENTS)
            k(a.reshape(-1, a.shape[-1]), out.reshape(-1, a.shape[-1]))
        return out

    def dot(self, a: Any, b: Any) -> Any:
        A = as_numeric_array(a, "a")
        B = as_numeric_array(b, "b")
        check_dot_shapes(A.shape, B.shape)
        dt = np.result_type(A.dtype, B.dtype)  # as np.dot: integers stay integers
        if dt not in (np.float32, np.float64, np.int64):
            dt = np.dtype(np.int64) if dt.kind in "biu" else np.dtype(np.float64)
        A2 = np.ascontiguousarray(A.reshape(1, -1) if A.ndim == 1 else A, dtype=dt)
        B2 = np.ascontiguousarray(B.reshape(-1, 1) if B.ndim == 1 else B, dtype=dt)
        m, p = A2.shape[0], B2.shape[1]
        if B2.shape[0] == 0 or m == 0 or p == 0:  # empty: a sum of nothing is zeros
            out = np.zeros((m, p), dtype=dt)
        elif dt == np.int64:
            out = np.empty((m, p), dtype=dt)
            K.matmul_int(A2, B2, out)
        else:
            # (m, n) @ (n, p): B packed into SIMD panels (as the weights are), then the dense kernel
            bp, npad = _pack(B2)
            out = np.empty((m, p), dtype=dt)
            kernel, nthreads = self._threaded("matmul", m)
            self._run(kernel, nthreads, A2, bp, np.zeros(npad, dt), K.lanes(dt), out, nthreads)
        if A.ndim == 1 and B.ndim == 1:
            return out[0, 0]
        if A.ndim == 1:
            return out[0]
        if B.ndim == 1:
            return out[:, 0]
        return out

    def prepare(self, network: Network) -> Prepared:
        return Prepared(network)

    def forward(self, p: Prepared, x: Any) -> np.ndarray:
        if type(x) is np.ndarray and x.dtype == p.dtype and x.ndim == 2 and x.shape[1] == p.n_in \
                and x.shape[0] > 0 and x.flags.c_contiguous:
            X = X2 = x  # the common case, checked in a few attribute reads
        else:
            X = as_numeric_array(x)
            check_forward_input(X.shape, p.n_in)
            X2 = np.ascontiguousarray(X.reshape(-1, p.n_in), dtype=p.dtype)
        out = np.empty((X2.shape[0], p.n_out), dtype=p.dtype)
        kernel, nthreads = self._threaded("forward", X2.shape[0])
        self._run(kernel, nthreads, X2, p.wflat, p.bflat, p.offs, p.sizes, p.lanes, p.hidden, p.output, out,
                  p.width, nthreads)
        return out[0] if X.ndim == 1 else out
