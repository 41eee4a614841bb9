"""Where the time of a forward pass goes: `loopvec explain`'s tables and stacked bars."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from loopvec.bench.core import fmt_time, pm
from loopvec.bench.core import ordered, style
from loopvec.bench.present.limits import memory_text
from loopvec.bench.present.rows import interval
from loopvec.bench.store.atomic import write_atomic
from loopvec.bench.store.model import Bench, Run, as_run

REST = "rest"  # forward minus the sum of its stages: checks, conversion, dispatch, and what fusing saves


Explained = Run | dict[str, Any] | list[Bench]  # an explain run, its JSON, or the benchmarks of several


def _benches(data: Explained) -> list[Bench]:
    return data if isinstance(data, list) else as_run(data).benchmarks


def breakdowns(data: Explained) -> dict[tuple[str, int], dict[str, dict[str, Any]]]:
    """{(network, batch): {impl: {"forward": s, "empty": s, "stages": {stage: (s, share interval)}, "fused": ...}}}."""
    out: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for b in _benches(data):
        if b.kind != "stage" or b.network is None or b.explained is None:
            continue
        impl = out.setdefault((b.network, b.size), {}).setdefault(
            b.explained, {"stages": {}, "fused": b.fused or "", "memory": {}})
        if b.memory is not None:
            impl["memory"][b.impl] = b.memory
        if b.impl in ("forward", "empty"):
            impl[b.impl] = b.estimate
        else:
            impl["stages"][b.impl] = (b.estimate, interval(b.share) if b.share is not None else None)
    return out


def rest_share(d: dict[str, Any]) -> float | None:
    if "forward" not in d:
        return None
    return 1.0 - sum(t for t, _ in d["stages"].values()) / d["forward"]


def _signed_time(seconds: float) -> str:
    return ("-" if seconds < 0 else "") + fmt_time(abs(seconds))


def breakdown_lines(data: Explained) -> list[str]:
    lines: list[str] = []
    for (net, batch), per_impl in breakdowns(data).items():
        names = ordered(per_impl)
        stages = list(dict.fromkeys(s for n in names for s in per_impl[n]["stages"]))
        title = "toy 2-3-2-2" if net == "toy" else "MNIST-shaped 784-50-100-10"
        lines += [f"{title}, batch {batch:,} (float64): time per call, and its share of the whole forward pass "
                  f"(95% interval)", ""]
        w = 26
        lines.append(f"{'stage':<16}" + "".join(f"{n:>{w}}" for n in names))
        lines.append("-" * (16 + w * len(names)))
        lines.append(f"{'forward':<16}" + "".join(f"{fmt_time(per_impl[n]['forward']) if 'forward' in per_impl[n] else '-':>{w}}"
                                                  for n in names))
        for s in stages:
            cells = []
            for n in names:
                t = per_impl[n]["stages"].get(s)
                cells.append(f"{fmt_time(t[0])} {100 * t[1].value:5.1f}% {pm(t[1])}" if t and t[1] else "-")
            lines.append(f"{s:<16}" + "".join(f"{c:>{w}}" for c in cells))
        rests = [rest_share(per_impl[n]) for n in names]
        lines.append(f"{'stages, summed':<16}" + "".join(f"{'-' if r is None else f'{100 * (1 - r):.0f}%':>{w}}"
                                                        for r in rests))
        lines.append(f"{REST:<16}" + "".join(
            f"{'-' if r is None else _signed_time(r * per_impl[n]['forward']) + f' {100 * r:.0f}%':>{w}}"
            for n, r in zip(names, rests)))
        lines.append(f"{'empty batch':<16}" + "".join(
            f"{fmt_time(per_impl[n]['empty']) if 'empty' in per_impl[n] else '-':>{w}}" for n in names))
        lines.append("")
        lines += memory_table(per_impl, names, ["forward", *stages, "empty"], w)
        fused = [f"  {n}: {per_impl[n]['fused']}" for n in names if per_impl[n]["fused"]]
        if fused:
            lines += ["how the stages were split:"] + fused + [""]
    if lines:
        lines += [f"{REST}: the whole forward pass minus its stages, by difference: input checks and conversion, "
                  "dispatch, allocations (negative where a fused kernel does less than its stages alone); "
                  "empty batch: the forward pass of a batch of 0 samples, the cost every call pays"]
    return lines


def memory_table(per_impl: dict[str, dict[str, Any]], names: list[str], stages: list[str], w: int) -> list[str]:
    """Which stage allocates what: one call's peak extra memory, per stage and implementation."""
    if not any(per_impl[n].get("memory") for n in names):
        return []
    out = ["memory one call allocates beyond its inputs (peak; allocations where counted):", ""]
    out.append(f"{'stage':<16}" + "".join(f"{n:>{w}}" for n in names))
    for s in stages:
        cells = [memory_text(per_impl[n]["memory"][s]) if s in per_impl[n].get("memory", {}) else "-" for n in names]
        out.append(f"{s:<16}" + "".join(f"{c[:w - 1]:>{w}}" for c in cells))
    return out + [""]


def plot_breakdown(data: Explained, network: str, batch: int, path: Path) -> bool:
    """A stacked bar per implementation: products, biases, activations, output function, rest."""
    per_impl = breakdowns(data).get((network, batch))
    if not per_impl:
        return False
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [n for n in ordered(per_impl) if "forward" in per_impl[n]]
    groups = {"matrix products": "product", "bias adds": "bias", "activations": "hidden", "output function": "out"}
    fig = Figure(figsize=(1.6 * len(names) + 3, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    bottoms = [0.0] * len(names)
    last = max(int(s.split("-")[0][1:]) for n in names for s in per_impl[n]["stages"]) if names else 0
    for gi, (label, key) in enumerate(list(groups.items()) + [(REST, REST)]):
        vals = []
        for n in names:
            d = per_impl[n]
            if key == REST:
                vals.append(max(0.0, d["forward"] - sum(t for t, _ in d["stages"].values())))
                continue
            tot = 0.0
            for s, (t, _) in d["stages"].items():
                k, kind = s.split("-", 1)
                is_out = int(k[1:]) == last
                kind = "product" if kind == "product" else "bias" if kind == "bias" else ("out" if is_out else "hidden")
                tot += t if kind == key else 0.0
            vals.append(tot)
        shares = [100 * v / per_impl[n]["forward"] for v, n in zip(vals, names)]
        ax.bar(names, shares, bottom=bottoms, label=label, color=f"C{gi}")
        bottoms = [b + v for b, v in zip(bottoms, shares)]
    for i, n in enumerate(names):  # each bar's whole forward pass, in time
        ax.annotate(f"{fmt_time(per_impl[n]['forward'])} per call", (i, max(100.0, bottoms[i])), xytext=(0, 3),
                    textcoords="offset points", ha="center", fontsize=8)
    ax.axhline(100, color="black", linewidth=1)
    ax.set_ylabel("share of the whole forward pass (%)")
    ax.set_ylim(0, max(115.0, max(bottoms) + 12))
    ax.legend(fontsize=8, loc="lower right")
    title = "toy 2-3-2-2" if network == "toy" else "MNIST-shaped 784-50-100-10"
    ax.set_title(f"where the time goes: {title}, batch {batch:,} (stages stacked; rest = checks, conversion, "
                 f"dispatch)", fontsize=10)
    for n, ticklabel in zip(names, ax.get_xticklabels()):
        ticklabel.set_color(style(n)["color"])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    write_atomic(path, buf.getvalue())
    return True


def _stage_sum(d: dict[str, Any], kind: str) -> float:
    return sum(t for s, (t, _) in d["stages"].items() if s.split("-", 1)[1] == kind)


def why_lines(data: Explained) -> list[str]:
    """The three answers the breakdown gives, as sentences with this machine's figures."""
    bd = breakdowns(data)
    out = []
    toy = bd.get(("toy", 1), {})
    if "python" in toy and "numpy" in toy:
        py, np_ = toy["python"], toy["numpy"]
        calls = len(np_["stages"])
        out.append(f"- **NumPy loses to pure Python on the toy network at batch 1** ({fmt_time(np_['forward'])} "
                   f"against {fmt_time(py['forward'])}): its forward pass is {calls} stages of NumPy calls on 2- and "
                   f"3-element arrays, and each costs a fixed amount whatever the size: "
                   f"{fmt_time(np_['stages']['l1-bias'][0])} for a bias add, {fmt_time(np_['stages']['l1-product'][0])} "
                   f"for a product, {fmt_time(np_['stages']['l1-sigmoid'][0])} for a sigmoid (three ufunc calls); "
                   f"its wrapper (checks, conversion) adds {fmt_time(max(0.0, rest_share(np_) or 0) * np_['forward'])}. "
                   f"Pure Python's whole first layer, the same dozen multiply-adds, costs "
                   f"{fmt_time(py['stages']['l1-product'][0])}.")
    m100 = bd.get(("mnist", 100), {})
    if "python" in m100 and "numpy" in m100:
        py, np_ = m100["python"], m100["numpy"]
        pp, npp = _stage_sum(py, "product"), _stage_sum(np_, "product")
        out.append(f"- **NumPy wins about x{py['forward'] / np_['forward']:,.0f} at MNIST batch 100**: pure Python "
                   f"spends {100 * pp / py['forward']:.0f}% of its {fmt_time(py['forward'])} in the three "
                   f"products' multiply-add loops ({fmt_time(pp)}); NumPy's three products take {fmt_time(npp)}, "
                   f"x{pp / npp:,.0f} less, since BLAS runs them as vectorized, blocked, threaded kernels.")
    for batch in (10_000, 1_000):
        np_ = bd.get(("mnist", batch), {}).get("numpy")
        if np_:
            prod = _stage_sum(np_, "product")
            extra = np_["forward"] - prod
            out.append(f"- **NumPy's forward costs {np_['forward'] / prod:.2f}x its three products at batch "
                       f"{batch:,}**: the products take {fmt_time(prod)}; the bias adds "
                       f"({fmt_time(_stage_sum(np_, 'bias'))}) and the activation and softmax passes "
                       f"({fmt_time(_stage_sum(np_, 'sigmoid') + _stage_sum(np_, 'softmax'))}) each read and write "
                       f"the whole (batch, width) array again: {fmt_time(extra)} in all.")
            break
    return out
