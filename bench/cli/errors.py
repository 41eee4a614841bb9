"""The one error a command raises for a user's mistake."""
from __future__ import annotations


class CLIError(Exception):
    """A user mistake: printed as one line, exit code 2, no traceback."""
