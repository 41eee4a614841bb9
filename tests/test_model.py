"""The typed results model (store/model.py): load and save, the format check, wrong types in one line."""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from loopvec.bench.store.model import FORMAT, Bench, Run, StoredInterval, load, save
from loopvec.bench.store.results import ResultsError

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted((REPO / "results").glob("*/*.json"))
pytestmark = pytest.mark.skipif(not COMMITTED, reason="needs a committed run under results/")


@functools.lru_cache(maxsize=None)
def newest(fmt: int) -> Path:
    """The newest committed run of a format (its number read off the text: decoding every file is seconds)."""
    return next(f for f in reversed(COMMITTED) if re.search(rf'"format": {fmt}\b', f.read_text()))


@functools.lru_cache(maxsize=None)
def _small_text(fmt: int) -> str:
    data = json.loads(newest(fmt).read_text())
    keep = {"forward-mnist-b0001", "forward-mnist-b0100"}
    data["benchmarks"] = [b for b in data["benchmarks"] if b["extra_info"].get("case") in keep]
    return json.dumps(data)


def small(fmt: int = FORMAT) -> dict[str, Any]:
    """A committed run of the given format cut to two cases (every field, every round): a fresh copy."""
    return json.loads(_small_text(fmt))


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def one_line_error(path: Path) -> str:
    with pytest.raises(ResultsError) as exc:
        load(path)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(str(path))
    return msg


def test_a_committed_run_loads_typed_and_saves_the_same_json(tmp_path: Path) -> None:
    src = newest(FORMAT)
    run = load(src)
    assert isinstance(run, Run) and run.format == FORMAT and run.path == src and run.rounds
    assert run.machine == src.parent.name and run.complete and run.peak_gflops["float64"] > 0
    b = run.benchmarks[0]
    assert isinstance(b, Bench) and b.estimate > 0 and b.q1 <= b.q3 and isinstance(b.rounds, list)
    assert sum(len(p) for p in b.passes()) == len(b.rounds) and b.workers() is not None
    assert any(isinstance(x.speedup, StoredInterval) for x in run.benchmarks)
    out = save(run, tmp_path / "copy.json")
    assert json.loads(out.read_text()) == json.loads(src.read_text())  # same content, so old and new files mix
    again = load(out)
    assert again.benchmarks == run.benchmarks and again.noise == run.noise and again.fits == run.fits
    slim = load(src, rounds=False)
    assert all(x.rounds is None for x in slim.benchmarks)
    assert [x.estimate for x in slim.benchmarks] == [x.estimate for x in run.benchmarks]
    with pytest.raises(ValueError, match="rounds"):
        save(slim, tmp_path / "slim.json")  # it would lose them


def test_a_newer_format_is_one_line_naming_file_and_format(tmp_path: Path) -> None:
    data = small()
    data["loopvec"]["format"] = FORMAT + 1
    path = write(tmp_path / "new.json", data)
    msg = one_line_error(path)
    assert f"results format {FORMAT + 1}" in msg and "newer loopvec" in msg


def test_format_2_is_read_as_one_process(tmp_path: Path) -> None:
    run = load(write(tmp_path / "old.json", small(2)))
    assert run.format == 2
    assert all(b.workers() is None and len(b.passes()) > 1 for b in run.benchmarks)


def test_format_1_is_read_with_the_median_as_the_estimate(tmp_path: Path) -> None:
    data = small()
    data["loopvec"]["format"] = 1
    for b in data["benchmarks"]:
        for key in ("estimate", "pass_rounds", "pass_workers", "speedup", "vs_numpy", "over_torch"):
            b["extra_info"].pop(key, None)
    run = load(write(tmp_path / "first.json", data))
    b = run.benchmarks[0]
    assert b.estimate == b.median and b.speedup is None and b.workers() is None
    assert len(b.passes()) == len(b.rounds or [])  # every round its own pass


@pytest.mark.parametrize("where, key, value, needle", [
    ("extra_info", "size", "big", "extra_info size"),
    ("extra_info", "dtype", 64, "extra_info dtype"),
    ("extra_info", "explained", 3, "extra_info explained"),
    ("loopvec", "threads", "two", "loopvec.threads"),
    ("loopvec", "complete", "yes", "loopvec.complete"),
    ("loopvec", "planned", -1, "loopvec.planned"),
    ("top", "datetime", 20260101, "datetime"),
    # the records the run's header prints (their insides crashed the table before they were checked)
    ("loopvec", "peak_gflops_measured", {"float64": [1.0]}, "loopvec.peak_gflops_measured.float64"),
    ("loopvec", "peak_gflops_measured", {"float64": "ab"}, "loopvec.peak_gflops_measured.float64"),
    ("loopvec", "kernel", {"isa": "avx2", "float64": {"mr": 6, "lanes": 4}}, "loopvec.kernel.float64"),
    ("loopvec", "processes", {"planned": 3, "workers": [{"exit": 0}]}, "loopvec.processes.workers"),
])
def test_a_field_of_the_wrong_type_is_one_line_naming_it(tmp_path: Path, where: str, key: str, value: Any,
                                                        needle: str) -> None:
    data = small()
    target = {"extra_info": data["benchmarks"][0]["extra_info"], "loopvec": data["loopvec"], "top": data}[where]
    target[key] = value
    assert needle in one_line_error(write(tmp_path / "bad.json", data))
