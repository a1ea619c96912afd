"""Writes of many refs made all or nothing across kill -9, and cleaning up after writers that died.

Git's files backend commits a transaction by renaming one ``<ref>.lock`` after another, so a
process killed meanwhile leaves some refs written and the rest as stale lock files. A queue
therefore writes in steps (``LocalRefs.publish``): its trial branches, then the sweep record
that makes them visible (``records.Ledger`` ignores trial branches whose sweep has no record),
then the scratch ref that kept its objects is dropped.

Before its first ref is written, a write notes what it creates in a journal entry
(``.git/gitexp/writes/<id>.json``) and holds that file's flock until it is complete; every git
it starts holds the flock too (``git.inherited_by_git``), so a write counts as live while a git
it started still commits. ``recover`` undoes the entries whose flocks are free.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from gitexp.store.git import ZERO_OID, Git, RefUpdate, inherited_by_git
from gitexp.store.layout import writes_dir
from gitexp.store.locks import clear_stale_ref_locks, try_lock

SCRATCH_NAMESPACE = "refs/gitexp/tmp/"


class PendingWrite:
    """A write in flight: its flock, its scratch ref, and the refs it creates in this repository."""

    def __init__(self, common_dir: Path):
        name = f"{os.getpid()}-{os.urandom(4).hex()}"
        self.common_dir = common_dir
        self.scratch = SCRATCH_NAMESPACE + name
        self.path = writes_dir(common_dir) / f"{name}.json"
        starting = self.path.with_suffix(".new")
        self.fd = try_lock(starting)
        self.entry: dict = {}
        os.replace(starting, self.path)  # recover sees the entry only once its flock is held

    def note(self, created: Mapping[str, str], record: RefUpdate) -> None:
        """Record, before writing any of them, the refs this write creates and the record it then moves."""
        self._save(created=dict(created), record=[record.ref, record.new, record.old])

    def note_locks(self, refs: Sequence[str], packed_lock: int | None) -> None:
        """Record the ref locks and the ``packed-refs.lock`` (by inode) this write holds or is about to take."""
        self._save(locks=list(refs), packed_lock=packed_lock)

    def _save(self, **fields) -> None:
        self.entry.update(fields)
        data = json.dumps(self.entry).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)


@contextlib.contextmanager
def pending_write(git: Git) -> Iterator[PendingWrite]:
    """A journal entry held while the block runs; left for ``recover`` when the block fails midway."""
    write = PendingWrite(git.common_dir())
    try:
        with inherited_by_git(write.fd):
            yield write
        write.path.unlink()
    finally:
        os.close(write.fd)


def recover(git: Git, prefixes: Iterable[str]) -> None:
    """Undo what writers that died left: their journal entries, scratch refs and stale ref locks.

    A dead write's lock files go, and so do its trial branches when its sweep
    record never moved to the value the write made (those branches still at
    the commits it wrote: nothing anyone built on). Lock files under gitexp's
    refs and the trial ``prefixes`` that no write owns, and ``packed-refs.lock``,
    go once they are old (``clear_stale_ref_locks``). Run it first in every command that writes refs.
    """
    common_dir = git.common_dir()
    scratch = git.refs(SCRATCH_NAMESPACE)  # listed first: a write that starts later has its entry already
    live = set()
    root = writes_dir(common_dir)
    for path in sorted(root.glob("*.json")) if root.is_dir() else ():
        fd = _lock_existing(path)
        if fd is None:
            live.add(SCRATCH_NAMESPACE + path.stem)
            continue
        try:
            _undo(git, common_dir, _read_entry(path), SCRATCH_NAMESPACE + path.stem)
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)
    for path in root.glob("*.new") if root.is_dir() else ():  # a writer that died while starting
        fd = _lock_existing(path)
        if fd is not None:
            path.unlink(missing_ok=True)
            os.close(fd)
    abandoned = [RefUpdate(record.name, ZERO_OID, record.oid) for record in scratch if record.name not in live]
    if abandoned:
        git.try_update_refs(abandoned, "gitexp: drop abandoned scratch refs")
    clear_stale_ref_locks(common_dir, ["refs/gitexp", *(f"refs/heads/{prefix}".rstrip("/") for prefix in set(prefixes))])


def _undo(git: Git, common_dir: Path, entry: dict, scratch: str) -> None:
    created: dict[str, str] = entry.get("created", {})
    record_ref, record_new, record_old = entry.get("record") or (None, None, None)
    owned = [*created, scratch] + ([record_ref] if record_ref and record_old == ZERO_OID else [])
    for ref in [*owned, *entry.get("locks", [])]:  # names only this write was making or held; others' go by age
        (common_dir / f"{ref}.lock").unlink(missing_ok=True)
    _unlink_if_inode(common_dir / "packed-refs.lock", entry.get("packed_lock"))
    if not created or git.rev_parse(record_ref) == record_new:
        return
    folders = sorted({ref.rsplit("/", 1)[0] + "/" for ref in created})
    now = {record.name: record.oid for record in git.refs(*folders)}
    unpublished = [RefUpdate(ref, ZERO_OID, oid) for ref, oid in created.items() if now.get(ref) == oid]
    if unpublished:
        git.try_update_refs(unpublished, "gitexp: undo an interrupted write")


def _unlink_if_inode(path: Path, inode: int | None) -> None:
    """Remove the lock a dead write held (a lock file of the same name made since is another's)."""
    try:
        if inode is not None and path.stat().st_ino == inode:
            path.unlink()
    except OSError:
        pass


def _read_entry(path: Path) -> dict:
    """An entry's content; empty when its writer died before noting anything (it had written no ref)."""
    try:
        entry = json.loads(path.read_bytes() or b"{}")
    except (OSError, ValueError):
        return {}
    return entry if isinstance(entry, dict) else {}


def _lock_existing(path: Path) -> int | None:
    """The flock of an entry that is still there and that nobody holds: its fd, else None."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if os.fstat(fd).st_nlink == 0:  # another recover undid it meanwhile
        os.close(fd)
        return None
    return fd
