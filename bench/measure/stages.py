"""`loopvec explain`'s cases: one forward pass taken apart into its stages, per implementation.

A StageCase is (network, batch, implementation). Its entrants are the whole forward pass,
each layer's matrix product, bias add and activation (the output function for the last
layer), and `empty`: the forward pass of an empty batch, i.e. the per-call cost of checks,
conversion and dispatch with no arithmetic. They are timed like every case of `loopvec
run`: validated first (a stage whose output is wrong is never timed), in interleaved
passes, each stage's share of the whole with a 95% interval.

How each implementation is split, and where a split is not real:
- python and numba: product and bias are one loop (each sum starts at the bias), as in
  forward; numba's stage loops are compiled one by one (impls/_numba_stages.py).
- numpy: each stage is the very ufunc call the forward pass makes, bias add included.
- numba-tuned: the fused kernel's pieces run alone: product and bias cannot be split (the
  bias is loaded into the accumulators), and the activation runs on the whole batch
  instead of on each tile while it is in cache.
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


def _whole(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]] | None:
    """forward and empty, the same for every implementation."""
    m = impls.get(case.impl)
    net = network(case.network)
    p = m.prepare(net)
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


def _layer(case: StageCase, entrant: str) -> tuple[int, str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    k, stage = entrant.split("-", 1)
    idx = int(k[1:]) - 1
    return idx, stage, trace(case.network, case.batch)[1][idx]


def _python(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    whole = _whole(case, entrant)
    if whole:
        return whole
    m = impls.get("python")
    idx, stage, (a, z, nxt) = _layer(case, entrant)
    b = network(case.network).layers[idx][1]
    steps = m.stages(m.prepare(network(case.network)), idx)  # forward's own loops, one sample at a time
    one = case.batch == 1  # forward works on the vector itself at batch 1
    if stage == "product":
        dense = steps["product"]
        fn = dense if one else (lambda rows: [dense(row) for row in rows])
        return Setup(fn, ((a[0] if one else a).tolist(),), lambda o: np.atleast_2d(np.asarray(o))), \
            lambda got: _close(got, z + b, entrant + " (with its bias)")
    f = steps["activation"]
    fn = f if one else (lambda rows: [f(row) for row in rows])
    return Setup(fn, ((z + b)[0].tolist() if one else (z + b).tolist(),), lambda o: np.atleast_2d(np.asarray(o))), \
        lambda got: _close(got, nxt, entrant)


def _numpy(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    whole = _whole(case, entrant)
    if whole:
        return whole
    m = impls.get("numpy")
    idx, stage, (a, z, nxt) = _layer(case, entrant)
    steps = m.stages(m.prepare(network(case.network)), idx)  # the very calls forward makes
    sign = steps["sign"]  # -1 where numpy keeps -W and -b (a sigmoid hidden layer)
    b = network(case.network).layers[idx][1]
    x = a[0] if case.batch == 1 else a  # as forward feeds it: a vector at batch 1
    if stage == "product":
        return Setup(steps["product"], (x,), np.asarray), lambda got: _close(np.atleast_2d(got), sign * z, entrant)
    buf = sign * (z if stage == "bias" else z + b)  # the stage's input, as forward hands it on
    buf = buf[0].copy() if case.batch == 1 else buf.copy()
    if stage == "bias":  # in place on its buffer, as forward does
        return Setup(steps["bias"], (buf,), np.asarray), lambda got: _close(np.atleast_2d(got), sign * (z + b), entrant)
    return Setup(steps["activation"], (buf,), np.asarray), lambda got: _close(np.atleast_2d(got), nxt, entrant)


def _numba(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    whole = _whole(case, entrant)
    if whole:
        return whole
    from loopvec.impls import _numba_stages as NS

    idx, stage, (a, z, nxt) = _layer(case, entrant)
    W, b = network(case.network).layers[idx]
    out = np.empty_like(z)
    if stage == "product":
        return Setup(NS.plain_product, (a, np.ascontiguousarray(W.T), b, out), lambda _: out), \
            lambda got: _close(got, z + b, entrant + " (with its bias)")
    kernel = {"sigmoid": NS.plain_sigmoid, "relu": NS.plain_relu, "softmax": NS.plain_softmax,
              "identity": NS.plain_identity}[stage]
    return Setup(kernel, (z + b, out), lambda _: out), lambda got: _close(got, nxt, entrant)


@lru_cache(maxsize=None)
def tuned_prepared(net: str) -> Any:
    """numba-tuned's Prepared network: the packing its forward uses, which explain's stages share."""
    return impls.get("numba-tuned").prepare(network(net))


def _tuned(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    whole = _whole(case, entrant)
    if whole:
        return whole
    from loopvec.impls import _numba_kernels as K
    from loopvec.impls import _numba_stages as NS

    idx, stage, (a, z, nxt) = _layer(case, entrant)
    W, b = network(case.network).layers[idx]
    wp, bp, npad, L = NS.tuned_layer(tuned_prepared(case.network), idx)  # forward's own packing
    n_out = W.shape[1]
    src = np.zeros((a.shape[0], K.padded(a.shape[1], L)))
    src[:, :a.shape[1]] = a  # the previous layer's padded tile, as the fused kernel reads it
    dst = np.zeros((a.shape[0], npad))
    if stage == "product":
        return Setup(NS.tuned_product_bias, (src, W.shape[0], W.shape[1], wp, bp, npad, L, dst), lambda _: dst[:, :n_out]), \
            lambda got: _close(got, z + b, entrant + " (with its bias)")
    dst[:, :n_out] = z + b
    return Setup(NS.tuned_activation, (dst, n_out, K.ACT_CODE[stage]), lambda _: dst[:, :n_out]), \
        lambda got: _close(got, nxt, entrant)


def _torch(case: StageCase, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    whole = _whole(case, entrant)
    if whole:
        return whole
    import torch

    idx, stage, (a, z, nxt) = _layer(case, entrant)
    W, b = (torch.from_numpy(t.copy()) for t in network(case.network).layers[idx])
    x = torch.from_numpy(a[0].copy() if case.batch == 1 else a.copy())
    if stage == "product":
        fn = (lambda: torch.addmv(b, W.t(), x)) if case.batch == 1 else (lambda: torch.addmm(b, x, W))
        return Setup(fn, (), lambda t: t.numpy()), \
            lambda got: _close(np.atleast_2d(got), z + network(case.network).layers[idx][1], entrant + " (with its bias)")
    zb = z + network(case.network).layers[idx][1]
    buf = torch.from_numpy(zb[0].copy() if case.batch == 1 else zb.copy())
    fn = {"sigmoid": lambda: torch.sigmoid_(buf), "relu": lambda: torch.relu_(buf),
          "softmax": lambda: torch.softmax(buf, dim=-1), "identity": lambda: buf}[stage]
    # no inference_mode per call: these tensors need no autograd, and entering the mode costs ~1 µs
    # a call, which forward pays once for all its stages
    return Setup(fn, (), lambda t: t.numpy()), lambda got: _close(np.atleast_2d(got), nxt, entrant)


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
