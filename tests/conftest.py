"""Fixtures: real Git repositories with real DVC projects in tmp_path.

A template project is built once per session (git init, dvc init, commit) and
copied for each test, which keeps tests isolated and quick.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitexp.git import Git

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "DVC_NO_ANALYTICS": "1",
}

PARAMS_YAML = textwrap.dedent(
    """\
    # Training parameters (comments must survive)
    train:
      lr: 0.01   # learning rate
      n_est: 50
      loss: 'log'
      fail: false
      layers: [32, 64]
    seed: 7
    """
)

TRAIN_PY = textwrap.dedent(
    """\
    import json, sys, time
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    if p["fail"]:
        print("training diverged: loss is nan")
        sys.exit(3)
    time.sleep(float(p.get("sleep", 0)))
    score = 1.0 - abs(p["lr"] - 0.1) - p["n_est"] / 10000.0
    json.dump({"score": round(score, 6), "test": {"auc": round(score / 2, 6)}}, open("metrics.json", "w"))
    """
)

DVC_YAML = textwrap.dedent(
    """\
    stages:
      train:
        cmd: python train.py
        deps: [train.py]
        params: [train]
        metrics:
          - metrics.json:
              cache: false
    """
)


@pytest.fixture(autouse=True, scope="session")
def git_identity():
    patch = pytest.MonkeyPatch()
    for key, value in GIT_IDENTITY.items():
        patch.setenv(key, value)
    yield
    patch.undo()


def build_project(directory: Path, files: dict[str, str]) -> Git:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(content)
    git = Git(directory)
    git.run("init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=directory, check=True)
    git.run("add", "-A")
    git.run("commit", "-q", "-m", "baseline")
    return git


@pytest.fixture(scope="session")
def template_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("template") / "project"
    build_project(root, {"params.yaml": PARAMS_YAML, "train.py": TRAIN_PY, "dvc.yaml": DVC_YAML})
    return root


@pytest.fixture
def project(template_project, tmp_path) -> Git:
    """A fresh copy of the template DVC project: one stage, params.yaml, metrics.json."""
    root = tmp_path / "project"
    shutil.copytree(template_project, root, symlinks=True)
    return Git(root)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run_gitexp():
    """Run the CLI in-process in a directory: run_gitexp(cwd, "queue", "--set", ...)."""

    from gitexp.cli import Environment, main

    def invoke(cwd: Path, *argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), Environment(cwd=Path(cwd), stdout=out, stderr=err))
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture
def repo_state():
    """A function returning what a refused command must leave exactly as it was."""
    return snapshot


def snapshot(git: Git) -> dict[str, str]:
    """Refs, HEAD, index and working tree state, to prove a command changed nothing."""
    return {
        "refs": git.run("for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git.run("rev-parse", "HEAD"),
        "symbolic": git.run("symbolic-ref", "-q", "HEAD", check=False),
        "index": git.run("ls-files", "-s"),
        "status": git.run("status", "--porcelain", "--untracked-files=all", "--ignored"),
        "diff": git.run("diff"),
    }
