"""The command line: parse arguments, call the library, print. Nothing else.

Errors from the library (``GitexpError``) and from click's parsing are caught
once, in ``main``, and printed as one line with the exit status they carry.
"""

from __future__ import annotations

import click

# Commands live in their own modules; importing them registers them on the group.
from gitexp.cli.commands import archive as _archive  # noqa: F401
from gitexp.cli.commands import check as _check  # noqa: F401
from gitexp.cli.commands import ci as _ci  # noqa: F401
from gitexp.cli.commands import control as _control  # noqa: F401
from gitexp.cli.commands import core as _core  # noqa: F401
from gitexp.cli.commands import demo as _demo  # noqa: F401
from gitexp.cli.commands import diff as _diff  # noqa: F401
from gitexp.cli.commands import k8s as _k8s  # noqa: F401
from gitexp.cli.commands import review as _review  # noqa: F401
from gitexp.cli.commands import slurm as _slurm  # noqa: F401
from gitexp.cli.commands import ui as _ui  # noqa: F401
from gitexp.cli.commands import worker as _worker  # noqa: F401
from gitexp.cli.environment import Environment
from gitexp.cli.group import cli
from gitexp.errors import GitexpError


def main(argv: list[str] | None = None, environment: Environment | None = None) -> int:
    environment = environment or Environment()
    try:
        cli.main(args=argv, prog_name="gitexp", obj=environment, standalone_mode=False)
    except GitexpError as exc:
        environment.echo_err(f"gitexp: error: {exc.message}")
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        command = exc.ctx.command_path if getattr(exc, "ctx", None) else "gitexp"
        environment.echo_err(f"gitexp: error: {exc.format_message()} (see {command} --help)")
        return exc.exit_code
    except click.exceptions.Abort:
        environment.echo_err("gitexp: interrupted")
        return 130
    return 0
