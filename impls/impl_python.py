"""Pure Python: lists (and lists of lists), nested for loops, math.exp.

The reference the book means by "without np.dot you must write for-loops".
Nothing here touches NumPy except from_numpy/to_numpy, which run outside any
timed region. Values are Python floats; there is no float32 here.

One documented difference from the array implementations: a list cannot carry the
width of an empty dimension. An empty batch gives [] (not shape (0, n_out)), and in
dot of a (k, 0) and a (0, m) array the second is the empty list [], which reads as a
vector of length 0: the result is k zeros, shape (k,), not (k, m) zeros.
NumPy arrays of a non-numeric dtype (object, str) are refused with InputError,
as the other implementations do.
"""
from __future__ import annotations

from math import exp
from typing import Any, Callable, Sequence

from loopvec.impls._common import InputError, check_dot_shapes, check_forward_input
from loopvec.impls.network import Network

NAME = "python"
DTYPES = ("float64",)

Vector = list[float]


def from_numpy(a: Any) -> Any:
    return a.tolist()


def to_numpy(x: Any) -> Any:
    import numpy as np

    return np.asarray(x)


# --- input checks (cheap: lengths and the type of the first element only) ---

def _native(x: Any) -> Any:
    # Accept NumPy arrays too, converting once; never loop over NumPy scalars.
    if hasattr(x, "tolist") and not isinstance(x, (list, tuple)):
        kind = getattr(getattr(x, "dtype", None), "kind", "f")
        if kind not in "biuf":
            raise InputError(f"expected numeric values (int or float), got an array of dtype {x.dtype}")
        return x.tolist()
    return x


def _is_seq(v: Any) -> bool:
    return isinstance(v, (list, tuple))


def _shape(x: Any, what: str = "x") -> tuple[int, ...]:
    """Shape of a vector (list of numbers) or batch (list of equal-length lists)."""
    if not _is_seq(x):
        raise InputError(f"{what}: expected a 1-D vector or a 2-D batch (list), got {type(x).__name__}")
    if len(x) == 0 or not _is_seq(x[0]):
        return (len(x),)
    n = len(x[0])
    for row in x:
        if not _is_seq(row) or len(row) != n:
            raise InputError(f"{what}: rows of a batch must all be lists of length {n}")
    if n and _is_seq(x[0][0]):
        raise InputError(f"{what}: expected a 1-D vector or a 2-D batch, got a 3-D (or deeper) nested list")
    return (len(x), n)


def _numeric(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the TypeError of arithmetic on a non-number into the common InputError."""

    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except TypeError as exc:
            raise InputError(f"{fn.__name__}: expected numeric values (int or float): {exc}") from None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


def _elementwise(f1: Callable[[Vector], Vector]) -> Callable[[Any], Any]:
    """Apply a vector function to a vector, or to each row of a batch."""

    def apply(x: Any) -> Any:
        x = _native(x)
        if len(_shape(x)) == 1:
            return f1(x)
        return [f1(row) for row in x]

    apply.__name__ = f1.__name__.lstrip("_")
    return _numeric(apply)


# --- activations on one vector ---

def _step(x: Vector) -> list[int]:
    out = []
    for v in x:
        out.append(1 if v > 0 else 0)
    return out


def _sigmoid(x: Vector) -> Vector:
    out = []
    for v in x:
        # exp(1000) raises OverflowError, so only ever exponentiate -|v|.
        if v >= 0.0:
            out.append(1.0 / (1.0 + exp(-v)))
        else:
            e = exp(v)
            out.append(e / (1.0 + e))
    return out


def _relu(x: Vector) -> Vector:
    out = []
    for v in x:
        out.append(0.0 if v <= 0.0 else v + 0.0)  # NaN <= 0 is False: NaN passes through
    return out


def _identity(x: Vector) -> Vector:
    out = []
    for v in x:
        out.append(v + 0.0)  # a float copy; raises TypeError for non-numbers
    return out


def _softmax(x: Vector) -> Vector:
    m = x[0] if x else 0.0
    for v in x:
        if v > m:
            m = v
    exps = []
    total = 0.0
    for v in x:
        e = exp(v - m)  # v - m <= 0: no overflow
        exps.append(e)
        total += e
    out = []
    for e in exps:
        out.append(e / total)
    return out


step = _elementwise(_step)
sigmoid = _elementwise(_sigmoid)
relu = _elementwise(_relu)
identity = _elementwise(_identity)
softmax = _elementwise(_softmax)


# --- dot ---

def _row_times_cols(row: Sequence[float], cols: Sequence[Sequence[float]]) -> Vector:
    # (n,) @ (n, m) with b given as its m columns -> (m,)
    out = []
    for col in cols:
        s = 0  # 0 + float is a float; integers stay integers, as in np.dot
        for a, w in zip(row, col):
            s += a * w
        out.append(s)
    return out


@_numeric
def dot(a: Any, b: Any) -> Any:
    a, b = _native(a), _native(b)
    sa, sb = _shape(a, "a"), _shape(b, "b")
    if sa == (0,) and len(sb) == 2 and sb[0] != 0:
        return []  # an empty batch (0, n) @ (n, m) -> (0, m); [] carries no width
    check_dot_shapes(sa, sb)
    if len(sb) == 1:
        # (m, n) @ (n,) -> (m,)   or   (n,) @ (n,) -> scalar
        rows = a if len(sa) == 2 else [a]
        out = _row_times_cols(b, rows)
        return out if len(sa) == 2 else out[0]
    cols = [list(c) for c in zip(*b)] if sb[0] else [[] for _ in range(sb[1])]  # transpose once
    if len(sa) == 1:
        return _row_times_cols(a, cols)  # (n,) @ (n, m) -> (m,)
    return [_row_times_cols(row, cols) for row in a]  # (k, n) @ (n, m) -> (k, m)


# --- network ---

ACTIVATIONS: dict[str, Callable[[Vector], Vector]] = {
    "sigmoid": _sigmoid,
    "relu": _relu,
    "identity": lambda v: v,
    "softmax": _softmax,
}


class Prepared:
    """Each layer's W stored as its columns (what the inner loop reads), b as a list."""

    __slots__ = ("layers", "hidden", "output", "n_in", "n_out")

    def __init__(self, network: Network) -> None:
        self.layers = tuple((W.T.tolist(), b.tolist()) for W, b in network.layers)
        self.hidden = ACTIVATIONS[network.hidden]
        self.output = ACTIVATIONS[network.output]
        self.n_in = network.n_in
        self.n_out = network.n_out


def prepare(network: Network) -> Prepared:
    return Prepared(network)


def dense(cols: list[Vector], b: Vector, a: Vector) -> Vector:
    """z = a @ W + b for one sample, W given as its columns: the sum of each output starts at its bias."""
    z = []
    for col, bj in zip(cols, b):  # one output neuron per column of W
        s = bj
        for ai, wij in zip(a, col):
            s += ai * wij
        z.append(s)
    return z


def stages(p: Prepared, k: int) -> dict[str, Callable[[Vector], Vector]]:
    """Layer k of the forward pass as the steps it runs, for one sample (what `loopvec explain`
    times): "product" (bias included: the sums start at it) and "activation"."""
    cols, b = p.layers[k]
    return {"product": lambda a: dense(cols, b, a),
            "activation": p.output if k == len(p.layers) - 1 else p.hidden}


def _forward_one(p: Prepared, x: Vector) -> Vector:
    a = x
    last = len(p.layers) - 1
    for k, (cols, b) in enumerate(p.layers):
        z = dense(cols, b, a)  # (n_in,) @ (n_in, n_out) + (n_out,) -> (n_out,)
        a = p.output(z) if k == last else p.hidden(z)
    return a


@_numeric
def forward(p: Prepared, x: Any) -> Any:
    x = _native(x)
    shape = _shape(x)
    if len(shape) == 1:
        if shape[0] == 0 and p.n_in != 0:
            return []  # an empty batch (0, n_in) -> (0, n_out); [] carries no width
        check_forward_input(shape, p.n_in)
        return _forward_one(p, x)
    check_forward_input(shape, p.n_in)
    return [_forward_one(p, row) for row in x]
