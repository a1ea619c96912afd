"""Where gitexp writes refs: this repository, or a Git remote, both by compare-and-swap only.

Every write to a shared ref (a trial branch, a sweep record, a claim) is an
atomic transaction whose updates each name the value they expect, so two
writers never both win. Objects are always made in this repository first; a
remote store then pushes them (``remote.RemoteRefs``). ``publish`` writes a
batch of new trial branches so that it is all or nothing even for a process
killed meanwhile (``journal``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gitexp.store.git import ZERO_OID, Git, RefRecord, RefUpdate
from gitexp.store.journal import SCRATCH_NAMESPACE, PendingWrite, pending_write
from gitexp.store.naming import CLAIMS_NAMESPACE, STOPS_NAMESPACE
from gitexp.store.packed_refs import PackedRefs


class RefStore(Protocol):
    """A place whose refs change only by atomic compare-and-swap transactions."""

    view: Git  # reads the store's refs as last seen (a remote's: as last fetched or written)
    lost: tuple[str, ...]  # after a swap that did not land: the refs whose own compare-and-swap lost, when the store can tell

    def swap(self, updates: Sequence[RefUpdate], scratch: Sequence[str] = (), message: str = "gitexp") -> bool:
        """Apply all ``updates`` atomically, each a compare-and-swap; False when one lost.

        The local ``scratch`` refs (which kept new objects reachable) are
        deleted whether the updates land or not, in the same transaction when
        they land in this repository. ``message`` goes to the reflogs of this repository.
        """

    def publish(self, created: Sequence[RefUpdate], record: RefUpdate, write: PendingWrite, message: str) -> bool:
        """Create the refs of ``created`` and move ``record`` by compare-and-swap; False when one lost.

        All or nothing as ``swap`` is, and so that a reader who takes only
        what ``record`` names (a sweep's trials) sees all or nothing even if
        this process dies midway. ``write.scratch`` is dropped either way.
        """

    def current(self, refs: Sequence[str]) -> dict[str, str]:
        """The values of ``refs`` now (missing refs left out)."""

    def records(self, refs: Sequence[str]) -> list[RefRecord]:
        """``refs`` now with their commits' messages (missing refs left out)."""


# Refs that live for one run (claims here, scratch refs, stop requests) stay loose files: packing
# them would rewrite packed-refs at each heartbeat, and they are gone once the run ends.
TRANSIENT_NAMESPACES = (CLAIMS_NAMESPACE, SCRATCH_NAMESPACE, STOPS_NAMESPACE)


class LocalRefs:
    """This repository as the store: packed-refs transactions (``packed_refs``), else ``update-ref`` ones.

    Trial branches, sweep records and archives go straight into packed-refs,
    with no loose file and no reflog, in one rename (so a batch is all or
    nothing even under kill -9); a repository whose refs are in a reftable, or
    whose user wants every ref's reflog (``core.logAllRefUpdates=always``),
    gets Git's own ``update-ref`` transactions instead.
    """

    def __init__(self, git: Git):
        self.git = git
        self.view = git
        self.lost: tuple[str, ...] = ()  # an update-ref transaction does not say which of its refs lost
        self._packed: PackedRefs | None | bool = False  # False: not asked yet

    def swap(self, updates: Sequence[RefUpdate], scratch: Sequence[str] = (), message: str = "gitexp") -> bool:
        if self._write([*updates, *drop(scratch)], message):
            return True
        if scratch:
            self.git.try_update_refs(drop(scratch))
        return False

    def publish(self, created: Sequence[RefUpdate], record: RefUpdate, write: PendingWrite, message: str) -> bool:
        """One packed-refs rename for all of it; with ``update-ref``, the refs first, then the record
        (a loose-ref transaction that dies while it commits is half done)."""
        write.note({update.ref: update.new for update in created}, record)
        packed = self.packed()
        if packed is not None:
            if packed.transact([*created, record, *drop([write.scratch])], message, write.note_locks):
                return True
            self.git.try_update_refs(drop([write.scratch]))
            return False
        if not self.git.try_update_refs(created, message):
            self.git.try_update_refs(drop([write.scratch]))
            return False
        if self.git.try_update_refs([record, *drop([write.scratch])], message):
            return True
        self.git.try_update_refs([RefUpdate(update.ref, ZERO_OID, update.new) for update in created])
        self.git.try_update_refs(drop([write.scratch]))
        return False

    def current(self, refs: Sequence[str]) -> dict[str, str]:
        return {record.name: record.oid for record in self.records(refs)}

    def records(self, refs: Sequence[str]) -> list[RefRecord]:
        return [record for record in self.git.refs(*refs) if record.name in refs]

    def packed(self) -> PackedRefs | None:
        """This repository's packed-refs, or None when gitexp must leave ref writing to ``update-ref``."""
        if self._packed is False:
            settings = self.git.config_values(["extensions.refstorage", "core.logallrefupdates"])
            reftable = settings.get("extensions.refstorage", "files").lower() != "files"
            every_reflog = settings.get("core.logallrefupdates", "").lower() == "always"
            common_dir = self.git.common_dir()
            self._packed = None if reftable or every_reflog or (common_dir / "reftable").is_dir() else PackedRefs(
                common_dir, self.git.committer_ident
            )
        return self._packed

    def _write(self, updates: Sequence[RefUpdate], message: str) -> bool:
        """``updates`` all or nothing: packed when they write a lasting ref and no transient one (or packing is off).

        An update to the value a ref has already is a check, not a write; a
        transient ref written in a packed transaction would land in packed-refs,
        and deleting it again would rewrite packed-refs (impossible on a full disk).
        """
        transient = [u.ref.startswith(TRANSIENT_NAMESPACES) for u in updates]
        lasting = any(u.new not in (ZERO_OID, u.old) and not t for u, t in zip(updates, transient))
        loose = any(u.new != ZERO_OID and t for u, t in zip(updates, transient))
        packed = self.packed() if lasting and not loose else None
        if packed is None:
            return self.git.try_update_refs(updates, message)
        with pending_write(self.git) as write:
            return packed.transact(updates, message, write.note_locks)


def drop(refs: Sequence[str]) -> list[RefUpdate]:
    """Deletions of ``refs``, whatever they point at."""
    return [RefUpdate(ref, ZERO_OID) for ref in refs]
