"""The register blocks of numba-tuned's dense kernel (dense_rows, impl_numba_tuned.py): MR samples x one
panel of W, accumulated in vector registers (see that module's docstring).

Each block adds sum_{k0 <= k < k1} x_r[k] * w[k, :] to the destination rows'
columns j0 .. j0+nr, w being one packed panel of nr = L or 2L neurons.

Which block runs full two-vector panels depends on the target's register file
(target.py): block8x2 (16 accumulators) with 32 vector registers, block6x2 (12)
with 16. One-vector panels take block8x1 (8 accumulators, 10 registers: fits both).
"""
from __future__ import annotations

from loopvec.impls import target
from loopvec.impls._numba_setup import OPTS, njit
from loopvec.impls._simd import VECTOR_BITS, no_unroll, prefetch, vfma, vld, vsplat, vst, vsum

_SHAPE = target.shape()
MR = _SHAPE.mr  # samples per register block of a two-vector panel (8 or 6; then 4 and 1 for the rest)
NR = _SHAPE.nr  # vectors per full panel: the blocks below are written for 2
assert NR == 2 and MR in (8, 6), (MR, NR)
MR1 = 8  # samples per register block of a one-vector panel (block8x1)
PF = 16 * 512 // VECTOR_BITS  # rows of a two-vector panel (2 KiB) to prefetch ahead in the one-sample kernel


@njit(**OPTS)
def block4x2(x0, x1, x2, x3, k0, k1, w, nr, j0, L, d0, d1, d2, d3):  # type: ignore[no-untyped-def]
    """d_r[j0 : j0+2L] += sum_{k0 <= k < k1} x_r[k] * w[k, :] for 4 rows r: 8 vector accumulators."""
    no_unroll()
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
def block8x2(X, r, k0, k1, w, nr, j0, L, D):  # type: ignore[no-untyped-def]
    """As block4x2 for 8 rows X[r:r+8] -> D[r:r+8]: 16 vector accumulators."""
    no_unroll()
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
def block6x2(X, r, k0, k1, w, nr, j0, L, D):  # type: ignore[no-untyped-def]
    """As block8x2 for 6 rows X[r:r+6] -> D[r:r+6]: 12 vector accumulators, for 16 registers
    (12 + 2 panel loads + 1 broadcast = 15)."""
    no_unroll()
    x0, x1, x2, x3, x4, x5 = X[r], X[r + 1], X[r + 2], X[r + 3], X[r + 4], X[r + 5]
    d0, d1, d2, d3, d4, d5 = D[r], D[r + 1], D[r + 2], D[r + 3], D[r + 4], D[r + 5]
    c00, c01, c10, c11 = vld(d0, j0), vld(d0, j0 + L), vld(d1, j0), vld(d1, j0 + L)
    c20, c21, c30, c31 = vld(d2, j0), vld(d2, j0 + L), vld(d3, j0), vld(d3, j0 + L)
    c40, c41, c50, c51 = vld(d4, j0), vld(d4, j0 + L), vld(d5, j0), vld(d5, j0 + L)
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


@njit(**OPTS)
def block8x1(X, r, k0, k1, w, nr, j0, L, D):  # type: ignore[no-untyped-def]
    """As block8x2 for a panel of one vector: 8 accumulators, 8 independent FMA chains."""
    no_unroll()
    x0, x1, x2, x3, x4, x5, x6, x7 = X[r], X[r + 1], X[r + 2], X[r + 3], X[r + 4], X[r + 5], X[r + 6], X[r + 7]
    d0, d1, d2, d3, d4, d5, d6, d7 = D[r], D[r + 1], D[r + 2], D[r + 3], D[r + 4], D[r + 5], D[r + 6], D[r + 7]
    c0, c1, c2, c3 = vld(d0, j0), vld(d1, j0), vld(d2, j0), vld(d3, j0)
    c4, c5, c6, c7 = vld(d4, j0), vld(d5, j0), vld(d6, j0), vld(d7, j0)
    for k in range(k0, k1):
        w0 = vld(w, k * nr)
        c0, c1 = vfma(vsplat(x0[k]), w0, c0), vfma(vsplat(x1[k]), w0, c1)
        c2, c3 = vfma(vsplat(x2[k]), w0, c2), vfma(vsplat(x3[k]), w0, c3)
        c4, c5 = vfma(vsplat(x4[k]), w0, c4), vfma(vsplat(x5[k]), w0, c5)
        c6, c7 = vfma(vsplat(x6[k]), w0, c6), vfma(vsplat(x7[k]), w0, c7)
    vst(d0, j0, c0)
    vst(d1, j0, c1)
    vst(d2, j0, c2)
    vst(d3, j0, c3)
    vst(d4, j0, c4)
    vst(d5, j0, c5)
    vst(d6, j0, c6)
    vst(d7, j0, c7)


@njit(**OPTS)
def block4x1(x0, x1, x2, x3, k0, k1, w, nr, j0, L, d0, d1, d2, d3):  # type: ignore[no-untyped-def]
    """As block4x2 for a panel of one vector."""
    no_unroll()
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
def block1(x0, k0, k1, w, nr, j0, L, d0):  # type: ignore[no-untyped-def]
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


# ---- the tail: a few neurons past the last full panel, as dot products along k ----

@njit(**OPTS)
def tail4x2(X, r, k0, k1, wt, n_in, t, jt, L, D):  # type: ignore[no-untyped-def]
    """D[r+i, jt+t+q] += sum_{k0 <= k < k1} X[r+i, k] * wt[(t+q)*n_in + k], i < 4, q < 2.

    wt holds the tail neurons' weights as rows (W's columns): the vectors run along k,
    so no lane is padding; 8 accumulators, summed across their lanes at the end."""
    no_unroll()
    x0, x1, x2, x3 = X[r], X[r + 1], X[r + 2], X[r + 3]
    a = t * n_in
    b = a + n_in
    zero = vsplat(X.dtype.type(0))
    c00, c01, c10, c11, c20, c21, c30, c31 = zero, zero, zero, zero, zero, zero, zero, zero
    k = k0
    while k + L <= k1:
        w0 = vld(wt, a + k)
        w1 = vld(wt, b + k)
        v = vld(x0, k)
        c00, c01 = vfma(v, w0, c00), vfma(v, w1, c01)
        v = vld(x1, k)
        c10, c11 = vfma(v, w0, c10), vfma(v, w1, c11)
        v = vld(x2, k)
        c20, c21 = vfma(v, w0, c20), vfma(v, w1, c21)
        v = vld(x3, k)
        c30, c31 = vfma(v, w0, c30), vfma(v, w1, c31)
        k += L
    s00, s01, s10, s11 = vsum(c00), vsum(c01), vsum(c10), vsum(c11)
    s20, s21, s30, s31 = vsum(c20), vsum(c21), vsum(c30), vsum(c31)
    while k < k1:  # the last k1 - k0 mod L inputs
        s00 += x0[k] * wt[a + k]
        s01 += x0[k] * wt[b + k]
        s10 += x1[k] * wt[a + k]
        s11 += x1[k] * wt[b + k]
        s20 += x2[k] * wt[a + k]
        s21 += x2[k] * wt[b + k]
        s30 += x3[k] * wt[a + k]
        s31 += x3[k] * wt[b + k]
        k += 1
    j = jt + t
    D[r, j] += s00
    D[r, j + 1] += s01
    D[r + 1, j] += s10
    D[r + 1, j + 1] += s11
    D[r + 2, j] += s20
    D[r + 2, j + 1] += s21
    D[r + 3, j] += s30
    D[r + 3, j + 1] += s31


@njit(**OPTS)
def tail1(x, k0, k1, w, L):  # type: ignore[no-untyped-def]
    """sum_{k0 <= k < k1} x[k] * w[k], two vector accumulators (one sample, one neuron)."""
    zero = vsplat(x.dtype.type(0))
    c0, c1 = zero, zero
    k = k0
    while k + 2 * L <= k1:
        c0 = vfma(vld(x, k), vld(w, k), c0)
        c1 = vfma(vld(x, k + L), vld(w, k + L), c1)
        k += 2 * L
    if k + L <= k1:
        c0 = vfma(vld(x, k), vld(w, k), c0)
        k += L
    s = vsum(c0) + vsum(c1)
    while k < k1:
        s += x[k] * w[k]
        k += 1
    return s
