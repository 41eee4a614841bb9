"""The book's weights: a pickle read without executing anything, and .npz (read and written)."""
from __future__ import annotations

import codecs
import io
import math
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from loopvec.bench.data.files import DataError, describe_start, read_bytes
from loopvec.bench.store.atomic import WriteError, write_atomic
from loopvec.impls.network import Network, from_dict, to_dict


MAX_ARRAY_BYTES = 64 * 2**20  # the book's weights are 180 kB: no array, npz or pickle, may declare more


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


def _capped(shape: Any, dtype: np.dtype) -> tuple[int, ...]:
    """The shape, checked before anything is allocated: whole numbers, at most MAX_ARRAY_BYTES in all."""
    dims = (shape,) if isinstance(shape, int) else shape
    if not isinstance(dims, (tuple, list)) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                                      for n in dims):
        raise _Unsafe(f"an array of shape {shape!r}")
    size = math.prod(dims) * dtype.itemsize
    if size > MAX_ARRAY_BYTES:
        raise _Unsafe(f"an array of {size:,} bytes (shape {tuple(dims)}, {dtype}); a weights array is at most "
                      f"{MAX_ARRAY_BYTES:,}")
    return tuple(dims)


def _safe_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray and subtype is not _safe_ndarray:  # numpy.ndarray, as find_class gives it
        raise _Unsafe(f"an array of type {subtype!r}")
    d = _plain_dtype(dtype)
    return _multiarray._reconstruct(np.ndarray, _capped(shape, d), d)


def _safe_ndarray(shape: Any, dtype: Any = float, *args: Any) -> np.ndarray:
    if args:
        raise _Unsafe("an array over a buffer")
    d = _plain_dtype(np.dtype(dtype) if isinstance(dtype, type) else dtype)
    return np.ndarray(_capped(shape, d), d)


def _safe_bytearray(source: Any = b"", *args: Any) -> bytearray:
    if isinstance(source, int) and source > MAX_ARRAY_BYTES:
        raise _Unsafe(f"a bytearray of {source:,} bytes (at most {MAX_ARRAY_BYTES:,})")
    return bytearray(source, *args)


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
    ("numpy", "ndarray"): _safe_ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _safe_codecs_encode,
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _safe_reconstruct
    _ALLOWED[(_mod, "scalar")] = _safe_scalar
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _safe_frombuffer
for _mod in ("builtins", "__builtin__"):  # plain containers that older protocols build by name
    for _cls in (set, frozenset, list, dict, tuple):
        _ALLOWED[(_mod, _cls.__name__)] = _cls
    _ALLOWED[(_mod, "bytearray")] = _safe_bytearray  # bytearray(n) allocates n bytes: capped
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
    raw = read_bytes(p)
    try:
        obj = SafeUnpickler(io.BytesIO(raw)).load()
    except _Unsafe as exc:
        raise _refusal(p, str(exc)) from None
    except RecursionError:
        raise DataError(f"{p}: not a valid weights pickle (nested too deeply)") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, struct.error, OverflowError, MemoryError, UnicodeDecodeError) as exc:
        detail = f"{type(exc).__name__}: {exc}"
        raise DataError(f"{p}: not a valid weights pickle ({detail}); {describe_start(raw)}") from None
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
    raw = read_bytes(p)
    if raw[:2] != b"PK":
        raise DataError(f"{p}: not an .npz (zip) file; {describe_start(raw)}")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            for info in zf.infolist():  # sizes come first: a zip bomb is refused before it inflates
                if info.file_size > MAX_ARRAY_BYTES:
                    raise DataError(f"{p}: member {info.filename} would inflate to {info.file_size:,} bytes; "
                                    f"expected at most {MAX_ARRAY_BYTES:,} for a weights array")
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(f)
                if math.prod(shape) * dtype.itemsize > MAX_ARRAY_BYTES:
                    raise DataError(f"{p}: member {info.filename} claims shape {shape} of {dtype}; expected at "
                                    f"most {MAX_ARRAY_BYTES:,} bytes for a weights array")
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except DataError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{p}: not a valid .npz file ({type(exc).__name__}: {exc})") from None
    return _checked_params(p, arrays)


def network_from_params(params: Mapping[str, np.ndarray], path: str | os.PathLike[str]) -> Network:
    """The book's network (sigmoid hidden, softmax output), dtype kept; errors name `path`.
    Weights must be floating point: integer or boolean weights are refused, not converted."""
    for key, arr in params.items():
        if np.asarray(arr).dtype.kind != "f":
            raise DataError(f"{os.fspath(path)}: weights {key} have dtype {np.asarray(arr).dtype}; expected "
                            f"float32 or float64 (integer or boolean weights are refused, not converted)")
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
    raw = read_bytes(p)
    if raw[:2] == b"PK":
        params = load_npz_params(p)
    elif raw[:1] == b"\x80" or p.suffix in (".pkl", ".pickle"):
        params = load_pickle_params(p)
    else:
        raise DataError(f"{p}: not a weights file (expected a pickle .pkl or an .npz); {describe_start(raw)}")
    return network_from_params(params, p)


def save_npz(network: Network, path: str | os.PathLike[str], source: str | os.PathLike[str] | None = None) -> Path:
    """Write the network's W1, b1, ... to `path` as .npz, atomically (store/atomic.py).

    Refused: a `path` that is `source` itself (through a link or another name too), and a
    path that exists but is not a regular file (a device such as /dev/null, a fifo, a folder)."""
    p = Path(path)
    if source is not None and p.exists():
        try:
            same = os.path.samefile(p, source)
        except OSError:
            same = False
        if same:
            raise DataError(f"{p}: is the input file itself; expected a different output path")
    buf = io.BytesIO()
    np.savez(buf, **to_dict(network))  # a file object: savez adds no ".npz" to the name
    try:
        return write_atomic(p, buf.getvalue())
    except WriteError as exc:
        raise DataError(str(exc)) from None

