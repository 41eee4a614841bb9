"""Download the MNIST test set and the book's weights, verified, into a data folder.

    report = fetch(default_data_dir())          # the built-in mirrors, 30 s timeout
    report = fetch(dest, ["https://example.org/mnist/"], force=True, timeout=10)
    if not report.ok: print(report.failed)

Each file is tried on its mirrors in order (SOURCES, or the mirrors given, each as
MIRROR + file name) until one serves it correctly: not an HTTP error, not an HTML
page, exactly the pinned number of bytes (reading stops as soon as a body exceeds
it) and the pinned sha256. The body is held in memory (the largest file is 1.6 MB)
and only a verified body is written, atomically (write_atomic), so no partial or
wrong file ever appears under a file's name. A mirror that sends nothing for
`timeout` seconds (no connection, no answer, a stalled body) is given up on.

Uses urllib, so the usual proxy variables (http_proxy, https_proxy, no_proxy) apply.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import stat
import threading
import time
import urllib.error
import urllib.request
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from loopvec.bench.data.files import IMAGES_FILE, LABELS_FILE, NEEDED_FILES, WEIGHTS_FILE, DataFile, looks_like_text
from loopvec.bench.store.atomic import WriteError, check_target, write_atomic

DEFAULT_TIMEOUT = 30.0
USER_AGENT = "loopvec-fetch-mnist (Python urllib)"
_CHUNK = 64 * 1024

# Public mirrors of the MNIST files, in the order they are tried: PyTorch's (torchvision),
# Google's (TensorFlow/Keras), then the original site, which answers 403 to most scripts.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# The book's public code repository (ch03), raw file, then GitHub's redirecting /raw/ path.
WEIGHTS_MIRRORS: tuple[str, ...] = (
    "https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master/ch03/",
    "https://github.com/oreilly-japan/deep-learning-from-scratch/raw/master/ch03/",
)
# File name -> the base URLs it is fetched from (URL + file name), in order.
SOURCES: Mapping[str, tuple[str, ...]] = {
    IMAGES_FILE.name: MNIST_MIRRORS,
    LABELS_FILE.name: MNIST_MIRRORS,
    WEIGHTS_FILE.name: WEIGHTS_MIRRORS,
}

# progress(file name, bytes received, bytes expected): 0 at the start, expected at the end.
Progress = Callable[[str, int, int], None]
# note(one line): a mirror that failed and how, a present file that is re-downloaded, a success.
Note = Callable[[str], None]


class MirrorFailure(Exception):
    """One mirror did not serve one file correctly; the message says how (one line)."""


@dataclass(frozen=True)
class Attempt:
    """One try of one file on one mirror: `reason` is "" when it succeeded."""
    name: str
    url: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


@dataclass
class FetchReport:
    """What fetch() did: files already there, files downloaded (and from where), files not fetched."""
    dest: Path
    present: list[str] = field(default_factory=list)      # verified in place, not downloaded
    downloaded: dict[str, str] = field(default_factory=dict)  # name -> the URL that served it
    replaced_bad: list[str] = field(default_factory=list)  # present but failed verification
    failed: list[str] = field(default_factory=list)        # no mirror served it correctly
    attempts: list[Attempt] = field(default_factory=list)  # every try, in order

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def mirror_failures(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.ok]


def mirror_url(base: str, name: str) -> str:
    """`base` + `name`, with a '/' between them when `base` lacks one."""
    return (base if base.endswith("/") else base + "/") + name


def check_mirror(base: str) -> str:
    """`base` if it is an http:// or https:// URL with a host, else ValueError saying why."""
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{base!r}: expected an http:// or https:// URL such as https://example.org/mnist/")
    return base


def sources_for(spec: DataFile, mirrors: Sequence[str] | None = None,
                sources: Mapping[str, Sequence[str]] = SOURCES) -> list[str]:
    """The URLs `spec` is tried from, in order: each of `mirrors` + its name, else its built-in sources."""
    bases = list(mirrors) if mirrors else list(sources.get(spec.name, ()))
    return [mirror_url(b, spec.name) for b in bases]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_bytes(data: bytes, spec: DataFile) -> str:
    """"" when `data` is `spec` (size and sha256), else why not (one line)."""
    if len(data) >= 1 and looks_like_text(data[:64]):
        return f"an HTML page ({len(data)} bytes), not the file"
    if len(data) != spec.size:
        return f"{len(data)} bytes, expected {spec.size}"
    digest = sha256_of(data)
    if digest != spec.sha256:
        return f"sha256 mismatch: got {digest[:16]}..., expected {spec.sha256[:16]}..."
    return ""


def verify_file(path: Path, spec: DataFile) -> str:
    """"" when `path` is a regular file (links followed) holding `spec`, else why not (one line).

    Never opens anything but a regular file (a fifo would block)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"cannot check it: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size != spec.size:
        return f"{st.st_size} bytes, expected {spec.size}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    return verify_bytes(data, spec)


def _http_error_reason(exc: urllib.error.HTTPError) -> str:
    head = b""
    try:
        head = exc.read(512) or b""
    except Exception:  # the error body is only a hint
        pass
    finally:
        exc.close()
    html = " (an HTML page)" if head and looks_like_text(head) else ""
    return f"HTTP {exc.code} {exc.reason}{html}"


class _Download:
    """One GET in a worker thread, watched from the caller: `last` is when bytes last arrived."""

    def __init__(self, opener: urllib.request.OpenerDirector, url: str, spec: DataFile, timeout: float,
                 progress: Progress | None) -> None:
        self.opener, self.url, self.spec, self.timeout, self.progress = opener, url, spec, timeout, progress
        self.last = time.monotonic()
        self.cancel = threading.Event()
        self.data: bytes | None = None
        self.error: str = ""
        self.thread = threading.Thread(target=self._run, name=f"fetch {spec.name}", daemon=True)

    def _report(self, done: int) -> None:
        if self.progress is not None and not self.cancel.is_set():
            self.progress(self.spec.name, done, self.spec.size)

    def _run(self) -> None:
        try:
            self.data = self._get()
        except MirrorFailure as exc:
            self.error = str(exc)
        except urllib.error.HTTPError as exc:
            self.error = _http_error_reason(exc)
        except urllib.error.URLError as exc:
            why = exc.reason
            if isinstance(why, (socket.timeout, TimeoutError)):
                self.error = f"timed out: nothing for {self.timeout:g} s"
            else:
                self.error = f"cannot connect: {getattr(why, 'strerror', None) or why}"
        except (socket.timeout, TimeoutError):
            self.error = f"timed out: nothing for {self.timeout:g} s"
        except http.client.IncompleteRead as exc:
            self.error = f"truncated: the connection closed after {len(exc.partial)} bytes"
        except (http.client.HTTPException, OSError, ValueError) as exc:
            self.error = f"failed: {type(exc).__name__}: {exc}"

    def _get(self) -> bytes:
        spec = self.spec
        req = urllib.request.Request(self.url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        with self.opener.open(req, timeout=self.timeout) as resp:
            self.last = time.monotonic()
            ctype = (resp.headers.get("Content-Type") or "").lower()
            if ctype.startswith(("text/html", "application/xhtml")):
                raise MirrorFailure(f"an HTML page (HTTP {resp.status}, Content-Type {ctype.split(';')[0]}), "
                                    f"not the file")
            announced: int | None = None
            length = resp.headers.get("Content-Length")
            if length is not None and length.strip().isdigit():
                announced = int(length)
            self._report(0)
            parts: list[bytes] = []
            total = 0
            checked_head = False
            while total <= spec.size:
                if self.cancel.is_set():
                    raise MirrorFailure("cancelled")
                # read1: whatever has arrived (at least a byte), so a slow but steady link resets the
                # idle timer with every packet; read(n) would wait for n bytes or the end
                chunk = resp.read1(min(_CHUNK, spec.size + 1 - total))
                self.last = time.monotonic()
                if not chunk:
                    break
                parts.append(chunk)
                total += len(chunk)
                if not checked_head and total >= 64:
                    checked_head = True
                    if looks_like_text(b"".join(parts)[:64]):
                        raise MirrorFailure(f"an HTML page (HTTP {resp.status}), not the file")
                    if announced is not None and announced != spec.size:
                        raise MirrorFailure(f"the server announces {announced} bytes, expected {spec.size}")
                if total < spec.size:
                    self._report(total)
        data = b"".join(parts)
        if total > spec.size:
            raise MirrorFailure(f"more than the expected {spec.size} bytes (stopped reading)")
        if data and looks_like_text(data[:64]):
            raise MirrorFailure(f"an HTML page (HTTP {resp.status}), not the file")
        if announced is not None and total < announced:
            raise MirrorFailure(f"truncated: {total} of {announced} bytes (Content-Length) received")
        if total < spec.size:
            raise MirrorFailure(f"truncated: {total} of {spec.size} bytes received")
        digest = sha256_of(data)
        if digest != spec.sha256:
            raise MirrorFailure(f"sha256 mismatch: got {digest[:16]}..., expected {spec.sha256[:16]}...")
        self._report(spec.size)
        return data

    def run(self) -> bytes:
        """The verified body, or MirrorFailure; gives up once nothing arrived for `timeout` seconds."""
        self.thread.start()
        while True:
            wait = self.last + self.timeout - time.monotonic()
            if wait > 0:
                self.thread.join(wait)
            if not self.thread.is_alive():
                break
            if time.monotonic() - self.last >= self.timeout:
                self.cancel.set()  # the worker stops at its next read (its socket times out too)
                raise MirrorFailure(f"timed out: nothing for {self.timeout:g} s")
        if self.data is None:
            raise MirrorFailure(" ".join((self.error or "failed").split()))  # one line, whatever the server said
        return self.data


def download(url: str, spec: DataFile, *, timeout: float = DEFAULT_TIMEOUT, progress: Progress | None = None,
             opener: urllib.request.OpenerDirector | None = None) -> bytes:
    """The body at `url`, checked to be `spec` (no HTML, exact size, sha256), else MirrorFailure.

    Never waits more than `timeout` seconds for the next bytes (connecting and DNS included)."""
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    if opener is None:
        opener = urllib.request.build_opener()  # ProxyHandler from the environment included
    return _Download(opener, url, spec, timeout, progress).run()


def fetch(dest: str | os.PathLike[str], mirrors: Sequence[str] | None = None, *, force: bool = False,
          timeout: float = DEFAULT_TIMEOUT, progress: Progress | None = None, note: Note | None = None,
          files: Sequence[DataFile] = NEEDED_FILES,
          sources: Mapping[str, Sequence[str]] = SOURCES) -> FetchReport:
    """Make `dest` hold every one of `files`, verified; return what was done.

    A file already in `dest` with the pinned size and sha256 is kept (unless `force`);
    one that fails verification is downloaded again. Each missing file is tried on each
    of `mirrors` (+ its name) or, without mirrors, its `sources`, in order, until one
    serves it correctly; it is then written atomically. Failures are in the report
    (and each is passed to `note` as one line) rather than raised.

    Raises WriteError, before downloading anything, when `dest` cannot be a folder or a
    target name exists and is not a regular file (a fifo, a device, a folder, a link).
    """
    say: Note = note or (lambda line: None)
    for m in mirrors or ():
        check_mirror(m)
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    folder = Path(dest)
    report = FetchReport(dest=folder)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise WriteError(f"{folder}: exists and is not a folder") from None
    except OSError as exc:
        raise WriteError(f"{folder}: cannot create the folder: {exc.strerror or exc}") from None
    if not folder.is_dir():
        raise WriteError(f"{folder}: exists and is not a folder")

    todo: list[DataFile] = []
    refused: list[str] = []
    for spec in files:
        target = folder / spec.name
        if not force:  # links are followed for reading; a link is never written through
            why = verify_file(target, spec)
            if not why:
                report.present.append(spec.name)
                continue
            if why not in ("missing", "not a regular file"):
                report.replaced_bad.append(spec.name)
                say(f"{spec.name}: present but {why}; downloading it again")
        try:
            check_target(target)  # never rename onto a fifo, a device, a folder or a link
        except WriteError as exc:
            refused.append(str(exc))
            continue
        todo.append(spec)
    if refused:
        raise WriteError("; ".join(refused))

    opener = urllib.request.build_opener()  # built now, so it sees the proxy variables as they are now
    try:
        _download_all(todo, folder, report, mirrors, sources, timeout, progress, opener, say)
    finally:  # also on Ctrl-C or SIGTERM: leave no empty data folder behind for `loopvec mnist` to find
        if created and not report.downloaded:
            with suppress(OSError):
                folder.rmdir()
    return report


def _download_all(todo: list[DataFile], folder: Path, report: FetchReport, mirrors: Sequence[str] | None,
                  sources: Mapping[str, Sequence[str]], timeout: float, progress: Progress | None,
                  opener: urllib.request.OpenerDirector, say: Note) -> None:
    for spec in todo:
        urls = sources_for(spec, mirrors, sources)
        if not urls:
            say(f"{spec.name}: no mirror to fetch it from")
        for url in urls:
            try:
                data = download(url, spec, timeout=timeout, progress=progress, opener=opener)
            except MirrorFailure as exc:
                report.attempts.append(Attempt(spec.name, url, str(exc)))
                say(f"{spec.name}: {url}: {exc}")
                continue
            write_atomic(folder / spec.name, data)
            report.attempts.append(Attempt(spec.name, url))
            report.downloaded[spec.name] = url
            say(f"{spec.name}: {len(data)} bytes, sha256 verified, from {url}")
            break
        else:
            report.failed.append(spec.name)
