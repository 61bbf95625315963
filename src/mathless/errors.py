"""The one kind of error a user should ever see: a plain sentence, not a traceback.

Anything the user can fix (a missing file, a wrong column name, a broken model
folder) is raised as ``UserError``. The command line prints its message and
exits with status 2; ``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import difflib


class UserError(Exception):
    """A mistake the user can fix. The message says what, where and what to do."""

    exit_code = 2


def closest(name: str, choices, n: int = 3) -> list[str]:
    """The names in ``choices`` that look most like ``name`` (for 'did you mean')."""
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[f] for f in found]


def did_you_mean(name: str, choices) -> str:
    """' Did you mean 'x' or 'y'?' — or an empty string when nothing is close."""
    found = closest(name, choices)
    if not found:
        return ""
    quoted = " or ".join(f"'{f}'" for f in found)
    return f" Did you mean {quoted}?"
