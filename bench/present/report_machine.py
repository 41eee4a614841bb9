"""`loopvec report`, one machine at a time: its newest complete run, read once, reduced to what the page shows.

A full run is several MB of JSON, most of it raw rounds; a report over 200 machines read
each file twice and held every run whole (2.3 GB). Here each run is read once, in a worker
process when there are several machines, and without its raw rounds (decoding them was most
of the reading): a run that stored every interval and fit needs none of them. A run from
before that is read a second time, with its rounds, to bootstrap what it did not store. Only
its text (table, README lines, explain section) and, for the machines that may get plots, its
rows and run without the rounds come back.
"""
from __future__ import annotations

import os
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from loopvec.bench.present.explain import breakdown_lines, why_lines
from loopvec.bench.present.plots import HEADLINE
from loopvec.bench.present.readme_block import block_path, machine_block
from loopvec.bench.present.rows import Row, needs_rounds, rows
from loopvec.bench.present.table import format_table
from loopvec.bench.store.find import newest_complete_run
from loopvec.bench.store.model import Run, load
from loopvec.bench.store.results import ResultsError


@dataclass(eq=False)  # compared by identity: two runs are never the same machine
class MachineRun:
    """What the report keeps of one machine's run: its text, and its plots' inputs while it may
    still get plots. Never the raw rounds: 200 full runs held whole took 2.3 GB."""
    name: str
    path: Path
    header: Run  # the run without its benchmarks: the README's fields
    timings: int
    table: str
    explain: list[str]
    block: list[str] | None  # its lines in the project README's block; None: not shown there
    headline: dict[str, tuple[str, float, float | None]]  # HEADLINE case -> fastest impl, its time, numpy's
    run: Run | None = None  # the run without its rounds, and its rows (no passes): for the plots
    rows: list[Row] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def when(self) -> str:
        return self.header.datetime or ""


def md_rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def read_machine(folder: Path, root: Path, block_dir: Path | None) -> MachineRun | list[str]:
    """A machine folder's newest complete run, read once and reduced to what the report shows
    while it is held; the warnings alone when the folder has no usable run."""
    warnings: list[str] = []
    try:
        path, run = newest_complete_run(folder, warnings, rounds=False)  # the rounds are most of the decoding
        rs = rows(run)
        if needs_rounds(rs, run):  # a run from before every interval was stored:
            run = load(path)  # its rounds after all, to bootstrap them
            rs = rows(run)
    except ResultsError as exc:
        return warnings + [f"left out machine folder {exc}"]
    table = format_table(run, header=False, rs=rs).rstrip()
    block = None
    if block_dir is not None and run.threads is None:  # as readme_runs
        block = machine_block(folder.name, block_path(path, block_dir), run, rs)
    by_case = {r.case: r for r in rs}
    headline = {}
    for case in HEADLINE:
        r = by_case.get(case)
        best = r.best() if r is not None else None
        if r is not None and best is not None:
            headline[case] = (best, r.estimate[best], r.estimate.get("numpy"))
    for r in rs:  # the plots read estimates, quartiles and intervals, never the raw rounds
        r.passes.clear()
        r.workers.clear()
    return MachineRun(folder.name, path, run.without_benchmarks(), len(run.benchmarks), table,
                      explain_section(root, folder.name), block, headline, run.without_rounds(), rs, warnings)


def explain_section(root: Path, machine: str) -> list[str]:
    """The newest `loopvec explain` run of a machine: where the time goes, and why."""
    runs = sorted((root / machine / "explain").glob("*.json"), key=lambda f: f.name, reverse=True)
    datas: list[tuple[Path, Run]] = []
    for f in runs:
        try:
            datas.append((f, load(f)))
        except ResultsError:
            continue
    if not datas:
        return []
    out = [f"### Where the time goes ({machine})\n"]
    # the newest run of each network (toy, mnist)
    seen: set[str] = set()
    for f, data in datas:
        net = data.network
        if net in seen:
            continue
        seen.add(str(net))
        out.append(f"`loopvec explain --network {net}`: [`{md_rel(f, root)}`]({md_rel(f, root)})\n")
        out += ["```text"] + breakdown_lines(data) + ["```\n"]
        for png in sorted(f.parent.glob(f"{net}-b*.png")):
            out.append(f"![{net}: {png.stem}]({md_rel(png, root)})\n")
    why = why_lines([b for _, d in datas for b in d.benchmarks])
    if why:
        out += ["#### What the breakdown says\n"] + why + [""]
    return out


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def in_order(pool: Executor | None, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> Iterator[Any]:
    """Each call's result, in the order given: from the worker processes when there is a pool."""
    if pool is None:
        return (fn(*args) for fn, args in calls)
    futures = [pool.submit(fn, *args) for fn, args in calls]
    return (f.result() for f in futures)


def keep_plot_inputs(runs: list[MachineRun], keep: int) -> None:
    """Drop the plot inputs of a machine that can no longer be among the `keep` most recent (those
    above it stay above it, in name order among equal times), so that at most keep + 1 are held."""
    held = [m for m in runs if m.run is not None]
    if len(held) > keep:
        last = sorted(held, key=lambda m: m.when, reverse=True)[-1]  # stable: ties keep name order
        last.run, last.rows = None, None
