"""Which trials a runner holds right now: derived from claims, never stored in a trial's record.

A queued trial is running while a runner holds it: here by its lock under
.git/gitexp/locks (the kernel drops it with the runner), or on a remote by a
claim whose heartbeat is fresh, as this clone last fetched the claims.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from gitexp.store.claim_records import DEFAULT_STALE_AFTER, read_claim
from gitexp.store.git import Git
from gitexp.store.layout import trial_lock_path
from gitexp.store.locks import held_by
from gitexp.store.records import QUEUED, RUNNING, Trial
from gitexp.store.remote import tracked_claims

HOLDER_READS, HOLDER_READ_PAUSE = 20, 0.005  # up to 0.1 s for a runner between its flock and its write


@dataclass(frozen=True)
class LiveClaims:
    """One reading of who holds what: the local locks (read when asked) and the remotes' live claims."""

    common_dir: Path
    elsewhere: frozenset[str]  # trial keys (``sweep/trial``) a live claim on a remote holds

    @classmethod
    def read(cls, git: Git, remotes: bool = True) -> LiveClaims:
        now = time.time()
        claims = [read_claim(record) for record in tracked_claims(git)] if remotes else []
        live = frozenset(claim.key for claim in claims if now - claim.heartbeat <= DEFAULT_STALE_AFTER)
        return cls(git.common_dir(), live)

    def holder(self, trial: Trial) -> dict | None:
        """Who holds the trial now: its lock's holder here (pid, host, worktree), ``{}`` for a live claim
        on a remote, None when nobody does."""
        local = held_by(path := trial_lock_path(self.common_dir, trial.sweep, trial.name))
        for _ in range(HOLDER_READS):  # {}: its runner took the flock and is writing who it is; read again
            if local != {}:
                break
            time.sleep(HOLDER_READ_PAUSE)
            local = held_by(path)
        if local is None and trial.ref.key in self.elsewhere:
            return {}
        return local

    def status(self, trial: Trial) -> str:
        """The trial's status, a queued trial that a runner holds being running."""
        return RUNNING if trial.status == QUEUED and self.holder(trial) is not None else trial.status
