"""The book's chapter-3 experiment on the real MNIST test set, with safe loaders.

    images, labels = load_mnist(resolve_data_dir(None))   # --data, else $LOOPVEC_DATA
    network = load_weights(data_dir / "sample_weight.pkl") # executes nothing from the file
    result = run_experiment("numpy", network, images, labels, batch=100)

Every problem with a file (missing, not gzip although named .gz, truncated, wrong
magic number, counts that differ, a pickle that asks for anything but NumPy arrays,
weights that do not chain) raises DataError, whose message names the file.
"""
from __future__ import annotations

import codecs
import gzip
import io
import math
import os
import pickle
import struct
import tempfile
import time
import zipfile
import zlib
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

import impls
from impls.network import Network, from_dict, to_dict

ENV_VAR = "LOOPVEC_DATA"
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (n, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (n,)
_MAGIC_NAMES = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}
IMAGE_SHAPE = (28, 28)


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
    return (f"put these files in one folder and pass --data DIR or set {ENV_VAR}=DIR "
            f"(the MNIST test set files as distributed; sample_weight.pkl from the book's ch03 code):\n"
            + needed_files_text())


# --- data folder ---

def resolve_data_dir(explicit: str | os.PathLike[str] | None = None,
                     environ: Mapping[str, str] | None = None) -> Path:
    """The data folder: `explicit` (--data), else $LOOPVEC_DATA, else a DataError saying what to get."""
    env = os.environ if environ is None else environ
    if explicit:
        chosen, source = os.fspath(explicit), "--data"
    elif env.get(ENV_VAR):
        chosen, source = env[ENV_VAR], f"${ENV_VAR}"
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


# --- IDX files ---

def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _looks_like_text(head: bytes) -> bool:
    return head.lstrip()[:1] == b"<"  # <!DOCTYPE html>, <html>, <?xml ...


def _describe_start(raw: bytes) -> str:
    if not raw:
        return "it is empty"
    hint = ""
    if _looks_like_text(raw[:64]):
        # The usual failure of MNIST downloads: the server's error page saved under the data's name.
        hint = "; it looks like an HTML page (a failed download saved under the data's name?): download it again"
    return f"it starts with {raw[:16]!r}{hint}"


def _gunzip_if_needed(path: Path, raw: bytes) -> bytes:
    # Detect gzip by its magic bytes, not the name; but a .gz name on a non-gzip file is an error,
    # never silently parsed as raw IDX.
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise DataError(f"{path}: corrupt or truncated gzip file ({exc})") from None
    if path.suffix == ".gz":
        raise DataError(f"{path}: named .gz but is not a gzip file; {_describe_start(raw)}")
    return raw


def parse_idx(data: bytes, path: str | os.PathLike[str], expected_magic: int | None = None,
              gunzipped: bool = False) -> np.ndarray:
    """An uncompressed IDX file's array (uint8), with the magic number, dimensions and size checked."""
    where = os.fspath(path)
    unit = "bytes after gunzip" if gunzipped else "bytes"  # byte counts of a .gz refer to its content
    if len(data) < 4:
        raise DataError(f"{where}: truncated: expected at least 4 bytes (the IDX magic number), "
                        f"got {len(data)} {unit}")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        kind = _MAGIC_NAMES.get(expected_magic, "IDX")
        other = _MAGIC_NAMES.get(magic)
        why = (f"this is an IDX {other} file" if other
               else _describe_start(data) if _looks_like_text(data[:64]) else "not an MNIST IDX file")
        raise DataError(f"{where}: wrong magic number {magic} (0x{magic:08x}), expected {expected_magic} "
                        f"(IDX {kind}); {why}")
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{where}: wrong magic number {magic} (0x{magic:08x}), expected an IDX file "
                        f"of unsigned bytes (0x000008nn)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{where}: truncated: expected {header} bytes of header for {ndim} dimensions, "
                        f"got {len(data)} {unit}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + math.prod(dims)  # Python ints: no overflow for absurd dimensions
    if len(data) != expected:
        # Never a silently wrong array: too short is truncation, too long is not this layout either.
        what = "truncated" if len(data) < expected else "trailing bytes after the data"
        raise DataError(f"{where}: {what}: expected {expected} bytes for dimensions "
                        f"{' x '.join(map(str, dims))}, got {len(data)} {unit}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx(path: str | os.PathLike[str], expected_magic: int | None = None) -> np.ndarray:
    """An IDX file, gzip-compressed or raw, as a read-only uint8 array; any problem is a DataError naming the file."""
    p = Path(path)
    raw = _read_bytes(p)
    data = _gunzip_if_needed(p, raw)
    return parse_idx(data, p, expected_magic, gunzipped=data is not raw)


def load_images_labels(images_path: str | os.PathLike[str],
                       labels_path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 (n, 784) / 255 and labels as int64 (n,): the book's preprocessing."""
    raw_images = read_idx(images_path, IMAGES_MAGIC)
    if raw_images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{images_path}: images are {' x '.join(map(str, raw_images.shape[1:]))}, "
                        f"expected 28 x 28 (the network's 784 inputs)")
    if raw_images.shape[0] == 0:
        raise DataError(f"{images_path}: holds no images")
    raw_labels = read_idx(labels_path, LABELS_MAGIC)
    if raw_labels.shape[0] != raw_images.shape[0]:
        raise DataError(f"{images_path} has {raw_images.shape[0]} images but {labels_path} has "
                        f"{raw_labels.shape[0]} labels; the counts must be equal")
    if raw_labels.max() > 9:
        raise DataError(f"{labels_path}: label {int(raw_labels.max())} out of range; MNIST labels are 0..9")
    # As the book: float32, then divided by 255 in float32, flattened to 784 values.
    images = raw_images.reshape(raw_images.shape[0], -1).astype(np.float32)
    images /= np.float32(255.0)
    return images, raw_labels.astype(np.int64)


def load_mnist(data_dir: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test images (float32 (n, 784), /255) and labels (int64 (n,)) from `data_dir`."""
    d = Path(data_dir)
    return load_images_labels(find_data_file(d, IMAGES_FILE), find_data_file(d, LABELS_FILE))


def load_real(data_dir: str | os.PathLike[str] | None = None) -> tuple[Network, np.ndarray, np.ndarray]:
    """(the book's network, test images, labels) from --data / $LOOPVEC_DATA: the benchmark's workload.

    Cached per folder, since the benchmark suite asks once per case; raises DataError when absent.
    """
    return _load_real_cached(str(resolve_data_dir(data_dir).resolve()))


@lru_cache(maxsize=4)
def _load_real_cached(folder: str) -> tuple[Network, np.ndarray, np.ndarray]:
    d = Path(folder)
    network = load_weights(find_data_file(d, WEIGHTS_FILE))
    images, labels = load_mnist(d)
    images.setflags(write=False)  # shared by every caller of the cache
    labels.setflags(write=False)
    return network, images, labels


# --- weights: a pickle read without executing anything, and .npz ---

class _Unsafe(Exception):
    """Something a weights pickle asked for that is not a plain NumPy array or container."""


def _numpy_module(new: str, old: str) -> Any:
    # NumPy 2 moved numpy.core to numpy._core; importing numpy.core there warns. Resolve once.
    import importlib

    try:
        return importlib.import_module(new)
    except ImportError:
        return importlib.import_module(old)


_multiarray = _numpy_module("numpy._core.multiarray", "numpy.core.multiarray")
_numeric = _numpy_module("numpy._core.numeric", "numpy.core.numeric")


def _plain_dtype(dt: Any) -> np.dtype:
    """Only numbers: object dtypes could smuggle Python objects, structured ones nest further dtypes."""
    if not isinstance(dt, (np.dtype, str, bytes)):
        raise _Unsafe(f"a dtype given as {type(dt).__name__}")
    d = np.dtype(dt)
    if d.kind not in "biufc" or d.hasobject:
        raise _Unsafe(f"dtype {d} (only numeric arrays are allowed)")
    return d


def _safe_dtype(obj: Any, align: bool = False, copy: bool = False) -> np.dtype:
    _plain_dtype(obj)
    return np.dtype(obj, align, copy)


def _safe_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise _Unsafe(f"an array of type {subtype!r}")
    return _multiarray._reconstruct(np.ndarray, shape, _plain_dtype(dtype))


def _safe_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(data, bytes):
        raise _Unsafe("a NumPy scalar built from something other than bytes")
    return _multiarray.scalar(_plain_dtype(dtype), data)


def _safe_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any, axis_order: Any = None) -> np.ndarray:
    # Pickle protocol 5's form of an array; copied so the result does not pin the pickle's buffer.
    return np.array(_numeric._frombuffer(buf, _plain_dtype(dtype), shape, order, axis_order))


def _safe_codecs_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Pickle protocols 0-2 write bytes as _codecs.encode(text, 'latin1'); allow that use only.
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise _Unsafe(f"_codecs.encode with encoding {encoding!r}")
    return codecs.encode(obj, "latin1", errors)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _safe_codecs_encode,
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _safe_reconstruct
    _ALLOWED[(_mod, "scalar")] = _safe_scalar
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _safe_frombuffer
for _mod in ("builtins", "__builtin__"):  # plain containers that older protocols build by name
    for _cls in (set, frozenset, bytearray, list, dict, tuple):
        _ALLOWED[(_mod, _cls.__name__)] = _cls
_ALLOWED[("collections", "OrderedDict")] = dict


class SafeUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and plain containers; refuses every other global before it is looked up.

    A pickle runs code only through the globals it names (os.system, builtins.exec, ...),
    so an allowlist in find_class is what makes loading an untrusted file safe.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Unsafe(f"the global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Unsafe(f"a persistent id {pid!r}")


def _refusal(path: Path, what: str) -> DataError:
    return DataError(f"{path}: refused to unpickle {what}: weights files may hold only NumPy arrays "
                     f"and plain containers (loading it could run code)")


def load_pickle_params(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The book's pickled dict {'W1': array, ...}, read with SafeUnpickler (nothing is executed)."""
    p = Path(path)
    raw = _read_bytes(p)
    try:
        obj = SafeUnpickler(io.BytesIO(raw)).load()
    except _Unsafe as exc:
        raise _refusal(p, str(exc)) from None
    except RecursionError:
        raise DataError(f"{p}: not a valid weights pickle (nested too deeply)") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, struct.error, OverflowError, MemoryError, UnicodeDecodeError) as exc:
        detail = f"{type(exc).__name__}: {exc}"
        raise DataError(f"{p}: not a valid weights pickle ({detail}); {_describe_start(raw)}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{p}: expected a pickled dict of arrays W1, b1, ..., got {type(obj).__name__}")
    return _checked_params(p, obj)


def _checked_params(path: Path, obj: Mapping[Any, Any]) -> dict[str, np.ndarray]:
    params: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise DataError(f"{path}: expected string keys W1, b1, ..., got {key!r}")
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise DataError(f"{path}: {key} must be an array of real numbers, got {got}")
        params[key] = value
    return params


def load_npz_params(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Arrays from an .npz, with allow_pickle=False so an object array cannot run code."""
    p = Path(path)
    raw = _read_bytes(p)
    if raw[:2] != b"PK":
        raise DataError(f"{p}: not an .npz (zip) file; {_describe_start(raw)}")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{p}: not a valid .npz file ({type(exc).__name__}: {exc})") from None
    return _checked_params(p, arrays)


def network_from_params(params: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> Network:
    """The book's network (sigmoid hidden, softmax output), dtype kept; errors name `path`."""
    try:
        network = from_dict(params, hidden="sigmoid", output="softmax")
    except (ValueError, TypeError) as exc:  # impls.InputError is a ValueError
        raise DataError(f"{os.fspath(path)}: {exc}") from None
    for k, (W, b) in enumerate(network.layers, start=1):
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise DataError(f"{os.fspath(path)}: layer {k} (W{k}/b{k}) holds NaN or infinite values")
    return network


def load_weights(path: str | os.PathLike[str]) -> Network:
    """A Network from the book's sample_weight.pkl (read safely) or an .npz, told apart by content."""
    p = Path(path)
    raw = _read_bytes(p)
    if raw[:2] == b"PK":
        params = load_npz_params(p)
    elif raw[:1] == b"\x80" or p.suffix in (".pkl", ".pickle"):
        params = load_pickle_params(p)
    else:
        raise DataError(f"{p}: not a weights file (expected a pickle .pkl or an .npz); {_describe_start(raw)}")
    return network_from_params(params, p)


def save_npz(network: Network, path: str | os.PathLike[str]) -> Path:
    """Write the network's W1, b1, ... to `path` as .npz, atomically (temp file + os.replace)."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise DataError(f"{p}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **to_dict(network))  # a file object: savez adds no ".npz" to the name
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, p)  # atomic: readers see the old file or the whole new one, never a partial
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise DataError(f"{p}: cannot write: {exc.strerror or exc}") from None
        raise
    return p


# --- the experiment ---

# (implementation, phase, images done, images total); phase is "one at a time" or "batched"
Progress = Callable[[str, str, int, int], None]
ONE_AT_A_TIME = "one at a time"
BATCHED = "batched"
_REPORT_EVERY = 1000  # images between progress reports (and between reads of the clock)


@dataclass(frozen=True)
class Result:
    name: str
    n_images: int
    batch: int
    accuracy: float
    predictions: np.ndarray  # argmax per image; one-at-a-time's when that ran, else batched's
    seconds_one_at_a_time: float | None
    seconds_batched: float | None
    modes_disagree: int | None  # images where batched and one-at-a-time predictions differ

    @property
    def speedup(self) -> float | None:
        if self.seconds_one_at_a_time is None or not self.seconds_batched:
            return None
        return self.seconds_one_at_a_time / self.seconds_batched


def _timed_forward(forward: Callable[[Any, Any], Any], prepared: Any, inputs: Sequence[Any],
                   images_per_input: int, report: Callable[[int], None]) -> tuple[list[Any], float]:
    """forward(prepared, x) for each x, timing only those calls (not progress reports)."""
    outs: list[Any] = []
    seconds = 0.0
    step = max(1, _REPORT_EVERY // images_per_input)
    for start in range(0, len(inputs), step):
        part = inputs[start:start + step]
        t0 = time.perf_counter()
        for x in part:
            outs.append(forward(prepared, x))  # outputs kept, argmax later: only forward is timed
        seconds += time.perf_counter() - t0
        report((start + step) * images_per_input)  # the last batch may be short: clamped by the reporter
    return outs, seconds


def run_experiment(
    name: str,
    network: Network,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch: int = 100,
    one_at_a_time: bool = True,
    batched: bool = True,
    progress: Progress | None = None,
) -> Result:
    """The book's experiment for implementation `name`: classify every image one at a time and in
    batches of `batch`, timing only the forward passes (input conversion happens once, before)."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if not (one_at_a_time or batched):
        raise ValueError("run one at a time, batched, or both")
    n = len(images)
    if n == 0 or len(labels) != n:
        raise ValueError(f"expected n >= 1 images and as many labels, got {n} and {len(labels)}")
    mod = impls.get(name)
    prepared = mod.prepare(network)
    X = mod.from_numpy(np.ascontiguousarray(images))  # once, untimed ("python": lists of floats)
    # Warm up both input shapes: JIT compilation and first-call set-up are not what the book times.
    mod.forward(prepared, X[0])
    mod.forward(prepared, X[:min(batch, n)])

    def reporter(phase: str, total: int) -> Callable[[int], None]:
        if progress is None:
            return lambda done: None
        progress(name, phase, 0, total)
        return lambda done: progress(name, phase, min(done, total), total)

    def argmax_rows(outs: list[Any]) -> np.ndarray:
        return np.concatenate([np.asarray(mod.to_numpy(o)).reshape(-1, network.n_out) for o in outs]).argmax(axis=1)

    pred_one = pred_batch = None
    sec_one = sec_batch = None
    if one_at_a_time:
        rows = [X[i] for i in range(n)]  # the book's x[i]; indexing is not the work being compared
        outs, sec_one = _timed_forward(mod.forward, prepared, rows, 1, reporter(ONE_AT_A_TIME, n))
        pred_one = argmax_rows(outs)
    if batched:
        chunks = [X[s:s + batch] for s in range(0, n, batch)]
        outs, sec_batch = _timed_forward(mod.forward, prepared, chunks, batch, reporter(BATCHED, n))
        pred_batch = argmax_rows(outs)
    predictions = pred_one if pred_one is not None else pred_batch
    assert predictions is not None
    modes_disagree = (int(np.sum(pred_one != pred_batch))
                      if pred_one is not None and pred_batch is not None else None)
    return Result(
        name=name,
        n_images=n,
        batch=batch,
        accuracy=float(np.mean(predictions == labels)),
        predictions=predictions.astype(np.int64),
        seconds_one_at_a_time=sec_one,
        seconds_batched=sec_batch,
        modes_disagree=modes_disagree,
    )


def reference_predictions(network: Network, images: np.ndarray) -> np.ndarray:
    """numpy's argmax for every image (one batched call): what other implementations are compared to."""
    mod = impls.get("numpy")
    return np.asarray(mod.forward(mod.prepare(network), images)).argmax(axis=1).astype(np.int64)
