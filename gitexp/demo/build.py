"""The bundled example: a small DVC project copied into a fresh Git repository."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

from gitexp.errors import UsageError
from gitexp.project.dvc_cli import dvc_argv, tool_env
from gitexp.store.git import Git

DEMO_SETS = ("train.lr=[0.02, 0.1, 0.5]", "train.epochs=[5, 30]")
DEMO_SORT = "test.acc"


def create_demo_project(directory: Path, env: dict[str, str]) -> Git:
    """Copy the demo into ``directory`` (new or empty), then git init, dvc init and commit."""
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty: give gitexp demo a new or empty folder")
    source = resources.files("gitexp.demo") / "project"
    with resources.as_file(source) as source_dir:
        shutil.copytree(source_dir, directory, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    git = Git(directory, env)
    git.run("init", "-q", "-b", "main")
    if not git.config_get("user.email"):  # a fresh machine: give the demo repository its own identity
        git.run("config", "user.name", "gitexp demo")
        git.run("config", "user.email", "demo@gitexp.invalid")
    subprocess.run(dvc_argv("init", "-q"), cwd=directory, env=tool_env(env), check=True)
    git.run("add", "-A")
    git.run("commit", "-q", "-m", "Demo project: a DVC pipeline with dvclive")
    return git
