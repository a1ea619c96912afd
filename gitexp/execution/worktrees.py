"""Reused worktrees for trials ("slots"), sharing the main repository's DVC cache.

Worktrees are detached at the trial commit, so the trial branch is never
checked out anywhere and its result can be published with one compare-and-swap
ref update. Each worktree's ``.dvc/config.local`` points at the main cache, so
a trial's DVC-tracked data comes out of it and DVC's run-cache restores
unchanged stages instead of running them again.

An executor thread keeps one worktree for trial after trial: switching it to
the next trial (checkout and clean) costs two git processes, where making and
removing a worktree per trial cost four and a full checkout.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from gitexp.project.config import dvc_cache_dir, read_dvc_config
from gitexp.store.git import Git
from gitexp.store.layout import worktrees_lock_path, worktrees_root
from gitexp.store.locks import file_lock, try_lock


class Slots:
    """The worktrees of one process, one per executor thread, each used by this process only.

    A slot is the directory ``worktrees/<pid>-<random>`` with the flock
    ``worktrees/<pid>-<random>.lock``, held until this process removes the
    slot. A run killed with kill -9 leaves its pipeline running as an orphan
    that may still write into its slot, so a slot is never handed on: once its
    flock is free, ``remove_stale_slots`` deletes it. For the same reason a
    slot whose pipeline left processes running is retired rather than reused.
    """

    def __init__(self, git: Git, common_dir: Path):
        self.git = git
        self.common_dir = common_dir
        self.local = threading.local()
        self.held: dict[Path, int] = {}  # slot -> fd of its flock
        self.lock = threading.Lock()

    def current(self) -> Path:
        """This thread's slot; its worktree is made when the first trial is checked out into it."""
        path = getattr(self.local, "path", None)
        if path is None:
            path = worktrees_root(self.common_dir) / f"{os.getpid()}-{os.urandom(4).hex()}"
            with _admin(self.common_dir, adding=True):  # keeps remove_stale_slots from seeing the flock file before it is held
                fd = try_lock(_slot_lock(path))
            with self.lock:
                self.held[path] = fd
            self.local.path = path
        return path

    def retire(self) -> None:
        """Leave this thread's slot alone from now on (it is removed with the others); the next trial gets a new one."""
        self.local.path = None

    def close(self) -> None:
        """Remove every slot of this process, and Git's records of them."""
        if not self.held:
            return
        with _admin(self.common_dir):
            for path, fd in self.held.items():
                _remove_slot(path)
                os.close(fd)
            self.git.prune_worktrees()
        self.held.clear()
        self.local = threading.local()  # no thread keeps a removed slot

    def __enter__(self) -> "Slots":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def remove_stale_slots(git: Git, common_dir: Path) -> None:
    """Remove the slots of processes that died (their flocks are free), and Git's records of them.

    A ``git worktree add`` killed midway leaves its record locked, which
    ``worktree prune`` keeps forever: such a record of a dead slot is removed too.
    """
    root = worktrees_root(common_dir)
    if not root.is_dir():
        return
    with _admin(common_dir):
        recorded = {path.name for path in git.worktree_paths() if path.parent.resolve() == root.resolve()}
        removed = False
        for name in {entry.name.removesuffix(".lock") for entry in root.iterdir()} | recorded:
            path = root / name
            fd = try_lock(_slot_lock(path))
            if fd is None:  # a live process's slot
                continue
            try:
                if name in recorded:
                    git.remove_worktree_record(path)
                _remove_slot(path)
                removed = True
            finally:
                os.close(fd)
        if removed:
            git.prune_worktrees()


def checkout_slot(git: Git, common_dir: Path, path: Path, commit: str) -> Git:
    """``path`` as a clean detached checkout of ``commit``, as a new worktree would be.

    The first checkout makes the worktree; the later ones switch it, throwing
    away everything the last trial left, ignored files included (so the
    trial's DVC data is restored afresh: ``restore``).
    """
    worktree = Git(path, git.env)
    if (path / ".git").is_file():
        worktree.checkout_detached(commit)
        worktree.clean()
    else:
        shutil.rmtree(path, ignore_errors=True)  # half made by a failed add
        path.parent.mkdir(parents=True, exist_ok=True)
        with _admin(common_dir):  # one add at a time: an add reads the others' records, and one half written fails it
            git.add_worktree(path, commit)
    update_submodules(worktree)
    return worktree


def update_submodules(checkout: Git) -> None:
    """Check out the submodules a checkout's commit records, clean, when it has any (DVC does not)."""
    if not (checkout.root / ".gitmodules").is_file():
        return
    checkout.update_submodules()


def share_dvc_cache(main_project: Path, trial_project: Path) -> None:
    """Give the DVC project at ``trial_project`` the local config of ``main_project``, pointed at its cache.

    So the trial's DVC reads and fills the main project's cache, with its
    ``cache.type`` (data is linked into the worktree, not copied, when that
    says so) and its remotes' local settings.
    """
    config = read_dvc_config(main_project / ".dvc" / "config.local")
    if not config.has_section("cache"):
        config.add_section("cache")
    config.set("cache", "dir", str(dvc_cache_dir(main_project)))
    target = trial_project / ".dvc" / "config.local"
    if target.parent.is_dir():
        with target.open("w") as handle:
            config.write(handle)


def _remove_slot(path: Path) -> None:
    """Delete a slot whose flock the caller holds; its flock file goes once the slot is really gone."""
    shutil.rmtree(path, ignore_errors=True)
    if not path.exists():  # an orphan writing into it may keep it a while: the next run tries again
        _slot_lock(path).unlink(missing_ok=True)


def _slot_lock(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _admin(common_dir: Path, adding: bool = False):
    """The lock on Git's worktree records and on the slots' flock files.

    ``worktree prune`` deletes ``.git/worktrees`` once it is empty, which
    makes a concurrent ``worktree add`` fail, and an add fails on the record of
    another add that is not written whole yet ("failed to read .../commondir"),
    as does a fetch here or a push into this clone (``Git.fetch`` and ``Git.push``
    hold this lock shared): adds and removals wait for each other and for those;
    making a slot's flock file (``adding``) overlaps other such and those, and
    waits only for adds and removals.
    """
    return file_lock(worktrees_lock_path(common_dir), shared=adding)

