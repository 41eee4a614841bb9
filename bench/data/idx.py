"""IDX files (the MNIST format), gzip-compressed or raw, every size and magic number checked."""
from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from loopvec.bench.data.files import (IMAGES_FILE, LABELS_FILE, DataError, describe_start, looks_like_text,
                                      read_bytes, find_data_file)

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions (n, rows, cols)
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension (n,)
_MAGIC_NAMES = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}
IMAGE_SHAPE = (28, 28)


MAX_IDX_BYTES = 256 * 2**20  # a generous sanity limit: the MNIST training images are 47 MB


def _expected_idx_size(head: bytes) -> int | None:
    """Total bytes an IDX file must have, from its header (None when the header is incomplete)."""
    if len(head) < 4:
        return None
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        return None
    dims = struct.unpack(f">{ndim}I", head[4:4 + 4 * ndim])
    return 4 + 4 * ndim + math.prod(dims)


def _gunzip_limited(path: Path, raw: bytes) -> bytes:
    """Decompress, reading no more than the IDX header says the data holds (plus one byte, to
    notice trailing data): a decompression bomb is refused before it fills memory."""
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
        head = f.read(4)
        if len(head) == 4:
            head += f.read(4 * head[3])
        expected = _expected_idx_size(head)
        if expected is not None and expected > MAX_IDX_BYTES:
            raise DataError(f"{path}: the IDX header claims {expected:,} bytes of data; expected at most "
                            f"{MAX_IDX_BYTES:,} (not an MNIST file)")
        limit = (expected if expected is not None else MAX_IDX_BYTES) + 1 - len(head)
        return head + f.read(max(0, limit))


def _gunzip_if_needed(path: Path, raw: bytes) -> bytes:
    # Detect gzip by its magic bytes, not the name; but a .gz name on a non-gzip file is an error,
    # never silently parsed as raw IDX.
    if raw[:2] == b"\x1f\x8b":
        try:
            return _gunzip_limited(path, raw)
        except (EOFError, OSError, zlib.error, struct.error) as exc:  # gzip.BadGzipFile is an OSError
            raise DataError(f"{path}: corrupt or truncated gzip file ({exc})") from None
    if path.suffix == ".gz":
        raise DataError(f"{path}: named .gz but is not a gzip file; {describe_start(raw)}")
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
               else describe_start(data) if looks_like_text(data[:64]) else "not an MNIST IDX file")
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
    if expected > MAX_IDX_BYTES:
        raise DataError(f"{where}: the IDX header claims {expected:,} bytes of data; expected at most "
                        f"{MAX_IDX_BYTES:,} (not an MNIST file)")
    if len(data) != expected:
        # Never a silently wrong array: too short is truncation, too long is not this layout either.
        what = "truncated" if len(data) < expected else "trailing bytes after the data"
        # gunzipping stops one byte past the expected size (a bomb never inflates): "more than"
        got = f"more than {expected}" if gunzipped and len(data) > expected else str(len(data))
        raise DataError(f"{where}: {what}: expected {expected} bytes for dimensions "
                        f"{' x '.join(map(str, dims))}, got {got} {unit}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx(path: str | os.PathLike[str], expected_magic: int | None = None) -> np.ndarray:
    """An IDX file, gzip-compressed or raw, as a read-only uint8 array; any problem is a DataError naming the file."""
    p = Path(path)
    raw = read_bytes(p)
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

