"""exp64 / exp32 (loopvec.impls._fastexp): ulp error over the whole range, special values."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("numba")
from numba import njit  # noqa: E402

from loopvec.impls._fastexp import exp32, exp64  # noqa: E402


@njit(cache=False, error_model="numpy")
def _map64(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.shape[0]):
        out[i] = exp64(x[i])


@njit(cache=False, error_model="numpy")
def _map32(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.shape[0]):
        out[i] = exp32(x[i])


def e64(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty_like(x)
    _map64(x, out)
    return out


def e32(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(x)
    _map32(x, out)
    return out


def ulp_distance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """How many representable numbers apart (both >= 0, finite or inf); subnormals count at their spacing."""
    ib = np.int64 if got.dtype == np.float64 else np.int32
    return np.abs(got.view(ib).astype(np.int64) - want.view(ib).astype(np.int64))


def ref64(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for i, v in enumerate(x.tolist()):
        try:
            out[i] = math.exp(v)
        except OverflowError:
            out[i] = math.inf
    return out


def ref32(x: np.ndarray) -> np.ndarray:
    # float64 exp rounded to float32: the correctly rounded float32 (but for a
    # double-rounding case one in billions, within the bound anyway)
    with np.errstate(over="ignore"):
        return ref64(x.astype(np.float64)).astype(np.float32)


def inputs64(rng: np.random.Generator) -> np.ndarray:
    dense = np.linspace(-746.0, 710.0, 400_001)  # whole finite-result range, subnormal results included
    sub = np.linspace(-745.2, -708.3, 40_001)  # the subnormal-result range, finer
    edges = np.concatenate([np.nextafter(709.782712893384, np.inf) + np.arange(-50, 50) * 2e-13,
                            -745.1332191019411 + np.arange(-50, 50) * 2e-13,
                            -708.3964185322641 + np.arange(-50, 50) * 2e-13])
    tiny = np.concatenate([np.geomspace(1e-300, 1e-3, 2000), -np.geomspace(1e-300, 1e-3, 2000)])
    huge = np.concatenate([np.geomspace(1e3, 1e308, 200), -np.geomspace(1e3, 1e308, 200)])
    rand = rng.uniform(-750.0, 712.0, 100_000)
    return np.concatenate([dense, sub, edges, tiny, huge, rand, [0.0, -0.0, 1.0, -1.0, 5e-324, -5e-324]])


def inputs32(rng: np.random.Generator) -> np.ndarray:
    dense = np.linspace(-104.0, 89.0, 400_001, dtype=np.float32)
    sub = np.linspace(-103.98, -87.3, 40_001, dtype=np.float32)
    tiny = np.concatenate([np.geomspace(1e-38, 1e-2, 2000), -np.geomspace(1e-38, 1e-2, 2000)]).astype(np.float32)
    huge = np.concatenate([np.geomspace(1e2, 3e38, 200), -np.geomspace(1e2, 3e38, 200)]).astype(np.float32)
    rand = rng.uniform(-105.0, 90.0, 100_000).astype(np.float32)
    bits = rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32)  # any pattern
    bits = bits[np.isfinite(bits)]
    return np.concatenate([dense, sub, tiny, huge, rand, bits, np.float32([0.0, -0.0, 1.0, -1.0, 1e-45, -1e-45])])


def test_exp64_within_2_ulp() -> None:
    x = inputs64(np.random.default_rng(0))
    got, want = e64(x), ref64(x)
    assert np.array_equal(np.isinf(got), np.isinf(want))
    assert ulp_distance(got, want).max() <= 2


def test_exp32_within_2_ulp() -> None:
    x = inputs32(np.random.default_rng(1))
    got, want = e32(x), ref32(x)
    assert np.array_equal(np.isinf(got), np.isinf(want))
    assert ulp_distance(got, want).max() <= 2


@pytest.mark.parametrize("f, dt", [(e64, np.float64), (e32, np.float32)])
def test_special_values(f, dt) -> None:  # type: ignore[no-untyped-def]
    got = f(np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e5, -1e5], dtype=dt))
    assert np.isnan(got[:2]).all()
    assert got[2] == np.inf and got[3] == 0.0
    assert got[4] == 1.0 and got[5] == 1.0
    assert got[6] == np.inf and got[7] == 0.0
    assert got.dtype == dt


def test_overflow_and_underflow_thresholds() -> None:
    big64 = 709.782712893384  # largest x with exp(x) finite
    assert np.isfinite(e64(np.array([big64]))[0])
    assert e64(np.array([np.nextafter(big64, np.inf)]))[0] == np.inf
    assert e64(np.array([-745.14]))[0] == 0.0
    assert e64(np.array([-745.13]))[0] == 5e-324  # the smallest subnormal
    big32 = np.float32(88.72283)
    assert np.isfinite(e32(np.array([big32]))[0])
    assert e32(np.array([np.nextafter(big32, np.float32(np.inf))]))[0] == np.inf
    assert e32(np.array([-104.0], dtype=np.float32))[0] == 0.0


def test_subnormal_results_exact_spacing() -> None:
    x = np.linspace(-745.0, -708.5, 20_001)
    got, want = e64(x), ref64(x)
    assert (want < 2.2250738585072014e-308).all() and (got > 0).all()
    assert ulp_distance(got, want).max() <= 1
    x32 = np.linspace(-103.0, -87.5, 20_001, dtype=np.float32)
    assert ulp_distance(e32(x32), ref32(x32)).max() <= 1


def test_monotone_on_a_fine_grid() -> None:
    x = np.linspace(-2.0, 2.0, 200_001)
    assert (np.diff(e64(x)) >= 0).all()
