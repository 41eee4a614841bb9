"""The fields of a results file, checked one by one: types, finite numbers, positive times.

Each check raises a ResultsError whose message is one line naming the file and the field
(store/results.py reads the file and calls them; store/model.py types what passed).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from loopvec.bench.store.schema import INTERVAL_KEYS


class ResultsError(ValueError):
    """A results file or folder that cannot be used; the message is one line naming it."""


def fail(path: Path | str, problem: str) -> ResultsError:
    return ResultsError(f"{path}: {' '.join(problem.split())}")


def is_number(x: Any) -> bool:
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # a whole number beyond float's range: no time or count
        return False


def kind(x: Any) -> str:
    return "null" if x is None else type(x).__name__


def check_extra(extra: dict[str, Any], stats: dict[str, Any], where: str, path: str | Path) -> None:
    """The fields loopvec reads from a benchmark's extra_info and stats: of the right type, finite."""
    for key in ("case", "impl", "workload", "unit", "dtype", "kind", "network", "code"):
        if key in extra and extra[key] is not None and not isinstance(extra[key], str):
            raise fail(path, f"{where} {key} is a {kind(extra[key])}, expected text")
    for key in ("first_call_s", "gflops"):
        if key in extra and not (is_number(extra[key]) and extra[key] >= 0):
            raise fail(path, f"{where} {key} is {extra[key]!r}, expected a finite number >= 0")
    for key in ("pass_rounds", "pass_workers"):
        v = extra.get(key)
        if key in extra and not (isinstance(v, list) and all(isinstance(n, int) and not isinstance(n, bool)
                                                              and n >= (1 if key == "pass_rounds" else 0) for n in v)):
            raise fail(path, f"{where} {key} is not a list of whole numbers")
    data = stats.get("data")
    if data is not None and not positive_times(data):
        raise fail(path, f"{where.replace('extra_info', 'stats')} data is not a list of positive, finite times")
    if "bytes" in extra and not (isinstance(extra["bytes"], int) and not isinstance(extra["bytes"], bool)
                                 and extra["bytes"] > 0):
        raise fail(path, f"{where} bytes is {extra['bytes']!r}, expected a whole number > 0")
    for key in ("gbps", "intensity"):
        if extra.get(key) is not None and not (is_number(extra[key]) and extra[key] >= 0):
            raise fail(path, f"{where} {key} is {extra[key]!r}, expected a finite number >= 0 or null")
    if "memory" in extra and not _memory_record(extra["memory"]):
        raise fail(path, f"{where} memory is not a record of {{peak_bytes, allocations: numbers >= 0 or null; "
                         f"method, note: text}}")
    for key in INTERVAL_KEYS:
        v = extra.get(key)
        if key in extra and not (isinstance(v, dict) and all(is_number(v.get(k)) for k in ("value", "lo", "hi"))):
            raise fail(path, f"{where} {key} is not an interval of finite numbers {{value, lo, hi}}")


def _memory_record(m: Any) -> bool:
    if not isinstance(m, dict) or not isinstance(m.get("method"), str) or not isinstance(m.get("note", ""), str):
        return False
    return all(m.get(k) is None or (is_number(m[k]) and m[k] >= 0)
               for k in ("peak_bytes", "allocations", "retained_bytes", "retained_blocks"))


def _numbers(d: Any, depth: int, positive: bool = False) -> bool:
    """An object of objects ... (depth levels) of finite numbers (> 0 when `positive`)."""
    if not isinstance(d, dict):
        return False
    if depth == 1:
        return all(is_number(v) and (v > 0 if positive else v >= 0) for v in d.values())
    return all(_numbers(v, depth - 1, positive) for v in d.values())


def _end(x: Any) -> bool:
    return x is None or is_number(x)


def _fits(fits: Any) -> bool:
    """{workload: {"fits": {impl: {"a": {value, lo, hi}, "b": ..., "max_rel_residual"}}, "crossover": null or
    {n, lo, hi}}}, every number finite (an interval's end may be null)."""
    if not isinstance(fits, dict):
        return False
    for got in fits.values():
        if not isinstance(got, dict) or not isinstance(got.get("fits"), dict):
            return False
        for f in got["fits"].values():
            if not (isinstance(f, dict) and is_number(f.get("max_rel_residual", 0.0))
                    and all(isinstance(f.get(k), dict) and is_number(f[k].get("value"))
                            and _end(f[k].get("lo")) and _end(f[k].get("hi")) for k in ("a", "b"))):
                return False
        cx = got.get("crossover")
        if cx is not None and not (isinstance(cx, dict) and is_number(cx.get("n")) and cx["n"] > 0
                                   and _end(cx.get("lo")) and _end(cx.get("hi"))):
            return False
    return True


def positive_times(data: Any) -> bool:
    """A list of positive, finite numbers (never true/false). A full run holds some 300 000 of
    them: the usual all-float list is checked by C loops (map, min), any other one item by item."""
    if not isinstance(data, list):
        return False
    if set(map(type, data)) <= {float}:
        return all(map(math.isfinite, data)) and (not data or min(data) > 0)
    return all(is_number(t) and t > 0 for t in data)


def check_loopvec(lv: dict[str, Any], path: str | Path) -> None:
    """The run-level fields loopvec reads: of the right type, finite."""
    for key in ("only", "impls", "command"):
        if key in lv and not (isinstance(lv[key], list) and all(isinstance(x, str) for x in lv[key])):
            raise fail(path, f"loopvec.{key} is {lv[key]!r}, expected a list of text")
    if lv.get("threads") is not None and not (isinstance(lv["threads"], int) and not isinstance(lv["threads"], bool)
                                              and lv["threads"] >= 1):
        raise fail(path, f"loopvec.threads is {lv['threads']!r}, expected a whole number >= 1 or null")
    for key in ("profile", "machine", "commit", "isa"):
        if key in lv and lv[key] is not None and not isinstance(lv[key], str):
            raise fail(path, f"loopvec.{key} is a {kind(lv[key])}, expected text")
    for key in ("numba_startup", "processes", "kernel", "estimator", "timing", "peak_gflops_measured"):
        if key in lv and not isinstance(lv[key], dict):
            raise fail(path, f"loopvec.{key} is a {kind(lv[key])}, expected an object")
    bw = lv.get("bandwidth")
    if bw is not None and not (isinstance(bw, dict) and _numbers(bw.get("ceiling"), 1, positive=True)
                               and _numbers(bw.get("footprints"), 1, positive=True)
                               and isinstance(bw.get("l3_bytes"), int) and bw["l3_bytes"] > 0
                               and _numbers(bw.get("GBps", {}), 3)
                               and isinstance(bw.get("ceiling_measured", {}), dict)
                               and all(isinstance(v, list) and len(v) == 2 and all(is_number(x) for x in v)
                                       for v in bw.get("ceiling_measured", {}).values())):
        raise fail(path, "loopvec.bandwidth is not a record of positive ceilings, footprints and l3_bytes")
    if "fits" in lv and not _fits(lv["fits"]):
        raise fail(path, "loopvec.fits is not an object of fits {a, b: {value, lo, hi}} and crossovers")
    _check_records(lv, path)
    for name, v in (lv.get("numba_startup") or {}).items():
        if not isinstance(v, dict) or not all(is_number(x) and x >= 0 for k, x in v.items() if k != "error"):
            raise fail(path, f"loopvec.numba_startup.{name} is not an object of finite times")
    for case, rec in (lv.get("noise") or {}).items():
        if not isinstance(rec, dict):
            continue  # checked above
        for k, x in rec.items():
            if k in ("reason", "stopped"):
                if not isinstance(x, str):
                    raise fail(path, f"loopvec.noise.{case}.{k} is a {kind(x)}, expected text")
            elif x is not None and not (isinstance(x, bool) or is_number(x)):
                raise fail(path, f"loopvec.noise.{case}.{k} is {x!r}, expected a finite number, true/false or null")


def _whole(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_records(lv: dict[str, Any], path: str | Path) -> None:
    """The inside of the records the run's header prints: peak readings, the kernel's shape, the workers."""
    for dt, v in (lv.get("peak_gflops_measured") or {}).items():
        if not (isinstance(v, list) and len(v) == 2 and all(is_number(x) for x in v)):
            raise fail(path, f"loopvec.peak_gflops_measured.{dt} is {v!r}, expected two readings (numbers)")
    kernel = lv.get("kernel") or {}
    for dt in ("float64", "float32"):
        if dt in kernel and not (isinstance(kernel[dt], dict) and all(_whole(kernel[dt].get(f)) and kernel[dt][f] > 0
                                                                      for f in ("mr", "nr", "lanes"))):
            raise fail(path, f"loopvec.kernel.{dt} is not a record of whole numbers mr, nr, lanes > 0")
    if "isa" in kernel and not isinstance(kernel["isa"], str):
        raise fail(path, f"loopvec.kernel.isa is a {kind(kernel['isa'])}, expected text")
    procs = lv.get("processes") or {}
    for key in ("planned", "started"):
        if procs.get(key) is not None and not _whole(procs[key]):
            raise fail(path, f"loopvec.processes.{key} is {procs[key]!r}, expected a whole number")
    workers = procs.get("workers", [])
    if not (isinstance(workers, list) and all(
            isinstance(w, dict) and _whole(w.get("index")) and (w.get("exit") is None or _whole(w["exit"]))
            and isinstance(w.get("missing", []), list) for w in workers)):
        raise fail(path, "loopvec.processes.workers is not a list of {index, exit: whole numbers; missing: a list}")
