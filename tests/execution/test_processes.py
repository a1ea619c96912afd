"""A trial's processes end with it: daemons, other process groups and timeouts included; a stage that breaks its checkout fails alone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gitexp.execution import processes
from gitexp.execution.local import LocalExecutor, RunOptions, StaticTrials
from gitexp.execution.processes import TrialProcesses
from gitexp.execution.repro_server import WarmDvcPool
from gitexp.store.layout import worktrees_root
from gitexp.store.records import Ledger

# Each leaves a pid in $GITEXP_PIDS and appends to the tracked notes.txt of the directory it was started in, until killed.
DAEMON = textwrap.dedent(
    """\
    import os, sys, time
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    open(sys.argv[1], "a").write(f"{os.getpid()}\\n")
    while True:
        with open("notes.txt", "a") as notes:
            notes.write("daemon\\n")
        time.sleep(0.05)
    """
)
REGROUPED = DAEMON.replace("os.setsid()", "os.setpgid(0, 0)")  # same session, a process group of its own

# With lr 0.05 the stage leaves both behind (setsid + nohup + double fork, and one that changes its process group).
LEAKING_TRAIN_PY = textwrap.dedent(
    f"""\
    import json, os, subprocess, sys, time
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    pids = os.environ["GITEXP_PIDS"]
    if p["lr"] == 0.05:
        subprocess.run(["setsid", "nohup", sys.executable, "-c", {DAEMON!r}, pids], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-c", {REGROUPED!r}, pids], check=True)
        while len(open(pids).read().split()) < 2:
            time.sleep(0.01)
    time.sleep(float(p["sleep"]))
    json.dump({{"score": p["lr"]}}, open("metrics.json", "w"))
    """
)

# With lr 0.05 the stage deletes its own worktree (the slot), with 0.1 the worktree's .git file.
BREAKING_TRAIN_PY = textwrap.dedent(
    """\
    import json, os, shutil, subprocess
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True).stdout.strip()
    if p["lr"] == 0.05:
        shutil.rmtree(top)
    elif p["lr"] == 0.1:
        os.remove(os.path.join(top, ".git"))
    json.dump({"score": p["lr"]}, open("metrics.json", "w"))
    """
)


@pytest.fixture
def pids(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "pids"
    path.touch()
    monkeypatch.setenv("GITEXP_PIDS", str(path))
    return path


@pytest.fixture(params=["warm", "cold", "warm-without-cgroups"])
def dvc_kind(request, monkeypatch) -> str:
    """The pipeline run by the warm DVC server, or by a process of its own (as when the server is gone).

    Without cgroups (as where this user may not make one) the other marks must do.
    """
    if request.param == "cold":
        monkeypatch.setattr(WarmDvcPool, "repro", lambda *args: None)
    if request.param == "warm-without-cgroups":
        monkeypatch.setattr(processes, "_new_cgroup", lambda name: None)
    return request.param


def commit_project(git, files: dict[str, str]) -> None:
    for name, content in files.items():
        (git.root / name).write_text(content)
    git.run("add", "-A")
    git.run("commit", "-qm", "project for process tests")


def run_all(git, **options):
    trials = [t for t in Ledger(git).trials() if t.status == "queued"]
    return LocalExecutor(git, RunOptions(**options)).run(StaticTrials(trials))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in "ZX"  # a zombie nobody reaped writes nothing


def leaking_project(kit, project) -> None:
    params = project.root / "params.yaml"
    params.write_text(params.read_text().replace("fail: false", "fail: false\n  sleep: 0"))
    commit_project(project, {"train.py": LEAKING_TRAIN_PY, "notes.txt": "notes\n"})


def test_daemons_of_a_trial_are_stopped_and_never_write_into_the_next(kit, project, pids, dvc_kind):
    leaking_project(kit, project)
    kit.queue(project, "s", "train.lr=[0.05, 0.1]", "train.sleep=0.5")
    summary = run_all(project)
    assert [outcome.status for _, outcome in summary.finished] == ["succeeded", "succeeded"]
    assert [outcome.lingering for _, outcome in summary.finished] == [True, False]
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2 and not any(alive(pid) for pid in started)
    first, second = Ledger(project).trials(["s"])
    assert project.run("show", f"{second.tip}:notes.txt") == "notes\n"
    assert project.run("diff", "--name-only", f"{second.tip}^", second.tip).split() == ["dvc.lock", "metrics.json"]
    assert "stopped the processes the pipeline left running" in trial_log(project, "t001")
    assert list(worktrees_root(project.common_dir()).iterdir()) == []


def test_daemons_of_a_timed_out_trial_are_stopped(kit, project, pids):
    leaking_project(kit, project)
    kit.queue(project, "s", "train.lr=0.05", "train.sleep=30")
    summary = run_all(project, timeout=3)
    ((_, outcome),) = summary.finished
    assert outcome.status == "failed" and outcome.reason == "timed out after 3 s" and outcome.lingering
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2 and not any(alive(pid) for pid in started)


def test_a_stage_that_deletes_its_worktree_or_git_file_fails_alone(kit, project, dvc_kind):
    commit_project(project, {"train.py": BREAKING_TRAIN_PY})
    kit.queue(project, "s", "train.lr=[0.05, 0.1, 0.2, 0.3]")
    summary = run_all(project)
    outcomes = {trial.name: outcome for trial, outcome in summary.finished}
    assert [outcomes[name].status for name in ("t001", "t002", "t003", "t004")] == ["failed", "failed", "succeeded", "succeeded"]
    assert outcomes["t001"].reason.startswith("the pipeline deleted its checkout ")
    assert outcomes["t002"].reason.startswith("the pipeline deleted the .git of its checkout ")
    trials = {trial.name: trial for trial in Ledger(project).trials(["s"])}
    assert trials["t001"].status == trials["t002"].status == "failed"
    assert trials["t003"].metrics == {"score": 0.2} and trials["t004"].metrics == {"score": 0.3}
    assert list(worktrees_root(project.common_dir()).iterdir()) == []
    assert len(project.run("worktree", "list").splitlines()) == 1


def test_a_cgroup_holds_a_daemon_that_drops_every_other_mark(tmp_path):
    trial = TrialProcesses(tmp_path)
    if trial.cgroup is None:
        pytest.skip("this user may not make a cgroup (v2) here")
    pidfile = tmp_path / "pid"
    # A new session, an empty environment, the working directory /: only the cgroup still knows it.
    escape = f"cd / && sleep 30 & echo $! > {pidfile}"
    subprocess.run(trial.contained(["setsid", "env", "-i", "sh", "-c", escape]), check=True, env={"PATH": os.environ["PATH"]})
    pid = int(pidfile.read_text())
    assert alive(pid)
    assert trial.stop() == processes.Ending(outlived=True, survived=False)
    assert not alive(pid) and not trial.cgroup.exists()


def test_the_cgroup_of_a_run_that_died_is_emptied_and_removed(tmp_path):
    trial = TrialProcesses(tmp_path)
    if trial.cgroup is None:
        pytest.skip("this user may not make a cgroup (v2) here")
    trial.stop()
    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True).stdout.strip()
    orphaned = trial.cgroup.with_name(f"gitexp-{dead}-{trial.token[:12]}")  # as a run killed with kill -9 leaves it
    orphaned.mkdir()
    left = subprocess.Popen([sys.executable, "-m", processes.__name__, str(orphaned / "cgroup.procs"), "sleep", "30"])
    while not (orphaned / "cgroup.procs").read_text().strip():
        time.sleep(0.01)
    living = TrialProcesses(tmp_path)  # a live run's, left alone
    try:
        processes.stop_orphaned_trials()
        assert left.wait(timeout=5) == -9 and not orphaned.exists() and living.cgroup.exists()
    finally:
        living.stop()


def test_processes_that_carry_no_mark_are_left_alone(tmp_path):
    outsider = subprocess.Popen(["sleep", "30"], cwd=tmp_path)
    try:
        ending = TrialProcesses(tmp_path / "slot").stop()
        assert ending == processes.Ending(outlived=False, survived=False) and alive(outsider.pid)
    finally:
        outsider.kill()
        outsider.wait()


def trial_log(git, trial: str) -> str:
    return (git.common_dir() / "gitexp" / "logs" / "s" / f"{trial}.log").read_text()
