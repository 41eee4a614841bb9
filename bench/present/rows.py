"""A run (store/model.Run) as rows: one per case, each with its entrants' estimates, intervals and raw passes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loopvec.bench.measure.stats import Interval, ratio
from loopvec.bench.core import REFERENCE, YARDSTICK
from loopvec.bench.core import ordered, split_id
from loopvec.bench.store.model import Run, StoredInterval, as_run


@dataclass
class Row:
    case: str
    workload: str
    size: int
    unit: str
    dtype: str
    flops: int | None
    estimate: dict[str, float] = field(default_factory=dict)  # per-call seconds ratios are computed from
    median: dict[str, float] = field(default_factory=dict)
    q1: dict[str, float] = field(default_factory=dict)
    q3: dict[str, float] = field(default_factory=dict)
    passes: dict[str, list[list[float]]] = field(default_factory=dict)  # raw rounds per pass (format 2)
    workers: dict[str, list[int] | None] = field(default_factory=dict)  # worker process of each pass (format 3)
    speedup_iv: dict[str, Interval] = field(default_factory=dict)  # over pure Python, stored by the run
    vs_numpy_iv: dict[str, Interval] = field(default_factory=dict)
    over_torch_iv: dict[str, Interval] = field(default_factory=dict)  # time over torch's, stored by the run
    first_call: dict[str, float] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)  # impl -> source hash
    note: dict[str, str] = field(default_factory=dict)  # impl -> "capped" / "WRONG" / "skip"
    nbytes: int | None = None  # the least one call moves: inputs read once, outputs written once
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)  # impl -> one call's extra memory

    def speedup(self, impl: str) -> float | None:
        iv = self.speedup_iv.get(impl)
        if iv is not None:
            return iv.value
        if "python" in self.estimate and impl in self.estimate:
            return self.estimate["python"] / self.estimate[impl]
        return None

    def gflops(self, impl: str) -> float | None:
        if self.flops and impl in self.estimate:
            return self.flops / self.estimate[impl] / 1e9
        return None

    def best(self) -> str | None:
        timed = [i for i in self.estimate if i != YARDSTICK]
        return min(timed, key=self.estimate.__getitem__) if timed else None


def rows(run: Run | dict[str, Any]) -> list[Row]:
    """One Row per case, workloads grouped, sizes ascending; skipped/failed cases noted per impl.
    `run`: a Run, or the JSON of one (validated and typed first: model.as_run)."""
    run = as_run(run)
    out: dict[str, Row] = {}
    for b in run.benchmarks:
        r = out.get(b.case)
        if r is None:
            r = out[b.case] = Row(b.case, b.workload, b.size, b.unit, b.dtype, b.flops)
        impl = b.impl
        r.median[impl] = b.median
        r.estimate[impl] = b.estimate
        r.q1[impl] = b.q1
        r.q3[impl] = b.q3
        r.passes[impl] = b.passes()
        r.workers[impl] = b.workers(r.passes[impl])  # (no passes: rounds not read)
        for stored, target in ((b.speedup, r.speedup_iv), (b.vs_numpy, r.vs_numpy_iv), (b.over_torch, r.over_torch_iv)):
            if stored is not None:
                target[impl] = interval(stored)
        if b.first_call_s is not None:
            r.first_call[impl] = b.first_call_s
        if b.code is not None:
            r.code[impl] = b.code
        if b.bytes is not None:
            r.nbytes = b.bytes
        if b.memory is not None:
            r.memory[impl] = b.memory
    for r in out.values():  # files that did not store the intervals but have the passes: compute them
        if "numpy" in r.speedup_iv and "python" not in r.vs_numpy_iv:  # numpy over python: python over numpy, inverted
            r.vs_numpy_iv["python"] = inverted(r.speedup_iv["numpy"])
        for impl in r.estimate:
            for ref, target in (("python", r.speedup_iv), ("numpy", r.vs_numpy_iv)):
                if impl != ref and impl not in target and r.passes.get(ref) and r.passes.get(impl) \
                        and len(r.passes[impl]) > 1 and ref in r.estimate:
                    iv = ratio(r.passes[ref], r.passes[impl], key=f"{r.case}:{ref}/{impl}",
                               num_workers=r.workers.get(ref), den_workers=r.workers.get(impl))
                    if iv is not None:
                        target[impl] = iv
    for kind, items in (("skipped", run.skipped), ("failed", run.failed)):
        for item in items:
            case, impl = split_id(item["id"])
            if case in out and impl and impl not in out[case].estimate:
                out[case].note[impl] = ("WRONG" if kind == "failed" else
                                        "capped" if "capped" in item.get("reason", "") else "skip")
    first_seen: dict[str, int] = {}
    for r in out.values():
        first_seen.setdefault(r.workload, len(first_seen))
    return sorted(out.values(), key=lambda r: (first_seen[r.workload], r.dtype, r.size))


def needs_rounds(rs: list[Row], run: Run) -> bool:
    """Whether the tables of a run need its raw rounds: some interval or fit they show was not
    stored by the run (a run from before loopvec stored them all), so it is bootstrapped here."""
    if run.fits is None:
        return True
    for r in rs:
        for impl in r.estimate:
            if (impl != "python" and "python" in r.estimate and impl not in r.speedup_iv) \
                    or (impl != "numpy" and "numpy" in r.estimate and impl not in r.vs_numpy_iv) \
                    or (r.unit == "batch" and REFERENCE in r.estimate and impl not in (REFERENCE, YARDSTICK)
                        and impl not in r.over_torch_iv):
                return True
    return False


def interval(stored: StoredInterval) -> Interval:
    """A stored interval as the statistics' Interval (what stats.Interval.from_dict makes of the same record)."""
    return Interval(stored.value, stored.lo, stored.hi, workers=stored.workers)


def inverted(iv: Interval) -> Interval:
    """The interval of 1/x: every bootstrap replicate inverted, so its ends swap."""
    def inv(v: float | None) -> float | None:
        return None if v is None or v == 0 else 1.0 / v

    return Interval(1.0 / iv.value, 1.0 / iv.hi, 1.0 / iv.lo, inv(iv.boot_hi), inv(iv.boot_lo), iv.workers, iv.between,
                    iv.within)


def columns(rs: list[Row]) -> list[str]:
    return ordered({i for r in rs for i in list(r.estimate) + list(r.note)})


def families(rs: list[Row]) -> dict[str, list[Row]]:
    """Rows grouped by workload (a curve over sizes), each sorted by size."""
    out: dict[str, list[Row]] = {}
    for r in rs:
        out.setdefault(r.workload, []).append(r)
    return {k: sorted(v, key=lambda r: r.size) for k, v in out.items()}
