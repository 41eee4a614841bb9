"""Numba, parallel: numba-tuned's kernel with the batch split across threads (prange).

Rows are handed out in tiles (64 samples; 60 with 6-row register blocks), one at a time,
so a core that is busy elsewhere takes fewer; below 16 rows (or 20,000 elements) it runs
numba-tuned's serial kernel, since starting threads costs more than they save there. The
elementwise functions split the flat array into work items of 16,384 elements; softmax of a
few long rows (one row of a million, say) splits each row too: the spans' maxima, then exp
and the spans' sums, then the scaling, each a parallel loop (impls/_numba_elementwise.py).
Threads: numba.set_num_threads or NUMBA_NUM_THREADS (`loopvec run --threads N`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from loopvec.impls._numba_api import NumbaImpl, Prepared, from_numpy, to_numpy
from loopvec.impls.network import Network

NAME = "numba-parallel"
DTYPES = ("float64", "float32")
_impl = NumbaImpl(parallel=True)


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
