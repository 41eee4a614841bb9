"""The results format's number, the names loopvec writes into a results file, and the interval record.

The typed model (store/model.py) re-exports all of this; it lives apart only so that the
validation (store/results.py), which the model loads through, can check the format without
importing the model. The formats, and what loading makes of each, are in model.py's docstring.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

FORMAT = 3  # written by `loopvec run` (measure/runner.py) and the newest this loopvec reads

# a benchmark's extra_info keys that hold a 95% interval {value, lo, hi, boot_lo, boot_hi, workers, ...}
SPEEDUP = "speedup"  # pure Python's time over this entrant's: how many times faster than the loops
VS_NUMPY = "vs_numpy"  # numpy's time over this entrant's
NUMPY_OVER_MATMULS = "numpy_over_matmuls"  # the yardstick's vs_numpy, under its own name
OVER_TORCH = "over_torch"  # this entrant's time over torch's (forward cases)
SHARE = "share"  # explain: a stage's time over the whole forward pass's
INTERVAL_KEYS = (SPEEDUP, VS_NUMPY, NUMPY_OVER_MATMULS, SHARE, OVER_TORCH)


@dataclass(frozen=True)
class StoredInterval:
    """A 95% interval as the run stored it ({value, lo, hi, workers, ...}; the store sits below measure, so
    present/rows.interval makes it a measure.stats.Interval)."""
    value: float
    lo: float
    hi: float
    workers: int = 1

    @classmethod
    def from_dict(cls, d: Any) -> StoredInterval | None:
        """None for anything but finite ends around a positive value (as stats.Interval.from_dict)."""
        try:
            iv = cls(float(d["value"]), float(d["lo"]), float(d["hi"]), int(d.get("workers", 1)))
        except (TypeError, KeyError, ValueError, AttributeError, OverflowError):
            return None
        ok = all(math.isfinite(x) for x in (iv.value, iv.lo, iv.hi)) and 0 < iv.lo <= iv.value <= iv.hi
        return iv if ok else None
