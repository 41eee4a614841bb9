"""`loopvec report` over many machines: each results file parsed once, runs held without their
rounds, the plots limited to the most recent machines while the README lists every one."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from loopvec.bench.cli.main import main
from loopvec.bench.present import report
from loopvec.bench.present.report_machine import keep_plot_inputs, read_machine

REPO = Path(__file__).resolve().parent.parent
FULL = sorted((REPO / "results").glob("*/*.json"))
HEADLINE_CASES = ("forward-mnist-b0001", "forward-mnist-b0100", "forward-mnist-b1000")

pytestmark = pytest.mark.skipif(not FULL, reason="needs a committed run under results/")


def _stores_everything(f: Path) -> bool:
    from loopvec.bench.store.results import load_run

    lv = load_run(f, rounds=False).get("loopvec", {})  # without the rounds: a twentieth of the decoding
    return lv.get("format", 0) >= 3 and isinstance(lv.get("fits"), dict)


def _small() -> dict[str, Any]:
    """A committed full run cut to the three headline cases: real-shaped (every field, every round), small.
    The newest run that stores its intervals and fits: the report needs none of its rounds."""
    data = json.loads(next((f for f in reversed(FULL) if _stores_everything(f)), FULL[-1]).read_text())
    data["benchmarks"] = [b for b in data["benchmarks"] if b["extra_info"].get("case") in HEADLINE_CASES]
    lv = data["loopvec"]
    lv["noise"] = {k: v for k, v in lv.get("noise", {}).items() if k in HEADLINE_CASES}
    lv["skipped"] = [s for s in lv.get("skipped", []) if s["id"].rsplit("-", 1)[0] in HEADLINE_CASES]
    lv["threads"] = None
    return data


SMALL = _small() if FULL else {}


def machine_run(machine: str, day: int, complete: bool = True) -> dict[str, Any]:
    data = json.loads(json.dumps(SMALL))
    data["datetime"] = f"2026-01-{day:02d}T00:00:00+00:00"
    data["loopvec"].update(machine=machine, complete=complete)
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def machines(root: Path, n: int) -> list[str]:
    """n machine folders, m00 the oldest run; each holds one complete run."""
    names = [f"m{k:02d}" for k in range(n)]
    for k, m in enumerate(names):
        write(root / m / f"202601{k + 1:02d}T000000Z_abc1234.json", machine_run(m, k + 1))
    return names


def test_each_results_file_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "results"
    machines(root, 3)
    # a machine whose newest run is incomplete: both of its files are read, each once
    write(root / "m03" / "20260110T000000Z_abc1234.json", machine_run("m03", 10))
    write(root / "m03" / "20260111T000000Z_def5678.json", machine_run("m03-newer", 11, complete=False))
    parsed: Counter[tuple[str, str]] = Counter()
    loads = json.loads

    def counting(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        out = loads(text, *args, **kwargs)
        if isinstance(out, dict) and "benchmarks" in out:  # a results file (not, say, matplotlib's font cache)
            parsed[(out["loopvec"]["machine"], out["datetime"])] += 1
        return out

    monkeypatch.setattr(json, "loads", counting)
    monkeypatch.setattr(report, "PER_MACHINE", ())  # no plots: the reading is the point
    monkeypatch.setattr(report, "ACROSS", ())
    assert main(["report", "--jobs", "1", str(root)]) == 0
    assert parsed == {("m00", "2026-01-01T00:00:00+00:00"): 1, ("m01", "2026-01-02T00:00:00+00:00"): 1,
                      ("m02", "2026-01-03T00:00:00+00:00"): 1, ("m03", "2026-01-10T00:00:00+00:00"): 1,
                      ("m03-newer", "2026-01-11T00:00:00+00:00"): 1}
    assert "incomplete run" in capsys.readouterr().err


def _two_kinds() -> list[Any]:
    """The smallest committed run that stores every interval and fit, and the smallest that does not;
    the other committed runs in the slow set."""
    stores = [f for f in FULL if _stores_everything(f)]
    older = [f for f in FULL if f not in stores]
    picked = {min(g, key=lambda f: f.stat().st_size) for g in (stores, older) if g}  # the smallest of each
    return [f if f in picked else pytest.param(f, marks=pytest.mark.slow) for f in FULL]


@pytest.mark.parametrize("run", _two_kinds(), ids=lambda f: f"{f.parent.name}/{f.stem}")
def test_the_tables_read_without_rounds_equal_those_read_with_them(run: Path, tmp_path: Path) -> None:
    """The report decodes a run without its rounds; a run that did not store every interval and fit
    is read again with them. Either way its table, README block and headline are those of a full read."""
    from loopvec.bench.present.readme_block import machine_block
    from loopvec.bench.present.rows import needs_rounds, rows
    from loopvec.bench.present.table import format_table
    from loopvec.bench.store.model import load

    full, slim = load(run), load(run, rounds=False)
    assert all(b.rounds is None for b in slim.benchmarks)
    assert all(isinstance(b.rounds, list) for b in full.benchmarks)
    if not needs_rounds(rows(slim), slim):  # else read_machine reads it again, in full (checked below)
        rf, rsl = rows(full), rows(slim)
        assert format_table(full, header=False, rs=rf) == format_table(slim, header=False, rs=rsl)
        assert machine_block("m", tmp_path / "b.md", full, rf) == machine_block("m", tmp_path / "b.md", slim, rsl)
    folder = tmp_path / "results" / "m"
    folder.mkdir(parents=True)
    (folder / run.name).write_bytes(run.read_bytes())
    got = read_machine(folder, tmp_path / "results", None)
    assert not isinstance(got, list)
    assert got.table == format_table(full, header=False, rs=rows(full)).rstrip()


@pytest.mark.parametrize("rounds", ["[1.5e-06, NaN]", "[Infinity]", "[1e-06 oops]", "[1e-06,\n2e-06", '"fast"',
                                    '[1e-06, "2e-06"]', "[[1e-06]]"])
def test_odd_rounds_are_refused_as_a_full_read_refuses_them(tmp_path: Path, rounds: str) -> None:
    """The fast read cuts only lists of number characters; anything else is decoded whole and
    checked, so both reads refuse the same files with the same one-line error."""
    from loopvec.bench.store.results import ResultsError, load_run

    text = json.dumps(SMALL, indent=1)
    first = text.index('"data": [')
    end = text.index("]", first) + 1
    path = tmp_path / "odd.json"
    path.write_text(text[:first] + '"data": ' + rounds + text[end:])
    errors = []
    for fast in (False, True):
        with pytest.raises(ResultsError) as exc:
            load_run(path, rounds=not fast)
        errors.append(str(exc.value))
    assert errors[0] == errors[1] and "\n" not in errors[0]


def test_the_fast_read_equals_the_full_one_but_for_the_rounds(tmp_path: Path) -> None:
    from loopvec.bench.store.results import load_run

    path = write(tmp_path / "run.json", SMALL)
    full, slim = load_run(path), load_run(path, rounds=False)
    for b in full["benchmarks"]:
        assert b["stats"]["data"]
        b["stats"]["data"] = None
    assert slim == full
    compact = tmp_path / "compact.json"  # no space after the colons: nothing is cut, all is read
    compact.write_text(json.dumps(SMALL, separators=(",", ":")))
    assert load_run(compact, rounds=False) == load_run(compact)


def test_a_run_without_stored_intervals_is_read_again_with_its_rounds(tmp_path: Path) -> None:
    data = json.loads(json.dumps(SMALL))
    del data["loopvec"]["fits"]  # as a run from before the fits were stored
    root = tmp_path / "results"
    write(root / "m" / "20260101T000000Z_abc1234.json", data)
    from loopvec.bench.present.rows import rows
    from loopvec.bench.store.model import as_run

    got = read_machine(root / "m", root, None)
    assert not isinstance(got, list)
    assert "fixed cost" in got.table  # the fits, made here from the rounds
    assert got.table == read_machine_table(as_run(json.loads(json.dumps(data))), rows)


def read_machine_table(run: Any, rows: Any) -> str:
    from loopvec.bench.present.table import format_table

    return format_table(run, header=False, rs=rows(run)).rstrip()


def test_a_machine_is_held_without_its_rounds(tmp_path: Path) -> None:
    root = tmp_path / "results"
    names = machines(root, 4)
    got = [read_machine(root / m, root, None) for m in names]
    for m in got:
        assert not isinstance(m, list)
        assert m.run is not None and m.rows is not None and m.table
        assert all(b.rounds is None and "data" not in b.raw["stats"] for b in m.run.benchmarks)  # the raw rounds: gone
        assert all(not r.passes for r in m.rows) and not m.header.benchmarks and "benchmarks" not in m.header.raw
    runs: list[Any] = []
    for m in got:  # oldest first: each newer one pushes the oldest held one out
        runs.append(m)
        keep_plot_inputs(runs, 2)
    assert [m.name for m in runs if m.run is not None] == ["m02", "m03"]
    assert all(m.table for m in runs)  # every machine keeps its text


def test_many_machines_stay_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "results"
    names = machines(root, 15)
    plotted = 3  # fewer plots to draw than the default, the same rule
    monkeypatch.setattr(report, "MAX_PLOTTED", plotted)
    across: dict[str, list[str]] = {}

    def spy(fname: str, fn: Any) -> Any:
        def wrapped(runs: dict[str, Any], path: Path, rs: Any = None) -> bool:
            across[fname] = list(runs)
            return fn(runs, path, rs)
        return wrapped

    monkeypatch.setattr(report, "ACROSS", tuple((f, spy(f, fn), t) for f, fn, t in report.ACROSS))
    monkeypatch.setattr(report, "PER_MACHINE", report.PER_MACHINE[:1])  # one plot a machine: which machines is the point
    assert main(["report", "--jobs", "1", str(root)]) == 0
    newest = names[-plotted:]
    assert across == {"headline.png": newest, "machines-forward-mnist.png": newest}
    readme = (root / "README.md").read_text()
    for m in names:  # every machine: its section, and a row in the Machines table and in the one across machines
        assert f"## Machine {m}\n" in readme
        assert len(re.findall(rf"^\| \[{m}\]\(#machine-{m}\) \|", readme, re.M)) == 2
    pngs = sorted(p.name for p in root.glob("*.png"))
    assert pngs == sorted(["headline.png", "machines-forward-mnist.png"]
                          + [f"{m}-ladder.png" for m in newest])
    assert sorted(re.findall(r"!\[[^\]]+\]\(([^)]+\.png)\)", readme)) == pngs
    assert f"plots drawn for the {plotted} most recent of 15 machines" in readme
    table = readme[readme.index(f"The plots show the {plotted} most recent machines"):readme.index("## Machine m00")]
    assert "| machine | batch 1 | batch 100 | batch 1,000 |" in table and "numpy" in table


@pytest.mark.slow  # worker processes, and two reports' plots
def test_worker_processes_write_what_one_process_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = tmp_path / "one" / "results", tmp_path / "two" / "results"
    machines(one, 3)
    machines(two, 3)
    assert main(["report", "--jobs", "1", str(one)]) == 0
    assert main(["report", "--jobs", "2", str(two)]) == 0
    assert (one / "README.md").read_text() == (two / "README.md").read_text()
    files = sorted(p.name for p in one.glob("*.png"))
    per_machine = 6 if any("memory" in b["extra_info"] for b in SMALL["benchmarks"]) else 5  # memory: with its records
    assert files == sorted(p.name for p in two.glob("*.png")) and len(files) == 3 * per_machine + 2
    for name in files:
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
