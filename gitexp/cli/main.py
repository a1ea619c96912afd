"""The command line: parse arguments, call the library, print. Nothing else.

Errors from the library (``GitexpError``) and from click's parsing are caught
once, in ``main``, and printed as one line with the exit status they carry.
"""

from __future__ import annotations

import click

# Commands are imported when they run (gitexp.cli.group's lazy loading), not here.
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
