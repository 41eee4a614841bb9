"""What a result depends on besides the code: CPU, memory, libraries, BLAS, threads, env."""
from __future__ import annotations

import os
import platform
import re
import socket
import time
from typing import Any

import numpy as np

ENV_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "NUMBA_", "GOTO_", "BLIS_")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown-cpu"


def ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def slug(text: str) -> str:
    s = re.sub(r"\((r|tm|c)\)", "", text.lower())
    s = re.sub(r"\b(cpu|processor|@)\b", " ", s)
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")[:60] or "machine"


def default_machine_name() -> str:
    return slug(f"{socket.gethostname()}-{cpu_model()}")


def speed_env() -> dict[str, str]:
    """Environment variables that change BLAS or Numba behaviour, as set now."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)}


def blas_info() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "prefix", "version", "architecture", "threading_layer", "num_threads")
    return [{k: d.get(k) for k in keep if k in d} for d in threadpool_info()]


def numba_info() -> dict[str, Any]:
    try:
        import numba
    except ImportError:
        return {"installed": False}
    info: dict[str, Any] = {"version": numba.__version__, "num_threads": numba.get_num_threads()}
    try:
        info["threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel function has run yet in this process
        info["threading_layer"] = "not initialised"
    return info


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "numba", "llvmlite", "torch", "pytest-benchmark", "threadpoolctl"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def machine_info() -> dict[str, Any]:
    """The loopvec part of a results file's machine_info."""
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "ram_bytes": ram_bytes(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions(),
        "blas": blas_info(),
        "numba": numba_info(),
        "env": speed_env(),
    }


def measure_peak(dtype: str = "float64", n: int = 2048, repeats: int = 7) -> float:
    """The machine's dense matrix-multiply rate in GFLOP/s: best of a few large np.dot.

    Best, not median: the peak is what the machine can do, and slower repeats are
    other processes or clock changes. `loopvec run` measures it before and after
    the cases and keeps the higher.
    """
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    np.dot(A, B)  # warm up: threads started, pages touched
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.dot(A, B)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9
