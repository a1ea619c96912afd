"""One exception hierarchy for everything gitexp refuses or fails to do.

Each exception carries a one-line, user-facing message (what is wrong and how
to fix it) and the exit status the CLI returns for it; the CLI catches
``GitexpError`` once, at the top, and nowhere else prints or exits.
"""

from __future__ import annotations


class GitexpError(Exception):
    """Base class: bad input by default (exit status 2)."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(GitexpError):
    """The command line, a sweep file or a name is malformed or inconsistent."""


class SweepSyntaxError(UsageError):
    """An EXPR of the sweep language does not parse; the message shows where."""

    def __init__(self, message: str, text: str = "", position: int | None = None):
        if text and position is not None:
            message = f"{message} at column {position + 1} of {text!r}: {text[:position]}>>>{text[position:]}"
        super().__init__(message)
        self.text = text
        self.position = position


class RepositoryError(GitexpError):
    """The Git repository or DVC project is missing or not in a usable state."""


class NotFoundError(GitexpError):
    """A sweep, trial, remote or metric that the user named does not exist."""


class GitCommandError(GitexpError):
    """A git (or dvc) command failed for a reason the user did not cause."""

    exit_code = 1


class NetworkTimeout(GitCommandError):
    """A remote (Git's or DVC's) stayed silent longer than the network timeout; the message names it."""


class TrialsFailed(GitexpError):
    """Some trials ran and failed: their results are recorded, the command exits 1."""

    exit_code = 1


class ConcurrentChange(GitexpError):
    """Another gitexp changed a ref this command meant to change; running it again sees the change."""

    exit_code = 1


class DiskFull(GitexpError):
    """A write failed for want of space (or quota): the command stops, what it had not finished is left as it was."""

    exit_code = 1


def some_of(items: list[str], shown: int = 3) -> str:
    """The first few of ``items`` for a one-line message: "a, b, c and 4 more"."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more
