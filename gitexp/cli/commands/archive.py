"""archive, restore: finished trials out of the branch list and back."""

from __future__ import annotations

import click

from gitexp.cli.completion import complete_names, complete_sweeps
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.group import cli


@cli.command()
@click.argument("sweeps", nargs=-1, required=True, metavar="SWEEP...", shell_complete=complete_sweeps)
@click.option("--older-than", metavar="AGE", help="Only trials whose result is older than AGE (30d, 12h, 2w).")
@click.option("--keep-best", type=int, metavar="N", help="Leave the N best trials of each sweep (by its objective) as branches.")
@click.option("--force", is_flag=True, help="Archive the finished trials even while others of the sweep still run.")
@pass_environment
def archive(environment: Environment, sweeps, older_than, keep_best, force):
    """Move the finished trials of SWEEP... out of the branch list, to refs/gitexp/archive/.

    Results stay in Git: show --archived and report read them, git log of the
    archive ref explains a trial, push and pull carry archives; gitexp restore
    brings branches back. Queued and running trials stay branches.
    """
    from gitexp.sharing.archive import ArchiveRequest, archive as archive_trials, parse_age

    request = ArchiveRequest(tuple(sweeps), parse_age(older_than) if older_than is not None else None, keep_best, force)
    for line in archive_trials(environment.git(), request).lines("Archived"):
        environment.echo(line)


@cli.command()
@click.argument("names", nargs=-1, required=True, metavar="SWEEP|TRIAL...", shell_complete=complete_names)
@pass_environment
def restore(environment: Environment, names):
    """Bring archived trials (a whole SWEEP, or SWEEP/TRIAL) back as branches."""
    from gitexp.sharing.archive import restore as restore_trials

    for line in restore_trials(environment.git(), list(names)).lines("Restored"):
        environment.echo(line)
