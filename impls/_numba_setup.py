"""Numba for loopvec: settings checked before they crash, and where compiled kernels are cached.

`njit` here is numba.njit, except that `cache=True` writes to a per-user cache
folder instead of Numba's default, the `__pycache__` folder beside the source
(which, for an installed loopvec, is inside site-packages). The folder is

  1. $NUMBA_CACHE_DIR, when the user set it (Numba's own variable);
  2. else $XDG_CACHE_HOME/loopvec/numba (~/.cache/loopvec/numba; ~/Library/Caches on
     macOS, %LOCALAPPDATA% on Windows);
  3. else, if that cannot be written, <temp dir>/loopvec-numba-<user>;
  4. else no on-disk cache: kernels compile in every new process (said once, on stderr).

In 2 and 3 a folder is used only if it is a real folder owned by this user that nobody
else can write to (created 0700 when missing): Numba unpickles the index files it finds
there, so another user's folder at the predictable temporary path would run their code.

In 1-3 the kernels go to a subfolder named by a hash of loopvec's implementation
sources (sources_key) and a hash of the compile target (target.key(): CPU name and
features). Numba checks a cached function against its own file only, not the files
of the functions it calls: after an edit to _numba_blocks.py alone, the kernels of
impl_numba_tuned.py would load from the cache, stale, without it. And the kernels'
shape depends on the target (target.py), so an AVX2 and an SSE2 build (say,
NUMBA_CPU_NAME set for one of them) never share a folder.

The choice is made per decorated function, at decoration time (that is when
Numba picks a cache locator), so other Numba code in the same process keeps
Numba's defaults.
"""
from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

# The tuned kernels' compile options: FMA contraction only (never nnan/ninf: NaN must
# propagate), no ZeroDivisionError branch, cached on disk (see njit below).
FASTMATH = {"contract"}
OPTS: dict[str, Any] = dict(cache=True, fastmath=FASTMATH, error_model="numpy")

THREADING_LAYERS = ("default", "safe", "threadsafe", "forksafe", "tbb", "omp", "workqueue")


def check_env(environ: Mapping[str, str] | None = None) -> str | None:
    """What is wrong with the NUMBA_ variables that crash Numba later (at import, or at the
    first parallel call), as one line; None when they are fine or unset."""
    env = os.environ if environ is None else environ
    threads = env.get("NUMBA_NUM_THREADS")
    if threads is not None and threads.strip():
        try:
            n = int(threads)
        except ValueError:
            n = 0
        if n < 1:
            return f"NUMBA_NUM_THREADS={threads!r}: expected a whole number >= 1 (or unset it)"
    layer = env.get("NUMBA_THREADING_LAYER")
    if layer is not None and layer.strip() and layer.strip().lower() not in THREADING_LAYERS:
        return (f"NUMBA_THREADING_LAYER={layer!r}: unknown threading layer; expected one of "
                f"{', '.join(THREADING_LAYERS)} (or unset it)")
    return None


def _user_cache_root() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
        return True
    except OSError:
        return False


def _ours(folder: Path) -> bool:
    """Whether `folder` is a real folder (no link) owned by this user and writable by nobody else.
    Numba unpickles the index files it finds in its cache folder: a folder another user can write
    to is a way to run their code as ours."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o022:
        return False
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


def _private(root: Path, key: str) -> Path | None:
    """root/key, created 0700 where missing, if every folder from root down is ours; else None."""
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        (root / key).mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    if not (_ours(root) and _ours(root / key)) or not _writable(root / key):
        return None
    return root / key


def sources_key(folder: Path) -> str:
    """16 hex digits of a sha256 over the names and contents of folder's *.py files."""
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def cache_dir() -> str | None:
    """The folder Numba's on-disk cache of loopvec's kernels goes to (see the module doc)."""
    from loopvec.impls import target

    key = f"{sources_key(Path(__file__).resolve().parent)}-{target.key()}"
    if os.environ.get("NUMBA_CACHE_DIR"):
        return str(Path(os.environ["NUMBA_CACHE_DIR"]) / f"loopvec-{key}")
    try:
        user = getpass.getuser()
    except Exception:  # no user name (containers without passwd entries)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    for root in (_user_cache_root() / "loopvec" / "numba", Path(tempfile.gettempdir()) / f"loopvec-numba-{user}"):
        folder = _private(root, key)
        if folder is not None:
            return str(folder)
    print("loopvec: no private folder for Numba's on-disk cache (the ones found are not this user's own, or "
          "others can write to them); compiling in memory, every process", file=sys.stderr)
    return None


def _share_between_copies() -> None:
    """Let every copy of the same sources use one cache: an installed loopvec and a clone of the same
    commit (the README's `loopvec run`, then its tests) compile each kernel once, not once per copy.

    Numba's own locator for a user-given folder files a function's cache under a hash of its source
    file's path, and stamps it with that file (its mtime, or its contents, by Numba version). The
    folder here is already named by a hash of all of loopvec's implementation sources and the compile
    target (cache_dir), so for the kernels in this folder the locator files them in it directly and
    stamps them with that hash. Other files' functions (bench/measure's loops) keep Numba's locator.
    Numba's locator classes are internal: if this Numba lacks them, nothing changes."""
    try:
        from numba.core import caching
        from numba.core import config

        base = caching.UserProvidedCacheLocator
        registry = caching.CacheImpl._locator_classes
    except (ImportError, AttributeError):
        return
    here = Path(__file__).resolve().parent

    class SharedSourcesLocator(base):  # type: ignore[misc, valid-type]
        def __init__(self, py_func: Any, py_file: str) -> None:
            super().__init__(py_func, py_file)
            self._cache_path = config.CACHE_DIR  # set only while loopvec's functions are decorated: kept here
            self._stamp = ("loopvec sources", Path(config.CACHE_DIR).name)

        def get_source_stamp(self) -> Any:
            return self._stamp

        @classmethod
        def from_function(cls, py_func: Any, py_file: str) -> Any:
            if not config.CACHE_DIR or Path(py_file).resolve().parent != here:
                return None
            return super().from_function(py_func, py_file)

    if not any(getattr(c, "__name__", "") == "SharedSourcesLocator" for c in registry):
        registry.insert(0, SharedSourcesLocator)


@contextlib.contextmanager
def _cache_dir_for_decoration() -> Iterator[bool]:
    from numba.core import config

    folder = cache_dir()
    if folder is not None:
        _share_between_copies()
    old = config.CACHE_DIR
    config.CACHE_DIR = folder or ""
    try:
        yield folder is not None
    finally:
        config.CACHE_DIR = old


def njit(*args: Any, **options: Any) -> Any:
    """numba.njit, with cache=True going to loopvec's cache folder (see the module doc)."""
    import numba

    def decorate(fn: Callable[..., Any]) -> Any:
        if not options.get("cache"):
            return numba.njit(**options)(fn)
        with _cache_dir_for_decoration() as usable:
            return numba.njit(**dict(options, cache=usable))(fn)

    if args and callable(args[0]):  # @njit without parentheses
        return decorate(args[0])
    return decorate
