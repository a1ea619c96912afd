"""Ref transactions written straight into ``packed-refs``: one file, one rename, however many refs.

Git's files backend gives every ref it writes a loose file (and, under ``refs/heads/``, a
reflog), and commits a transaction by renaming one lock after another: 10,000 trials cost
10,000 files plus 10,000 reflogs, and a kill -9 midway leaves part of them. Here a
transaction follows Git's own locking protocol and lands in one rename:

1. ``<ref>.lock`` is created (exclusively) for every ref it touches, as ``update-ref`` does,
   so no git writes one of them meanwhile (hard links of one file: Git asks only whether the
   name exists, and a new inode per lock was most of a 10,000-ref transaction's cost); then
   ``packed-refs.lock``, waiting up to a second (Git's ``core.packedRefsTimeout``) for another writer.
2. Each update's expected value is checked against the ref's value now (a loose file
   shadows its packed line), and new names against Git's folder rules (``a/b`` and ``a``
   cannot both be refs).
3. Loose files of touched refs are first folded into ``packed-refs`` at their current values
   and unlinked (nothing a reader sees changes), so that the change itself is one rename of
   a sorted, merged ``packed-refs`` that keeps the header's traits and other refs' peeled lines.

Reflogs are appended only where a ref already has one (Git would too); none is created, so a
trial branch gets no reflog. ``LocalRefs`` falls back to ``update-ref`` when the repository
keeps refs in a reftable or the user asks for every ref's reflog (``core.logAllRefUpdates=always``).
"""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from gitexp.errors import RepositoryError
from gitexp.store.git import ZERO_OID, RefUpdate
from gitexp.store.naming import check_ref_format

HEADER = "# pack-refs with: "
NEW_TRAITS = ("peeled", "fully-peeled", "sorted")
LOCK_WAIT = 1.0  # seconds, as Git's core.packedRefsTimeout

# Told which ref locks and which packed-refs.lock (its inode; None before it is held) the transaction
# owns: the refs it is about to lock first, the ones it holds when it gives up, all of them once held.
OnLocked = Callable[[Sequence[str], "int | None"], None]


class Lost(Exception):
    """A lock is held by another writer, or a ref is not what an update expects."""


class PackedRefs:
    """The ``packed-refs`` of the repository whose common directory is ``common_dir``."""

    def __init__(self, common_dir: Path, ident: Callable[[], str]):
        self.common_dir = common_dir
        self.path = common_dir / "packed-refs"
        self.lock_path = common_dir / "packed-refs.lock"
        self.ident = ident  # the committer identity for reflog lines, asked only when one is written

    def transact(self, updates: Sequence[RefUpdate], message: str, on_locked: OnLocked = lambda refs, inode: None) -> bool:
        """Apply ``updates`` (compare-and-swap each) in one rename of packed-refs; False when one lost."""
        refs = [update.ref for update in updates]
        if len(set(refs)) != len(refs):
            raise RepositoryError(f"one ref transaction names {_duplicate(refs)} twice")
        on_locked(refs, None)  # a kill while locking leaves no lock a recover would not know of
        try:
            with self._ref_locks(refs, on_locked) as locked:
                lock = FileLock(self.lock_path)
                try:
                    on_locked(locked, lock.inode)
                    return self._commit(updates, message, lock, lambda: on_locked(locked, lock.inode))
                finally:
                    lock.release()
        except Lost:
            return False

    def _commit(self, updates: Sequence[RefUpdate], message: str, lock: "FileLock", relocked: Callable[[], None]) -> bool:
        traits, packed = self._read()
        folders = _Folders(self.common_dir)
        loose = {u.ref: oid for u in updates if folders.entry(u.ref) is False and (oid := self._loose(u.ref)) is not None}
        current = {**{ref: entry[0] for ref, entry in packed.items()}, **loose}
        if not all(_expected(update, current.get(update.ref)) for update in updates) or self._conflicts(updates, packed, loose, folders):
            return False
        if loose:  # fold them in first, at their values: readers see the same refs throughout
            packed = {**packed, **{ref: (oid, None) for ref, oid in loose.items()}}
            lock.commit(_packed_text(traits, packed), self.path)
            lock.take()
            relocked()
            for ref in loose:
                self._unlink_loose(ref)
            # Between the two locks another writer may have committed other refs: start from its file, not
            # ours (our refs cannot have moved: their <ref>.lock files are held throughout).
            traits, packed = self._read()
        for update in updates:
            if update.new == ZERO_OID:
                packed.pop(update.ref, None)
            else:
                packed[update.ref] = (update.new, None)
        lock.commit(_packed_text(traits, packed), self.path)
        self._reflogs(updates, current, message)
        return True

    @contextmanager
    def _ref_locks(self, refs: Sequence[str], on_locked: OnLocked) -> Iterator[list[str]]:
        """``<ref>.lock`` for each of ``refs``, created exclusively; the folders made for them go again after."""
        root = str(self.common_dir)
        known: set[str] = set()
        made: list[str] = []
        held: list[str] = []
        linked: list[str] = []  # the lock file the others are hard links of
        try:
            for ref in refs:
                if not ref.startswith("refs/") or not check_ref_format(ref):
                    raise RepositoryError(f"{ref!r} is not a valid ref name")
                if not self._lock_one(root, ref, known, made, linked):  # another writer's: no recover may take it
                    on_locked(held, None)
                    raise Lost()
                held.append(ref)
            yield held
        finally:
            for ref in held:
                _unlink(f"{root}/{ref}.lock")
            for folder in reversed(made):
                _remove_if_empty(folder)

    @staticmethod
    def _lock_one(root: str, ref: str, known: set[str], made: list[str], linked: list[str]) -> bool:
        """Create ``<ref>.lock``; False when it exists. Its folder is made first, again when another writer's
        cleanup removed it meanwhile (an empty folder goes as soon as its last ref does, as in Git)."""
        folder = ref.rpartition("/")[0]
        for _ in range(5):
            try:
                if folder not in known:
                    made += _make_folders(root, folder)
                    known.add(folder)
                _create_lock(f"{root}/{ref}.lock", linked)
                return True
            except FileNotFoundError:
                known.discard(folder)
            except (FileExistsError, NotADirectoryError):
                return False
        return False

    def _read(self) -> tuple[tuple[str, ...], dict[str, tuple[str, str | None]]]:
        """The header's traits and ``ref -> (oid, peeled line)`` of packed-refs (none when it does not exist)."""
        try:
            text = self.path.read_bytes().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return NEW_TRAITS, {}
        traits: tuple[str, ...] = ()
        packed: dict[str, tuple[str, str | None]] = {}
        last = None
        for line in text.splitlines():
            if line.startswith(HEADER):
                traits = tuple(line[len(HEADER) :].split())
            elif line.startswith("^") and last is not None:
                packed[last] = (packed[last][0], line)
            elif line and not line.startswith("#"):
                oid, _, last = line.partition(" ")
                packed[last] = (oid, None)
        return traits, packed

    def _loose(self, ref: str) -> str | None:
        """The value of ``ref``'s loose file, None when it has none; a symbolic ref is refused."""
        try:
            with open(f"{self.common_dir}/{ref}", "rb") as handle:
                content = handle.read().decode().strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        if content.startswith("ref:"):
            raise RepositoryError(f"{ref} is a symbolic ref ({content}): gitexp writes only refs that name a commit")
        return content

    def _unlink_loose(self, ref: str) -> None:
        _unlink(f"{self.common_dir}/{ref}")
        folder = ref.rpartition("/")[0]
        while folder != "refs" and _remove_if_empty(f"{self.common_dir}/{folder}"):
            folder = folder.rpartition("/")[0]

    def _conflicts(self, updates: Sequence[RefUpdate], packed: Mapping[str, object], loose: Mapping[str, str], listing: "_Folders") -> bool:
        """Whether a new ref would be a folder of an existing ref or sit below one (Git refuses both)."""
        created = [u.ref for u in updates if u.new != ZERO_OID and u.ref not in loose and u.ref not in packed]
        if not created:
            return False
        names = sorted(packed)
        removed = {u.ref for u in updates if u.new == ZERO_OID}
        for ref in created:
            parts = ref.split("/")
            folders = ("/".join(parts[:end]) for end in range(2, len(parts)))
            if any(folder in packed and folder not in removed for folder in folders):
                return True
            if _has_below(names, ref + "/", removed) or (listing.entry(ref) and _loose_below(f"{self.common_dir}/{ref}")):
                return True
        return False

    def _reflogs(self, updates: Sequence[RefUpdate], before: Mapping[str, str], message: str) -> None:
        """Append to the reflogs that exist (never create one); a deleted ref's reflog goes with it."""
        logs = self.common_dir / "logs"
        if not logs.is_dir():
            return
        for update in updates:
            log = f"{logs}/{update.ref}"
            if update.new == ZERO_OID:
                _unlink(log)
            elif os.path.isfile(log):
                line = f"{before.get(update.ref, ZERO_OID)} {update.new} {self.ident()}\t{message.splitlines()[0] if message else ''}\n"
                with open(log, "a", encoding="utf-8") as handle:
                    handle.write(line)


class _Folders:
    """The entries of the folders that hold a transaction's refs, each folder listed once: a loose file of a
    ref whose lock the transaction holds cannot come or go meanwhile (Git writes one only under its lock)."""

    def __init__(self, common_dir: Path):
        self.common_dir = common_dir
        self.listed: dict[str, dict[str, bool]] = {}

    def entry(self, ref: str) -> bool | None:
        """Whether ``ref``'s path is a folder (True), a file (False) or nothing (None)."""
        folder, _, name = ref.rpartition("/")
        if folder not in self.listed:
            try:
                with os.scandir(f"{self.common_dir}/{folder}") as entries:
                    self.listed[folder] = {entry.name: entry.is_dir(follow_symlinks=False) for entry in entries}
            except (FileNotFoundError, NotADirectoryError):
                self.listed[folder] = {}
        return self.listed[folder].get(name)


class FileLock:
    """A Git lock file (``packed-refs.lock``): created exclusively within ``LOCK_WAIT``, committed by renaming it."""

    def __init__(self, path: Path):
        self.path = path
        self.take()

    def take(self) -> None:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise Lost() from None
                time.sleep(0.01)
        self.inode = os.fstat(self.fd).st_ino
        self.held = True

    def commit(self, data: bytes, target: Path) -> None:
        """Write ``data`` into the lock and rename it onto ``target``, which releases it."""
        os.pwrite(self.fd, data, 0)
        os.fsync(self.fd)
        os.close(self.fd)
        os.replace(self.path, target)
        self.held = False

    def release(self) -> None:
        if self.held:
            os.close(self.fd)
            self.path.unlink(missing_ok=True)
            self.held = False


def _packed_text(traits: Sequence[str], packed: Mapping[str, tuple[str, str | None]]) -> bytes:
    """``packed`` sorted as Git sorts refs (by bytes), under Git's header with ``sorted`` among its traits."""
    kept = [trait for trait in traits if trait != "sorted"]
    lines = [f"{HEADER}{' '.join([*kept, 'sorted'])} \n"]
    for ref in sorted(packed, key=lambda name: name.encode("utf-8", "surrogateescape")):
        oid, peeled = packed[ref]
        lines.append(f"{oid} {ref}\n" + (f"{peeled}\n" if peeled else ""))
    return "".join(lines).encode("utf-8", "surrogateescape")


def _create_lock(path: str, linked: list[str]) -> None:
    """Create the lock file ``path``, failing when it exists, as Git's ``O_EXCL`` does: as a hard link of the
    transaction's first lock where the file system allows, since a new inode per lock costs ext4 many times as
    much (10,000 locks: 0.4 to 1 s of system time instead of 0.06 s). Git asks only whether the name exists."""
    if linked:
        try:
            os.link(linked[0], path)
            return
        except FileExistsError:
            raise
        except (FileNotFoundError, NotADirectoryError):
            if os.path.exists(linked[0]):
                raise  # the lock's folder is missing, or a file
        except OSError:  # no hard links on this file system, or as many as one file takes (EMLINK)
            pass
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    linked[:] = [path]


def _expected(update: RefUpdate, now: str | None) -> bool:
    if update.old is None:
        return True
    return now is None if update.old == ZERO_OID else now == update.old


def _has_below(names: Sequence[str], folder: str, removed: set[str]) -> bool:
    index = bisect.bisect_left(names, folder)
    while index < len(names) and names[index].startswith(folder):
        if names[index] not in removed:
            return True
        index += 1
    return False


def _loose_below(path: str) -> bool:
    """Whether the folder ``path`` holds a loose ref (a file other than a lock) at any depth."""
    return any(not name.endswith(".lock") for _, _, files in os.walk(path) for name in files)


def _make_folders(root: str, folder: str) -> list[str]:
    """Create ``root/folder`` and its missing parents; the ones made, outermost first."""
    missing = []
    while folder and not os.path.isdir(f"{root}/{folder}"):
        missing.append(f"{root}/{folder}")
        folder = folder.rpartition("/")[0]
    made = []
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            if os.path.isdir(path):  # another writer made it meanwhile
                continue
            raise Lost() from None  # a ref file where the folder must be: Git's folder rule
        except NotADirectoryError:
            raise Lost() from None
        made.append(path)
    return made


def _remove_if_empty(folder: str) -> bool:
    try:
        os.rmdir(folder)
    except OSError:
        return False
    return True


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _duplicate(refs: Sequence[str]) -> str:
    seen: set[str] = set()
    return next(ref for ref in refs if ref in seen or seen.add(ref))  # type: ignore[func-returns-value]
