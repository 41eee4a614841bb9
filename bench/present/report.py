"""`loopvec report`: results/README.md from every machine's newest complete run, with the plots.

For each machine folder (RESULTS_DIR/<machine>/) the newest complete run is used; the
README holds, per machine, the table of `loopvec run` and the run's environment, and
links the plots (present/plots.py). Everything is written atomically, so concurrent
reports never leave a half-written page.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from loopvec.bench.measure.machine import describe
from loopvec.bench.present.explain import breakdown_lines, why_lines
from loopvec.bench.present.plots import MARKER, file_stem, plot_gflops, plot_ladder, plot_speedup, plot_time
from loopvec.bench.present.plots_across import plot_headline, plot_machines_forward
from loopvec.bench.present.readme_block import results_block, update_readme
from loopvec.bench.present.table import format_table
from loopvec.bench.store.atomic import write_atomic
from loopvec.bench.store.find import newest_runs
from loopvec.bench.store.results import ResultsError, load_run


MAX_PLOTTED = 6


class ReportError(ValueError):
    """Nothing to report from, or nowhere to write it; one line."""


# ------------------------------------------------------------------ README

INTRO = """\
# Benchmark results

{marker}

The newest complete run of every machine folder here (`<machine>/<UTC time>_<commit>.json`,
written by `loopvec run`), as tables and plots. Regenerate this page and its plots with

    loopvec report            # or: loopvec report RESULTS_DIR

after adding a run (`loopvec run --machine NAME`); compare two machines or runs in the
terminal with `loopvec compare results/A results/B`.

## How to read the tables

- Each cell is the **time per call** of one implementation on one case: the lower quartile of
  the fastest round of each interleaved pass, over all the run's worker processes
  (pytest-benchmark rounds; every round, with its worker and pytest-benchmark's own median
  and IQR, is in the JSON; the IQR is shaded in the plots).
- **xN ±P%** is the speedup over pure Python on the same case in the same run, the ratio of the
  two times, with its 95% interval (a two-level bootstrap: worker processes, then their passes,
  paired; widened by Student's t for the number of workers). x0.5 means twice as *slow* as the
  loops. **NOISY** marks a case whose
  widest interval is wider than ±10%, with the reason when it is known.
- **capped**: pure Python was not timed because one call would take too long; **WRONG**: the
  implementation's answer disagreed with numpy, so it was not timed.
- **GFLOP/s (best, % of peak)**: the fastest implementation's rate of floating-point operations
  (2 per multiply-add of the dense layers), and that rate as a share of the machine's measured
  peak: a large `np.dot`, timed before and after the cases, the higher kept. Small cases stay far below the peak:
  their time is the fixed cost of a call, not arithmetic.
- **crossover**: the smallest size at which numpy beats pure Python; below it, NumPy's fixed cost
  per call outweighs the work.
- Timings depend on the machine, the BLAS library and its threads: each machine's section says
  what they were. Numbers from different machines are only comparable with that in mind.
"""


def _md_rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def build_readme(root: Path, runs: dict[str, tuple[Path, dict[str, Any]]], plots: dict[str, list[tuple[str, str]]],
                 cross: list[tuple[str, str]], notes: list[str]) -> str:
    out = [INTRO.format(marker=MARKER)]
    out.append("## Machines\n")
    out.append("| machine | CPU | cores | BLAS | threads | peak float64 | run |")
    out.append("|---|---|---|---|---|---|---|")
    for m, (p, data) in runs.items():
        d = describe(data)
        pk = data.get("loopvec", {}).get("peak_gflops", {}).get("float64")
        peak = f"{pk:.1f} GFLOP/s" if pk else "?"
        threads = d["loopvec threads"] if not d["loopvec threads"].isdigit() else f"--threads {d['loopvec threads']}"
        out.append(f"| [{m}](#machine-{m.lower()}) | {d['CPU']} | {d['logical cores']} | {d['BLAS library']} "
                   f"{d['BLAS kernel']} ({d['BLAS threads']} threads) | {threads} | {peak} | "
                   f"[{str(data.get('datetime', '?'))[:10]}]({_md_rel(p, root)}) |")
    out.append("")
    if cross:
        out.append("## Across machines\n")
        for title, fname in cross:
            out.append(f"![{title}]({fname})\n")
    for m, (p, data) in runs.items():
        lv = data.get("loopvec", {})
        out.append(f"## Machine {m}\n")
        cmd = " ".join(lv.get("command", [])) if lv.get("command") else ""
        when = str(data.get("datetime", "?"))[:16].replace("T", " ")
        out.append(f"Run [`{_md_rel(p, root)}`]({_md_rel(p, root)}): profile {lv.get('profile', '?')}, "
                   f"{when} UTC, commit {lv.get('commit', '?')}, {len(data.get('benchmarks', []))} timings"
                   + (f", `{cmd}`" if cmd else "") + ".\n")
        out.append("| environment | |")
        out.append("|---|---|")
        for k, v in describe(data).items():
            out.append(f"| {k} | {v.replace('|', '/')} |")
        out.append("")
        out.append("```text")
        out.append(format_table(data, header=False).rstrip())
        out.append("```\n")
        for title, fname in plots.get(m, []):
            out.append(f"![{title}]({fname})\n")
        out += explain_section(root, m)
    if notes:
        out.append("## Notes\n")
        out += [f"- {n}" for n in notes]
        out.append("")
    return "\n".join(line.rstrip() for line in "\n".join(out).splitlines()).rstrip() + "\n"


def explain_section(root: Path, machine: str) -> list[str]:
    """The newest `loopvec explain` run of a machine: where the time goes, and why."""
    runs = sorted((root / machine / "explain").glob("*.json"), key=lambda f: f.name, reverse=True)
    datas = []
    for f in runs:
        try:
            datas.append((f, load_run(f)))
        except ResultsError:
            continue
    if not datas:
        return []
    out = [f"### Where the time goes ({machine})\n"]
    # the newest run of each network (toy, mnist)
    seen: set[str] = set()
    for f, data in datas:
        net = data.get("loopvec", {}).get("network")
        if net in seen:
            continue
        seen.add(str(net))
        out.append(f"`loopvec explain --network {net}`: [`{_md_rel(f, root)}`]({_md_rel(f, root)})\n")
        out += ["```text"] + breakdown_lines(data) + ["```\n"]
        for png in sorted(f.parent.glob(f"{net}-b*.png")):
            out.append(f"![{net}: {png.stem}]({_md_rel(png, root)})\n")
    merged = {"benchmarks": [b for _, d in datas for b in d.get("benchmarks", [])]}
    why = why_lines(merged)
    if why:
        out += ["#### What the breakdown says\n"] + why + [""]
    return out


def readme_runs(runs: dict[str, tuple[Path, dict[str, Any]]]) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The runs the project README shows: each machine at its libraries' default threads (native or emulated)."""
    return {m: v for m, v in runs.items() if v[1].get("loopvec", {}).get("threads") is None}


def write_report(root: Path) -> tuple[list[str], list[Path], Path, dict[str, Any]]:
    """Write root/README.md and the plots; (warnings, plots written, the README, the runs used)."""
    if not root.is_dir():
        raise ReportError(f"{root}: no such folder (run `loopvec run` first, which writes {root}/<machine>/*.json)")
    warnings: list[str] = []
    try:
        found = newest_runs(root, warnings)
    except (ResultsError, OSError) as exc:
        raise ReportError(str(exc)) from None
    if not found:
        hint = (" (it holds results files itself: give the folder above it)" if any(root.glob("*.json"))
                else " (expected RESULTS_DIR/<machine>/<timestamp>_<commit>.json, written by `loopvec run`)")
        why = f": {'; '.join(warnings)}" if warnings else ""
        raise ReportError(f"{root}: no machine folder with a complete run{hint}{why}")
    runs: dict[str, tuple[Path, dict[str, Any]]] = {}
    for m, p in found.items():
        try:
            runs[m] = (p, load_run(p))
        except ResultsError as exc:  # changed since it was resolved
            warnings.append(f"left out machine {m}: {exc}")
    import matplotlib  # lazily: the other commands do not need it

    matplotlib.use("Agg")

    used: set[str] = set()
    plots: dict[str, list[tuple[str, str]]] = {}
    written: list[Path] = []
    # Plots for the MAX_PLOTTED most recent machines (every machine keeps its table): 50
    # machines' plots took minutes and could not be read.
    recent = sorted(runs, key=lambda m: str(runs[m][1].get("datetime", "")), reverse=True)[:MAX_PLOTTED]
    if len(runs) > MAX_PLOTTED:
        warnings.append(f"plots drawn for the {MAX_PLOTTED} most recent of {len(runs)} machines "
                        f"({', '.join(sorted(recent))}); every machine's table is below")
    try:
        for m, (p, data) in runs.items():
            if m not in recent:
                continue
            stem = file_stem(m, used)
            plots[m] = []
            for kind, fn, title in (("ladder", plot_ladder, "the ladder at batch 1, 100 and 10 000"),
                                    ("time", plot_time, "time per call versus size"),
                                    ("speedup", plot_speedup, "speedup over pure Python versus size"),
                                    ("gflops", plot_gflops, "achieved GFLOP/s versus batch size, against the peak")):
                target = root / f"{stem}-{kind}.png"
                if fn(m, data, target):
                    plots[m].append((f"{m}: {title}", target.name))
                    written.append(target)
        datas = {m: d for m, (_, d) in runs.items() if m in recent}
        cross = []
        for fname, fn, title in (("headline.png", plot_headline, "MNIST-shaped forward at batch 1, 100, 1 000, every machine"),
                                 ("machines-forward-mnist.png", plot_machines_forward,
                                  "MNIST-shaped forward, time versus batch, machines compared")):
            if fn(datas, root / fname):
                cross.append((title, fname))
                written.append(root / fname)
        prefix = f"{root}{os.sep}"
        notes = [w.replace(prefix, "") for w in warnings]  # paths relative to the README
        if not any(f == "headline.png" for _, f in cross):
            notes.append("no machine's run has the headline cases (forward-mnist at batch 1, 100, 1 000)")
        readme = root / "README.md"
        write_atomic(readme, build_readme(root, runs, plots, cross, notes))
        top = root.resolve().parent / "README.md"  # the project's README, when it has the results block
        update_readme(top, results_block(root, readme_runs(runs), top.parent))
    except OSError as exc:  # WriteError too
        raise ReportError(f"cannot write into {root}: {exc}") from None
    return warnings, written, readme, runs
