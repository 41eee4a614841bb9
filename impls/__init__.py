"""loopvec's implementations of the chapter-3 forward pass, one module each.

    >>> import impls
    >>> impls.available()            # what imports here, e.g. ['python', 'numpy', 'numba', ...]
    >>> np_impl = impls.get("numpy")
    >>> np_impl.sigmoid([0.0, 1.0])

Every module exposes the names in INTERFACE. An implementation whose optional
dependency is missing (numba, torch) is left out of available(); nothing crashes.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from impls._common import InputError

__all__ = ["INTERFACE", "FUNCTIONS", "InputError", "REGISTRY", "available", "get", "unavailable"]

# name -> module; the order is the order of tables and plots
REGISTRY: dict[str, str] = {
    "python": "impls.impl_python",
    "numpy": "impls.impl_numpy",
    "numba": "impls.impl_numba",
    "numba-parallel": "impls.impl_numba_parallel",
    "torch": "impls.impl_torch",
}

# The functions every implementation computes, and all the names its module exposes.
FUNCTIONS = ("step", "sigmoid", "relu", "identity", "softmax", "dot", "prepare", "forward")
INTERFACE = ("NAME", "DTYPES", "from_numpy", "to_numpy") + FUNCTIONS

_loaded: dict[str, ModuleType] = {}
_missing: dict[str, str] = {}


def _load(name: str) -> ModuleType | None:
    if name not in _loaded and name not in _missing:
        try:
            _loaded[name] = importlib.import_module(REGISTRY[name])
        except ImportError as exc:  # an optional dependency is not installed
            _missing[name] = f"{type(exc).__name__}: {exc}"
    return _loaded.get(name)


def available() -> list[str]:
    """Names of the implementations that import here, in registry order."""
    return [name for name in REGISTRY if _load(name) is not None]


def unavailable() -> dict[str, str]:
    """Registered implementations that do not import here, with the reason."""
    available()
    return dict(_missing)


def get(name: str) -> ModuleType:
    """The implementation module registered as `name`.

    Raises ValueError (InputError) for an unknown name, listing the valid ones,
    and for a known one that cannot be imported here, saying why.
    """
    if name not in REGISTRY:
        raise InputError(f"unknown implementation {name!r}; valid names: {', '.join(available())}")
    module = _load(name)
    if module is None:
        raise InputError(f"implementation {name!r} is not available here ({_missing[name]}); "
                         f"available: {', '.join(available())}")
    return module
