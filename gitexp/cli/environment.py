"""What a command may touch of the outside world (cwd, environment variables, streams); tests pass their own."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gitexp.terminal import json_text, terminal_text

if TYPE_CHECKING:  # rich is imported when a command draws with it, not for plain lines
    from rich.console import Console


def _working_directory() -> Path:
    """The current directory; once deleted, the path the shell still names (commands then say it is gone)."""
    try:
        return Path.cwd()
    except FileNotFoundError:
        return Path(os.environ.get("PWD") or "/nonexistent")


@dataclass
class Environment:
    """What a command may touch of the outside world; tests pass their own."""

    cwd: Path = field(default_factory=_working_directory)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    stdout: Any = None
    stderr: Any = None
    project: Path | None = None  # --project: the DVC project's folder, when not the one containing cwd
    no_color: bool = False  # --no-color

    def __post_init__(self) -> None:
        self.stdout = self.stdout or sys.stdout
        self.stderr = self.stderr or sys.stderr

    @property
    def console(self) -> Console:
        from rich.console import Console

        # Off a terminal (pipes, CI logs) tables are not cut to 80 columns.
        width = None if self.interactive else 240
        # No colour system at all, not rich's no_color (which keeps bold and reverse): https://no-color.org
        colors = {"color_system": None} if self.colorless else {}
        return Console(file=self.stdout, highlight=False, soft_wrap=False, width=width, **colors)

    @property
    def colorless(self) -> bool:
        """--no-color, or NO_COLOR set to anything but the empty string."""
        return self.no_color or bool(self.env.get("NO_COLOR"))

    @property
    def interactive(self) -> bool:
        return hasattr(self.stdout, "isatty") and self.stdout.isatty() and self.env.get("CI") != "true"

    def screen_rows(self) -> int | None:
        """How many trial rows fit on the terminal with a table's header and borders; None off a terminal."""
        if not self.interactive:
            return None
        try:
            lines = int(self.env.get("LINES") or os.get_terminal_size(self.stdout.fileno()).lines)
        except (OSError, ValueError, AttributeError):
            lines = 24
        return max(5, lines - 8)

    def git(self):
        from gitexp.store.git import Git

        return Git.discover(self.cwd, self.env)

    def project_dir(self, git) -> str:
        """The DVC project's folder in ``git``'s repository (``--project``, or the one containing cwd)."""
        from gitexp.project.model import find_project_dir

        return find_project_dir(git, self.cwd, self.project)

    # Every line a command prints passes here: values from commits others pushed
    # cannot drive the terminal (gitexp.terminal).
    def write(self, text: str) -> None:
        self.stdout.write(terminal_text(text))

    def echo(self, text: str = "") -> None:
        self.write(text + "\n")

    def echo_json(self, text: str) -> None:
        self.stdout.write(json_text(text) + "\n")

    def stream(self, chunks) -> None:
        """Text written piece by piece as it is made (a pipe's reader starts on the first rows)."""
        for chunk in chunks:
            self.write(chunk)
            self.stdout.flush()

    def stream_json(self, chunks) -> None:
        for chunk in chunks:
            self.stdout.write(json_text(chunk))
            self.stdout.flush()
        self.stdout.write("\n")

    def echo_err(self, text: str) -> None:
        self.stderr.write(terminal_text(text) + "\n")


pass_environment = click.make_pass_decorator(Environment)
