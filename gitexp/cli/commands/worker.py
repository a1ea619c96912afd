"""gitexp worker: run a remote's queued trials on this machine."""

from __future__ import annotations

import click

from gitexp.cli.completion import complete_remotes, complete_sweeps
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.gpu_options import JOBS_HELP, gpu_options, jobs_and_gpus
from gitexp.cli.group import cli
from gitexp.errors import TrialsFailed


@cli.command()
@click.option("--remote", "remote_spec", required=True, metavar="R", shell_complete=complete_remotes, help="The Git remote (name or URL) holding the trials.")
@click.option("--sweep", "sweeps", multiple=True, metavar="S", shell_complete=complete_sweeps, help="Only trials of this sweep; repeat for more.")
@click.option("-j", "--jobs", type=int, help=JOBS_HELP)
@gpu_options
@click.option("--idle-exit", default=0.0, show_default=True, metavar="SECONDS", help="Wait this long for new trials before exiting.")
@click.option("--stale-after", default="10m", show_default=True, metavar="DURATION", help="Take over claims without a heartbeat for this long (90s, 10m, 1h).")
@click.option("--timeout", type=float, help="Seconds after which a trial is stopped and marked failed.")
@click.option("--stage", help="Reproduce only this dvc.yaml stage (and what it depends on).")
@click.option("-C", "--copy-paths", "copy_paths", multiple=True, metavar="PATH", help="Copy this ignored or untracked file or folder of this clone into every trial; repeat.")
@click.option("--worker-id", help="This worker's name in claims (default: $GITEXP_WORKER_ID, else host-pid-random).")
@click.option("--heartbeat", default=30.0, hidden=True, help="Seconds between claim refreshes.")
@click.option("--poll", default=5.0, hidden=True, help="Seconds between looks at the remote while idle.")
@pass_environment
def worker(
    environment: Environment, remote_spec, sweeps, jobs, gpus, gpus_per_trial, idle_exit, stale_after, timeout, stage, copy_paths, worker_id, heartbeat, poll
):
    """Claim queued trials on a Git remote, run them here and push their results, until none are left."""
    from gitexp.cli.progress import outcome_line
    from gitexp.execution.local import RunOptions, copy_paths_option
    from gitexp.execution.worker import Worker, WorkerOptions, parse_duration
    from gitexp.store.remote import resolve_remote

    git = environment.git()
    jobs, gpu_plan = jobs_and_gpus(environment, jobs, gpus, gpus_per_trial)
    options = WorkerOptions(
        run=RunOptions(jobs=jobs, gpus=gpu_plan, timeout=timeout, stage=stage, copy_paths=copy_paths_option(git, environment.cwd, copy_paths)),
        sweeps=tuple(sweeps),
        idle_exit=idle_exit,
        stale_after=parse_duration(stale_after, "--stale-after"),
        heartbeat=heartbeat,
        poll=poll,
        worker_id=worker_id if worker_id is not None else environment.env.get("GITEXP_WORKER_ID") or None,
    )
    options.validate()
    remote = resolve_remote(git, remote_spec, environment.cwd)

    def report(event) -> None:
        # A trial is "started" before it is claimed, and a lost race for a claim is the
        # protocol at work: only results are news.
        if event.kind == "finished":
            environment.echo(outcome_line(event))
            environment.stdout.flush()

    runner = Worker(git, remote, options, report)
    runner.connect()
    environment.echo(f"worker {runner.worker_id} taking trials from {remote.shown}")
    summary = runner.run()
    environment.echo(f"worker {runner.worker_id}: {summary.counts()}; nothing left to run")
    if summary.failed:
        names = ", ".join(trial.ref.key for trial in summary.failed[:5])
        raise TrialsFailed(f"{len(summary.failed)} trial(s) failed ({names}): see gitexp logs TRIAL")
