"""GPUs per trial: --gpus and --gpus-per-trial cut the GPUs into groups, and no two running trials share one."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from gitexp.errors import UsageError
from gitexp.execution.gpus import GpuLeases, GpuPlan, default_jobs, plan_gpus, visible_gpus

# The stage records what it saw: the GPUs in its metrics, and when it ran with them in $GITEXP_GPU_LOG.
# The first two trials wait for each other, so that trials surely overlap when -j lets them.
GPU_TRAIN_PY = textwrap.dedent(
    """\
    import json, os, time
    seen = {name: os.environ.get(name) for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES")}
    start = time.time()
    meeting = os.environ["GITEXP_GPU_LOG"] + ".started"
    open(meeting + "." + os.environ["GITEXP_TRIAL"], "w").close()
    # wait (a while) for a second trial to start: with one trial per GPU group at a time, two run side by side
    import glob
    while len(glob.glob(meeting + ".*")) < 2 and time.time() - start < 20:
        time.sleep(0.05)
    time.sleep(0.2)
    with open(os.environ["GITEXP_GPU_LOG"], "a") as log:
        log.write(json.dumps({"trial": os.environ["GITEXP_TRIAL"], "start": start, "end": time.time(), **seen}) + "\\n")
    json.dump({"score": 1, "cuda_visible_devices": seen["CUDA_VISIBLE_DEVICES"]}, open("metrics.json", "w"))
    """
)


def test_groups_are_consecutive_runs_of_the_list():
    assert plan_gpus("0,1,2,3", 2, {}) == GpuPlan((("0", "1"), ("2", "3")))
    assert plan_gpus("0,1,2", 2, {}) == GpuPlan((("0", "1"),))  # the odd one out stays idle
    assert plan_gpus("3,1", None, {}) == GpuPlan((("3",), ("1",)))
    assert plan_gpus(None, None, {}) is None
    assert plan_gpus("none", None, {}).groups == ()


def test_all_reads_the_scheduler_variables_first():
    assert plan_gpus("all", None, {"CUDA_VISIBLE_DEVICES": "2,5"}).groups == (("2",), ("5",))
    assert plan_gpus("all", 2, {"SLURM_JOB_GPUS": "0,1,2,3"}).groups == (("0", "1"), ("2", "3"))
    assert visible_gpus({"SLURM_STEP_GPUS": "1", "SLURM_JOB_GPUS": "0,1"}) == ["1"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


@pytest.mark.parametrize(
    "gpus, per_trial, env, says",
    [
        ("0,7", None, {"CUDA_VISIBLE_DEVICES": "0,1"}, "there is no GPU '7' here"),
        ("0,1", 3, {}, "--gpus-per-trial 3 is more than the 2 GPU(s)"),
        ("all", None, {"CUDA_VISIBLE_DEVICES": ""}, "found no GPU"),
        ("0,0", None, {}, "names a GPU twice"),
        ("0;rm -rf /", None, {}, "is not a GPU name"),
        (None, 2, {}, "--gpus-per-trial goes with --gpus"),
        ("0,1", 0, {}, "--gpus-per-trial 0"),
    ],
)
def test_refusals(gpus, per_trial, env, says):
    with pytest.raises(UsageError, match=re.escape(says)):
        plan_gpus(gpus, per_trial, env)


def test_jobs_default_to_the_groups_and_leases_never_overlap():
    plan = plan_gpus("0,1,2,3", 2, {})
    assert default_jobs(None, plan) == 2 and default_jobs(None, None) == 1 and default_jobs(3, None) == 3
    leases = GpuLeases(plan)
    with leases.lease() as (env_a, a), leases.lease() as (env_b, b):
        assert {a, b} == {"0,1", "2,3"} and env_a["HIP_VISIBLE_DEVICES"] == a and env_b["NVIDIA_VISIBLE_DEVICES"] == b
    with GpuLeases(None).lease() as (env, shown):
        assert env == {} and shown == ""


def test_run_gives_each_running_trial_gpus_of_its_own(project, run_gitexp, tmp_path, monkeypatch):
    log = tmp_path / "gpus.log"
    monkeypatch.setenv("GITEXP_GPU_LOG", str(log))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    (project.root / "train.py").write_text(GPU_TRAIN_PY)
    project.run("commit", "-qam", "a stage that records its GPUs")
    assert run_gitexp(project.root, "queue", "--set", "train.lr=[0.1,0.2,0.3,0.4]", "--name", "g").code == 0

    result = run_gitexp(project.root, "run", "g", "--gpus", "0,1,2,3", "--gpus-per-trial", "2")

    assert result.code == 0, result.err
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(seen) == 4
    assert {entry["CUDA_VISIBLE_DEVICES"] for entry in seen} == {"0,1", "2,3"}
    assert all(entry["CUDA_VISIBLE_DEVICES"] == entry["NVIDIA_VISIBLE_DEVICES"] == entry["HIP_VISIBLE_DEVICES"] for entry in seen)
    overlapping = [(a, b) for a in seen for b in seen if a is not b and a["start"] < b["end"] and b["start"] < a["end"]]
    assert overlapping, "-j defaults to the two GPU groups: trials ran side by side"
    assert all(set(a["CUDA_VISIBLE_DEVICES"].split(",")).isdisjoint(b["CUDA_VISIBLE_DEVICES"].split(",")) for a, b in overlapping)
    for entry in seen:  # the result commit names the GPUs the stage saw, and the host
        trailers = project.run("log", "-1", "--format=%(trailers)", f"exp/g/{entry['trial']}")
        assert f"Gitexp-Gpus: {entry['CUDA_VISIBLE_DEVICES']}" in trailers and "Gitexp-Host: local:" in trailers
    shown = json.loads(run_gitexp(project.root, "show", "g", "--json").out)
    ran_on = {row["trial"]: row for row in shown["trials"] if row["trial"] != "baseline"}
    assert {row["gpus"] for row in ran_on.values()} == {"0,1", "2,3"}
    assert all(row["metrics"]["cuda_visible_devices"] == row["gpus"] for row in ran_on.values())


def test_more_jobs_than_gpu_groups_is_refused(project, run_gitexp):
    assert run_gitexp(project.root, "queue", "--set", "train.lr=[0.1,0.2]", "--name", "g").code == 0
    result = run_gitexp(project.root, "run", "g", "--gpus", "0,1", "-j", "3")
    assert result.code == 2 and "-j 3 is more than the 2 GPU group(s)" in result.err
