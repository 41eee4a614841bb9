"""impls/_numba_setup.py: where loopvec's compiled kernels are cached, shared by every copy of the same sources."""
from __future__ import annotations

from pathlib import Path

import pytest

from loopvec.impls import _numba_setup as S
from loopvec.impls import impl_numba_tuned


def test_a_kernel_is_cached_in_the_folder_of_its_sources_not_of_its_path() -> None:
    """The README's `loopvec run` (an installed copy) and its tests (a clone) share one cache: the
    folder is named by the sources' hash and the target, and a kernel's cache goes in it directly,
    stamped with that name rather than with its file's path or time."""
    folder = S.cache_dir()
    if folder is None:
        pytest.skip("no private cache folder here: kernels compile in memory")
    locator = impl_numba_tuned.dense_rows._cache._impl.locator  # the dispatcher's on-disk cache
    assert type(locator).__name__ == "SharedSourcesLocator"
    assert locator.get_cache_path() == folder
    assert locator.get_source_stamp() == ("loopvec sources", Path(folder).name)
    assert Path(folder).name.startswith(S.sources_key(Path(S.__file__).resolve().parent))


def test_functions_outside_the_implementations_keep_numbas_locator() -> None:
    from loopvec.bench.measure import bandwidth

    kernel = next(v for k, v in vars(bandwidth).items() if k.startswith("_copy") and hasattr(v, "_cache"))
    locator = getattr(kernel._cache, "_impl", None)
    if locator is None:  # compiled without an on-disk cache
        pytest.skip("bandwidth's kernels are not cached here")
    assert type(locator.locator).__name__ != "SharedSourcesLocator"
