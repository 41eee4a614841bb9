"""`loopvec explain`'s cases: one forward pass taken apart into its stages, per implementation.

A StageCase is (network, batch, implementation). Its entrants are the whole forward pass,
each layer's matrix product, bias add and activation (the output function for the last
layer), and `empty`: the forward pass of an empty batch, i.e. the per-call cost of checks,
conversion and dispatch with no arithmetic. They are timed like every case of `loopvec
run`: validated first (a stage whose output is wrong is never timed), in interleaved
passes, each stage's share of the whole with a 95% interval.

Each implementation module splits its own forward pass: `stages(p, k)`, next to the code it
mirrors, on the Prepared network its forward reads (one per implementation and network, shared
by the `forward` entrant and the stages). Where a split is not real:
- python and numba: product and bias are one loop (each sum starts at the bias), as in
  forward; numba's stage loops are compiled on their own.
- numpy: each stage is the very ufunc call the forward pass makes, bias add included.
- numba-tuned: the fused kernel's pieces run alone, on forward's packed weights: product and
  bias cannot be split (the bias is loaded into the accumulators), and the activation runs on
  the whole batch, tile after tile, instead of on each tile while it is in cache.
- torch: addmm fuses product and bias, as the forward pass does.
numba-parallel's stages are numba-tuned's split across threads: it is not taken apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from loopvec import impls
from loopvec.bench.measure.workloads import PY_CAP_S, PY_FLOPS_PER_S, Setup
from loopvec.impls.network import Network, init_network, mnist_shaped_network

NETWORKS = ("toy", "mnist")
EXPLAINED = ("python", "numpy", "numba", "numba-tuned", "torch")
FUSED = {"numba-tuned": "product and bias are one step (bias in the accumulators); the activation runs on the "
                        "whole batch here, on each tile in forward",
         "torch": "product and bias are one step (addmm)",
         "numba": "product and bias are one loop (the sum starts at the bias), as in forward",
         "python": "product and bias are one loop (the sum starts at the bias), as in forward"}


@lru_cache(maxsize=None)
def network(name: str) -> Network:
    return init_network() if name == "toy" else mnist_shaped_network(seed=0)


def _act64(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return z.copy()


@lru_cache(maxsize=None)
def trace(net_name: str, batch: int) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Seeded input X (batch, n_in) and, per layer, (its input a, a @ W, the activation's output), float64."""
    net = network(net_name)
    X = np.random.default_rng(batch).standard_normal((batch, net.n_in))
    a, out = X, []
    for k, (W, b) in enumerate(net.layers):
        z = a @ W
        act = net.output if k == len(net.layers) - 1 else net.hidden
        nxt = _act64(act, z + b)
        out.append((a, z, nxt))
        a = nxt
    return X, out


def _close(got: Any, want: np.ndarray, what: str) -> str | None:
    g = np.asarray(got, dtype=np.float64)
    if g.shape != want.shape:
        return f"{what}: shape {g.shape}, expected {want.shape}"
    if not np.allclose(g, want, rtol=1e-9, atol=1e-12):
        return f"{what}: max |difference| {float(np.max(np.abs(g - want))):.3g} from numpy in float64"
    return None


@dataclass(frozen=True)
class StageCase:
    network: str
    batch: int
    impl: str

    @property
    def id(self) -> str:
        return f"explain-{self.network}-b{self.batch:04d}-{self.impl}"

    def layers(self) -> list[tuple[int, str]]:
        net = network(self.network)
        n = len(net.layers)
        return [(k + 1, net.output if k == n - 1 else net.hidden) for k in range(n)]

    def entrants(self) -> list[str]:
        out = ["forward", "empty"]
        for k, act in self.layers():
            out += [f"l{k}-product"] + ([f"l{k}-bias"] if self.impl == "numpy" else [])
            out.append(f"l{k}-{act}")
        return out

    def ratio_pairs(self, entrants: list[str]) -> list[tuple[str, str]]:
        return [(e, "forward") for e in entrants if e != "forward" and "forward" in entrants]

    def skip_reason(self, entrant: str) -> str | None:
        est = network(self.network).flops(self.batch) / PY_FLOPS_PER_S
        if self.impl == "python" and est > PY_CAP_S:
            return f"capped: pure Python would take ~{est:.0f} s per call (cap {PY_CAP_S:g} s)"
        return None

    def info(self) -> dict[str, Any]:
        return {"case": self.id, "workload": f"explain-{self.network}", "kind": "stage", "size": self.batch,
                "unit": "batch", "dtype": "float64", "network": self.network, "explained": self.impl,
                "flops": network(self.network).flops(self.batch), "fused": FUSED.get(self.impl, "")}

    def setup(self, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
        return _SETUPS[self.impl](self, entrant)


@lru_cache(maxsize=None)
def prepared(impl: str, net: str) -> Any:
    """impl's Prepared network: the one its forward entrant runs and its stages read."""
    return impls.get(impl).prepare(network(net))


def _whole(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]] | None:
    """forward and empty, the same for every implementation."""
    m = impls.get(case.impl)
    net = network(case.network)
    p = prepared(case.impl, case.network)
    X, tr = trace(case.network, case.batch)
    if entrant == "forward":
        x = X[0] if case.batch == 1 else X
        want = tr[-1][2][0] if case.batch == 1 else tr[-1][2]
        return Setup(m.forward, (p, m.from_numpy(x)), m.to_numpy), lambda got: _close(got, want, "forward")
    if entrant == "empty":
        empty = m.from_numpy(np.zeros((0, net.n_in)))
        return Setup(m.forward, (p, empty), m.to_numpy), \
            lambda got: None if np.asarray(got).size == 0 else "an empty batch gave a non-empty answer"
    return None


def _layer(case: StageCase, entrant: str) -> tuple[int, str, dict[str, Any], tuple[np.ndarray, ...]]:
    """Layer index, stage name, the implementation's stages of that layer, and (its input a,
    a @ W, the activation's output, a @ W + b) from the float64 trace."""
    k, stage = entrant.split("-", 1)
    idx = int(k[1:]) - 1
    a, z, nxt = trace(case.network, case.batch)[1][idx]
    steps = impls.get(case.impl).stages(prepared(case.impl, case.network), idx)
    return idx, stage, steps, (a, z, nxt, z + network(case.network).layers[idx][1])


def _python(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    whole = _whole(case, entrant)
    if whole:
        return whole
    idx, stage, steps, (a, z, nxt, zb) = _layer(case, entrant)  # forward's own loops, one sample at a time
    one = case.batch == 1  # forward works on the vector itself at batch 1
    f = steps[stage if stage == "product" else "activation"]
    fn = f if one else (lambda rows: [f(row) for row in rows])
    arg, want, what = (a, zb, entrant + " (with its bias)") if stage == "product" else (zb, nxt, entrant)
    return Setup(fn, ((arg[0] if one else arg).tolist(),), lambda o: np.atleast_2d(np.asarray(o))), \
        lambda got: _close(got, want, what)


def _numpy(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    whole = _whole(case, entrant)
    if whole:
        return whole
    idx, stage, steps, (a, z, nxt, zb) = _layer(case, entrant)  # the very calls forward makes
    sign = steps["sign"]  # -1 where numpy keeps -W and -b (a sigmoid hidden layer)
    x = a[0] if case.batch == 1 else a  # as forward feeds it: a vector at batch 1
    if stage == "product":
        return Setup(steps["product"], (x,), np.asarray), lambda got: _close(np.atleast_2d(got), sign * z, entrant)
    buf = sign * (z if stage == "bias" else zb)  # the stage's input, as forward hands it on
    buf = buf[0].copy() if case.batch == 1 else buf.copy()
    if stage == "bias":  # in place on its buffer, as forward does
        return Setup(steps["bias"], (buf,), np.asarray), lambda got: _close(np.atleast_2d(got), sign * zb, entrant)
    return Setup(steps["activation"], (buf,), np.asarray), lambda got: _close(np.atleast_2d(got), nxt, entrant)


def _numba(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    whole = _whole(case, entrant)
    if whole:
        return whole
    idx, stage, steps, (a, z, nxt, zb) = _layer(case, entrant)
    out = np.empty_like(z)  # preallocated: the stage times its loop, not an allocation
    if stage == "product":
        return Setup(steps["product"], (a, out), np.asarray), \
            lambda got: _close(got, zb, entrant + " (with its bias)")
    return Setup(steps["activation"], (zb, out), np.asarray), lambda got: _close(got, nxt, entrant)


def _tuned(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    whole = _whole(case, entrant)
    if whole:
        return whole
    idx, stage, steps, (a, z, nxt, zb) = _layer(case, entrant)  # on forward's own packed weights
    n_out = z.shape[1]
    src = a
    if idx > 0:  # the previous layer's padded rows, as forward_tile hands them on
        m = impls.get("numba-tuned")
        src = np.zeros((a.shape[0], m.stages(prepared(case.impl, case.network), idx - 1)["width"]))
        src[:, :a.shape[1]] = a
    dst = np.zeros((a.shape[0], steps["width"]))  # (batch, padded n_out)
    if stage == "product":
        return Setup(steps["product"], (src, dst), lambda o: o[:, :n_out]), \
            lambda got: _close(got, zb, entrant + " (with its bias)")
    dst[:, :n_out] = zb
    return Setup(steps["activation"], (dst,), lambda o: o[:, :n_out]), lambda got: _close(got, nxt, entrant)


def _torch(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    whole = _whole(case, entrant)
    if whole:
        return whole
    m = impls.get("torch")
    idx, stage, steps, (a, z, nxt, zb) = _layer(case, entrant)
    # no inference_mode per call: these tensors need no autograd, and entering the mode costs ~1 µs
    # a call, which forward pays once for all its stages
    arg, want, what = (a, zb, entrant + " (with its bias)") if stage == "product" else (zb, nxt, entrant)
    x = m.from_numpy(arg[0].copy() if case.batch == 1 else arg.copy())
    return Setup(steps[stage if stage == "product" else "activation"], (x,), m.to_numpy), \
        lambda got: _close(np.atleast_2d(got), want, what)


_SETUPS: dict[str, Callable[[StageCase, str], tuple[Setup, Callable[[Any], str | None]]]] = {
    "python": _python, "numpy": _numpy, "numba": _numba, "numba-tuned": _tuned, "torch": _torch,
}


def select(net_name: str, batches: list[int], impl_names: list[str]) -> list[tuple[StageCase, list[str]]]:
    out = []
    for batch in batches:
        for name in impl_names:
            if name in _SETUPS:
                case = StageCase(net_name, batch, name)
                out.append((case, case.entrants()))
    return out
