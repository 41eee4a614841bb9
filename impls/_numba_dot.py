"""numba-tuned's dot: np.dot's shapes and dtypes around a float matmul driver.

Floats go to the driver (numba-tuned's matmul_serial, numba-parallel's threaded one): B packed
into SIMD panels as the weights are (_numba_packing.py), then the dense kernel with a zero bias
and no activation. Integers stay integers, as in np.dot: a plain loop with int64 wrapping.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from loopvec.impls._common import as_numeric_array, check_dot_shapes
from loopvec.impls._numba_packing import pack
from loopvec.impls._numba_setup import njit
from loopvec.impls._simd import lanes


@njit(cache=True)
def matmul_int(A, B, out):  # type: ignore[no-untyped-def]
    """Integer A @ B (wrapping int64 arithmetic, as np.dot): i-k-j order."""
    m, n = A.shape
    p = B.shape[1]
    for i in range(m):
        for j in range(p):
            out[i, j] = 0
        for k in range(n):
            a = A[i, k]
            for j in range(p):
                out[i, j] += a * B[k, j]


def run_dot(a: Any, b: Any, matmul: Callable[..., None]) -> Any:
    """a @ b as np.dot; floats by matmul(A, B packed into panels as the weights are, zero bias, L, out)."""
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
        matmul_int(A2, B2, out)
    else:
        bp, npad = pack(B2)
        out = np.empty((m, p), dtype=dt)
        matmul(A2, bp, np.zeros(npad, dt), lanes(dt), out)
    if A.ndim == 1:
        return out[0, 0] if B.ndim == 1 else out[0]
    return out[:, 0] if B.ndim == 1 else out
