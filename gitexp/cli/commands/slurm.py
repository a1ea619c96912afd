"""slurm init, slurm submit, slurm status: gitexp workers as a Slurm array job."""

from __future__ import annotations

from pathlib import Path

import click

from gitexp.cli.completion import complete_remotes, complete_sweeps
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.group import cli
from gitexp.store.remote import DEFAULT_REMOTE


@cli.group()
def slurm():
    """Run trials on a Slurm cluster: write the array job's script, submit it, watch its tasks."""


@slurm.command("init")
@click.option("--workers", default=2, show_default=True, help="Array tasks, each a gitexp worker.")
@click.option("--parallel", type=int, help="Tasks running at once (default: all).")
@click.option("--partition", help="The Slurm partition (or a comma-separated list).")
@click.option("--time", "time_limit", metavar="T", help="Each task's time limit (sbatch --time, e.g. 4:00:00).")
@click.option("--cpus-per-worker", type=int, help="CPUs of each task.")
@click.option("--gpus-per-worker", type=int, help="GPUs of each task (--gres=gpu:G); its trials share them out, one each by default.")
@click.option("--mem", help="Memory of each task (e.g. 16G).")
@click.option("--account", help="The Slurm account to charge.")
@click.option("--sbatch-arg", "sbatch_args", multiple=True, metavar="ARG", help="One more #SBATCH option, e.g. --sbatch-arg=--qos=long; repeat.")
@click.option("--force", is_flag=True, help="Replace an existing gitexp.sbatch.")
@pass_environment
def slurm_init(environment: Environment, workers, parallel, partition, time_limit, cpus_per_worker, gpus_per_worker, mem, account, sbatch_args, force):
    """Write gitexp.sbatch: an array job of gitexp workers (edit it and commit it; submit passes the remote and sweeps)."""
    from gitexp.launchers.slurm import SlurmLauncher, SlurmOptions

    git = environment.git()
    options = SlurmOptions(
        workers=workers, parallel=parallel, gpus_per_worker=gpus_per_worker,
        partition=partition, time=time_limit, cpus_per_worker=cpus_per_worker, mem=mem, account=account, sbatch_args=tuple(sbatch_args),
    )
    options.validate()
    written = SlurmLauncher().init(git.root, options, force)
    for path in written:
        environment.echo(f"Wrote {path.relative_to(git.root)}: commit it, then run gitexp slurm submit SWEEP --remote {DEFAULT_REMOTE}")


@slurm.command("submit")
@click.argument("sweeps", nargs=-1, shell_complete=complete_sweeps)
@click.option("--remote", "remote_name", shell_complete=complete_remotes, help="Push the sweeps to this remote first (default: the remote they are on).")
@click.option("--dvc-cache", type=click.Path(path_type=Path), metavar="DIR", help="A DVC cache on a shared filesystem for every task.")
@click.option("--gpus-per-trial", type=int, help="GPUs each trial gets of its task's (default 1 when the task has GPUs).")
@click.option("--idle-exit", default=60.0, show_default=True, metavar="SECONDS", help="A task waits this long for new trials before it ends.")
@click.option("--stale-after", default="10m", show_default=True, metavar="DURATION", help="Tasks take over claims without a heartbeat for this long.")
@click.option("--file", "script", default="gitexp.sbatch", show_default=True, type=click.Path(path_type=Path), help="The script gitexp slurm init wrote.")
@click.option("--no-dvc", is_flag=True, help="Push no DVC outputs with the sweeps.")
@pass_environment
def slurm_submit(environment: Environment, sweeps, remote_name, dvc_cache, gpus_per_trial, idle_exit, stale_after, script, no_dvc):
    """Push SWEEPs (every sweep by default) and submit the array job; its tasks run their trials."""
    from gitexp.errors import UsageError
    from gitexp.execution.worker import parse_duration
    from gitexp.launchers.slurm import SlurmLauncher, SubmitValues, home_remote, job_remote_url, parse_job_id
    from gitexp.sharing.sync import push
    from gitexp.store.records import Ledger

    git = environment.git()
    names = tuple(dict.fromkeys(sweeps)) or tuple(Ledger(git).sweep_names())
    if not names:
        raise UsageError("there is no sweep to submit: queue one with gitexp queue first")
    remote = home_remote(git, names, remote_name)
    values = SubmitValues(
        job_remote_url(git, remote), names, dvc_cache and Path(environment.cwd, dvc_cache),
        idle_exit, parse_duration(stale_after, "--stale-after"), gpus_per_trial,
    )
    values.validate()
    path = Path(environment.cwd, script)
    if not path.is_file():
        raise UsageError(f"{script} does not exist: write it with gitexp slurm init, or name it with --file")
    launcher = SlurmLauncher()
    launcher.check_controller(environment.env)
    report = push(git, remote, list(names), with_data=not no_dvc)
    for line in report.lines("Pushed to"):
        environment.echo(line)
    submission = launcher.submit(path.parent, [path.name], environment.env, values.env())
    job = parse_job_id(submission.stdout)
    environment.echo(f"Submitted Slurm array job {job} for {', '.join(names)} on {remote}: watch it with gitexp slurm status")


@slurm.command("status")
@click.option("--remote", "remote_name", default=DEFAULT_REMOTE, show_default=True, shell_complete=complete_remotes, help="The remote the tasks take trials from.")
@pass_environment
def slurm_status(environment: Environment, remote_name):
    """The array tasks (squeue's state) and the trials each one holds (from the claims on the remote)."""
    from gitexp.launchers.slurm import slurm_status as read_status

    tasks = read_status(environment.git(), remote_name, environment.env)
    if not tasks:
        environment.echo("No gitexp Slurm tasks are queued or running, and none holds a trial")
    for task in tasks:
        where = f" on {task.node}" if task.node else ""
        job = f" (job {task.job_id})" if task.job_id and task.job_id != task.task else ""
        holds = ", ".join(task.trials) or "no trial"
        environment.echo(f"{task.task}  {task.state or 'gone'}{where}{job}: {holds}")
