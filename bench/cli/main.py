"""`loopvec`: run, check and compare the loop and vectorized forward passes."""
from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from typing import Sequence

from loopvec.bench.cli import (cmd_calibrate, cmd_check, cmd_compare, cmd_convert, cmd_explain, cmd_fetch, cmd_list,
                               cmd_mnist, cmd_report, cmd_run)
from loopvec.bench.cli.args import Parser, clean
from loopvec.bench.cli.errors import CLIError

DESCRIPTION = """\
loopvec: the neural-network forward pass of chapter 3 of "Deep Learning from
Scratch" written as pure-Python loops, NumPy np.dot and Numba-compiled loops
(plain, tuned, parallel), proven numerically equal, and timed side by side to
show what vectorization buys, with a confidence interval on every ratio.

Run `loopvec COMMAND --help` for a command's options.
"""
COMMANDS = (cmd_list, cmd_check, cmd_run, cmd_calibrate, cmd_compare, cmd_report, cmd_explain, cmd_mnist, cmd_convert, cmd_fetch)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="loopvec", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS:
        module.register(sub)
    return parser


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM and SIGHUP end a run like Ctrl-C: finished work is saved


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print("loopvec: error: a COMMAND is required (see loopvec --help)", file=sys.stderr)
        return 2
    from loopvec.impls._common import InputError
    from loopvec.impls._numba_setup import check_env

    for sig in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)):
        if sig is not None and argv is None:  # only when running as the program, not inside a test
            signal.signal(sig, _terminate_as_interrupt)
    try:
        problem = check_env()
        if problem:
            raise CLIError(problem)
        return int(args.func(args) or 0)
    except (CLIError, InputError) as exc:
        print(f"loopvec {args.command}: error: {clean(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EDQUOT) or exc.filename is not None:
            raise  # a file's error names its file; standard output's does not
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"loopvec {args.command}: error: cannot write to standard output: {exc.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"loopvec {args.command}: interrupted", file=sys.stderr)
        return 130
