"""Runner tests: a project whose stage logs every run, remotes, clones, processes, counting runs and results.

The helpers reach tests through the ``kit`` fixture: with ``--import-mode=importlib``
test modules cannot import a conftest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from gitexp.planning.queue import QueueRequest, queue_sweep
from gitexp.store.git import Git
from gitexp.sweep.spec import spec_from_flags

# Like the fixture's train.py, plus one line per run in $GITEXP_RUNS_LOG: proof of how often each trial ran.
LOGGING_TRAIN_PY = textwrap.dedent(
    """\
    import json, os, sys, time
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    with open(os.environ["GITEXP_RUNS_LOG"], "a") as runs:
        runs.write(os.environ["GITEXP_SWEEP"] + "/" + os.environ["GITEXP_TRIAL"] + "\\n")
    time.sleep(float(p.get("sleep", 0)))
    score = 1.0 - abs(p["lr"] - 0.1) - p["n_est"] / 10000.0
    json.dump({"score": round(score, 6)}, open("metrics.json", "w"))
    """
)


@pytest.fixture
def runs_log(tmp_path, monkeypatch) -> Path:
    """Where the stage of ``logging_project`` records each run (passed down through the environment)."""
    path = tmp_path / "runs.log"
    path.touch()
    monkeypatch.setenv("GITEXP_RUNS_LOG", str(path))
    return path


@pytest.fixture
def logging_project(project, runs_log) -> Git:
    """The project with a ``train.sleep`` param and a stage that logs each run to ``runs_log``."""
    params = project.root / "params.yaml"
    params.write_text(params.read_text().replace("fail: false", "fail: false\n  sleep: 0"))
    (project.root / "train.py").write_text(LOGGING_TRAIN_PY)
    project.run("commit", "-qam", "sleep param, runs log")
    return project


@pytest.fixture
def kit():
    """This module's helpers: ``kit.clone(...)``, ``kit.result_counts(...)``."""
    return sys.modules[__name__]


def queue(git: Git, name: str, *sets: str) -> None:
    queue_sweep(git, QueueRequest(spec_from_flags(list(sets)), name))


def twelve_trials(git: Git, name: str = "s", sleep: float = 0.2) -> None:
    queue(git, name, "train.lr=[0.05, 0.1, 0.2, 0.3]", "train.n_est=[10, 20, 30]", f"train.sleep={sleep}")


def runs(path: Path) -> Counter:
    """How many times the stage ran for each trial."""
    return Counter(path.read_text().split())


def result_counts(git: Git, prefix: str = "refs/heads/exp/") -> dict[str, int]:
    """Result commits (those with a Gitexp-Status trailer) on each trial branch under ``prefix``."""
    counts = {}
    for ref in git.run("for-each-ref", "--format=%(refname)", prefix).split():
        statuses = git.run("log", "--format=%(trailers:key=Gitexp-Status,valueonly)", ref).split()
        counts[ref] = len(statuses)
    return counts


def make_remote(project: Git, path: Path) -> Git:
    """A bare remote holding the project's main branch, sweeps and trial branches."""
    project.run("init", "-q", "--bare", "-b", "main", str(path))
    project.run("push", "-q", str(path), "main", "refs/heads/exp/*:refs/heads/exp/*", "refs/gitexp/sweeps/*:refs/gitexp/sweeps/*")
    return Git(path)


def clone(source: Path, path: Path) -> Git:
    Git(path.parent).run("clone", "-q", str(source), str(path))
    return Git(path)


def dvc(cwd: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True, capture_output=True)


def gitexp(cwd: Path, *argv: str, **popen) -> subprocess.Popen:
    """``python -m gitexp ARGV`` in ``cwd`` as a separate process (output captured as text unless ``popen`` says otherwise)."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "env": dict(os.environ), **popen}
    return subprocess.Popen([sys.executable, "-m", "gitexp", *argv], cwd=cwd, **options)


def workspace(git: Git) -> dict[str, str]:
    """HEAD, index and working tree (the DVC cache, ignored by Git, may grow)."""
    status = git.run("status", "--porcelain", "--untracked-files=all", "--ignored")
    return {
        "head": git.run("rev-parse", "HEAD"),
        "symbolic": git.run("symbolic-ref", "-q", "HEAD", check=False),
        "index": git.run("ls-files", "-s"),
        "status": "".join(line for line in status.splitlines(True) if "!! .dvc/cache/" not in line),
        "diff": git.run("diff"),
    }


def fsck_clean(git: Git) -> bool:
    """``git fsck`` finds nothing wrong (dangling objects from runs cut short are not wrong)."""
    proc = git.run_process("fsck", "--no-dangling", "--no-progress")
    return proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip()
