"""numba-tuned's elementwise functions (step, the activations, softmax): their serial drivers
over the loops of _numba_activations.py, and the Python wrappers that convert the input and
allocate the output around a driver. numba-parallel passes its threaded drivers to the same
wrappers (impl_numba_parallel.py: work items of CHUNK elements, long softmax rows split).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from loopvec.impls._common import as_numeric_array
from loopvec.impls._numba_activations import softmax_row, span, step_span
from loopvec.impls._numba_setup import OPTS, njit


@njit(**OPTS)
def step_serial(x, out):  # type: ignore[no-untyped-def]
    step_span(x, out, 0, x.shape[0])


@njit(**OPTS)
def activation_serial(code, x, out):  # type: ignore[no-untyped-def]
    span(code, x, out, 0, x.shape[0])


@njit(**OPTS)
def softmax_serial(x, out):  # type: ignore[no-untyped-def]
    """Softmax along the rows of x (rows, n) into out (rows, n), one row after another."""
    for r in range(x.shape[0]):
        softmax_row(x[r], out[r], x.shape[1])


def float_array(x: Any) -> np.ndarray:
    """x as a C-contiguous array of float32 or float64 (the dtypes the kernels are compiled for;
    everything else computes in float64)."""
    a = as_numeric_array(x)
    return np.ascontiguousarray(a, dtype=a.dtype if a.dtype in (np.float32, np.float64) else np.float64)


def run_step(x: Any, drive: Callable[..., None]) -> np.ndarray:
    a = float_array(x)
    out = np.empty(a.shape, dtype=np.int64)
    drive(a.reshape(-1), out.reshape(-1))
    return out


def run_activation(code: int, x: Any, drive: Callable[..., None]) -> np.ndarray:
    a = float_array(x)
    out = np.empty_like(a)
    drive(code, a.reshape(-1), out.reshape(-1))
    return out


def run_softmax(x: Any, drive: Callable[..., None]) -> np.ndarray:
    a = float_array(x)
    out = np.empty_like(a)
    if a.size:  # along the last axis: a (rows, n) view
        drive(a.reshape(-1, a.shape[-1]), out.reshape(-1, a.shape[-1]))
    return out
