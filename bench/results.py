"""Reading results files: validation with one-line errors, and finding a machine's newest run.

A results file is pytest-benchmark JSON, normally written by `loopvec run` (with a
machine_info["loopvec"] section and a top-level "loopvec" section). A plain
pytest-benchmark file is accepted too: its benchmarks get a case (the group, or the test
name) and an implementation (the parameter id, or its '-<impl>' suffix) so that the
table and compare code can treat both alike.

Machine folders hold files named <UTC timestamp>_<commit>.json, so sorting by name
sorts by time; `resolve` picks the newest one whose run finished ("complete": true).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.table import split_id


class ResultsError(ValueError):
    """A results file or folder that cannot be used; the message is one line naming it."""


def _fail(path: Path | str, problem: str) -> ResultsError:
    return ResultsError(f"{path}: {' '.join(problem.split())}")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def load_run(path: str | Path) -> dict[str, Any]:
    """The JSON of one results file, validated (ResultsError otherwise) and normalised:
    every benchmark's extra_info has a "case" and an "impl"; q1/q3 default to the median."""
    p = Path(path)
    if p.is_dir():
        raise _fail(p, "is a folder, expected a results file (.json)")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise _fail(p, "no such file") from None
    except OSError as exc:
        raise _fail(p, f"cannot read: {exc.strerror or exc}") from None
    if not raw.strip():
        raise _fail(p, "empty file, expected a results file written by `loopvec run` (pytest-benchmark JSON)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(p, "not JSON (binary data, not UTF-8 text)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if _ends_early(text, exc):
            raise _fail(p, f"truncated JSON: the text ends at line {exc.lineno} before the data is complete "
                           f"(an interrupted copy or write?)") from None
        raise _fail(p, f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    return validate(data, p)


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
        raise _fail(path, f"{what}: the JSON is a {type(data).__name__}, expected an object with "
                          f"'benchmarks' and 'machine_info'")
    if not isinstance(data.get("benchmarks"), list):
        raise _fail(path, f"{what}: no 'benchmarks' list")
    if not isinstance(data.get("machine_info"), dict):
        raise _fail(path, f"{what}: no 'machine_info' object")
    if "loopvec" in data and not isinstance(data["loopvec"], dict):
        raise _fail(path, "the 'loopvec' section is not an object")
    if not isinstance(data["machine_info"].get("loopvec", {}), dict):
        raise _fail(path, "machine_info 'loopvec' is not an object")
    if not data["benchmarks"]:
        raise _fail(path, "contains no timed benchmark")
    seen: dict[tuple[str, str], int] = {}
    for i, b in enumerate(data["benchmarks"]):
        where = f"benchmark {i + 1}"
        if not isinstance(b, dict):
            raise _fail(path, f"{what}: {where} is not an object")
        name = b.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(path, f"{what}: {where} has no 'name'")
        where = f"benchmark {i + 1} ({name})"
        stats = b.get("stats")
        if not isinstance(stats, dict):
            raise _fail(path, f"{what}: {where} has no 'stats'")
        med = stats.get("median")
        if not _is_number(med) or med <= 0:
            raise _fail(path, f"{what}: {where} has no positive 'stats.median' (got {med!r})")
        for q in ("q1", "q3"):
            if not _is_number(stats.get(q)) or stats[q] < 0:
                stats[q] = med
        if stats["q1"] > stats["q3"]:
            stats["q1"], stats["q3"] = stats["q3"], stats["q1"]
        extra = b.setdefault("extra_info", {})
        if not isinstance(extra, dict):
            raise _fail(path, f"{where}: 'extra_info' is not an object")
        if "size" in extra:
            try:
                extra["size"] = int(extra["size"])
            except (TypeError, ValueError):
                raise _fail(path, f"{where}: extra_info size {extra['size']!r} is not a whole number") from None
        if extra.get("flops") is not None and not _is_number(extra["flops"]):
            raise _fail(path, f"{where}: extra_info flops {extra['flops']!r} is not a number")
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


def is_complete(data: dict[str, Any]) -> bool:
    """A run that finished; plain pytest-benchmark files (no loopvec section) count as complete."""
    return bool(data.get("loopvec", {}).get("complete", True))


def _run_files(folder: Path) -> list[Path]:
    return sorted((f for f in folder.glob("*.json") if f.is_file() and not f.name.startswith(".")),
                  key=lambda f: f.name, reverse=True)


def newest_complete(folder: str | Path, warnings: list[str] | None = None) -> Path:
    """The newest complete run of the whole suite in a machine folder (a run limited
    by --only counts only when there is nothing else). Files that cannot be read and
    the runs passed over are reported in `warnings` (when given)."""
    folder = Path(folder)
    files = _run_files(folder)
    if not files:
        subs = sorted(d.name for d in folder.iterdir() if d.is_dir() and _run_files(d)) if folder.is_dir() else []
        if subs:
            raise _fail(folder, "holds machine folders, not runs; name one of them, e.g. "
                                + ", ".join(str(folder / s) for s in subs[:3]))
        raise _fail(folder, "no results file (*.json) in this folder")
    notes: list[str] = []
    partial: Path | None = None  # newest complete run of a selection (--only/--impl), if no whole run
    for f in files:
        try:
            data = load_run(f)
        except ResultsError as exc:
            notes.append(f"skipped {exc}")
            continue
        lv = data.get("loopvec", {})
        if is_complete(data):
            if lv.get("only"):  # a run of a few cases must not stand for the machine
                partial = partial or f
                notes.append(f"skipped {f}: a partial run (--only {' '.join(lv['only'])})")
                continue
            if warnings is not None:
                warnings.extend(notes)
            return f
        notes.append(f"skipped {f}: incomplete run ({lv.get('timed', '?')} of {lv.get('planned', '?')} cases)")
    if partial is not None:
        if warnings is not None:
            warnings.extend(n for n in notes if str(partial) not in n)
        return partial
    raise _fail(folder, f"no complete run among its {len(files)} results file(s) ({'; '.join(notes)})")


def resolve(arg: str | Path, warnings: list[str] | None = None, results_dir: str | Path = "results") -> Path:
    """A results file, or a machine folder (its newest complete run). A bare machine name
    that is not a path here is looked up as <results_dir>/<name>."""
    p = Path(arg)
    if not p.exists():
        alt = Path(results_dir) / str(arg)
        if not p.is_absolute() and len(p.parts) == 1 and alt.is_dir():
            p = alt
        else:
            raise _fail(p, "no such file or folder")
    if p.is_dir():
        return newest_complete(p, warnings)
    return p


def newest_runs(results_dir: str | Path, warnings: list[str] | None = None) -> dict[str, Path]:
    """{machine folder name: its newest complete run}, for every machine folder of
    results_dir that has one, in name order; the others are reported in `warnings`."""
    root = Path(results_dir)
    out: dict[str, Path] = {}
    for d in sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")),
                    key=lambda d: d.name):
        if not _run_files(d):
            continue
        try:
            out[d.name] = newest_complete(d, warnings)
        except ResultsError as exc:
            if warnings is not None:
                warnings.append(f"left out machine folder {exc}")
    return out
