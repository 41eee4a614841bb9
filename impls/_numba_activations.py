"""Every activation loop of numba-tuned and numba-parallel, in one module: the fused forward
pass applies them in place to a tile of rows (`activate_rows`), the elementwise functions
from one flat array into another, over a span [i0, i1) of it (their serial drivers are in
_numba_elementwise.py, the threaded ones in impl_numba_parallel.py).

Layout and invariants only; what each choice bought, measured, is in docs/numba-tuned.md.

Vectorization. Each loop is one plain loop that LLVM's loop vectorizer turns into vector code
at the target's full width (`wide()`), with the vectorizable exp of _fastexp.py. A span
is taken as slices x[i0:i1] and looped over from 0: from a start of unknown sign, each
access carries Numba's negative-index wraparound (a select), and LLVM left such loops
scalar. In-place and out-of-place loops are separate functions: given the same array as x
and out, an out-of-place loop would fail LLVM's run-time overlap check and run its scalar
version.

Softmax of one row, three passes, each a vector loop:
  1. m = max_span: the largest value, NaN passed over (explicit SIMD `vmax`, two vector
     accumulators: LLVM vectorizes no NaN-aware max reduction without 'nnan');
  2. out = exp(x - m) and s = their sum (exp_sum_span: compiled with 'reassoc', the one
     function that is, so that the vectorizer may keep vector partial sums, a strict
     left-to-right sum being one scalar chain; exp64/exp32 keep their own flags). Blocks
     of SUM_BLOCK values are summed in x's dtype, the blocks' sums in float64;
  3. out *= 1 / s (rounded to x's dtype).
NaN anywhere in the row makes it all NaN, as in NumPy, through the sum: a NaN x gives
exp(NaN - m) = NaN, so s and every out are NaN. A +inf gives m = inf and inf - inf = NaN;
a row of only -inf (or only NaN) gives m = -inf and x - m = NaN; NumPy gives NaN for
both too. A -inf beside finite values gives exp(-inf) = 0. So the max itself need not
propagate NaN. A row split into spans (numba-parallel's long rows) combines the spans'
maxima with the same rule and their sums in span order, whichever thread ran them.
"""
from __future__ import annotations

import numpy as np

from loopvec.impls._numba_setup import FASTMATH, OPTS, njit
from loopvec.impls._simd import VECTOR_BITS, fast_exp, vld, vmax, vmax_lanes, vsplat, wide

SIGMOID, RELU, IDENTITY, SOFTMAX = 0, 1, 2, 3
ACT_CODE = {"sigmoid": SIGMOID, "relu": RELU, "identity": IDENTITY, "softmax": SOFTMAX}

# contract as everywhere, plus reassoc: the exp-and-sum pass may sum in vector lanes
_SUM_OPTS = dict(OPTS, fastmath=FASTMATH | {"reassoc"})
SUM_BLOCK = 1024  # values summed in x's dtype before the float64 total


# ---- out-of-place, over a span of flat arrays (the elementwise functions) ----------

@njit(**OPTS)
def step_span(x, out, i0, i1):  # type: ignore[no-untyped-def]
    wide()
    xs, ys = x[i0:i1], out[i0:i1]  # from 0: no wraparound select (module doc)
    for i in range(xs.shape[0]):
        ys[i] = 1 if xs[i] > 0 else 0


@njit(**OPTS)
def sigmoid_span(x, out, i0, i1):  # type: ignore[no-untyped-def]
    wide()
    one = x.dtype.type(1)
    xs, ys = x[i0:i1], out[i0:i1]
    for i in range(xs.shape[0]):
        ys[i] = one / (one + fast_exp(-xs[i]))


@njit(**OPTS)
def relu_span(x, out, i0, i1):  # type: ignore[no-untyped-def]
    wide()
    zero = x.dtype.type(0)
    xs, ys = x[i0:i1], out[i0:i1]
    for i in range(xs.shape[0]):
        v = xs[i]
        ys[i] = zero if v <= zero else v  # NaN passes through


@njit(**OPTS)
def identity_span(x, out, i0, i1):  # type: ignore[no-untyped-def]
    xs, ys = x[i0:i1], out[i0:i1]
    for i in range(xs.shape[0]):
        ys[i] = xs[i]


@njit(**OPTS)
def span(code, x, out, i0, i1):  # type: ignore[no-untyped-def]
    """Activation `code` (sigmoid, relu or identity) on x[i0:i1]; one branch per span, not per element."""
    if code == SIGMOID:
        sigmoid_span(x, out, i0, i1)
    elif code == RELU:
        relu_span(x, out, i0, i1)
    else:
        identity_span(x, out, i0, i1)


# ---- softmax: the three passes over a span of one row ----------------------------

@njit(**OPTS)
def max_span(x, i0, i1):  # type: ignore[no-untyped-def]
    """The largest of x[i0:i1], NaN passed over; -inf when there is nothing else."""
    L = VECTOR_BITS // (8 * x.itemsize)  # lanes: a compile-time constant
    lo = x.dtype.type(-np.inf)
    m0 = vsplat(lo)
    m1 = vsplat(lo)
    i = i0
    while i + 2 * L <= i1:  # two accumulators: loads from two cache lines at once
        m0 = vmax(vld(x, i), m0)
        m1 = vmax(vld(x, i + L), m1)
        i += 2 * L
    m = vmax_lanes(vmax(m0, m1))
    for j in range(i, i1):
        v = x[j]
        m = v if v > m else m
    return m


@njit(**_SUM_OPTS)
def exp_sum_span(x, m, out, i0, i1):  # type: ignore[no-untyped-def]
    """out[i] = exp(x[i] - m) for i in [i0, i1), m of x's dtype; returns their sum, as float64:
    SUM_BLOCK values at a time in vector partial sums of x's dtype, the blocks' sums added in
    float64: float32 partial sums over a whole long row drift past float32's tolerance, and
    with a float64 sum in the loop itself LLVM ran the float32 exp at half width."""
    wide()
    total = 0.0
    for b0 in range(i0, i1, SUM_BLOCK):
        xs, ys = x[b0:min(i1, b0 + SUM_BLOCK)], out[b0:min(i1, b0 + SUM_BLOCK)]
        s = x.dtype.type(0)
        for i in range(xs.shape[0]):
            e = fast_exp(xs[i] - m)
            ys[i] = e
            s += e
        total += s
    return total


@njit(**OPTS)
def scale_span(a, f, i0, i1):  # type: ignore[no-untyped-def]
    wide()
    s = a[i0:i1]
    for i in range(s.shape[0]):
        s[i] *= f


@njit(**OPTS)
def softmax_row(x, out, n):  # type: ignore[no-untyped-def]
    """out[:n] = softmax(x[:n]), x and out distinct 1-D arrays (see the module doc for NaN)."""
    m = max_span(x, 0, n)
    s = exp_sum_span(x, m, out, 0, n)
    scale_span(out, x.dtype.type(1.0 / s), 0, n)


# ---- in place, on a tile of rows (the fused forward pass) ------------------------

@njit(**OPTS)
def _sigmoid_inplace(a, n):  # type: ignore[no-untyped-def]
    wide()
    one = a.dtype.type(1)
    for j in range(n):
        a[j] = one / (one + fast_exp(-a[j]))


@njit(**OPTS)
def _relu_inplace(a, n):  # type: ignore[no-untyped-def]
    wide()
    zero = a.dtype.type(0)
    for j in range(n):
        v = a[j]
        a[j] = zero if v <= zero else v  # NaN passes through


@njit(**OPTS)
def _exp_inplace(a, n):  # type: ignore[no-untyped-def]
    wide()
    for j in range(n):
        a[j] = fast_exp(a[j])


@njit(**OPTS)
def activate_rows(a, nrows, n, code):  # type: ignore[no-untyped-def]
    """Apply activation `code` in place to a[:nrows, :n], a C-contiguous block of rows.

    Sigmoid and ReLU run as one loop over all nrows x width elements, padding columns
    included (no later layer reads them): one long vectorized loop instead of a short one
    per row. Softmax takes the row maxima, then the exp of the whole block in one loop,
    then the row sums (NaN as in softmax_row: through the sums).
    """
    flat = a[:nrows].reshape(nrows * a.shape[1])
    if code == SIGMOID:
        _sigmoid_inplace(flat, flat.shape[0])
    elif code == RELU:
        _relu_inplace(flat, flat.shape[0])
    elif code == SOFTMAX:
        for r in range(nrows):
            row = a[r]
            m = max_span(row, 0, n)
            for j in range(n):
                row[j] -= m
        _exp_inplace(flat, flat.shape[0])
        for r in range(nrows):
            row = a[r]
            s = row.dtype.type(0)
            for j in range(n):
                s += row[j]
            scale_span(row, row.dtype.type(1) / s, 0, n)
