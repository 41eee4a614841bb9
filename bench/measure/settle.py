"""Wait, before a pass is timed, until this process's other threads have gone idle.

Thread pools keep spinning after their work is done, hoping for more: OpenBLAS's
workers for about 0.1 s after each call (its THREAD_TIMEOUT), an OpenMP runtime's
for its spin count. Interleaved passes put another entrant right behind numpy or
torch, and on 2 cores a pool still spinning takes the core it needs (measured:
docs/methodology.md). So every pass starts once the other threads of the process have
stopped running, or after CAP_S at most, and the wait is recorded with the case's
noise.

A thread's state comes from /proc/self/task/<tid>/stat: 'R' is running or ready
to run (a spinning pool), anything else is waiting. Its CPU-time counters would not
do: they advance in scheduler ticks (4 ms here), so a short look sees a spinning
thread as idle. Where /proc is missing (not Linux), no wait happens and the wait is
unknown (None).
"""
from __future__ import annotations

import os
import threading
import time

LOOK_S = 0.001  # between two looks at the threads' states
CAP_S = 0.5  # never wait longer: a thread that stays busy is noise, and recorded as such


def _others_running(me: int) -> int | None:
    """How many of this process's threads other than `me` are running; None off Linux."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    running = 0
    for tid in tids:
        if int(tid) == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]  # the name in (...) may hold spaces
        except (OSError, IndexError):
            continue  # the thread ended between listdir and open
        running += state == "R"
    return running


def settle(look_s: float = LOOK_S, cap_s: float = CAP_S) -> tuple[float | None, bool]:
    """Block until two looks in a row, look_s apart, find no other thread running.
    Returns (seconds waited, or None when unknown; whether the cap ran out first)."""
    me = threading.get_native_id()
    start = time.perf_counter()
    idle_looks = 0
    while True:
        running = _others_running(me)
        if running is None:
            return None, False
        idle_looks = idle_looks + 1 if running == 0 else 0
        waited = time.perf_counter() - start
        if idle_looks == 2:
            return waited, False
        if waited >= cap_s:
            return waited, True
        time.sleep(look_s)
