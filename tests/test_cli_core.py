"""The CLI's core commands: --help, list, check."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from loopvec import impls
from loopvec.bench.cli.main import main


def test_help_mentions_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "loopvec" in out
    for command in ("list", "check"):
        assert command in out


def test_no_command_is_a_one_line_error_after_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "loopvec: error: a COMMAND is required (see loopvec --help)"


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "frobnicate" in capsys.readouterr().err


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name in impls.available():
        row = next((ln for ln in lines if ln.split() and ln.split()[0] == name), None)
        assert row is not None, f"{name} not listed:\n{out}"
        assert "float64" in row and "not available" not in row
    assert "python" in lines[0] and "numpy" in lines[0]  # the versions line
    import numpy
    assert numpy.__version__ in out


def test_check_all_agree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "all implementations agree" in out
    lines = out.splitlines()
    for name in impls.available():
        rows = [ln.split() for ln in lines if ln.split() and ln.split()[0] == name
                and ln.split()[-1] in ("ok", "DISAGREES")]
        assert len(rows) == 2, f"{name}: expected one row per network:\n{out}"  # toy and MNIST-shaped
        for row in rows:  # name, max |diff|, argmax disagreements, verdict
            assert row[-1] == "ok" and float(row[1]) <= 1e-9 and row[2] == "0", row
    assert "DISAGREE" not in out


def test_check_selected_implementations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--impl", "python", "numpy", "--samples", "5", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    names = {ln.split()[0] for ln in out.splitlines() if ln.startswith("  ") and ln.split()}
    assert {"python", "numpy"} <= names
    assert not (set(impls.available()) - {"python", "numpy"}) & names


def test_check_unknown_implementation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--impl", "nope"]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert "nope" in err
    for name in impls.available():
        assert name in err
    assert "Traceback" not in err
    assert "all implementations agree" not in captured.out


@pytest.mark.parametrize("samples", ["0", "-3", "many"])
def test_check_rejects_bad_sample_counts(samples: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["check", "--samples", samples])
    assert info.value.code == 2
    assert "samples" in capsys.readouterr().err


def test_check_detects_a_disagreement(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """check must be able to fail: an implementation off by 1e-3 is reported and exits 1."""
    py = impls.get("python")
    real_forward = py.forward

    def off_by_a_little(p: Any, x: Any) -> Any:
        return (np.asarray(real_forward(p, x)) + 1e-3).tolist()

    monkeypatch.setattr(py, "forward", off_by_a_little)
    assert main(["check", "--impl", "python", "--samples", "3"]) == 1
    out = capsys.readouterr().out
    assert "DISAGREES" in out
    assert "all implementations agree" not in out
