"""Numba, serial: the explicit loops of `python`, compiled with @njit(cache=True).

Loops in i-k-j order so LLVM vectorizes the inner one; the forward pass is one
fused kernel over tiles of samples (impls/_numba_kernels.py).
"""
from __future__ import annotations

from impls._numba_api import NumbaImpl, Prepared, from_numpy, to_numpy

NAME = "numba"
DTYPES = ("float64", "float32")
step, sigmoid, relu, identity, softmax, dot, prepare, forward = NumbaImpl(parallel=False).interface()
__all__ = ["NAME", "DTYPES", "Prepared", "from_numpy", "to_numpy", "step", "sigmoid", "relu",
           "identity", "softmax", "dot", "prepare", "forward"]
