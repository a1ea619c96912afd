"""Where gitexp keeps its files in ``.git/gitexp`` (shared by every worktree of a clone).

    logs/<sweep>/<trial>.log     a trial's log, as its last run wrote it
    locks/<sweep>/<trial>.lock   the flock of the runner that holds a trial here
    stop/<sweep>/<trial>         a request to stop the trial running here (who asked), until its run ends
    worktrees/<pid>-<rand>       the reused worktrees ("slots") of live runs, and their flocks
    worktrees.lock               guards Git's worktree records while slots come and go (fetches, which read them, hold it shared)
    cache/projects/<key>.json    DVC projects as DVC resolved them, by content
    pr/<sweep>/<trial>.md        the body of a pull request gitexp could not open itself
    clone-id                     this clone's random id, recorded in its claims
    writes/<pid>-<rand>.json     a ref write in flight (its flock) and what it creates, until it is complete
"""

from __future__ import annotations

from pathlib import Path


def gitexp_dir(common_dir: Path) -> Path:
    return common_dir / "gitexp"


def trial_log_path(common_dir: Path, sweep: str, trial: str) -> Path:
    return gitexp_dir(common_dir) / "logs" / sweep / f"{trial}.log"


def trial_lock_path(common_dir: Path, sweep: str, trial: str) -> Path:
    return gitexp_dir(common_dir) / "locks" / sweep / f"{trial}.lock"


def stop_request_path(common_dir: Path, sweep: str, trial: str) -> Path:
    return gitexp_dir(common_dir) / "stop" / sweep / trial


def worktrees_root(common_dir: Path) -> Path:
    return gitexp_dir(common_dir) / "worktrees"


def worktrees_lock_path(common_dir: Path) -> Path:
    return gitexp_dir(common_dir) / "worktrees.lock"


def project_cache_dir(common_dir: Path) -> Path:
    return gitexp_dir(common_dir) / "cache" / "projects"


def pull_request_body_path(common_dir: Path, sweep: str, trial: str | None = None) -> Path:
    """The body of a trial's pull request, or (``trial`` None) of the sweep's own."""
    return gitexp_dir(common_dir) / "pr" / (f"{sweep}.md" if trial is None else f"{sweep}/{trial}.md")


def writes_dir(common_dir: Path) -> Path:
    return gitexp_dir(common_dir) / "writes"


def clone_id_path(common_dir: Path) -> Path:
    return gitexp_dir(common_dir) / "clone-id"


def checked_out_commit(worktree: Path) -> str | None:
    """The commit a gitexp worktree (detached) has checked out, read from its files without running git."""
    try:
        gitdir = (worktree / ".git").read_text().removeprefix("gitdir:").strip()
        return (worktree / gitdir / "HEAD").read_text().strip()
    except OSError:
        return None
