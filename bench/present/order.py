"""The one order of implementations (and the yardstick) in tables, comparisons and plots."""
from __future__ import annotations

from typing import Iterable

from loopvec import impls
from loopvec.bench.measure.workloads import YARDSTICK

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
