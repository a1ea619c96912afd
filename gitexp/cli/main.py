"""The command line: parse arguments, call the library, print. Nothing else.

Errors from the library (``GitexpError``) and from click's parsing are caught
once, in ``main``, and printed as one line with the exit status they carry.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from gitexp import __version__
from gitexp.errors import GitexpError


@dataclass
class Environment:
    """What a command may touch of the outside world; tests pass their own."""

    cwd: Path = field(default_factory=Path.cwd)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    stdout: Any = None
    stderr: Any = None
    project: Path | None = None  # --project: the DVC project's folder, when not the one containing cwd

    def __post_init__(self) -> None:
        self.stdout = self.stdout or sys.stdout
        self.stderr = self.stderr or sys.stderr

    @property
    def console(self) -> Console:
        # Off a terminal (pipes, CI logs) tables are not cut to 80 columns.
        width = None if self.interactive else 240
        return Console(file=self.stdout, highlight=False, soft_wrap=False, width=width)

    @property
    def interactive(self) -> bool:
        return hasattr(self.stdout, "isatty") and self.stdout.isatty() and self.env.get("CI") != "true"

    def git(self):
        from gitexp.store.git import Git

        return Git.discover(self.cwd, self.env)

    def project_dir(self, git) -> str:
        """The DVC project's folder in ``git``'s repository (``--project``, or the one containing cwd)."""
        from gitexp.project.model import find_project_dir

        return find_project_dir(git, self.cwd, self.project)

    def echo(self, text: str = "") -> None:
        self.stdout.write(text + "\n")


pass_environment = click.make_pass_decorator(Environment)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gitexp")
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="The DVC project's folder (default: the one containing the current directory).",
)
@pass_environment
def cli(environment: Environment, project: Path | None) -> None:
    """Git-native experiments for DVC projects: every trial is a branch."""
    if project is not None:
        from gitexp.project.model import check_project_option

        check_project_option(environment.cwd, project)
    environment.project = project


def main(argv: list[str] | None = None, environment: Environment | None = None) -> int:
    environment = environment or Environment()
    try:
        cli.main(args=argv, prog_name="gitexp", obj=environment, standalone_mode=False)
    except GitexpError as exc:
        environment.stderr.write(f"gitexp: error: {exc.message}\n")
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        command = exc.ctx.command_path if getattr(exc, "ctx", None) else "gitexp"
        environment.stderr.write(f"gitexp: error: {exc.format_message()} (see {command} --help)\n")
        return exc.exit_code
    except click.exceptions.Abort:
        environment.stderr.write("gitexp: interrupted\n")
        return 130
    return 0


# Commands live in their own modules; importing them registers them on ``cli``.
from gitexp.cli.commands import check as _check  # noqa: E402,F401
from gitexp.cli.commands import ci as _ci  # noqa: E402,F401
from gitexp.cli.commands import core as _core  # noqa: E402,F401
from gitexp.cli.commands import demo as _demo  # noqa: E402,F401
from gitexp.cli.commands import review as _review  # noqa: E402,F401
from gitexp.cli.commands import worker as _worker  # noqa: E402,F401
