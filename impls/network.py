"""The network model of chapter 3: layers [(W, b), ...] plus two activations.

A `Network` is plain NumPy data; each implementation turns it into its own form
once with `impl.prepare(network)` (not timed) and runs `impl.forward(prepared, x)`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from loopvec.impls._common import HIDDEN, OUTPUT, InputError, shape_str

DTYPES = (np.float64, np.float32)
MNIST_SIZES = (784, 50, 100, 10)
# The book's toy example: init_network() on x = [1.0, 0.5] prints [0.31682708 0.69627909].
BOOK_X = (1.0, 0.5)
BOOK_Y = (0.31682708, 0.69627909)


@dataclass(frozen=True)
class Network:
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    hidden: str = "sigmoid"
    output: str = "identity"

    def __post_init__(self) -> None:
        if not self.layers:
            raise InputError("network: expected at least one layer (W, b)")
        if self.hidden not in HIDDEN:
            raise InputError(f"network: hidden activation {self.hidden!r} unknown; expected one of {HIDDEN}")
        if self.output not in OUTPUT:
            raise InputError(f"network: output activation {self.output!r} unknown; expected one of {OUTPUT}")
        dtype = self.layers[0][0].dtype
        if dtype not in DTYPES:
            raise InputError(f"network: weights must be float64 or float32, got {dtype}")
        for k, (W, b) in enumerate(self.layers, start=1):
            if W.ndim != 2 or b.ndim != 1 or W.shape[1] != b.shape[0]:
                raise InputError(
                    f"network: layer {k} has W{k} {shape_str(W.shape)} and b{k} {shape_str(b.shape)}; "
                    f"expected W{k} (n_in, n_out) and b{k} (n_out,)"
                )
            if W.dtype != dtype or b.dtype != dtype:
                raise InputError(f"network: layer {k} mixes dtypes {W.dtype}/{b.dtype}; expected all {dtype}")
        for k in range(1, len(self.layers)):
            W_prev, W = self.layers[k - 1][0], self.layers[k][0]
            if W_prev.shape[1] != W.shape[0]:
                raise InputError(
                    f"network: layers do not chain: W{k} has {W_prev.shape[1]} columns "
                    f"{shape_str(W_prev.shape)} but W{k + 1} has {W.shape[0]} rows {shape_str(W.shape)}"
                )

    @property
    def dtype(self) -> np.dtype:
        return self.layers[0][0].dtype

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.layers[0][0].shape[0],) + tuple(W.shape[1] for W, _ in self.layers)

    @property
    def n_in(self) -> int:
        return self.sizes[0]

    @property
    def n_out(self) -> int:
        return self.sizes[-1]

    def flops(self, batch: int = 1) -> int:
        """Floating-point operations of one forward pass: 2 per multiply-add of each x @ W."""
        return 2 * batch * sum(W.shape[0] * W.shape[1] for W, _ in self.layers)

    def astype(self, dtype: type | np.dtype) -> "Network":
        dt = np.dtype(dtype)
        layers = tuple((W.astype(dt), b.astype(dt)) for W, b in self.layers)
        return Network(layers, self.hidden, self.output)


def make_network(
    layers: list[tuple[object, object]] | tuple[tuple[object, object], ...],
    hidden: str = "sigmoid",
    output: str = "identity",
    dtype: type | np.dtype = np.float64,
) -> Network:
    """A Network from anything array-like, copied into contiguous arrays of `dtype`."""
    dt = np.dtype(dtype)
    conv = tuple(
        (np.ascontiguousarray(np.array(W, dtype=dt)), np.ascontiguousarray(np.array(b, dtype=dt)))
        for W, b in layers
    )
    return Network(conv, hidden, output)


def init_network(dtype: type | np.dtype = np.float64) -> Network:
    """The book's 2-3-2-2 toy network with fixed weights (sigmoid hidden, identity output)."""
    return make_network(
        [
            ([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]], [0.1, 0.2, 0.3]),
            ([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]], [0.1, 0.2]),
            ([[0.1, 0.3], [0.2, 0.4]], [0.1, 0.2]),
        ],
        hidden="sigmoid",
        output="identity",
        dtype=dtype,
    )


def random_network(
    sizes: tuple[int, ...] | list[int],
    *,
    seed: int = 0,
    hidden: str = "sigmoid",
    output: str = "softmax",
    dtype: type | np.dtype = np.float64,
) -> Network:
    """A seeded random network; weights ~ N(0, 1/n_in) so activations stay in a useful range."""
    if len(sizes) < 2 or any(int(n) < 1 for n in sizes):
        raise InputError(f"network: expected at least two layer sizes >= 1, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        b = rng.standard_normal(n_out) * 0.1
        layers.append((W, b))
    return make_network(layers, hidden=hidden, output=output, dtype=dtype)


def mnist_shaped_network(seed: int = 0, dtype: type | np.dtype = np.float64) -> Network:
    """784-50-100-10 with random weights: sigmoid hidden, softmax output, as the book's MNIST net."""
    return random_network(MNIST_SIZES, seed=seed, hidden="sigmoid", output="softmax", dtype=dtype)


def from_dict(
    params: Mapping[str, object],
    hidden: str = "sigmoid",
    output: str = "softmax",
    dtype: type | np.dtype | None = None,
) -> Network:
    """The book's dict form {'W1': .., 'b1': .., 'W2': ..} to a Network (dtype kept unless given)."""
    n = 0
    while f"W{n + 1}" in params:
        n += 1
    if n == 0:
        raise InputError(f"network: no 'W1' in the weights; found keys {sorted(params)}")
    missing = [f"b{k}" for k in range(1, n + 1) if f"b{k}" not in params]
    if missing:
        raise InputError(f"network: weights have W1..W{n} but miss {', '.join(missing)}")
    raw = [(np.asarray(params[f"W{k}"]), np.asarray(params[f"b{k}"])) for k in range(1, n + 1)]
    if dtype is None:
        dtype = raw[0][0].dtype if raw[0][0].dtype in DTYPES else np.float64
    return make_network(raw, hidden=hidden, output=output, dtype=dtype)


def to_dict(network: Network) -> dict[str, np.ndarray]:
    """A Network to the book's dict form {'W1': .., 'b1': .., ...}."""
    out: dict[str, np.ndarray] = {}
    for k, (W, b) in enumerate(network.layers, start=1):
        out[f"W{k}"] = W
        out[f"b{k}"] = b
    return out
