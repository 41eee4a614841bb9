"""One worker process of a run: `python -m loopvec.bench.measure.worker SPEC.json`.

The parent (pool.py) starts the workers one after another; each times its share of
every case's passes (pytest with the suite's plugin, as in one process before) and
appends one JSON line per finished case to the spec's "out" file, so a worker that
is killed costs only the case it was in. Its progress lines go to stdout, where the
parent passes them on. Exit code 0 done, 130 interrupted, 1 anything else.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import asdict
from typing import Any

from loopvec.bench.measure import schedule as S
from loopvec.bench.measure.config import RunConfig


def case_record(st: S.CaseState) -> dict[str, Any]:
    """What the parent needs of a finished case: every pass's rounds, and how it ran."""
    noise = {k: v for k, v in asdict(st.noise).items() if not k.startswith("_")}
    return {"case": st.case.id, "seconds": st.seconds, "reached": st.reached, "noise": noise,
            "excluded": dict(st.excluded),
            "entrants": {e: {"passes": st.passes[e], "first_call_s": st.ready[e].first_call_s,
                             "iterations": st.ready[e].iterations, "memory": st.ready[e].memory}
                         for e in st.timed()}}


class Appender:
    """One JSON line per record, each written whole with one write() and flushed to disk."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def __call__(self, record: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(record) + "\n").encode())
        os.fsync(self.fd)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGINT, SIGTERM and SIGHUP stop a worker alike: finished cases are kept


def main(argv: list[str]) -> int:
    import pytest

    from loopvec.bench.measure.plugin import SuitePlugin
    from loopvec.bench.measure.runner import Progress, pytest_args, thread_limit

    with open(argv[0]) as f:
        spec = json.load(f)
    cfg = RunConfig.from_json(spec["config"])
    tag = f"w{spec['index'] + 1}/{spec['of']} "
    # SIGINT too, explicitly: the parent stops a worker with it, and a worker started by a launcher that
    # ignores SIGINT (a shell's background job) would otherwise inherit the ignoring and run on
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _interrupt)
    write = Appender(spec["out"])
    try:  # the tuned kernels' shape on the target this worker compiles for (--isa changes it)
        from loopvec.impls.target import describe

        write({"kernel": describe()})
    except Exception as exc:  # Numba missing or broken: the implementations say so themselves
        write({"kernel": {"error": f"{type(exc).__name__}: {exc}"}})
    suite = SuitePlugin(cfg, processes=spec["of"])
    suite.sched.measure_memory = spec["index"] == 0 and cfg.memory
    progress = Progress(lambda text: print(tag + text, flush=True), on_case=lambda st: write(case_record(st)),
                        sched=suite.sched)
    names = list(cfg.impls)
    try:
        with thread_limit(cfg.threads, names):
            pytest.main(pytest_args(spec["storage"]), plugins=[suite, progress])
    except KeyboardInterrupt:
        progress.interrupted = True
    write({"end": True, "interrupted": progress.interrupted, "skipped": progress.skipped,
           "failed": progress.failed})
    return 130 if progress.interrupted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
