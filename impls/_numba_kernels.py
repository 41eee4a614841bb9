"""Numba kernels shared by the `numba` (serial) and `numba-parallel` implementations.

The loops are written once, with `prange` on the outer loop. `build(parallel)`
compiles them either serially (prange acts as range) or with parallel=True.
Kernels are bare: no shape checks (those live in the Python wrappers, untimed
by the kernel), outputs preallocated by the caller.
"""
from __future__ import annotations

import types
from typing import Callable

import numpy as np
from numba import njit, prange

# FMA contraction only: no reassociation, so loop results keep their summation order.
FASTMATH = {"contract"}

SIGMOID, RELU, IDENTITY, SOFTMAX = 0, 1, 2, 3
ACT_CODE = {"sigmoid": SIGMOID, "relu": RELU, "identity": IDENTITY, "softmax": SOFTMAX}


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _sigmoid1(v):  # type: ignore[no-untyped-def]
    return 1.0 / (1.0 + np.exp(-v))  # exp(+large) = inf -> 0.0; no exception in Numba


@njit(cache=True, fastmath=FASTMATH)
def _activate_rows(a, r0, nrows, ncols, code):  # type: ignore[no-untyped-def]
    """Apply activation `code` in place to a[r0:r0+nrows, :ncols]."""
    if code == SIGMOID:
        for r in range(r0, r0 + nrows):
            for j in range(ncols):
                a[r, j] = _sigmoid1(a[r, j])
    elif code == RELU:
        for r in range(r0, r0 + nrows):
            for j in range(ncols):
                if a[r, j] <= 0.0:  # NaN passes through
                    a[r, j] = 0.0
    elif code == SOFTMAX:
        for r in range(r0, r0 + nrows):
            m = a[r, 0]
            for j in range(1, ncols):
                if a[r, j] > m:
                    m = a[r, j]
            s = 0.0
            for j in range(ncols):
                e = np.exp(a[r, j] - m)  # subtract the max: no overflow
                a[r, j] = e
                s += e
            for j in range(ncols):
                a[r, j] /= s


@njit(cache=True, fastmath=FASTMATH)
def _dense_rows(src, s0, nrows, W, b, dst, d0):  # type: ignore[no-untyped-def]
    """dst[d0:d0+nrows, :n_out] = src[s0:s0+nrows, :n_in] @ W + b, in i-k-j order.

    The inner j loop runs along contiguous rows of W and dst, so LLVM vectorizes it;
    a row of W is reused for every sample of the tile while it is in L1.
    """
    n_in, n_out = W.shape
    for r in range(nrows):
        for j in range(n_out):
            dst[d0 + r, j] = b[j]
    for i in range(n_in):
        for r in range(nrows):
            x = src[s0 + r, i]
            for j in range(n_out):
                dst[d0 + r, j] += x * W[i, j]


@njit(cache=True, fastmath=FASTMATH)
def _forward_tile(X, t0, nrows, Ws, bs, hidden, output, out, buf0, buf1):  # type: ignore[no-untyped-def]
    """Whole network for rows t0..t0+nrows of X; hidden activations stay in two small buffers."""
    src = X
    s0 = t0
    n_layers = len(Ws)
    for k in range(n_layers):
        W = Ws[k]
        if k == n_layers - 1:
            dst = out
            d0 = t0
            code = output
        else:
            dst = buf0 if k % 2 == 0 else buf1
            d0 = 0
            code = hidden
        _dense_rows(src, s0, nrows, W, bs[k], dst, d0)
        _activate_rows(dst, d0, nrows, W.shape[1], code)
        src = dst
        s0 = d0


# ---- top-level kernels (prange on the outer loop), compiled by build() ----

def forward(X, Ws, bs, hidden, output, out, tile, width):  # type: ignore[no-untyped-def]
    # (batch, n_in) -> (batch, n_out), `tile` samples at a time
    n = X.shape[0]
    n_tiles = (n + tile - 1) // tile
    for t in prange(n_tiles):
        buf0 = np.empty((tile, width), dtype=X.dtype)  # per tile, outside the inner loops
        buf1 = np.empty((tile, width), dtype=X.dtype)
        t0 = t * tile
        _forward_tile(X, t0, min(tile, n - t0), Ws, bs, hidden, output, out, buf0, buf1)


def matmul(A, B, out):  # type: ignore[no-untyped-def]
    # (m, n) @ (n, p) -> (m, p), i-k-j order
    m, n = A.shape
    p = B.shape[1]
    for i in prange(m):
        for j in range(p):
            out[i, j] = 0
        for k in range(n):
            a = A[i, k]
            for j in range(p):
                out[i, j] += a * B[k, j]


def matvec(A, x, out):  # type: ignore[no-untyped-def]
    # (m, n) @ (n,) -> (m,)
    m, n = A.shape
    for i in prange(m):
        s = 0.0
        for k in range(n):
            s += A[i, k] * x[k]
        out[i] = s


def step(x, out):  # type: ignore[no-untyped-def]
    # flat (n,) -> (n,) int64
    for i in prange(x.shape[0]):
        out[i] = 1 if x[i] > 0 else 0


def sigmoid(x, out):  # type: ignore[no-untyped-def]
    for i in prange(x.shape[0]):
        out[i] = _sigmoid1(x[i])


def relu(x, out):  # type: ignore[no-untyped-def]
    for i in prange(x.shape[0]):
        v = x[i]
        out[i] = 0.0 if v <= 0.0 else v


def identity(x, out):  # type: ignore[no-untyped-def]
    for i in prange(x.shape[0]):
        out[i] = x[i]


def softmax(x, out):  # type: ignore[no-untyped-def]
    # (rows, n) -> (rows, n), along the last axis
    for r in prange(x.shape[0]):
        out[r, :] = x[r, :]
        _activate_rows(out, r, 1, x.shape[1], SOFTMAX)


KERNELS = ("forward", "matmul", "matvec", "step", "sigmoid", "relu", "identity", "softmax")


def build(parallel: bool) -> types.SimpleNamespace:
    """Compile-on-first-call dispatchers for every top-level kernel."""
    compiled: dict[str, Callable[..., None]] = {}
    for name in KERNELS:
        fn = globals()[name]
        if parallel:
            # A distinct function object and qualname, so the on-disk caches of the
            # serial and parallel builds of the same loop never collide.
            fn = types.FunctionType(fn.__code__, fn.__globals__, name + "_parallel")
            fn.__qualname__ = fn.__name__
        compiled[name] = njit(cache=True, parallel=parallel, fastmath=FASTMATH)(fn)
    return types.SimpleNamespace(**compiled)
