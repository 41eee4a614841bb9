"""Numba, tuned and serial: the loops of `numba` rearranged for the machine, one core.

What changed against `numba`'s plain loops, each with its measured gain (2-vCPU Xeon,
AVX-512, float64, one core; impls/_numba_kernels.py's docstring has the details):
- weights packed once into 16-neuron SIMD panels, and a register block of explicit
  <8 x double> vectors: whole forward at batch 100 24 -> 43 GFLOP/s;
- cache blocking along the inputs (256 at a time), the bias loaded into the
  accumulators: 784->50 layer 40 -> 55 GFLOP/s;
- an 8-sample x 16-neuron block (16 zmm accumulators, one broadcast and two loads per
  16 multiply-adds): 55 -> 57.5 GFLOP/s; an 8-sample block for a last panel of one
  vector (50 = 16+16+16+8): 48-50 -> 50-52 GFLOP/s; then, for those last 2 of 50
  neurons, dot products along the inputs instead (no padded lanes): 54-60 GFLOP/s
  (the three variants interleaved, five sessions);
- the activation applied to each 64-sample tile while it is in cache, with a
  vectorized exp (impls/_fastexp.py, within 1 ulp) instead of the scalar libm one:
  sigmoid of 1e6 values 6.4 -> 1.2 ms;
- the activation as one loop over the whole tile, not one per row: sigmoid on rows of
  50 1.47 -> 1.20 ns per value, softmax on rows of 10 8.9 -> 2.5 ns;
- batch 1: prefetching the weights 16 rows ahead (784->50 layer 7.0 -> 6.0 us), one
  weight array instead of a tuple and a fast input check (forward 12.6 -> 9.6 us), and
  weights on a 64-byte boundary (removed a 10% difference between processes).
"""
from __future__ import annotations

from loopvec.impls._numba_api import NumbaImpl, Prepared, from_numpy, to_numpy

NAME = "numba-tuned"
DTYPES = ("float64", "float32")
step, sigmoid, relu, identity, softmax, dot, prepare, forward = NumbaImpl(parallel=False).interface()
__all__ = ["NAME", "DTYPES", "Prepared", "from_numpy", "to_numpy", "step", "sigmoid", "relu",
           "identity", "softmax", "dot", "prepare", "forward"]
