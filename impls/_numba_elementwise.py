"""Elementwise drivers of numba-tuned and numba-parallel: a serial driver and a parallel one
(work items of CHUNK elements) per function, over the loops of _numba_activations.py.

Softmax takes a 2-D (rows, n) view, one row per softmax. Serial: one row after another.
Parallel: whole rows per work item when there are enough rows to share out; else (a few
long rows, such as one row of a million) each row is split into spans of CHUNK elements,
and the three passes run one parallel loop each: the spans' maxima, then exp and the
spans' sums, then the scaling. The maxima and sums are combined in span order, serially,
between the loops: the result does not depend on which thread ran which span.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import prange

from loopvec.impls._numba_activations import exp_sum_span, max_span, scale_span, softmax_row, span, step_span
from loopvec.impls._numba_setup import OPTS, njit

CHUNK = 1 << 14  # elements per parallel work item (128 KiB of float64: in L2)
ROWS_PER_THREAD = 4  # fewer rows than this per thread: a row long enough to split is split


@njit(**OPTS)
def step_serial(x, out):  # type: ignore[no-untyped-def]
    step_span(x, out, 0, x.shape[0])


@njit(parallel=True, **OPTS)
def step_parallel(x, out):  # type: ignore[no-untyped-def]
    n = x.shape[0]
    for c in prange(-(-n // CHUNK)):
        step_span(x, out, c * CHUNK, min(n, (c + 1) * CHUNK))


@njit(**OPTS)
def activation_serial(code, x, out):  # type: ignore[no-untyped-def]
    span(code, x, out, 0, x.shape[0])


@njit(parallel=True, **OPTS)
def activation_parallel(code, x, out):  # type: ignore[no-untyped-def]
    n = x.shape[0]
    for c in prange(-(-n // CHUNK)):
        span(code, x, out, c * CHUNK, min(n, (c + 1) * CHUNK))


# ---- softmax along the rows of x (rows, n) into out (rows, n) ----------------------

@njit(**OPTS)
def softmax_serial(x, out):  # type: ignore[no-untyped-def]
    for r in range(x.shape[0]):
        softmax_row(x[r], out[r], x.shape[1])


@njit(parallel=True, **OPTS)
def _softmax_by_rows(x, out):  # type: ignore[no-untyped-def]
    rows, n = x.shape
    per = max(1, CHUNK // max(1, n))  # rows per work item
    for c in prange(-(-rows // per)):
        for r in range(c * per, min(rows, (c + 1) * per)):
            softmax_row(x[r], out[r], n)


@njit(parallel=True, **OPTS)
def _softmax_split(x, out):  # type: ignore[no-untyped-def]
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


def softmax_parallel(x: np.ndarray, out: np.ndarray) -> None:
    """Softmax along the rows of x (rows, n) into out, threaded: rows split into spans when
    they are long and too few to share out (a Python function: numba.get_num_threads() in
    compiled code would keep it out of the on-disk cache)."""
    rows, n = x.shape
    if n > CHUNK and rows < ROWS_PER_THREAD * numba.get_num_threads():
        _softmax_split(x, out)
    else:
        _softmax_by_rows(x, out)
