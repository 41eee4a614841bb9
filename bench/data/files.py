"""The data loopvec's real-MNIST cases need: which files, where they are, and how to read raw bytes.

The folder is, in this order: --data, then $LOOPVEC_DATA, then the per-user data folder
that `loopvec fetch-mnist` fills ($XDG_DATA_HOME/loopvec/mnist, ~/.local/share/loopvec/mnist;
~/Library/Application Support on macOS, %LOCALAPPDATA% on Windows).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

ENV_VAR = "LOOPVEC_DATA"


class DataError(ValueError):
    """A data or weights file that is missing or not what it should be; the message names the file."""


@dataclass(frozen=True)
class DataFile:
    name: str
    what: str
    size: int
    sha256: str


# From shared/data/mnist/README.md: what a data folder must hold.
IMAGES_FILE = DataFile(
    "t10k-images-idx3-ubyte.gz", "MNIST test images, 10,000 x 28 x 28 uint8, IDX (magic 2051), gzip",
    1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
)
LABELS_FILE = DataFile(
    "t10k-labels-idx1-ubyte.gz", "MNIST test labels, 10,000 uint8, IDX (magic 2049), gzip",
    4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
)
WEIGHTS_FILE = DataFile(
    "sample_weight.pkl", "Deep Learning from Scratch ch03 weights, pickled dict of float32 W1..W3, b1..b3",
    181853, "b7f55a27988ba34c3777b0f1bbd464817c8a4db855723e6ff26f703501917a13",
)
NEEDED_FILES = (IMAGES_FILE, LABELS_FILE, WEIGHTS_FILE)
BOOK_ACCURACY = 0.9352


def needed_files_text() -> str:
    """The files a data folder needs, one per line: name, size, sha256, what."""
    return "\n".join(f"  {f.name}  {f.size} bytes  sha256 {f.sha256}\n    ({f.what})" for f in NEEDED_FILES)


def _where_to_put_them() -> str:
    return (f"run `loopvec fetch-mnist`, or put these files in one folder and pass --data DIR or set {ENV_VAR}=DIR "
            f"(the MNIST test set files as distributed; sample_weight.pkl from the book's ch03 code):\n"
            + needed_files_text())



def default_data_dir() -> Path:
    """The per-user folder `loopvec fetch-mnist` writes to by default."""
    if sys.platform == "darwin":
        root = Path.home() / "Library" / "Application Support"
    elif os.name == "nt":
        root = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        root = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return root / "loopvec" / "mnist"


# --- data folder ---

def resolve_data_dir(explicit: str | os.PathLike[str] | None = None,
                     environ: Mapping[str, str] | None = None) -> Path:
    """The data folder: `explicit` (--data), else $LOOPVEC_DATA, else the default folder when it
    exists, else a DataError saying what to get."""
    env = os.environ if environ is None else environ
    if explicit:
        chosen, source = os.fspath(explicit), "--data"
    elif env.get(ENV_VAR):
        chosen, source = env[ENV_VAR], f"${ENV_VAR}"
    elif default_data_dir().is_dir():
        chosen, source = str(default_data_dir()), "the default folder"
    else:
        raise DataError(f"no MNIST data folder given; {_where_to_put_them()}")
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"{path}: data folder not found (given by {source})")
    return path


def find_data_file(data_dir: Path, needed: DataFile) -> Path:
    """`needed` in `data_dir`; the uncompressed name (without .gz) is accepted too."""
    candidates = [data_dir / needed.name]
    if needed.name.endswith(".gz"):
        candidates.append(data_dir / needed.name[: -len(".gz")])
    for c in candidates:
        if c.is_file():
            return c
    raise DataError(f"{candidates[0]}: file not found ({needed.what}, {needed.size} bytes, "
                    f"sha256 {needed.sha256})")


def data_status(explicit: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """(data folder, "") when every needed file is there, else (None, why not): for skip messages."""
    try:
        data_dir = resolve_data_dir(explicit, environ)
        for f in NEEDED_FILES:
            find_data_file(data_dir, f)
    except DataError as exc:
        first = str(exc).splitlines()[0].rstrip(":")
        if first.startswith("no MNIST data folder given"):
            first = (f"no MNIST data folder given: set {ENV_VAR}=DIR or pass --data DIR "
                     f"(needs {', '.join(f.name for f in NEEDED_FILES)})")
        return None, first
    return data_dir, ""


MAX_FILE_BYTES = 512 * 2**20  # a data or weights file larger than this is not one loopvec reads


def read_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """A regular file's bytes (not a device, fifo or folder), refused above `limit` bytes."""
    import stat

    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise DataError(f"{path}: is a folder, expected a file")
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{path}: not a regular file (a device or fifo?); expected a data file")
        if st.st_size > limit:
            raise DataError(f"{path}: {st.st_size:,} bytes; expected at most {limit:,} for a data or weights file")
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None


def looks_like_text(head: bytes) -> bool:
    return head.lstrip()[:1] == b"<"  # <!DOCTYPE html>, <html>, <?xml ...


def describe_start(raw: bytes) -> str:
    if not raw:
        return "it is empty"
    hint = ""
    if looks_like_text(raw[:64]):
        # The usual failure of MNIST downloads: the server's error page saved under the data's name.
        hint = "; it looks like an HTML page (a failed download saved under the data's name?): download it again"
    return f"it starts with {raw[:16]!r}{hint}"


