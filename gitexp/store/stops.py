"""Requests to stop a running trial: a file here for a runner of this clone, a ref on a remote for one elsewhere.

A runner of this clone watches ``.git/gitexp/stop/<sweep>/<trial>`` while the
trial runs (a file is read without starting git, so it is watched often); a
runner elsewhere reads ``refs/gitexp/stop/<sweep>/<trial>`` on the remote its
claim is on with each heartbeat, and writes the file in its own clone when the
request names its claim's worker (a request left over from an earlier run
names another). Either file or ref says who asked; the cancelled result says so.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from pathlib import Path

from gitexp.store.git import Git, RefRecord
from gitexp.store.layout import stop_request_path
from gitexp.store.naming import STOPS_NAMESPACE
from gitexp.store.records import format_message, parse_trailers

T_STOP_WORKER, T_STOPPED_BY = "Gitexp-Stop-Worker", "Gitexp-Stopped-By"


def stop_ref(key: str) -> str:
    """The stop request ref of trial ``sweep/trial``."""
    return f"{STOPS_NAMESPACE}{key}"


def who_stops(git: Git) -> str:
    """Who asks for a stop, as the cancelled result names them: Git's user (else the login) at this host."""
    user = git.config_get("user.email") or git.config_get("user.name") or os.environ.get("USER") or getpass.getuser()
    return f"{user} on {socket.gethostname()}"


def request_stop(common_dir: Path, sweep: str, trial: str, by: str) -> None:
    """Ask the runner of this clone that holds the trial to stop it."""
    path = stop_request_path(common_dir, sweep, trial)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{trial}.{os.getpid()}")
    scratch.write_text(by + "\n", "utf-8")
    os.replace(scratch, path)  # whole or not at all: a watcher never reads half a name


def stop_requested(path: Path) -> str | None:
    """Who asked to stop the trial whose request file is ``path``; None when nobody did."""
    try:
        return path.read_text("utf-8", "replace").strip() or "someone"
    except OSError:
        return None


def clear_stop_request(path: Path) -> None:
    path.unlink(missing_ok=True)


StopSeen = tuple[int, int, int]  # which request file: its device, inode and modification time


def seen_stop_request(path: Path) -> StopSeen | None:
    """Which stop request the file ``path`` is now (None: there is none), for ``clear_seen_stop_request``."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino, found.st_mtime_ns


def clear_seen_stop_request(path: Path, seen: StopSeen | None) -> None:
    """Delete the stop request at ``path`` if it is still the one ``seen`` there: a compare-and-swap on the file.

    It is renamed aside (a rename takes whichever file is there at that
    instant), and put back when it is not the one seen: a request written
    since survives (unless a newer one still came meanwhile, which asks the same).
    """
    if seen is None:
        return
    aside = path.with_name(f".{path.name}.clearing.{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    try:
        if seen_stop_request(aside) != seen:
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
    finally:
        aside.unlink()


def stop_message(key: str, worker: str, by: str) -> str:
    """The message of the commit a stop request ref points at: which run to stop, and who asks."""
    return format_message(f"gitexp: stop {key}", {T_STOP_WORKER: worker, T_STOPPED_BY: by})


def read_stop(record: RefRecord) -> tuple[str, str]:
    """The worker a stop request is for, and who asked."""
    trailers = parse_trailers(record.message)
    return trailers.get(T_STOP_WORKER, ""), trailers.get(T_STOPPED_BY, "") or "someone"
