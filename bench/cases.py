"""The benchmark workloads: what each case computes, its inputs, its reference answer.

A case is one workload at one size and dtype; `setup(case, impl)` returns the
function to time, its arguments (already in the implementation's native form:
lists for pure Python, converted here, outside any timer) and a check of the answer.
"""
from __future__ import annotations

import fnmatch
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType
from typing import Any, Callable

import numpy as np

import impls
from impls.network import Network, init_network, mnist_shaped_network

ACTIVATIONS = ("step", "sigmoid", "relu", "softmax")

# Pure Python runs the forward pass and dot at about 33 MFLOP/s on a 2-core Xeon
# (measured); a case whose one call would take longer than CAP_S is skipped.
PY_FLOPS_PER_S = 33e6
PY_NS_PER_ELEMENT = 250.0  # the slowest activation (softmax), per element
PY_CAP_S = 3.0

PROFILES: dict[str, dict[str, tuple[int, ...]]] = {
    "quick": {
        "activation": (10, 1_000, 100_000),
        "dot": (2, 16, 128),
        "forward-toy": (1, 100),
        "forward-mnist": (1, 100, 1_000),
        "forward-mnist-f32": (1, 100, 1_000),
        "batchexp": (10_000,),
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
BATCHEXP_BATCH = 100
# numpy's three matrix products alone, timed as an extra column of the forward-mnist cases:
# the yardstick for what bias and activations add to numpy's forward.
YARDSTICK = "numpy-matmuls"


@dataclass(frozen=True)
class Case:
    workload: str  # e.g. "sigmoid", "dot", "forward-mnist", "batchexp-b0100"
    size: int  # elements (activations), n (dot), batch (forward), samples (batchexp)
    dtype: str = "float64"
    unit: str = field(default="batch", compare=False)

    @property
    def id(self) -> str:
        prefix = {"elements": "n", "n": "n", "batch": "b", "samples": "n"}[self.unit]
        return f"{self.workload}-{prefix}{self.size:04d}"

    @property
    def flops(self) -> int | None:
        if self.workload == "dot":
            return 2 * self.size**3
        if self.workload.startswith(("forward", "batchexp", "mnist-real")):
            return _network(self.workload, self.dtype).flops(self.size)
        return None  # activations: no multiply-adds to count

    def python_estimate_s(self) -> float:
        if self.flops is not None:
            return self.flops / PY_FLOPS_PER_S
        return self.size * PY_NS_PER_ELEMENT * 1e-9


def cases(profile: str = "quick") -> list[Case]:
    """Every case of a profile, in table order."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    p = PROFILES[profile]
    out = [Case(act, n, unit="elements") for act in ACTIVATIONS for n in p["activation"]]
    out += [Case("dot", n, unit="n") for n in p["dot"]]
    out += [Case("forward-toy", b) for b in p["forward-toy"]]
    out += [Case("forward-mnist", b) for b in p["forward-mnist"]]
    out += [Case("forward-mnist-f32", b, dtype="float32") for b in p["forward-mnist-f32"]]
    for n in p["batchexp"]:
        out += [Case("batchexp-one", n, unit="samples"), Case(f"batchexp-b{BATCHEXP_BATCH:04d}", n, unit="samples")]
    out += [Case("mnist-real", b, dtype="float32") for b in p["mnist-real"]]
    return out


def supports(case: Case, impl: ModuleType) -> bool:
    if case.workload == "mnist-real":  # the book's float32 weights; pure Python computes them in float64
        return True
    return case.dtype in impl.DTYPES


def _matches(test_id: str, patterns: list[str]) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(test_id, p) if any(ch in p for ch in "*?[") else p in test_id
               for p in patterns)


def select(profile: str, impl_names: list[str], only: list[str] | None = None) -> list[tuple[Case, str]]:
    """(case, implementation) pairs to run: those the implementation supports whose
    id 'case-impl' contains one of `only` (or matches it as a glob)."""
    out = []
    for case in cases(profile):
        names = [n for n in impl_names if supports(case, impls.get(n))]
        if case.workload == "forward-mnist" and "numpy" in names:
            names.insert(names.index("numpy") + 1, YARDSTICK)  # timed right next to numpy's forward
        out += [(case, n) for n in names if _matches(f"{case.id}-{n}", only or [])]
    return out


# ---- inputs, seeded per case so every implementation sees the same numbers ----

def _rng(case: Case) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{case.workload}:{case.size}:{case.dtype}".encode()))


@lru_cache(maxsize=None)
def _network(workload: str, dtype: str) -> Network:
    if workload == "forward-toy":
        return init_network()
    if workload == "mnist-real":
        from bench.mnist import load_real  # needs LOOPVEC_DATA; raises if absent

        return load_real()[0]
    return mnist_shaped_network(seed=0, dtype=np.dtype(dtype))


@lru_cache(maxsize=None)
def _inputs(case: Case) -> tuple[Any, ...]:
    """NumPy inputs of a case (cached: every implementation reuses them)."""
    rng = _rng(case)
    dt = np.dtype(case.dtype)
    if case.workload in ACTIVATIONS:
        return ((rng.standard_normal(case.size) * 5).astype(dt),)
    if case.workload == "dot":
        return (rng.standard_normal((case.size, case.size)).astype(dt),
                rng.standard_normal((case.size, case.size)).astype(dt))
    net = _network(case.workload, case.dtype)
    if case.workload == "mnist-real":
        from bench.mnist import load_real

        images = load_real()[1]
        X = images[: case.size]
    else:
        # Standard-normal inputs: with pixel-like inputs in [0, 1) a random network
        # predicts one class for everything and the argmax check could not fail.
        X = rng.standard_normal((case.size, net.n_in)).astype(dt)
    if case.size == 1 and not case.workload.startswith("batchexp"):
        X = X[0]  # batch 1 is one sample, a 1-D vector, as the book feeds it
    return (X,)


@lru_cache(maxsize=None)
def reference(case: Case) -> np.ndarray:
    """The numpy implementation's answer, in float64."""
    ref_impl = impls.get("numpy")
    args = _inputs(case)
    if case.workload in ACTIVATIONS:
        out = getattr(ref_impl, case.workload)(*args)
    elif case.workload == "dot":
        out = ref_impl.dot(*args)
    else:
        out = ref_impl.forward(ref_impl.prepare(_network(case.workload, case.dtype)), args[0])
    return np.asarray(out, dtype=np.float64)


# float64: results of different summation orders and exp implementations agree to
# ~1e-13 relative; float32 to ~1e-5. A real mistake is orders of magnitude larger.
TOLERANCE = {"float64": (1e-9, 1e-12), "float32": (1e-4, 1e-6)}  # (rtol, atol)


def check(case: Case, got: Any) -> str | None:
    """None if `got` (as NumPy) matches the reference, else what is wrong."""
    ref = reference(case)
    out = np.asarray(got, dtype=np.float64)
    if out.shape != ref.shape:
        return f"shape {out.shape}, expected {ref.shape}"
    if case.workload == "step":
        bad = int(np.sum(out != ref))
        return None if bad == 0 else f"{bad} of {ref.size} values differ (step must agree exactly)"
    rtol, atol = TOLERANCE[case.dtype]
    if case.workload == "dot":
        A, B = _inputs(case)
        # a length-n dot product is accurate to n * eps * (|a| . |b|)
        atol = atol + 4 * case.size * np.finfo(np.dtype(case.dtype)).eps * float(
            np.max(np.abs(A) @ np.abs(B)))
    if not np.allclose(out, ref, rtol=rtol, atol=atol, equal_nan=True):
        worst = float(np.max(np.abs(out - ref)))
        return f"max |difference| from numpy {worst:.3g} exceeds rtol={rtol:g}, atol={atol:.3g}"
    if ref.ndim >= 1 and ref.shape[-1] > 1 and case.workload.startswith(("forward-mnist", "batchexp", "mnist-real")):
        bad = int(np.sum(out.argmax(-1) != ref.argmax(-1)))
        if bad:
            return f"{bad} predictions (argmax) differ from numpy"
    return None


# ---- what is timed ----

def _forward_each(forward: Callable[..., Any], prepared: Any, inputs: list[Any]) -> list[Any]:
    # the book's loop: one forward call per sample (or per batch)
    return [forward(prepared, x) for x in inputs]


def _three_matmuls(X: np.ndarray, W1: np.ndarray, W2: np.ndarray, W3: np.ndarray) -> np.ndarray:
    # the forward pass's matrix products alone: what numpy's forward costs without bias and activations
    return ((X @ W1) @ W2) @ W3


def setup_yardstick(case: Case) -> tuple[Setup, np.ndarray]:
    """numpy's three matrix products of a forward-mnist case, and their answer computed
    independently (np.linalg.multi_dot), for the check before timing."""
    X = _inputs(case)[0]
    Ws = [W for W, _ in _network(case.workload, case.dtype).layers]
    return Setup(_three_matmuls, (X, *Ws), np.asarray), np.linalg.multi_dot([np.atleast_2d(X), *Ws])


@dataclass
class Setup:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    to_numpy: Callable[[Any], np.ndarray]  # the timed function's result as one NumPy array


def setup(case: Case, impl: ModuleType) -> Setup:
    """Inputs converted to the implementation's native form, once, outside the timer."""
    args = _inputs(case)
    to_np = impl.to_numpy
    if case.workload in ACTIVATIONS:
        return Setup(getattr(impl, case.workload), (impl.from_numpy(args[0]),), to_np)
    if case.workload == "dot":
        return Setup(impl.dot, tuple(impl.from_numpy(a) for a in args), to_np)
    prepared = impl.prepare(_network(case.workload, case.dtype))
    X = args[0]
    if case.workload == "batchexp-one":
        rows = [impl.from_numpy(X[i]) for i in range(X.shape[0])]
        return Setup(_forward_each, (impl.forward, prepared, rows),
                     lambda outs: np.stack([np.asarray(to_np(o), dtype=np.float64) for o in outs]))
    if case.workload.startswith("batchexp-b"):
        bs = BATCHEXP_BATCH
        batches = [impl.from_numpy(X[i:i + bs]) for i in range(0, X.shape[0], bs)]
        return Setup(_forward_each, (impl.forward, prepared, batches),
                     lambda outs: np.concatenate([np.asarray(to_np(o), dtype=np.float64) for o in outs]))
    return Setup(impl.forward, (prepared, impl.from_numpy(X)), to_np)


def real_mnist_missing() -> str | None:
    """Why the real-MNIST workload cannot run here (one line), or None when it can."""
    from bench.mnist import data_status

    folder, reason = data_status()
    return None if folder is not None else f"real MNIST not available: {reason}"
