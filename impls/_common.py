"""Input checks shared by the array-based implementations (numpy, numba, torch).

The checks live here, in thin Python wrappers, so that jitted kernels stay bare
and every implementation raises the same error class with the same wording.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class InputError(ValueError):
    """Bad input to an implementation: wrong shape, wrong rank or non-numeric values.

    Every implementation raises this class (a ValueError) for the same mistakes.
    """


def shape_str(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def as_numeric_array(x: Any, what: str = "x") -> np.ndarray:
    """`x` as an ndarray of a real numeric dtype, 1-D or 2-D."""
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise InputError(f"{what}: expected a 1-D or 2-D array of numbers, got {exc}") from None
    if a.dtype.kind not in "biuf":
        raise InputError(
            f"{what}: expected numeric values (int or float), got dtype {a.dtype}"
        )
    if a.ndim not in (1, 2):
        raise InputError(
            f"{what}: expected a 1-D vector or a 2-D batch, got {a.ndim}-D shape {shape_str(a.shape)}"
        )
    return a


def check_dot_shapes(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    """np.dot's rule: the last axis of `a` must match the first axis of `b`."""
    if a_shape[-1] != b_shape[0]:
        raise InputError(
            f"dot: shapes {shape_str(a_shape)} and {shape_str(b_shape)} not aligned: "
            f"{a_shape[-1]} (last dim of a) != {b_shape[0]} (first dim of b)"
        )


def check_forward_input(shape: tuple[int, ...], n_in: int) -> None:
    if shape[-1] != n_in:
        raise InputError(
            f"forward: input shape {shape_str(shape)} does not fit the network: "
            f"expected {n_in} features per sample, i.e. shape ({n_in},) or (batch, {n_in})"
        )


def check_rows(x: Any, dtype: Any, min_width: int, what: str, width: int | None = None) -> None:
    """For a compiled loop that trusts its arguments (no bounds checks): x is a C-contiguous 2-D
    array of `dtype` with at least `min_width` columns (exactly `width` when given)."""
    ok = isinstance(x, np.ndarray) and x.ndim == 2 and x.dtype == np.dtype(dtype) and x.flags.c_contiguous \
        and x.shape[1] >= min_width and (width is None or x.shape[1] == width)
    if not ok:
        got = f"{x.ndim}-D {x.dtype} shape {shape_str(x.shape)}" if isinstance(x, np.ndarray) else type(x).__name__
        cols = f"{width}" if width is not None else f"at least {min_width}"
        raise InputError(f"{what}: expected a C-contiguous 2-D {np.dtype(dtype)} array with {cols} columns, got {got}")


class Checked:
    """The arrays a stage function checked last (see check_rows): called again on the very same
    arrays, as `loopvec explain` does in its timed rounds, it checks them once, not in every call."""

    def __init__(self) -> None:
        self.last: tuple[Any, ...] = ()

    def same(self, *arrays: Any) -> bool:
        return len(arrays) == len(self.last) and all(a is b for a, b in zip(arrays, self.last))

    def remember(self, *arrays: Any) -> None:
        self.last = arrays


HIDDEN = ("sigmoid", "relu")
OUTPUT = ("identity", "softmax")

# How closely two implementations must agree, (rtol, atol) per dtype, by purpose:
# "result": a whole answer (forward pass, dot), checked before timing and by `loopvec check`;
#   float64 results of different summation orders and exp implementations agree to ~1e-13
#   relative, float32 to ~1e-5; a real mistake is orders of magnitude larger.
# "elementwise": one activation value, in the property tests: the exp implementations differ
#   by a few ulp; atol covers results that underflow to subnormals or zero.
TOLERANCE: dict[str, dict[str, tuple[float, float]]] = {
    "result": {"float64": (1e-9, 1e-12), "float32": (1e-4, 1e-6)},
    "elementwise": {"float64": (1e-12, 1e-300), "float32": (1e-5, 1e-35)},
}
