"""Numba kernels shared by `numba-tuned` (serial) and `numba-parallel` (prange).

Measured on the 2-vCPU Xeon (AVX-512) this was tuned on, float64, one core unless
said; numbers are noisy (+-10%: a shared VM), min of 7 repeats:
- baseline, the previous kernel (2 samples x 4 neurons, dot products along W^T
  rows): forward 784-50-100-10 at batch 100: 24 GFLOP/s, batch 2000: 19 GFLOP/s.
- SIMD panels + 4x16 register block (explicit <8 x double>, zmm vfmadd231pd with
  the accumulators in registers, checked in the asm): 784->50 layer on a 64-row
  tile 40 GFLOP/s; whole forward batch 100: 43 GFLOP/s, batch 2000: 34.
- cache blocking along n_in (KC = 256) + bias preloaded into the output tile:
  784->50 layer 40 -> 55 GFLOP/s (KC = 64: 53, 128: 56, unblocked 54: most of
  the gain is the reorganised block, the blocking itself is within noise).
- 8x16 register block for full panels: 784->50 layer 55 -> 57.5 GFLOP/s useful
  (61.5 -> 64.5 counting the zero padding 50 -> 56), above np.dot's one-thread
  2048^2 rate here (58).
- bias + activation fused per tile (activations of 64 rows stay in L1/L2), with
  the vectorized exp64: sigmoid 1e6 elements 1.2 ms vs 6.4 ms with np.exp in
  Numba (scalar libm) and 2.4 ms NumPy in place; sigmoid/softmax costs 16% of
  the forward at batch 2000 (relu/identity: 3.5 ms, sigmoid/softmax: 4.2 ms).
- batch 1 (latency; W1 351 KiB streams from L2): software prefetch 16 panel rows
  ahead in the one-sample kernel: 784->50 layer 7.0 -> 6.0 us; 4 accumulator
  chains instead of 2: no change (L2-bound, not FMA-latency-bound); one weight
  array + one bias array instead of tuples: dispatch 1.17 -> 0.57 us; no
  numba.get_num_threads() on the serial path and a fast input check in the
  wrapper: forward(batch 1) 12.6 -> 9.6 us.
- 2 threads: rows split into work items of <= 64 rows (multiples of 8), handed out
  dynamically (chunksize 1). Run alone: batch 100 114 us = 80 GFLOP/s, batch
  10000 11.2 ms = 81 GFLOP/s (54% of the 150 GFLOP/s 2-thread np.dot peak), 1.9x
  the serial kernel. Serial below PARALLEL_MIN_ROWS = 16 (_numba_api): measured
  8 rows 19 us serial / 26 us threaded, 16 rows 36 / 28 us.
- Not done: splitting the output neurons across threads for batch < 16 (one
  parallel region per layer; a region costs about as much as the whole batch-1
  forward here, 10 us).
Tried, did not pay: accumulating into the output array with the loop vectorizer
(5.6 GFLOP/s: not vectorized); accumulators in a stack array (alloca + carray):
with 'reassoc' LLVM vectorized the k reduction instead (5-10 GFLOP/s), without it
the 16-wide loops were fully unrolled before LoopVectorize and stayed scalar
(8-10 GFLOP/s; Numba runs no SLP vectorizer).

Layout. `pack_weights` stores each layer's W (n_in, n_out) once as column panels
of NR = 2 SIMD vectors (16 float64 / 32 float32 neurons; a last panel of 1 vector
when that is all that is left), each panel a contiguous (n_in, NR) block, zero
padded to a multiple of the vector width. A register block of MR = 8 samples x NR
neurons lives in 16 vector registers; per k it takes one broadcast of x[r, k] per
sample, two vector loads of the panel row and 16 vector FMAs (then 4-row and
1-row blocks for the rest of a tile).

SIMD. Numba runs LLVM's loop vectorizer but not the SLP vectorizer, and fully
unrolls a 16-wide constant loop before the loop vectorizer sees it, so the block
is written with a small explicit SIMD type (`_Simd`: an LLVM <8 x double> /
<16 x float> value, held in registers) and four intrinsics: vld (vector load),
vst (vector store), vsplat (broadcast) and vfma (llvm.fma). Everything else is
plain loops. Activations use `_fastexp.exp64/exp32`, which the loop vectorizer
turns into zmm code (`_wide()` asks LLVM for 512-bit vectors in those loops).

Kernels are bare: no shape checks (the Python wrappers in _numba_api.py do them),
outputs preallocated by the caller. Every top-level kernel has a serial driver
(range) and a parallel one (prange), both thin, over shared @njit inner kernels.
NaN propagates everywhere: no nnan/ninf flags, only 'contract'.
"""
from __future__ import annotations

import numpy as np
from numba import prange


from loopvec.impls._numba_setup import njit
from loopvec.impls._simd import _exp, _wide, lanes, prefetch, vfma, vld, vsplat, vst  # noqa: F401

FASTMATH = {"contract"}  # FMA only: never nnan/ninf, NaN must propagate
OPTS = dict(cache=True, fastmath=FASTMATH, error_model="numpy")  # no ZeroDivisionError branch

SIGMOID, RELU, IDENTITY, SOFTMAX = 0, 1, 2, 3
ACT_CODE = {"sigmoid": SIGMOID, "relu": RELU, "identity": IDENTITY, "softmax": SOFTMAX}

MR = 8  # samples per register block (4 and 1 for the rest)
TILE = 64  # samples per tile: the tile's activations stay in L1/L2 between layers


# ---- weight packing ------------------------------------------------------------

def padded(n: int, L: int) -> int:
    """n rounded up to whole vectors of L lanes."""
    return -(-n // L) * L


@njit(**OPTS)
def _panel_width(npad, j0, L):  # type: ignore[no-untyped-def]
    return 2 * L if npad - j0 >= 2 * L else L


@njit(**OPTS)
def pack_weights(W, L, out):  # type: ignore[no-untyped-def]
    """W (n_in, n_out) into panels: out[j0*n_in + k*nr + j] = W[k, j0 + j] (0 past n_out)."""
    n_in, n_out = W.shape
    npad = -(-n_out // L) * L
    j0 = 0
    while j0 < npad:
        nr = _panel_width(npad, j0, L)
        base = j0 * n_in
        for k in range(n_in):
            for j in range(nr):
                out[base + k * nr + j] = W[k, j0 + j] if j0 + j < n_out else 0
        j0 += nr


# ---- the register-blocked dense layer --------------------------------------------

@njit(**OPTS)
def _block4x2(x0, x1, x2, x3, k0, k1, w, nr, j0, L, d0, d1, d2, d3):  # type: ignore[no-untyped-def]
    """d_r[j0 : j0+2L] += sum_{k0 <= k < k1} x_r[k] * w[k, :] for 4 rows r: 8 vector accumulators."""
    c00 = vld(d0, j0)
    c01 = vld(d0, j0 + L)
    c10 = vld(d1, j0)
    c11 = vld(d1, j0 + L)
    c20 = vld(d2, j0)
    c21 = vld(d2, j0 + L)
    c30 = vld(d3, j0)
    c31 = vld(d3, j0 + L)
    for k in range(k0, k1):
        w0 = vld(w, k * nr)
        w1 = vld(w, k * nr + L)
        a = vsplat(x0[k])
        c00 = vfma(a, w0, c00)
        c01 = vfma(a, w1, c01)
        a = vsplat(x1[k])
        c10 = vfma(a, w0, c10)
        c11 = vfma(a, w1, c11)
        a = vsplat(x2[k])
        c20 = vfma(a, w0, c20)
        c21 = vfma(a, w1, c21)
        a = vsplat(x3[k])
        c30 = vfma(a, w0, c30)
        c31 = vfma(a, w1, c31)
    vst(d0, j0, c00)
    vst(d0, j0 + L, c01)
    vst(d1, j0, c10)
    vst(d1, j0 + L, c11)
    vst(d2, j0, c20)
    vst(d2, j0 + L, c21)
    vst(d3, j0, c30)
    vst(d3, j0 + L, c31)


@njit(**OPTS)
def _block8x2(X, r, k0, k1, w, nr, j0, L, D):  # type: ignore[no-untyped-def]
    """As _block4x2 for 8 rows X[r:r+8] -> D[r:r+8]: 16 vector accumulators."""
    x0, x1, x2, x3, x4, x5, x6, x7 = X[r], X[r + 1], X[r + 2], X[r + 3], X[r + 4], X[r + 5], X[r + 6], X[r + 7]
    d0, d1, d2, d3, d4, d5, d6, d7 = D[r], D[r + 1], D[r + 2], D[r + 3], D[r + 4], D[r + 5], D[r + 6], D[r + 7]
    c00, c01, c10, c11 = vld(d0, j0), vld(d0, j0 + L), vld(d1, j0), vld(d1, j0 + L)
    c20, c21, c30, c31 = vld(d2, j0), vld(d2, j0 + L), vld(d3, j0), vld(d3, j0 + L)
    c40, c41, c50, c51 = vld(d4, j0), vld(d4, j0 + L), vld(d5, j0), vld(d5, j0 + L)
    c60, c61, c70, c71 = vld(d6, j0), vld(d6, j0 + L), vld(d7, j0), vld(d7, j0 + L)
    for k in range(k0, k1):
        w0 = vld(w, k * nr)
        w1 = vld(w, k * nr + L)
        a = vsplat(x0[k])
        c00, c01 = vfma(a, w0, c00), vfma(a, w1, c01)
        a = vsplat(x1[k])
        c10, c11 = vfma(a, w0, c10), vfma(a, w1, c11)
        a = vsplat(x2[k])
        c20, c21 = vfma(a, w0, c20), vfma(a, w1, c21)
        a = vsplat(x3[k])
        c30, c31 = vfma(a, w0, c30), vfma(a, w1, c31)
        a = vsplat(x4[k])
        c40, c41 = vfma(a, w0, c40), vfma(a, w1, c41)
        a = vsplat(x5[k])
        c50, c51 = vfma(a, w0, c50), vfma(a, w1, c51)
        a = vsplat(x6[k])
        c60, c61 = vfma(a, w0, c60), vfma(a, w1, c61)
        a = vsplat(x7[k])
        c70, c71 = vfma(a, w0, c70), vfma(a, w1, c71)
    vst(d0, j0, c00)
    vst(d0, j0 + L, c01)
    vst(d1, j0, c10)
    vst(d1, j0 + L, c11)
    vst(d2, j0, c20)
    vst(d2, j0 + L, c21)
    vst(d3, j0, c30)
    vst(d3, j0 + L, c31)
    vst(d4, j0, c40)
    vst(d4, j0 + L, c41)
    vst(d5, j0, c50)
    vst(d5, j0 + L, c51)
    vst(d6, j0, c60)
    vst(d6, j0 + L, c61)
    vst(d7, j0, c70)
    vst(d7, j0 + L, c71)


@njit(**OPTS)
def _block4x1(x0, x1, x2, x3, k0, k1, w, nr, j0, L, d0, d1, d2, d3):  # type: ignore[no-untyped-def]
    """As _block4x2 for a panel of one vector."""
    c0 = vld(d0, j0)
    c1 = vld(d1, j0)
    c2 = vld(d2, j0)
    c3 = vld(d3, j0)
    for k in range(k0, k1):
        w0 = vld(w, k * nr)
        c0 = vfma(vsplat(x0[k]), w0, c0)
        c1 = vfma(vsplat(x1[k]), w0, c1)
        c2 = vfma(vsplat(x2[k]), w0, c2)
        c3 = vfma(vsplat(x3[k]), w0, c3)
    vst(d0, j0, c0)
    vst(d1, j0, c1)
    vst(d2, j0, c2)
    vst(d3, j0, c3)


@njit(**OPTS)
def _block1(x0, k0, k1, w, nr, j0, L, d0):  # type: ignore[no-untyped-def]
    """One sample against a panel of nr = L or 2L neurons.

    Four independent accumulators (two vectors x even/odd k, or four k phases for
    one vector) keep both FMA units busy despite the 4-cycle FMA latency.
    """
    one = vsplat(d0.dtype.type(1))
    zero = vsplat(d0.dtype.type(0))
    if nr == 2 * L:
        c0 = vld(d0, j0)
        c1 = vld(d0, j0 + L)
        e0 = zero
        e1 = zero
        k = k0
        while k + 1 < k1:
            prefetch(w, (k + PF) * nr)
            prefetch(w, (k + PF) * nr + L)
            prefetch(w, (k + PF + 1) * nr)
            prefetch(w, (k + PF + 1) * nr + L)
            a = vsplat(x0[k])
            c0 = vfma(a, vld(w, k * nr), c0)
            c1 = vfma(a, vld(w, k * nr + L), c1)
            a = vsplat(x0[k + 1])
            e0 = vfma(a, vld(w, (k + 1) * nr), e0)
            e1 = vfma(a, vld(w, (k + 1) * nr + L), e1)
            k += 2
        if k < k1:
            a = vsplat(x0[k])
            c0 = vfma(a, vld(w, k * nr), c0)
            c1 = vfma(a, vld(w, k * nr + L), c1)
        vst(d0, j0, vfma(one, e0, c0))  # c + e, one rounding
        vst(d0, j0 + L, vfma(one, e1, c1))
    else:
        c0 = vld(d0, j0)
        c1 = zero
        c2 = zero
        c3 = zero
        k = k0
        while k + 3 < k1:
            prefetch(w, (k + PF) * nr)
            prefetch(w, (k + PF + 2) * nr)
            c0 = vfma(vsplat(x0[k]), vld(w, k * nr), c0)
            c1 = vfma(vsplat(x0[k + 1]), vld(w, (k + 1) * nr), c1)
            c2 = vfma(vsplat(x0[k + 2]), vld(w, (k + 2) * nr), c2)
            c3 = vfma(vsplat(x0[k + 3]), vld(w, (k + 3) * nr), c3)
            k += 4
        while k < k1:
            c0 = vfma(vsplat(x0[k]), vld(w, k * nr), c0)
            k += 1
        c0 = vfma(one, c1, c0)
        c2 = vfma(one, c3, c2)
        vst(d0, j0, vfma(one, c2, c0))


PF = 16  # panel rows to prefetch ahead in the one-sample kernel
KC = 256  # inputs per cache block: a panel's KC x 2L slice (32 KiB in float64) stays in L1


@njit(**OPTS)
def dense_rows(src, nrows, n_in, wp, bias, npad, L, dst):  # type: ignore[no-untyped-def]
    """dst[r, :npad] = bias + src[r, :n_in] @ W for r < nrows; W packed by pack_weights."""
    for r in range(nrows):
        d = dst[r]
        for j in range(npad):
            d[j] = bias[j]
    for k0 in range(0, n_in, KC):
        k1 = min(n_in, k0 + KC)
        j0 = 0
        while j0 < npad:
            nr = _panel_width(npad, j0, L)
            w = wp[j0 * n_in : (j0 + nr) * n_in]
            r = 0
            if nr == 2 * L:
                while r + 8 <= nrows:
                    _block8x2(src, r, k0, k1, w, nr, j0, L, dst)
                    r += 8
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


# ---- activations on rows of a tile -------------------------------------------------

@njit(**OPTS)
def _sigmoid_row(a, n):  # type: ignore[no-untyped-def]
    _wide()
    one = a.dtype.type(1)
    for j in range(n):
        a[j] = one / (one + _exp(-a[j]))


@njit(**OPTS)
def _relu_row(a, n):  # type: ignore[no-untyped-def]
    _wide()
    zero = a.dtype.type(0)
    for j in range(n):
        v = a[j]
        a[j] = zero if v <= zero else v  # NaN passes through


@njit(**OPTS)
def _softmax_row(src, dst, n):  # type: ignore[no-untyped-def]
    """dst[:n] = softmax(src[:n]); a NaN anywhere makes the row NaN, as in NumPy."""
    _wide()
    m = src[0]
    for j in range(1, n):
        v = src[j]
        m = v if (v > m or v != v) else m
    s = src.dtype.type(0)
    for j in range(n):
        e = _exp(src[j] - m)
        dst[j] = e
        s += e
    inv = src.dtype.type(1) / s
    for j in range(n):
        dst[j] *= inv


@njit(**OPTS)
def activate_rows(a, nrows, n, code):  # type: ignore[no-untyped-def]
    """Apply activation `code` in place to a[:nrows, :n]."""
    for r in range(nrows):
        if code == SIGMOID:
            _sigmoid_row(a[r], n)
        elif code == RELU:
            _relu_row(a[r], n)
        elif code == SOFTMAX:
            _softmax_row(a[r], a[r], n)


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
        npad = -(-n_out // L) * L
        dst = buf0 if k % 2 == 0 else buf1
        wp = wflat[offs[k, 0] : offs[k + 1, 0]]
        bp = bflat[offs[k, 1] : offs[k + 1, 1]]
        dense_rows(src, nrows, n_in, wp, bp, npad, L, dst)
        activate_rows(dst, nrows, n_out, hidden if k < n_layers - 1 else output)
        src = dst
    for r in range(nrows):  # the padded tile rows to the (batch, n_out) output
        o = out[r0 + r]
        s = src[r]
        for j in range(o.shape[0]):
            o[j] = s[j]


@njit(**OPTS)
def forward_rows(X, r0, r1, wflat, bflat, offs, sizes, L, hidden, output, out, width):  # type: ignore[no-untyped-def]
    """Rows r0..r1 in tiles of TILE samples; two tile buffers of `width` padded columns."""
    buf0 = np.empty((min(TILE, r1 - r0), width), dtype=X.dtype)
    buf1 = np.empty((min(TILE, r1 - r0), width), dtype=X.dtype)
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
        dense_rows(A[t0 : t0 + nrows], nrows, n_in, bp, zeros, npad, L, buf)
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


