"""A run in worker processes: the parent starts them one after another and merges their passes.

Each worker (worker.py) is a fresh process that times its share of every case's passes,
interleaved as always; so a process's memory layout and thread placement are sampled,
not frozen, and, the workers running one after another over the whole run, so is the
minutes-scale drift of a shared machine. The parent measures the peak, starts the
workers, passes their progress lines on, merges their passes per case (each pass
keeps its worker's index) and builds the results. A worker that crashes or is killed
costs its own unfinished case only: the results say which worker ended how. Ctrl-C,
SIGTERM and SIGHUP stop the worker in flight (it keeps its finished cases), start no
other, and the parent saves what it has.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loopvec.bench.measure import machine
from loopvec.bench.measure import schedule as S
from loopvec.bench.measure.config import RunConfig
from loopvec.bench.measure.isa import isa_env
from loopvec.bench.measure.noise import Noise
from loopvec.bench.measure.plugin import select_cases
from loopvec.bench.measure.probe import numba_startup
from loopvec.bench.measure.runner import Progress, Say, hold_signals, results

STOP_WAIT_S = 60.0  # how long a stopped worker may take to write its last case and exit


def read_records(path: Path) -> list[dict[str, Any]]:
    """A worker's JSON lines; a line cut short by a kill is left out."""
    out = []
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def merge(sched: S.Schedule, progress: Progress, index: int, records: list[dict[str, Any]]) -> set[str]:
    """Add one worker's records to the parent's schedule; the ids of the cases it finished."""
    finished = set()
    for rec in records:
        if "kernel" in rec:
            continue  # read by run_suite
        if rec.get("end"):
            seen = {(x["id"]) for x in progress.skipped + progress.failed}
            progress.skipped += [x for x in rec.get("skipped", []) if x["id"] not in seen]
            progress.failed += [x for x in rec.get("failed", []) if x["id"] not in seen]
            continue
        st = sched.cases.get(rec.get("case", ""))
        if st is None:
            continue
        for e, got in rec["entrants"].items():
            st.passes.setdefault(e, []).extend(got["passes"])
            st.workers.setdefault(e, []).extend([index] * len(got["passes"]))
            if e not in st.ready:
                st.ready[e] = S.Ready(None, got["first_call_s"], got["iterations"], 0)
            if st.ready[e].memory is None and isinstance(got.get("memory"), dict):
                st.ready[e].memory = got["memory"]
            st.first_calls.setdefault(e, []).append(got["first_call_s"])
        for e, why in rec.get("excluded", {}).items():
            st.excluded.setdefault(e, why)
        _add_noise(st.noise, rec.get("noise", {}))
        st.seconds += float(rec.get("seconds", 0.0))
        if rec.get("reached") and rec["reached"] not in st.reached:
            st.reached = "; ".join(x for x in (st.reached, rec["reached"]) if x)
        st.done = True
        finished.add(st.case.id)
    return finished


def _add_noise(n: Noise, d: dict[str, Any]) -> None:
    for k in ("total", "busy", "steal", "own_s", "settle_capped", "settle_idle_s"):
        setattr(n, k, getattr(n, k) + d.get(k, 0))
    n.known = n.known and bool(d.get("known", True))
    n.settle_max_s = max(n.settle_max_s, d.get("settle_max_s", 0.0))
    n.settle_s = None if n.settle_s is None or d.get("settle_s") is None else n.settle_s + d["settle_s"]


def _stop(proc: subprocess.Popen) -> None:
    """Ask a worker to stop as on Ctrl-C, and give it time to write its last case."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_worker(cfg: RunConfig, index: int, folder: Path, say: Say, env: dict[str, str]) -> dict[str, Any]:
    """Start worker `index`, pass its lines on, wait for it; what happened (exit code, seconds)."""
    spec = folder / f"worker{index}.json"
    out = folder / f"worker{index}.jsonl"
    storage = folder / f"storage{index}"
    spec.write_text(json.dumps({"config": cfg.to_json(), "index": index, "of": cfg.n_processes,
                                "out": str(out), "storage": str(storage)}))
    err = open(folder / f"worker{index}.err", "w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "loopvec.bench.measure.worker", str(spec)], env=env,
                            stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
    interrupted = False
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            say(line.rstrip("\n"))
        proc.wait()
    except KeyboardInterrupt:
        interrupted = True
        hold_signals()  # a second Ctrl-C must not cut the worker's last write short
        _stop(proc)
    err.seek(0)
    tail = [ln for ln in err.read().splitlines() if ln.strip()][-1:]
    err.close()
    return {"index": index, "exit": proc.returncode, "seconds": round(time.perf_counter() - t0, 2),
            "interrupted": interrupted, "error": tail[0][:300] if tail and proc.returncode not in (0, 130) else None}


def measure_peaks(dtypes: list[str], env: dict[str, str], native: bool) -> dict[str, float]:
    """The large-np.dot peak per dtype; under --isa in a new process, where OpenBLAS is held to it too."""
    if native:
        return {d: round(machine.measure_peak(d), 2) for d in dtypes}
    code = ("import json, sys; from loopvec.bench.measure.machine import measure_peak; "
            "print(json.dumps({d: measure_peak(d) for d in sys.argv[1:]}))")
    proc = subprocess.run([sys.executable, "-c", code, *dtypes], env=env, capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"measuring the peak under the ISA failed: {proc.stderr.strip()[-200:]}")
    return {d: round(float(v), 2) for d, v in json.loads(proc.stdout).items()}


def bandwidth_line(bw: dict[str, Any]) -> str:
    """'cache 61.2 GB/s (8 MiB), DRAM 18.3 GB/s (512 MiB)': the ceilings and the footprints they were measured at."""
    fp, ceil = bw.get("footprints", {}), bw.get("ceiling", {})
    return ", ".join(f"{'DRAM' if lvl == 'dram' else lvl} {ceil[lvl]:.1f} GB/s ({fp.get(lvl, 0) / 2**20:.0f} MiB)"
                     for lvl in ("cache", "dram") if isinstance(ceil.get(lvl), (int, float)))


def higher(first: dict[str, Any], again: dict[str, Any]) -> dict[str, Any]:
    """Two bandwidth measurements as one: each kernel's, variant's and level's higher reading, the
    ceilings recomputed from them, and both readings of each ceiling kept ("ceiling_measured")."""
    out = dict(first)
    out["GBps"] = {k: {v: {lvl: max(x, again["GBps"][k][v][lvl]) for lvl, x in per.items()}
                       for v, per in variants.items()} for k, variants in first["GBps"].items()}
    out["ceiling"] = {lvl: max(first["ceiling"][lvl], again["ceiling"][lvl]) for lvl in first["ceiling"]}
    out["ceiling_measured"] = {lvl: [first["ceiling"][lvl], again["ceiling"][lvl]] for lvl in first["ceiling"]}
    return out


def measure_bandwidth(env: dict[str, str], native: bool, threads: int | None) -> dict[str, Any]:
    """The STREAM-style ceilings (bandwidth.py); under --isa in a new process, its Numba loops held to it too."""
    budget = 2.0
    if native:
        from loopvec.bench.measure.bandwidth import measure_bandwidth as measure

        return measure(budget_s=budget, threads=threads)
    code = ("import json, sys; from loopvec.bench.measure.bandwidth import measure_bandwidth as m; "
            "t = None if sys.argv[2] == 'none' else int(sys.argv[2]); "
            "print(json.dumps(m(budget_s=float(sys.argv[1]), threads=t)))")
    proc = subprocess.run([sys.executable, "-c", code, str(budget), str(threads).lower()], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"measuring the bandwidth under the ISA failed: {proc.stderr.strip()[-200:]}")
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def run_suite(cfg: RunConfig, info: dict[str, Any], say: Say, probe: bool = True
              ) -> tuple[dict[str, Any] | None, Progress]:
    """Measure the peak, probe Numba's first call, run the workers, merge: the results and what happened."""
    progress = Progress(say)
    sched = S.Schedule(S.TIMINGS[cfg.profile if cfg.profile in S.TIMINGS else "quick"], enabled=True)
    for case, entrants in select_cases(cfg.profile, list(cfg.impls), list(cfg.only), cfg.explain,
                                       list(cfg.batches), cfg.aa):
        sched.add(case, entrants)
    progress.sched = sched
    n = cfg.n_processes
    env = dict(os.environ, **isa_env(cfg.isa))
    if cfg.data:
        from loopvec.bench.data.files import ENV_VAR

        env[ENV_VAR] = cfg.data  # the workers' real-MNIST cases read it; this process's environment is untouched
    data = None
    workers: list[dict[str, Any]] = []
    dtypes = ["float64", "float32"]
    with tempfile.TemporaryDirectory(prefix="loopvec-run-") as tmp:
        try:
            if cfg.ceilings:
                say("measuring peak: large np.dot ...")
                info["peak_gflops"] = measure_peaks(dtypes, env, cfg.isa == "native")
                say("  " + ", ".join(f"{d} {g:.1f} GFLOP/s" for d, g in info["peak_gflops"].items()))
                say("measuring memory bandwidth: STREAM-style copy and triad, NumPy and Numba loops ...")
                bw = info["bandwidth"] = measure_bandwidth(env, cfg.isa == "native", cfg.threads)
                say("  " + bandwidth_line(bw))
            else:
                say("peak and bandwidth not measured (--no-ceilings): rates without a share of either limit")
            if probe:
                say("timing Numba's first call in a new process: compiling, then loading the cache ...")
                info["numba_startup"] = numba_startup(list(cfg.impls), cfg.threads, env)
            nt = sum(len(st.entrants) for st in sched.cases.values())
            say(f"running {len(sched.cases)} cases ({nt} timings) in {n} worker processes, one after another; "
                f"interleaved passes in each")
            for i in range(n):
                w = run_worker(cfg, i, Path(tmp), say, env)
                records = read_records(Path(tmp) / f"worker{i}.jsonl")
                done = merge(sched, progress, i, records)
                kernel = next((r["kernel"] for r in records if "kernel" in r), None)
                if kernel is not None:
                    info.setdefault("kernel", kernel)
                w["cases"] = len(done)
                w["missing"] = [c for c in sched.cases if c not in done]
                workers.append(w)
                if w["exit"] not in (0, 130):
                    say(f"worker {i + 1}/{n} ended with exit code {w['exit']}"
                        + (f" ({w['error']})" if w["error"] else "") + f"; its {len(done)} finished cases are kept")
                if w["interrupted"] or w["exit"] == 130:
                    progress.interrupted = True
                    break
        except KeyboardInterrupt:
            progress.interrupted = True
        hold_signals()  # from here until the results are saved, Ctrl-C, SIGTERM and SIGHUP wait
        info["processes"] = {"planned": n, "started": len(workers), "workers": workers,
                             "isa": cfg.isa, "isa_env": isa_env(cfg.isa)}
        data = results(sched, progress, info)
        if data is not None and not progress.interrupted and cfg.ceilings:
            say("measuring peak again ...")
            again = measure_peaks(dtypes, env, cfg.isa == "native")
            data["loopvec"]["peak_gflops_measured"] = {d: [info["peak_gflops"][d], again[d]] for d in dtypes}
            data["loopvec"]["peak_gflops"] = {d: max(info["peak_gflops"][d], again[d]) for d in dtypes}
            say("measuring memory bandwidth again ...")  # as the peak: a shared machine's slow minute is not its limit
            data["loopvec"]["bandwidth"] = higher(info["bandwidth"], measure_bandwidth(env, cfg.isa == "native",
                                                                                      cfg.threads))
    return data, progress
