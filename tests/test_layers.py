"""The packages point one way (cli -> present -> store, measure -> data -> core), lazy imports included."""
from __future__ import annotations

import re
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
IMPORT = re.compile(r"from loopvec\.bench\.(\w+)|import loopvec\.bench\.(\w+)|from loopvec\.bench import (\w+)")
PACKAGES = {"cli", "present", "store", "measure", "data", "core"}


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for f in BENCH.rglob("*.py"):
        parts = f.relative_to(BENCH).parts
        pkg = parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")
        if pkg not in PACKAGES:
            continue
        for m in IMPORT.finditer(f.read_text()):
            target = next(g for g in m.groups() if g)
            if target != pkg and target in PACKAGES:
                edges.setdefault(pkg, set()).add(target)
    return edges


def _reaches(g: dict[str, set[str]], start: str, goal: str) -> bool:
    todo, seen = [start], set()
    while todo:
        n = todo.pop()
        for m in g.get(n, ()):
            if m == goal:
                return True
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return False


def test_no_import_cycle_between_loopvecs_packages() -> None:
    g = _graph()
    cycles = [(a, b) for a in g for b in g[a] if _reaches(g, b, a)]
    assert not cycles, f"import cycles between packages (lazy imports count): {cycles}"


def test_the_core_imports_nothing_from_bench() -> None:
    assert not _graph().get("core")
    assert "present" not in _graph().get("measure", set()) and "present" not in _graph().get("store", set())


def test_no_private_name_is_imported_across_modules() -> None:
    bad = []
    for f in BENCH.rglob("*.py"):
        for line in f.read_text().splitlines():
            m = re.match(r"\s*from loopvec\.bench\.[\w.]+ import \(?(.*)", line)
            if m and re.search(r"(^|[ ,(])_[a-z]", m.group(1)):
                bad.append(f"{f.relative_to(BENCH)}: {line.strip()}")
    assert not bad, bad
