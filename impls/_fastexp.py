"""A vectorizable exp for Numba kernels (no SVML needed): exp64 (float64), exp32 (float32).

Numba's np.exp / math.exp is a call to scalar libm, which stops LLVM's loop
vectorizer. These helpers are straight-line, branch-free code (selects, not ifs),
so a loop such as `for i in range(n): out[i] = 1.0 / (1.0 + exp64(-x[i]))`
vectorizes at the target's width (AVX-512: zmm vfmadd...pd, vrndscalepd, vpsllq; AVX2:
the same in ymm; callers that want the full width, zmm rather than LLVM's default ymm on
AVX-512, set "prefer-vector-width", see _simd.wide). The enclosing function needs error_model="numpy": Numba's
default Python error model puts a ZeroDivisionError branch in `1.0 / (...)`,
which stops the vectorizer.

Method, for exp(x):
  1. clamp x to [LO, HI] with selects (NaN is restored at the end);
  2. n = rint(x / ln2), r = x - n*ln2_hi - n*ln2_lo (Cody-Waite: ln2_hi has trailing
     zero bits so n*ln2_hi is exact), |r| <= ln2/2; float64 rounds by adding 1.5 * 2^52,
     whose last bits then hold n as an integer (AVX2 has no vector float64 -> int64
     conversion: np.int64(nf) ran as four scalar ones per vector);
  3. exp(r) by a polynomial of degree 11 for float64, 6 for float32: exp's Taylor
     polynomial (degree 17 / 9) economized to that degree with Chebyshev polynomials on
     |r| <= 0.35 (> ln2/2), coefficients computed exactly (fractions) at import and rounded
     once (`economized`); approximation error < 0.05 ulp. Degrees 2 and up by Estrin's
     scheme (pairs c_k + c_{k+1} r, then powers r^2, r^4), the last two by Horner, which
     rounds once near 1 (1 + r (1 + r q)); FMA throughout: a dependency chain of about 6
     operations where Horner's is one per degree, and 2 fewer degrees than the Taylor
     polynomial of the same accuracy (13 / 7);
  4. 2^n in two factors 2^(n>>1) * 2^(n - n>>1), each built by integer bit
     operations on the exponent field and a bitcast (a tiny @intrinsic; float64 in
     unsigned arithmetic, whose logical shift AVX2 has for 64 bits): every
     factor is a normal number, so overflow gives +inf and subnormal results are
     rounded once, correctly, in the last multiply;
  5. select: NaN in -> NaN out.
exp(+inf) = inf, exp(-inf) = 0, overflow for x > 709.78 (float64) / 88.72 (float32),
underflow to 0 below -745.13 / -103.97. No fastmath flag beyond 'contract'.

Measured maximum error (the inputs of tests/test_fastexp.py: a dense sweep of
[-746, 710] and of the subnormal-result range, 100k randoms, values near the
overflow/underflow edges, tiny and huge |x|, specials; float32 also 100k random
bit patterns):
  float64: 1 ulp vs math.exp (integer ulp distance; 1 ulp too for the 53k
           subnormal results, counted at the subnormal spacing); under 0.85 ulp vs
           a high-precision reference on normal results (math.exp itself: 0.51).
  float32: 1 ulp vs the correctly rounded float32 of math.exp.
Speed (1e6 float64 sigmoids 1/(1+exp64(-x)), one core): see docs/numba-tuned.md.

The helpers are plain @njit(cache=True) functions with their own fastmath flags
({'contract'}), inlined by LLVM (checked: no call left in the caller's loop), not
by Numba's IR inliner (inline="always"), which would give their operations the
caller's flags: a caller compiled with 'reassoc' could then reassociate the
Cody-Waite reduction. Callers with cache=True cache fine (checked).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from loopvec.impls._numba_setup import FASTMATH, njit

__all__ = ["exp64", "exp32"]


# ---- bitcasts between same-width integers and floats --------------------------

@intrinsic
def _i32_as_f32(typingctx, v):  # type: ignore[no-untyped-def]
    if v != types.int32:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@intrinsic
def _f64_bits(typingctx, v):  # type: ignore[no-untyped-def]
    if v != types.float64:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@intrinsic
def _u64_as_f64(typingctx, v):  # type: ignore[no-untyped-def]
    if v != types.uint64:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


# ---- the polynomial's coefficients ----------------------------------------------

def _chebyshev(k: int) -> list[int]:
    """The coefficients of the Chebyshev polynomial T_k, lowest power first."""
    prev, cur = [1], [0, 1]
    if k == 0:
        return prev
    for _ in range(k - 1):  # T_{j+1} = 2t T_j - T_{j-1}
        prev, cur = cur, [2 * a - b for a, b in zip([0] + cur, prev + [0, 0])]
    return cur


def economized(degree: int, taylor: int, half_width: float = 0.35) -> tuple[float, ...]:
    """c_0..c_degree, c_k for r^k, of a polynomial within the error of exp's Taylor polynomial
    of degree `taylor` plus sum(|a_k| / 2^(k-1), k > degree) on |r| <= half_width, where a_k
    are the Taylor coefficients of exp(half_width * t) in t: each power t^k above `degree`,
    from the top, is replaced by t^k - T_k(t) / 2^(k-1) (degree k - 2, off by at most
    2^(1-k) on [-1, 1]). Exact rational arithmetic, one rounding per coefficient."""
    h = Fraction(half_width)
    a = [h**k / math.factorial(k) for k in range(taylor + 1)]  # exp(h t) in powers of t
    for k in range(taylor, degree, -1):
        t_k = _chebyshev(k)
        lead = a[k] / t_k[k]
        a = [a_j - lead * (t_k[j] if j <= k else 0) for j, a_j in enumerate(a)]
    return tuple(float(a[j] / h**j) for j in range(degree + 1))


# ---- float64 ------------------------------------------------------------------

_INV_LN2 = 1.0 / math.log(2.0)
_LN2_HI = 6.93147180369123816490e-01  # ln2 rounded to 32 significant bits: n*hi is exact
_LN2_LO = 1.90821492927058770002e-10  # ln2 - hi
_SHIFT = 1.5 * 2.0**52  # x + _SHIFT rounds x to an integer (|x| < 2^51), held in the low bits
_SHIFT_BITS = np.uint64(0x4338000000000000 - 2048)  # the bits of _SHIFT, less the bias 2048 of u below
_U1 = np.uint64(1)
_U52 = np.uint64(52)
_HI64 = 710.0  # exp(710) = inf
_LO64 = -750.0  # exp(-750) = 0
_C64 = economized(11, 17)
assert _C64[:2] == (1.0, 1.0)  # the polynomial is 1 + r (1 + r q(r))
(_, _, _A2, _A3, _A4, _A5, _A6, _A7, _A8, _A9, _A10, _A11) = _C64


@njit(cache=True, fastmath=FASTMATH)
def exp64(x):  # type: ignore[no-untyped-def]
    """exp(x) for a float64 x, within 1 ulp, vectorizable."""
    xc = x if x < _HI64 else _HI64  # NaN -> HI (fixed at the end)
    xc = xc if xc > _LO64 else _LO64
    t = xc * _INV_LN2 + _SHIFT  # rounded to an integer: the last bits of t are n
    nf = t - _SHIFT
    r = (xc - nf * _LN2_HI) - nf * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    q0 = (_A5 * r + _A4) * r2 + (_A3 * r + _A2)  # A2 + ... + A5 r^3
    q1 = (_A9 * r + _A8) * r2 + (_A7 * r + _A6)  # A6 + ... + A9 r^3
    q = ((_A11 * r + _A10) * r4 + q1) * r4 + q0  # A2 + ... + A11 r^9
    q = q * r + 1.0  # the last two degrees by Horner: one rounding each, near 1
    p = q * r + 1.0
    u = _f64_bits(t) - _SHIFT_BITS  # n + 2048, n in [-1082, 1025]: u >= 966
    h = u >> _U1  # (n1 = n >> 1) + 1024; unsigned: a logical shift, which AVX2 has for 64 bits
    s1 = _u64_as_f64((h - _U1) << _U52)  # 2^n1: exponent field n1 + 1023
    s2 = _u64_as_f64((u - h - _U1) << _U52)  # 2^n2, n2 = n - n1: exponent field n2 + 1023
    y = (p * s1) * s2
    return y if x == x else x


# ---- float32 ------------------------------------------------------------------

_F = np.float32
_INV_LN2_32 = _F(1.0 / math.log(2.0))
_LN2_HI32 = _F(0.693359375)  # 9 significant bits
_LN2_LO32 = _F(math.log(2.0) - 0.693359375)
_HI32 = _F(89.0)  # exp(89) = inf in float32
_LO32 = _F(-105.0)  # exp(-105) = 0 in float32
_C32 = tuple(_F(c) for c in economized(6, 9))  # c_0 and c_1 round to 1 in float32
assert _C32[:2] == (1.0, 1.0)
_B2, _B3, _B4, _B5, _B6 = _C32[2:]
_ONE32 = _F(1.0)
_BIAS32 = np.int32(127)


@njit(cache=True, fastmath=FASTMATH)
def exp32(x):  # type: ignore[no-untyped-def]
    """exp(x) for a float32 x, within 1 ulp of the correctly rounded float32, vectorizable."""
    xc = x if x < _HI32 else _HI32
    xc = xc if xc > _LO32 else _LO32
    nf = np.rint(xc * _INV_LN2_32)
    r = (xc - nf * _LN2_HI32) - nf * _LN2_LO32
    r2 = r * r
    q = (_B6 * r2 + (_B5 * r + _B4)) * r2 + (_B3 * r + _B2)  # B2 + ... + B6 r^4
    q = q * r + _ONE32
    p = q * r + _ONE32
    n = np.int32(nf)  # in [-151, 129]
    n1 = np.int32(n >> np.int32(1))
    n2 = np.int32(n - n1)  # both in [-76, 65]
    s1 = _i32_as_f32(np.int32((n1 + _BIAS32) << np.int32(23)))
    s2 = _i32_as_f32(np.int32((n2 + _BIAS32) << np.int32(23)))
    y = (p * s1) * s2
    return y if x == x else x
