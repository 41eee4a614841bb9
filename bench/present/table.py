"""The text table of a run, and its summaries (crossover, batching, yardstick, first calls, noise)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopvec.bench.measure.machine import describe, summary
from loopvec.bench.measure.stats import ratio
from loopvec.bench.core import REFERENCE, YARDSTICK, known
from loopvec.bench.core import fmt_ratio, fmt_time, pm, size_label
from loopvec.bench.present.limits import bandwidth_header, fit_lines, memory_lines, rate_text
from loopvec.bench.present.rows import Row, columns, families, rows
from loopvec.bench.store.model import Run, as_run

CELL = 24


def format_table(run: Run | dict[str, Any], header: bool = True, rs: list[Row] | None = None) -> str:
    """The table of `loopvec run` (`run`: a Run, or the JSON of one); `rs`: the run's rows when the
    caller has them already (their intervals are bootstrapped from the rounds: computing them twice is the cost)."""
    run = as_run(run)
    rs = rows(run) if rs is None else rs
    cols = columns(rs)
    noise = run.noise
    lines = []
    if header:
        lines += header_lines(run)
    width = max([len(r.case) for r in rs] + [4]) + 1
    head = f"{'case':<{width}}" + "".join(f"{c:>{CELL}}" for c in cols) + f"  {'rate (best, % of the binding limit)':<28}"
    lines += [head, "-" * len(head)]
    for r in rs:
        cells = []
        for c in cols:
            if c in r.estimate:
                iv = r.speedup_iv.get(c)
                sp = r.speedup(c)
                spd = (f" x{fmt_ratio(sp)}" + (f" {pm(iv)}" if iv else "")
                       if sp is not None and c not in ("python", YARDSTICK) else "")
                cells.append(f"{fmt_time(r.estimate[c]) + spd:>{CELL}}")
            else:
                cells.append(f"{r.note.get(c, '-'):>{CELL}}")
        extra = rate_text(r, run)
        nz = noise.get(r.case, {})
        if nz.get("noisy"):
            extra += f"  NOISY ±{nz.get('widest_pct', 0):.0f}% ({nz.get('reason', '?')})"
        lines.append(f"{r.case:<{width}}" + "".join(cells) + f"  {extra}".rstrip())
    lines.append("")
    lines.append("time per call: the estimate ratios use (see README); xN ±P% = speedup over pure Python with its "
                 "95% interval (same case, interleaved passes); capped = pure Python skipped, one call would take "
                 "too long; - = not run (pure Python has no float32); numpy-matmuls = numpy's three matrix "
                 "products alone; NOISY = a ratio interval wider than ±10%; rate: GFLOP/s (or GB/s for activations) of "
                 "the fastest, as a share of the limit that binds it, the FLOP peak or bandwidth x FLOP/B "
                 "(the roofline)")
    cross = crossover_lines(rs)
    lines += ([""] + cross if cross else []) + fit_lines(rs, run) + batch_lines(rs) + matmul_lines(rs)
    lines += reference_lines(rs) + memory_lines(rs)
    lines += first_call_lines(rs)
    lines += startup_lines(run) + noise_lines(run) + skip_lines(run)
    if not run.complete:
        lines += ["", f"INCOMPLETE RUN: {known(run.finished)} of {known(run.planned)} cases finished"]
    return "\n".join(lines)



def header_lines(run: Run) -> list[str]:
    d = describe(run.meta)
    est = run.estimator
    return [
        f"machine {known(run.machine)}: {summary(run.meta)}",
        f"env: {d['environment']}; "
        + ("peak (large np.dot, higher of before/after the cases): "
           + ", ".join(f"{k} {v:.1f} GFLOP/s" + _readings(run, k) for k, v in run.peak_gflops.items())
           if run.peak_gflops else "peak and bandwidth not measured (loopvec run --no-ceilings)"),
        f"profile {known(run.profile)}, {known(run.datetime)}, commit {known(run.commit)}"
        + (f"; estimate: q{est.get('quantile')} of per-pass minima, {est.get('interval')}" if est else ""),
        *bandwidth_header(run),
        *kernel_lines(run),
        "",
    ]


def kernel_lines(run: Run) -> list[str]:
    """What the timed processes were held to (--isa), and the tuned kernel's shape there."""
    out = []
    procs = run.processes or {}
    isa = procs.get("isa") or run.isa
    if isa and isa != "native":
        env = procs.get("isa_env") or {}
        out.append(f"EMULATED: every implementation held to {isa} ("
                   + ", ".join(f"{k}={v}" for k, v in env.items() if k != "NUMBA_CPU_FEATURES") + ")")
    k = run.kernel
    if isinstance(k, dict) and "isa" in k:
        shapes = ", ".join(f"{dt} {k[dt]['mr']}x{k[dt]['nr']} vectors of {k[dt]['lanes']}"
                           for dt in ("float64", "float32") if isinstance(k.get(dt), dict))
        out.append(f"numba-tuned kernel: {k['isa']} ({k.get('vector_bits')}-bit, {k.get('registers')} registers), "
                   f"register block {shapes}")
    if procs.get("planned"):
        bad = [w for w in procs.get("workers", []) if w.get("exit") not in (0, None)]
        out.append(f"{procs.get('started')} of {procs['planned']} worker processes ran, one after another"
                   + ("; " + ", ".join(f"worker {w['index'] + 1} ended with exit code {w['exit']} "
                                       f"({len(w.get('missing', []))} cases unfinished)" for w in bad) if bad else ""))
    return out


def _readings(run: Run, dtype: str) -> str:
    got = run.peak_gflops_measured.get(dtype)
    return f" (readings {got[0]:.1f}, {got[1]:.1f})" if got else ""


def crossover(rs: list[Row], fast: str = "numpy", slow: str = "python") -> Row | None:
    """The smallest size at which `fast` beats `slow` (both measured), or None."""
    for r in rs:
        if fast in r.estimate and slow in r.estimate and r.estimate[fast] < r.estimate[slow]:
            return r
    return None


def crossover_lines(rs: list[Row]) -> list[str]:
    lines = ["crossover: the smallest size at which numpy beats pure Python"]
    for wl, fam in families(rs).items():
        both = [r for r in fam if "numpy" in r.estimate and "python" in r.estimate]
        if len(fam) < 2 or not both:
            continue
        x = crossover(both)
        if x is None:
            last = both[-1]
            lines.append(f"  {wl:<20} never, up to {size_label(last.unit, last.size)}: pure Python is "
                         f"{last.estimate['numpy'] / last.estimate['python']:.2g}x faster there "
                         f"(NumPy's fixed cost per call outweighs the work)")
        elif x is both[0]:
            lines.append(f"  {wl:<20} already at the smallest size, {size_label(x.unit, x.size)} "
                         f"(x{fmt_ratio(x.speedup('numpy'))})")
        else:
            prev = both[both.index(x) - 1]
            lines.append(f"  {wl:<20} {size_label(x.unit, x.size)} (x{fmt_ratio(x.speedup('numpy'))}); at "
                         f"{size_label(prev.unit, prev.size)} pure Python is "
                         f"{prev.estimate['numpy'] / prev.estimate['python']:.2g}x faster")
    return lines if len(lines) > 1 else []


def batch_lines(rs: list[Row]) -> list[str]:
    one = {r.size: r for r in rs if r.workload == "batchexp-one"}
    lines = []
    for r in rs:
        if r.workload.startswith("batchexp-b") and r.size in one:
            o = one[r.size]
            lines.append(f"the book's batch experiment, {r.size:,} MNIST-shaped samples: "
                         f"one at a time vs batches of {int(r.workload[len('batchexp-b'):])}")
            for impl in columns([o, r]):
                if impl in o.estimate and impl in r.estimate:
                    lines.append(f"  {impl:<16} {fmt_time(o.estimate[impl]):>10} -> {fmt_time(r.estimate[impl]):>10}"
                                 f"  batching x{fmt_ratio(o.estimate[impl] / r.estimate[impl])}")
    return [""] + lines if lines else []


def matmul_lines(rs: list[Row]) -> list[str]:
    """numpy's forward against its three matrix products alone, where both ran."""
    pairs = [(r.size, r.estimate["numpy"] / r.estimate[YARDSTICK], r.vs_numpy_iv.get(YARDSTICK)) for r in rs
             if "numpy" in r.estimate and YARDSTICK in r.estimate]
    if not pairs:
        return []
    return ["", "numpy forward / its three matrix products alone (bias and activations cost the rest; 95% interval): "
            + ", ".join(f"b={size:,} {ratio:.2f}x {pm(iv)}" for size, ratio, iv in pairs)]


NOT_OWN = (REFERENCE, YARDSTICK)


def reference_lines(rs: list[Row]) -> list[str]:
    """Per forward case with torch: loopvec's fastest implementation's time over torch's,
    with its paired 95% interval (below 1: loopvec's loops are faster)."""
    out = []
    for r in rs:
        if r.unit != "batch" or REFERENCE not in r.estimate:
            continue
        own = [i for i in r.estimate if i not in NOT_OWN]
        if not own:
            continue
        best = min(own, key=lambda i: r.estimate[i])
        iv = r.over_torch_iv.get(best) or (  # the run's own, or (a run from before) bootstrapped here
            ratio(r.passes[best], r.passes[REFERENCE], key=f"{r.case}:{best}/{REFERENCE}",
                  num_workers=r.workers.get(best), den_workers=r.workers.get(REFERENCE))
            if len(r.passes.get(best, [])) > 1 and len(r.passes.get(REFERENCE, [])) > 1 else None)
        out.append(f"  {r.case:<26} {best:<15} {fmt_time(r.estimate[best]):>9} vs {fmt_time(r.estimate[REFERENCE]):>9}"
                   f"  {r.estimate[best] / r.estimate[REFERENCE]:.2f}x {pm(iv)}")
    if not out:
        return []
    return ["", f"fastest of loopvec's own implementations against {REFERENCE}, time over time (95% interval):"] + out


def first_call_lines(rs: list[Row]) -> list[str]:
    """Numba's first call (compile, or load from the on-disk cache) next to its steady state."""
    lines = []
    for impl in columns(rs):
        if not impl.startswith("numba"):
            continue
        firsts = [(r.first_call[impl], r) for r in rs if impl in r.first_call and impl in r.estimate]
        if firsts:
            worst, r = max(firsts, key=lambda fr: fr[0])
            lines.append(f"  {impl:<16} slowest first call {fmt_time(worst)} ({r.case}, steady median "
                         f"{fmt_time(r.estimate[impl])}); first calls in all: {fmt_time(sum(f for f, _ in firsts))}")
    if not lines:
        return []
    return ["", "first call of each case (Numba compiles here, or loads its cache=True build from disk):"] + lines


def skip_lines(run: Run) -> list[str]:
    """Skipped cases, grouped by reason (capped pure Python is already marked in the table)."""
    reasons: dict[str, int] = {}
    for item in run.skipped:
        if "capped" not in item.get("reason", ""):
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
    return [""] + [f"skipped {n} case(s): {why}" for why, n in reasons.items()] if reasons else []


def startup_lines(run: Run) -> list[str]:
    """Numba's first forward call in a new process: compiling, and loading the cache=True build."""
    st = {k: v for k, v in run.numba_startup.items() if "compile_s" in v}
    if not st:
        return []
    lines = ["", "Numba's first call in a new process (MNIST-shaped forward, 64 samples):"]
    for name, v in st.items():
        lines.append(f"  {name:<16} compiling {fmt_time(v['compile_s'])}; with the cache=True build on disk "
                     f"{fmt_time(v['cached_s'])}; then {fmt_time(v['steady_s'])} per call")
    return lines


def noise_lines(run: Run | Mapping[str, Any]) -> list[str]:
    """The cases whose intervals came out wide, and what the machine was doing meanwhile
    (`run`: a Run, or a run's "loopvec" section)."""
    noise = run.noise if isinstance(run, Run) else run.get("noise", {})
    if not noise:
        return []
    steal = [v["steal_pct"] for v in noise.values() if v.get("steal_pct") is not None]
    other = [v["other_load_pct"] for v in noise.values() if v.get("other_load_pct") is not None]
    line = (f"noise: {sum(1 for v in noise.values() if v.get('noisy'))} of {len(noise)} cases noisy (interval wider "
            f"than ±10%)")
    if steal:
        line += f"; CPU steal up to {max(steal):.1f}%"
    if other:
        line += f"; other load up to {max(other):.0f}%"
    waits = [v for v in noise.values() if v.get("settle_s") is not None]
    if waits:  # results from before settle.py have no such field
        capped = sum(v.get("settle_capped") or 0 for v in waits)  # a record's field may be null: read as none
        line += (f"; waited {sum(v['settle_s'] for v in waits):.1f} s in all for spinning thread pools to go idle "
                 f"(longest {max(v.get('settle_max_ms') or 0 for v in waits):.0f} ms"
                 + (f", still busy after {capped} waits)" if capped else ")"))
    spreads = [(v["process_spread_pct"], case) for case, v in noise.items() if v.get("process_spread_pct") is not None]
    if spreads:  # the between-process part of the intervals: how far the worker processes' own ratios lie apart
        spreads.sort()
        workers = max(v.get("workers") or 1 for v in noise.values())
        line += (f"\nprocess spread (the workers' own ratios, max/min - 1, over {workers} worker processes): median "
                 f"{spreads[len(spreads) // 2][0]:.1f}%, largest {spreads[-1][0]:.1f}% ({spreads[-1][1]})")
        within = sorted(v["within_pct"] for v in noise.values() if v.get("within_pct") is not None)
        if within:
            line += f"; one process's own interval: median ±{within[len(within) // 2]:.1f}%"
    out = ["", line]
    for case, v in noise.items():
        if v.get("noisy"):
            out.append(f"  {case:<26} ±{v.get('widest_pct') or 0:.0f}%: {v.get('reason', '?')}, "
                       f"{known(v.get('passes'))} passes, {v.get('seconds') or 0:.1f} s")
    return out
