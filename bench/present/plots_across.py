"""The plots across machines: the headline bars and forward-mnist time versus batch, per implementation."""
from __future__ import annotations

from pathlib import Path

from loopvec.bench.core import fmt_time
from loopvec.bench.core import ordered
from loopvec.bench.present.layout import grid, new_figure, save
from loopvec.bench.present.plots import HEADLINE, machines_footer, rows_of, size_axis, time_axis, timed_impls
from loopvec.bench.present.rows import Row, families
from loopvec.bench.store.model import Run


def plot_headline(runs: dict[str, Run], path: Path, rs: dict[str, list[Row]] | None = None) -> bool:
    """`rs`: each machine's rows, when the caller has them (else made from its run)."""
    by_case = {m: {r.case: r for r in rows_of(d, (rs or {}).get(m))} for m, d in runs.items()}
    per_case = {c: {m: by_case[m].get(c) for m in runs} for c in HEADLINE}
    per_case = {c: {m: r for m, r in ms.items() if r is not None and r.estimate} for c, ms in per_case.items()}
    per_case = {c: ms for c, ms in per_case.items() if ms}
    if not per_case:
        return False
    machines = list(runs)
    n = len(per_case)
    n_impls = max(len(timed_impls(list(ms.values()))) for ms in per_case.values())
    w = max(4.8, 0.5 * n_impls * len(machines) + 1.8)
    across = w * n <= 16  # side by side, or one above the other when that would be too wide
    fig, axes = new_figure(w * n, 5.4, 1, n) if across else new_figure(w, 4.4 * n, n, 1)
    for ax, (case, ms) in zip(axes, per_case.items()):
        timed = set(timed_impls(list(ms.values())))
        noted = {i for r in ms.values() for i in r.note}  # skipped (capped) in some run: say so
        names = ordered(timed | noted)
        width = 0.8 / len(machines)
        for j, m in enumerate(machines):
            r = ms.get(m)
            xs, ys = [], []
            for i, impl in enumerate(names):
                if r is not None and impl in r.estimate:
                    xs.append(i + (j - (len(machines) - 1) / 2) * width)
                    ys.append(r.estimate[impl])
            bars = ax.bar(xs, ys, width=width * 0.95, label=m, color=f"C{j % 10}", alpha=0.85)
            for b, y in zip(bars, ys):
                ax.annotate(fmt_time(y), (b.get_x() + b.get_width() / 2, y), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom", fontsize=7, rotation=90)
            for i, impl in enumerate(names):
                if r is not None and impl not in r.estimate and impl in r.note:
                    ax.annotate(r.note[impl], (i + (j - (len(machines) - 1) / 2) * width, 0), xytext=(0, 4),
                                xycoords=("data", "axes fraction"), textcoords="offset points", ha="center",
                                va="bottom", fontsize=7, rotation=90, color=f"C{j % 10}")
        ax.set_xticks(range(len(names)), names)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set_xlabel("implementation")
        time_axis(ax)
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * 8)  # room for the labels
        ax.set_ylabel("time per call, the estimate (log scale, lower is faster)")
        one = next(iter(ms.values()))
        ax.set_title(f"batch {one.size:,}" + (" (one sample)" if one.size == 1 else ""), fontsize=11)
        ax.legend(title="machine", fontsize=8, title_fontsize=8, loc="upper right")
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("MNIST-shaped forward pass (784-50-100-10, float64) on every machine", fontsize=13)
    machines_footer(fig, runs)
    save(fig, path)
    return True


def plot_machines_forward(runs: dict[str, Run], path: Path,
                          rs: dict[str, list[Row]] | None = None) -> bool:
    fam = {m: families(rows_of(d, (rs or {}).get(m))).get("forward-mnist", []) for m, d in runs.items()}
    fam = {m: f for m, f in fam.items() if len(f) >= 2}
    if len(fam) < 2:
        return False
    names = timed_impls([r for f in fam.values() for r in f])
    fig, axes = grid(len(names), w=5.0, h=4.0)
    for ax, impl in zip(axes, names):
        for j, (m, f) in enumerate(fam.items()):
            pts = [(r.size, r.estimate[impl]) for r in f if impl in r.estimate]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, label=m, color=f"C{j % 10}", marker="osD^v<>ph*"[j % 10])
        time_axis(ax)
        size_axis(ax, [r for f in fam.values() for r in f])
        ax.set_ylabel("time per call, the estimate (log scale)")
        ax.set_title(impl, fontsize=11)
        ax.legend(title="machine", fontsize=7.5, title_fontsize=7.5, loc="upper left")
    fig.suptitle("MNIST-shaped forward pass (float64): time versus batch size, machines compared", fontsize=13)
    machines_footer(fig, {m: runs[m] for m in fam})
    save(fig, path)
    return True




