"""Where gitexp keeps its files in ``.git/gitexp`` (shared by every worktree of a clone).

    logs/<sweep>/<trial>.log     a trial's log, as its last run wrote it
    locks/<sweep>/<trial>.lock   the flock of the runner that holds a trial here
    stop/<sweep>/<trial>         a request to stop the trial running here (who asked), until its run ends
    worktrees/<pid>-<rand>       the reused worktrees ("slots") of live runs, and their flocks
    worktrees.lock(.turn)        guards Git's worktree records while slots come and go (fetches and pushes into
                                 this clone, which read them, hold it shared); .turn: its turnstile (store/locks.py)
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


def local_clone_common_dir(url: str, cwd: Path) -> Path | None:
    """The shared .git directory of the non-bare repository a local path or file:// URL names, else None.

    Read from its files, without running git: ``.git`` a folder, or a file
    (a worktree's or a submodule's) naming a git dir and its ``commondir``.
    """
    if url.startswith("file://"):
        url = url[len("file://") :]
    elif "://" in url or ":" in url.partition("/")[0]:  # another transport, or scp-like host:path
        return None
    dot_git = Path(cwd, url) / ".git"
    try:
        if dot_git.is_dir():
            return dot_git
        git_dir = dot_git.parent / dot_git.read_text().removeprefix("gitdir:").strip()
        common = git_dir / "commondir"
        return (git_dir / common.read_text().strip()).resolve() if common.is_file() else git_dir
    except OSError:  # no repository there, or a bare one (no worktrees of gitexp's)
        return None


def checked_out_commit(worktree: Path) -> str | None:
    """The commit a gitexp worktree (detached) has checked out, read from its files without running git."""
    try:
        gitdir = (worktree / ".git").read_text().removeprefix("gitdir:").strip()
        return (worktree / gitdir / "HEAD").read_text().strip()
    except OSError:
        return None
