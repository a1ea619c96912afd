"""gitexp slurm on a real single-node Slurm cluster: array tasks take trials by claims on a bare remote.

The tasks inherit the test's environment (sbatch --export=ALL): its PYTHONPATH,
Git identity, SLURM_CONF and $GITEXP_RUNS_LOG, where the stage records each run.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from gitexp.store.git import Git

# Each run: one line in $GITEXP_RUNS_LOG (trial, GPUs seen, start, end); the GPUs in its metrics too.
STAGE = textwrap.dedent(
    """\
    import json, os, time
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    start = time.time()
    time.sleep(float(p.get("sleep", 0)))
    if os.environ.get("GITEXP_MEET"):  # the first two trials wait (a while) for each other, to overlap for sure
        import glob
        open(os.environ["GITEXP_MEET"] + "." + os.environ["GITEXP_TRIAL"], "w").close()
        while len(glob.glob(os.environ["GITEXP_MEET"] + ".*")) < 2 and time.time() - start < 20:
            time.sleep(0.05)
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
    with open(os.environ["GITEXP_RUNS_LOG"], "a") as log:
        log.write(json.dumps({"trial": os.environ["GITEXP_TRIAL"], "gpus": gpus, "start": start, "end": time.time()}) + "\\n")
    json.dump({"score": p["lr"], "cuda_visible_devices": gpus}, open("metrics.json", "w"))
    """
)


@pytest.fixture
def cluster_project(project, bare_remote, tmp_path, slurm_cluster, monkeypatch):
    """The project with the logging stage, ``origin`` holding main, and this session's cluster in the environment."""
    log = tmp_path / "runs.log"
    log.touch()
    monkeypatch.setenv("GITEXP_RUNS_LOG", str(log))
    monkeypatch.setenv("SLURM_CONF", slurm_cluster.env["SLURM_CONF"])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    params = project.root / "params.yaml"
    params.write_text(params.read_text().replace("fail: false", "fail: false\n  sleep: 0"))
    (project.root / "train.py").write_text(STAGE)
    project.run("commit", "-qam", "a stage that logs its runs")
    project.run("remote", "add", "origin", str(bare_remote))
    project.run("push", "-q", "origin", "main")
    return project


def runs() -> list[dict]:
    return [json.loads(line) for line in Path(os.environ["GITEXP_RUNS_LOG"]).read_text().splitlines()]


def submit(run_gitexp, project: Git, *argv: str, env: dict | None = None) -> str:
    result = run_gitexp(project.root, "slurm", "submit", *argv, env=env)
    assert result.code == 0, result.err
    return result.out.split("Submitted Slurm array job ")[1].split()[0]


def remote_results(remote: Path, sweep: str) -> dict[str, list[str]]:
    """Each trial branch on the remote: the Gitexp-Host trailers of its result commits."""
    git = Git(remote)
    found = {}
    for ref in git.run("for-each-ref", "--format=%(refname)", f"refs/heads/exp/{sweep}/").split():
        hosts = git.run("log", "--format=%(trailers:key=Gitexp-Host,valueonly)", ref).split()
        found[ref.rsplit("/", 1)[1]] = hosts
    return found


def remote_claims(remote: Path) -> list[str]:
    return Git(remote).run("for-each-ref", "--format=%(refname)", "refs/gitexp/claims/").split()


def test_eight_trials_over_a_two_task_array_each_run_once(cluster_project, bare_remote, run_gitexp, slurm_cluster):
    assert run_gitexp(cluster_project.root, "queue", "--name", "s", "--set", "train.lr=range(1,9)", "--set", "train.sleep=0.2").code == 0
    assert run_gitexp(cluster_project.root, "slurm", "init", "--workers", "2").code == 0

    job = submit(run_gitexp, cluster_project, "s", "--remote", "origin", "--idle-exit", "1")
    slurm_cluster.wait_done(job, timeout=60)

    results = remote_results(bare_remote, "s")
    assert len(results) == 8 and all(len(hosts) == 1 for hosts in results.values()), results
    assert {host for hosts in results.values() for host in hosts} <= {f"worker:slurm-{job}_{task}.0" for task in (0, 1)}
    assert Counter(run["trial"] for run in runs()) == Counter({f"t{i:03d}": 1 for i in range(1, 9)})
    assert remote_claims(bare_remote) == []
    assert run_gitexp(cluster_project.root, "slurm", "status").out.startswith("No gitexp Slurm tasks")
    for task in (0, 1):  # each task's log: a timestamped line per phase, in order
        said = [line for line in (cluster_project.root / f"gitexp-{job}_{task}.out").read_text().splitlines() if line.startswith("gitexp 2")]
        phases = [line.split(": ", 1)[1].split(" /")[0] for line in said]
        assert phases == [f"task {job}_{task} started on gitexp-node", "cloned into", "worker starting", "task ended (exit 0)"], said
        assert [line.split(": ", 1)[0] for line in said] == sorted(line.split(": ", 1)[0] for line in said)


def test_a_cancelled_task_leaves_its_trial_to_the_other(cluster_project, bare_remote, run_gitexp, slurm_cluster):
    assert run_gitexp(cluster_project.root, "queue", "--name", "c", "--set", "train.lr=[1,2]", "--set", "train.sleep=2").code == 0
    assert run_gitexp(cluster_project.root, "slurm", "init", "--workers", "2").code == 0
    job = submit(run_gitexp, cluster_project, "c", "--remote", "origin", "--idle-exit", "5", "--stale-after", "3s")

    wait_for(lambda: len(remote_claims(bare_remote)) == 2, 30)
    status = run_gitexp(cluster_project.root, "slurm", "status").out
    assert f"{job}_0  RUNNING on gitexp-node" in status and f"{job}_1  RUNNING" in status, status
    held = {line.split()[0]: line.rsplit(": ", 1)[1] for line in status.splitlines()}
    assert run_gitexp(cluster_project.root, "pull", "origin", "--no-dvc").code == 0
    running = json.loads(run_gitexp(cluster_project.root, "status", "--json").out)["sweeps"][0]["running"]
    assert {entry["job"]["slurm_array"] for entry in running} == {f"{job}_0", f"{job}_1"}
    assert {entry["job"]["node"] for entry in running} == {"gitexp-node"}
    slurm_cluster.client("scancel", f"{job}_0")
    slurm_cluster.wait_done(job, timeout=60)

    results = remote_results(bare_remote, "c")
    assert all(len(hosts) == 1 for hosts in results.values()) and len(results) == 2, results
    taken_over = held[f"{job}_0"].split("/")[1]
    assert results[taken_over] == [f"worker:slurm-{job}_1.0"]  # the survivor ran it once the claim went stale
    assert remote_claims(bare_remote) == []


def test_tasks_give_each_trial_gpus_of_its_own(cluster_project, bare_remote, run_gitexp, slurm_cluster, tmp_path):
    assert run_gitexp(cluster_project.root, "queue", "--name", "g", "--set", "train.lr=[1,2]", "--set", "train.sleep=0.2").code == 0
    assert run_gitexp(cluster_project.root, "slurm", "init", "--workers", "1").code == 0
    gpus = {"CUDA_VISIBLE_DEVICES": "0,1,2,3", "GITEXP_MEET": str(tmp_path / "meet")}  # as Slurm sets it for a task given four GPUs
    job = submit(run_gitexp, cluster_project, "g", "--remote", "origin", "--idle-exit", "1", "--gpus-per-trial", "2", env=gpus)
    slurm_cluster.wait_done(job, timeout=60)

    seen = runs()
    assert len(seen) == 2 and {run["gpus"] for run in seen} == {"0,1", "2,3"}  # -j 2: one trial per group
    together = [(a, b) for a in seen for b in seen if a is not b and a["start"] < b["end"] and b["start"] < a["end"]]
    assert together and all(set(a["gpus"].split(",")).isdisjoint(b["gpus"].split(",")) for a, b in together)
    for run in seen:
        trailers = Git(bare_remote).run("log", "-1", "--format=%(trailers)", f"refs/heads/exp/g/{run['trial']}")
        assert f"Gitexp-Gpus: {run['gpus']}" in trailers


def test_two_tasks_fill_one_shared_dvc_cache(cluster_project, bare_remote, run_gitexp, slurm_cluster, tmp_path):
    """--dvc-cache DIR: each task's DVC caches its trials' outputs in DIR (a shared filesystem's folder), not in its clone."""
    root = cluster_project.root
    (root / "train.py").write_text(STAGE + 'open("model.txt", "w").write(f"model {p[\'lr\']}")\n')
    (root / "dvc.yaml").write_text((root / "dvc.yaml").read_text().replace("    metrics:", "    outs: [model.txt]\n    metrics:", 1))
    cluster_project.run("commit", "-qam", "a stage with a cached output")
    cluster_project.run("push", "-q", "origin", "main")
    cache = tmp_path / "shared-cache"
    cache.mkdir()
    assert run_gitexp(root, "queue", "--name", "d", "--set", "train.lr=[1,2]").code == 0
    assert run_gitexp(root, "slurm", "init", "--workers", "2").code == 0
    meet = {"GITEXP_MEET": str(tmp_path / "meet")}  # the two trials run at once: one in each task
    job = submit(run_gitexp, cluster_project, "d", "--remote", "origin", "--idle-exit", "1", "--dvc-cache", str(cache), env=meet)
    slurm_cluster.wait_done(job, timeout=60)

    results = remote_results(bare_remote, "d")
    assert sorted(host for hosts in results.values() for host in hosts) == [f"worker:slurm-{job}_{task}.0" for task in (0, 1)]
    for trial, lr in (("t001", 1), ("t002", 2)):
        lock = yaml.safe_load(Git(bare_remote).run("show", f"refs/heads/exp/d/{trial}:dvc.lock"))
        md5 = next(out["md5"] for out in lock["stages"]["train"]["outs"] if out["path"] == "model.txt")
        assert (cache / "files" / "md5" / md5[:2] / md5[2:]).read_text() == f"model {lr}"


def test_hostile_values_stay_inert(cluster_project, tmp_path, run_gitexp, slurm_cluster):
    marker = tmp_path / "pwned"
    hostile = f"--comment=it's \"$(touch {marker})\" `touch {marker}` ${{IFS}}; touch {marker}"
    result = run_gitexp(cluster_project.root, "slurm", "init", "--workers", "1", "--sbatch-arg", hostile)
    assert result.code == 0, result.err
    script = (cluster_project.root / "gitexp.sbatch").read_text()
    mentions = [line for line in script.splitlines() if str(marker) in line]
    assert len(mentions) == 1 and mentions[0].startswith("#SBATCH ")  # a comment to the shell; sbatch alone reads it
    subprocess.run(["bash", "-n", str(cluster_project.root / "gitexp.sbatch")], check=True)

    # the values submit passes: a remote URL and a DVC cache that are shell code, through the environment only
    env = {"GITEXP_REMOTE": f"$(touch {marker})", "GITEXP_DVC_CACHE": f"`touch {marker}`", "GITEXP_SWEEPS": f"a;touch {marker}"}
    submitted = slurm_cluster.client("sbatch", "--parsable", "--export=ALL", "gitexp.sbatch", env=env, cwd=cluster_project.root)
    job = submitted.stdout.strip().split(";")[0]
    slurm_cluster.wait_done(job, timeout=30)
    shown = slurm_cluster.client("scontrol", "show", "job", job).stdout
    assert f"Comment={hostile.removeprefix('--comment=')}" in [line.strip() for line in shown.splitlines()], shown
    assert not marker.exists()

    for flag, value in (("--partition", f"$(touch {marker})"), ("--time", "1:00\n#SBATCH --wrap"), ("--sbatch-arg", "--qos=a\nrm -rf ~")):
        refused = run_gitexp(cluster_project.root, "slurm", "init", "--force", flag, value)
        assert refused.code == 2 and refused.err.count("\n") == 1, refused
    assert (cluster_project.root / "gitexp.sbatch").read_text() == script


def wait_for(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise TimeoutError("the condition did not hold in time")
