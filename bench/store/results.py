"""Reading results files: validation with one-line errors (the typed runs they load as: store/model.py;
finding runs: store/find.py).

A results file is pytest-benchmark JSON, normally written by `loopvec run` (with a
machine_info["loopvec"] section and a top-level "loopvec" section). A plain
pytest-benchmark file is accepted too: its benchmarks get a case (the group, or the test
name) and an implementation (the parameter id, or its '-<impl>' suffix) so that the
table and compare code can treat both alike.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from loopvec.bench.core import split_id
from loopvec.bench.store.schema import FORMAT, INTERVAL_KEYS


MAX_RESULTS_BYTES = 256 * 2**20  # a full run with every raw round is a few MB
READS_FORMAT = FORMAT  # the newest results format this loopvec reads; what loading makes of the older ones: store/model.py


class ResultsError(ValueError):
    """A results file or folder that cannot be used; the message is one line naming it."""


def fail(path: Path | str, problem: str) -> ResultsError:
    return ResultsError(f"{path}: {' '.join(problem.split())}")


def _is_number(x: Any) -> bool:
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # a whole number beyond float's range: no time or count
        return False


def load_run(path: str | Path, rounds: bool = True) -> dict[str, Any]:
    """The JSON of one results file, validated (ResultsError otherwise) and normalised:
    every benchmark's extra_info has a "case" and an "impl"; q1/q3 default to the median.
    rounds=False: every benchmark's raw rounds (stats "data") are left unread, as null: they are
    most of a full run's bytes and of its decoding time, and a run that stored its intervals
    needs them for none of the tables (see present/rows.needs_rounds)."""
    p = Path(path)
    if p.is_dir():
        raise fail(p, "is a folder, expected a results file (.json)")
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):
            raise fail(p, "not a regular file (a device or fifo?); expected a results file (.json)")
        if st.st_size > MAX_RESULTS_BYTES:
            raise fail(p, f"{st.st_size:,} bytes; a results file is at most {MAX_RESULTS_BYTES:,}")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise fail(p, "no such file") from None
    except OSError as exc:
        raise fail(p, f"cannot read: {exc.strerror or exc}") from None
    if not raw.strip():
        raise fail(p, "empty file, expected a results file written by `loopvec run` (pytest-benchmark JSON)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(p, "not JSON (binary data, not UTF-8 text)") from None
    try:
        data = json.loads(text) if rounds else _without_rounds(text)
    except RecursionError:
        raise fail(p, "not a results file: the JSON is nested too deeply") from None
    except json.JSONDecodeError as exc:
        if _ends_early(text, exc):
            raise fail(p, f"truncated JSON: the text ends at line {exc.lineno} before the data is complete "
                           f"(an interrupted copy or write?)") from None
        raise fail(p, f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    return validate(data, p)


# a benchmark's raw rounds as pytest-benchmark writes them: a flat list of numbers (no brackets,
# braces or quotes inside, so the match can never run into another value)
_ROUNDS = re.compile(r'"data": \[[^\]\[{}"]*\]')


def _without_rounds(text: str) -> Any:
    """The JSON with every benchmark's rounds as null, decoded; the whole text decoded when the
    lists cut are not exactly one per benchmark (a "data" list somewhere else, say)."""
    slim, cut = _ROUNDS.subn('"data": null', text)
    data = json.loads(slim)
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    if isinstance(benchmarks, list) and cut == len(benchmarks) and all(
            isinstance(b, dict) and isinstance(b.get("stats"), dict) and "data" in b["stats"] for b in benchmarks):
        return data
    return json.loads(text)


def _ends_early(text: str, exc: json.JSONDecodeError) -> bool:
    """Whether a JSON error means the text stops before the document is complete
    (a prefix of a JSON object or list) rather than holds something wrong."""
    if text.lstrip()[:1] not in ("{", "[") or exc.msg.startswith("Extra data"):
        return False
    rest = text[exc.pos:].rstrip()
    if exc.msg.startswith("Unterminated string"):
        return '"' not in rest[1:]
    return len(rest) < 6 and "\n" not in rest  # at the end, or inside the last cut-off token


def validate(data: Any, path: str | Path = "<data>") -> dict[str, Any]:
    """Check that `data` is a pytest-benchmark result and normalise it (see load_run)."""
    what = "not a pytest-benchmark result"
    if not isinstance(data, dict):
        raise fail(path, f"{what}: the JSON is a {type(data).__name__}, expected an object with "
                          f"'benchmarks' and 'machine_info'")
    if not isinstance(data.get("benchmarks"), list):
        raise fail(path, f"{what}: no 'benchmarks' list")
    if not isinstance(data.get("machine_info"), dict):
        raise fail(path, f"{what}: no 'machine_info' object")
    if "loopvec" in data and not isinstance(data["loopvec"], dict):
        raise fail(path, "the 'loopvec' section is not an object")
    lm = data["machine_info"].get("loopvec", {})
    if not isinstance(lm, dict):
        raise fail(path, "machine_info 'loopvec' is not an object")
    for key in ("env", "versions", "numba"):
        if key in lm and not isinstance(lm[key], dict):
            raise fail(path, f"machine_info.loopvec.{key} is a {type(lm[key]).__name__}, expected an object")
    if "blas" in lm and not isinstance(lm["blas"], list):
        raise fail(path, f"machine_info.loopvec.blas is a {type(lm['blas']).__name__}, expected a list")
    lv = data.get("loopvec", {})
    if "format" in lv:  # 1: medians; 2: interleaved passes in one process; 3: passes over worker processes
        fmt = lv["format"]
        if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
            raise fail(path, f"loopvec.format is {fmt!r}, expected a whole number 1..{READS_FORMAT}")
        if fmt > READS_FORMAT:
            raise fail(path, f"written by a newer loopvec (results format {fmt}); this one reads formats 1 to "
                             f"{READS_FORMAT}: upgrade loopvec (pip install -U .)")
    for key in ("peak_gflops", "noise"):
        if key in lv and not (isinstance(lv[key], dict) and all(
                isinstance(v, dict) if key == "noise" else _is_number(v) for v in lv[key].values())):
            raise fail(path, f"loopvec.{key} is not an object of " + ("objects" if key == "noise" else "numbers"))
    _check_loopvec(lv, path)
    for key in ("skipped", "failed"):
        if key in lv and not (isinstance(lv[key], list) and all(
                isinstance(i, dict) and isinstance(i.get("id"), str)
                and all(isinstance(i.get(k, ""), str) for k in ("reason", "message")) for i in lv[key])):
            raise fail(path, f"loopvec.{key} is not a list of {{'id': ..., 'reason'/'message': text}} objects")
    if not data["benchmarks"]:
        raise fail(path, "contains no timed benchmark")
    seen: dict[tuple[str, str], int] = {}
    for i, b in enumerate(data["benchmarks"]):
        where = f"benchmark {i + 1}"
        if not isinstance(b, dict):
            raise fail(path, f"{what}: {where} is not an object")
        name = b.get("name")
        if not isinstance(name, str) or not name:
            raise fail(path, f"{what}: {where} has no 'name'")
        where = f"benchmark {i + 1} ({name})"
        stats = b.get("stats")
        if not isinstance(stats, dict):
            raise fail(path, f"{what}: {where} has no 'stats'")
        med = stats.get("median")
        if not _is_number(med) or med <= 0:
            raise fail(path, f"{what}: {where} has no positive 'stats.median' (got {med!r})")
        for q in ("q1", "q3"):
            if not _is_number(stats.get(q)) or stats[q] < 0:
                stats[q] = med
        if stats["q1"] > stats["q3"]:
            stats["q1"], stats["q3"] = stats["q3"], stats["q1"]
        extra = b.setdefault("extra_info", {})
        if not isinstance(extra, dict):
            raise fail(path, f"{where}: 'extra_info' is not an object")
        if "estimate" in extra and not (_is_number(extra["estimate"]) and extra["estimate"] > 0):
            raise fail(path, f"{where}: extra_info estimate {extra['estimate']!r} is not a positive, finite time")
        if "size" in extra:
            try:
                extra["size"] = int(extra["size"])
            except (TypeError, ValueError, OverflowError):
                raise fail(path, f"{where}: extra_info size {extra['size']!r} is not a whole number") from None
        _check_extra(extra, stats, f"{where}: extra_info", path)
        if extra.get("flops") is not None and not _is_number(extra["flops"]):
            raise fail(path, f"{where}: extra_info flops {extra['flops']!r} is not a number")
        if not (isinstance(extra.get("case"), str) and isinstance(extra.get("impl"), str)):
            case, impl = _case_and_impl(b)
            extra.setdefault("case", case)
            extra.setdefault("impl", impl)
            extra["case"], extra["impl"] = str(extra["case"]), str(extra["impl"])
        key = (extra["case"], extra["impl"])
        if key in seen:  # two tests that map to the same cell: keep them apart by full name
            extra["case"] = str(b.get("fullname") or name)
            key = (extra["case"], extra["impl"])
        seen[key] = i
    return data


def _kind(x: Any) -> str:
    return "null" if x is None else type(x).__name__


def _check_extra(extra: dict[str, Any], stats: dict[str, Any], where: str, path: str | Path) -> None:
    """The fields loopvec reads from a benchmark's extra_info and stats: of the right type, finite."""
    for key in ("case", "impl", "workload", "unit", "dtype", "kind", "network", "code"):
        if key in extra and extra[key] is not None and not isinstance(extra[key], str):
            raise fail(path, f"{where} {key} is a {_kind(extra[key])}, expected text")
    for key in ("first_call_s", "gflops"):
        if key in extra and not (_is_number(extra[key]) and extra[key] >= 0):
            raise fail(path, f"{where} {key} is {extra[key]!r}, expected a finite number >= 0")
    for key in ("pass_rounds", "pass_workers"):
        v = extra.get(key)
        if key in extra and not (isinstance(v, list) and all(isinstance(n, int) and not isinstance(n, bool)
                                                              and n >= (1 if key == "pass_rounds" else 0) for n in v)):
            raise fail(path, f"{where} {key} is not a list of whole numbers")
    data = stats.get("data")
    if data is not None and not _positive_times(data):
        raise fail(path, f"{where.replace('extra_info', 'stats')} data is not a list of positive, finite times")
    if "bytes" in extra and not (isinstance(extra["bytes"], int) and not isinstance(extra["bytes"], bool)
                                 and extra["bytes"] > 0):
        raise fail(path, f"{where} bytes is {extra['bytes']!r}, expected a whole number > 0")
    for key in ("gbps", "intensity"):
        if extra.get(key) is not None and not (_is_number(extra[key]) and extra[key] >= 0):
            raise fail(path, f"{where} {key} is {extra[key]!r}, expected a finite number >= 0 or null")
    if "memory" in extra and not _memory_record(extra["memory"]):
        raise fail(path, f"{where} memory is not a record of {{peak_bytes, allocations: numbers >= 0 or null; "
                         f"method, note: text}}")
    for key in INTERVAL_KEYS:
        v = extra.get(key)
        if key in extra and not (isinstance(v, dict) and all(_is_number(v.get(k)) for k in ("value", "lo", "hi"))):
            raise fail(path, f"{where} {key} is not an interval of finite numbers {{value, lo, hi}}")


def _memory_record(m: Any) -> bool:
    if not isinstance(m, dict) or not isinstance(m.get("method"), str) or not isinstance(m.get("note", ""), str):
        return False
    return all(m.get(k) is None or (_is_number(m[k]) and m[k] >= 0)
               for k in ("peak_bytes", "allocations", "retained_bytes", "retained_blocks"))


def _numbers(d: Any, depth: int, positive: bool = False) -> bool:
    """An object of objects ... (depth levels) of finite numbers (> 0 when `positive`)."""
    if not isinstance(d, dict):
        return False
    if depth == 1:
        return all(_is_number(v) and (v > 0 if positive else v >= 0) for v in d.values())
    return all(_numbers(v, depth - 1, positive) for v in d.values())


def _end(x: Any) -> bool:
    return x is None or _is_number(x)


def _fits(fits: Any) -> bool:
    """{workload: {"fits": {impl: {"a": {value, lo, hi}, "b": ..., "max_rel_residual"}}, "crossover": null or
    {n, lo, hi}}}, every number finite (an interval's end may be null)."""
    if not isinstance(fits, dict):
        return False
    for got in fits.values():
        if not isinstance(got, dict) or not isinstance(got.get("fits"), dict):
            return False
        for f in got["fits"].values():
            if not (isinstance(f, dict) and _is_number(f.get("max_rel_residual", 0.0))
                    and all(isinstance(f.get(k), dict) and _is_number(f[k].get("value"))
                            and _end(f[k].get("lo")) and _end(f[k].get("hi")) for k in ("a", "b"))):
                return False
        cx = got.get("crossover")
        if cx is not None and not (isinstance(cx, dict) and _is_number(cx.get("n")) and cx["n"] > 0
                                   and _end(cx.get("lo")) and _end(cx.get("hi"))):
            return False
    return True


def _positive_times(data: Any) -> bool:
    """A list of positive, finite numbers (never true/false). A full run holds some 300 000 of
    them: the usual all-float list is checked by C loops (map, min), any other one item by item."""
    if not isinstance(data, list):
        return False
    if set(map(type, data)) <= {float}:
        return all(map(math.isfinite, data)) and (not data or min(data) > 0)
    return all(_is_number(t) and t > 0 for t in data)


def _check_loopvec(lv: dict[str, Any], path: str | Path) -> None:
    """The run-level fields loopvec reads: of the right type, finite."""
    for key in ("only", "impls", "command"):
        if key in lv and not (isinstance(lv[key], list) and all(isinstance(x, str) for x in lv[key])):
            raise fail(path, f"loopvec.{key} is {lv[key]!r}, expected a list of text")
    if lv.get("threads") is not None and not (isinstance(lv["threads"], int) and not isinstance(lv["threads"], bool)
                                              and lv["threads"] >= 1):
        raise fail(path, f"loopvec.threads is {lv['threads']!r}, expected a whole number >= 1 or null")
    for key in ("profile", "machine", "commit", "isa"):
        if key in lv and lv[key] is not None and not isinstance(lv[key], str):
            raise fail(path, f"loopvec.{key} is a {_kind(lv[key])}, expected text")
    for key in ("numba_startup", "processes", "kernel", "estimator", "timing", "peak_gflops_measured"):
        if key in lv and not isinstance(lv[key], dict):
            raise fail(path, f"loopvec.{key} is a {_kind(lv[key])}, expected an object")
    bw = lv.get("bandwidth")
    if bw is not None and not (isinstance(bw, dict) and _numbers(bw.get("ceiling"), 1, positive=True)
                               and _numbers(bw.get("footprints"), 1, positive=True)
                               and isinstance(bw.get("l3_bytes"), int) and bw["l3_bytes"] > 0
                               and _numbers(bw.get("GBps", {}), 3)
                               and isinstance(bw.get("ceiling_measured", {}), dict)
                               and all(isinstance(v, list) and len(v) == 2 and all(_is_number(x) for x in v)
                                       for v in bw.get("ceiling_measured", {}).values())):
        raise fail(path, "loopvec.bandwidth is not a record of positive ceilings, footprints and l3_bytes")
    if "fits" in lv and not _fits(lv["fits"]):
        raise fail(path, "loopvec.fits is not an object of fits {a, b: {value, lo, hi}} and crossovers")
    for name, v in (lv.get("numba_startup") or {}).items():
        if not isinstance(v, dict) or not all(_is_number(x) and x >= 0 for k, x in v.items() if k != "error"):
            raise fail(path, f"loopvec.numba_startup.{name} is not an object of finite times")
    for case, rec in (lv.get("noise") or {}).items():
        if not isinstance(rec, dict):
            continue  # checked above
        for k, x in rec.items():
            if k in ("reason", "stopped"):
                if not isinstance(x, str):
                    raise fail(path, f"loopvec.noise.{case}.{k} is a {_kind(x)}, expected text")
            elif x is not None and not (isinstance(x, bool) or _is_number(x)):
                raise fail(path, f"loopvec.noise.{case}.{k} is {x!r}, expected a finite number, true/false or null")


def _case_and_impl(b: dict[str, Any]) -> tuple[str, str]:
    """A plain pytest-benchmark entry's (case, implementation)."""
    name: str = b["name"]
    group = b.get("group") if isinstance(b.get("group"), str) and b.get("group") else None
    param = b.get("param") if isinstance(b.get("param"), str) and b.get("param") else None
    base = name.split("[", 1)[0]
    if param:
        case, impl = split_id(param)
        if impl:  # 'dot-n0002-python' -> ('dot-n0002', 'python')
            return case, impl
        return group or base, param
    if group:
        return group, name
    return name, "time"
