"""Numba kernels shared by `numba-tuned` (serial) and `numba-parallel` (prange).

Layout and invariants only; what each choice bought, measured, is in docs/numba-tuned.md.

Shape. The kernel's shape comes from the target Numba compiles for (target.py): the
vector width (L lanes: 512 bits on AVX-512, 256 on AVX/AVX2, 128 on SSE2 and NEON) and
the register block MR x NR (NR = 2 vectors; MR = 8 with 32 vector registers, 6 with 16).
They are module constants here and in _numba_blocks / _simd: Numba freezes them into the
compiled code, LLVM drops the branches for the other shapes. One source for every ISA.

Layout. `pack_weights` stores each layer's W (n_in, n_out) once as column panels
of NR = 2 SIMD vectors (2L neurons; a last panel of 1 vector when that is all that
is left), each panel a contiguous (n_in, nr) block, zero padded to a multiple of
the vector width. A register block of MR samples x 2 vectors keeps 2 * MR vector
accumulators in registers; per k it takes one broadcast of x[r, k] per sample, two
vector loads of the panel row and 2 * MR vector FMAs (8 samples x 1 vector for a
one-vector panel; then 4-row and 1-row blocks for the rest of a tile). Up to
TAIL_MAX neurons past the last full panel may instead be stored as rows of W^T and
run along k (see split). Inputs are taken KC at a time (cache blocking), samples
TILE at a time (a multiple of MR); the bias is loaded into the output tile first and
the activation runs over the whole tile while it is in cache. The blocks are in
_numba_blocks.py.

SIMD. Numba runs LLVM's loop vectorizer but not the SLP vectorizer, and fully
unrolls a 16-wide constant loop before the loop vectorizer sees it, so the blocks
are written with a small explicit SIMD type (`_Simd`: an LLVM vector one register
wide, held in registers) and a few intrinsics: vld (vector load), vst (vector
store), vsplat (broadcast), vfma (llvm.fma with FMA hardware, llvm.fmuladd without)
and, for the tail, vsum (the sum of a vector's lanes). The register blocks are
compiled with optsize and noinline (_no_unroll): unrolled by LLVM, a block sized to
the register file spills. Everything else is plain loops. The activations (_numba_activations.py, every
activation loop of both the forward pass and the elementwise functions) use
`_fastexp.exp64/exp32`, which the loop vectorizer turns into vector code at the
target's full width (`_wide()`).

Invariants. Packed weights and biases start on 64-byte boundaries and are zero past
n_out (padding lanes compute zeros that no later layer reads). Kernels are bare: no
shape checks (the Python wrappers in _numba_api.py do them), outputs preallocated by
the caller. Every top-level kernel has a serial driver (range) and a parallel one
(prange), both thin, over shared @njit inner kernels. NaN propagates everywhere: no
nnan/ninf flags, only 'contract' (and 'reassoc' for the softmax sum: _numba_activations).
"""
from __future__ import annotations

import numpy as np
from numba import prange

from loopvec.impls._numba_activations import ACT_CODE, activate_rows  # noqa: F401  (ACT_CODE: K.ACT_CODE for callers)
from loopvec.impls._numba_blocks import (MR, MR1, _block1, _block4x1, _block4x2, _block6x2, _block8x1, _block8x2,
                                         _tail1, _tail4x2)
from loopvec.impls._numba_setup import OPTS, njit
from loopvec.impls._simd import lanes  # noqa: F401

TILE = MR * (64 // MR)  # samples per tile (64, or 60 for 6-row blocks): the activations stay in L1/L2


# ---- weight packing ------------------------------------------------------------

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
    products along k (_tail4x2), with no padded lanes (docs/numba-tuned.md: measured)."""
    rem = n_out % (2 * L)
    if 0 < rem <= TAIL_MAX and n_in >= TAIL_MIN_VECTORS * L:
        return n_out - rem, rem
    return padded(n_out, L), 0


@njit(**OPTS)
def _panel_width(npanel, j0, L):  # type: ignore[no-untyped-def]
    return 2 * L if npanel - j0 >= 2 * L else L


@njit(**OPTS)
def pack_weights(W, L, out):  # type: ignore[no-untyped-def]
    """W (n_in, n_out) into panels: out[j0*n_in + k*nr + j] = W[k, j0 + j] (0 past n_out),
    then the tail neurons as rows: out[npanel*n_in + t*n_in + k] = W[k, npanel + t]."""
    n_in, n_out = W.shape
    npanel, ntail = split(n_in, n_out, L)
    j0 = 0
    while j0 < npanel:
        nr = _panel_width(npanel, j0, L)
        base = j0 * n_in
        for k in range(n_in):
            for j in range(nr):
                out[base + k * nr + j] = W[k, j0 + j] if j0 + j < n_out else 0
        j0 += nr
    for t in range(ntail):
        base = (npanel + t) * n_in
        for k in range(n_in):
            out[base + k] = W[k, npanel + t]


# ---- the dense layer (its register blocks are in _numba_blocks.py) ----------------

KC = 256  # inputs per cache block: a panel's KC x 2L slice (32 KiB in float64 on AVX-512) stays in L1


@njit(**OPTS)
def dense_rows(src, nrows, n_in, n_out, wp, bias, npad, L, dst):  # type: ignore[no-untyped-def]
    """dst[r, :npad] = bias + src[r, :n_in] @ W for r < nrows; W packed by pack_weights."""
    for r in range(nrows):
        d = dst[r]
        for j in range(npad):
            d[j] = bias[j]
    npanel, ntail = split(n_in, n_out, L)
    wt = wp[npanel * n_in : (npanel + ntail) * n_in]
    for k0 in range(0, n_in, KC):
        k1 = min(n_in, k0 + KC)
        for t in range(0, ntail - 1, 2):  # tail neurons two at a time, then the odd one
            r = 0
            while r + 4 <= nrows:
                _tail4x2(src, r, k0, k1, wt, n_in, t, npanel, L, dst)
                r += 4
            while r < nrows:
                dst[r, npanel + t] += _tail1(src[r], k0, k1, wt[t * n_in : (t + 1) * n_in], L)
                dst[r, npanel + t + 1] += _tail1(src[r], k0, k1, wt[(t + 1) * n_in : (t + 2) * n_in], L)
                r += 1
        if ntail % 2:
            t = ntail - 1
            for r in range(nrows):
                dst[r, npanel + t] += _tail1(src[r], k0, k1, wt[t * n_in : (t + 1) * n_in], L)
        j0 = 0
        while j0 < npanel:
            nr = _panel_width(npanel, j0, L)
            w = wp[j0 * n_in : (j0 + nr) * n_in]
            r = 0
            if nr == 2 * L:  # MR is a compile-time constant: LLVM keeps one of the two blocks
                while r + MR <= nrows:
                    if MR == 8:
                        _block8x2(src, r, k0, k1, w, nr, j0, L, dst)
                    else:
                        _block6x2(src, r, k0, k1, w, nr, j0, L, dst)
                    r += MR
            else:
                while r + MR1 <= nrows:
                    _block8x1(src, r, k0, k1, w, nr, j0, L, dst)
                    r += MR1
            while r + 4 <= nrows:
                if nr == 2 * L:
                    _block4x2(src[r], src[r + 1], src[r + 2], src[r + 3], k0, k1, w, nr, j0, L,
                              dst[r], dst[r + 1], dst[r + 2], dst[r + 3])
                else:
                    _block4x1(src[r], src[r + 1], src[r + 2], src[r + 3], k0, k1, w, nr, j0, L,
                              dst[r], dst[r + 1], dst[r + 2], dst[r + 3])
                r += 4
            while r < nrows:
                _block1(src[r], k0, k1, w, nr, j0, L, dst[r])
                r += 1
            j0 += nr


# ---- the fused forward pass over one tile of samples -------------------------------

@njit(**OPTS)
def forward_tile(X, r0, nrows, wflat, bflat, offs, sizes, L, hidden, output, out, buf0, buf1):  # type: ignore[no-untyped-def]
    """out[r0:r0+nrows] = the network on X[r0:r0+nrows]; activations stay in buf0/buf1.

    Layer k's packed weights are wflat[offs[k, 0]:offs[k + 1, 0]], its padded bias
    bflat[offs[k, 1]:offs[k + 1, 1]] (one array each: cheaper to pass than tuples).
    """
    src = X[r0 : r0 + nrows]
    n_layers = sizes.shape[0] - 1
    for k in range(n_layers):
        n_in = sizes[k]
        n_out = sizes[k + 1]
        npad = padded(n_out, L)
        # (nrows, npad), rows back to back: the activation runs over the tile in one loop
        dst = (buf0 if k % 2 == 0 else buf1)[: nrows * npad].reshape((nrows, npad))
        wp = wflat[offs[k, 0] : offs[k + 1, 0]]
        bp = bflat[offs[k, 1] : offs[k + 1, 1]]
        dense_rows(src, nrows, n_in, n_out, wp, bp, npad, L, dst)
        activate_rows(dst, nrows, n_out, hidden if k < n_layers - 1 else output)
        src = dst
    for r in range(nrows):  # the padded tile rows to the (batch, n_out) output
        o = out[r0 + r]
        s = src[r]
        for j in range(o.shape[0]):
            o[j] = s[j]


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
def forward_rows(X, r0, r1, wflat, bflat, offs, sizes, L, hidden, output, out, width):  # type: ignore[no-untyped-def]
    """Rows r0..r1 in tiles of TILE samples; two tile buffers of up to `width` padded columns."""
    n = min(TILE, r1 - r0) * width
    buf0 = aligned(n, X.dtype)
    buf1 = aligned(n, X.dtype)
    for t0 in range(r0, r1, TILE):
        forward_tile(X, t0, min(TILE, r1 - t0), wflat, bflat, offs, sizes, L, hidden, output, out, buf0, buf1)


@njit(**OPTS)
def _chunks(n, step, nthreads):  # type: ignore[no-untyped-def]
    """Split n rows into work items of at most TILE rows (a multiple of `step`), at least
    one per thread; the caller hands them out dynamically (numba.set_parallel_chunksize(1))
    so that a core busy with something else takes fewer of them."""
    per = -(-n // nthreads)
    per = min(TILE, -(-per // step) * step)
    return -(-n // per), per


@njit(**OPTS)
def forward_serial(X, wflat, bflat, offs, sizes, L, hidden, output, out, width, nthreads):  # type: ignore[no-untyped-def]
    forward_rows(X, 0, X.shape[0], wflat, bflat, offs, sizes, L, hidden, output, out, width)


@njit(parallel=True, **OPTS)
def forward_parallel(X, wflat, bflat, offs, sizes, L, hidden, output, out, width, nthreads):  # type: ignore[no-untyped-def]
    n = X.shape[0]
    n_chunks, per = _chunks(n, MR, nthreads)
    for c in prange(n_chunks):
        forward_rows(X, c * per, min(n, (c + 1) * per), wflat, bflat, offs, sizes, L, hidden, output, out, width)


# ---- matmul: the same dense kernel, no bias, no activation -----------------------

@njit(**OPTS)
def matmul_rows(A, r0, r1, bp, zeros, L, out, buf):  # type: ignore[no-untyped-def]
    n_in = A.shape[1]
    p = out.shape[1]
    npad = buf.shape[1]
    for t0 in range(r0, r1, TILE):
        nrows = min(TILE, r1 - t0)
        dense_rows(A[t0 : t0 + nrows], nrows, n_in, p, bp, zeros, npad, L, buf)
        for r in range(nrows):
            o = out[t0 + r]
            s = buf[r]
            for j in range(p):
                o[j] = s[j]


@njit(**OPTS)
def matmul_serial(A, bp, zeros, L, out, nthreads):  # type: ignore[no-untyped-def]
    buf = np.empty((TILE, zeros.shape[0]), dtype=A.dtype)
    matmul_rows(A, 0, A.shape[0], bp, zeros, L, out, buf)


@njit(parallel=True, **OPTS)
def matmul_parallel(A, bp, zeros, L, out, nthreads):  # type: ignore[no-untyped-def]
    n = A.shape[0]
    n_chunks, per = _chunks(n, MR, nthreads)
    for c in prange(n_chunks):
        buf = np.empty((TILE, zeros.shape[0]), dtype=A.dtype)
        matmul_rows(A, c * per, min(n, (c + 1) * per), bp, zeros, L, out, buf)


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


