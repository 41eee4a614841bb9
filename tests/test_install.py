"""An installed loopvec writes nothing into its own install tree, and installs only `loopvec`.

The package is installed non-editable into a temporary target folder (its dependencies come
from the running environment), then a Numba forward pass and a `loopvec run` of one small
case run from there. Numba's on-disk cache must land in the per-user cache folder, and every
file under the installed package must be unchanged.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # pip installs into fresh virtual environments

REPO = Path(__file__).resolve().parent.parent


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                           str(REPO)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.skip(f"pip could not build the package here: {proc.stderr.strip().splitlines()[-1:]}")
    return target


def test_only_loopvec_at_the_top(installed: Path) -> None:
    top = {p.name for p in installed.iterdir() if not p.name.endswith(".dist-info") and p.name != "bin"}
    assert top == {"loopvec"}, top
    assert {p.name for p in (installed / "loopvec").iterdir()} >= {"impls", "bench", "__init__.py"}
    # a regular package, every file of it in RECORD: `pip uninstall loopvec` removes the folder whole
    # (a namespace package's folder was left behind, empty)
    record = next(installed.glob("loopvec-*.dist-info")) / "RECORD"
    assert "loopvec/__init__.py" in record.read_text()


def test_running_writes_nothing_into_the_install_tree(installed: Path, tmp_path: Path) -> None:
    before = snapshot(installed / "loopvec")
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(installed), XDG_CACHE_HOME=str(cache), PYTHONDONTWRITEBYTECODE="")
    forward = ("import numpy as np; from loopvec import impls; from loopvec.impls.network import init_network;"
               "[print(m.forward(m.prepare(init_network()), np.ones((40, 2)) * [1.0, 0.5])[0])"
               " for m in map(impls.get, ['numba', 'numba-tuned', 'numba-parallel'])]")
    proc = subprocess.run([sys.executable, "-c", forward], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "0.3168" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "loopvec.bench", "run", "--no-ceilings", "--impl", "numba", "numba-tuned", "--only",
                           "forward-toy-b0001", "--results-dir", str(tmp_path / "results")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list((tmp_path / "results").rglob("*.json"))
    assert snapshot(installed / "loopvec") == before  # nothing added, removed or changed
    cached = list((cache / "loopvec" / "numba").rglob("*.nbi"))
    assert cached, "Numba's cache=True files belong in $XDG_CACHE_HOME/loopvec/numba"
    assert not (tmp_path / ".benchmarks").exists()  # pytest-benchmark's storage is not left behind


def test_the_kernel_cache_has_a_folder_per_state_of_the_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Numba checks a cached function against its own file only; a change in a file it
    # calls into must still give a fresh compile, so the cache folder is keyed by all sources
    from loopvec.impls import _numba_setup

    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    before = _numba_setup.sources_key(tmp_path)
    (tmp_path / "b.py").write_text("y = 3\n")
    after = _numba_setup.sources_key(tmp_path)
    assert before != after and len(after) == 16
    assert _numba_setup.sources_key(tmp_path) == after  # the same sources, the same folder
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "nc"))
    _numba_setup.cache_dir.cache_clear()
    try:
        from loopvec.impls import target

        key = _numba_setup.sources_key(Path(_numba_setup.__file__).resolve().parent)
        assert _numba_setup.cache_dir() == str(tmp_path / "nc" / f"loopvec-{key}-{target.key()}")
    finally:
        _numba_setup.cache_dir.cache_clear()


def test_a_cache_folder_another_user_can_write_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The predictable temporary path pre-created by someone else (another owner where the test
    runs as root, else mode 0777): loopvec never uses it for Numba's cache, whose index files
    Numba unpickles."""
    import getpass
    import tempfile

    from loopvec.impls import _numba_setup

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked / "cache"))  # under a file: cannot be created
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    hostile = tmp_path / f"loopvec-numba-{getpass.getuser()}"
    hostile.mkdir()
    hostile.chmod(0o777)
    if os.getuid() == 0:
        os.chown(hostile, 12345, 12345)
    _numba_setup.cache_dir.cache_clear()
    try:
        assert _numba_setup.cache_dir() is None
        hostile.chmod(0o700)
        if os.getuid() == 0:
            os.chown(hostile, 0, 0)
        _numba_setup.cache_dir.cache_clear()
        got = _numba_setup.cache_dir()  # once it is ours and private, it is used
        assert got is not None and Path(got).parent == hostile and (Path(got).stat().st_mode & 0o777) == 0o700
    finally:
        _numba_setup.cache_dir.cache_clear()
