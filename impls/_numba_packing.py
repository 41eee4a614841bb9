"""How numba-tuned lays out its weights: SIMD panels, zero padded, on 64-byte boundaries.

`pack_weights` stores a layer's W (n_in, n_out) once as column panels of NR = 2 SIMD
vectors (2L neurons, L = lanes; a last panel of 1 vector when that is all that is left),
each panel a contiguous (n_in, nr) block, zero padded to a multiple of the vector width.
Up to TAIL_MAX neurons past the last full panel may instead be stored as rows of W^T and
run along k (`split`). `pack` does that into a fresh 64-byte aligned array; Prepared
(impl_numba_tuned.py) packs each layer once and keeps them all in one array.
"""
from __future__ import annotations

import numpy as np

from loopvec.impls._numba_setup import OPTS, njit
from loopvec.impls._simd import lanes

ALIGN = 64  # bytes: a zmm load from a 64-byte boundary never straddles two cache lines


def aligned_empty(n: int, dtype: np.dtype) -> np.ndarray:
    """np.empty(n) starting on a 64-byte boundary. Measured: the batch-1 forward pass ran
    10% slower when the packed weights happened to sit 8, 16 or 32 bytes off it, which
    made the same code's speed differ from process to process."""
    itemsize = np.dtype(dtype).itemsize
    buf = np.empty(n + ALIGN // itemsize, dtype=dtype)
    start = (-(buf.ctypes.data % ALIGN) // itemsize) % (ALIGN // itemsize)
    return buf[start:start + n]


def aligned_copy(a: np.ndarray) -> np.ndarray:
    out = aligned_empty(a.size, a.dtype)
    out[:] = a
    return out


@njit(**OPTS)
def aligned(n, dtype):  # type: ignore[no-untyped-def]
    """np.empty(n) starting on a 64-byte boundary, in compiled code. A tile buffer where the
    allocator happens to put it (16 mod 64, say, fixed for a process's life) made the same
    kernel's speed differ from process to process."""
    buf = np.empty(n + 64, dtype=dtype)
    size = buf.itemsize
    start = ((64 - buf.ctypes.data % 64) % 64) // size
    return buf[start:start + n]


@njit(**OPTS)
def padded(n: int, L: int) -> int:
    """n rounded up to whole vectors of L lanes (compiled: the kernels call it too)."""
    return -(-n // L) * L


TAIL_MAX = 4  # up to this many neurons past the last full panel: the k-vector tail
TAIL_MIN_VECTORS = 16  # ... when the layer has at least this many vectors of inputs


@njit(**OPTS)
def split(n_in, n_out, L):  # type: ignore[no-untyped-def]
    """(neurons in SIMD panels, neurons in the tail). The panels cover n_out padded to
    whole vectors, unless at most TAIL_MAX neurons are left past the last full panel of
    2L and there are at least TAIL_MIN_VECTORS vectors of inputs: those run as dot
    products along k (tail4x2), with no padded lanes (docs/numba-tuned.md: measured)."""
    rem = n_out % (2 * L)
    if 0 < rem <= TAIL_MAX and n_in >= TAIL_MIN_VECTORS * L:
        return n_out - rem, rem
    return padded(n_out, L), 0


@njit(**OPTS)
def panel_width(npanel, j0, L):  # type: ignore[no-untyped-def]
    """Neurons in the panel that starts at neuron j0: two vectors, or the last one's one."""
    return 2 * L if npanel - j0 >= 2 * L else L


@njit(**OPTS)
def pack_weights(W, L, out):  # type: ignore[no-untyped-def]
    """W (n_in, n_out) into panels: out[j0*n_in + k*nr + j] = W[k, j0 + j] (0 past n_out),
    then the tail neurons as rows: out[npanel*n_in + t*n_in + k] = W[k, npanel + t]."""
    n_in, n_out = W.shape
    npanel, ntail = split(n_in, n_out, L)
    j0 = 0
    while j0 < npanel:
        nr = panel_width(npanel, j0, L)
        base = j0 * n_in
        for k in range(n_in):
            for j in range(nr):
                out[base + k * nr + j] = W[k, j0 + j] if j0 + j < n_out else 0
        j0 += nr
    for t in range(ntail):
        base = (npanel + t) * n_in
        for k in range(n_in):
            out[base + k] = W[k, npanel + t]


def pack(W: np.ndarray) -> tuple[np.ndarray, int]:
    """W (n_in, n_out) as SIMD panels (pack_weights), 64-byte aligned, and its padded width."""
    L = lanes(W.dtype)
    npad = padded(W.shape[1], L)
    out = aligned_empty(W.shape[0] * npad, W.dtype)
    out[:] = 0  # with a tail, the packed weights fill less than n_in * npad: the rest stays 0
    pack_weights(np.ascontiguousarray(W), L, out)
    return out, npad
