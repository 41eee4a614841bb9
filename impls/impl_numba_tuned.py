"""Numba, tuned and serial: the loops of `numba` rearranged for the machine, one core.

On this page: the interface; `Prepared`, each layer's W packed once into SIMD panels, 64-byte
aligned and zero padded (impls/_numba_packing.py); the drivers `dense_rows` (one layer on a tile
of samples: a register block of MR samples x 2 vectors of accumulators, the blocks deliberately
unrolled in impls/_numba_blocks.py on the SIMD type of impls/_simd.py; inputs KC at a time, the
bias loaded into the accumulators), `forward_tile` (every layer on one tile, each activation
applied while the tile is in cache: impls/_numba_activations.py, with the vectorized exp of
impls/_fastexp.py) and `forward_rows` (a batch in tiles); and `stages`, for `loopvec explain`.
The shape (L lanes, MR, TILE) comes from the compile target (impls/target.py), frozen into the
compiled code. Kernels are bare: the Python functions check and allocate. Padding lanes compute
zeros no later layer reads; NaN propagates (no nnan/ninf, only 'contract'). numba-parallel adds
threaded drivers on top (impl_numba_parallel.py); each change's measured gain: docs/numba-tuned.md.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from loopvec.impls._common import Checked, InputError, as_numeric_array, check_forward_input, check_rows
from loopvec.impls._numba_activations import ACT_CODE, IDENTITY, RELU, SIGMOID, activate_rows
from loopvec.impls._numba_blocks import (MR, MR1, block1, block4x1, block4x2, block6x2, block8x1, block8x2, tail1,
                                         tail4x2)
from loopvec.impls._numba_dot import run_dot
from loopvec.impls._numba_elementwise import (activation_serial, run_activation, run_softmax, run_step,
                                              softmax_serial, step_serial)
from loopvec.impls._numba_packing import aligned, aligned_copy, pack, padded, panel_width, split
from loopvec.impls._numba_setup import OPTS, njit
from loopvec.impls._simd import lanes
from loopvec.impls.network import Network

NAME = "numba-tuned"
DTYPES = ("float64", "float32")
TILE = MR * (64 // MR)  # samples per tile (64, or 60 for 6-row blocks): the activations stay in L1/L2
KC = 256  # inputs per cache block: a panel's KC x 2L slice (32 KiB in float64 on AVX-512) stays in L1


class Prepared:
    """Weights packed once into SIMD panels, biases zero-padded, activations as codes."""

    __slots__ = ("wflat", "bflat", "offs", "sizes", "lanes", "hidden", "output", "dtype", "n_in", "n_out",
                 "width")

    def __init__(self, network: Network) -> None:
        packed = [pack(W) for W, _ in network.layers]
        # all layers in one weight array and one bias array; offs[k] = (start of W_k, start of b_k)
        self.wflat = aligned_copy(np.concatenate([wp for wp, _ in packed]))
        self.bflat = aligned_copy(np.concatenate([np.concatenate([b, np.zeros(npad - b.shape[0], b.dtype)])
                                                  for (_, b), (_, npad) in zip(network.layers, packed)]))
        self.offs = np.zeros((len(packed) + 1, 2), dtype=np.int64)
        self.offs[1:, 0] = np.cumsum([wp.shape[0] for wp, _ in packed])
        self.offs[1:, 1] = np.cumsum([npad for _, npad in packed])
        self.sizes = np.array(network.sizes, dtype=np.int64)
        self.lanes = lanes(network.dtype)
        self.hidden = ACT_CODE[network.hidden]
        self.output = ACT_CODE[network.output]
        self.dtype = network.dtype
        self.n_in = network.n_in
        self.n_out = network.n_out
        self.width = max(npad for _, npad in packed)  # widest padded layer

    def layer(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Layer k's packed weights and padded bias, as forward reads them: views, not copies."""
        return self.wflat[self.offs[k, 0]:self.offs[k + 1, 0]], self.bflat[self.offs[k, 1]:self.offs[k + 1, 1]]


# ---- one layer on a tile of samples (the register blocks are in _numba_blocks.py) ----

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
                tail4x2(src, r, k0, k1, wt, n_in, t, npanel, L, dst)
                r += 4
            while r < nrows:
                dst[r, npanel + t] += tail1(src[r], k0, k1, wt[t * n_in : (t + 1) * n_in], L)
                dst[r, npanel + t + 1] += tail1(src[r], k0, k1, wt[(t + 1) * n_in : (t + 2) * n_in], L)
                r += 1
        if ntail % 2:
            t = ntail - 1
            for r in range(nrows):
                dst[r, npanel + t] += tail1(src[r], k0, k1, wt[t * n_in : (t + 1) * n_in], L)
        j0 = 0
        while j0 < npanel:
            nr = panel_width(npanel, j0, L)
            w = wp[j0 * n_in : (j0 + nr) * n_in]
            r = 0
            if nr == 2 * L:  # MR is a compile-time constant: LLVM keeps one of the two blocks
                while r + MR <= nrows:
                    if MR == 8:
                        block8x2(src, r, k0, k1, w, nr, j0, L, dst)
                    else:
                        block6x2(src, r, k0, k1, w, nr, j0, L, dst)
                    r += MR
            else:
                while r + MR1 <= nrows:
                    block8x1(src, r, k0, k1, w, nr, j0, L, dst)
                    r += MR1
            while r + 4 <= nrows:
                if nr == 2 * L:
                    block4x2(src[r], src[r + 1], src[r + 2], src[r + 3], k0, k1, w, nr, j0, L,
                             dst[r], dst[r + 1], dst[r + 2], dst[r + 3])
                else:
                    block4x1(src[r], src[r + 1], src[r + 2], src[r + 3], k0, k1, w, nr, j0, L,
                             dst[r], dst[r + 1], dst[r + 2], dst[r + 3])
                r += 4
            while r < nrows:
                block1(src[r], k0, k1, w, nr, j0, L, dst[r])
                r += 1
            j0 += nr


# ---- the fused forward pass: every layer on one tile, then a batch in tiles ----------

@njit(**OPTS)
def forward_tile(X, r0, nrows, wflat, bflat, offs, sizes, L, hidden, output, out, buf0, buf1):  # type: ignore[no-untyped-def]
    """out[r0:r0+nrows] = the network on X[r0:r0+nrows]; activations stay in buf0/buf1.
    Layer k's packed weights are wflat[offs[k, 0]:offs[k + 1, 0]], its padded bias
    bflat[offs[k, 1]:offs[k + 1, 1]] (one array each: cheaper to pass than tuples)."""
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
def forward_rows(X, r0, r1, wflat, bflat, offs, sizes, L, hidden, output, out, width):  # type: ignore[no-untyped-def]
    """Rows r0..r1 in tiles of TILE samples; two tile buffers of up to `width` padded columns."""
    n = min(TILE, r1 - r0) * width
    buf0 = aligned(n, X.dtype)
    buf1 = aligned(n, X.dtype)
    for t0 in range(r0, r1, TILE):
        forward_tile(X, t0, min(TILE, r1 - t0), wflat, bflat, offs, sizes, L, hidden, output, out, buf0, buf1)


@njit(**OPTS)
def forward_serial(X, wflat, bflat, offs, sizes, L, hidden, output, out, width):  # type: ignore[no-untyped-def]
    forward_rows(X, 0, X.shape[0], wflat, bflat, offs, sizes, L, hidden, output, out, width)


# ---- matmul (dot): the same dense kernel, zero bias, no activation ----------------------

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
def matmul_serial(A, bp, zeros, L, out):  # type: ignore[no-untyped-def]
    buf = np.empty((TILE, zeros.shape[0]), dtype=A.dtype)
    matmul_rows(A, 0, A.shape[0], bp, zeros, L, out, buf)


# ---- the interface: check and convert, allocate the output, call a driver --------------
# numba-parallel calls the run_* functions with its own drivers (serial below a size); the
# elementwise ones and their serial drivers are in _numba_elementwise.py, run_dot in _numba_dot.py.

def from_numpy(a: np.ndarray) -> np.ndarray:
    return np.asarray(a)


def to_numpy(x: Any) -> np.ndarray:
    return np.asarray(x)


def step(x: Any) -> np.ndarray:
    return run_step(x, step_serial)


def sigmoid(x: Any) -> np.ndarray:
    return run_activation(SIGMOID, x, activation_serial)


def relu(x: Any) -> np.ndarray:
    return run_activation(RELU, x, activation_serial)


def identity(x: Any) -> np.ndarray:
    return run_activation(IDENTITY, x, activation_serial)


def softmax(x: Any) -> np.ndarray:
    return run_softmax(x, softmax_serial)


def dot(a: Any, b: Any) -> Any:
    return run_dot(a, b, matmul_serial)


def prepare(network: Network) -> Prepared:
    return Prepared(network)


def run_forward(p: Prepared, x: Any, drive: Callable[..., None]) -> np.ndarray:
    """forward(p, x) with drive(X, p.wflat, p.bflat, p.offs, p.sizes, p.lanes, p.hidden, p.output, out, p.width)."""
    if type(x) is np.ndarray and x.dtype == p.dtype and x.ndim == 2 and x.shape[1] == p.n_in \
            and x.shape[0] > 0 and x.flags.c_contiguous:
        X = X2 = x  # the common case, checked in a few attribute reads
    else:
        X = as_numeric_array(x)
        check_forward_input(X.shape, p.n_in)
        X2 = np.ascontiguousarray(X.reshape(-1, p.n_in), dtype=p.dtype)
    out = np.empty((X2.shape[0], p.n_out), dtype=p.dtype)
    drive(X2, p.wflat, p.bflat, p.offs, p.sizes, p.lanes, p.hidden, p.output, out, p.width)
    return out[0] if X.ndim == 1 else out


def forward(p: Prepared, x: Any) -> np.ndarray:
    return run_forward(p, x, forward_serial)


# ---- forward's steps one at a time, for `loopvec explain` -------------------------------

@njit(**OPTS)
def product_bias_tiles(a, n_in, n_out, wp, bias, npad, L, dst):  # type: ignore[no-untyped-def]
    """dst (batch, npad) = a @ W + bias, tile by tile as forward_tile: the bias starts in the accumulators."""
    n = a.shape[0]
    for t0 in range(0, n, TILE):
        nrows = min(TILE, n - t0)
        dense_rows(a[t0:t0 + nrows], nrows, n_in, n_out, wp, bias, npad, L, dst[t0:t0 + nrows])


@njit(**OPTS)
def activation_tiles(dst, n_out, code):  # type: ignore[no-untyped-def]
    n = dst.shape[0]
    for t0 in range(0, n, TILE):
        nrows = min(TILE, n - t0)
        activate_rows(dst[t0:t0 + nrows], nrows, n_out, code)


def stages(p: Prepared, k: int) -> dict[str, Any]:
    """Layer k of the forward pass as its own steps over a whole batch, tile by tile (what
    `loopvec explain` times): "product" a (batch, >= n_in) -> (batch, npad) rows of a @ W + b,
    bias included (it starts in the accumulators), into `out` when given; "activation" in
    place on such rows, as forward_tile applies it to each tile. Both read p's own arrays:
    "packed_weights" and "padded_bias", views of p.wflat and p.bflat; "width" is npad."""
    wp, bp = p.layer(k)
    n_in, n_out, npad = int(p.sizes[k]), int(p.sizes[k + 1]), bp.shape[0]
    code = p.output if k == len(p.sizes) - 2 else p.hidden

    checked_product, checked_activation = Checked(), Checked()

    def product(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        dst = np.empty((a.shape[0], npad), dtype=p.dtype) if out is None else out
        if not checked_product.same(a, dst):  # the compiled loops trust their arguments
            check_rows(a, p.dtype, n_in, "stages product: a")
            check_rows(dst, p.dtype, npad, "stages product: out", width=npad)
            if dst.shape[0] != a.shape[0]:
                raise InputError(f"stages product: out has {dst.shape[0]} rows, a has {a.shape[0]}")
            checked_product.remember(a, dst)
        product_bias_tiles(a, n_in, n_out, wp, bp, npad, p.lanes, dst)  # (batch, n_in) @ (n_in, npad) -> (batch, npad)
        return dst

    def activation(z: np.ndarray) -> np.ndarray:
        if not checked_activation.same(z):
            check_rows(z, p.dtype, npad, "stages activation: z", width=npad)
            checked_activation.remember(z)
        activation_tiles(z, n_out, code)  # in place on (batch, npad)
        return z

    return {"product": product, "activation": activation, "packed_weights": wp, "padded_bias": bp,
            "width": npad}
