"""`loopvec fetch-mnist` and bench/data/fetch.py against a real HTTP server on 127.0.0.1.

The server serves the files under path prefixes that each misbehave in one way
(/good/, /forbidden/, /truncated/, ...). With $LOOPVEC_DATA set it serves the real
MNIST files and weights from there (checked against the pinned sizes and sha256);
otherwise small valid IDX files and a pickle made here, with their own specs.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import pickle
import socket
import stat
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import numpy as np
import pytest

from loopvec.bench.cli import cmd_fetch
from loopvec.bench.cli.args import Parser
from loopvec.bench.cli.errors import CLIError
from loopvec.bench.data import fetch as fetch_mod
from loopvec.bench.data.fetch import MirrorFailure, download, fetch, mirror_url, sources_for
from loopvec.bench.data.files import (BOOK_ACCURACY, ENV_VAR, IMAGES_FILE, LABELS_FILE, NEEDED_FILES,
                                      WEIGHTS_FILE, DataFile)
from loopvec.bench.store.atomic import WriteError

SHORT = 0.5  # the --timeout of tests with a mirror that never answers
SLOW_SLEEP = 3.0  # how long /slow/ waits before answering (cut short when the server stops)
HTML = b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>Forbidden</body></html>\n"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


# --- the data served ---

def _synthetic() -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    n = 100
    images = gzip.compress(struct.pack(">IIII", 2051, n, 28, 28)
                           + rng.integers(0, 256, n * 28 * 28, dtype=np.uint8).tobytes(), mtime=0)
    labels = gzip.compress(struct.pack(">II", 2049, n) + rng.integers(0, 10, n, dtype=np.uint8).tobytes(), mtime=0)
    params = {"W1": rng.random((784, 5), dtype=np.float32), "b1": np.zeros(5, np.float32),
              "W2": rng.random((5, 10), dtype=np.float32), "b2": np.zeros(10, np.float32)}
    return {IMAGES_FILE.name: images, LABELS_FILE.name: labels, WEIGHTS_FILE.name: pickle.dumps(params, protocol=3)}


class Dataset:
    def __init__(self) -> None:
        folder = os.environ.get(ENV_VAR)
        self.real = bool(folder)
        if folder:
            self.bytes = {}
            for spec in NEEDED_FILES:
                path = Path(folder) / spec.name
                if not path.is_file():
                    pytest.fail(f"${ENV_VAR}={folder} is set but {spec.name} is not there")
                data = path.read_bytes()
                if len(data) != spec.size or hashlib.sha256(data).hexdigest() != spec.sha256:
                    pytest.fail(f"{path}: not the pinned file (size or sha256 differ)")
                self.bytes[spec.name] = data
            self.specs = list(NEEDED_FILES)
        else:
            self.bytes = _synthetic()
            self.specs = [DataFile(f.name, f.what, len(self.bytes[f.name]), hashlib.sha256(self.bytes[f.name]).hexdigest())
                          for f in NEEDED_FILES]
        self.names = sorted(self.bytes)


# --- the server ---

class Server:
    """ThreadingHTTPServer on 127.0.0.1; `requests` lists every request path it received."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/"

    def count(self, kind: str | None = None) -> int:
        with self.lock:
            return sum(1 for p in self.requests if kind is None or urlsplit(p).path.startswith(f"/{kind}/"))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _send(self, code: int, body: bytes, ctype: str = "application/octet-stream",
                      length: int | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                with server.lock:
                    server.requests.append(self.path)
                # a proxied request has an absolute URL as its path
                parts = urlsplit(self.path).path.split("/", 2)
                kind, name = (parts[1], parts[2]) if len(parts) == 3 else ("", "")
                body = server.files.get(name)
                if body is None:
                    self._send(404, b"<html><body>Not Found</body></html>", "text/html", 35)
                    return
                try:
                    self._serve(kind, body)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
                    pass

            def _serve(self, kind: str, body: bytes) -> None:
                if kind == "good":
                    self._send(200, body, length=len(body))
                elif kind == "forbidden":
                    self._send(403, HTML, "text/html", len(HTML))
                elif kind == "truncated":  # announces the whole file, sends half, closes
                    self._send(200, body[: len(body) // 2], length=len(body))
                    self.close_connection = True
                elif kind == "wronghash":
                    flipped = bytearray(body)
                    flipped[len(body) // 2] ^= 0xFF
                    self._send(200, bytes(flipped), length=len(body))
                elif kind == "slow":
                    server.stop.wait(SLOW_SLEEP)
                    self._send(200, body, length=len(body))
                elif kind == "html200":
                    self._send(200, HTML, "text/html; charset=utf-8", len(HTML))
                elif kind == "htmlsniff":  # an HTML page that says it is binary
                    self._send(200, HTML)
                elif kind == "drip":  # a slow but steady link: the file in 12 pieces, 50 ms apart
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    step = max(1, -(-len(body) // 12))
                    for i in range(0, len(body), step):
                        self.wfile.write(body[i:i + step])
                        self.wfile.flush()
                        if server.stop.wait(0.05):
                            return
                elif kind == "loop":  # redirects to itself
                    self.send_response(302)
                    self.send_header("Location", self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif kind == "big":  # the file and then more, no Content-Length: must stop reading
                    self._send(200, body)
                    for _ in range(64):
                        self.wfile.write(b"\0" * 65536)
                else:
                    self._send(404, b"<html><body>Not Found</body></html>", "text/html", 35)

        return Handler

    def __enter__(self) -> "Server":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def data() -> Dataset:
    return Dataset()


@pytest.fixture(scope="module")
def server(data: Dataset) -> Iterator[Server]:
    with Server(data.bytes) as s:
        yield s


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests go straight to 127.0.0.1 whatever proxy the machine running the tests uses."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)


@pytest.fixture
def srv(server: Server) -> Server:
    with server.lock:
        server.requests.clear()
    return server


def run_fetch(data: Dataset, dest: Path, mirrors: list[str], **kw: object) -> tuple[fetch_mod.FetchReport, list[str]]:
    notes: list[str] = []
    kw.setdefault("timeout", 5.0)
    report = fetch(dest, mirrors, files=data.specs, note=notes.append, **kw)  # type: ignore[arg-type]
    return report, notes


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- the library ---

def test_good_mirror_places_verified_files(data: Dataset, srv: Server, tmp_path: Path) -> None:
    dest = tmp_path / "new" / "mnist"  # created, parents too
    seen: list[tuple[str, int, int]] = []
    report, notes = run_fetch(data, dest, [srv.url("good")], progress=lambda *a: seen.append(a))
    assert report.ok and report.failed == [] and report.present == []
    assert sorted(report.downloaded) == data.names
    assert listing(dest) == data.names  # nothing else: no temporary file left
    for name in data.names:
        assert (dest / name).read_bytes() == data.bytes[name]
        assert report.downloaded[name] == srv.url("good") + name
        assert (name, 0, len(data.bytes[name])) in seen and (name, len(data.bytes[name]), len(data.bytes[name])) in seen
    assert all("sha256 verified" in n for n in notes)


@pytest.mark.parametrize("kind, reason", [
    ("forbidden", "HTTP 403"),
    ("truncated", "truncated"),
    ("wronghash", "sha256 mismatch"),
    ("html200", "HTML page"),
    ("htmlsniff", "HTML page"),
    ("big", "more than the expected"),
    ("missing", "HTTP 404"),
])
def test_bad_mirror_leaves_no_file(data: Dataset, srv: Server, tmp_path: Path, kind: str, reason: str) -> None:
    dest = tmp_path / "d"
    report, notes = run_fetch(data, dest, [srv.url(kind)])
    assert not report.ok and sorted(report.failed) == data.names and report.downloaded == {}
    assert listing(dest) == []  # no file under a final name, no temporary file either
    assert not dest.exists()  # the folder it created is removed again when nothing was fetched
    assert len(notes) == len(data.names)  # one line per failed mirror and file
    for name, line in zip(data.names, sorted(notes)):
        assert line.startswith(f"{name}: {srv.url(kind)}{name}: ") and reason in line and "\n" not in line


def test_forbidden_says_html(data: Dataset, srv: Server, tmp_path: Path) -> None:
    _, notes = run_fetch(data, tmp_path, [srv.url("forbidden")])
    assert all("HTTP 403 Forbidden (an HTML page)" in n for n in notes)


def test_mirror_that_never_answers_times_out(data: Dataset, srv: Server, tmp_path: Path) -> None:
    spec = data.specs[1]
    with pytest.raises(MirrorFailure, match="timed out"):
        download(srv.url("slow") + spec.name, spec, timeout=SHORT)
    report, notes = run_fetch(data, tmp_path / "d", [srv.url("slow")], timeout=SHORT)
    assert sorted(report.failed) == data.names and listing(tmp_path / "d") == []
    assert len(notes) == 3 and all("timed out" in n for n in notes)


def test_unreachable_mirror(data: Dataset, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report, notes = run_fetch(data, tmp_path, [f"http://127.0.0.1:{port}/x"], timeout=SHORT)
    assert sorted(report.failed) == data.names
    assert all("cannot connect" in n or "timed out" in n for n in notes)


def test_falls_back_in_order_and_names_failures(data: Dataset, srv: Server, tmp_path: Path) -> None:
    mirrors = [srv.url("forbidden"), srv.url("truncated"), srv.url("wronghash"), srv.url("good")]
    report, notes = run_fetch(data, tmp_path, mirrors)
    assert report.ok and listing(tmp_path) == data.names
    for name in data.names:
        tries = [a for a in report.attempts if a.name == name]
        assert [a.url for a in tries] == [m + name for m in mirrors]
        assert [a.ok for a in tries] == [False, False, False, True]
        lines = [n for n in notes if n.startswith(name + ":")]
        assert ["403" in lines[0], "truncated" in lines[1], "sha256" in lines[2]] == [True] * 3
    assert srv.count("good") == 3 and srv.count() == 12


def test_present_files_are_not_downloaded_again(data: Dataset, srv: Server, tmp_path: Path) -> None:
    run_fetch(data, tmp_path, [srv.url("good")])
    assert srv.count() == 3
    report, notes = run_fetch(data, tmp_path, [srv.url("good")])
    assert srv.count() == 3  # nothing requested
    assert report.ok and sorted(report.present) == data.names and report.downloaded == {} and notes == []
    report, _ = run_fetch(data, tmp_path, [srv.url("good")], force=True)
    assert srv.count() == 6 and sorted(report.downloaded) == data.names


def test_present_file_failing_verification_is_downloaded_again(data: Dataset, srv: Server, tmp_path: Path) -> None:
    run_fetch(data, tmp_path, [srv.url("good")])
    bad = data.names[0]
    (tmp_path / bad).write_bytes(HTML)
    report, notes = run_fetch(data, tmp_path, [srv.url("good")])
    assert report.ok and report.replaced_bad == [bad] and list(report.downloaded) == [bad]
    assert any(n.startswith(f"{bad}: present but ") and "downloading it again" in n for n in notes)
    assert (tmp_path / bad).read_bytes() == data.bytes[bad]
    assert srv.count() == 4


def test_failed_redownload_keeps_the_old_file(data: Dataset, srv: Server, tmp_path: Path) -> None:
    run_fetch(data, tmp_path, [srv.url("good")])
    before = {n: (tmp_path / n).read_bytes() for n in data.names}
    report, _ = run_fetch(data, tmp_path, [srv.url("truncated"), srv.url("wronghash")], force=True)
    assert sorted(report.failed) == data.names
    assert listing(tmp_path) == data.names  # no temporary file left
    assert {n: (tmp_path / n).read_bytes() for n in data.names} == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no fifos on this system")
def test_non_regular_destination_is_refused(data: Dataset, srv: Server, tmp_path: Path) -> None:
    fifo = tmp_path / data.names[1]
    os.mkfifo(fifo)
    with pytest.raises(WriteError, match="fifo"):
        run_fetch(data, tmp_path, [srv.url("good")])
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert srv.count() == 0  # refused before downloading anything
    assert listing(tmp_path) == [data.names[1]]


def test_mirror_urls_and_builtin_sources() -> None:
    assert mirror_url("http://h/a", "f.gz") == "http://h/a/f.gz" == mirror_url("http://h/a/", "f.gz")
    assert sources_for(IMAGES_FILE, ["http://h/x"]) == ["http://h/x/" + IMAGES_FILE.name]
    for spec in NEEDED_FILES:
        urls = sources_for(spec)
        assert len(urls) >= 2 and all(u.endswith("/" + spec.name) for u in urls)
    assert sources_for(IMAGES_FILE)[0].startswith("https://ossci-datasets.s3.amazonaws.com/mnist/")
    assert sources_for(LABELS_FILE)[-1].startswith("http://yann.lecun.com/exdb/mnist/")  # 403s scripts: last
    assert "oreilly-japan/deep-learning-from-scratch" in sources_for(WEIGHTS_FILE)[0]
    with pytest.raises(ValueError, match="http"):
        fetch(Path("unused"), ["ftp://example.org/"])


def test_proxy_from_the_environment_is_used(data: Dataset, srv: Server, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{srv.port}")
    report, _ = run_fetch(data, tmp_path, ["http://mnist.example.invalid/good/"])
    assert report.ok and listing(tmp_path) == data.names
    assert srv.requests and all(p.startswith("http://mnist.example.invalid/good/") for p in srv.requests)


# --- the command ---

def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`loopvec fetch-mnist ARGV` as main() runs it: a CLIError is one line on stderr, exit code 2."""
    parser = Parser(prog="loopvec")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    cmd_fetch.register(sub)
    try:
        args = parser.parse_args(["fetch-mnist", *argv])
        code = args.func(args)
    except CLIError as exc:
        print(f"loopvec fetch-mnist: error: {exc}", file=sys.stderr)
        code = 2
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_files(data: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command fetches the served files' specs (the real ones when $LOOPVEC_DATA is set)."""
    monkeypatch.setattr(cmd_fetch, "fetch", functools.partial(fetch, files=data.specs))


def test_cli_every_mirror_failing_exits_2(data: Dataset, srv: Server, tmp_path: Path, cli_files: None,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "d"
    kinds = ["forbidden", "truncated", "slow"]
    argv = ["--dest", str(dest), "--timeout", str(SHORT)]
    for k in kinds:
        argv += ["--mirror", srv.url(k)]
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    failures = [ln for ln in lines if "http://127.0.0.1" in ln and "error:" not in ln]
    assert len(failures) == len(kinds) * len(data.names)  # one line per mirror and file
    for name in data.names:
        for k in kinds:
            assert sum(srv.url(k) + name in ln for ln in failures) == 1
    assert lines[-1].startswith("loopvec fetch-mnist: error: could not fetch ")
    assert all(name in lines[-1] for name in data.names)
    assert listing(dest) == []


def test_cli_present_and_force(data: Dataset, srv: Server, tmp_path: Path, cli_files: None,
                               capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--dest", str(tmp_path), "--mirror", srv.url("forbidden"), "--mirror", srv.url("good")]
    code, out, err = run_cli(argv, capsys)
    assert code == 0 and f"verified in {tmp_path}" in out
    assert f"next: loopvec mnist --data {tmp_path}" in out
    assert "403" in err and "Traceback" not in err
    n = srv.count()
    code, out, err = run_cli(argv, capsys)
    assert code == 0 and srv.count() == n
    assert f"all 3 files present and verified in {tmp_path}" in out
    code, out, err = run_cli([*argv, "--force"], capsys)
    assert code == 0 and srv.count() == 2 * n and "fetched 3 file(s)" in out


def test_cli_default_destination(data: Dataset, srv: Server, tmp_path: Path, cli_files: None,
                                 monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cmd_fetch, "default_data_dir", lambda: tmp_path / "share" / "loopvec" / "mnist")
    monkeypatch.delenv(ENV_VAR, raising=False)
    code, out, _ = run_cli(["--mirror", srv.url("good")], capsys)
    assert code == 0 and listing(tmp_path / "share" / "loopvec" / "mnist") == data.names
    assert out.splitlines()[-1] == "next: loopvec mnist"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no fifos on this system")
def test_cli_refuses_a_fifo(data: Dataset, srv: Server, tmp_path: Path, cli_files: None,
                            capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / data.names[0])
    code, out, err = run_cli(["--dest", str(tmp_path), "--mirror", srv.url("good")], capsys)
    assert code == 2 and "fifo" in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert srv.count() == 0


@pytest.mark.parametrize("argv", [["--timeout", "0"], ["--timeout", "soon"], ["--mirror", "ftp://example.org/"]])
def test_cli_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "error:" in err


def test_cli_help_explains(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0
    for words in ("ossci-datasets", "sha256", "default folder", "exit codes", "--timeout", "temporary file"):
        assert words in out


def test_cli_progress_on_a_terminal_updates_one_line() -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    out = cmd_fetch._StderrProgress(stream)
    out.progress("a.gz", 0, 4096)
    out.progress("a.gz", 2048, 4096)
    out.note("a.gz: http://x/a.gz: HTTP 403 Forbidden\x07")
    text = stream.getvalue()
    assert "\r\x1b[K  a.gz: 2/4 KiB" in text and text.endswith("\r\x1b[K  a.gz: http://x/a.gz: HTTP 403 Forbidden\n")


def test_cli_end_to_end_reaches_the_book_accuracy(data: Dataset, srv: Server, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    if not data.real:
        pytest.skip(f"needs the real MNIST files: set {ENV_VAR} to a folder holding them")
    dest = tmp_path / "fetched"
    code, out, err = run_cli(["--mirror", srv.url("good"), "--dest", str(dest)], capsys)
    assert code == 0, err
    assert listing(dest) == data.names
    from loopvec.bench.data.mnist import load_real, run_experiment

    network, images, labels = load_real(dest)
    result = run_experiment("numpy", network, images, labels, batch=100, one_at_a_time=False)
    assert result.n_images == 10_000
    assert result.accuracy == pytest.approx(BOOK_ACCURACY, abs=1e-9)


def _smallest(data: Dataset) -> DataFile:
    return min(data.specs, key=lambda s: s.size)


def test_a_slow_but_steady_mirror_is_not_timed_out(srv: Server, data: Dataset, tmp_path: Path) -> None:
    """The timeout is 'no bytes at all for S seconds': a piece every 50 ms against 0.3 s."""
    spec = _smallest(data)
    notes: list[str] = []
    t0 = time.monotonic()
    report = fetch(tmp_path / "d", [srv.url("drip")], files=[spec], timeout=0.3, note=notes.append)
    assert time.monotonic() - t0 > 0.4  # longer than the timeout in all, never idle that long
    assert report.ok, notes
    assert (tmp_path / "d" / spec.name).read_bytes() == data.bytes[spec.name]


def test_a_redirect_loop_is_one_line_per_mirror(srv: Server, data: Dataset, tmp_path: Path) -> None:
    notes: list[str] = []
    report = fetch(tmp_path / "d", [srv.url("loop")], files=[_smallest(data)], timeout=5, note=notes.append)
    assert not report.ok and report.attempts
    assert all("\n" not in n for n in notes) and all("\n" not in a.reason for a in report.attempts)
    assert not (tmp_path / "d").exists()  # nothing fetched: no empty folder left behind
