"""The README's results block is what `loopvec report` writes from the committed runs."""
from __future__ import annotations

from pathlib import Path

import pytest

from loopvec.bench.present.readme_block import BEGIN, END, results_block
from loopvec.bench.present.report import readme_runs
from loopvec.bench.store.find import newest_runs
from loopvec.bench.store.results import load_run

REPO = Path(__file__).resolve().parent.parent


def test_the_readme_numbers_are_the_ones_report_writes() -> None:
    readme = (REPO / "README.md").read_text()
    if BEGIN not in readme:
        pytest.fail("README.md has no results block: `loopvec report` writes it between its markers")
    root = REPO / "results"
    runs = {m: (p, load_run(p)) for m, p in newest_runs(root).items()}
    want = results_block(root, readme_runs(runs), REPO)
    got = readme[readme.index(BEGIN):readme.index(END) + len(END)]
    assert got == want, "README.md's results block is stale: run `loopvec report` and commit it"
