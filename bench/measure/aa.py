"""A/A cases for `loopvec calibrate`: one implementation timed against itself, as two arms.

Both arms run the same code on the same inputs, interleaved like any two entrants;
whatever separates them is the machine. The second arm is named '<impl>~aa'.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from loopvec.bench.core import YARDSTICK

TWIN = "~aa"


@dataclass(frozen=True)
class TwinCase:
    case: Any  # a Workload
    impl: str

    @property
    def id(self) -> str:
        return self.case.id

    @property
    def twin(self) -> str:
        return self.impl + TWIN

    def entrants(self) -> list[str]:
        return [self.impl, self.twin]

    def setup(self, entrant: str) -> "tuple[Any, Callable[[Any], str | None]]":
        return self.case.setup(self.impl)

    def skip_reason(self, entrant: str) -> str | None:
        return self.case.skip_reason(self.impl)

    def ratio_pairs(self, entrants: list[str]) -> list[tuple[str, str]]:
        return [(self.impl, self.twin)] if self.impl in entrants and self.twin in entrants else []

    def info(self) -> dict[str, Any]:
        return dict(self.case.info(), aa=True)


def twins(chosen: list[tuple[Any, list[str]]]) -> list[tuple[TwinCase, list[str]]]:
    """Each case once, its first implementation against itself (the yardstick is left out)."""
    out = []
    for case, entrants in chosen:
        impl = next((e for e in entrants if e != YARDSTICK), None)
        if impl is not None:
            t = TwinCase(case, impl)
            out.append((t, t.entrants()))
    return out
