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
from gitexp.store.journal import PendingWrite


class RefStore(Protocol):
    """A place whose refs change only by atomic compare-and-swap transactions."""

    view: Git  # reads the store's refs as last seen (a remote's: as last fetched or written)

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


class LocalRefs:
    """This repository as the store: ``update-ref`` transactions under Git's ref locks."""

    def __init__(self, git: Git):
        self.git = git
        self.view = git

    def swap(self, updates: Sequence[RefUpdate], scratch: Sequence[str] = (), message: str = "gitexp") -> bool:
        if self.git.try_update_refs([*updates, *drop(scratch)], message):
            return True
        if scratch:
            self.git.try_update_refs(drop(scratch))
        return False

    def publish(self, created: Sequence[RefUpdate], record: RefUpdate, write: PendingWrite, message: str) -> bool:
        """The refs first, then the record (a loose-ref transaction that dies while it commits is half done)."""
        write.note({update.ref: update.new for update in created}, record)
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


def drop(refs: Sequence[str]) -> list[RefUpdate]:
    """Deletions of ``refs``, whatever they point at."""
    return [RefUpdate(ref, ZERO_OID) for ref in refs]
