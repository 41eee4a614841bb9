"""The coefficients of _fastexp's polynomials: economized Taylor polynomials of exp."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("numba")
from loopvec.impls._fastexp import _C32, _C64, _chebyshev, economized  # noqa: E402


def test_chebyshev_polynomials() -> None:
    assert _chebyshev(0) == [1] and _chebyshev(1) == [0, 1]
    assert _chebyshev(2) == [-1, 0, 2] and _chebyshev(5) == [0, 5, 0, -20, 0, 16]
    t = np.linspace(-1, 1, 101)
    for k in range(2, 12):  # T_k(cos u) = cos(k u)
        np.testing.assert_allclose(np.polyval(_chebyshev(k)[::-1], np.cos(t)), np.cos(k * t), atol=1e-12)


def test_nothing_to_economize_gives_the_taylor_polynomial() -> None:
    assert economized(9, 9) == tuple(1.0 / math.factorial(k) for k in range(10))


@pytest.mark.parametrize("coefs, bound", [(_C64, 4e-16), (_C32, 3e-8)])
def test_the_polynomial_is_exp_on_the_reduced_range(coefs: tuple[float, ...], bound: float) -> None:
    r = np.linspace(-0.35, 0.35, 20_001)
    got = np.polyval(np.array(coefs, dtype=np.float64)[::-1], r)  # evaluated in float64
    want = np.exp(r)
    # float64: about numpy's exp and polyval's own rounding; float32: the coefficients rounded to
    # float32 dominate, a quarter of float32's eps (< half an ulp)
    assert np.max(np.abs(got - want) / want) < bound


def test_the_degree_is_what_the_accuracy_needs() -> None:
    # one degree less than the one used leaves an error above half an ulp: the degree is not oversized
    r = np.linspace(-0.35, 0.35, 2001)
    low = np.polyval(np.array(economized(10, 17))[::-1], r)
    assert np.max(np.abs(low - np.exp(r)) / np.exp(r)) > 2.0**-53
