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


DEFAULT_L3_BYTES = 32 << 20  # assumed when neither sysfs nor lscpu tells (marked "assumed")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?)i?B?\s*$", re.IGNORECASE)


def _parse_size(text: str) -> int | None:
    """'32768K', '32M', '32 MiB', '1.5M' -> bytes; None when unreadable."""
    m = _SIZE.match(text)
    if not m:
        return None
    return int(float(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()])


def l3_cache() -> tuple[int, str]:
    """(bytes of the last-level cache one core sees, where that came from: "sysfs", "lscpu" or
    "assumed"). Read from cpu0's cache/index*/ (level 3, size), else `lscpu -C`'s L3 ONE-SIZE
    (one instance, not the sum over sockets), else DEFAULT_L3_BYTES."""
    import glob
    import subprocess

    for d in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        try:
            with open(f"{d}/level") as f_level, open(f"{d}/size") as f_size:
                if f_level.read().strip() == "3" and (size := _parse_size(f_size.read().strip())):
                    return size, "sysfs"
        except OSError:
            continue
    try:
        out = subprocess.run(["lscpu", "-C"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        cols = line.split()
        if len(cols) > 1 and cols[0] == "L3" and (size := _parse_size(cols[1])):
            return size, "lscpu"
    return DEFAULT_L3_BYTES, "assumed"


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


# ---- the one description of a run's machine, for every table, comparison and report ----

def blas_of(info: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in info.get("blas", []) if isinstance(b, dict) and b.get("user_api") == "blas"]


def describe(data: dict[str, Any]) -> dict[str, str]:
    """What a results file's speed depends on besides the code, label -> text ('?' when unknown)."""
    mi = data.get("machine_info", {})
    lm = mi.get("loopvec", {}) if isinstance(mi.get("loopvec"), dict) else {}
    lv = data.get("loopvec")
    cpu = mi.get("cpu", {}) if isinstance(mi.get("cpu"), dict) else {}
    blas = blas_of(lm)
    vers = dict(lm.get("versions", {}))
    env = {str(k): str(v) for k, v in lm.get("env", {}).items()}
    d: dict[str, str] = {
        "CPU": str(lm.get("cpu_model") or cpu.get("brand_raw") or mi.get("processor") or "?"),
        "logical cores": str(lm.get("logical_cores") or cpu.get("count") or "?"),
        "BLAS library": ", ".join(f"{b.get('internal_api')} {b.get('version')}" for b in blas) or "?",
        "BLAS kernel": ", ".join(str(b.get("architecture")) for b in blas) or "?",
        "BLAS threads": ", ".join(str(b.get("num_threads")) for b in blas) or "?",
        "loopvec threads": "?" if lv is None else str(lv.get("threads") or "library default"),
        "Numba threads": str(lm.get("numba", {}).get("num_threads", "?")),
        "Python": str(vers.pop("python", None) or mi.get("python_version") or "?"),
        "NumPy": str(vers.pop("numpy", "?")),
        "Numba": str(vers.pop("numba", "?")),
    }
    d.update((k, str(v)) for k, v in vers.items())
    d["OS"] = str(lm.get("os") or " ".join(x for x in (mi.get("system"), mi.get("release")) if x) or "?")
    d["profile"] = str((lv or {}).get("profile", "?"))
    d["environment"] = " ".join(f"{k}={v}" for k, v in env.items()) or "no OPENBLAS_/OMP_/MKL_/NUMBA_ variables set"
    return d


def summary(data: dict[str, Any]) -> str:
    """One line: CPU, cores, BLAS library/kernel/threads, loopvec and Numba threads."""
    d = describe(data)
    return (f"{d['CPU']}, {d['logical cores']} cores; BLAS {d['BLAS library']} {d['BLAS kernel']} "
            f"x{d['BLAS threads']}; threads {d['loopvec threads']}; numba threads {d['Numba threads']}")
