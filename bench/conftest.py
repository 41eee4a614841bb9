"""`pytest bench` (and plain `pytest`, whose testpaths include bench/) gets the suite's plugin here."""
import pytest

from loopvec.bench.measure.plugin import pytest_addoption, register_from_options  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    register_from_options(config)
