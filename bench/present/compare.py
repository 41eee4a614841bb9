"""Several runs side by side: what differs between their machines, which timings changed, by
how much (with a 95% interval), the speedups of each run, and their spread across runs.

One decision rule. B/A of a timing has one 95% interval: a two-level bootstrap over
each run's own worker processes and their passes (measure/stats.py, unpaired: the
runs' processes are different ones), so the spread between processes that each run
measured is in it, and no constant from another machine is. A timing is "slower"
when the whole interval lies above 1 + PCT/100, "faster" when it lies below
1 / (1 + PCT/100), else "~ same"; PCT is --fail-slower's when given (so the table and
the exit code always agree), else --min-change (default 5%): the smallest change
worth naming, a choice of the reader's, not a noise floor.
"""
from __future__ import annotations

import string
import textwrap
from dataclasses import dataclass
from pathlib import Path

from loopvec.bench.measure import stats
from loopvec.bench.measure.machine import describe
from loopvec.bench.core import YARDSTICK, known
from loopvec.bench.core import fmt_ratio, fmt_time, pm
from loopvec.bench.core import ordered
from loopvec.bench.present.rows import Row, rows
from loopvec.bench.store.find import is_complete, resolve
from loopvec.bench.store.model import Run as Results, load

MIN_CHANGE_PCT = 5.0  # the default smallest change named in the table (a reader's choice, not noise)


@dataclass
class Run:
    label: str  # A, B, C, ...
    path: Path
    data: Results
    rows: dict[str, Row]

    @property
    def machine(self) -> str:
        return str(self.data.machine or self.path.parent.name or "?")


def _labels(n: int) -> list[str]:
    return [string.ascii_uppercase[i] if i < 26 else f"R{i + 1}" for i in range(n)]


def load_runs(args: list[str], results_dir: str = "results", warnings: list[str] | None = None) -> list[Run]:
    out = []
    for label, arg in zip(_labels(len(args)), args):
        path = resolve(arg, warnings, results_dir)
        data = load(path)
        out.append(Run(label, path, data, {r.case: r for r in rows(data)}))
    return out


def _described(data: Results) -> dict[str, str]:
    """describe(), with each speed-relevant environment variable on its own line."""
    d = describe(data.meta)
    d.pop("environment", None)
    return d


def machine_lines(runs: list[Run]) -> list[str]:
    descs = [_described(r.data) for r in runs]
    envs = [r.data.env for r in runs]
    for d, env in zip(descs, envs):
        for k in sorted({k for e in envs for k in e}):
            d[k] = env.get(k, "(unset)")
    table: list[tuple[str, list[str]]] = []
    same: list[str] = []
    for k in dict.fromkeys(k for d in descs for k in d):
        vals = [d.get(k, "?") for d in descs]
        if all(v == "?" for v in vals):
            continue
        (same.append(f"{k} {vals[0]}") if len(set(vals)) == 1 else table.append((k, vals)))
    lines = []
    if table:
        w0 = max(len(k) for k, _ in table) + 2
        widths = [max(len(r.label), *(len(vals[i]) for _, vals in table)) + 2 for i, r in enumerate(runs)]
        lines.append("what differs between the runs' machines and settings:")
        lines.append("  " + f"{'':<{w0}}" + "".join(f"{r.label:<{w}}" for r, w in zip(runs, widths)).rstrip())
        lines += ["  " + f"{k:<{w0}}" + "".join(f"{v:<{w}}" for v, w in zip(vals, widths)).rstrip()
                  for k, vals in table]
    else:
        lines.append("the runs' machines and settings are the same as far as recorded")
    if same:
        lines += textwrap.wrap("same in all: " + "; ".join(same), width=100, subsequent_indent="  ",
                               break_on_hyphens=False)
    return lines


def run_lines(runs: list[Run]) -> list[str]:
    lines = [f"runs (ratios below are to run {runs[0].label}):"]
    for r in runs:
        d = r.data
        when = str(d.datetime or "?")[:16].replace("T", " ")
        peak = ", ".join(f"{k} {v:.1f}" for k, v in d.peak_gflops.items())
        bits = [f"{when} UTC", f"commit {known(d.commit)}" if not d.plain else "plain pytest-benchmark file"]
        if peak:
            bits.append(f"peak {peak} GFLOP/s")
        if not d.plain and d.format < 2:
            bits.append("older file: medians, no intervals")
        if not is_complete(d):
            bits.append(f"INCOMPLETE: {known(d.finished)} of {known(d.planned)} cases")
        lines.append(f"  {r.label}  {r.machine}  {r.path}")
        lines.append(f"     {'; '.join(bits)}")
    return lines



def change(a: Row, b: Row, impl: str) -> stats.Interval:
    """B/A of one timing with its interval (no interval, value only, for files without passes)."""
    iv = None
    if a.passes.get(impl) and b.passes.get(impl):
        iv = stats.ratio(b.passes[impl], a.passes[impl], key=f"{a.case}:{impl}", paired=False,
                         num_workers=b.workers.get(impl), den_workers=a.workers.get(impl))
    if iv is None:
        v = b.estimate[impl] / a.estimate[impl]
        iv = stats.Interval(v, v, v)
    return iv


def verdict(iv: stats.Interval, pct: float) -> str:
    """'slower', 'faster' or 'same': the one rule behind the table, the summary and --fail-slower."""
    if iv.lo > 1 + pct / 100:
        return "slower"
    if iv.hi < 1 / (1 + pct / 100):
        return "faster"
    return "same"


def changed(iv: stats.Interval, pct: float) -> bool:
    return verdict(iv, pct) != "same"


def change_text(iv: stats.Interval, pct: float) -> str:
    if not changed(iv, pct):
        return "~ same"
    return (f"{1 / iv.value:.3g}x faster" if iv.value < 1 else f"{iv.value:.3g}x slower") + f" {pm(iv)}"


def common_pairs(runs: list[Run]) -> list[tuple[str, str]]:
    """(case, impl) timed in every run, in the first run's order."""
    out = []
    for case, row in runs[0].rows.items():
        if all(case in r.rows for r in runs[1:]):
            out += [(case, i) for i in ordered(row.estimate) if all(i in r.rows[case].estimate for r in runs[1:])]
    return out


def code_lines(runs: list[Run], pairs: list[tuple[str, str]]) -> list[str]:
    """Implementations whose source differs between runs (or is not recorded in one of them)."""
    a = runs[0]
    out = []
    for impl in ordered({i for _, i in pairs}):
        hashes = [next((r.rows[c].code.get(impl) for c, i in pairs if i == impl and r.rows[c].code.get(impl)), None)
                  for r in runs]
        if any(h is None for h in hashes) and any(h is not None for h in hashes):
            out.append(f"  {impl}: its source is recorded only in {', '.join(r.label for r, h in zip(runs, hashes) if h)}"
                       " (the other runs predate source hashes): its timings may compare different code")
        elif len(set(hashes)) > 1:
            out.append(f"  {impl}'s code differs between these runs ("
                       + ", ".join(f"{r.label} {h}" for r, h in zip(runs, hashes)) + f"): a change against {a.label} "
                       "may be the code, not the machine")
    return ["implementations whose code differs:"] + out if out else []


def timing_lines(runs: list[Run], pairs: list[tuple[str, str]], pct: float) -> list[str]:
    a = runs[0]
    wc = max([len(c) for c, _ in pairs] + [4]) + 2
    wi = max([len(i) for _, i in pairs] + [4]) + 2
    head = f"{'case':<{wc}}{'impl':<{wi}}{a.label:>10}"
    for r in runs[1:]:
        head += f"{r.label:>12}{r.label + ' vs ' + a.label:>22}"
    lines = [f"time per call (the estimate); 'B vs A' = the ratio with its 95% interval (over each run's worker "
             f"processes and passes), '~ same' unless the whole interval is beyond ±{pct:g}%", "", head,
             "-" * len(head)]
    prev = None
    for case, impl in pairs:
        line = f"{case if case != prev else '':<{wc}}{impl:<{wi}}{fmt_time(a.rows[case].estimate[impl]):>10}"
        prev = case
        for r in runs[1:]:
            line += (f"{fmt_time(r.rows[case].estimate[impl]):>12}"
                     f"{change_text(change(a.rows[case], r.rows[case], impl), pct):>22}")
        lines.append(line)
    return lines


def summary_lines(runs: list[Run], pairs: list[tuple[str, str]], pct: float) -> list[str]:
    a = runs[0]
    lines = []
    for r in runs[1:]:
        ivs = [(change(a.rows[c], r.rows[c], i), c, i) for c, i in pairs]
        diff = [(iv, c, i) for iv, c, i in ivs if changed(iv, pct)]
        faster = [x for x in diff if x[0].value < 1]
        slower = [x for x in diff if x[0].value >= 1]
        text = f"{r.label} vs {a.label}: {len(diff)} of {len(pairs)} timings changed by more than {pct:g}% (whole interval)"
        if faster:
            iv, c, i = min(faster, key=lambda x: x[0].value)
            text += f"; {len(faster)} faster in {r.label} (most: {c} {i}, {1 / iv.value:.3g}x)"
        if slower:
            iv, c, i = max(slower, key=lambda x: x[0].value)
            text += f"; {len(slower)} slower in {r.label} (most: {c} {i}, {iv.value:.3g}x)"
        lines.append(text)
    return lines


def _ratio_cells(r: Run, case: str, impl: str) -> tuple[float | None, stats.Interval | None]:
    row = r.rows[case]
    return row.speedup(impl), row.speedup_iv.get(impl)


def speedup_lines(runs: list[Run], pairs: list[tuple[str, str]]) -> list[str]:
    sel = [(c, i) for c, i in pairs if i not in ("python", YARDSTICK) and any(r.rows[c].speedup(i) for r in runs)]
    if not sel:
        return ["speedup over pure Python: no case has pure Python timings to compare with"]
    wc = max(len(c) for c, _ in sel) + 2
    wi = max(len(i) for _, i in sel) + 2
    spread = len(runs) >= 3
    head = f"{'case':<{wc}}{'impl':<{wi}}" + "".join(f"{r.label:>16}" for r in runs) + (f"{'spread':>10}" if spread else "")
    lines = ["speedup over pure Python, side by side (xN with its 95% interval, within each run)"
             + ("; spread = largest/smallest - 1 across the runs" if spread else ""), "", head, "-" * len(head)]
    prev = None
    for case, impl in sel:
        cells, vals = [], []
        for r in runs:
            sp, iv = _ratio_cells(r, case, impl)
            if sp is not None:
                vals.append(sp)
            cells.append(f"x{fmt_ratio(sp)} {pm(iv) if iv else ''}".rstrip() if sp is not None
                         else r.rows[case].note.get("python", "-"))
        tail = f"{100 * (max(vals) / min(vals) - 1):>9.1f}%" if spread and len(vals) == len(runs) else ""
        lines.append(f"{case if case != prev else '':<{wc}}{impl:<{wi}}" + "".join(f"{c:>16}" for c in cells) + tail)
        prev = case
    return lines


def reproducibility_lines(runs: list[Run], pairs: list[tuple[str, str]]) -> list[str]:
    """Three or more runs: how far each ratio strays from its median across the runs, and how often
    the other runs' values fall inside each run's own interval."""
    if len(runs) < 3:
        return []
    worst, inside, total, n = 0.0, 0, 0, 0
    rows_out = []
    for case, impl in pairs:
        for key, get in (("python", lambda row: row.speedup_iv.get(impl)), ("numpy", lambda row: row.vs_numpy_iv.get(impl))):
            ivs = [get(r.rows[case]) for r in runs]
            if any(iv is None for iv in ivs):
                continue
            vals = sorted(iv.value for iv in ivs)
            med = vals[len(vals) // 2]
            dev = max(abs(v / med - 1) for v in vals)
            worst = max(worst, dev)
            n += 1
            hits = sum(all(other.value >= iv.lo and other.value <= iv.hi for other in ivs if other is not iv)
                       for iv in ivs)
            inside += hits
            total += len(ivs)
            rows_out.append((dev, f"  {case} {impl} vs {key}: " + ", ".join(f"{iv.value:.4g}" for iv in ivs)
                             + f" (max {100 * dev:.1f}% from the median)"))
    if not n:
        return []
    lines = [f"reproducibility over {len(runs)} runs: {n} ratios; the largest distance from its median is "
             f"{100 * worst:.1f}%; in {inside} of {total} cases ({100 * inside / total:.0f}%) the other runs' values "
             f"lie inside a run's own 95% interval", "the five ratios that moved most:"]
    lines += [t for _, t in sorted(rows_out, reverse=True)[:5]]
    return lines


def partial_lines(runs: list[Run]) -> list[str]:
    cases = list(dict.fromkeys(c for r in runs for c in r.rows))
    out = []
    for case in cases:
        have = [r for r in runs if case in r.rows]
        if len(have) < len(runs):
            names = ", ".join(ordered({i for r in have for i in r.rows[case].estimate}))
            out.append(f"  {case}: only in {', '.join(r.label for r in have)} ({names})")
            continue
        for impl in ordered({i for r in runs for i in r.rows[case].estimate}):
            timed = [r.label for r in runs if impl in r.rows[case].estimate]
            if len(timed) < len(runs):
                why = [f"{r.label}: {r.rows[case].note[impl]}" for r in runs
                       if impl not in r.rows[case].estimate and impl in r.rows[case].note]
                out.append(f"  {case} {impl}: timed only in {', '.join(timed)}" + (f" ({'; '.join(why)})" if why else ""))
    return ["in only some of the runs (not compared above):"] + out if out else []


def guard(runs: list[Run], pairs: list[tuple[str, str]], pct: float) -> tuple[bool, list[str]]:
    """Fail when the lower end of B/A's interval is more than pct% above 1."""
    a = runs[0]
    bad = []
    for r in runs[1:]:
        for case, impl in pairs:
            iv = change(a.rows[case], r.rows[case], impl)
            if verdict(iv, pct) == "slower":
                bad.append(f"  {r.label} {case} {impl}: {fmt_time(a.rows[case].estimate[impl])} -> "
                           f"{fmt_time(r.rows[case].estimate[impl])}, {100 * (iv.value - 1):.0f}% slower "
                           f"(95% interval {100 * (iv.lo - 1):.0f}% to {100 * (iv.hi - 1):.0f}%)")
    others = ", ".join(r.label for r in runs[1:])
    if bad:
        return True, [f"REGRESSION (--fail-slower {pct:g}): {len(bad)} timing(s) of {others} slower than {a.label} "
                      f"by more than {pct:g}% even at the low end of the interval:"] + bad
    return False, [f"regression guard (--fail-slower {pct:g}): no timing of {others} is more than {pct:g}% slower "
                   f"than {a.label} at the low end of its interval"]


def report(runs: list[Run], fail_slower: float | None, min_change: float = MIN_CHANGE_PCT
           ) -> tuple[list[str], bool]:
    pairs = common_pairs(runs)
    pct = fail_slower if fail_slower is not None else min_change  # one threshold: table, summary and guard agree
    out = run_lines(runs) + [""] + machine_lines(runs) + [""]
    code = code_lines(runs, pairs)
    out += (code + [""] if code else []) + timing_lines(runs, pairs, pct) + [""] + summary_lines(runs, pairs, pct)
    one = [r.label for r in runs if not any(w for row in r.rows.values() for w in row.workers.values())]
    if one:
        out += [f"note: {', '.join(one)} ran in one process (files from before worker processes): their intervals "
                "cannot see the spread between processes, and their changes may be over-stated"]
    out += [""] + speedup_lines(runs, pairs)
    rep = reproducibility_lines(runs, pairs)
    out += ([""] + rep if rep else [])
    partial = partial_lines(runs)
    out += ([""] + partial if partial else [])
    failed = False
    if fail_slower is not None:
        failed, lines = guard(runs, pairs, fail_slower)
        out += [""] + lines
    return out, failed
