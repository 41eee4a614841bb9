"""The benchmark workloads: what each case computes, its inputs, its reference answer.

A case is a `Workload`: a typed value (kind, name, size, dtype, network). Its
`entrants` are what is timed side by side in it: the implementations that support
it and, for the MNIST-shaped float64 forward pass, the yardstick "numpy-matmuls"
(numpy's three matrix products alone, right after numpy). `setup(case, entrant)`
returns the function to time and its arguments, already in the implementation's
native form (lists for pure Python), converted here, outside any timer.
"""
from __future__ import annotations

import fnmatch
import zlib
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from loopvec import impls
from loopvec.bench.core import YARDSTICK
from loopvec.impls.impl_numpy import in_steps
from loopvec.impls._common import TOLERANCE
from loopvec.impls.network import Network, init_network, mnist_shaped_network

ACTIVATIONS = ("step", "sigmoid", "relu", "softmax")

# Pure Python runs the forward pass and dot at about 33 MFLOP/s on a 2-core Xeon
# (measured); a case whose one call would take longer than PY_CAP_S is skipped.
PY_FLOPS_PER_S = 33e6
PY_NS_PER_ELEMENT = 250.0  # the slowest activation (softmax), per element
PY_CAP_S = 3.0
# The quick profile caps pure Python at 1 s a call: every worker process validates and times it
# (forward-mnist-b1000 alone would be 9 calls of 2.5 s); the full profile keeps it to 3 s.
PY_CAP_S_QUICK = 1.0
BATCHEXP_BATCH = 100

UNIT = {"activation": "elements", "dot": "n", "forward": "batch", "batches": "samples"}
PREFIX = {"activation": "n", "dot": "n", "forward": "b", "batches": "n"}

PROFILES: dict[str, dict[str, tuple[int, ...]]] = {
    "quick": {
        "activation": (10, 1_000, 100_000),
        "dot": (2, 16, 128),
        "forward-toy": (1, 100),
        "forward-mnist": (1, 100, 1_000),
        "forward-mnist-f32": (1, 100, 1_000),
        "batchexp": (2_000,),  # the book's 10,000 (full) one at a time took 25 s of a 165 s quick run
        "mnist-real": (1, 100),
    },
    "full": {
        "activation": (10, 100, 1_000, 10_000, 100_000, 1_000_000),
        "dot": (2, 4, 8, 16, 32, 64, 128, 256, 512),
        "forward-toy": (1, 10, 100, 1_000),
        "forward-mnist": (1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000),
        "forward-mnist-f32": (1, 10, 100, 1_000, 10_000),
        "batchexp": (10_000,),
        "mnist-real": (1, 100),
    },
}


@dataclass(frozen=True)
class Workload:
    kind: str  # "activation", "dot", "forward", "batches" (many forward calls, the book's loop)
    name: str  # the family shown in tables: "sigmoid", "dot", "forward-mnist", "batchexp-b0100", ...
    size: int  # elements (activation), n (dot), batch (forward), samples (batches)
    dtype: str = "float64"
    network: str | None = None  # "toy", "mnist-shaped", "mnist-real" for forward and batches
    per_call: int = 0  # batches: samples per forward call (1: one at a time)
    py_cap_s: float = PY_CAP_S  # pure Python is skipped where one call would take longer

    @property
    def id(self) -> str:
        return f"{self.name}-{PREFIX[self.kind]}{self.size:04d}"

    @property
    def unit(self) -> str:
        return UNIT[self.kind]

    @property
    def has_yardstick(self) -> bool:
        return self.kind == "forward" and self.network == "mnist-shaped" and self.dtype == "float64"

    @property
    def flops(self) -> int | None:
        if self.kind == "dot":
            return 2 * self.size**3
        if self.network is not None:
            return network_of(self).flops(self.size)
        return None  # activations: no multiply-adds to count

    def python_estimate_s(self) -> float:
        flops = self.flops
        return flops / PY_FLOPS_PER_S if flops is not None else self.size * PY_NS_PER_ELEMENT * 1e-9

    def supports(self, impl_name: str) -> bool:
        if self.network == "mnist-real":  # the book's float32 weights; pure Python computes them in float64
            return True
        return self.dtype in impls.get(impl_name).DTYPES

    def entrants(self, impl_names: list[str]) -> list[str]:
        names = [n for n in impl_names if self.supports(n)]
        if self.has_yardstick and "numpy" in names:
            names.insert(names.index("numpy") + 1, YARDSTICK)
        return names

    def ratio_pairs(self, entrants: list[str]) -> list[tuple[str, str]]:
        """(numerator, denominator) of every ratio shown: each entrant's speedup over pure Python,
        each against numpy, and numpy's forward over its three products."""
        pairs = [("python", e) for e in entrants if e != "python" and "python" in entrants]
        pairs += [("numpy", e) for e in entrants if e not in ("python", "numpy", YARDSTICK) and "numpy" in entrants]
        if YARDSTICK in entrants and "numpy" in entrants:
            pairs.append(("numpy", YARDSTICK))
        return pairs

    def setup(self, entrant: str) -> "tuple[Setup, Callable[[Any], str | None]]":
        return setup(self, entrant)

    def skip_reason(self, entrant: str) -> str | None:
        return skip_reason(self, entrant)

    def info(self) -> dict[str, Any]:
        """What a results file records about the case (extra_info)."""
        return {"case": self.id, "workload": self.name, "kind": self.kind, "size": self.size, "unit": self.unit,
                "dtype": self.dtype, "network": self.network, "flops": self.flops}


def cases(profile: str = "quick") -> list[Workload]:
    """Every case of a profile, in table order."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    p = PROFILES[profile]
    cap = PY_CAP_S_QUICK if profile == "quick" else PY_CAP_S
    out = [Workload("activation", act, n) for act in ACTIVATIONS for n in p["activation"]]
    out += [Workload("dot", "dot", n) for n in p["dot"]]
    out += [Workload("forward", "forward-toy", b, network="toy") for b in p["forward-toy"]]
    out += [Workload("forward", "forward-mnist", b, network="mnist-shaped") for b in p["forward-mnist"]]
    out += [Workload("forward", "forward-mnist-f32", b, "float32", "mnist-shaped") for b in p["forward-mnist-f32"]]
    for n in p["batchexp"]:
        out += [Workload("batches", "batchexp-one", n, network="mnist-shaped", per_call=1),
                Workload("batches", f"batchexp-b{BATCHEXP_BATCH:04d}", n, network="mnist-shaped",
                         per_call=BATCHEXP_BATCH)]
    out += [Workload("forward", "mnist-real", b, "float32", "mnist-real") for b in p["mnist-real"]]
    return [replace(w, py_cap_s=cap) for w in out]


def matches(test_id: str, patterns: list[str]) -> bool:
    """Whether a 'case-entrant' id contains one of `patterns` (or matches it as a glob)."""
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(test_id, p) if any(ch in p for ch in "*?[") else p in test_id
               for p in patterns)


def select(profile: str, impl_names: list[str], only: list[str] | None = None) -> list[tuple[Workload, list[str]]]:
    """(case, its entrants) to run: entrants whose id 'case-entrant' matches `only`."""
    out = []
    for case in cases(profile):
        chosen = [e for e in case.entrants(impl_names) if matches(f"{case.id}-{e}", only or [])]
        if chosen:
            out.append((case, chosen))
    return out


# ---- inputs, seeded per case so every implementation sees the same numbers ----

def _rng(case: Workload) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{case.name}:{case.size}:{case.dtype}".encode()))


@lru_cache(maxsize=None)
def _network(network: str, dtype: str) -> Network:
    if network == "toy":
        return init_network()
    if network == "mnist-real":
        from loopvec.bench.data.mnist import load_real  # raises DataError when the data is absent

        return load_real()[0]
    return mnist_shaped_network(seed=0, dtype=np.dtype(dtype))


def network_of(case: Workload) -> Network:
    assert case.network is not None, case
    return _network(case.network, case.dtype)


@lru_cache(maxsize=None)
def inputs(case: Workload) -> tuple[np.ndarray, ...]:
    """NumPy inputs of a case (cached: every implementation reuses them)."""
    rng = _rng(case)
    dt = np.dtype(case.dtype)
    if case.kind == "activation":
        return ((rng.standard_normal(case.size) * 5).astype(dt),)
    if case.kind == "dot":
        return (rng.standard_normal((case.size, case.size)).astype(dt),
                rng.standard_normal((case.size, case.size)).astype(dt))
    net = network_of(case)
    if case.network == "mnist-real":
        from loopvec.bench.data.mnist import load_real

        X = load_real()[1][: case.size]
    else:
        # Standard-normal inputs: with pixel-like inputs in [0, 1) a random network
        # predicts one class for everything and the argmax check could not fail.
        X = rng.standard_normal((case.size, net.n_in)).astype(dt)
    if case.kind == "forward" and case.size == 1:
        X = X[0]  # batch 1 is one sample, a 1-D vector, as the book feeds it
    return (X,)


@lru_cache(maxsize=None)
def reference(case: Workload) -> np.ndarray:
    """The numpy implementation's answer, in float64."""
    ref = impls.get("numpy")
    args = inputs(case)
    if case.kind == "activation":
        out = getattr(ref, case.name)(*args)
    elif case.kind == "dot":
        out = ref.dot(*args)
    else:
        out = ref.forward(ref.prepare(network_of(case)), args[0])
    return np.asarray(out, dtype=np.float64)


def check(case: Workload, got: Any) -> str | None:
    """None if `got` (as NumPy) matches the reference, else what is wrong."""
    ref = reference(case)
    out = np.asarray(got, dtype=np.float64)
    if out.shape != ref.shape:
        return f"shape {out.shape}, expected {ref.shape}"
    if case.name == "step":
        bad = int(np.sum(out != ref))
        return None if bad == 0 else f"{bad} of {ref.size} values differ (step must agree exactly)"
    rtol, atol = TOLERANCE["result"][case.dtype]
    if case.kind == "dot":
        A, B = inputs(case)
        # a length-n dot product is accurate to n * eps * (|a| . |b|)
        atol = atol + 4 * case.size * np.finfo(np.dtype(case.dtype)).eps * float(np.max(np.abs(A) @ np.abs(B)))
    if not np.allclose(out, ref, rtol=rtol, atol=atol, equal_nan=True):
        worst = float(np.max(np.abs(out - ref)))
        return f"max |difference| from numpy {worst:.3g} exceeds rtol={rtol:g}, atol={atol:.3g}"
    if case.network in ("mnist-shaped", "mnist-real") and ref.shape[-1] > 1:
        bad = int(np.sum(out.argmax(-1) != ref.argmax(-1)))
        if bad:
            return f"{bad} predictions (argmax) differ from numpy"
    return None


# ---- what is timed ----

@dataclass
class Setup:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    to_numpy: Callable[[Any], np.ndarray]  # the timed function's result as one NumPy array


def _forward_each(forward: Callable[..., Any], prepared: Any, xs: list[Any]) -> list[Any]:
    # the book's loop: one forward call per sample (or per batch)
    return [forward(prepared, x) for x in xs]


def _three_matmuls(X: np.ndarray, W1: np.ndarray, W2: np.ndarray, W3: np.ndarray) -> np.ndarray:
    # the forward pass's matrix products alone: numpy's forward without bias and
    # activations, in the same steps of samples (impl_numpy.CHUNK)
    return in_steps(lambda x: ((x @ W1) @ W2) @ W3, X)


def setup(case: Workload, entrant: str) -> tuple[Setup, Callable[[Any], str | None]]:
    """What to time for one entrant of a case, and the check of its answer."""
    args = inputs(case)
    if entrant == YARDSTICK:
        Ws = [W for W, _ in network_of(case).layers]
        want = np.linalg.multi_dot([np.atleast_2d(args[0]), *Ws])  # computed independently

        def check_matmuls(got: Any) -> str | None:
            ok = np.allclose(np.atleast_2d(got), want, rtol=1e-9, atol=1e-9)
            return None if ok else "the three products differ from np.linalg.multi_dot"

        return Setup(_three_matmuls, (args[0], *Ws), np.asarray), check_matmuls
    impl = impls.get(entrant)
    to_np = impl.to_numpy
    checker: Callable[[Any], str | None] = lambda got: check(case, got)  # noqa: E731
    if case.kind == "activation":
        return Setup(getattr(impl, case.name), (impl.from_numpy(args[0]),), to_np), checker
    if case.kind == "dot":
        return Setup(impl.dot, tuple(impl.from_numpy(a) for a in args), to_np), checker
    prepared = impl.prepare(network_of(case))
    X = args[0]
    if case.kind == "batches":
        bs = case.per_call
        xs = [impl.from_numpy(X[i] if bs == 1 else X[i:i + bs]) for i in range(0, X.shape[0], bs)]
        joined = (lambda outs: np.stack([np.asarray(to_np(o), dtype=np.float64) for o in outs])) if bs == 1 else \
            (lambda outs: np.concatenate([np.asarray(to_np(o), dtype=np.float64) for o in outs]))
        return Setup(_forward_each, (impl.forward, prepared, xs), joined), checker
    return Setup(impl.forward, (prepared, impl.from_numpy(X)), to_np), checker


def skip_reason(case: Workload, entrant: str) -> str | None:
    """Why an entrant of a case is not timed here (one line), or None."""
    if case.network == "mnist-real":
        from loopvec.bench.data.mnist import real_mnist_missing

        reason = real_mnist_missing()
        if reason:
            return reason
    if entrant == "python" and case.python_estimate_s() > case.py_cap_s:
        return (f"capped: pure Python would take ~{case.python_estimate_s():.1f} s per call "
                f"(cap {case.py_cap_s:g} s)")
    return None
