"""pytest configuration of the benchmark suite: options, parametrization, machine info.

`loopvec run` drives this through pytest.main; plain `pytest` (CI, with
--benchmark-disable) runs every case once and checks its answer.
"""
from __future__ import annotations


import pytest

import impls
from bench import cases as C


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("loopvec")
    g.addoption("--loopvec-profile", default="quick", choices=sorted(C.PROFILES), help="case sizes (default quick)")
    g.addoption("--loopvec-impl", action="append", default=[], help="implementation to run (repeatable; default all)")
    g.addoption("--loopvec-only", action="append", default=[],
                help="run only case ids matching this substring or glob (repeatable)")


def selected_impls(config: pytest.Config) -> list[str]:
    return config.getoption("--loopvec-impl") or impls.available()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    config = metafunc.config
    chosen = C.select(config.getoption("--loopvec-profile"), selected_impls(config),
                      config.getoption("--loopvec-only"))
    metafunc.parametrize(("case", "impl_name"),
                         [pytest.param(case, name, id=f"{case.id}-{name}") for case, name in chosen])

