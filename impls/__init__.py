"""loopvec's implementations of the chapter-3 forward pass, one module each.

    >>> from loopvec import impls
    >>> impls.available()            # e.g. ['python', 'numpy', 'numba', 'numba-tuned', 'numba-parallel']
    >>> np_impl = impls.get("numpy")
    >>> np_impl.sigmoid([0.0, 1.0])

Every module exposes the names in INTERFACE. The ladder, in table order:
pure Python -> the same loops compiled (numba) -> tuned loops (numba-tuned) ->
tuned and threaded (numba-parallel) -> NumPy/BLAS -> PyTorch. NumPy comes second
in the registry because it is the reference every other result is checked against.
Only PyTorch is optional: without it, `torch` is left out of available().
"""
from __future__ import annotations

import importlib
from types import ModuleType

from loopvec.impls._common import InputError

__all__ = ["INTERFACE", "FUNCTIONS", "InputError", "REGISTRY", "OPTIONAL", "available", "get", "unavailable"]

# name -> module; this is the one implementation order of every table and plot
REGISTRY: dict[str, str] = {
    "python": "loopvec.impls.impl_python",
    "numpy": "loopvec.impls.impl_numpy",
    "numba": "loopvec.impls.impl_numba",
    "numba-tuned": "loopvec.impls.impl_numba_tuned",
    "numba-parallel": "loopvec.impls.impl_numba_parallel",
    "torch": "loopvec.impls.impl_torch",
}
# Implementations whose dependency may be missing: name -> the module it needs.
OPTIONAL: dict[str, str] = {"torch": "torch"}

# The functions every implementation computes, and all the names its module exposes.
FUNCTIONS = ("step", "sigmoid", "relu", "identity", "softmax", "dot", "prepare", "forward")
INTERFACE = ("NAME", "DTYPES", "from_numpy", "to_numpy") + FUNCTIONS

_loaded: dict[str, ModuleType] = {}
_missing: dict[str, str] = {}


def _load(name: str) -> ModuleType | None:
    if name not in _loaded and name not in _missing:
        try:
            _loaded[name] = importlib.import_module(REGISTRY[name])
        except ImportError as exc:
            if name not in OPTIONAL or getattr(exc, "name", None) != OPTIONAL[name]:
                raise  # a required dependency (numpy, numba) or a bug: never hidden
            _missing[name] = f"{type(exc).__name__}: {exc}"
    return _loaded.get(name)


def available() -> list[str]:
    """Names of the implementations that import here, in registry order."""
    return [name for name in REGISTRY if _load(name) is not None]


def unavailable() -> dict[str, str]:
    """Optional implementations that do not import here, with the reason."""
    available()
    return dict(_missing)


def get(name: str) -> ModuleType:
    """The implementation module registered as `name`.

    Raises InputError (a ValueError) for an unknown name, listing the valid ones,
    and for an optional one whose dependency is missing, saying why.
    """
    if name not in REGISTRY:
        raise InputError(f"unknown implementation {name!r}; valid names: {', '.join(available())}")
    module = _load(name)
    if module is None:
        raise InputError(f"implementation {name!r} is not available here ({_missing[name]}); "
                         f"available: {', '.join(available())}")
    return module


def source_hash(name: str) -> str:
    """A short hash of the source of implementation `name`: its module and every loopvec.impls
    module it imports, directly or not. Results files record it, so `loopvec compare` can tell
    a change of code from a change of machine."""
    import ast
    import hashlib
    import importlib.util

    seen: dict[str, bytes] = {}
    todo = [REGISTRY[name]]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        try:
            spec = importlib.util.find_spec(mod)
        except (ImportError, AttributeError, ValueError):  # `from module import name`: a name, not a module
            continue
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        with open(spec.origin, "rb") as f:
            seen[mod] = f.read()
        for node in ast.walk(ast.parse(seen[mod])):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("loopvec.impls"):
                todo.append(node.module)
                todo += [f"{node.module}.{a.name}" for a in node.names]  # `from loopvec.impls import _x`
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.startswith("loopvec.impls")]
    h = hashlib.sha256()
    for mod in sorted(seen):
        h.update(mod.encode() + b"\0" + seen[mod])
    return h.hexdigest()[:12]
