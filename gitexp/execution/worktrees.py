"""Isolated worktrees for trials, sharing the main repository's DVC cache.

Worktrees are detached at the trial commit, so the trial branch is never
checked out anywhere and its result can be published with one compare-and-swap
ref update. Each worktree's ``.dvc/config.local`` points at the main cache, so
DVC's run-cache restores unchanged stages instead of running them again.
"""

from __future__ import annotations

import configparser
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..git import Git


def worktrees_root(common_dir: Path) -> Path:
    return common_dir / "gitexp" / "worktrees"


def dvc_cache_dir(project_root: Path) -> Path:
    """The cache directory the main project uses (its config may move it)."""
    cache = project_root / ".dvc" / "cache"
    for name in ("config", "config.local"):
        config = _read_dvc_config(project_root / ".dvc" / name)
        if config.has_option("cache", "dir"):
            cache = (project_root / ".dvc" / config.get("cache", "dir")).resolve()
    return cache


def share_dvc_cache(project_root: Path, worktree: Path, cache_dir: Path) -> None:
    """Give ``worktree`` the main project's local config, pointed at the shared cache."""
    config = _read_dvc_config(project_root / ".dvc" / "config.local")
    if not config.has_section("cache"):
        config.add_section("cache")
    config.set("cache", "dir", str(cache_dir))
    target = worktree / ".dvc" / "config.local"
    if target.parent.is_dir():
        with target.open("w") as handle:
            config.write(handle)


@contextmanager
def trial_worktree(git: Git, path: Path, commit: str) -> Iterator[Git]:
    """A detached worktree of ``commit`` at ``path``, removed afterwards whatever happens."""
    remove_worktree(git, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    git.run("worktree", "add", "--detach", "--force", str(path), commit)
    try:
        yield Git(path, git.env)
    finally:
        remove_worktree(git, path)


def remove_worktree(git: Git, path: Path) -> None:
    """Remove a worktree gitexp made, even a half-made one left by a killed run."""
    if path.exists():
        git.run("worktree", "remove", "--force", "--force", str(path), check=False)
        shutil.rmtree(path, ignore_errors=True)
    git.run("worktree", "prune", check=False)


def _read_dvc_config(path: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None, strict=False)
    config.optionxform = str  # DVC's keys are case-sensitive
    if path.exists():
        config.read(path)
    return config
