"""Local claims on trials: an flock on a file under .git/gitexp/locks.

The kernel drops an flock when its process dies, so a claim never outlives a
killed runner; the file's content says who holds it and where it runs, which
``show`` uses to find live metrics.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class TrialLock:
    path: Path
    fd: int | None = None
    worker: str = ""  # the runner's worker id: ``status`` names it before the runner's claim is written

    def acquire(self, worktree: Path) -> bool:
        """Take the claim without waiting; False when another process holds it."""
        fd = try_lock(self.path)
        if fd is None:
            return False
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "worktree": str(worktree)}
        if self.worker:
            holder["worker"] = self.worker
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(holder).encode())
        except OSError as error:  # a full disk: the claim is not taken, and not kept by a lost fd either
            os.close(fd)
            raise OSError(error.errno, error.strerror, str(self.path)) from None
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock; the file stays for the next claim
            self.fd = None


def try_lock(path: Path) -> int | None:
    """An exclusive flock on ``path`` (created if missing), taken without waiting: its fd, or None when held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd



def held_by(path: Path) -> dict | None:
    """Who holds the lock at ``path`` (its recorded holder), or None when nobody does."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            content = os.read(fd, 4096)
            try:
                return json.loads(content)
            except ValueError:
                return {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


STALE_REF_LOCK_AGE = 60.0


def clear_stale_ref_locks(common_dir: Path, namespaces: list[str], older_than: float = STALE_REF_LOCK_AGE) -> None:
    """Remove ``<ref>.lock`` files that a killed git left under gitexp's ref namespaces, and packed-refs' lock.

    Git holds a ref lock for milliseconds and never for a minute, so an older
    one belongs to a process that died; left alone it would refuse every later
    update of that ref (and with it the trial's result). ``packed-refs.lock``
    and the ``packed-refs.new`` git writes under it likewise: git holds them
    only while it rewrites packed-refs (pack-refs, gc, a transaction deleting
    packed refs), writing all the while; left alone either refuses every
    deletion of a packed ref (``gitexp remove``, a claim dropped) and every ``git gc``.
    """
    now = time.time()
    stale = [common_dir / "packed-refs.lock", common_dir / "packed-refs.new"]
    for namespace in namespaces:
        base = common_dir / namespace
        stale += base.rglob("*.lock") if base.is_dir() else ()
    for path in stale:
        try:
            if now - path.stat().st_mtime > older_than:
                path.unlink()
        except OSError:
            pass


@contextmanager
def file_lock(path: Path, shared: bool = False, create: bool = True) -> Iterator[None]:
    """Hold an flock on ``path`` (waiting for it), shared or exclusive, across threads and processes alike.

    Every taker first passes the turnstile ``<path>.turn``, which an exclusive
    one holds until it has the lock: shared holders that keep overlapping (a
    worker's fetches, the pushes of other clones) would otherwise keep it out for good.
    Without ``create`` (another clone, perhaps another user's: nothing is made
    there) the lock is held only where both files exist and open; elsewhere nothing is.
    """
    files = _open_lock_files(path, create)
    if files is None:
        yield
        return
    turnstile, fd = files
    try:
        try:
            fcntl.flock(turnstile, fcntl.LOCK_EX)
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        finally:
            os.close(turnstile)
        yield
    finally:
        os.close(fd)


def _open_lock_files(path: Path, create: bool) -> tuple[int, int] | None:
    """The turnstile's fd and the lock's, made if missing with ``create``; None when, without it, they do not open."""
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    opened: list[int] = []
    try:
        for name in (path.name + ".turn", path.name):
            opened.append(os.open(path.with_name(name), os.O_RDWR | (os.O_CREAT if create else 0), 0o644))
    except OSError:
        for fd in opened:
            os.close(fd)
        if create:
            raise
        return None
    return opened[0], opened[1]
