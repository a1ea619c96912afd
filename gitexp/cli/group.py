"""The ``gitexp`` command group and its global options; every command module registers on it."""

from __future__ import annotations

from pathlib import Path

import click

from gitexp import __version__
from gitexp.cli.environment import Environment, pass_environment


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
