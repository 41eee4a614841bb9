"""Memory bandwidth ceilings, STREAM-style: what moving data costs here, beside the FLOP peak.

Method (after McCalpin's STREAM). Three float64 arrays a, b, c of n elements each; two
kernels, timed as whole passes over the arrays:

    copy   c = a            counted as 16 bytes per element (read a, write c)
    triad  a = b + s * c    counted as 24 bytes per element (read b and c, write a)

Bytes are counted the STREAM way: each array read or written once per element, the
write-allocate read of the destination (a store to a line not in cache reads it first)
is NOT counted, so the figures are what a kernel achieves in "useful" bytes, comparable
with STREAM's and with traffic.py's minimum bytes. Each kernel runs as

    numpy      np.copyto(c, a); triad in two passes, np.multiply(c, s, out=a) then
               np.add(a, b, out=a): NumPy cannot fuse them, so it moves 40 bytes an
               element but is credited 24 -- the rate a NumPy triad gets, not the hardware's;
    numba-1t   a plain loop, compiled with the project's njit settings, one thread;
    numba-all  the same loop under prange, on `threads` Numba threads (all by default).

at two footprints (the three arrays together): "cache", about L3/4, so the passes run from
the last-level cache; and "dram", at least 4 x L3 (capped at DRAM_CAP_BYTES and a quarter of
RAM), so they stream from memory. The repeats go round-robin over every (kernel, variant),
after one warm-up pass each (pages touched, kernels loaded), until a share of the time
budget is spent; each keeps its best pass (the machine's ability; slower passes are other
processes), as machine.measure_peak does. Invariants: the figures are GB/s with GB = 1e9
bytes; ceiling[level] is the maximum over all kernels and variants at that footprint.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numba
import numpy as np
from numba import prange

from loopvec.bench.measure.machine import l3_cache, ram_bytes
from loopvec.impls._numba_setup import OPTS, njit

BYTES_PER_ELEMENT = {"copy": 16, "triad": 24}  # float64, STREAM's count (no write-allocate)
KERNELS = tuple(BYTES_PER_ELEMENT)
VARIANTS = ("numpy", "numba-1t", "numba-all")
LEVELS = ("cache", "dram")
ARRAYS = 3  # a, b, c: the footprint is all three
CACHE_FRACTION = 4  # cache footprint = L3 / 4: resident even with some other data about
DRAM_FACTOR = 4  # dram footprint >= 4 x L3 (STREAM's rule of thumb)
DRAM_CAP_BYTES = 512 << 20
SCALAR = 3.0
ITEMSIZE = 8
MIN_ROUNDS = 2
SAMPLE_S = 1e-3  # a timed sample lasts about this long (several passes when they are short)
MAX_INNER = 64
CACHE_SHARE = 0.3  # of the budget: cache passes are short, the dram footprint's filling is not


@njit(**OPTS)
def _copy_1t(a, c):  # type: ignore[no-untyped-def]
    for i in range(a.shape[0]):
        c[i] = a[i]


@njit(parallel=True, **OPTS)
def _copy_all(a, c):  # type: ignore[no-untyped-def]
    for i in prange(a.shape[0]):
        c[i] = a[i]


@njit(**OPTS)
def _triad_1t(a, b, c, s):  # type: ignore[no-untyped-def]
    for i in range(a.shape[0]):
        a[i] = b[i] + s * c[i]


@njit(parallel=True, **OPTS)
def _triad_all(a, b, c, s):  # type: ignore[no-untyped-def]
    for i in prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


def footprints(l3_bytes: int, ram: int | None = None) -> dict[str, int]:
    """{"cache": bytes, "dram": bytes} of the three arrays together, each a multiple of
    3 x 64 bytes (whole cache lines per array). dram is min(4 x L3, DRAM_CAP_BYTES, RAM / 4),
    and never below 2 x L3 -- the one case it may fall short of 4 x L3 is a cap."""
    unit = ARRAYS * 64
    cache = max(unit, l3_bytes // CACHE_FRACTION // unit * unit)
    dram = min(DRAM_FACTOR * l3_bytes, DRAM_CAP_BYTES, (ram // 4) if ram else DRAM_CAP_BYTES)
    dram = max(dram, 2 * l3_bytes + unit) // unit * unit
    return {"cache": cache, "dram": dram}


def _variants(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> dict[tuple[str, str], Callable[[], Any]]:
    # a, b, c: (n,) float64 each; every callable is one full pass of its kernel
    def numpy_triad() -> None:
        np.multiply(c, SCALAR, out=a)
        np.add(a, b, out=a)

    return {
        ("copy", "numpy"): lambda: np.copyto(c, a),
        ("copy", "numba-1t"): lambda: _copy_1t(a, c),
        ("copy", "numba-all"): lambda: _copy_all(a, c),
        ("triad", "numpy"): numpy_triad,
        ("triad", "numba-1t"): lambda: _triad_1t(a, b, c, SCALAR),
        ("triad", "numba-all"): lambda: _triad_all(a, b, c, SCALAR),
    }


def _best_times(n: int, deadline: float, max_rounds: int) -> tuple[dict[tuple[str, str], float], int]:
    """The best seconds of one pass per (kernel, variant) on arrays of n elements, and the rounds
    run: at least MIN_ROUNDS, at most max_rounds, no new round after `deadline` (perf_counter)."""
    a = np.full(n, 1.0)  # (n,) float64; filled now, so no page is first touched in a timed pass
    b = np.full(n, 2.0)  # (n,) float64
    c = np.zeros(n)  # (n,) float64
    runs = _variants(a, b, c)
    inner: dict[tuple[str, str], int] = {}
    for key, run in runs.items():
        t0 = time.perf_counter()
        run()  # warm-up: caches filled (at the cache footprint), threads started
        # passes per sample: short passes (in cache) are repeated so that the timer and a
        # parallel launch do not weigh on them; long ones are timed alone
        inner[key] = max(1, min(MAX_INNER, int(SAMPLE_S / max(time.perf_counter() - t0, 1e-9))))
    best = {key: float("inf") for key in runs}
    rounds = 0
    while rounds < max_rounds and (rounds < MIN_ROUNDS or time.perf_counter() < deadline):
        for key, run in runs.items():
            k = inner[key]
            t0 = time.perf_counter()
            for _ in range(k):
                run()
            best[key] = min(best[key], (time.perf_counter() - t0) / k)
        rounds += 1
    return best, rounds


def measure_bandwidth(budget_s: float = 2.5, max_rounds: int = 50, threads: int | None = None,
                      l3_bytes: int | None = None) -> dict[str, Any]:
    """Copy and triad bandwidth (GB/s) per variant at the cache and dram footprints (module doc).

    budget_s: the whole measurement's wall time, filling the arrays included: the cache
    footprint's rounds stop CACHE_SHARE of it in, the dram footprint's at its end (each at least
    MIN_ROUNDS rounds, so a slow machine overruns; at most max_rounds). Compiling the kernels
    (the first time; then Numba's disk cache) comes on top. threads: Numba threads of numba-all (default: all Numba has; restored
    after). l3_bytes: the cache size to size the footprints from (default: machine.l3_cache();
    l3_source is then "given"). Returns plain JSON-able data:
    {"l3_bytes", "l3_source", "threads", "footprints": {level: bytes}, "elements": {level: n},
     "rounds": {level: int}, "bytes_per_element": {kernel: int},
     "GBps": {kernel: {variant: {level: float}}}, "ceiling": {level: float}, "budget_s", "seconds", "method"}.
    """
    if l3_bytes is None:
        l3, source = l3_cache()
    elif l3_bytes > 0:
        l3, source = int(l3_bytes), "given"
    else:
        raise ValueError(f"l3_bytes must be positive, got {l3_bytes}")
    n_threads = int(threads) if threads is not None else numba.config.NUMBA_NUM_THREADS
    if not 1 <= n_threads <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads must be 1..{numba.config.NUMBA_NUM_THREADS}, got {threads}")
    sizes = footprints(l3, ram_bytes())
    t_all = time.perf_counter()
    deadlines = {"cache": t_all + CACHE_SHARE * budget_s, "dram": t_all + budget_s}
    gbps: dict[str, dict[str, dict[str, float]]] = {k: {v: {} for v in VARIANTS} for k in KERNELS}
    elements: dict[str, int] = {}
    rounds: dict[str, int] = {}
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        for level in LEVELS:
            n = sizes[level] // (ARRAYS * ITEMSIZE)
            best, rounds[level] = _best_times(n, deadlines[level], max_rounds)
            elements[level] = n
            for (kernel, variant), t in best.items():
                gbps[kernel][variant][level] = round(BYTES_PER_ELEMENT[kernel] * n / t / 1e9, 3)
    finally:
        numba.set_num_threads(previous)
    ceiling = {level: max(gbps[k][v][level] for k in KERNELS for v in VARIANTS) for level in LEVELS}
    return {
        "l3_bytes": l3, "l3_source": source, "threads": n_threads, "footprints": sizes, "elements": elements,
        "rounds": rounds, "bytes_per_element": dict(BYTES_PER_ELEMENT), "GBps": gbps, "ceiling": ceiling,
        "budget_s": budget_s, "seconds": round(time.perf_counter() - t_all, 3),
        "method": "STREAM-style copy (16 B/element) and triad (24 B/element), write-allocate not counted; "
                  "best pass of round-robin repeats",
    }


def ceiling_for(bw: dict[str, Any], footprint_bytes: int) -> tuple[str, float]:
    """The bandwidth ceiling that applies to a case touching `footprint_bytes` (traffic.py):
    ("cache", GB/s) if it fits the last-level cache (footprint <= l3_bytes), else ("dram", GB/s)."""
    if footprint_bytes < 0:
        raise ValueError(f"footprint_bytes must be >= 0, got {footprint_bytes}")
    level = "cache" if footprint_bytes <= int(bw["l3_bytes"]) else "dram"
    return level, float(bw["ceiling"][level])
