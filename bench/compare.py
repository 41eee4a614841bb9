"""`loopvec compare A B [C ...]`: results of several runs or machines side by side.

Opens with what differs between the machines (CPU, cores, BLAS, threads, versions,
environment), then for every case and implementation timed in all runs: each run's
median and its ratio to the first run ("~ same" when the interquartile ranges overlap,
so noise is not reported as a speedup), each run's speedup over pure Python, and the
cases only some runs have. `--fail-slower PCT` turns it into a regression guard.
"""
from __future__ import annotations

import argparse
import os
import string
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cli import CLIError
from bench.results import ResultsError, is_complete, load_run, resolve
from bench.cases import YARDSTICK
from bench.table import IMPL_ORDER, Row, fmt_time, rows

GUARD_RULE = (
    "--fail-slower PCT (a regression guard for CI): exit 1 when any timing of a later run\n"
    "has a median more than PCT percent above the first run's median for the same case\n"
    "and implementation. The rule looks at medians only: a wide spread does not excuse a\n"
    "slowdown (such lines are marked 'inside the spread'), so choose PCT above your\n"
    "machines' run-to-run noise. Timings missing from a run are listed, not counted.")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="compare results files or machines side by side",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Compare two or more runs: what differs between the machines (CPU, cores, BLAS\n"
            "library/kernel/threads, Python/NumPy/Numba versions, threads, environment), each\n"
            "case's median time per run with its ratio to the first run ('~ same' when the\n"
            "runs' interquartile ranges overlap), and each run's speedup over pure Python.\n\n"
            "Each RUN is a results file, or a machine folder (results/<machine>, or just\n"
            "<machine>) meaning its newest complete run.\n\n"
            f"{GUARD_RULE}\n\n"
            "exit codes: 0 compared, 1 the regression guard failed, 2 bad input\n\n"
            "example: loopvec compare results/laptop results/ci-runner --fail-slower 25"),
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="results file or machine folder (at least two)")
    p.add_argument("--fail-slower", type=_percent, metavar="PCT",
                   help="exit 1 if any timing of a later run is more than PCT%% slower than the first run")
    p.add_argument("--results-dir", default="results", metavar="DIR",
                   help="where a bare machine name is looked up (default: ./results)")
    p.set_defaults(func=cmd_compare)


def _percent(text: str) -> float:
    try:
        v = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage such as 10 or 25, got {text!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a percentage >= 0, got {text!r}")
    return v


@dataclass
class Run:
    label: str  # A, B, C, ...
    path: Path
    data: dict[str, Any]
    rows: dict[str, Row]

    @property
    def machine(self) -> str:
        return str(self.data.get("loopvec", {}).get("machine") or self.path.parent.name or "?")


def _labels(n: int) -> list[str]:
    letters = string.ascii_uppercase
    return [letters[i] if i < 26 else f"R{i + 1}" for i in range(n)]


def load_runs(args: list[str], results_dir: str = "results", warnings: list[str] | None = None) -> list[Run]:
    out = []
    for label, arg in zip(_labels(len(args)), args):
        path = resolve(arg, warnings, results_dir)
        data = load_run(path)
        out.append(Run(label, path, data, {r.case: r for r in rows(data)}))
    return out


# ------------------------------------------------------------------ machines

def describe(data: dict[str, Any]) -> dict[str, str]:
    """What a run's speed depends on besides the code, as label -> text ('?' when unknown)."""
    mi = data.get("machine_info", {})
    lm = mi.get("loopvec", {})
    lv = data.get("loopvec")
    cpu = mi.get("cpu", {}) if isinstance(mi.get("cpu"), dict) else {}
    blas = [b for b in lm.get("blas", []) if isinstance(b, dict) and b.get("user_api") == "blas"]
    vers = dict(lm.get("versions", {}))
    d: dict[str, str] = {
        "CPU": str(lm.get("cpu_model") or cpu.get("brand_raw") or mi.get("processor") or "?"),
        "logical cores": str(lm.get("logical_cores") or cpu.get("count") or "?"),
        "BLAS library": ", ".join(f"{b.get('internal_api')} {b.get('version')}" for b in blas) or "?",
        "BLAS kernel": ", ".join(str(b.get("architecture")) for b in blas) or "?",
        "BLAS threads": ", ".join(str(b.get("num_threads")) for b in blas) or "?",
        "loopvec threads": ("?" if lv is None else str(lv.get("threads") or "library default")),
        "Numba threads": str(lm.get("numba", {}).get("num_threads", "?")),
        "Python": str(vers.pop("python", None) or mi.get("python_version") or "?"),
        "NumPy": str(vers.pop("numpy", "?")),
        "Numba": str(vers.pop("numba", "?")),
    }
    for k, v in vers.items():
        d[k] = str(v)
    d["OS"] = str(lm.get("os") or " ".join(x for x in (mi.get("system"), mi.get("release")) if x) or "?")
    d["profile"] = str((lv or {}).get("profile", "?"))
    return d


def env_of(data: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in data.get("machine_info", {}).get("loopvec", {}).get("env", {}).items()}


def machine_lines(runs: list[Run]) -> list[str]:
    descs = [describe(r.data) for r in runs]
    envs = [env_of(r.data) for r in runs]
    keys = list(dict.fromkeys(k for d in descs for k in d))
    table: list[tuple[str, list[str]]] = []
    same: list[str] = []
    for k in keys:
        vals = [d.get(k, "?") for d in descs]
        if all(v == "?" for v in vals):
            continue
        (same.append(f"{k} {vals[0]}") if len(set(vals)) == 1 else table.append((k, vals)))
    env_keys = sorted({k for e in envs for k in e})
    for k in env_keys:
        vals = [e.get(k, "(unset)") for e in envs]
        (same.append(f"{k}={vals[0]}") if len(set(vals)) == 1 else table.append((k, vals)))
    if not env_keys:
        same.append("no OPENBLAS_/OMP_/MKL_/NUMBA_ variables set")
    lines = []
    if table:
        w0 = max(len(k) for k, _ in table) + 2
        widths = [max(len(r.label), *(len(vals[i]) for _, vals in table)) + 2 for i, r in enumerate(runs)]
        lines.append("what differs between the runs' machines and settings:")
        lines.append("  " + f"{'':<{w0}}" + "".join(f"{r.label:<{w}}" for r, w in zip(runs, widths)).rstrip())
        for k, vals in table:
            lines.append("  " + f"{k:<{w0}}" + "".join(f"{v:<{w}}" for v, w in zip(vals, widths)).rstrip())
    else:
        lines.append("the runs' machines and settings are the same as far as recorded")
    if same:
        lines += textwrap.wrap("same in all: " + "; ".join(same), width=100, subsequent_indent="  ",
                               break_on_hyphens=False)
    return lines


def run_lines(runs: list[Run]) -> list[str]:
    lines = [f"runs (ratios below are to run {runs[0].label}):"]
    for r in runs:
        lv = r.data.get("loopvec", {})
        when = str(r.data.get("datetime", "?"))[:16].replace("T", " ")
        peak = ", ".join(f"{k} {v:.1f}" for k, v in lv.get("peak_gflops", {}).items())
        bits = [f"{when} UTC" if when != "?" else "date ?", f"commit {lv.get('commit', '?')}" if lv else "plain pytest-benchmark file"]
        if peak:
            bits.append(f"peak {peak} GFLOP/s")
        if not is_complete(r.data):
            bits.append(f"INCOMPLETE: {lv.get('timed', '?')} of {lv.get('planned', '?')} cases")
        lines.append(f"  {r.label}  {r.machine}  {r.path}")
        lines.append(f"     {'; '.join(bits)}")
    return lines


# ------------------------------------------------------------------ timings

def overlap(a: Row, b: Row, impl: str) -> bool:
    """Whether the interquartile ranges of impl's timings in a and b overlap."""
    return max(a.q1[impl], b.q1[impl]) <= min(a.q3[impl], b.q3[impl])


def ratio_text(first: float, other: float) -> str:
    r = other / first
    if r == 1:
        return "same median"
    return f"{1 / r:.3g}x faster" if r < 1 else f"{r:.3g}x slower"


def fmt_speedup(sp: float) -> str:
    return f"x{sp:,.0f}" if sp >= 1000 else f"x{sp:.3g}"


def common_pairs(runs: list[Run]) -> list[tuple[str, str]]:
    """(case, impl) timed in every run, in the first run's order."""
    out = []
    for case, row in runs[0].rows.items():
        if all(case in r.rows for r in runs[1:]):
            impls_all = [i for i in _ordered(row.median) if all(i in r.rows[case].median for r in runs[1:])]
            out += [(case, i) for i in impls_all]
    return out


def _ordered(names: Any) -> list[str]:
    names = list(names)
    return [i for i in IMPL_ORDER if i in names] + sorted(set(names) - set(IMPL_ORDER))


def timing_lines(runs: list[Run], pairs: list[tuple[str, str]]) -> list[str]:
    a = runs[0]
    wc = max([len(c) for c, _ in pairs] + [4]) + 2
    wi = max([len(i) for _, i in pairs] + [4]) + 2
    head = f"{'case':<{wc}}{'impl':<{wi}}{a.label:>10}"
    for r in runs[1:]:
        head += f"{r.label:>12}{r.label + ' vs ' + a.label:>16}"
    lines = [f"median time per call; '{runs[1].label} vs {a.label}' = ratio of the medians, '~ same' where "
             f"the interquartile ranges overlap", "", head, "-" * len(head)]
    prev = None
    for case, impl in pairs:
        line = f"{case if case != prev else '':<{wc}}{impl:<{wi}}{fmt_time(a.rows[case].median[impl]):>10}"
        prev = case
        for r in runs[1:]:
            row = r.rows[case]
            rel = "~ same" if overlap(a.rows[case], row, impl) else ratio_text(a.rows[case].median[impl],
                                                                                row.median[impl])
            line += f"{fmt_time(row.median[impl]):>12}{rel:>16}"
        lines.append(line)
    return lines


def summary_lines(runs: list[Run], pairs: list[tuple[str, str]]) -> list[str]:
    a = runs[0]
    lines = []
    for r in runs[1:]:
        faster, slower = [], []
        for case, impl in pairs:
            if overlap(a.rows[case], r.rows[case], impl):
                continue
            ratio = r.rows[case].median[impl] / a.rows[case].median[impl]
            (faster if ratio < 1 else slower).append((ratio, case, impl))
        n_diff = len(faster) + len(slower)
        text = f"{r.label} vs {a.label}: {n_diff} of {len(pairs)} timings differ beyond the spread"
        if faster:
            ratio, case, impl = min(faster)
            text += f"; {len(faster)} faster in {r.label} (most: {case} {impl}, {1 / ratio:.3g}x)"
        if slower:
            ratio, case, impl = max(slower)
            text += f"; {len(slower)} slower in {r.label} (most: {case} {impl}, {ratio:.3g}x)"
        lines.append(text)
    return lines


def speedup_lines(runs: list[Run], pairs: list[tuple[str, str]]) -> list[str]:
    # the numpy-matmuls yardstick is part of numpy's forward, not an implementation: no speedup
    sel = [(c, i) for c, i in pairs if i not in ("python", YARDSTICK)
           and any(r.rows[c].speedup(i) is not None for r in runs)]
    if not sel:
        return ["speedup over pure Python: no case has pure Python timings to compare with"]
    wc = max(len(c) for c, _ in sel) + 2
    wi = max(len(i) for _, i in sel) + 2
    head = f"{'case':<{wc}}{'impl':<{wi}}" + "".join(f"{r.label:>12}" for r in runs)
    lines = ["speedup over pure Python, side by side (xN: pure Python's median / this one's, within each run)",
             "", head, "-" * len(head)]
    prev = None
    for case, impl in sel:
        cells = []
        for r in runs:
            sp = r.rows[case].speedup(impl)
            cells.append(fmt_speedup(sp) if sp is not None else r.rows[case].note.get("python", "-"))
        lines.append(f"{case if case != prev else '':<{wc}}{impl:<{wi}}" + "".join(f"{c:>12}" for c in cells))
        prev = case
    return lines


def partial_lines(runs: list[Run]) -> list[str]:
    """Cases and (case, impl) timings present in only some runs."""
    labels = [r.label for r in runs]
    cases = list(dict.fromkeys(c for r in runs for c in r.rows))
    out = []
    for case in cases:
        have = [r for r in runs if case in r.rows]
        if len(have) < len(runs):
            impl_list = ", ".join(_ordered({i for r in have for i in r.rows[case].median}))
            out.append(f"  {case}: only in {', '.join(r.label for r in have)} ({impl_list})")
            continue
        for impl in _ordered({i for r in runs for i in r.rows[case].median}):
            timed = [r.label for r in runs if impl in r.rows[case].median]
            if len(timed) == len(runs):
                continue
            why = [f"{r.label}: {r.rows[case].note[impl]}" for r in runs
                   if impl not in r.rows[case].median and impl in r.rows[case].note]
            out.append(f"  {case} {impl}: timed only in {', '.join(timed)}" + (f" ({'; '.join(why)})" if why else ""))
    if not out:
        return []
    return [f"in only some of the runs {', '.join(labels)} (not compared above):"] + out


def guard(runs: list[Run], pairs: list[tuple[str, str]], pct: float) -> tuple[bool, list[str]]:
    a = runs[0]
    bad = []
    for r in runs[1:]:
        for case, impl in pairs:
            t0, t1 = a.rows[case].median[impl], r.rows[case].median[impl]
            if t1 > t0 * (1 + pct / 100):
                noisy = "; inside the spread, could be noise" if overlap(a.rows[case], r.rows[case], impl) else ""
                bad.append(f"  {r.label} {case} {impl}: {fmt_time(t0)} -> {fmt_time(t1)}, "
                           f"{100 * (t1 / t0 - 1):.0f}% slower{noisy}")
    others = ", ".join(r.label for r in runs[1:])
    if bad:
        return True, [f"REGRESSION (--fail-slower {pct:g}): {len(bad)} timing(s) of {others} more than "
                      f"{pct:g}% slower than {a.label}:"] + bad
    return False, [f"regression guard (--fail-slower {pct:g}): no timing of {others} is more than {pct:g}% "
                   f"slower than {a.label}"]


# ------------------------------------------------------------------ command

def cmd_compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise CLIError("give at least two runs to compare (results files or machine folders), "
                       "e.g. loopvec compare results/laptop results/ci-runner")
    warnings: list[str] = []
    try:
        runs = load_runs(args.runs, args.results_dir, warnings)
    except ResultsError as exc:
        raise CLIError(str(exc)) from None
    for w in warnings:
        print(f"note: {w}", file=sys.stderr)
    pairs = common_pairs(runs)
    if not pairs:
        desc = " and ".join(f"{r.path} ({len(r.rows)} case(s), e.g. {next(iter(r.rows))})" for r in runs)
        raise CLIError(f"no case timed in all runs: {desc}")
    out = run_lines(runs) + [""] + machine_lines(runs) + [""] + timing_lines(runs, pairs) + [""]
    out += summary_lines(runs, pairs) + [""] + speedup_lines(runs, pairs)
    partial = partial_lines(runs)
    if partial:
        out += [""] + partial
    failed = False
    if args.fail_slower is not None:
        failed, lines = guard(runs, pairs, args.fail_slower)
        out += [""] + lines
    try:
        print("\n".join(out), flush=True)
    except BrokenPipeError:  # `loopvec compare ... | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if failed else 0
