"""Numba, tuned and serial: the loops of `numba` rearranged for the machine, one core.

The forward pass is one fused kernel over tiles of samples; its dense layer sums
along rows of the transposed weights, 2 samples x 4 neurons per pass, which LLVM
vectorizes (2x faster here than the i-k-j order). See impls/_numba_kernels.py.
"""
from __future__ import annotations

from loopvec.impls._numba_api import NumbaImpl, Prepared, from_numpy, to_numpy

NAME = "numba-tuned"
DTYPES = ("float64", "float32")
step, sigmoid, relu, identity, softmax, dot, prepare, forward = NumbaImpl(parallel=False).interface()
__all__ = ["NAME", "DTYPES", "Prepared", "from_numpy", "to_numpy", "step", "sigmoid", "relu",
           "identity", "softmax", "dot", "prepare", "forward"]
