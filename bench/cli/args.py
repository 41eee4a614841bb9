"""Argument types and checks shared by the commands (each error is one line, exit code 2)."""
from __future__ import annotations

import argparse
import re
from typing import Callable, Sequence

from loopvec import impls
from loopvec.bench.cli.errors import CLIError

MACHINE_NAME_MAX = 60
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: object) -> str:
    """Text echoed from a file or an argument, with control characters (ANSI escapes too) removed."""
    return _CONTROL.sub("", str(text))


def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {clean(text)!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {n}")
    return n


def bounded_int(low: int, high: int) -> "Callable[[str], int]":
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number {low}..{high:,}, got {clean(text)!r}") from None
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number {low}..{high:,}, got {n:,}")
        return n

    return parse


def percent(text: str) -> float:
    try:
        v = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage such as 10 or 2.5, got {clean(text)!r}") from None
    if not v >= 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a percentage >= 0, got {clean(text)!r}")
    return v


def path(text: str) -> str:
    """A file or folder path: never empty (an empty path would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


def pattern(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a case id or part of one (e.g. forward-mnist), got an empty pattern")
    return text


def machine_name(text: str) -> str:
    from loopvec.bench.measure.machine import slug

    if len(text) > MACHINE_NAME_MAX:
        raise argparse.ArgumentTypeError(f"{len(text)} characters; expected at most {MACHINE_NAME_MAX} "
                                         f"(lowercase letters, digits and '-')")
    if slug(text) != text:
        raise argparse.ArgumentTypeError(f"{clean(text)!r}: expected lowercase letters, digits and '-', "
                                         f"e.g. {slug(text)!r}")
    return text


def impl_names(requested: Sequence[str] | None) -> list[str]:
    """The requested implementation names (deduplicated, checked), or all available ones."""
    if not requested:
        return impls.available()
    for name in requested:
        try:
            impls.get(name)
        except ValueError as exc:
            raise CLIError(clean(exc)) from None
    return list(dict.fromkeys(requested))


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line: 'loopvec CMD: error: ...' and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {clean(message)} (see {self.prog} --help)\n")
