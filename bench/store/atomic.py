"""The one way loopvec writes a file: whole or not at all, never over something that is not a file.

Every output (results files, the report, plots, converted weights, downloads) goes
through `write_atomic`: the bytes go to a temporary file in the target's folder,
are flushed to disk, and the temporary file is then renamed onto the target, so a
reader sees the old file or the whole new one. A failed write (a full disk, a
signal) leaves no partial file under either name. A target that exists and is not
a regular file (a device such as /dev/null, a fifo, a folder, a symlink) is
refused: renaming onto it would replace it.
"""
from __future__ import annotations

import os
import stat
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Callable


class WriteError(OSError):
    """An output that cannot be written; the message names the path and the reason."""


def check_target(path: Path) -> None:
    """Refuse a target that exists and is not a regular file (checked without following links)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise WriteError(f"{path}: cannot check the output path: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a fifo" if stat.S_ISFIFO(st.st_mode) else "not a regular file")
        raise WriteError(f"{path}: exists and is {kind}; refusing to replace it (expected a regular file "
                         f"or a new name)")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_temp(folder: Path, name: str, data: bytes) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, unique: bool = False) -> Path:
    """Write `data` to `path` atomically and return the path written.

    unique=True never replaces anything: if `path` exists (another run wrote it, maybe
    at the same moment), the file gets the first free name `stem-2.ext`, `stem-3.ext`, ...
    (exclusive creation, so two concurrent writers always get two files).
    Raises WriteError naming the path and the reason; no partial file is left behind.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not unique:
        check_target(target)
    try:
        tmp = _write_temp(folder, target.name, raw)
    except OSError as exc:
        raise WriteError(f"{target}: cannot write: {exc.strerror or exc}") from None
    try:
        if not unique:
            os.replace(tmp, target)
            return target
        for k in range(1, 10_000):
            candidate = target if k == 1 else target.with_name(f"{target.stem}-{k}{target.suffix}")
            try:
                os.link(tmp, candidate)  # fails if the name exists: exclusive creation
            except FileExistsError:
                continue
            except OSError:  # no hard links here: claim the name exclusively, then fill it
                try:
                    os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
                except FileExistsError:
                    continue
                try:
                    os.replace(tmp, candidate)
                except OSError:
                    with suppress(OSError):
                        os.unlink(candidate)  # the claimed name, still empty
                    raise
            return candidate
        raise WriteError(f"{target}: no free file name left")
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(f"{target}: cannot write: {exc.strerror or exc}") from None
    finally:
        with suppress(OSError):
            os.unlink(tmp)  # after os.replace it is gone already; after os.link it is a second name


def probe_writable(folder: str | os.PathLike[str]) -> None:
    """Create `folder` if needed and create and remove a file in it; WriteError if that fails."""
    d = Path(folder)
    try:
        d.mkdir(parents=True, exist_ok=True)
        os.unlink(_write_temp(d, "write-probe", b"probe"))
    except OSError as exc:
        raise WriteError(f"{d}: cannot write there: {exc.strerror or exc}") from None


def save_with_fallbacks(final: Path, text: str, note: Callable[[str], None]) -> Path | None:
    """Write `text` to `final` (a new unique name); if that fails (a full disk, a folder gone), to the
    same name under the temporary folder, then the home folder, then the current folder. Each failure
    is one line to `note`. None when nowhere could take it: the caller prints the text as a last resort."""
    candidates = [final]
    rel = Path("loopvec-results") / final.parent.name / final.name
    for base in (tempfile.gettempdir(), str(Path.home()), os.getcwd()):
        cand = Path(base) / rel
        if cand not in candidates:
            candidates.append(cand)
    for i, path in enumerate(candidates):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            saved = write_atomic(path, text, unique=True)
        except OSError as exc:  # WriteError too
            note(f"cannot save the results {'where asked' if i == 0 else 'in ' + str(path.parent)}: "
                 f"{' '.join(str(exc).split())}")
            continue
        if i:
            note(f"saved them instead to {saved}")
        return saved
    return None
