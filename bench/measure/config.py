"""One typed run configuration: what `loopvec run` (and explain, calibrate) asked for.

It goes from the command line to the parent, which hands it to each worker process as
JSON (pool.py); a worker rebuilds the same value and gives it to the pytest plugin.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

# Worker processes per profile: each is one sample of a process's memory layout and
# thread placement (measure/stats.py); more of them tighten the interval's t factor.
PROCESSES = {"quick": 3, "full": 4}


@dataclass(frozen=True)
class RunConfig:
    profile: str = "quick"
    impls: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    threads: int | None = None
    precision: float | None = None  # percent: the target half-width of a case's intervals
    processes: int = 0  # worker processes; 0: the profile's default
    explain: str | None = None  # time the stages of this network's forward pass instead
    batches: tuple[int, ...] = ()  # explain: batch sizes
    aa: bool = False  # calibrate: each implementation against itself, as two arms
    isa: str = "native"  # instruction set the workers are held to (measure/isa.py)
    data: str | None = None  # the real-MNIST folder, checked by the CLI (the workers get it as LOOPVEC_DATA)
    memory_per_call: bool | None = None  # measure each call's extra memory (one worker); None: in the full profile
    ceilings: bool = True  # measure the FLOP peak and the bandwidth, before and after the cases

    @property
    def memory(self) -> bool:
        return self.profile == "full" if self.memory_per_call is None else self.memory_per_call

    @property
    def n_processes(self) -> int:
        return self.processes or PROCESSES.get(self.profile, 3)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> "RunConfig":
        d: dict[str, Any] = json.loads(text)
        for k in ("impls", "only", "batches"):
            d[k] = tuple(d.get(k) or ())
        return RunConfig(**d)

    def with_(self, **changes: Any) -> "RunConfig":
        return replace(self, **changes)
