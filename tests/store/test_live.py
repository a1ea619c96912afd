"""Live status: a queued trial is running while a local lock or a live remote claim holds it."""

import dataclasses

from gitexp.planning.queue import QueueRequest, queue_sweep
from gitexp.store.layout import trial_lock_path
from gitexp.store.live import LiveClaims
from gitexp.store.locks import TrialLock
from gitexp.sweep.spec import spec_from_flags


def test_a_held_queued_trial_is_running_and_nothing_else_changes(project):
    t001, t002, t003 = queue_sweep(project, QueueRequest(spec_from_flags(["train.lr=[1, 2, 3]"]), "s")).trials
    claims = LiveClaims(project.common_dir(), frozenset({"s/t002"}))
    lock = TrialLock(trial_lock_path(project.common_dir(), "s", "t001"))
    assert lock.acquire(project.root / "slot")
    try:
        assert claims.holder(t001)["worktree"] == str(project.root / "slot")
        assert [claims.status(t) for t in (t001, t002, t003)] == ["running", "running", "queued"]
        assert claims.status(dataclasses.replace(t001, status="failed")) == "failed"
    finally:
        lock.release()
    assert claims.holder(t001) is None and claims.holder(t002) == {} and claims.status(t001) == "queued"
    assert LiveClaims.read(project).elsewhere == frozenset()  # no remote's claims fetched
