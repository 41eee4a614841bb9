"""Elementwise kernels of numba-tuned and numba-parallel: one inner loop per function over a
span of a flat array, a serial driver and a parallel one (work items of CHUNK elements)."""
from __future__ import annotations

from numba import prange

from loopvec.impls._numba_kernels import RELU, SIGMOID, _softmax_row
from loopvec.impls._numba_setup import OPTS, njit
from loopvec.impls._simd import _exp, _wide

# ---- elementwise kernels on flat arrays: inner loop + serial and parallel drivers --

CHUNK = 1 << 14  # elements per parallel work item


@njit(**OPTS)
def _step_span(x, out, i0, i1):  # type: ignore[no-untyped-def]
    _wide()
    for i in range(i0, i1):
        out[i] = 1 if x[i] > 0 else 0


@njit(**OPTS)
def _sigmoid_span(x, out, i0, i1):  # type: ignore[no-untyped-def]
    _wide()
    one = x.dtype.type(1)
    for i in range(i0, i1):
        out[i] = one / (one + _exp(-x[i]))


@njit(**OPTS)
def _relu_span(x, out, i0, i1):  # type: ignore[no-untyped-def]
    _wide()
    zero = x.dtype.type(0)
    for i in range(i0, i1):
        v = x[i]
        out[i] = zero if v <= zero else v


@njit(**OPTS)
def _identity_span(x, out, i0, i1):  # type: ignore[no-untyped-def]
    for i in range(i0, i1):
        out[i] = x[i]


@njit(**OPTS)
def _softmax_span(x, out, r0, r1):  # type: ignore[no-untyped-def]
    for r in range(r0, r1):
        _softmax_row(x[r], out[r], x.shape[1])


@njit(**OPTS)
def step_serial(x, out):  # type: ignore[no-untyped-def]
    _step_span(x, out, 0, x.shape[0])


@njit(parallel=True, **OPTS)
def step_parallel(x, out):  # type: ignore[no-untyped-def]
    n = x.shape[0]
    for c in prange(-(-n // CHUNK)):
        _step_span(x, out, c * CHUNK, min(n, (c + 1) * CHUNK))


@njit(**OPTS)
def _span(code, x, out, i0, i1):  # type: ignore[no-untyped-def]
    """Activation `code` (sigmoid, relu or identity) on x[i0:i1]; one branch per span, not per element."""
    if code == SIGMOID:
        _sigmoid_span(x, out, i0, i1)
    elif code == RELU:
        _relu_span(x, out, i0, i1)
    else:
        _identity_span(x, out, i0, i1)


@njit(**OPTS)
def activation_serial(code, x, out):  # type: ignore[no-untyped-def]
    _span(code, x, out, 0, x.shape[0])


@njit(parallel=True, **OPTS)
def activation_parallel(code, x, out):  # type: ignore[no-untyped-def]
    n = x.shape[0]
    for c in prange(-(-n // CHUNK)):
        _span(code, x, out, c * CHUNK, min(n, (c + 1) * CHUNK))


@njit(**OPTS)
def softmax_serial(x, out):  # type: ignore[no-untyped-def]
    _softmax_span(x, out, 0, x.shape[0])


@njit(parallel=True, **OPTS)
def softmax_parallel(x, out):  # type: ignore[no-untyped-def]
    rows = x.shape[0]
    per = max(1, CHUNK // max(1, x.shape[1]))
    for c in prange(-(-rows // per)):
        _softmax_span(x, out, c * per, min(rows, (c + 1) * per))
