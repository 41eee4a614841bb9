"""Numba, parallel: numba-tuned's page (impl_numba_tuned.py) with the work split across threads.

Only the prange drivers and the sizes they start at are here; the kernels, Prepared and the
interface's checks are numba-tuned's. Rows are handed out in work items of up to one tile
(64 samples; 60 with 6-row register blocks), one at a time, so a core that is busy elsewhere
takes fewer; below PARALLEL_MIN_ROWS rows (or PARALLEL_MIN_ELEMENTS elements) numba-tuned's
serial drivers run, since starting threads costs more than they save there. The elementwise
functions split the flat array into work items of CHUNK elements; softmax of a few long rows
(one row of a million, say) splits each row too: the spans' maxima, then exp and the spans'
sums, then the scaling, each a parallel loop, the maxima and sums combined in span order
between them, so the result does not depend on which thread ran which span.
Threads: numba.set_num_threads or NUMBA_NUM_THREADS (`loopvec run --threads N`).
"""
from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import prange

from loopvec.impls._numba_activations import (IDENTITY, RELU, SIGMOID, exp_sum_span, max_span, scale_span,
                                              softmax_row, span, step_span)
from loopvec.impls._numba_elementwise import (activation_serial, run_activation, run_softmax, run_step,
                                              softmax_serial, step_serial)
from loopvec.impls._numba_setup import OPTS, njit
from loopvec.impls.impl_numba_tuned import (MR, TILE, Prepared, forward_rows, forward_serial, from_numpy, matmul_rows,
                                            matmul_serial, prepare, run_dot, run_forward, to_numpy)

NAME = "numba-parallel"
DTYPES = ("float64", "float32")
# Below these sizes numba-parallel runs the serial kernels. Measured on 2 cores, MNIST-shaped
# forward, float64: 8 rows 19 us serial / 26 us threaded, 16 rows 36 / 28 us, 64 rows 131 / 76 us.
PARALLEL_MIN_ROWS = 16
PARALLEL_MIN_ELEMENTS = 20_000
CHUNK = 1 << 14  # elements per elementwise work item (128 KiB of float64: in L2)
ROWS_PER_THREAD = 4  # fewer softmax rows than this per thread: a row long enough to split is split


# ---- rows across threads: forward and matmul -------------------------------------------

@njit(**OPTS)
def chunks(n, step, nthreads):  # type: ignore[no-untyped-def]
    """Split n rows into work items of at most TILE rows (a multiple of `step`), at least
    one per thread; the caller hands them out dynamically (numba.set_parallel_chunksize(1))
    so that a core busy with something else takes fewer of them."""
    per = -(-n // nthreads)
    per = min(TILE, -(-per // step) * step)
    return -(-n // per), per


@njit(parallel=True, **OPTS)
def forward_parallel(X, wflat, bflat, offs, sizes, L, hidden, output, out, width, nthreads):  # type: ignore[no-untyped-def]
    n = X.shape[0]
    n_chunks, per = chunks(n, MR, nthreads)
    for c in prange(n_chunks):
        forward_rows(X, c * per, min(n, (c + 1) * per), wflat, bflat, offs, sizes, L, hidden, output, out, width)


@njit(parallel=True, **OPTS)
def matmul_parallel(A, bp, zeros, L, out, nthreads):  # type: ignore[no-untyped-def]
    n = A.shape[0]
    n_chunks, per = chunks(n, MR, nthreads)
    for c in prange(n_chunks):
        buf = np.empty((TILE, zeros.shape[0]), dtype=A.dtype)
        matmul_rows(A, c * per, min(n, (c + 1) * per), bp, zeros, L, out, buf)


def threaded(kernel: Any, *args: Any) -> None:
    """Call a row-split kernel with the thread count, its work items handed out one at a time."""
    prev = numba.set_parallel_chunksize(1)
    try:
        kernel(*args, numba.get_num_threads())
    finally:
        numba.set_parallel_chunksize(prev)


def forward_driver(X: np.ndarray, *args: Any) -> None:
    if X.shape[0] < PARALLEL_MIN_ROWS:
        forward_serial(X, *args)
    else:
        threaded(forward_parallel, X, *args)


def matmul_driver(A: np.ndarray, *args: Any) -> None:
    if A.shape[0] < PARALLEL_MIN_ROWS:
        matmul_serial(A, *args)
    else:
        threaded(matmul_parallel, A, *args)


# ---- the elementwise functions: spans of CHUNK elements across threads --------------------

@njit(parallel=True, **OPTS)
def step_parallel(x, out):  # type: ignore[no-untyped-def]
    n = x.shape[0]
    for c in prange(-(-n // CHUNK)):
        step_span(x, out, c * CHUNK, min(n, (c + 1) * CHUNK))


@njit(parallel=True, **OPTS)
def activation_parallel(code, x, out):  # type: ignore[no-untyped-def]
    n = x.shape[0]
    for c in prange(-(-n // CHUNK)):
        span(code, x, out, c * CHUNK, min(n, (c + 1) * CHUNK))


@njit(parallel=True, **OPTS)
def softmax_by_rows(x, out):  # type: ignore[no-untyped-def]
    rows, n = x.shape
    per = max(1, CHUNK // max(1, n))  # rows per work item
    for c in prange(-(-rows // per)):
        for r in range(c * per, min(rows, (c + 1) * per)):
            softmax_row(x[r], out[r], n)


@njit(parallel=True, **OPTS)
def softmax_split(x, out):  # type: ignore[no-untyped-def]
    """Each row in spans of CHUNK: work item w is span w % per of row w // per."""
    rows, n = x.shape
    per = -(-n // CHUNK)  # spans per row
    pmax = np.empty(rows * per, dtype=x.dtype)  # (rows * per,) the spans' maxima
    psum = np.empty(rows * per, dtype=np.float64)  # (rows * per,) the spans' sums
    m = np.empty(rows, dtype=x.dtype)  # (rows,) row maxima
    inv = np.empty(rows, dtype=x.dtype)  # (rows,) 1 / row sums
    for w in prange(rows * per):
        r, c = w // per, w % per
        pmax[w] = max_span(x[r], c * CHUNK, min(n, (c + 1) * CHUNK))
    for r in range(rows):
        m[r] = max_span(pmax, r * per, (r + 1) * per)  # NaN passed over, as within a span
    for w in prange(rows * per):
        r, c = w // per, w % per
        psum[w] = exp_sum_span(x[r], m[r], out[r], c * CHUNK, min(n, (c + 1) * CHUNK))
    for r in range(rows):
        s = 0.0
        for c in range(per):  # in span order
            s += psum[r * per + c]
        inv[r] = 1.0 / s
    for w in prange(rows * per):
        r, c = w // per, w % per
        scale_span(out[r], inv[r], c * CHUNK, min(n, (c + 1) * CHUNK))


def step_driver(x: np.ndarray, out: np.ndarray) -> None:
    (step_parallel if x.shape[0] >= PARALLEL_MIN_ELEMENTS else step_serial)(x, out)


def activation_driver(code: int, x: np.ndarray, out: np.ndarray) -> None:
    (activation_parallel if x.shape[0] >= PARALLEL_MIN_ELEMENTS else activation_serial)(code, x, out)


def softmax_driver(x: np.ndarray, out: np.ndarray) -> None:
    """Softmax along the rows of x (rows, n) into out: rows split into spans when they are long
    and too few to share out (decided here in Python: numba.get_num_threads() in compiled code
    would keep it out of the on-disk cache)."""
    rows, n = x.shape
    if x.size < PARALLEL_MIN_ELEMENTS:
        softmax_serial(x, out)
    elif n > CHUNK and rows < ROWS_PER_THREAD * numba.get_num_threads():
        softmax_split(x, out)
    else:
        softmax_by_rows(x, out)


# ---- the interface: numba-tuned's, with the drivers above -------------------------------

def step(x: Any) -> np.ndarray:
    return run_step(x, step_driver)


def sigmoid(x: Any) -> np.ndarray:
    return run_activation(SIGMOID, x, activation_driver)


def relu(x: Any) -> np.ndarray:
    return run_activation(RELU, x, activation_driver)


def identity(x: Any) -> np.ndarray:
    return run_activation(IDENTITY, x, activation_driver)


def softmax(x: Any) -> np.ndarray:
    return run_softmax(x, softmax_driver)


def dot(a: Any, b: Any) -> Any:
    return run_dot(a, b, matmul_driver)


def forward(p: Prepared, x: Any) -> np.ndarray:
    return run_forward(p, x, forward_driver)


__all__ = ["NAME", "DTYPES", "Prepared", "from_numpy", "to_numpy", "step", "sigmoid", "relu",
           "identity", "softmax", "dot", "prepare", "forward"]
