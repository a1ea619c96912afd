"""logs and stop: looking at and stopping trials while they run."""

from __future__ import annotations

import click

from gitexp.cli.completion import complete_names, complete_remotes
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.group import cli
from gitexp.errors import NotFoundError

SWEEP_LOG_LINES = 5


@cli.command()
@click.argument("name", metavar="TRIAL|SWEEP", shell_complete=complete_names)
@click.option("-f", "--follow", is_flag=True, help="Follow a running trial's log until its run ends.")
@click.option("--raw", is_flag=True, help="Print the log as the stages wrote it, terminal control sequences included.")
@pass_environment
def logs(environment: Environment, name, follow, raw):
    """Print a trial's log (or, for a run elsewhere, what its result commit kept).

    With -f, a running trial's log is followed as it grows, until the run ends;
    for a trial a worker elsewhere runs, where it runs and its last heartbeat.
    A sweep's name prints the latest lines of each of its running trials.
    Control characters show as \\x1b and the like, since a trial's output may
    come from commits others pushed; --raw prints them as they are (colours,
    progress bars).
    """
    from gitexp.execution.control import follow_log, running_elsewhere
    from gitexp.store.layout import trial_log_path
    from gitexp.store.records import Ledger

    git = environment.git()
    write = environment.stdout.write if raw else environment.write
    ledger = Ledger(git)
    if name in ledger.sweep_names():
        _sweep_logs(environment, git, ledger, name, write)
        return
    found = ledger.resolve_trial(name)
    elsewhere = running_elsewhere(git, found)
    if elsewhere is not None:
        environment.echo(elsewhere.describe())
        return
    if follow:
        for piece in follow_log(git, found):
            write(piece)
            environment.stdout.flush()
        if found.finished or trial_log_path(git.common_dir(), found.sweep, found.name).exists():
            return
    log = trial_log_path(git.common_dir(), found.sweep, found.name)
    if log.exists():
        text = log.read_text("utf-8", "replace")
    elif found.finished:
        text = found.message
    else:
        raise NotFoundError(f"{found.ref.key} has not run yet, so it has no log: run it with gitexp run {found.ref.key}")
    write(text)


def _sweep_logs(environment: Environment, git, ledger, sweep: str, write) -> None:
    from gitexp.execution.control import latest_lines, running_elsewhere, running_here

    shown = 0
    for trial in ledger.trials([sweep]):
        if running_here(git, trial):
            for line in latest_lines(git, trial, SWEEP_LOG_LINES):
                write(f"{trial.name}: {line}\n")
            shown += 1
        elif (elsewhere := running_elsewhere(git, trial)) is not None:
            environment.echo(f"{trial.name}: {elsewhere.describe()}")
            shown += 1
    if not shown:
        environment.echo(f"No trial of sweep {sweep} runs now: gitexp logs SWEEP/TRIAL prints one's log")


@cli.command()
@click.argument("names", nargs=-1, required=True, metavar="TRIAL|SWEEP...", shell_complete=complete_names)
@click.option("--remote", shell_complete=complete_remotes, help="Stop the trials' runs on this remote (default: where their live claims are).")
@pass_environment
def stop(environment: Environment, names, remote):
    """Stop running trials; a sweep's name also keeps it from starting new ones.

    A trial running here stops at once and gets a cancelled result; one a
    worker runs stops at its next heartbeat (gitexp pull then shows it).
    gitexp run --retry-cancelled runs them again.
    """
    from gitexp.execution.control import plan_stop

    git = environment.git()
    plan = plan_stop(git, list(names), remote)
    plan.write(git)
    for trial in plan.here:
        environment.echo(f"Stopping {trial.ref.key}: it gets a cancelled result in a moment")
    for trial, where, _ in plan.remote:
        environment.echo(f"Asked {trial.ref.key} to stop on {where.shown}: its worker stops it at its next heartbeat")
    for sweep in plan.sweeps:
        environment.echo(f"Sweep {sweep.name} stopped: it starts no new trials (gitexp run --retry-cancelled resumes it)")
