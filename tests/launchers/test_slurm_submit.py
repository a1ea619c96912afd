"""gitexp slurm without a cluster: what init renders, where submit hands the sweeps out from, what the tasks get."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitexp.errors import UsageError
from gitexp.launchers.base import LaunchFailed
from gitexp.launchers.slurm import SlurmLauncher, SlurmOptions, SubmitValues, home_remote, job_remote_url, parse_job_id


def test_init_renders_the_array_and_the_resources_as_sbatch_lines():
    options = SlurmOptions(workers=8, parallel=3, partition="gpu,short", time="1-02:00:00", cpus_per_worker=4,
                           gpus_per_worker=2, mem="16G", account="lab", sbatch_args=("--qos=long", "--comment=a b"))
    script = SlurmLauncher().render(options)["gitexp.sbatch"]
    directives = [line for line in script.splitlines() if line.startswith("#SBATCH ")]
    assert directives == [
        "#SBATCH --job-name=gitexp", "#SBATCH --array=0-7%3", "#SBATCH --requeue", "#SBATCH --output=gitexp-%A_%a.out",
        "#SBATCH --open-mode=append", "#SBATCH --partition=gpu,short", "#SBATCH --account=lab", "#SBATCH --time=1-02:00:00",
        "#SBATCH --cpus-per-task=4", "#SBATCH --mem=16G", "#SBATCH --gres=gpu:2", "#SBATCH --qos=long", '#SBATCH "--comment=a b"',
    ]
    assert "%8" in SlurmLauncher().render(SlurmOptions(workers=8))["gitexp.sbatch"]  # all at once by default


def test_the_script_is_valid_bash_and_refuses_to_run_outside_submit(tmp_path):
    (tmp_path / "gitexp.sbatch").write_text(SlurmLauncher().render(SlurmOptions())["gitexp.sbatch"])
    subprocess.run(["bash", "-n", "gitexp.sbatch"], cwd=tmp_path, check=True)
    alone = subprocess.run(["bash", "gitexp.sbatch"], cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert alone.returncode != 0 and "GITEXP_REMOTE: is not set: submit this script with gitexp slurm submit" in alone.stderr


def test_submit_values_reach_the_tasks_through_the_environment(tmp_path):
    values = SubmitValues("/srv/remote.git", ("a", "b"), tmp_path, idle_exit=30, stale_after=120, gpus_per_trial=2)
    values.validate()
    assert values.env() | {"GITEXP_PYTHON": "py"} == {
        "GITEXP_REMOTE": "/srv/remote.git", "GITEXP_SWEEPS": "a b", "GITEXP_PYTHON": "py", "GITEXP_IDLE_EXIT": "30",
        "GITEXP_STALE_AFTER": "120s", "GITEXP_HEARTBEAT": "30", "GITEXP_POLL": "5", "GITEXP_DVC_CACHE": str(tmp_path),
        "GITEXP_GPUS_PER_TRIAL": "2",
    }
    for wrong, says in ((SubmitValues("r", (), Path("cache")), "absolute path"), (SubmitValues("r", (), tmp_path / "no"), "no such folder"),
                        (SubmitValues("r", (), gpus_per_trial=0), "--gpus-per-trial 0")):
        with pytest.raises(UsageError, match=says):
            wrong.validate()


def test_submit_hands_out_from_the_remote_the_sweep_is_on(project, bare_remote, run_gitexp):
    project.run("remote", "add", "origin", str(bare_remote))
    assert run_gitexp(project.root, "queue", "--name", "s", "--set", "train.lr=[0.1,0.2]").code == 0
    with pytest.raises(UsageError, match="sweep s is on no remote"):
        home_remote(project, ["s"], None)
    assert home_remote(project, ["s"], "origin") == "origin"
    assert run_gitexp(project.root, "push", "origin", "s").code == 0
    assert home_remote(project, ["s"], None) == "origin"
    project.run("remote", "set-url", "origin", "../remote.git")  # a relative path: the tasks clone from scratch folders
    assert job_remote_url(project, "origin") == str(bare_remote.resolve())


def test_the_job_id_is_read_from_sbatch_parsable():
    assert parse_job_id("1234\n") == "1234" and parse_job_id("77;cluster\n") == "77"
    with pytest.raises(LaunchFailed, match="not a job id"):
        parse_job_id("sbatch: warning: something\n")
