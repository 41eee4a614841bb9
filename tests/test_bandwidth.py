"""The bandwidth ceilings: the shape of the result, the footprints against L3, and which ceiling a case gets.
No timing thresholds: the figures are only checked to be positive (a tiny budget keeps this fast)."""
from __future__ import annotations

import json
from typing import Any

import numba
import pytest

from loopvec.bench.measure import bandwidth as B
from loopvec.bench.measure.machine import l3_cache

L3 = 1 << 20  # a pretended 1 MiB cache: small arrays, and the same rules as at 32 MiB


@pytest.fixture(scope="module")
def bw() -> dict[str, Any]:
    return B.measure_bandwidth(budget_s=0.02, max_rounds=2, l3_bytes=L3)


def test_l3_cache_is_read_or_marked_assumed() -> None:
    size, source = l3_cache()
    assert size > 0 and source in ("sysfs", "lscpu", "assumed")


def test_footprints_against_the_cache() -> None:
    l3 = 32 << 20
    f = B.footprints(l3, ram=64 << 30)
    assert f["cache"] <= l3 // 4 and f["cache"] > l3 // 8
    assert f["dram"] >= 4 * l3 - 192 and f["dram"] <= B.DRAM_CAP_BYTES
    assert f["cache"] % 192 == 0 and f["dram"] % 192 == 0  # three arrays of whole cache lines
    big = B.footprints(256 << 20, ram=64 << 30)  # 4 x L3 would be 1 GiB: capped, but still beyond L3
    assert big["dram"] <= max(B.DRAM_CAP_BYTES, 2 * (256 << 20) + 192) and big["dram"] > 2 * (256 << 20)


def test_the_result_has_every_kernel_variant_and_level(bw: dict[str, Any]) -> None:
    json.dumps(bw)  # plain data
    assert bw["l3_bytes"] == L3 and bw["l3_source"] == "given"
    assert bw["threads"] == numba.config.NUMBA_NUM_THREADS
    assert bw["footprints"]["cache"] <= L3 // 4 < 4 * L3 <= bw["footprints"]["dram"] + 192
    for level in B.LEVELS:
        assert bw["elements"][level] * 3 * 8 == bw["footprints"][level]
        assert bw["rounds"][level] == 2
    assert bw["bytes_per_element"] == {"copy": 16, "triad": 24}
    for kernel in ("copy", "triad"):
        for variant in ("numpy", "numba-1t", "numba-all"):
            assert all(bw["GBps"][kernel][variant][level] > 0 for level in B.LEVELS)
    for level in B.LEVELS:
        assert bw["ceiling"][level] == max(bw["GBps"][k][v][level] for k in B.KERNELS for v in B.VARIANTS)


def test_numba_threads_are_restored() -> None:
    before = numba.get_num_threads()
    B.measure_bandwidth(budget_s=0.0, max_rounds=2, threads=1, l3_bytes=L3)
    assert numba.get_num_threads() == before


def test_ceiling_for_picks_the_level_by_footprint(bw: dict[str, Any]) -> None:
    assert B.ceiling_for(bw, 0) == ("cache", bw["ceiling"]["cache"])
    assert B.ceiling_for(bw, L3) == ("cache", bw["ceiling"]["cache"])
    assert B.ceiling_for(bw, L3 + 1) == ("dram", bw["ceiling"]["dram"])
    fake = {"l3_bytes": 100, "ceiling": {"cache": 50.0, "dram": 10.0}}
    assert B.ceiling_for(fake, 99) == ("cache", 50.0) and B.ceiling_for(fake, 101) == ("dram", 10.0)
    with pytest.raises(ValueError):
        B.ceiling_for(fake, -1)


@pytest.mark.parametrize("kwargs", [{"l3_bytes": 0}, {"threads": 0}, {"threads": 10**6}])
def test_bad_arguments_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        B.measure_bandwidth(**{"l3_bytes": L3, **kwargs})
