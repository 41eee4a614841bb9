"""loopvec: the chapter-3 forward pass of Deep Learning from Scratch as loops, NumPy and Numba, measured.

    import loopvec
    loopvec.available()          # the implementations that import here
    m = loopvec.get("numba")     # one of them (see loopvec.impls)

The code lives in loopvec.impls (the implementations) and loopvec.bench (the benchmark suite,
results, presentation, data and the `loopvec` command). In the repository this file is
bench/_package/__init__.py; installed, it is loopvec/__init__.py (see pyproject.toml).
"""
from __future__ import annotations

from importlib import metadata
from typing import Any

try:
    __version__ = metadata.version("loopvec")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__", "available", "get"]


def __getattr__(name: str) -> Any:
    # get and available come from loopvec.impls, imported on first use (it imports NumPy)
    if name in ("get", "available"):
        from loopvec import impls

        return getattr(impls, name)
    raise AttributeError(f"module 'loopvec' has no attribute {name!r}")
