"""Reading results files: validation with one-line errors (each field's check: store/fields.py; the
typed runs they load as: store/model.py; finding runs: store/find.py).

A results file is pytest-benchmark JSON, normally written by `loopvec run` (with a
machine_info["loopvec"] section and a top-level "loopvec" section). A plain
pytest-benchmark file is accepted too: its benchmarks get a case (the group, or the test
name) and an implementation (the parameter id, or its '-<impl>' suffix) so that the
table and compare code can treat both alike.
"""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from loopvec.bench.core import split_id
from loopvec.bench.store.fields import ResultsError, check_extra, check_loopvec, fail, is_number
from loopvec.bench.store.schema import FORMAT


MAX_RESULTS_BYTES = 256 * 2**20  # a full run with every raw round is a few MB
__all__ = ["MAX_RESULTS_BYTES", "READS_FORMAT", "ResultsError", "fail", "load_run", "validate"]
READS_FORMAT = FORMAT  # the newest results format this loopvec reads; what loading makes of the older ones: store/model.py


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


# A benchmark's raw rounds as pytest-benchmark writes them: a list of number characters (an
# explicit class: \d and \s made the scan four times slower). A list with anything else (NaN,
# Infinity, text, compact JSON) is not cut: the whole text is then decoded and checked. The
# values of a cut list are not read, so not checked either (a negative or zero time there is
# refused only by a full read); nothing that reads a run without its rounds uses them.
_ROUNDS = re.compile(r'"data": \[[0-9.eE+\-, \n]*\]')


def _without_rounds(text: str) -> Any:
    """The JSON with every benchmark's rounds as null, decoded. The whole text is decoded instead
    (and so checked, and any error placed in the file as it is) unless the lists cut are exactly
    each benchmark's stats "data": one per benchmark, in a text with no "data" null of its own."""
    if '"data": null' in text:
        return json.loads(text)
    slim, cut = _ROUNDS.subn('"data": null', text)
    try:
        data = json.loads(slim)
    except (json.JSONDecodeError, RecursionError):
        return json.loads(text)
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    if isinstance(benchmarks, list) and cut == len(benchmarks) and all(
            isinstance(b, dict) and isinstance(b.get("stats"), dict) and b["stats"].get("data", 0) is None
            for b in benchmarks):
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
                isinstance(v, dict) if key == "noise" else is_number(v) for v in lv[key].values())):
            raise fail(path, f"loopvec.{key} is not an object of " + ("objects" if key == "noise" else "numbers"))
    check_loopvec(lv, path)
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
        if not is_number(med) or med <= 0:
            raise fail(path, f"{what}: {where} has no positive 'stats.median' (got {med!r})")
        for q in ("q1", "q3"):
            if not is_number(stats.get(q)) or stats[q] < 0:
                stats[q] = med
        if stats["q1"] > stats["q3"]:
            stats["q1"], stats["q3"] = stats["q3"], stats["q1"]
        extra = b.setdefault("extra_info", {})
        if not isinstance(extra, dict):
            raise fail(path, f"{where}: 'extra_info' is not an object")
        if "estimate" in extra and not (is_number(extra["estimate"]) and extra["estimate"] > 0):
            raise fail(path, f"{where}: extra_info estimate {extra['estimate']!r} is not a positive, finite time")
        if "size" in extra:
            try:
                extra["size"] = int(extra["size"])
            except (TypeError, ValueError, OverflowError):
                raise fail(path, f"{where}: extra_info size {extra['size']!r} is not a whole number") from None
        check_extra(extra, stats, f"{where}: extra_info", path)
        if extra.get("flops") is not None and not is_number(extra["flops"]):
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
