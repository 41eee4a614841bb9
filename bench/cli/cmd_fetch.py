"""`loopvec fetch-mnist`: download the MNIST test set and the book's weights, verified."""
from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from pathlib import Path
from typing import TextIO

from loopvec.bench.cli.args import clean, path
from loopvec.bench.cli.errors import CLIError
from loopvec.bench.data.fetch import DEFAULT_TIMEOUT, MNIST_MIRRORS, WEIGHTS_MIRRORS, fetch
from loopvec.bench.data.files import ENV_VAR, NEEDED_FILES, default_data_dir, needed_files_text


def _mirror_lines(bases: tuple[str, ...]) -> str:
    return "\n".join(f"    {b}" for b in bases)


FETCH_DESCRIPTION = f"""\
Download the MNIST test set and the book's chapter-3 weights into one folder,
the files `loopvec mnist` needs:
{needed_files_text()}

sources (tried in order; the first that serves a file correctly wins):
  MNIST files:
{_mirror_lines(MNIST_MIRRORS)}
  sample_weight.pkl (the book's public code repository):
{_mirror_lines(WEIGHTS_MIRRORS)}
  --mirror URL (repeatable) replaces these: each file is fetched as URL + its name.
  Proxies are taken from http_proxy, https_proxy and no_proxy.

verification: a file counts only with exactly the size and sha256 above. An HTTP
error, an HTML page, a short (truncated) or longer body, a wrong sha256 or a
mirror that sends nothing for --timeout seconds is reported on one line and the
next mirror is tried. Nothing unverified is written: a file is written to a
temporary file in the folder, then renamed onto its name. A name that exists and
is not a regular file (a fifo, a device, a folder, a link) is never replaced: the
command stops before downloading anything.
Files already present and verified are not downloaded again (unless --force);
a present file that fails verification is downloaded again.

default folder: {default_data_dir()}
  (per user; `loopvec mnist` looks there when neither --data nor ${ENV_VAR} is given)

exit codes: 0 every file present and verified; 2 a file could not be fetched from
any mirror, or a usage error (one line each, no traceback); 130 interrupted.
"""


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds such as 30 or 0.5, got {clean(text)!r}") from None
    if not v > 0 or math.isinf(v):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {clean(text)!r}")
    return v


def _mirror(text: str) -> str:
    from loopvec.bench.data.fetch import check_mirror

    try:
        return check_mirror(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{clean(text)!r}: expected an http:// or https:// URL "
                                         f"such as https://example.org/mnist/") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fetch-mnist", help="download the MNIST test set and the book's weights, verified",
                       description=FETCH_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dest", type=path, metavar="DIR",
                   help="folder to put the files in (default: the per-user folder above)")
    p.add_argument("--mirror", action="append", type=_mirror, metavar="URL",
                   help="fetch from URL + file name instead of the built-in sources; repeat to try several "
                        "in order")
    p.add_argument("--force", action="store_true", help="download again even files present and verified")
    p.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"give up on a mirror after this many seconds without data (default {DEFAULT_TIMEOUT:g})")
    p.set_defaults(func=cmd_fetch)


class _StderrProgress:
    """Per file: a live byte counter on a terminal, else one line when it starts (the end is a note)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.live = False

    def progress(self, name: str, done: int, total: int) -> None:
        if self.tty:
            if done < total:
                self.stream.write(f"\r\033[K  {name}: {done // 1024}/{total // 1024} KiB")
                self.live = True
            else:
                self._clear()
        elif done == 0:
            self.stream.write(f"  {name}: downloading {total} bytes...\n")
        self.stream.flush()

    def note(self, line: str) -> None:
        self._clear()
        self.stream.write(f"  {clean(line)}\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.live = False


def cmd_fetch(args: argparse.Namespace) -> int:
    from loopvec.bench.store.atomic import WriteError

    default = args.dest is None
    dest = default_data_dir() if default else Path(args.dest).expanduser()
    out = _StderrProgress(sys.stderr)
    try:
        report = fetch(dest, args.mirror, force=args.force, timeout=args.timeout,
                       progress=out.progress, note=out.note)
    except (WriteError, ValueError) as exc:
        raise CLIError(clean(exc)) from None
    finally:
        out._clear()
    if not report.ok:
        raise CLIError(f"could not fetch {', '.join(report.failed)} from any mirror "
                       f"({len(report.mirror_failures)} failed attempt(s), each listed above); "
                       f"check the network or pass --mirror URL")
    where = clean(dest)
    if report.downloaded:
        kept = f"; {len(report.present)} already present" if report.present else ""
        print(f"fetched {len(report.downloaded)} file(s){kept}: all {len(NEEDED_FILES)} files verified in {where}")
    else:
        print(f"all {len(NEEDED_FILES)} files present and verified in {where}; nothing downloaded "
              f"(--force downloads again)")
    # `loopvec mnist` finds the default folder by itself, unless $LOOPVEC_DATA names another one
    plain = default and not os.environ.get(ENV_VAR)
    print("next: loopvec mnist" if plain else f"next: loopvec mnist --data {shlex.quote(str(dest))}")
    return 0
