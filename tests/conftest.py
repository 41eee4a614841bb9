"""Shared fixtures (helpers are in helpers.py): every test that takes `impl` runs once per implementation
that imports here (impls.available()), so numba-parallel and torch are covered when present."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from loopvec import impls
from helpers import AVAILABLE, IMPL_DTYPES



@pytest.fixture(scope="session", params=AVAILABLE)
def impl_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def impl(impl_name: str) -> Any:
    return impls.get(impl_name)


@pytest.fixture(scope="session")
def ref() -> Any:
    """The numpy implementation: the reference every other one is compared with."""
    return impls.get("numpy")


@pytest.fixture(scope="session", params=IMPL_DTYPES, ids=[f"{n}-{d}" for n, d in IMPL_DTYPES])
def impl_dtype(request: pytest.FixtureRequest) -> tuple[Any, np.dtype]:
    name, dt = request.param
    return impls.get(name), np.dtype(dt)
