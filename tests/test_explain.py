"""`loopvec explain`: stages validated like every case, timed side by side, shares with intervals."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import AVAILABLE
from loopvec.bench.measure.stages import EXPLAINED, StageCase

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("impl", [n for n in EXPLAINED if n in AVAILABLE])
@pytest.mark.parametrize("net, batch", [("toy", 1), ("toy", 5), ("mnist", 3)])
def test_every_stage_computes_what_forward_computes(impl: str, net: str, batch: int) -> None:
    case = StageCase(net, batch, impl)
    for entrant in case.entrants():
        setup, check = case.setup(entrant)
        assert check(setup.to_numpy(setup.fn(*setup.args))) is None, entrant


def test_a_wrong_stage_output_is_caught() -> None:
    setup, check = StageCase("toy", 2, "numpy").setup("l1-product")
    good = np.asarray(setup.fn(*setup.args))
    assert check(good) is None
    assert "difference" in (check(good + 1e-3) or "")
    assert "shape" in (check(good[:1]) or "")


@pytest.mark.slow
def test_explain_cli_prints_a_breakdown_and_writes_results_and_png(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "loopvec.bench", "explain", "--network", "toy", "--batch", "1",
                           "--impl", "python", "numpy", "--machine", "box", "--results-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = (tmp_path / "box" / "explain").glob("*.json")
    data = json.loads(path.read_text())
    stages = {(b["extra_info"]["explained"], b["extra_info"]["impl"]): b["extra_info"] for b in data["benchmarks"]}
    assert {"forward", "empty", "l1-product", "l1-bias", "l3-identity"} <= {s for i, s in stages if i == "numpy"}
    share = stages[("numpy", "l1-product")]["share"]
    assert share["lo"] <= share["value"] <= share["hi"]
    assert share["value"] == pytest.approx(stages[("numpy", "l1-product")]["estimate"]
                                           / stages[("numpy", "forward")]["estimate"])
    assert "rest" in proc.stdout and "how the stages were split" in proc.stdout
    assert (tmp_path / "box" / "explain" / "toy-b00001.png").read_bytes()[:8] == PNG
    # the explain run does not stand for the machine's run
    assert not list((tmp_path / "box").glob("*.json"))


@pytest.mark.slow
def test_explain_refuses_numba_parallel(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "loopvec.bench", "explain", "--impl", "numba-parallel",
                           "--results-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "not taken apart" in proc.stderr


def test_a_batch_that_cannot_fit_in_memory_is_refused_before_allocating(capsys: pytest.CaptureFixture[str]) -> None:
    from loopvec.bench.cli.main import main

    assert main(["explain", "--network", "toy", "--batch", "1000000000000", "--impl", "numpy"]) == 2
    err = capsys.readouterr().err
    assert "GiB of inputs and activations" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_folder_where_the_plot_goes_is_one_line_after_the_results_are_saved(tmp_path: Path) -> None:
    (tmp_path / "m1" / "explain" / "toy-b00001.png").mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "loopvec.bench", "explain", "--network", "toy", "--batch", "1",
                           "--impl", "numpy", "python", "--machine", "m1", "--results-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "exists and is a folder" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    (saved,) = (tmp_path / "m1" / "explain").glob("*.json")
    assert f"results: {saved}" in proc.stdout


@pytest.mark.parametrize("net", ["toy", "mnist"])
def test_explains_tuned_layers_are_forwards_own_packing(net: str) -> None:
    """explain times numba-tuned's layers on the very arrays its forward reads: the same packed,
    aligned, zero-padded weights (round two's explain packed its own copy, unaligned, with garbage
    in the padding)."""
    from loopvec import impls
    from loopvec.bench.measure import stages

    m = impls.get("numba-tuned")
    fwd, _ = StageCase(net, 5, "numba-tuned").setup("forward")
    p = fwd.args[0]  # the Prepared network explain's forward entrant runs
    assert p is stages.prepared("numba-tuned", net)
    assert p.wflat.ctypes.data % 64 == 0 and p.bflat.ctypes.data % 64 == 0
    for k in range(len(p.sizes) - 1):
        steps = m.stages(p, k)
        wp, bp = steps["packed_weights"], steps["padded_bias"]
        assert np.shares_memory(wp, p.wflat) and np.shares_memory(bp, p.bflat)
        assert wp.ctypes.data == p.wflat.ctypes.data + int(p.offs[k, 0]) * p.wflat.itemsize
        assert bp.ctypes.data == p.bflat.ctypes.data + int(p.offs[k, 1]) * p.bflat.itemsize
        assert steps["width"] % p.lanes == 0 and bp.shape == (steps["width"],)
        assert not bp[p.sizes[k + 1]:].any()  # the padded bias lanes are zero
    # explain's product stage reads p's own weights: with them zeroed, it gives the bias alone
    setup, _ = StageCase(net, 5, "numba-tuned").setup("l2-product")
    saved = p.wflat.copy()
    try:
        p.wflat[:] = 0
        got = setup.to_numpy(setup.fn(*setup.args))
    finally:
        p.wflat[:] = saved
    b = stages.network(net).layers[1][1]
    np.testing.assert_array_equal(got, np.broadcast_to(b, got.shape))
    # and that Prepared is one numba-tuned's forward computes with
    x = np.random.default_rng(0).standard_normal((5, p.n_in))
    ref = impls.get("numpy")
    want = ref.forward(ref.prepare(stages.network(net)), x)
    np.testing.assert_allclose(m.forward(p, x), want, rtol=1e-9, atol=1e-12)


def _chain(name: str, p: object, X: np.ndarray, n_layers: int) -> np.ndarray:
    """X through each layer's stages in turn: product, bias where it is a step of its own, activation."""
    from loopvec import impls

    m = impls.get(name)
    a = X.tolist() if name == "python" else m.from_numpy(X)
    for k in range(n_layers):
        steps = m.stages(p, k)

        def layer(v: object) -> object:
            z = steps["product"](v)
            return steps["activation"](steps["bias"](z) if "bias" in steps else z)

        a = [layer(row) for row in a] if name == "python" else layer(a)  # python's stages take one sample
    return np.asarray(m.to_numpy(a) if name != "python" else a)


@pytest.mark.parametrize("impl", [n for n in EXPLAINED if n in AVAILABLE])
@pytest.mark.parametrize("net", ["toy", "mnist"])
def test_stages_chained_layer_by_layer_are_forward(impl: str, net: str) -> None:
    """Each implementation's stages, the ones explain times, chained layer after layer, compute
    exactly what its forward computes (numba-tuned's over several tiles and a partial one)."""
    from loopvec import impls
    from loopvec.bench.measure import stages

    m = impls.get(impl)
    network = stages.network(net)
    p = m.prepare(network)
    for batch in (1, 70):
        X = np.random.default_rng(batch).standard_normal((batch, network.n_in))
        got = _chain(impl, p, X, len(network.layers))[:, :network.n_out]  # numba-tuned's rows are padded
        want = np.asarray(m.to_numpy(m.forward(p, m.from_numpy(X))))
        np.testing.assert_array_equal(got, want)
