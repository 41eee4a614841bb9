"""Helpers shared by the tests (fixtures live in conftest.py)."""
from __future__ import annotations

import signal
from typing import Any

import numpy as np

from loopvec import impls
from loopvec.impls.network import Network

AVAILABLE = impls.available()
# (implementation, dtype) pairs the implementation claims to support: python is float64 only.
IMPL_DTYPES = [(name, dt) for name in AVAILABLE for dt in impls.get(name).DTYPES]
ARRAY_IMPLS = [name for name in AVAILABLE if name != "python"]  # return arrays, not lists


def out_np(impl: Any, out: Any) -> np.ndarray:
    """An implementation's output as an ndarray."""
    return np.asarray(impl.to_numpy(out))


def call(impl: Any, fn: str, *arrays: np.ndarray) -> np.ndarray:
    """impl.fn on ndarray inputs, converted to and from the implementation's native form."""
    return out_np(impl, getattr(impl, fn)(*(impl.from_numpy(a) for a in arrays)))


def run_forward(impl: Any, network: Network, X: np.ndarray) -> np.ndarray:
    return out_np(impl, impl.forward(impl.prepare(network), impl.from_numpy(X)))


def forward_error_bound(network: Network, X: np.ndarray) -> np.ndarray:
    """A bound on |forward_impl(X) - forward_numpy(X)|, elementwise, from a forward error analysis.

    Each dense layer z = a @ W + b computed in floating point is off by at most
    gamma_(n+1) * (|a| @ |W| + |b|) with gamma_k ~ k * eps/2 (the classic bound of a
    length-n dot product, for any summation order or FMA use); two implementations may
    each be off by that much, so we allow twice it (k * eps), times 2 for slack.
    An error already in `a` grows at most by |W| (|E| @ |W|); sigmoid is 1/4-Lipschitz,
    relu and identity 1-Lipschitz; softmax moves each output by at most 2 * max|dz|.
    Every activation adds its own rounding (a few ulp of an output <= max(1, |z|)).
    """
    eps = float(np.finfo(network.dtype).eps)
    a = np.asarray(X, dtype=np.float64)
    E = np.zeros_like(a)
    last = len(network.layers) - 1
    for k, (W, b) in enumerate(network.layers):
        W64, b64 = W.astype(np.float64), b.astype(np.float64)
        n = W.shape[0]
        scale = np.abs(a) @ np.abs(W64) + np.abs(b64)
        E = E @ np.abs(W64) + 2 * (n + 1) * eps * scale
        z = a @ W64 + b64
        act = network.output if k == last else network.hidden
        if act == "sigmoid":
            a = 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))
            E = 0.25 * E + 16 * eps
        elif act == "relu":
            a = np.maximum(z, 0.0)
            E = E + 4 * eps * np.abs(a)
        elif act == "identity":
            a = z
        else:  # softmax
            zs = z - z.max(axis=-1, keepdims=True)
            a = np.exp(zs) / np.exp(zs).sum(axis=-1, keepdims=True)
            E = 2 * E.max(axis=-1, keepdims=True) + 4 * (W.shape[1] + 4) * eps * a + 16 * eps * a
            E = np.minimum(E, 1.0) * np.ones_like(a)
    tiny = 1e-300 if network.dtype == np.float64 else 1e-35  # underflow to subnormals / zero
    return E + tiny


def sigint_as_at_a_terminal() -> None:
    """For Popen's preexec_fn: Ctrl-C's default action in the child, as a program started from a
    terminal has it. A test run as a shell's background job inherits SIGINT ignored, and so would
    the loopvec it starts."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
