"""How times, ratios and intervals are written in every table."""
from __future__ import annotations

from typing import Any


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


def size_label(unit: str, size: int) -> str:
    return {"elements": "n=", "n": "n=", "batch": "b=", "samples": "n="}.get(unit, "") + f"{size:,}"
