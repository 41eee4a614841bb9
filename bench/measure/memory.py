"""Memory of one call: the peak it adds and what it allocates, measured outside any timer.

Methods, chosen by the implementation's name:

    tracemalloc      (python, numpy, the numpy yardstick, anything else) Python's tracemalloc
                     sees Python objects and NumPy's data buffers (NumPy reports them to it).
                     peak_bytes: the traced peak during the call above what was traced before
                     it (tracemalloc.reset_peak); retained_bytes / retained_blocks: what the call
                     allocated and still holds after it (its result, caches). allocations: None --
                     tracemalloc cannot count blocks allocated and freed within the call, so
                     retained_blocks is only a lower bound on them.
    tracemalloc+nrt  (numba*) the same, plus Numba's runtime (NRT) statistics: allocations is
                     the number of NRT allocations in the call, freed ones included (stats are
                     switched on for the call and back off). NRT allocates through
                     PyMem_RawMalloc, which tracemalloc traces, so peak_bytes includes kernel
                     allocations as well as the Python wrapper's NumPy ones; this is checked once
                     per process, and the note says when it does not hold.
    torch-profiler   (torch) torch.profiler with profile_memory=True: every CPU allocation and
                     free of torch's allocator, in time order; peak_bytes is the highest running
                     sum, allocations the number of allocations. Memory outside torch's allocator
                     (Python objects, BLAS/oneDNN scratch) is not seen. torch is imported only here.
    not measured     when a method fails (peak_bytes etc. None, the reason in note).

Invariants: one warm-up call first (compilation, lazy caches and first-call imports are not
counted) unless warmup=False; a garbage collection before the measured call; byte figures
are ints >= 0 (peak >= retained), or None where not measured. Results are plain JSON-able dicts.
"""
from __future__ import annotations

import gc
import tracemalloc
from typing import Any, Callable, Sequence

TORCH_PROFILER = "torch-profiler"
NOT_MEASURED = "not measured"
_PROBE_BYTES = 1 << 16


def _result(peak: int | None, retained: int | None, blocks: int | None, allocations: int | None,
            method: str, note: str) -> dict[str, Any]:
    return {"peak_bytes": peak, "retained_bytes": retained, "retained_blocks": blocks,
            "allocations": allocations, "method": method, "note": note}


def _traced_call(call: Callable[[], Any]) -> tuple[int, int, int, Any]:
    """(peak bytes, retained bytes, retained blocks, call()'s value) of one call under tracemalloc.

    When tracemalloc is off it is started just for the call: then every trace in the
    snapshot after it was allocated by the call. When it is on already (someone else's),
    the blocks are counted from a snapshot difference instead. The value is held until
    the snapshot, so the call's result counts as retained."""
    gc.collect()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        before = None if started else tracemalloc.take_snapshot()
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        value = call()
        current, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot()
    finally:
        if started:
            tracemalloc.stop()
    if before is None:
        blocks = len(after.traces)
    else:
        blocks = sum(max(0, s.count_diff) for s in after.compare_to(before, "traceback"))
    return max(0, peak - base), max(0, current - base), blocks, value


_nrt_visible: list[bool] = []  # the answer of nrt_visible_to_tracemalloc, once known


def nrt_visible_to_tracemalloc() -> bool | None:
    """Whether NRT allocations show in tracemalloc (Numba allocates through PyMem_RawMalloc),
    checked once per process with a 64 KiB NRT block; None while it cannot be checked (the
    NRT is initialised by the first Numba function run in the process)."""
    if _nrt_visible:
        return _nrt_visible[0]
    try:
        from numba.core.runtime import rtsys

        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            block = rtsys.meminfo_alloc(_PROBE_BYTES)
            grown = tracemalloc.get_traced_memory()[0] - base
            del block
        finally:
            if started:
                tracemalloc.stop()
    except (ImportError, RuntimeError, AttributeError):
        return None
    _nrt_visible.append(grown >= _PROBE_BYTES)
    return _nrt_visible[0]


def _nrt_allocations(call: Callable[[], Any]) -> tuple[Any, int | None, str]:
    """(call()'s value, the NRT allocations it made, a note): statistics switched on just for it."""
    try:
        from numba.core.runtime import _nrt_python as nrt  # Numba's own switch for its statistics
        from numba.core.runtime import rtsys
    except ImportError as exc:
        return call(), None, f"NRT statistics unavailable ({exc})"
    was_on = bool(nrt.memsys_stats_enabled())
    if not was_on:
        nrt.memsys_enable_stats()
    try:
        before = rtsys.get_allocation_stats().alloc
        value = call()
        return value, rtsys.get_allocation_stats().alloc - before, ""
    finally:
        if not was_on:
            nrt.memsys_disable_stats()


def _numba(fn: Callable[..., Any], args: Sequence[Any]) -> dict[str, Any]:
    peak, retained, blocks, (_, allocs, why) = _traced_call(lambda: _nrt_allocations(lambda: fn(*args)))
    visible = nrt_visible_to_tracemalloc()
    notes = [why] if why else []
    if visible is False:
        notes.append("NRT allocations are not traced here: the bytes cover Python and NumPy allocations only")
    elif visible is None:
        notes.append("whether tracemalloc sees NRT allocations could not be checked")
    else:
        notes.append("bytes: tracemalloc, NRT kernel allocations included; allocations: NRT only "
                     "(the wrapper's NumPy arrays are in the bytes, not in this count)")
    return _result(peak, retained, blocks, allocs, "tracemalloc+nrt", "; ".join(notes))


def _torch(fn: Callable[..., Any], args: Sequence[Any]) -> dict[str, Any]:
    """Peak of the running sum of torch's CPU allocation events during one call."""
    from torch.profiler import ProfilerActivity, profile

    gc.collect()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn(*args)
    events: list[tuple[int, int, int]] = []  # (start ns, signed bytes, ptr)
    todo = list(prof.profiler.kineto_results.experimental_event_tree())  # every thread's roots
    while todo:
        e = todo.pop()
        todo.extend(e.children)
        f = e.extra_fields
        if hasattr(f, "alloc_size") and getattr(getattr(f, "device", None), "type", "cpu") == "cpu":
            events.append((int(e.start_time_ns), int(f.alloc_size), int(getattr(f, "ptr", 0))))
    del result
    events.sort()
    running = peak = 0
    live: set[int] = set()
    for _, size, ptr in events:
        running += size
        peak = max(peak, running)
        if size > 0:
            live.add(ptr)
        else:
            live.discard(ptr)
    allocations = sum(1 for _, size, _ in events if size > 0)
    return _result(peak, max(0, running), len(live), allocations, TORCH_PROFILER,
                   "torch's CPU allocator only (Python objects and BLAS/oneDNN scratch not seen)")


def measure_call(impl_name: str, fn: Callable[..., Any], args: Sequence[Any],
                 warmup: bool = True) -> dict[str, Any]:
    """Memory of one call fn(*args) of implementation `impl_name` (module doc), as
    {"peak_bytes", "retained_bytes", "retained_blocks", "allocations", "method", "note"}."""
    if warmup:
        fn(*args)
    try:
        if impl_name == "torch":
            return _torch(fn, args)
        if impl_name.startswith("numba"):
            return _numba(fn, args)
        peak, retained, blocks, _ = _traced_call(lambda: fn(*args))
        return _result(peak, retained, blocks, None, "tracemalloc",
                       "allocations not counted: tracemalloc cannot see blocks freed within the call "
                       "(retained_blocks is a lower bound)")
    except Exception as exc:  # a measurement that fails must not take the run down
        return _result(None, None, None, None, NOT_MEASURED, f"{type(exc).__name__}: {exc}")
