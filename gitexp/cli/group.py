"""The ``gitexp`` command group and its global options; every command module registers on it.

``gitexp --help`` lists the commands by what users do, and each command's help
ends with examples: both come from the tables in ``cli/examples.py``. A command's
module is imported only when the command runs (or its help is shown): the group
knows where each one lives from ``cli/commands/__init__.py``'s ``COMMANDS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

import click

from gitexp import __version__
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.commands import COMMANDS
from gitexp.cli.examples import EXAMPLES, SECTIONS, examples_epilog


class SectionedGroup(click.Group):
    """A group whose help lists its commands under the sections of ``SECTIONS``."""

    group_class = type  # subgroups (gitexp ci) are sectioned groups too, so their commands get examples

    def __init__(self, *args, lazy_commands: Mapping[str, tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})  # name -> ("module:attribute", short help)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands.keys() | self.lazy_commands.keys())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(load_command(self.lazy_commands[cmd_name][0]), cmd_name)
        command = super().get_command(ctx, cmd_name)
        path = " ".join([*ctx.command_path.split()[1:], cmd_name])
        if command is not None and path in EXAMPLES and not command.epilog:
            command.epilog = examples_epilog(EXAMPLES[path])
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.list_commands(ctx) and not ctx.resilient_parsing:
            for name in self.lazy_commands:  # an unknown name: click suggests close ones among the loaded commands
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if ctx.parent is not None:  # a subgroup (gitexp ci): one plain list
            super().format_commands(ctx, formatter)
            return
        listed = {name: help for name, help in self.short_helps().items() if help is not None}
        sectioned = {name for names in SECTIONS.values() for name in names}
        sections = [(title, [name for name in names if name in listed]) for title, names in SECTIONS.items()]
        sections.append(("Other commands", sorted(listed.keys() - sectioned)))
        longest = max(len(name) for name in listed)  # one column width for every section
        width = formatter.width - 6 - longest
        for title, names in sections:
            if names:
                with formatter.section(title):
                    formatter.write_dl([(name.ljust(longest), shortened(listed[name], width)) for name in names])

    def short_helps(self) -> dict[str, str | None]:
        """Each command's one-line help (None for a hidden one), from the table for those not imported yet."""
        helps = {name: help for name, (_, help) in self.lazy_commands.items()}
        helps.update({name: None if command.hidden else command.get_short_help_str(10**6) for name, command in self.commands.items()})
        return helps


def shortened(short_help: str, width: int) -> str:
    """The line cut to ``width`` as click cuts a command's own (with "...")."""
    return click.Command(None, help=short_help).get_short_help_str(width)


def load_command(where: str) -> click.Command:
    """The click command at ``module:attribute``; importing the module registers it on its group."""
    module, attribute = where.split(":")
    return getattr(importlib.import_module(module), attribute)


def print_versions(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--version: gitexp's, and the Git and DVC it runs (DVC's read from its metadata, not imported)."""
    if not value or ctx.resilient_parsing:
        return
    from gitexp.project.dvc import dvc_version
    from gitexp.store.git import git_version

    environment = ctx.ensure_object(Environment)
    environment.echo(f"gitexp {__version__}")
    environment.echo(f"git {git_version(environment.env) or 'not found'}")
    environment.echo(f"dvc {dvc_version() or 'not found'}")
    ctx.exit()


@click.group(cls=SectionedGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version", is_flag=True, expose_value=False, is_eager=True, callback=print_versions,
    help="Show the versions of gitexp, Git and DVC, then exit.",
)
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="The DVC project's folder (default: the one containing the current directory).",
)
@click.option("--no-color", is_flag=True, help="No colours in the output (as NO_COLOR=1 does).")
@pass_environment
def cli(environment: Environment, project: Path | None, no_color: bool) -> None:
    """Git-native experiments for DVC projects: every trial is a branch."""
    if project is not None:
        from gitexp.project.model import check_project_option

        check_project_option(environment.cwd, project)
    environment.project = project
    environment.no_color = environment.no_color or no_color
