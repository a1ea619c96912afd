"""Claims: which runner runs which trial, kept in refs that only compare-and-swap changes.

A claim is ``refs/gitexp/claims/<sweep>/<trial>`` pointing at a commit of the
empty tree whose message names the runner (worker id, host, pid, clone) and a
heartbeat time. One protocol serves two ref stores: this repository (``gitexp
run``, ``update-ref`` transactions) and a remote (``gitexp worker``, atomic
pushes with leases). Each step is one atomic transaction:

- take:    assert the branch is still at the queued tip, and create the claim
           (or replace a dead one, compare-and-swap on its id);
- beat:    replace our claim by a fresh one, compare-and-swap on the last one;
- publish: move the branch from the queued tip to the result, and delete our claim
           (and, when the runner names the trial it runs next, take that one's claim in
           the same transaction: one round trip to a remote instead of two).

``run_claimed`` is every executor's path through them (``gitexp run``, a
worker, a CI job): take, run under a heartbeat, publish.

A result lands at most once because it needs the branch at the queued tip. A
trial is not run twice because a claim exists from take to publish and a claim
can only be created when none exists; the one exception is a takeover. A
claim may be taken over when its heartbeat is older than ``stale_after`` (its
runner is presumed dead; if it was only cut off, both run, and the first
result wins), or at once when it was made from this clone and its trial's
flock is free (the caller holds it): the kernel drops an flock with its
process, so that claimer is dead. Heartbeat times come from each runner's
clock, so ``stale_after`` must exceed any clock skew between machines.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from gitexp.errors import GitCommandError
from gitexp.store.claim_records import (
    DEFAULT_STALE_AFTER,
    T_NODE,
    T_SLURM_ARRAY,
    T_SLURM_JOB,
    T_CLONE,
    T_HEARTBEAT,
    T_NONCE,
    T_PID,
    T_STEPS,
    T_WORKER,
    Claim,
    claim_ref,
    read_claim,
)
from gitexp.store.git import ZERO_OID, Git, RefUpdate
from gitexp.store.layout import clone_id_path
from gitexp.store.naming import CLAIMS_NAMESPACE
from gitexp.store.records import T_HOST, Trial, format_message
from gitexp.store.refstore import RefStore
from gitexp.store.stops import read_stop, request_stop, stop_ref

DEFAULT_HEARTBEAT = 30.0
Outcome = TypeVar("Outcome")
Execute = Callable[[Trial], tuple[Outcome, str]]  # an executor's run of one trial: its outcome and result commit
Progress = Callable[[], str]  # a running trial's latest steps, for its heartbeat ("" when there are none)
AHEAD_TRIES = 3  # trials tried as the one claimed with a result, when others took the ones before
ATTEMPTS = 8  # transient failures (a concurrent push holding the remote's ref lock, a network blip)


def default_worker_id() -> str:
    """host-pid-random: unique enough among runners, and says where a claim came from."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:60] or "host"
    return f"{host}-{os.getpid()}-{os.urandom(2).hex()}"


def scheduler_facts(env: Mapping[str, str] = os.environ) -> tuple[tuple[str, str], ...]:
    """Which scheduler job runs this process, as claim trailers: Slurm's node, job id and array task, when Slurm started it."""
    array = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    facts = {
        T_NODE: env.get("SLURMD_NODENAME", ""),
        T_SLURM_JOB: env.get("SLURM_JOB_ID", ""),
        T_SLURM_ARRAY: f"{array[0]}_{array[1]}" if all(array) else "",
    }
    return tuple((key, value) for key, value in facts.items() if value)


@dataclass(frozen=True)
class Runner:
    """Who claims: recorded in every claim so that others can tell who holds a trial (and in which scheduler job)."""

    worker: str
    clone: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    job: tuple[tuple[str, str], ...] = field(default_factory=scheduler_facts)


class Claims:
    """The claim protocol over one ref store, for one runner."""

    def __init__(
        self,
        git: Git,
        store: RefStore,
        runner: Runner,
        stale_after: float = DEFAULT_STALE_AFTER,
        heartbeat: float = DEFAULT_HEARTBEAT,
        clock: Callable[[], float] = time.time,
        result_alone: bool = False,
    ):
        self.git = git
        self.store = store
        self.runner = runner
        self.stale_after = stale_after
        self.heartbeat = heartbeat
        self.clock = clock
        self.result_alone = result_alone  # publish the result in a transaction of its own, then drop the claim
        self._empty_tree: str | None = None
        self._ahead: dict[str, tuple[str, Claim]] = {}  # trial key -> (its tip, its claim) taken with a result

    # -- reading -------------------------------------------------------------

    def known(self) -> dict[str, Claim]:
        """Every claim as the store's view has it, by trial key."""
        claims = (read_claim(record) for record in self.store.view.refs(CLAIMS_NAMESPACE))
        return {claim.key: claim for claim in claims}

    def holder(self, key: str) -> Claim | None:
        ref = claim_ref(key)
        return next((read_claim(r) for r in self.store.view.refs(ref) if r.name == ref), None)

    def from_this_clone(self, claim: Claim) -> bool:
        return claim.clone == self.runner.clone and claim.host == self.runner.host

    def may_take_over(self, claim: Claim) -> bool:
        """Whether ``claim`` is dead: stale, or this clone's (the caller holds the trial's flock)."""
        return self.from_this_clone(claim) or self.clock() - claim.heartbeat > self.stale_after

    # -- the protocol --------------------------------------------------------

    def take(self, trial: Trial) -> Claim | None:
        """Claim ``trial`` when nobody live holds it and its branch is still at ``trial.tip``."""
        ahead = self._ahead.pop(trial.ref.key, None)
        if ahead is not None and ahead[0] == trial.tip:
            return ahead[1]  # taken already, in the transaction that published the last result
        claim = self._new(trial.ref.key)
        unchanged = RefUpdate(trial.ref.ref, trial.tip, trial.tip)
        if self._swap([unchanged, RefUpdate(claim.ref, claim.oid, ZERO_OID)]):
            return claim  # the usual case, in one transaction: nobody held it
        held = self.holder(trial.ref.key)
        if held is None or not self.may_take_over(held):
            return None
        return claim if self._swap([unchanged, RefUpdate(claim.ref, claim.oid, held.oid)]) else None

    def beat(self, claim: Claim, steps: str = "") -> Claim | None:
        """Refresh ``claim`` (carrying the trial's latest ``steps``); None once it is no longer ours (taken over as stale)."""
        fresh = self._new(claim.key, steps)
        try:
            if self.store.swap([RefUpdate(claim.ref, fresh.oid, claim.oid)]):
                return fresh
            return claim if self.store.current([claim.ref]).get(claim.ref) == claim.oid else None
        except GitCommandError:
            return claim  # unreachable for now: the next beat tries again

    def publish(
        self,
        trial: Trial,
        result: str,
        claim: Claim,
        following: Trial | None = None,
        instead: Callable[[Trial], Trial | None] = lambda refused: None,
    ) -> bool:
        """Move the branch from ``trial.tip`` to ``result`` and drop our claim; False when another result won.

        With ``following`` (the trial this runner runs next, its flock held), that
        trial's claim is taken in the same transaction, and ``take`` hands it out.
        When the store says that only that part lost (another runner holds the
        trial, or its branch moved: the runner's view of the store was old),
        ``instead`` is told the trial and names another to try the same way (up to
        ``AHEAD_TRIES`` in all); else the result goes as below and ``following``
        is taken, or not, on its own.

        When the transaction fails, look why: if the branch moved, another
        runner's result landed first and ours is dropped (one result per
        trial); if only our claim is gone (taken over as stale), our result is
        still first and goes alone; otherwise it was a transient race and is retried.
        With ``result_alone`` the result always goes alone, and the claim is dropped after it.
        """
        branch = trial.ref.ref
        updates = [RefUpdate(branch, result, trial.tip), RefUpdate(claim.ref, ZERO_OID, claim.oid)]
        if self.result_alone:
            updates = updates[:1]
        elif following is not None and self._publish_taking_one_of(updates, following, instead):
            return True
        for attempt in range(ATTEMPTS):
            try:
                landed = self.store.swap(updates)
                now = {branch: result} if landed else self.store.current([branch, claim.ref])
            except GitCommandError:
                if attempt == ATTEMPTS - 1:
                    raise
            else:
                if now.get(branch) == result:  # landed (maybe in an earlier attempt whose answer was lost)
                    if self.result_alone:
                        self.release(claim)
                    return True
                if now.get(branch) != trial.tip:
                    self.release(claim)
                    return False
                if now.get(claim.ref) != claim.oid:
                    updates = updates[:1]
            _backoff(attempt)
        raise GitCommandError(f"could not publish the result of {trial.ref.key}: the ref store kept refusing; run again")

    def _publish_taking_one_of(
        self, updates: Sequence[RefUpdate], following: Trial, instead: Callable[[Trial], Trial | None]
    ) -> bool:
        """``_publish_and_take`` with ``following``, and with the trial ``instead`` names each time only that trial's part lost."""
        for attempt in range(AHEAD_TRIES):
            if attempt:
                following = instead(following)
                if following is None:
                    return False
            if self._publish_and_take(updates, following):
                return True
            lost = set(self.store.lost)
            if not lost or not lost <= {following.ref.ref, claim_ref(following.ref.key)}:
                return False  # no answer, or our part lost too (the result's branch, our claim)
        return False

    def _publish_and_take(self, updates: Sequence[RefUpdate], following: Trial) -> bool:
        """One try of ``updates`` with the claim of ``following`` taken in the same transaction; False when it did not land.

        A push whose answer was lost is looked up by the store, and counts as
        landed when it did. One that raises all the same (the remote did not answer
        that look either) may have landed too: the result is found landed by
        ``publish``, and the claim made here, from this clone, is taken over by
        ``take`` at once (the caller holds the trial's flock).
        """
        ahead = self._new(following.ref.key)
        unchanged = RefUpdate(following.ref.ref, following.tip, following.tip)
        try:
            landed = self.store.swap([*updates, unchanged, RefUpdate(ahead.ref, ahead.oid, ZERO_OID)])
        except GitCommandError:
            return False
        if landed:
            self._ahead[following.ref.key] = (following.tip, ahead)
        return landed

    def holds_ahead(self, key: str) -> bool:
        """Whether the claim of trial ``key`` was taken with a result and waits for ``take``."""
        return key in self._ahead

    def drop_ahead(self, key: str) -> None:
        """Drop the claim of trial ``key`` taken with a result, when it will not run after all."""
        ahead = self._ahead.pop(key, None)
        if ahead is not None:
            self.release(ahead[1])

    def stop_requested(self, claim: Claim) -> str | None:
        """Who asked, through the store, to stop the run that holds ``claim``; None when nobody did."""
        ref = stop_ref(claim.key)
        try:
            records = self.store.records([ref])  # empty when nobody asked (one listing of the store either way)
        except GitCommandError:
            return None  # unreachable for now: the next beat looks again
        worker, by = read_stop(records[0]) if records else ("", "")
        return by if worker == claim.worker else None

    def drop_stop(self, key: str) -> None:
        """Delete the stop request of trial ``key`` once its run has ended (best effort: a leftover names a past run)."""
        ref = stop_ref(key)
        with contextlib.suppress(GitCommandError):
            for oid in self.store.current([ref]).values():
                self.store.swap([RefUpdate(ref, ZERO_OID, oid)], message="gitexp: stop done")

    def release(self, claim: Claim) -> None:
        """Drop ``claim`` if it is still ours."""
        self._swap([RefUpdate(claim.ref, ZERO_OID, claim.oid)])

    # -- helpers -------------------------------------------------------------

    def _swap(self, updates: Sequence[RefUpdate]) -> bool:
        """``store.swap``, retried over transient failures of the store itself."""
        for attempt in range(ATTEMPTS):
            try:
                return self.store.swap(updates)
            except GitCommandError:
                if attempt == ATTEMPTS - 1:
                    raise
                _backoff(attempt)
        return False

    def _new(self, key: str, steps: str = "") -> Claim:
        """A claim commit for trial ``key``, heartbeat now, with the trial's latest ``steps`` when it has some."""
        if self._empty_tree is None:
            self._empty_tree = self.git.empty_tree()
        now = self.clock()
        runner = self.runner
        stamp = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds")
        trailers = {
            T_WORKER: runner.worker,
            T_HOST: runner.host,
            T_PID: str(runner.pid),
            T_CLONE: runner.clone,
            T_HEARTBEAT: stamp,
            **dict(runner.job),
            # Two claims with equal text would be one object, and a push of a value the
            # remote already has succeeds without checking the lease: keep each unique.
            T_NONCE: os.urandom(6).hex(),
        }
        if steps:
            trailers[T_STEPS] = steps
        message = format_message(f"gitexp: claim {key} for {runner.worker}", trailers)
        oid = self.git.commit_tree(self._empty_tree, message)
        return Claim(claim_ref(key), oid, runner.worker, runner.host, runner.clone, runner.pid, now, runner.job, steps)


def run_claimed(
    claims: Claims,
    trial: Trial,
    execute: Execute,
    progress: Progress | None = None,
    following: Callable[[Outcome], Trial | None] = lambda outcome: None,
    instead: Callable[[Trial], Trial | None] = lambda refused: None,
) -> tuple[Outcome, bool] | None:
    """Claim ``trial``, run it while the claim's heartbeat goes on, publish its result: every executor's one path.

    ``execute`` runs the trial and answers its outcome and result commit (on no
    ref yet). None when the trial cannot be claimed (a live runner holds it, or
    its branch moved); else the outcome and whether its result landed (False:
    another runner's landed first). A run that raises drops the claim. Each
    heartbeat carries what ``progress`` answers then (a pruned sweep's steps).
    ``following``, told the outcome once the trial has run, names the trial to claim with its result;
    ``instead`` another, when another runner took that one (``Claims.publish``).
    """
    claim = claims.take(trial)
    if claim is None:
        return None
    heartbeat = Heartbeat(claims, claim, progress)
    try:
        with heartbeat:
            outcome, result = execute(trial)
        published = claims.publish(trial, result, heartbeat.claim, following(outcome), instead)
    except BaseException:
        claims.release(heartbeat.claim)
        raise
    if heartbeat.stopped_by:
        claims.drop_stop(trial.ref.key)
    return outcome, published


class Heartbeat:
    """Refreshes a claim every ``claims.heartbeat`` seconds while a trial runs.

    ``claim`` is the latest version, for ``publish``; ``lost`` tells that
    another runner took it over (the run goes on: its result may still land first).
    With each beat it reads the store's stop request for the trial
    (``gitexp stop`` on a remote); one for this run becomes this clone's stop
    request file, which the running pipeline watches, and ``stopped_by``.
    """

    def __init__(self, claims: Claims, claim: Claim, progress: Progress | None = None):
        self.claims = claims
        self.claim = claim
        self.progress = progress
        self.lost = False
        self.stopped_by: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat {claim.key}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.claims.heartbeat):
            fresh = self.claims.beat(self.claim, self.progress() if self.progress else "")
            if fresh is None:
                self.lost = True
                return
            self.claim = fresh
            if self.stopped_by is None and (by := self.claims.stop_requested(fresh)):
                self.stopped_by = by
                sweep, _, name = fresh.key.partition("/")
                request_stop(self.claims.git.common_dir(), sweep, name, by)


def clone_id(common_dir: Path) -> str:
    """A random id for this clone, made once; a copy of the repository elsewhere makes its own."""
    path = clone_id_path(common_dir)
    try:
        token, _, where = path.read_text().partition(" ")
        if token and where.strip() == str(common_dir):
            return token
        copied = True
    except FileNotFoundError:
        copied = False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = os.urandom(8).hex()
    scratch = path.with_name(f"clone-id.{token}")
    try:
        scratch.write_text(f"{token} {common_dir}\n")  # inside: a full disk leaves no half-written scratch
        if copied:
            os.replace(scratch, path)
        else:
            os.link(scratch, path)  # creates it only if absent: concurrent first runs agree on one id
    except FileExistsError:
        pass
    finally:
        scratch.unlink(missing_ok=True)
    return path.read_text().partition(" ")[0]


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
