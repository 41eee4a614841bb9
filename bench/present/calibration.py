"""What this machine can resolve: an A/A run (`loopvec calibrate`) read as two runs.

Both arms of every case are the same code. The arms' spread is the machine's A/A
spread; the compare rule (compare.verdict), applied to arm 1 in the first half of
the worker processes against arm 2 in the second half (two groups of processes at
different times, as two real runs are), shows how often the rule would call
unchanged code changed at 5, 10 and 15%.
"""
from __future__ import annotations

from typing import Any

from loopvec.bench.measure import stats
from loopvec.bench.present.compare import verdict

THRESHOLDS = (5.0, 10.0, 15.0)


def _split(passes: list[list[float]], workers: list[int], keep: set[int]) -> tuple[list[list[float]], list[int]]:
    sel = [(p, w) for p, w in zip(passes, workers) if w in keep]
    return [p for p, _ in sel], [w for _, w in sel]


def calibration(cases: list[Any]) -> dict[str, Any]:
    """From the A/A CaseStates: per case the arms' ratio with its interval and the process spread;
    overall the A/A spread and the compare rule's false-positive rate at each threshold."""
    per_case: dict[str, Any] = {}
    flagged = {t: 0 for t in THRESHOLDS}
    excludes_one = 0
    n = 0
    for st in cases:
        pair = st.case.ratio_pairs(st.timed())
        if not pair:
            continue
        a, b = pair[0]
        iv = st.intervals(st.case.id).get((a, b))
        wa, wb = st.workers_of(a), st.workers_of(b)
        if iv is None or wa is None or wb is None:
            continue
        ws = sorted(set(wa))
        first, second = set(ws[: len(ws) // 2]), set(ws[len(ws) // 2:])
        if not first or not second:
            continue
        pa, ga = _split(st.passes[a], wa, first)
        pb, gb = _split(st.passes[b], wb, second)
        cross = stats.ratio(pb, pa, key=f"aa:{st.case.id}", paired=False, num_workers=gb, den_workers=ga)
        if cross is None:
            continue
        n += 1
        hits = {t: verdict(cross, t) != "same" for t in THRESHOLDS}
        for t, hit in hits.items():
            flagged[t] += hit
        excludes_one += not cross.contains(1.0)
        per_case[st.case.id] = {"arms": iv.as_dict(), "halves": cross.as_dict(), "flagged": {f"{t:g}": h for t, h in
                                                                                              hits.items()}}
    spreads = sorted(abs(v["arms"]["value"] - 1) for v in per_case.values())
    between = sorted(v["arms"]["between"] for v in per_case.values() if v["arms"].get("between") is not None)
    return {
        "cases": n,
        "aa_spread_pct": {"median": round(100 * spreads[len(spreads) // 2], 2) if spreads else None,
                          "max": round(100 * spreads[-1], 2) if spreads else None},
        "process_spread_pct": {"median": round(100 * between[len(between) // 2], 2) if between else None,
                               "max": round(100 * between[-1], 2) if between else None},
        "false_positive_rate": {f"{t:g}": (flagged[t] / n if n else None) for t in THRESHOLDS},
        "interval_excludes_1_rate": excludes_one / n if n else None,
        "per_case": per_case,
    }


def calibration_lines(cal: dict[str, Any], workers: int) -> list[str]:
    fp = cal["false_positive_rate"]
    lines = [f"A/A over {cal['cases']} cases, {workers} worker processes:",
             f"  the two arms differ by {cal['aa_spread_pct']['median']}% (median), at most "
             f"{cal['aa_spread_pct']['max']}%",
             f"  process spread (the workers' own A/A ratios, max/min - 1): median "
             f"{cal['process_spread_pct']['median']}%, largest {cal['process_spread_pct']['max']}%",
             "  `loopvec compare` (first half of the workers against the second), unchanged code called changed:"]
    for t in THRESHOLDS:
        r = fp.get(f"{t:g}")
        lines.append(f"    --fail-slower {t:g}: " + ("-" if r is None else f"{100 * r:.0f}% of cases"))
    excl = cal.get("interval_excludes_1_rate")
    if excl is not None:
        lines.append(f"  the 95% interval of B/A excluded 1 in {100 * excl:.0f}% of cases (about 5% expected)")
    return lines
