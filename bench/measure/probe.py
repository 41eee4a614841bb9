"""Numba's first call in a new process: once compiling (empty cache), once loading the cache."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

PROBE = """
import json, sys, time
import numpy as np
from loopvec import impls
from loopvec.impls.network import mnist_shaped_network
out = {}
for name in sys.argv[1:]:
    m = impls.get(name)
    p = m.prepare(mnist_shaped_network())
    x = np.zeros((64, 784))  # 64 samples: numba-parallel takes its threaded path
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        m.forward(p, x)
        times.append(time.perf_counter() - t0)
    out[name] = times
print(json.dumps(out))
"""


def numba_startup(names: list[str], threads: int | None, base_env: dict[str, str] | None = None) -> dict[str, Any]:
    """{impl: {compile_s, cached_s, steady_s}} for the Numba implementations among `names`.

    Each probe is a new process with NUMBA_CACHE_DIR set to a fresh temporary folder:
    the first compiles and fills it, the second loads from it. On Ctrl-C the child is
    killed (subprocess.run does that) and the folder removed."""
    numba_names = [n for n in names if n.startswith("numba")]
    if not numba_names:
        return {}
    with tempfile.TemporaryDirectory(prefix="loopvec-probe-") as cache:
        env = dict(base_env if base_env is not None else os.environ, NUMBA_CACHE_DIR=cache)
        if threads is not None:  # a new process: --threads must reach it too
            env["NUMBA_NUM_THREADS"] = str(threads)
        runs = []
        for _ in range(2):
            try:
                proc = subprocess.run([sys.executable, "-c", PROBE, *numba_names], env=env,
                                      capture_output=True, text=True, timeout=600)
                if proc.returncode != 0:
                    raise RuntimeError(" ".join(proc.stderr.strip().splitlines()[-1:]) or f"exit {proc.returncode}")
                runs.append(json.loads(proc.stdout))
            except (subprocess.TimeoutExpired, RuntimeError, ValueError) as exc:
                return {n: {"error": str(exc)} for n in numba_names}
    return {n: {"compile_s": runs[0][n][0], "cached_s": runs[1][n][0], "steady_s": runs[1][n][1]}
            for n in numba_names}
