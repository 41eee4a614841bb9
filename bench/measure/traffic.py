"""The least data a case must move, and its arithmetic intensity (FLOPs per byte).

Method: compulsory traffic of one timed call -- every input read once, every output written
once, nothing else (intermediates such as a layer's activations are assumed to stay in cache
or registers, weights to be read once even when a call runs many forward passes). So
min_bytes is a lower bound on what any implementation moves, and the footprint the case
touches: the figure to hold against bandwidth.ceiling_for. Per kind (itemsize = w.dtype's):

    activation  n inputs + n outputs; step's outputs are int64 (the interface's 0/1 array)
    dot         A (n, n) + B (n, n) in, C (n, n) out: 3 n^2
    forward     X (batch, n_in) + every W and b + out (batch, n_out)
    batches     the same with batch = all the samples (the weights read once, not per call)

mnist-real is the book's network: MNIST_SIZES in float32 (weights and images); its shape is
taken from network.MNIST_SIZES, so the real data need not be present. Intensity is
flops / min_bytes (None where no FLOPs are counted: the activations), an upper bound on
the FLOPs per byte any implementation reaches.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from loopvec.bench.measure.workloads import Workload, network_of
from loopvec.impls.network import MNIST_SIZES

STEP_OUTPUT_ITEMSIZE = 8  # step returns int64 0/1 in every implementation


def layer_sizes(w: Workload) -> tuple[int, ...]:
    """(n_in, hidden..., n_out) of a forward or batches case's network."""
    if w.network is None:
        raise ValueError(f"{w.id}: a {w.kind} case has no network")
    if w.network == "mnist-real":
        return MNIST_SIZES  # the book's sample_weight.pkl is 784-50-100-10
    return tuple(network_of(w).sizes)


def parameters(sizes: tuple[int, ...]) -> int:
    """Weights and biases of a dense network: sum of n_in * n_out + n_out over the layers."""
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))


def min_bytes(w: Workload) -> int:
    """Bytes one timed call of `w` must move at least: inputs read once, outputs written once."""
    if w.size < 0:
        raise ValueError(f"{w.id}: negative size {w.size}")
    item = np.dtype(w.dtype).itemsize
    if w.kind == "activation":
        out_item = STEP_OUTPUT_ITEMSIZE if w.name == "step" else item
        return w.size * (item + out_item)
    if w.kind == "dot":
        return 3 * w.size * w.size * item
    if w.kind in ("forward", "batches"):
        sizes = layer_sizes(w)
        return (w.size * sizes[0] + parameters(sizes) + w.size * sizes[-1]) * item
    raise ValueError(f"{w.id}: unknown kind {w.kind!r}")


def flops(w: Workload) -> int | None:
    """w.flops, computed from the layer sizes (so mnist-real needs no data): 2 per multiply-add."""
    if w.kind == "dot":
        return 2 * w.size**3
    if w.network is not None:
        sizes = layer_sizes(w)
        return 2 * w.size * sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))
    return None


def intensity(w: Workload) -> float | None:
    """FLOPs per byte of the minimum traffic (flops / min_bytes); None where no FLOPs are counted."""
    f = flops(w)
    nbytes = min_bytes(w)
    if f is None or nbytes == 0:
        return None
    return f / nbytes


def traffic(w: Workload) -> dict[str, Any]:
    """JSON-able summary of a case: {"case", "min_bytes", "flops", "intensity", "itemsize"}."""
    return {"case": w.id, "min_bytes": min_bytes(w), "flops": flops(w), "intensity": intensity(w),
            "itemsize": np.dtype(w.dtype).itemsize}
