"""What else the machine did while a case was timed: CPU steal and other load, from /proc/stat.

On Linux, /proc/stat counts every CPU's time in ticks: user, nice, system, idle,
iowait, irq, softirq, steal. Over a case: steal% is the share of all CPU time the
hypervisor gave to other guests; other load% is the share of CPU time that was
busy but not spent by this process (os.times). Elsewhere both are unknown (None).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _read() -> tuple[int, int, int] | None:
    """(total, busy, steal) ticks of all CPUs, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu":
        return None
    v = [int(x) for x in parts[1:9]] + [0] * max(0, 8 - len(parts[1:9]))
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return total, user + nice + system + irq + softirq, steal


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class Noise:
    """Accumulated over the stretches of time a case was being timed."""

    total: int = 0
    busy: int = 0
    steal: int = 0
    own_s: float = 0.0
    known: bool = True
    settle_s: float | None = 0.0  # waited before passes for other threads to go idle (settle.py)
    settle_max_s: float = 0.0
    settle_capped: int = 0  # waits that ran out with other threads still busy
    settle_idle_s: float = 0.0  # the waits that ended with the threads idle (not counted by the case cap)
    _start: tuple[tuple[int, int, int] | None, float] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._start = (_read(), _own_cpu_s())

    def stop(self) -> None:
        if self._start is None:
            return
        before, own0 = self._start
        after = _read()
        self._start = None
        if before is None or after is None:
            self.known = False
            return
        self.total += after[0] - before[0]
        self.busy += after[1] - before[1]
        self.steal += after[2] - before[2]
        self.own_s += _own_cpu_s() - own0

    def waited(self, seconds: float | None, capped: bool) -> None:
        if seconds is None or self.settle_s is None:
            self.settle_s = None
            return
        self.settle_s += seconds
        self.settle_max_s = max(self.settle_max_s, seconds)
        self.settle_capped += capped
        if not capped:
            self.settle_idle_s += seconds

    def steal_pct(self) -> float | None:
        return 100.0 * self.steal / self.total if self.known and self.total > 0 else None

    def other_load_pct(self) -> float | None:
        if not self.known or self.total <= 0:
            return None
        other = self.busy - self.own_s * _TICK
        return max(0.0, 100.0 * other / self.total)
