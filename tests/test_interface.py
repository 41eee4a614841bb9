"""The registry and the common interface every implementation module exposes."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from loopvec import impls

ROOT = Path(__file__).resolve().parents[1]

# The optional third-party module each implementation needs beyond numpy.
NEEDS = {"python": None, "numpy": None, "numba": "numba", "numba-tuned": "numba", "numba-parallel": "numba",
         "torch": "torch"}


def test_the_issue_implementations_are_registered() -> None:
    assert {"python", "numpy", "numba"} <= set(impls.REGISTRY)
    assert set(impls.REGISTRY) == set(NEEDS), "a new implementation needs an entry in NEEDS here"


def test_interface_names(impl_name: str, impl) -> None:
    missing = [name for name in impls.INTERFACE if not hasattr(impl, name)]
    assert not missing, f"{impl_name} lacks {missing}"
    for name in impls.FUNCTIONS + ("from_numpy", "to_numpy"):
        assert callable(getattr(impl, name)), f"{impl_name}.{name} is not callable"
    assert impl.NAME == impl_name
    assert "float64" in impl.DTYPES
    assert set(impl.DTYPES) <= {"float64", "float32"}


def test_get_returns_the_registered_module(impl_name: str) -> None:
    assert impls.get(impl_name).__name__ == impls.REGISTRY[impl_name]
    assert impls.get(impl_name).__name__.startswith("loopvec.impls.")


def test_available_is_in_registry_order() -> None:
    avail = impls.available()
    assert {"python", "numpy"} <= set(avail)
    assert avail == [name for name in impls.REGISTRY if name in avail]


@pytest.mark.parametrize("name", list(NEEDS))
def test_installed_dependency_means_available(name: str) -> None:
    """An import error inside an implementation must not hide it when its dependency is installed."""
    dep = NEEDS[name]
    if dep is not None and dep not in impls.OPTIONAL.values():
        assert importlib.util.find_spec(dep) is not None  # numba is a required dependency
    if dep is not None and importlib.util.find_spec(dep) is None:
        assert name not in impls.available()
        assert name in impls.unavailable()
    else:
        assert name in impls.available(), impls.unavailable().get(name)
        assert name not in impls.unavailable()


def test_get_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ValueError) as info:
        impls.get("nope")
    assert isinstance(info.value, impls.InputError)
    msg = str(info.value)
    assert "nope" in msg
    for name in impls.available():
        assert name in msg


BLOCK_FINDER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname == {dep!r} or fullname.startswith({dep!r} + "."):
            raise ModuleNotFoundError(f"No module named {{fullname!r}}", name=fullname)
        return None
sys.meta_path.insert(0, Block())
"""
BLOCK_SYS_MODULES = "import sys; sys.modules[{dep!r}] = None\n"

CHECK_MISSING = """
from loopvec import impls
from loopvec.bench.cli.main import main
avail = impls.available()
assert "python" in avail and "numpy" in avail, avail
for name in {dropped!r}:
    assert name not in avail, avail
    assert name in impls.unavailable(), impls.unavailable()
    try:
        impls.get(name)
    except ValueError as exc:
        msg = str(exc)
        assert name in msg and "not available" in msg, msg
    else:
        raise AssertionError(f"impls.get({{name!r}}) did not raise")
for name in {kept!r}:
    assert name in avail, (name, impls.unavailable())
assert main(["list"]) == 0
print("AVAILABLE", ",".join(avail))
"""


@pytest.mark.parametrize(
    "dep, how",
    [("torch", "meta-path"), ("torch", "sys.modules")],
    ids=["torch-meta-path", "torch-sys.modules"],
)
@pytest.mark.slow
def test_missing_optional_dependency_drops_the_implementation(dep: str, how: str) -> None:
    dropped = [name for name, need in NEEDS.items() if need == dep]
    kept = [name for name, need in NEEDS.items()
            if need is None or (need != dep and importlib.util.find_spec(need) is not None)]
    block = (BLOCK_FINDER if how == "meta-path" else BLOCK_SYS_MODULES).format(dep=dep)
    code = block + CHECK_MISSING.format(dropped=dropped, kept=kept)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("AVAILABLE "))
    avail = line.split(" ", 1)[1].split(",")
    assert set(avail) == set(kept)
    for name in dropped:  # `loopvec list` says why it is missing instead of crashing
        assert any(ln.startswith(name + " ") and "not available" in ln for ln in proc.stdout.splitlines())


CHECK_REQUIRED = """
from loopvec import impls
try:
    impls.available()
except ImportError as exc:
    print("RAISED", type(exc).__name__, exc.name)
else:
    print("HIDDEN", impls.available())
"""


@pytest.mark.slow
def test_missing_numba_is_an_error_not_a_missing_implementation() -> None:
    """numba is a required dependency: without it the registry raises instead of dropping numba quietly."""
    code = BLOCK_FINDER.format(dep="numba") + CHECK_REQUIRED
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:3] == ["RAISED", "ModuleNotFoundError", "numba"], proc.stdout
