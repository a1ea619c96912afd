"""Isolated worktrees for trials, sharing the main repository's DVC cache.

Worktrees are detached at the trial commit, so the trial branch is never
checked out anywhere and its result can be published with one compare-and-swap
ref update. Each worktree's ``.dvc/config.local`` points at the main cache, so
DVC's run-cache restores unchanged stages instead of running them again.
"""

from __future__ import annotations

import configparser
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..git import Git
from .locks import TrialLock, file_lock, lock_path


def worktrees_root(common_dir: Path) -> Path:
    return common_dir / "gitexp" / "worktrees"


def new_worktree_path(common_dir: Path, sweep: str, trial: str) -> Path:
    """A directory of its own for one run of a trial.

    A run killed with kill -9 leaves its pipeline running as an orphan that
    may still write into its worktree; the next run of the trial must not
    share that directory.
    """
    return worktrees_root(common_dir) / sweep / trial / f"{os.getpid()}-{os.urandom(3).hex()}"


def remove_stale_worktrees(git: Git, common_dir: Path) -> None:
    """Remove the worktrees of runs that died, and Git's records of them.

    A trial's worktrees are stale when its flock is free; taking the flock
    while removing them keeps a runner starting that trial from racing us.
    """
    for trial_dir in worktrees_root(common_dir).glob("*/*"):
        lock = TrialLock(lock_path(common_dir, trial_dir.parent.name, trial_dir.name))
        if not lock.acquire(trial_dir):  # not a checkout: readers of live metrics find none there
            continue
        try:
            for worktree in list(trial_dir.iterdir()) if trial_dir.is_dir() else ():
                remove_worktree(git, worktree)
            shutil.rmtree(trial_dir, ignore_errors=True)
        finally:
            lock.release()
    with _admin(git):
        git.run("worktree", "prune", check=False)


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
    with _admin(git, adding=True):
        git.run("worktree", "add", "--detach", "--force", str(path), commit)
    try:
        yield Git(path, git.env)
    finally:
        remove_worktree(git, path)


def remove_worktree(git: Git, path: Path) -> None:
    """Remove a worktree gitexp made, even a half-made one left by a killed run."""
    with _admin(git):
        if path.exists():
            git.run("worktree", "remove", "--force", "--force", str(path), check=False)
        git.run("worktree", "prune", check=False)
    shutil.rmtree(path, ignore_errors=True)


def _admin(git: Git, adding: bool = False):
    """The lock on Git's worktree records.

    ``worktree remove`` and ``prune`` delete ``.git/worktrees`` once it is
    empty, which makes a concurrent ``worktree add`` fail; adds may overlap
    one another, removals wait for them and for each other.
    """
    return file_lock(git.common_dir() / "gitexp" / "worktrees.lock", shared=adding)


def _read_dvc_config(path: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None, strict=False)
    config.optionxform = str  # DVC's keys are case-sensitive
    if path.exists():
        config.read(path)
    return config
