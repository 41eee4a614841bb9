"""The three limits a timing lives under, as text: FLOP peak, memory bandwidth, fixed cost.

- `rate_text`: the table's rate column. The fastest implementation's rate against the limit
  that binds it, by the roofline model: attainable = min(FLOP peak, bandwidth x intensity).
  Activations do no multiply-adds: their rate is GB/s against the bandwidth ceiling of
  their footprint (cache when it fits the last-level cache, else DRAM).
- `fit_lines`: time = a + b*n per implementation over each size sweep (measure/fit.py),
  a the fixed cost of a call, b the cost per element (sample, n); and the crossover of
  numpy and pure Python the two lines predict, beside the measured one.
- `memory_lines`: the extra memory one call allocates, per implementation, at the largest
  size of each forward sweep.
"""
from __future__ import annotations

from typing import Any

from loopvec.bench.core import fit_x, fmt_time, size_label
from loopvec.bench.measure.bandwidth import ceiling_for
from loopvec.bench.measure.fit import sweep_fits
from loopvec.bench.measure.stats import pass_minima
from loopvec.bench.present.rows import Row, columns, families
from loopvec.bench.store.model import Run

MIN_FIT_SIZES = 3  # a line through two points has no residual to show how straight it is


def bandwidth(run: Run) -> dict[str, Any] | None:
    bw = run.bandwidth
    return bw if isinstance(bw, dict) and isinstance(bw.get("ceiling"), dict) else None


def bandwidth_header(run: Run) -> list[str]:
    """The run header's bandwidth line: the ceilings, per kernel and threads, at both footprints."""
    bw = bandwidth(run)
    if bw is None:
        return []
    fp, gb = bw.get("footprints", {}), bw.get("GBps", {})
    parts = []
    for level in ("cache", "dram"):
        if not isinstance(bw["ceiling"].get(level), (int, float)):
            continue
        best = {v: max((gb.get(k, {}).get(v, {}).get(level, 0.0) for k in gb), default=0.0)
                for v in ("numpy", "numba-1t", "numba-all")}
        got = (bw.get("ceiling_measured") or {}).get(level)
        readings = f"readings {got[0]:.1f}, {got[1]:.1f}; " if isinstance(got, list) and len(got) == 2 else ""
        parts.append(f"{'DRAM' if level == 'dram' else level} {bw['ceiling'][level]:.1f} GB/s "
                     f"({fp.get(level, 0) / 2**20:.0f} MiB; {readings}numpy {best['numpy']:.1f}, 1 thread "
                     f"{best['numba-1t']:.1f}, {bw.get('threads', '?')} threads {best['numba-all']:.1f})")
    return ["bandwidth (STREAM-style copy and triad, best pass, the higher of before/after the cases): "
            + "; ".join(parts)] if parts else []


def binding(r: Row, impl: str, run: Run) -> tuple[float, str, float] | None:
    """(rate, unit, share of the binding limit) of `impl` in row r, or None when nothing is known."""
    est = r.estimate.get(impl)
    if not est or est <= 0:
        return None
    peak = run.peak_gflops.get(r.dtype)
    bw = bandwidth(run)
    try:
        roof = ceiling_for(bw, r.nbytes) if bw is not None and r.nbytes else None
    except (KeyError, TypeError, ValueError):  # a ceiling the run did not measure
        roof = None
    if r.flops:
        gf = r.flops / est / 1e9
        limits = []
        if isinstance(peak, (int, float)) and peak > 0:
            limits.append((peak, "peak"))
        if roof is not None and r.nbytes:
            limits.append((roof[1] * r.flops / r.nbytes, f"{roof[0]} bandwidth"))  # GB/s x FLOP/B = GFLOP/s
        if not limits:
            return gf, "GFLOP/s", float("nan")
        limit, name = min(limits)
        return gf, f"GFLOP/s|{name}", gf / limit
    if r.nbytes and roof is not None:
        gbps = r.nbytes / est / 1e9
        return gbps, f"GB/s|{roof[0]} bandwidth", gbps / roof[1]
    return None


def rate_text(r: Row, run: Run) -> str:
    """'52.1 GFLOP/s (numba-parallel, 72% of peak, 24 FLOP/B)' or '18.0 GB/s (numpy, 62% of cache bandwidth)'."""
    best = r.best()
    got = binding(r, best, run) if best else None
    if got is None:
        return ""
    rate, unit, share = got
    unit, _, limit = unit.partition("|")
    bits = [best]
    if limit and share == share:  # not NaN
        bits.append(f"{100 * share:.0f}% of {limit}")
    if r.flops and r.nbytes:
        bits.append(f"{r.flops / r.nbytes:.2g} FLOP/B")
    return f"{rate:.3g} {unit} ({', '.join(bits)})"


def run_fits(rs: list[Row], run: Run | None = None) -> dict[str, Any]:
    """The fits the run stored (runner.run_fits), or, for a run from before they were stored (or
    no run given), the same fits made here from its rows."""
    if run is not None and run.fits is not None:
        return run.fits
    sweeps = {wl: {impl: [(fit_x(wl, r.size)[0], r.estimate[impl],
                           pass_minima(r.passes[impl]).tolist() if r.passes.get(impl) else [])
                          for r in fam if impl in r.estimate] for impl in columns(fam)}
              for wl, fam in families(rs).items()}
    return sweep_fits(sweeps, MIN_FIT_SIZES)


def _pm(v: float, lo: Any, hi: Any, fmt: Any) -> str:
    ok = isinstance(lo, (int, float)) and isinstance(hi, (int, float))
    return f"{fmt(v)}" + (f" [{fmt(lo)}, {fmt(hi)}]" if ok else "")


def _per_unit(seconds: float) -> str:
    return f"{seconds * 1e9:.3g} ns" if abs(seconds) < 1e-6 else fmt_time(seconds)


def fit_lines(rs: list[Row], run: Run | None = None) -> list[str]:
    """Per sweep and implementation: the fixed cost a and the cost per unit b, with 95% intervals;
    then the numpy/pure-Python crossover the fits predict, beside the measured one."""
    out: list[str] = []
    fams = families(rs)
    for wl, got in run_fits(rs, run).items():
        fam = fams.get(wl)
        if not fam or not isinstance(got, dict) or not isinstance(got.get("fits"), dict):
            continue
        per_madd = fit_x(wl, 1)[1]  # dot: fitted per multiply-add, n^3 of them
        unit = per_madd or fam[0].unit.rstrip("s") or "unit"
        size_of = (lambda x: x ** (1 / 3)) if per_madd else (lambda x: x)  # the crossover back in n
        out.append(f"  {wl} (per {unit}):")
        for impl, f in got["fits"].items():
            a, b = f["a"], f["b"]
            out.append(f"    {impl:<16} {_pm(a['value'], a.get('lo'), a.get('hi'), _fmt_signed)} per call + "
                       f"{_pm(b['value'], b.get('lo'), b.get('hi'), _per_unit)} per {unit}; worst misfit "
                       f"{100 * f.get('max_rel_residual', 0.0):.0f}%")
        if "numpy" in got["fits"] and "python" in got["fits"]:
            cx = got.get("crossover")
            measured = next((r for r in fam if "numpy" in r.estimate and "python" in r.estimate
                             and r.estimate["numpy"] < r.estimate["python"]), None)
            seen = f"measured: {size_label(measured.unit, measured.size)}" if measured else "measured: never"
            if not isinstance(cx, dict):
                out.append(f"    predicted numpy/pure-Python crossover: none (the lines do not cross); {seen}")
            else:
                rng = (f" [{size_of(cx['lo']):,.1f}, " + (f"{size_of(cx['hi']):,.1f}]" if cx.get("hi") is not None
                                                          else "never]") if cx.get("lo") is not None else "")
                out.append(f"    predicted numpy/pure-Python crossover: {size_label(fam[0].unit, 0)[:-1]}"
                           f"{size_of(cx['n']):,.1f}{rng}; {seen}")
    if not out:
        return []
    return ["", "fixed cost and cost per unit, time = a + b*n fitted over each sweep (weights 1/t^2; "
            "95% bootstrap intervals in brackets):"] + out


def _fmt_signed(seconds: float) -> str:
    return ("-" if seconds < 0 else "") + fmt_time(abs(seconds))


def fmt_bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def memory_text(mem: dict[str, Any]) -> str:
    peak, allocs = mem.get("peak_bytes"), mem.get("allocations")
    if not isinstance(peak, (int, float)) and not isinstance(allocs, int):
        return f"not measured ({mem.get('note') or mem.get('method', '?')})"
    text = fmt_bytes(peak) if isinstance(peak, (int, float)) else "? bytes"
    return text + (f" in {allocs} allocation{'s' if allocs != 1 else ''}" if isinstance(allocs, int) else "")


def memory_lines(rs: list[Row]) -> list[str]:
    """The extra memory one call allocates, per implementation, at each forward sweep's largest size."""
    out = []
    for wl, fam in families(rs).items():
        last = next((r for r in reversed(fam) if r.memory), None)
        if last is None or last.unit != "batch":
            continue
        out.append(f"  {last.case:<26} " + "; ".join(f"{impl} {memory_text(last.memory[impl])}"
                                                     for impl in columns([last]) if impl in last.memory))
    if not out:
        return []
    return ["", "memory one call allocates beyond its inputs (peak, measured outside the timed rounds):"] + out
