"""Finding runs: a machine folder's newest complete run, and every machine's.

Machine folders hold files named <UTC timestamp>_<commit>.json, so sorting by name
sorts by time; `resolve` picks the newest one whose run finished ("complete": true).
"""
from __future__ import annotations

from pathlib import Path

from loopvec.bench.core import known
from loopvec.bench.store.model import Run, load
from loopvec.bench.store.results import ResultsError, fail


def is_complete(run: Run) -> bool:
    """A run that finished; plain pytest-benchmark files (no loopvec section) count as complete."""
    return run.complete


def _run_files(folder: Path) -> list[Path]:
    return sorted((f for f in folder.glob("*.json") if f.is_file() and not f.name.startswith(".")),
                  key=lambda f: f.name, reverse=True)


def newest_complete(folder: str | Path, warnings: list[str] | None = None) -> Path:
    """The newest complete run of the whole suite in a machine folder (a run limited
    by --only counts only when there is nothing else). Files that cannot be read and
    the runs passed over are reported in `warnings` (when given)."""
    return newest_complete_run(folder, warnings)[0]


def newest_complete_run(folder: str | Path, warnings: list[str] | None = None,
                        rounds: bool = True) -> tuple[Path, Run]:
    """newest_complete, with the run it loaded: the caller need not read the file again (a
    full run is several MB of JSON, and a report of many machines read each one twice).
    rounds=False: loaded without the raw rounds (model.load)."""
    folder = Path(folder)
    files = _run_files(folder)
    if not files:
        subs = sorted(d.name for d in folder.iterdir() if d.is_dir() and _run_files(d)) if folder.is_dir() else []
        if subs:
            raise fail(folder, "holds machine folders, not runs; name one of them, e.g. "
                                + ", ".join(str(folder / s) for s in subs[:3]))
        raise fail(folder, "no results file (*.json) in this folder")
    notes: list[str] = []
    partial: tuple[Path, Run] | None = None  # newest complete run of a selection (--only/--impl)
    for f in files:
        try:
            run = load(f, rounds)
        except ResultsError as exc:
            notes.append(f"skipped {exc}")
            continue
        if is_complete(run):
            if run.only:  # a run of a few cases must not stand for the machine
                partial = partial or (f, run)
                notes.append(f"skipped {f}: a partial run (--only {' '.join(run.only)})")
                continue
            if warnings is not None:
                warnings.extend(notes)
            return f, run
        notes.append(f"skipped {f}: incomplete run ({known(run.timed)} of {known(run.planned)} cases)")
    if partial is not None:
        if warnings is not None:
            warnings.extend(n for n in notes if str(partial[0]) not in n)
        return partial
    raise fail(folder, f"no complete run among its {len(files)} results file(s) ({'; '.join(notes)})")



def resolve(arg: str | Path, warnings: list[str] | None = None, results_dir: str | Path = "results") -> Path:
    """A results file, or a machine folder (its newest complete run). A bare machine name
    that is not a path here is looked up as <results_dir>/<name>."""
    p = Path(arg)
    if not p.exists():
        alt = Path(results_dir) / str(arg)
        if not p.is_absolute() and len(p.parts) == 1 and alt.is_dir():
            p = alt
        else:
            raise fail(p, "no such file or folder")
    if p.is_dir():
        return newest_complete(p, warnings)
    return p


def machine_folders(results_dir: str | Path) -> list[Path]:
    """The machine folders of results_dir that hold results files, in name order."""
    root = Path(results_dir)
    return [d for d in sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")),
                              key=lambda d: d.name) if _run_files(d)]


def newest_runs(results_dir: str | Path, warnings: list[str] | None = None) -> dict[str, Path]:
    """{machine folder name: its newest complete run}, for every machine folder of
    results_dir that has one, in name order; the others are reported in `warnings`."""
    out: dict[str, Path] = {}
    for d in machine_folders(results_dir):
        try:
            out[d.name] = newest_complete(d, warnings)
        except ResultsError as exc:
            if warnings is not None:
                warnings.append(f"left out machine folder {exc}")
    return out
