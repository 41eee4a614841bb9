"""`pytest bench` (and plain `pytest`, whose testpaths include bench/) loads the suite's plugin here."""
from loopvec.bench.measure.plugin import (  # noqa: F401  (pytest finds hooks by name)
    pytest_addoption,
    pytest_configure,
    pytest_generate_tests,
    pytest_runtest_protocol,
    pytest_unconfigure,
)
