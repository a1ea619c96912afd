"""The bundled example: a small DVC project copied into a fresh Git repository, its baseline reproduced."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from gitexp.errors import UsageError
from gitexp.project.dvc import run_dvc
from gitexp.store.git import Git

DEMO_SETS = ("train.lr=[0.02, 0.1, 0.5]", "train.epochs=[5, 30]")
DEMO_OBJECTIVE = ("test.acc", "maximize")  # declared by the sweep, so show and report rank by it
DEMO_REPORT = "report.html"


def create_demo_project(directory: Path, env: dict[str, str]) -> Git:
    """Copy the demo into ``directory`` (new or empty), git init, dvc init and commit; then commit its own results.

    The baseline is reproduced and committed (dvc.lock, metrics) as a DVC user
    does after ``dvc repro``, so tables and reports compare the trials with it.
    """
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty: give gitexp demo a new or empty folder")
    source = resources.files("gitexp.demo") / "project"
    with resources.as_file(source) as source_dir:
        shutil.copytree(source_dir, directory, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    git = Git.init(directory, env)
    if not git.config_get("user.email"):  # a fresh machine: give the demo repository its own identity
        git.config_set("user.name", "gitexp demo")
        git.config_set("user.email", "demo@gitexp.invalid")
    run_dvc(directory, env, "init", "-q")
    git.commit_all("Demo project: a DVC pipeline with dvclive")
    run_dvc(directory, env, "repro", "-q")
    git.commit_all("Baseline results: dvc repro")
    return git
