"""Numba, tuned and serial: the loops of `numba` rearranged for the machine, one core.

Against `numba`'s plain loops: the weights packed once into panels of two SIMD vectors
(on 64-byte boundaries, zero padded), a register block of explicit vectors (MR samples x
2 vectors of accumulators, sized to the target's register file: impls/target.py),
inputs taken 256 at a time, the bias loaded into the accumulators, the activation
applied to each tile of samples while it is in cache, with a vectorized exp
(impls/_fastexp.py, within 1 ulp), and a one-sample kernel that prefetches the weights.
The activations, softmax's max and sum included, are vector loops (impls/_numba_activations.py).
Layout and invariants: impls/_numba_kernels.py; each optimization with its measured
gain, per machine: docs/numba-tuned.md.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from loopvec.impls._numba_api import NumbaImpl, Prepared, from_numpy, to_numpy
from loopvec.impls.network import Network

NAME = "numba-tuned"
DTYPES = ("float64", "float32")
_impl = NumbaImpl(parallel=False)


def step(x: Any) -> np.ndarray:
    return _impl.step(x)


def sigmoid(x: Any) -> np.ndarray:
    return _impl.sigmoid(x)


def relu(x: Any) -> np.ndarray:
    return _impl.relu(x)


def identity(x: Any) -> np.ndarray:
    return _impl.identity(x)


def softmax(x: Any) -> np.ndarray:
    return _impl.softmax(x)


def dot(a: Any, b: Any) -> Any:
    return _impl.dot(a, b)


def prepare(network: Network) -> Prepared:
    return _impl.prepare(network)


def forward(p: Prepared, x: Any) -> np.ndarray:
    return _impl.forward(p, x)


__all__ = ["NAME", "DTYPES", "Prepared", "from_numpy", "to_numpy", "step", "sigmoid", "relu",
           "identity", "softmax", "dot", "prepare", "forward"]
