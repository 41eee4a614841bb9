"""Numba, parallel: the fused loops of `numba` with the batch split across threads (prange).

Threads: numba.set_num_threads or NUMBA_NUM_THREADS (`loopvec run --threads N`).
"""
from __future__ import annotations

from loopvec.impls._numba_api import NumbaImpl, Prepared, from_numpy, to_numpy

NAME = "numba-parallel"
DTYPES = ("float64", "float32")
step, sigmoid, relu, identity, softmax, dot, prepare, forward = NumbaImpl(parallel=True).interface()
__all__ = ["NAME", "DTYPES", "Prepared", "from_numpy", "to_numpy", "step", "sigmoid", "relu",
           "identity", "softmax", "dot", "prepare", "forward"]
