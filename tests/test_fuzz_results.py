"""Mutated copies of a real results file through `compare` and `report`: exit 0 or 2, never a traceback."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from loopvec.bench.cli.main import main

REPO = Path(__file__).resolve().parent.parent
REAL = sorted((REPO / "results").glob("*/*.json"))


def _trimmed() -> dict[str, Any]:
    """A committed run, cut to its first 16 timings (the mutations, not the size, are the point)."""
    data = json.loads(REAL[0].read_text())
    data["benchmarks"] = data["benchmarks"][:16]
    keep = {b["extra_info"]["case"] for b in data["benchmarks"]}
    data["loopvec"]["noise"] = {k: v for k, v in data["loopvec"].get("noise", {}).items() if k in keep}
    return data


BASE = _trimmed() if REAL else {}

values = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                   st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=3), st.none(), max_size=2),
                   st.just(-1), st.just(0), st.just(float("inf")))


def _paths(x: Any, prefix: tuple = (), depth: int = 0) -> list[tuple]:
    out = [prefix] if prefix else []
    if depth > 5:
        return out
    if isinstance(x, dict):
        for k, v in x.items():
            if k != "data":  # the raw rounds: thousands of paths of one kind
                out += _paths(v, prefix + (k,), depth + 1)
    elif isinstance(x, list):
        for i, v in enumerate(x[:3]):
            out += _paths(v, prefix + (i,), depth + 1)
    return out


PATHS = _paths(BASE)


def _index(path: tuple) -> int:
    """The mutation index that hits `path` (where the committed run has it), else 0."""
    return PATHS.index(path) if path in PATHS else 0


def _mutated(choices: list[tuple[int, Any]]) -> dict[str, Any]:
    data = json.loads(json.dumps(BASE))
    for index, value in choices:
        path = PATHS[index % len(PATHS)]
        node = data
        try:
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    return data


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, allow_nan=True))
    return path


def _report_code(tmp_path: Path, choices: list[tuple[int, Any]]) -> int:
    """`loopvec report` over a machine folder whose newest run is the mutated one (skipped if unreadable)."""
    root = tmp_path / "res"
    _write(root / "m" / "20260101T000000Z_good.json", BASE)
    _write(root / "m" / "20260102T000000Z_bad.json", _mutated(choices))
    return main(["report", str(root)])


mutations = st.lists(st.tuples(st.integers(0, 10**6), values), min_size=1, max_size=3)


@pytest.mark.skipif(not REAL, reason="needs a committed run under results/")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations)
@example([(_index(("benchmarks", 1, "extra_info", "speedup", "workers")), float("inf"))])  # found by CI
def test_compare_of_a_mutated_run_answers_0_1_or_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  choices: list[tuple[int, Any]]) -> None:
    good = _write(tmp_path / "good.json", BASE)
    bad = _write(tmp_path / "bad.json", _mutated(choices))
    code = main(["compare", str(good), str(bad), "--fail-slower", "10"])
    err = capsys.readouterr().err
    assert code in (0, 1, 2)  # 1 only as the guard's verdict on a readable file
    if code == 2:
        assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not REAL, reason="needs a committed run under results/")
@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations)
@example([(_index(("loopvec", "skipped", 0, "reason")), [1])])  # found by CI: the fields report reads
@example([(_index(("loopvec", "skipped", 0, "reason")), None)])
@example([(_index(("loopvec", "command", 0)), None)])
@example([(_index(("loopvec", "noise", "step-n1000", "workers")), None)])  # found by CI: a noise record's null
def test_report_of_a_mutated_run_answers_0_or_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               choices: list[tuple[int, Any]]) -> None:
    assert _report_code(tmp_path, choices) in (0, 2)
    capsys.readouterr()


@pytest.mark.slow
@pytest.mark.skipif(not REAL, reason="needs a committed run under results/")
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations)
def test_compare_of_a_mutated_run_longer(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        choices: list[tuple[int, Any]]) -> None:
    good = _write(tmp_path / "good.json", BASE)
    bad = _write(tmp_path / "bad.json", _mutated(choices))
    assert main(["compare", str(good), str(bad), "--fail-slower", "10"]) in (0, 1, 2)
    capsys.readouterr()


@pytest.mark.slow
@pytest.mark.skipif(not REAL, reason="needs a committed run under results/")
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations)
def test_report_of_a_mutated_run_longer(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        choices: list[tuple[int, Any]]) -> None:
    assert _report_code(tmp_path, choices) in (0, 2)
    capsys.readouterr()
