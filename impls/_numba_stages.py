"""The stages of the Numba forward passes, compiled one by one, for `loopvec explain`.

The forward kernels fuse some stages: `numba` starts each sum at the bias (s = b[j]),
`numba-tuned` loads the bias into its accumulators and applies the activation to each
tile while it is in cache. Here each stage that forward runs as its own loop runs alone
over the whole batch, so its cost can be timed; a fused pair stays one stage.
"""
from __future__ import annotations

import numpy as np

from loopvec.impls import _numba_kernels as K
from loopvec.impls._numba_api import Prepared
from loopvec.impls._numba_setup import njit
from loopvec.impls.impl_numba import _identity, _relu, _sigmoid, _softmax


# ---- numba (the plain loops) ----

@njit(cache=True)
def plain_product(a, cols, b, z):  # type: ignore[no-untyped-def]
    # (batch, n_in) @ (n_in, n_out) + b with W given as its columns: the bias starts the sum, as in forward
    for r in range(a.shape[0]):
        for j in range(cols.shape[0]):
            s = b[j]
            for i in range(cols.shape[1]):
                s += a[r, i] * cols[j, i]
            z[r, j] = s


@njit(cache=True)
def plain_sigmoid(z, out):  # type: ignore[no-untyped-def]
    for r in range(z.shape[0]):
        out[r] = _sigmoid(z[r])


@njit(cache=True)
def plain_relu(z, out):  # type: ignore[no-untyped-def]
    for r in range(z.shape[0]):
        out[r] = _relu(z[r])


@njit(cache=True)
def plain_softmax(z, out):  # type: ignore[no-untyped-def]
    for r in range(z.shape[0]):
        out[r] = _softmax(z[r])


@njit(cache=True)
def plain_identity(z, out):  # type: ignore[no-untyped-def]
    for r in range(z.shape[0]):
        out[r] = _identity(z[r])


# ---- numba-tuned (the fused kernel's pieces, over the batch in tiles) ----

@njit(cache=True)
def tuned_product_bias(a, n_in, n_out, wp, bias, npad, L, dst):  # type: ignore[no-untyped-def]
    # (batch, n_in) @ packed W + bias -> dst (batch, npad): the bias is in the accumulators from the start
    n = a.shape[0]
    for t0 in range(0, n, K.TILE):
        nrows = min(K.TILE, n - t0)
        K.dense_rows(a[t0:t0 + nrows], nrows, n_in, n_out, wp, bias, npad, L, dst[t0:t0 + nrows])


@njit(cache=True)
def tuned_activation(dst, n_out, code):  # type: ignore[no-untyped-def]
    n = dst.shape[0]
    for t0 in range(0, n, K.TILE):
        nrows = min(K.TILE, n - t0)
        K.activate_rows(dst[t0:t0 + nrows], nrows, n_out, code)


def tuned_layer(p: Prepared, k: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Layer k exactly as numba-tuned's forward reads it from its Prepared network: the same
    packed, 64-byte aligned, zero-padded weights (views, not copies), the padded bias, the padded
    width and the SIMD lanes."""
    wp = p.wflat[p.offs[k, 0]:p.offs[k + 1, 0]]  # (n_in * npad,) SIMD panels, as pack_weights lays them
    bp = p.bflat[p.offs[k, 1]:p.offs[k + 1, 1]]  # (npad,)
    return wp, bp, int(p.offs[k + 1, 1] - p.offs[k, 1]), p.lanes
