"""The typed results model: a results file as a `Run` of `Bench`es, loaded and saved here.

A results file stays pytest-benchmark JSON (so `pytest-benchmark compare` reads it); `load`
reads it through store/results.py's validation (a one-line ResultsError naming the file and
the field) and returns a Run whose fields have the types annotated below; `save` writes one
back, and the writer (measure/runner.py) builds its entries and its "loopvec" section with
`benchmark_entry`, `loopvec_section` and `results_document`, so the format's number and keys
are named here (and in store/schema.py, which this module re-exports) and nowhere else.

The format's number is loopvec.format; loading checks it:

- newer than FORMAT: a one-line error, "written by a newer loopvec (results format N)...: upgrade loopvec";
- 3 (FORMAT): interleaved passes spread over worker processes (extra_info pass_workers), estimates,
  intervals, and, since later versions of 3, fits, bytes, memory and the time over torch's;
- 2: interleaved passes in one process. Read as passes of one process: every Bench's workers()
  is None, so its intervals cannot see the spread between processes (the tables say so);
- 1: medians only (the first `loopvec run`). Read with the median as the estimate and every raw
  round as its own pass; no stored intervals (compare shows "older file: medians, no intervals");
- a plain pytest-benchmark file (no "loopvec" section): as format 1, plain=True, each benchmark's
  case and implementation taken from its group, parameter or name (results.validate).

Whatever the model does not name stays in `raw` (the validated dict), and `save` writes `raw`:
a run loaded and saved holds the same JSON content.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from loopvec.bench.core import YARDSTICK
from loopvec.bench.store.atomic import write_atomic
from loopvec.bench.store.results import ResultsError, fail, load_run, validate
from loopvec.bench.store.schema import (FORMAT, INTERVAL_KEYS, NUMPY_OVER_MATMULS, OVER_TORCH, SHARE, SPEEDUP,
                                        VS_NUMPY, StoredInterval)

__all__ = ["FORMAT", "INTERVAL_KEYS", "Bench", "Run", "StoredInterval", "ResultsError", "load", "save", "as_run", "dumps",
           "benchmark_entry", "loopvec_section", "results_document", "interval_key", "OVER_TORCH",
           "NUMPY_OVER_MATMULS"]


@dataclass(frozen=True)
class Bench:
    """One timing of one entrant in one case (a pytest-benchmark entry)."""
    name: str
    case: str
    impl: str
    workload: str  # the case's family (a curve over sizes); the case itself when not recorded
    kind: str  # "forward", "dot", "activation", "stage", ... ("" when not recorded)
    size: int
    unit: str
    dtype: str
    flops: int | float | None
    estimate: float  # the per-call time ratios are computed from (format 1: the median)
    median: float
    q1: float
    q3: float
    rounds: list[float] | None  # every round's time; None when loaded without them (load(rounds=False))
    pass_rounds: list[int] | None  # rounds per interleaved pass (format 2 and later)
    pass_workers: list[int] | None  # the worker process of each pass (format 3)
    speedup: StoredInterval | None = None  # pure Python's time over this one's, stored by the run
    vs_numpy: StoredInterval | None = None  # numpy's time over this one's (the yardstick's numpy_over_matmuls)
    over_torch: StoredInterval | None = None  # this one's time over torch's
    share: StoredInterval | None = None  # explain: this stage's share of the whole forward pass
    first_call_s: float | None = None
    code: str | None = None  # source hash of the implementation
    bytes: int | None = None  # the least one call moves
    gbps: float | None = None
    intensity: float | None = None
    memory: dict[str, Any] | None = None  # one call's extra memory: peak_bytes, allocations, method, note
    network: str | None = None
    explained: str | None = None  # explain: the implementation whose stage this is
    fused: str | None = None  # explain: how the stages were split
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, b: dict[str, Any], path: str | Path = "<data>") -> Bench:
        """A validated benchmark entry (results.validate) as a Bench."""
        e, s = b["extra_info"], b["stats"]
        where = f"benchmark {b['name']}: extra_info"
        for key in ("explained", "fused"):
            if e.get(key) is not None and not isinstance(e[key], str):
                raise fail(path, f"{where} {key} is a {type(e[key]).__name__}, expected text")
        est = e.get("estimate")
        ivs = {k: StoredInterval.from_dict(e.get(k)) for k in INTERVAL_KEYS}
        data = s.get("data")
        return cls(
            name=b["name"], case=e["case"], impl=e["impl"], workload=e.get("workload") or e["case"],
            kind=e.get("kind") or "", size=int(e.get("size", 0)), unit=e.get("unit") or "",
            dtype=e.get("dtype") or "float64", flops=e.get("flops"),
            estimate=float(est) if isinstance(est, (int, float)) else s["median"],
            median=s["median"], q1=s["q1"], q3=s["q3"], rounds=data if isinstance(data, list) else None,
            pass_rounds=e.get("pass_rounds"), pass_workers=e.get("pass_workers"),
            speedup=ivs[SPEEDUP], vs_numpy=ivs[NUMPY_OVER_MATMULS] or ivs[VS_NUMPY], over_torch=ivs[OVER_TORCH],
            share=ivs[SHARE], first_call_s=e.get("first_call_s"), code=e.get("code"), bytes=e.get("bytes"),
            gbps=e.get("gbps"), intensity=e.get("intensity"), memory=e.get("memory"),
            network=e.get("network"), explained=e.get("explained"), fused=e.get("fused"), raw=b)

    def passes(self) -> list[list[float]]:
        """The rounds cut into their interleaved passes; each round its own pass when the run did
        not record them (format 1), none when the rounds were not loaded."""
        if not self.rounds:
            return []
        counts = self.pass_rounds
        if not isinstance(counts, list) or sum(counts) != len(self.rounds):
            return [[float(t)] for t in self.rounds]
        out, i = [], 0
        for n in counts:
            out.append([float(t) for t in self.rounds[i:i + n]])
            i += n
        return out

    def workers(self, passes: list[list[float]] | None = None) -> list[int] | None:
        """The worker process of each pass (format 3), or None: one process (formats 1 and 2),
        or a count that does not match the passes (when the rounds were loaded)."""
        pw = self.pass_workers
        if not isinstance(pw, list):
            return None
        passes = self.passes() if passes is None else passes
        if not passes:  # the rounds were not read: the passes the run says it timed
            return [int(w) for w in pw] if isinstance(self.pass_rounds, list) and len(pw) == len(self.pass_rounds) \
                else None
        return [int(w) for w in pw] if len(pw) == len(passes) else None

    def without_rounds(self) -> Bench:
        raw = dict(self.raw, stats={k: v for k, v in self.raw.get("stats", {}).items() if k != "data"})
        return replace(self, rounds=None, raw=raw)


@dataclass(frozen=True)
class Run:
    """One results file: the run's record (the "loopvec" section), its machine, its benchmarks."""
    path: Path | None
    format: int  # loopvec.format; 1 for a plain pytest-benchmark file
    plain: bool  # no "loopvec" section: a plain pytest-benchmark file
    machine: str | None
    datetime: str | None
    commit: str | None
    profile: str | None
    complete: bool
    threads: int | None
    only: list[str]
    kind: str | None  # "calibrate", "explain"; None for `loopvec run`
    network: str | None  # explain: toy or mnist
    isa: str | None
    emulated: bool
    peak_gflops: dict[str, float]
    peak_gflops_measured: dict[str, list[float]]
    bandwidth: dict[str, Any] | None  # ceilings, footprints, l3_bytes, GBps (validated)
    fits: dict[str, Any] | None  # {workload: {"fits": {impl: {a, b, max_rel_residual}}, "crossover"}}
    noise: dict[str, dict[str, Any]]  # per case: steal, load, spread, passes, noisy, reason, ...
    skipped: list[dict[str, str]]
    failed: list[dict[str, str]]
    kernel: dict[str, Any] | None
    processes: dict[str, Any] | None
    estimator: dict[str, Any] | None
    numba_startup: dict[str, dict[str, Any]]
    command: list[str]
    planned: int | None
    finished: int | None
    timed: int | None
    env: dict[str, str]  # machine_info.loopvec.env: the speed-relevant environment variables
    machine_info: dict[str, Any]
    benchmarks: list[Bench]
    rounds: bool  # whether the raw rounds were loaded
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def loopvec(self) -> dict[str, Any]:
        """The raw "loopvec" section (fields the model does not name)."""
        lv = self.raw.get("loopvec")
        return lv if isinstance(lv, dict) else {}

    @property
    def meta(self) -> dict[str, Any]:
        """The raw run without its benchmarks: what measure.machine.describe and summary read."""
        return {k: v for k, v in self.raw.items() if k != "benchmarks"}

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | Path | None = None, rounds: bool = True) -> Run:
        """A validated run (results.validate) as a Run; the older formats upgraded (module docstring)."""
        where = path if path is not None else "<data>"
        lv = data.get("loopvec") if isinstance(data.get("loopvec"), dict) else {}
        lm = data["machine_info"].get("loopvec", {})
        for key, typ, what in (("complete", bool, "true/false"), ("emulated", bool, "true/false"),
                               ("kind", str, "text"), ("network", str, "text")):
            if lv.get(key) is not None and not isinstance(lv[key], typ):
                raise fail(where, f"loopvec.{key} is a {type(lv[key]).__name__}, expected {what}")
        for key in ("planned", "finished", "timed"):
            v = lv.get(key)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise fail(where, f"loopvec.{key} is {v!r}, expected a whole number >= 0")
        if data.get("datetime") is not None and not isinstance(data["datetime"], str):
            raise fail(where, f"datetime is a {type(data['datetime']).__name__}, expected text")
        if "env" in lm and not all(isinstance(v, (str, int, float)) for v in lm["env"].values()):
            raise fail(where, "machine_info.loopvec.env is not an object of text")

        def obj(key: str) -> dict[str, Any] | None:
            return lv[key] if isinstance(lv.get(key), dict) else None

        return cls(
            path=Path(path) if path is not None else None, format=int(lv.get("format", 1)), plain=not lv,
            machine=lv.get("machine"), datetime=data.get("datetime"), commit=lv.get("commit"),
            profile=lv.get("profile"), complete=bool(lv.get("complete", True)), threads=lv.get("threads"),
            only=list(lv.get("only", [])), kind=lv.get("kind"), network=lv.get("network"), isa=lv.get("isa"),
            emulated=bool(lv.get("emulated", False)), peak_gflops=dict(lv.get("peak_gflops", {})),
            peak_gflops_measured=dict(obj("peak_gflops_measured") or {}), bandwidth=obj("bandwidth"),
            fits=obj("fits"), noise=dict(lv.get("noise", {})), skipped=list(lv.get("skipped", [])),
            failed=list(lv.get("failed", [])), kernel=obj("kernel"), processes=obj("processes"),
            estimator=obj("estimator"), numba_startup=dict(lv.get("numba_startup", {})),
            command=list(lv.get("command", [])), planned=lv.get("planned"), finished=lv.get("finished"),
            timed=lv.get("timed"), env={str(k): str(v) for k, v in lm.get("env", {}).items()},
            machine_info=data["machine_info"], benchmarks=[Bench.from_dict(b, where) for b in data["benchmarks"]],
            rounds=rounds, raw=data)

    def without_rounds(self) -> Run:
        """The run with no raw rounds held (the report keeps 200 machines' runs this way)."""
        benches = [b.without_rounds() for b in self.benchmarks]
        return replace(self, benchmarks=benches, rounds=False, raw=dict(self.raw, benchmarks=[b.raw for b in benches]))

    def without_benchmarks(self) -> Run:
        """The run's record alone: its machine, its fields, no benchmark."""
        return replace(self, benchmarks=[], rounds=False, raw=self.meta)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of the run (what `save` writes)."""
        return self.raw


def load(path: str | Path, rounds: bool = True) -> Run:
    """A results file as a Run. ResultsError (one line, naming the file and the field or the format)
    when it cannot be used; rounds=False: the raw rounds are left undecoded (results.load_run), the
    report's fast path: a run that stored its intervals and fits needs none of them."""
    return Run.from_dict(load_run(path, rounds), path, rounds)


def as_run(data: Run | dict[str, Any], path: str | Path | None = None) -> Run:
    """A Run as it is; the JSON of a run (a dict, as `json.loads` gives it), validated and typed."""
    if isinstance(data, Run):
        return data
    return Run.from_dict(validate(_copied(data), path if path is not None else "<data>"), path)


def _copied(data: Any) -> Any:
    """The levels of a run's JSON that validation normalises in place, copied: the caller's dict
    (a run just measured, not yet saved) stays as it was."""
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        return data
    return dict(data, benchmarks=[dict(b, **{k: dict(b[k]) for k in ("stats", "extra_info") if isinstance(b.get(k), dict)})
                                  if isinstance(b, dict) else b for b in data["benchmarks"]])


def dumps(data: dict[str, Any]) -> str:
    """A results document's text, as `loopvec run` writes it."""
    return json.dumps(data, indent=1)


def save(run: Run, path: str | Path) -> Path:
    """Write a run (atomically) as `loopvec run` writes one; a run loaded without its rounds cannot be:
    its file would lose them."""
    if not run.rounds and run.benchmarks:
        raise ValueError(f"{run.path}: loaded without its rounds (rounds=False); load it with them to save it")
    return write_atomic(Path(path), dumps(run.to_dict()))


# ------------------------------------------------------------------ the writer's side (measure/runner.py)

def interval_key(num: str, den: str, entrant: str) -> str | None:
    """The extra_info key under which `entrant`'s entry stores the interval of num's time over den's."""
    if den == entrant and num == "python":
        return SPEEDUP
    if den == entrant and num == "numpy":
        return NUMPY_OVER_MATMULS if entrant == YARDSTICK else VS_NUMPY
    if num == entrant and den == "forward":
        return SHARE
    return None


def benchmark_entry(case_id: str, entrant: str, extra: dict[str, Any], stats: dict[str, Any],
                    rounds: int) -> dict[str, Any]:
    """One pytest-benchmark entry for (case, entrant): pytest-benchmark's layout, loopvec's extra_info."""
    name = f"test_case[{case_id}-{entrant}]"
    return {
        "group": case_id, "name": name, "fullname": f"bench_suite.py::{name}",
        "params": {"case": case_id, "entrant": entrant}, "param": f"{case_id}-{entrant}", "extra_info": extra,
        "options": {"disable_gc": True, "timer": "perf_counter", "min_rounds": rounds,
                    "max_time": None, "min_time": None, "warmup": False},
        "stats": stats,
    }


def loopvec_section(info: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The run's top-level "loopvec" section: what the run was asked (info), the format, then `fields`."""
    return dict(info, format=FORMAT, **fields)


def results_document(machine_info: dict[str, Any], commit_info: dict[str, Any], benchmarks: list[dict[str, Any]],
                     datetime: str, version: str, lv: dict[str, Any]) -> dict[str, Any]:
    """The whole results file: pytest-benchmark's top-level keys, and the "loopvec" section."""
    return {"machine_info": machine_info, "commit_info": commit_info, "benchmarks": benchmarks,
            "datetime": datetime, "version": version, "loopvec": lv}
