"""A SIMD value type for Numba kernels, one vector register wide, and its operations (load,
store, broadcast, multiply-add, lane sum, lane-wise and lane max, prefetch).

Numba runs no SLP vectorizer, and LLVM fully unrolls a 16-wide constant loop before its loop
vectorizer sees it, so plain-loop register blocks stay scalar. These intrinsics give the
dense kernel explicit vector values instead, as wide as one register of the target Numba
compiles for (target.py): <8 x double> / <16 x float> on AVX-512 (zmm), <4 x double> /
<8 x float> on AVX/AVX2 (ymm), <2 x double> / <4 x float> on SSE2 and NEON. Each operation
lowers to one LLVM vector instruction, vsum to log2(lanes) halving adds.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.datamodel import models
from numba.extending import intrinsic, overload, register_model

from loopvec.impls import target
from loopvec.impls._fastexp import exp32, exp64

TARGET = target.current()
VECTOR_BITS = TARGET.vector_bits  # one vector register of the compile target
FMA = TARGET.fma  # the target has a fused multiply-add instruction


# ---- a SIMD value type, one register wide, and its operations -------------

class _Simd(types.Type):
    """One vector register of float64 or float32 (VECTOR_BITS / element bits lanes)."""

    def __init__(self, dtype: types.Float) -> None:
        self.dtype = dtype
        self.lanes = VECTOR_BITS // dtype.bitwidth
        super().__init__(name=f"simd{self.lanes}x{dtype}")


@register_model(_Simd)
class _SimdModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):  # type: ignore[no-untyped-def]
        elem = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(elem, fe_type.lanes))


def lanes(dtype: np.dtype) -> int:
    """Elements of dtype per vector register of the compile target."""
    return VECTOR_BITS // (8 * np.dtype(dtype).itemsize)


def _is_float_array(a):  # type: ignore[no-untyped-def]
    return isinstance(a, types.Array) and isinstance(a.dtype, types.Float) and a.layout == "C"


def _vec_ptr(context, builder, arrty, arr, idx, vecty):  # type: ignore[no-untyped-def]
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.bitcast(builder.gep(data, [idx]), vecty.as_pointer())


@intrinsic
def vld(typingctx, a, i):  # type: ignore[no-untyped-def]
    """The vector a[i : i + lanes] (no bounds check, no negative-index wraparound)."""
    if not (_is_float_array(a) and isinstance(i, types.Integer)):
        return None
    st = _Simd(a.dtype)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        vecty = context.get_value_type(st)
        idx = context.cast(builder, args[1], sig.args[1], types.intp)
        # align = the element size: rows of X and of W^T start anywhere (4 mod 8 in float32)
        return builder.load(_vec_ptr(context, builder, sig.args[0], args[0], idx, vecty), align=a.dtype.bitwidth // 8)

    return st(a, i), codegen


@intrinsic
def vst(typingctx, a, i, v):  # type: ignore[no-untyped-def]
    """a[i : i + lanes] = v."""
    if not (_is_float_array(a) and isinstance(v, _Simd) and v.dtype == a.dtype):
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        vecty = context.get_value_type(sig.args[2])
        idx = context.cast(builder, args[1], sig.args[1], types.intp)
        builder.store(args[2], _vec_ptr(context, builder, sig.args[0], args[0], idx, vecty), align=a.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(a, i, v), codegen


@intrinsic
def vsplat(typingctx, x):  # type: ignore[no-untyped-def]
    """A vector with x in every lane."""
    if not isinstance(x, types.Float):
        return None
    st = _Simd(x)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        vecty = context.get_value_type(st)
        v = builder.insert_element(ir.Constant(vecty, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(ir.IntType(32), st.lanes), [0] * st.lanes))

    return st(x), codegen


@intrinsic
def vfma(typingctx, a, b, c):  # type: ignore[no-untyped-def]
    """a * b + c, lane by lane: one rounding (llvm.fma) where the target has FMA, else a
    multiply and an add (llvm.fmuladd: llvm.fma without FMA hardware is a libm call per lane)."""
    if not (isinstance(a, _Simd) and a == b == c):
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        vt = args[0].type
        name = f"llvm.{'fma' if FMA else 'fmuladd'}.v{vt.count}f{a.dtype.bitwidth}"
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt, vt]), name)
        return builder.call(fn, args)

    return a(a, b, c), codegen


@intrinsic
def vsum(typingctx, v):  # type: ignore[no-untyped-def]
    """The sum of v's lanes, as a scalar (halves added pairwise: 3 steps for 8 lanes)."""
    if not isinstance(v, _Simd):
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        return _halves(builder, args[0], v.lanes, builder.fadd)

    return v.dtype(v), codegen


def _halves(builder, vec, n, combine):  # type: ignore[no-untyped-def]
    """Lane 0 of `vec` (n lanes) after combining its halves pairwise, log2(n) steps: a reduction."""
    i32 = ir.IntType(32)
    while n > 1:
        n //= 2
        lo = builder.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(i32, n), list(range(n))))
        hi = builder.shuffle_vector(vec, vec, ir.Constant(ir.VectorType(i32, n), list(range(n, 2 * n))))
        vec = combine(lo, hi)
    return builder.extract_element(vec, ir.Constant(i32, 0))


@intrinsic
def vmax(typingctx, a, b):  # type: ignore[no-untyped-def]
    """a > b ? a : b, lane by lane (maxpd's rule: where a is NaN the lane of b is kept)."""
    if not (isinstance(a, _Simd) and a == b):
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        return builder.select(builder.fcmp_ordered(">", args[0], args[1]), args[0], args[1])

    return a(a, b), codegen


@intrinsic
def vmax_lanes(typingctx, v):  # type: ignore[no-untyped-def]
    """The largest of v's lanes, as a scalar (halves compared pairwise, vmax's rule; callers
    keep NaN out of v)."""
    if not isinstance(v, _Simd):
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        return _halves(builder, args[0], v.lanes,
                       lambda lo, hi: builder.select(builder.fcmp_ordered(">", lo, hi), lo, hi))

    return v.dtype(v), codegen


@intrinsic
def prefetch(typingctx, a, i):  # type: ignore[no-untyped-def]
    """Hint: bring the cache line of a[i] into L1 (never faults, even past the end)."""
    if not (_is_float_array(a) and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        idx = context.cast(builder, args[1], sig.args[1], types.intp)
        ptr = builder.gep(data, [idx])
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.none(a, i), codegen


@intrinsic
def wide(typingctx):  # type: ignore[no-untyped-def]
    """Let LLVM's loop vectorizer use the target's full vector width in this function
    (VECTOR_BITS: it prefers 256 on AVX-512)."""

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        # a string attribute: llvmlite's AttributeSet.add only takes known flag names
        set.add(builder.function.attributes, f'"prefer-vector-width"="{VECTOR_BITS}"')
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def no_unroll(typingctx):  # type: ignore[no-untyped-def]
    """Keep LLVM from unrolling this function's loops, and from inlining it (its callers'
    attributes would then apply), on targets of 16 vector registers. For register blocks:
    unrolled twice, a block of 12 accumulators on 16 registers had LLVM hoist the next
    iteration's broadcasts and spill. With 32 registers nothing spilled, and the code the
    AVX-512 figures were measured with is kept as it was."""

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        if TARGET.registers < 32:
            # optsize sets LoopUnroll's partial/runtime thresholds to 0; noinline keeps it so
            builder.function.attributes.add("optsize")
            builder.function.attributes.add("noinline")
        return context.get_dummy_value()

    return types.none(), codegen


# ---- scalar helpers, one per dtype ---------------------------------------------

def fast_exp(x):  # type: ignore[no-untyped-def]
    raise NotImplementedError  # only the Numba overload below


@overload(fast_exp, inline="never")
def fast_exp_ol(x):  # type: ignore[no-untyped-def]
    if x == types.float32:
        return lambda x: exp32(x)
    if x == types.float64:
        return lambda x: exp64(x)
    return None


