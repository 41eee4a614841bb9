"""The results table and the crossover summary, built from a results file's JSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import impls
from bench.cases import YARDSTICK

IMPL_ORDER = list(impls.REGISTRY)
IMPL_ORDER.insert(IMPL_ORDER.index("numpy") + 1, YARDSTICK)


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            v = seconds / scale
            return f"{v:.3g} {unit}" if v < 1000 else f"{v:.0f} {unit}"
    return f"{seconds:g} s"


def fmt_ratio(r: float) -> str:
    """3 significant digits, never exponent notation: 0.341, 28.7, 1,087."""
    return f"{r:,.0f}" if r >= 1000 else f"{r:.3g}"


def size_label(unit: str, size: int) -> str:
    return {"elements": "n=", "n": "n=", "batch": "b=", "samples": "n="}.get(unit, "") + f"{size:,}"


@dataclass
class Row:
    case: str
    workload: str
    size: int
    unit: str
    dtype: str
    flops: int | None
    median: dict[str, float] = field(default_factory=dict)
    q1: dict[str, float] = field(default_factory=dict)
    q3: dict[str, float] = field(default_factory=dict)
    first_call: dict[str, float] = field(default_factory=dict)
    note: dict[str, str] = field(default_factory=dict)  # impl -> "capped" / "WRONG"

    def speedup(self, impl: str) -> float | None:
        if "python" in self.median and impl in self.median:
            return self.median["python"] / self.median[impl]
        return None

    def gflops(self, impl: str) -> float | None:
        if self.flops and impl in self.median:
            return self.flops / self.median[impl] / 1e9
        return None

    def best(self, exclude: str = "") -> str | None:
        timed = [i for i in self.median if i != exclude]
        return min(timed, key=self.median.__getitem__) if timed else None


def rows(data: dict[str, Any]) -> list[Row]:
    """One Row per case, in the order the cases ran; skipped/failed cases noted per impl."""
    out: dict[str, Row] = {}
    for b in data.get("benchmarks", []):
        e = b.get("extra_info", {})
        case = e.get("case") or b.get("group") or b["name"]
        r = out.get(case)
        if r is None:
            r = out[case] = Row(case, e.get("workload", case), int(e.get("size", 0)), e.get("unit", ""),
                                e.get("dtype", "float64"), e.get("flops"))
        impl = e.get("impl", b["name"])
        s = b["stats"]
        r.median[impl] = s["median"]
        r.q1[impl] = s.get("q1", s["median"])
        r.q3[impl] = s.get("q3", s["median"])
        if "first_call_s" in e:
            r.first_call[impl] = e["first_call_s"]
    lv = data.get("loopvec", {})
    for kind, label in (("skipped", "capped"), ("failed", "WRONG")):
        for item in lv.get(kind, []):
            case, impl = split_id(item["id"])
            if case in out and impl:
                out[case].note[impl] = label if kind == "failed" or "capped" in item.get("reason", "") else "skip"
    # Group each workload's sizes together, workloads in the order they first ran
    # (a case whose pure-Python run was capped appears later in the file).
    first_seen: dict[str, int] = {}
    for r in out.values():
        first_seen.setdefault(r.workload, len(first_seen))
    return sorted(out.values(), key=lambda r: (first_seen[r.workload], r.dtype, r.size))


def split_id(test_id: str) -> tuple[str, str]:
    """'forward-mnist-b0100-numba-parallel' -> ('forward-mnist-b0100', 'numba-parallel')."""
    for impl in sorted(IMPL_ORDER, key=len, reverse=True):
        if test_id.endswith("-" + impl):
            return test_id[: -len(impl) - 1], impl
    return test_id, ""


def impl_columns(rs: list[Row]) -> list[str]:
    seen = {i for r in rs for i in list(r.median) + list(r.note)}
    return [i for i in IMPL_ORDER if i in seen] + sorted(seen - set(IMPL_ORDER))


def format_table(data: dict[str, Any], header: bool = True) -> str:
    rs = rows(data)
    cols = impl_columns(rs)
    lv = data.get("loopvec", {})
    peak = lv.get("peak_gflops", {})
    lines = []
    if header:
        lines += header_lines(data)
    width = max([len(r.case) for r in rs] + [4]) + 1
    head = f"{'case':<{width}}" + "".join(f"{c:>20}" for c in cols) + f"  {'GFLOP/s (best, % of peak)':<28}"
    lines += [head, "-" * len(head)]
    for r in rs:
        cells = []
        for c in cols:
            if c in r.median:
                sp = r.speedup(c)
                spd = f" x{fmt_ratio(sp)}" if sp is not None and c not in ("python", YARDSTICK) else ""
                cells.append(f"{fmt_time(r.median[c]) + spd:>20}")
            else:
                cells.append(f"{r.note.get(c, '-'):>20}")
        best = r.best(exclude=YARDSTICK)
        gf = r.gflops(best) if best else None
        extra = ""
        if gf is not None:
            pk = peak.get(r.dtype)
            extra = f"{gf:.3g} ({best}" + (f", {100 * gf / pk:.0f}%)" if pk else ")")
        lines.append(f"{r.case:<{width}}" + "".join(cells) + f"  {extra}")
    lines.append("")
    lines.append("median time per call; xN = speedup over pure Python (same case, same run); "
                 "capped = pure Python skipped, one call would take too long; - = not run "
                 "(pure Python has no float32); numpy-matmuls = numpy's three matrix products alone")
    cross = crossover_lines(rs)
    lines += ([""] + cross if cross else []) + batch_lines(rs) + matmul_lines(rs) + first_call_lines(rs)
    lines += startup_lines(lv) + skip_lines(lv)
    if not lv.get("complete", True):
        lines += ["", f"INCOMPLETE RUN: {lv.get('timed', '?')} of {lv.get('planned', '?')} cases finished"]
    return "\n".join(lines)


def header_lines(data: dict[str, Any]) -> list[str]:
    mi = data.get("machine_info", {})
    lm = mi.get("loopvec", {})
    lv = data.get("loopvec", {})
    blas = ", ".join(f"{b.get('internal_api')} {b.get('version')} {b.get('architecture')} x{b.get('num_threads')}"
                     for b in lm.get("blas", []) if b.get("user_api") == "blas") or "?"
    env = lm.get("env", {})
    peak = lv.get("peak_gflops", {})
    return [
        f"machine {lv.get('machine', mi.get('node', '?'))}: {lm.get('cpu_model', mi.get('processor', '?'))}, "
        f"{lm.get('logical_cores', '?')} cores; BLAS {blas}; threads {lv.get('threads') or 'default'}; "
        f"numba threads {lm.get('numba', {}).get('num_threads', '?')}",
        "env: " + (" ".join(f"{k}={v}" for k, v in env.items()) or "no OPENBLAS_/OMP_/MKL_/NUMBA_ variables set")
        + "; peak (large np.dot, higher of before/after the cases): "
        + ", ".join(f"{k} {v:.1f} GFLOP/s" + _readings(lv, k) for k, v in peak.items()),
        f"profile {lv.get('profile', '?')}, {data.get('datetime', '?')}, commit {lv.get('commit', '?')}",
        "",
    ]


def _readings(lv: dict[str, Any], dtype: str) -> str:
    got = lv.get("peak_gflops_measured", {}).get(dtype)
    return f" (readings {got[0]:.1f}, {got[1]:.1f})" if got else ""


def families(rs: list[Row]) -> dict[str, list[Row]]:
    """Rows grouped by workload (a curve over sizes), each sorted by size."""
    out: dict[str, list[Row]] = {}
    for r in rs:
        out.setdefault(r.workload, []).append(r)
    return {k: sorted(v, key=lambda r: r.size) for k, v in out.items()}


def crossover(rs: list[Row], fast: str = "numpy", slow: str = "python") -> Row | None:
    """The smallest size at which `fast` beats `slow` (both measured), or None."""
    for r in rs:
        if fast in r.median and slow in r.median and r.median[fast] < r.median[slow]:
            return r
    return None


def crossover_lines(rs: list[Row]) -> list[str]:
    lines = ["crossover: the smallest size at which numpy beats pure Python"]
    for wl, fam in families(rs).items():
        both = [r for r in fam if "numpy" in r.median and "python" in r.median]
        if len(fam) < 2 or not both:
            continue
        x = crossover(both)
        if x is None:
            last = both[-1]
            lines.append(f"  {wl:<20} never, up to {size_label(last.unit, last.size)}: pure Python is "
                         f"{last.median['numpy'] / last.median['python']:.2g}x faster there "
                         f"(NumPy's fixed cost per call outweighs the work)")
        elif x is both[0]:
            lines.append(f"  {wl:<20} already at the smallest size, {size_label(x.unit, x.size)} "
                         f"(x{fmt_ratio(x.speedup('numpy'))})")
        else:
            prev = both[both.index(x) - 1]
            lines.append(f"  {wl:<20} {size_label(x.unit, x.size)} (x{fmt_ratio(x.speedup('numpy'))}); at "
                         f"{size_label(prev.unit, prev.size)} pure Python is "
                         f"{prev.median['numpy'] / prev.median['python']:.2g}x faster")
    return lines if len(lines) > 1 else []


def batch_lines(rs: list[Row]) -> list[str]:
    one = {r.size: r for r in rs if r.workload == "batchexp-one"}
    lines = []
    for r in rs:
        if r.workload.startswith("batchexp-b") and r.size in one:
            o = one[r.size]
            lines.append(f"the book's batch experiment, {r.size:,} MNIST-shaped samples: "
                         f"one at a time vs batches of {int(r.workload[len('batchexp-b'):])}")
            for impl in impl_columns([o, r]):
                if impl in o.median and impl in r.median:
                    lines.append(f"  {impl:<16} {fmt_time(o.median[impl]):>10} -> {fmt_time(r.median[impl]):>10}"
                                 f"  batching x{fmt_ratio(o.median[impl] / r.median[impl])}")
    return [""] + lines if lines else []


def matmul_lines(rs: list[Row]) -> list[str]:
    """numpy's forward against its three matrix products alone, where both ran."""
    pairs = [(r.size, r.median["numpy"] / r.median[YARDSTICK]) for r in rs
             if "numpy" in r.median and YARDSTICK in r.median]
    if not pairs:
        return []
    return ["", "numpy forward / its three matrix products alone (bias and activations cost the rest): "
            + ", ".join(f"b={size:,} {ratio:.2f}x" for size, ratio in pairs)]


def first_call_lines(rs: list[Row]) -> list[str]:
    """Numba's first call (compile, or load from the on-disk cache) next to its steady state."""
    lines = []
    for impl in impl_columns(rs):
        if not impl.startswith("numba"):
            continue
        firsts = [(r.first_call[impl], r) for r in rs if impl in r.first_call and impl in r.median]
        if firsts:
            worst, r = max(firsts, key=lambda fr: fr[0])
            lines.append(f"  {impl:<16} slowest first call {fmt_time(worst)} ({r.case}, steady median "
                         f"{fmt_time(r.median[impl])}); first calls in all: {fmt_time(sum(f for f, _ in firsts))}")
    if not lines:
        return []
    return ["", "first call of each case (Numba compiles here, or loads its cache=True build from disk):"] + lines


def skip_lines(lv: dict[str, Any]) -> list[str]:
    """Skipped cases, grouped by reason (capped pure Python is already marked in the table)."""
    reasons: dict[str, int] = {}
    for item in lv.get("skipped", []):
        if "capped" not in item.get("reason", ""):
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
    return [""] + [f"skipped {n} case(s): {why}" for why, n in reasons.items()] if reasons else []


def startup_lines(lv: dict[str, Any]) -> list[str]:
    """Numba's first forward call in a new process: compiling, and loading the cache=True build."""
    st = {k: v for k, v in lv.get("numba_startup", {}).items() if "compile_s" in v}
    if not st:
        return []
    lines = ["", "Numba's first call in a new process (MNIST-shaped forward, 64 samples):"]
    for name, v in st.items():
        lines.append(f"  {name:<16} compiling {fmt_time(v['compile_s'])}; with the cache=True build on disk "
                     f"{fmt_time(v['cached_s'])}; then {fmt_time(v['steady_s'])} per call")
    return lines
