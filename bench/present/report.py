"""`loopvec report`: results/README.md from every machine's newest complete run, with the plots.

For each machine folder (RESULTS_DIR/<machine>/) the newest complete run is used; the
README holds, per machine, the table of `loopvec run` and the run's environment, and
links the plots (present/plots.py). Everything is written atomically, so concurrent
reports never leave a half-written page.

It scales to many machines: each run is read once and reduced, while it is held, to what
the page shows (its table, its README lines, its plots' inputs without the raw rounds),
the machines are read by worker processes (one per CPU), and the plots show the
MAX_PLOTTED most recent machines while the page lists every one.
"""
from __future__ import annotations

import os
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

from loopvec.bench.core import fmt_time, known
from loopvec.bench.measure.machine import describe
from loopvec.bench.present.plots import (HEADLINE, MARKER, file_stem, plot_gflops, plot_ladder, plot_speedup,
                                         plot_time)
from loopvec.bench.present.plots_across import plot_headline, plot_machines_forward
from loopvec.bench.present.roofline import plot_memory, plot_roofline
from loopvec.bench.present.readme_block import block_text, has_block, update_readme
from loopvec.bench.present.report_machine import (MachineRun, in_order, keep_plot_inputs, md_rel, read_machine,
                                                  usable_cpus)
from loopvec.bench.present.rows import Row
from loopvec.bench.store.atomic import write_atomic
from loopvec.bench.store.find import machine_folders
from loopvec.bench.store.model import Run, as_run


# Plots for the MAX_PLOTTED most recent machines (every machine keeps its table and a row in the
# table across machines): 50 machines' plots took minutes and could not be read.
MAX_PLOTTED = 6
PER_MACHINE: tuple[tuple[str, Callable[..., bool], str], ...] = (
    ("ladder", plot_ladder, "the ladder at batch 1, 100 and 10 000"),
    ("time", plot_time, "time per call versus size"),
    ("speedup", plot_speedup, "speedup over pure Python versus size"),
    ("gflops", plot_gflops, "achieved GFLOP/s versus batch size, against the peak"),
    ("roofline", plot_roofline, "the roofline: every case under the measured FLOP peak and bandwidth"),
    ("memory", plot_memory, "memory one call allocates, versus batch size"))
ACROSS: tuple[tuple[str, Callable[..., bool], str], ...] = (
    ("headline.png", plot_headline, "MNIST-shaped forward at batch 1, 100, 1 000, every machine"),
    ("machines-forward-mnist.png", plot_machines_forward, "MNIST-shaped forward, time versus batch, machines compared"))


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


def build_readme(root: Path, runs: list[MachineRun], plots: dict[str, list[tuple[str, str]]],
                 cross: list[tuple[str, str]], notes: list[str]) -> str:
    out = [INTRO.format(marker=MARKER)]
    out.append("## Machines\n")
    out.append("| machine | CPU | cores | BLAS | threads | peak float64 | run |")
    out.append("|---|---|---|---|---|---|---|")
    for m in runs:
        d = describe(m.header.meta)
        pk = m.header.peak_gflops.get("float64")
        peak = f"{pk:.1f} GFLOP/s" if pk else "?"
        threads = d["loopvec threads"] if not d["loopvec threads"].isdigit() else f"--threads {d['loopvec threads']}"
        out.append(f"| [{m.name}](#machine-{m.name.lower()}) | {d['CPU']} | {d['logical cores']} | {d['BLAS library']} "
                   f"{d['BLAS kernel']} ({d['BLAS threads']} threads) | {threads} | {peak} | "
                   f"[{str(m.header.datetime or '?')[:10]}]({md_rel(m.path, root)}) |")
    out.append("")
    every = across_table(runs)
    if cross or every:
        out.append("## Across machines\n")
        for title, fname in cross:
            out.append(f"![{title}]({fname})\n")
        out += every
    for m in runs:
        run = m.header
        out.append(f"## Machine {m.name}\n")
        cmd = " ".join(run.command)
        when = str(run.datetime or "?")[:16].replace("T", " ")
        out.append(f"Run [`{md_rel(m.path, root)}`]({md_rel(m.path, root)}): profile {known(run.profile)}, "
                   f"{when} UTC, commit {known(run.commit)}, {m.timings} timings"
                   + (f", `{cmd}`" if cmd else "") + ".\n")
        out.append("| environment | |")
        out.append("|---|---|")
        for k, v in describe(run.meta).items():
            out.append(f"| {k} | {v.replace('|', '/')} |")
        out.append("")
        out.append("```text")
        out.append(m.table)
        out.append("```\n")
        for title, fname in plots.get(m.name, []):
            out.append(f"![{title}]({fname})\n")
        out += m.explain
    if notes:
        out.append("## Notes\n")
        out += [f"- {n}" for n in notes]
        out.append("")
    return "\n".join(line.rstrip() for line in "\n".join(out).splitlines()).rstrip() + "\n"



def across_table(runs: list[MachineRun]) -> list[str]:
    """Every machine's MNIST-shaped forward pass at the headline batches, when the plots across
    machines show only some of them (none of this with MAX_PLOTTED machines or fewer)."""
    if len(runs) <= MAX_PLOTTED or not any(m.headline for m in runs):
        return []
    out = [f"The plots show the {MAX_PLOTTED} most recent machines. Every machine, MNIST-shaped forward pass "
           f"(float64): the fastest implementation's time per call, and numpy's.\n",
           "| machine | " + " | ".join(f"batch {int(c[-4:]):,}" for c in HEADLINE) + " |",
           "|---|" + "---|" * len(HEADLINE)]
    for m in runs:
        cells = []
        for case in HEADLINE:
            got = m.headline.get(case)
            if got is None:
                cells.append("-")
                continue
            best, t, numpy = got
            cells.append(f"{fmt_time(t)} {best}" + (f" (numpy {fmt_time(numpy)})" if numpy and best != "numpy" else ""))
        out.append(f"| [{m.name}](#machine-{m.name.lower()}) | " + " | ".join(cells) + " |")
    return out + [""]


def readme_runs(runs: dict[str, tuple[Path, Run | dict[str, Any]]]) -> dict[str, tuple[Path, Run]]:
    """The runs the project README shows: each machine at its libraries' default threads (native or emulated).
    The runs: Runs, or their JSON (typed here)."""
    typed = {m: (p, as_run(run, p)) for m, (p, run) in runs.items()}
    return {m: v for m, v in typed.items() if v[1].threads is None}


# ------------------------------------------------------------------ the plots (worker processes)

def draw_machine(kind: str, machine: str, run: Run, rs: list[Row], target: Path) -> bool:
    import matplotlib  # lazily: the other commands do not need it

    matplotlib.use("Agg")
    return {k: fn for k, fn, _ in PER_MACHINE}[kind](machine, run, target, rs)


def draw_across(fname: str, runs: dict[str, Run], rs: dict[str, list[Row]], target: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    return {f: fn for f, fn, _ in ACROSS}[fname](runs, target, rs)


def write_report(root: Path, jobs: int | None = None) -> tuple[list[str], list[Path], Path, dict[str, Any]]:
    """Write root/README.md and the plots; (warnings, plots written, the README, the runs used).
    `jobs`: worker processes (default: one per usable CPU; 1 reads and draws in this process)."""
    if not root.is_dir():
        raise ReportError(f"{root}: no such folder (run `loopvec run` first, which writes {root}/<machine>/*.json)")
    try:
        folders = machine_folders(root)
    except OSError as exc:
        raise ReportError(str(exc)) from None
    top = root.resolve().parent / "README.md"  # the project's README, when it has the results block
    block_dir = top.parent if has_block(top) else None
    jobs = min(usable_cpus() if jobs is None else jobs, len(folders))
    pool = None
    if jobs > 1:
        try:  # spawn, not fork: this process may hold BLAS threads, and a forked copy of a threaded one can hang
            pool = ProcessPoolExecutor(jobs, mp_context=get_context("spawn"))
        except (OSError, NotImplementedError):  # no semaphores here: one process it is
            pool = None
    if pool is not None:
        try:
            return _report(root, folders, block_dir, top, pool)
        except BrokenProcessPool:
            pass  # a worker could not start (a __main__ it cannot import) or was killed: again, in this process
        finally:
            pool.shutdown(cancel_futures=True)
    return _report(root, folders, block_dir, top, None)


def _report(root: Path, folders: list[Path], block_dir: Path | None, top: Path,
            pool: Executor | None) -> tuple[list[str], list[Path], Path, dict[str, Any]]:
    warnings: list[str] = []
    runs: list[MachineRun] = []
    try:
        for got in in_order(pool, [(read_machine, (d, root, block_dir)) for d in folders]):
            if isinstance(got, list):
                warnings += got
                continue
            warnings += got.warnings
            runs.append(got)
            keep_plot_inputs(runs, MAX_PLOTTED)
    except OSError as exc:
        raise ReportError(str(exc)) from None
    if not runs:
        hint = (" (it holds results files itself: give the folder above it)" if any(root.glob("*.json"))
                else " (expected RESULTS_DIR/<machine>/<timestamp>_<commit>.json, written by `loopvec run`)")
        why = f": {'; '.join(warnings)}" if warnings else ""
        raise ReportError(f"{root}: no machine folder with a complete run{hint}{why}")
    import matplotlib  # lazily: the other commands do not need it

    matplotlib.use("Agg")
    recent = sorted(runs, key=lambda m: m.when, reverse=True)[:MAX_PLOTTED]
    if len(runs) > MAX_PLOTTED:
        warnings.append(f"plots drawn for the {MAX_PLOTTED} most recent of {len(runs)} machines "
                        f"({', '.join(sorted(m.name for m in recent))}); every machine's table is below")
    shown = [m for m in runs if m.name in {r.name for r in recent}]  # in name order, as the README lists them
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
    names: list[tuple[str, str, Path]] = []  # (machine, or "" across machines; title; target) of each call
    for fname, _, title in ACROSS:  # the biggest first: the workers finish together
        calls.append((draw_across, (fname, {m.name: m.run for m in shown}, {m.name: m.rows for m in shown},
                                    root / fname)))
        names.append(("", title, root / fname))
    used: set[str] = set()
    for m in shown:
        stem = file_stem(m.name, used)
        for kind, _, title in PER_MACHINE:
            calls.append((draw_machine, (kind, m.name, m.run, m.rows, root / f"{stem}-{kind}.png")))
            names.append((m.name, f"{m.name}: {title}", root / f"{stem}-{kind}.png"))
    plots: dict[str, list[tuple[str, str]]] = {m.name: [] for m in shown}
    cross: list[tuple[str, str]] = []
    try:
        drawn = [name for name, ok in zip(names, in_order(pool, calls)) if ok]
        for machine, title, target in drawn:
            (plots[machine] if machine else cross).append((title, target.name))
        written = [t for m, _, t in drawn if m] + [t for m, _, t in drawn if not m]  # per machine, then across
        prefix = f"{root}{os.sep}"
        notes = [w.replace(prefix, "") for w in warnings]  # paths relative to the README
        if not any(f == "headline.png" for _, f in cross):
            notes.append("no machine's run has the headline cases (forward-mnist at batch 1, 100, 1 000)")
        readme = root / "README.md"
        write_atomic(readme, build_readme(root, runs, plots, cross, notes))
        if block_dir is not None:
            update_readme(top, block_text(root, {m.name: m.block for m in runs if m.block is not None}, block_dir))
    except OSError as exc:  # WriteError too
        raise ReportError(f"cannot write into {root}: {exc}") from None
    return warnings, written, readme, {m.name: (m.path, m.header) for m in runs}
