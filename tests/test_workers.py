"""Worker processes: the spec a worker gets, the merge of their passes, a killed worker, --isa."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from loopvec.bench.measure import pool
from loopvec.bench.measure import schedule as S
from loopvec.bench.measure.config import RunConfig
from loopvec.bench.measure.isa import IsaError, check_isa, isa_env
from loopvec.bench.measure.runner import Progress
from loopvec.bench.measure.workloads import Workload


def test_the_run_config_travels_to_a_worker_unchanged() -> None:
    cfg = RunConfig(profile="full", impls=("numpy", "python"), only=("forward-toy",), threads=1, precision=3.0,
                    processes=5, isa="avx2")
    assert RunConfig.from_json(cfg.to_json()) == cfg
    assert cfg.n_processes == 5 and RunConfig(profile="full").n_processes > RunConfig().n_processes >= 3


def test_a_workers_share_of_the_timing() -> None:
    t = S.TIMINGS["quick"]
    share = t.share(3)
    assert share.min_passes * 3 >= t.min_passes and share.min_passes >= 2
    assert share.case_cap_s == pytest.approx(t.case_cap_s / 3)
    assert t.share(1) == t


def _record(case: str, entrants: dict[str, list[list[float]]], **extra: Any) -> dict[str, Any]:
    return {"case": case, "seconds": 1.0, "reached": extra.get("reached", ""), "excluded": {},
            "noise": {"total": 100, "busy": 50, "steal": 1, "own_s": 0.4, "known": True, "settle_s": 0.1,
                      "settle_max_s": 0.05, "settle_capped": 0, "settle_idle_s": 0.1},
            "entrants": {e: {"passes": p, "first_call_s": 0.01, "iterations": 4} for e, p in entrants.items()}}


def test_merged_passes_keep_their_worker() -> None:
    case = Workload("forward", "forward-toy", 1, network="toy")
    sched = S.Schedule(S.TIMINGS["quick"], enabled=True)
    st = sched.add(case, ["python", "numpy"])
    progress = Progress(lambda _: None)
    pool.merge(sched, progress, 0, [_record(case.id, {"python": [[1.0], [1.1]], "numpy": [[2.0], [2.1]]})])
    pool.merge(sched, progress, 1, [_record(case.id, {"python": [[1.2], [1.3]], "numpy": [[2.6], [2.7]]}),
                                    {"end": True, "skipped": [{"id": "x-numpy", "reason": "r"}], "failed": []}])
    assert st.done and st.passes["python"] == [[1.0], [1.1], [1.2], [1.3]]
    assert st.workers["numpy"] == [0, 0, 1, 1]
    assert st.noise.total == 200 and st.noise.settle_s == pytest.approx(0.2)
    assert progress.skipped == [{"id": "x-numpy", "reason": "r"}]
    iv = st.intervals(case.id)[("python", "numpy")]
    assert iv.workers == 2 and iv.between is not None and iv.between > 0


def test_a_line_cut_short_by_a_kill_is_left_out(tmp_path: Path) -> None:
    f = tmp_path / "w.jsonl"
    f.write_text(json.dumps({"case": "a"}) + "\n" + '{"case": "b", "entr')
    assert pool.read_records(f) == [{"case": "a"}]
    assert pool.read_records(tmp_path / "missing.jsonl") == []


HOST_AVX2 = {"sse2": True, "avx": True, "avx2": True, "fma": True, "avx512f": False, "avx512bw": False}


def test_isa_env_switches_off_everything_above_the_isa() -> None:
    env = isa_env("avx2", HOST_AVX2)
    feats = env["NUMBA_CPU_FEATURES"].split(",")
    assert "+avx2" in feats and "+fma" in feats and "-avx512f" in feats
    assert env["NUMBA_CPU_NAME"] == "haswell" and env["OPENBLAS_CORETYPE"] == "Haswell"
    assert env["ATEN_CPU_CAPABILITY"] == "avx2"
    sse2 = isa_env("sse2", HOST_AVX2)["NUMBA_CPU_FEATURES"].split(",")
    assert "+sse2" in sse2 and "-avx" in sse2 and "-avx2" in sse2 and "-fma" in sse2
    assert isa_env("native") == {}


def test_an_isa_the_cpu_cannot_run_is_refused() -> None:
    with pytest.raises(IsaError, match="cannot run it .no avx512f"):
        check_isa("avx512", HOST_AVX2, machine="x86_64")
    with pytest.raises(IsaError, match="x86-64"):
        check_isa("avx2", HOST_AVX2, machine="aarch64")
    check_isa("avx2", HOST_AVX2, machine="x86_64")  # fine
    check_isa("native", {}, machine="aarch64")


@pytest.mark.slow
def test_a_killed_worker_costs_only_its_own_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker 2 of 3 is killed (SIGKILL) after its first case: the run goes on, worker 3 runs,
    every pass of workers 1 and 3 is saved, and the results say what worker 2 did not finish."""
    real_popen = subprocess.Popen

    def popen(args: list[str], **kw: Any) -> subprocess.Popen:
        proc = real_popen(args, **kw)
        if args[-1].endswith("worker1.json"):
            out = Path(args[-1]).with_suffix(".jsonl")

            def killer() -> None:
                for _ in range(600):
                    if out.exists() and out.read_text().count("\n") >= 2:  # the kernel record, one case
                        os.kill(proc.pid, signal.SIGKILL)
                        return
                    time.sleep(0.05)

            threading.Thread(target=killer, daemon=True).start()
        return proc

    monkeypatch.setattr(pool.subprocess, "Popen", popen)
    cfg = RunConfig(impls=("numpy", "python"), only=("forward-toy",), processes=3)
    lines: list[str] = []
    data, progress = pool.run_suite(cfg, {}, lines.append, probe=False)
    assert data is not None and not progress.interrupted
    workers = data["loopvec"]["processes"]["workers"]
    assert [w["exit"] for w in workers] == [0, -signal.SIGKILL, 0]
    assert workers[1]["cases"] == 1 and workers[1]["missing"] == ["forward-toy-b0100"]
    assert any("worker 2/3 ended with exit code -9" in ln for ln in lines)
    by_case = {b["extra_info"]["case"]: b["extra_info"] for b in data["benchmarks"] if b["extra_info"]["impl"] == "numpy"}
    assert set(by_case["forward-toy-b0001"]["pass_workers"]) == {0, 1, 2}
    assert set(by_case["forward-toy-b0100"]["pass_workers"]) == {0, 2}  # worker 2's unfinished case is gone


@pytest.mark.slow
def test_every_case_is_timed_in_every_worker_one_after_another(tmp_path: Path) -> None:
    """The workers run one after another, each over every case: a case's passes come from all of
    them, so the whole run's drift is sampled, not one stretch of it per case."""
    cfg = RunConfig(impls=("numpy", "python"), only=("forward-toy", "dot-n0002"), processes=3)
    lines: list[str] = []
    data, _ = pool.run_suite(cfg, {}, lines.append, probe=False)
    assert data is not None
    workers = data["loopvec"]["processes"]["workers"]
    assert [w["index"] for w in workers] == [0, 1, 2] and all(w["exit"] == 0 and not w["missing"] for w in workers)
    for b in data["benchmarks"]:
        assert set(b["extra_info"]["pass_workers"]) == {0, 1, 2}
        assert set(b["extra_info"]["worker_estimates"]) == {"0", "1", "2"}
    order = [ln.split()[0] for ln in lines if "] " in ln and " passes, " in ln]  # w1/3 ... w3/3, in turn
    assert order == sorted(order) and len(order) == 3 * 3
    noise = data["loopvec"]["noise"]
    assert all(v["workers"] == 3 and v["process_spread_pct"] is not None for v in noise.values())


def test_the_run_stores_bytes_memory_fits_and_each_time_over_torchs() -> None:
    from loopvec.bench.measure.runner import benchmark_entries, run_fits

    sched = S.Schedule(S.TIMINGS["quick"], enabled=True)
    progress = Progress(lambda _: None)
    for b, scale in ((1, 1.0), (10, 2.0), (100, 11.0)):
        case = Workload("forward", "forward-toy", b, network="toy")
        sched.add(case, ["numpy", "torch"])
        times = {"numpy": [[1e-5 * scale], [1.1e-5 * scale]], "torch": [[2e-5 * scale], [2.2e-5 * scale]]}
        pool.merge(sched, progress, 0, [_record(case.id, times)])
        pool.merge(sched, progress, 1, [_record(case.id, times)])
    sched.cases["forward-toy-b0001"].ready["numpy"].memory = {"peak_bytes": 64, "allocations": None, "method": "m"}
    got = {(b["extra_info"]["case"], b["extra_info"]["impl"]): b["extra_info"] for b in benchmark_entries(sched)}
    numpy1 = got[("forward-toy-b0001", "numpy")]
    assert numpy1["bytes"] == 27 * 8 and numpy1["memory"]["peak_bytes"] == 64
    assert numpy1["over_torch"]["value"] == pytest.approx(0.5)  # numpy's time over torch's
    assert "over_torch" not in got[("forward-toy-b0001", "torch")]
    fits = run_fits([st for st in sched.cases.values() if st.done])["forward-toy"]["fits"]
    assert fits["numpy"]["b"]["value"] == pytest.approx(1e-6, rel=0.2)  # 1e-5 + 1e-6 per sample, roughly


def test_explains_stage_cases_make_results_too() -> None:
    from loopvec.bench.measure.runner import benchmark_entries, run_fits
    from loopvec.bench.measure.stages import StageCase

    case = StageCase("toy", 1, "torch")
    sched = S.Schedule(S.TIMINGS["quick"], enabled=True)
    sched.add(case, ["forward", "empty"])
    progress = Progress(lambda _: None)
    for w in (0, 1):
        pool.merge(sched, progress, w, [_record(case.id, {"forward": [[2e-5], [2.1e-5]], "empty": [[1e-5], [1.1e-5]]})])
    entries = benchmark_entries(sched)  # a stage case has no unit, bytes or fits: none are asked of it
    assert {b["extra_info"]["impl"] for b in entries} == {"forward", "empty"}
    assert all("bytes" not in b["extra_info"] and "over_torch" not in b["extra_info"] for b in entries)
    assert run_fits(list(sched.cases.values())) == {}
