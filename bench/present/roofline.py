"""Two plots of the machine's limits, per machine: the roofline and memory per call.

  <machine>-roofline.png  every case and implementation placed by arithmetic intensity
                          (operations per byte it must move at least) and rate, under the
                          measured FLOP peak and the measured bandwidth ceilings (cache and
                          DRAM; Williams, Waterman and Patterson's roofline model)
  <machine>-memory.png    the peak extra memory one call allocates, versus size, one line per
                          implementation, for the forward passes (where the book's vectorized
                          code pays for its temporaries)

Activations do no multiply-adds: they are placed at one operation per element (so relu,
16 bytes per float64 element, sits at 1/16 op/byte), which puts a memory-bound case on
its bandwidth line when it runs at that bandwidth.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from loopvec.bench.core import ordered, style
from loopvec.bench.measure.traffic import min_bytes
from loopvec.bench.measure.workloads import Workload
from loopvec.bench.present.layout import grid, new_figure, save
from loopvec.bench.present.plots import UNIT_AXIS, footer, size_axis
from loopvec.bench.present.rows import Row, families, rows
from loopvec.bench.store.model import Bench, Run


def case_bytes(b: Bench) -> int | None:
    """The bytes a benchmark records, or, for a run from before they were recorded, the same
    count (traffic.min_bytes) from the case it describes; None for what is not a workload."""
    if b.bytes is not None:
        return b.bytes
    if not b.kind:
        return None
    try:
        return min_bytes(Workload(b.kind, b.workload, b.size, b.dtype, b.network))
    except (KeyError, TypeError, ValueError):
        return None


def points(data: Run) -> list[dict[str, Any]]:
    """Every timed benchmark with the bytes it moves: impl, case, kind, ops, bytes, seconds."""
    out = []
    for b in data.benchmarks:
        est, nbytes = b.estimate, case_bytes(b)
        if nbytes is None or est <= 0 or nbytes <= 0:
            continue
        flops = b.flops
        ops = flops if flops is not None and flops > 0 else (b.size if b.kind == "activation" else None)
        if ops is None or ops <= 0:
            continue
        out.append({"impl": b.impl, "case": b.case, "kind": b.kind, "dtype": b.dtype, "ops": float(ops),
                    "bytes": float(nbytes), "seconds": float(est)})
    return out


def plot_roofline(machine: str, data: Run, path: Path, rs: list[Row] | None = None) -> bool:
    """The roofline of one run; False (nothing drawn) when no case has FLOPs or elements to place.
    A run from before bandwidth was measured gets the FLOP peak alone, and says so."""
    pts = points(data)
    peak = data.peak_gflops
    ceil = (data.bandwidth or {}).get("ceiling")
    if not pts:
        return False
    if not isinstance(ceil, dict):
        ceil = {}
    fig, (ax,) = new_figure(10.5, 6.6)
    xs = [p["ops"] / p["bytes"] for p in pts]
    lo, hi = min(xs) / 3, max(max(xs) * 3, 30.0)
    grid_x = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    top = max([v for v in peak.values() if isinstance(v, (int, float))] or [1.0])
    for j, (level, gbps) in enumerate(sorted(ceil.items(), key=lambda kv: -kv[1])):
        if not isinstance(gbps, (int, float)) or gbps <= 0:
            continue
        ys = [min(gbps * x, top) for x in grid_x]  # GB/s times op/byte = Gop/s, under the peak
        ax.plot(grid_x, ys, color="black", linestyle=("-", "--", ":")[j % 3], linewidth=1.3,
                label=f"{level} bandwidth {gbps:.1f} GB/s (measured)")
    for k, (dtype, gf) in enumerate(sorted(peak.items())):
        if isinstance(gf, (int, float)) and gf > 0:
            ax.axhline(gf, color="0.35", linestyle=("-", "-.")[k % 2], linewidth=1.0,
                       label=f"peak {dtype} {gf:.1f} GFLOP/s (large np.dot)")
    impls = ordered({p["impl"] for p in pts})
    for impl in impls:
        mine = [p for p in pts if p["impl"] == impl]
        st = style(impl)
        for filled, group in ((True, [p for p in mine if p["kind"] != "activation"]),
                              (False, [p for p in mine if p["kind"] == "activation"])):
            if not group:
                continue
            ax.scatter([p["ops"] / p["bytes"] for p in group], [p["ops"] / p["seconds"] / 1e9 for p in group],
                       marker=st["marker"], s=26, alpha=0.8, edgecolors=st["color"],
                       facecolors=st["color"] if filled else "none",
                       label=impl if filled or not any(p["kind"] != "activation" for p in mine) else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("arithmetic intensity: operations per byte moved at least (log scale)")
    ax.set_ylabel("rate: GFLOP/s, or G elements/s for activations (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7.5, loc="lower right")
    ax.set_title("filled: dot and forward passes (2 FLOP per multiply-add); hollow: activations, "
                 "one operation per element", fontsize=9)
    fig.suptitle(f"{machine}: the roofline, every case under the measured peak and bandwidth"
                 + ("" if ceil else "\n(bandwidth not measured in this run: the FLOP peak alone)" if peak else
                    "\n(neither peak nor bandwidth measured in this run: the cases alone)"), fontsize=12)
    footer(fig, machine, data)
    save(fig, path)
    return True


def memory_by_case(data: Run) -> dict[str, dict[str, dict[str, Any]]]:
    """{case: {impl: the memory record of one call}} for the benchmarks that have one."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for b in data.benchmarks:
        if b.memory is not None:
            out.setdefault(b.case, {})[b.impl] = b.memory
    return out


def plot_memory(machine: str, data: Run, path: Path, rs: list[Row] | None = None) -> bool:
    """Peak extra memory per call against size, forward passes; False when the run measured none."""
    mem = memory_by_case(data)
    fams = {k: v for k, v in families(rs if rs is not None else rows(data)).items()
            if v[0].unit == "batch" and len(v) >= 2 and any(r.case in mem for r in v)}
    if not fams:
        return False
    fig, axes = grid(len(fams), w=5.6, h=4.4)
    for ax, (wl, fam) in zip(axes, fams.items()):
        impls = ordered({i for r in fam for i in mem.get(r.case, {})})
        for impl in impls:
            pts = [(r.size, mem[r.case][impl].get("peak_bytes")) for r in fam if impl in mem.get(r.case, {})]
            pts = [(s, v) for s, v in pts if isinstance(v, (int, float))]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, [max(v, 1.0) for v in ys], label=impl, **style(impl))  # 0 bytes drawn at 1 B
        ax.set_yscale("log")
        size_axis(ax, fam)
        ax.set_xlabel(UNIT_AXIS["batch"] + ", log scale")
        ax.set_ylabel("peak extra memory per call, bytes (log; 0 drawn at 1 B)")
        ax.set_title(wl, fontsize=10)
        ax.legend(fontsize=7.5)
    fig.suptitle(f"{machine}: memory one call allocates beyond its inputs (measured outside the timed rounds)",
                 fontsize=12)
    footer(fig, machine, data)
    save(fig, path)
    return True
