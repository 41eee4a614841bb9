"""The core every layer may import: the implementation order, the yardstick, case ids, formatting.

It imports nothing from loopvec.bench, so the packages point one way:
cli -> present -> store, measure -> data -> core.
"""
from __future__ import annotations

from typing import Any, Iterable

from loopvec import impls

YARDSTICK = "numpy-matmuls"  # numpy's three matrix products alone, beside numpy's forward
REFERENCE = "torch"  # the library a user would pick instead: not one of loopvec's own rungs

# ---- the one order of implementations (and the yardstick) in tables, comparisons and plots ----

ORDER = list(impls.REGISTRY)
ORDER.insert(ORDER.index("numpy") + 1, YARDSTICK)  # numpy's products alone, right after numpy


def ordered(names: Iterable[str]) -> list[str]:
    """`names` in table order; names loopvec does not know (plain pytest-benchmark files) last, sorted."""
    seen = set(names)
    return [n for n in ORDER if n in seen] + sorted(seen - set(ORDER))


def style(name: str) -> dict[str, str]:
    """A fixed colour and marker per implementation, the same in every plot."""
    i = ORDER.index(name) if name in ORDER else len(ORDER) + sum(map(ord, name)) % 7
    return {"color": f"C{i % 10}", "marker": "osD^v<>ph*"[i % 10]}


def split_id(test_id: str) -> tuple[str, str]:
    """'forward-mnist-b0100-numba-parallel' -> ('forward-mnist-b0100', 'numba-parallel'); ('x', '') if unknown."""
    for name in sorted(ORDER, key=len, reverse=True):
        if test_id.endswith("-" + name):
            return test_id[: -len(name) - 1], name
    return test_id, ""

# The teaching ladder: loops, the same loops compiled, tuned, threaded, then the libraries.
LADDER = ["python", "numba", "numba-tuned", "numba-parallel", "numpy", "torch"]


# ---- how times, ratios and intervals are written in every table ----


def fmt_time(seconds: float) -> str:
    """3 significant digits in the largest unit that keeps them >= 1: '999 µs', '1 ms'
    (999.7 µs rounds to 1 ms, never '1e+03 µs'), '12.3 s', '1234 s'."""
    units = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9))
    for i, (unit, scale) in enumerate(units):
        v = seconds / scale
        shown = float(f"{v:.3g}")
        if shown >= 1 or unit == "ns":
            if shown >= 1000 and i > 0:  # rounded up into the next larger unit
                return f"{float(f'{v / 1000:.3g}'):g} {units[i - 1][0]}"
            return f"{v:.3g} {unit}" if shown < 1000 else f"{v:.0f} {unit}"
    return f"{seconds:g} s"


def fmt_ratio(r: float) -> str:
    """3 significant digits, never exponent notation: 0.341, 28.7, 1,087."""
    return f"{r:,.0f}" if r >= 1000 else f"{r:.3g}"


def pm(interval: Any) -> str:
    """An interval as '±3%' (the larger side, rounded up to a whole percent below 10%: '±0.4%' stays)."""
    if interval is None:
        return "±?"
    h = 100 * interval.half_width
    return f"±{h:.1f}%" if h < 1 else f"±{h:.0f}%"


def known(x: Any) -> str:
    """A field of a results file as text, "?" where the file has none (null or missing)."""
    return "?" if x is None else str(x)


def size_label(unit: str, size: int) -> str:
    return {"elements": "n=", "n": "n=", "batch": "b=", "samples": "n="}.get(unit, "") + f"{size:,}"


def fit_x(workload: str, size: int) -> tuple[int, str | None]:
    """The n of a sweep's fit time = a + b*n, and its unit when it is not the case's size: an n x n
    matrix product does n^3 multiply-adds, so its b is the cost of one; elsewhere n is the size."""
    if workload == "dot":
        return size**3, "multiply-add"
    return size, None
