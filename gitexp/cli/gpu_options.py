"""--gpus and --gpus-per-trial, shared by ``run`` and ``worker``, and the ``-j`` they imply."""

from __future__ import annotations

import click

JOBS_HELP = "Trials to run in parallel (default: one per GPU group with --gpus, else 1)."


def gpu_options(command):
    gpus = click.option(
        "--gpus", metavar="LIST|all|none",
        help="GPUs for the trials (0,1,2,3; all: those nvidia-smi or the scheduler gives; none: hide them); each running trial gets its own.",
    )
    per_trial = click.option("--gpus-per-trial", type=int, metavar="N", help="GPUs each trial gets (default 1 with --gpus).")
    return gpus(per_trial(command))


def jobs_and_gpus(environment, jobs: int | None, gpus: str | None, gpus_per_trial: int | None):
    """``-j`` as given or implied by the GPU groups, and the groups (None without --gpus)."""
    from gitexp.execution.gpus import default_jobs, plan_gpus

    plan = plan_gpus(gpus, gpus_per_trial, environment.env)
    return default_jobs(jobs, plan), plan
