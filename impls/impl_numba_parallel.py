"""Numba, parallel: numba-tuned's kernel with the batch split across threads (prange).

Rows are handed out in blocks of up to 64 samples, one at a time, so a core that is busy
elsewhere takes fewer; below 16 rows (or 20,000 elements) it runs numba-tuned's serial
kernel, since starting threads costs more than they save there.
Threads: numba.set_num_threads or NUMBA_NUM_THREADS (`loopvec run --threads N`).
"""
from __future__ import annotations

from loopvec.impls._numba_api import NumbaImpl, Prepared, from_numpy, to_numpy

NAME = "numba-parallel"
DTYPES = ("float64", "float32")
step, sigmoid, relu, identity, softmax, dot, prepare, forward = NumbaImpl(parallel=True).interface()
__all__ = ["NAME", "DTYPES", "Prepared", "from_numpy", "to_numpy", "step", "sigmoid", "relu",
           "identity", "softmax", "dot", "prepare", "forward"]
