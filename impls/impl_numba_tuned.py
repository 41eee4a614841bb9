"""Numba, tuned and serial: the loops of `numba` rearranged for the machine, one core.

What changed against `numba`'s plain loops, each measured (impls/_numba_kernels.py's
docstring has the figures): weights packed once into 16-neuron SIMD panels; an
8-sample x 16-neuron register block (16 zmm accumulators, one broadcast and two loads
per multiply-add step); cache blocking along the inputs; the bias loaded into the
accumulators and the activation applied to each 64-sample tile while it is in cache;
a vectorized exp (impls/_fastexp.py, within 1 ulp) instead of the scalar libm one.
"""
from __future__ import annotations

from loopvec.impls._numba_api import NumbaImpl, Prepared, from_numpy, to_numpy

NAME = "numba-tuned"
DTYPES = ("float64", "float32")
step, sigmoid, relu, identity, softmax, dot, prepare, forward = NumbaImpl(parallel=False).interface()
__all__ = ["NAME", "DTYPES", "Prepared", "from_numpy", "to_numpy", "step", "sigmoid", "relu",
           "identity", "softmax", "dot", "prepare", "forward"]
