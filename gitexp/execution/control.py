"""Control of running trials: ``gitexp stop`` and ``gitexp logs -f``.

A trial a runner of this clone holds (its flock) is stopped through a stop
request file that the runner watches (``store.stops``): its process tree gets
TERM, a grace period, KILL, and the runner publishes a ``cancelled`` result
naming who stopped it. A trial held by a live claim on a remote is stopped
through a stop request ref pushed there, which its worker reads with its next
heartbeat. Stopping a sweep also cancels its queued trials and records the
stop in the sweep, as early stopping does, so that no runner starts new ones;
a sweep a remote shares (``shared.shared_on``) is stopped there, where its
workers read it, and this clone's refs follow the remote's forward.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitexp.errors import ConcurrentChange, UsageError
from gitexp.execution.driver import WRITE_ATTEMPTS, cancel_trials
from gitexp.execution.shared import shared_on, shared_there
from gitexp.planning.queue import write_trials
from gitexp.store.claim_records import Claim, claim_ref, read_claim
from gitexp.store.git import ZERO_OID, Git, RefUpdate
from gitexp.store.layout import trial_lock_path, trial_log_path
from gitexp.store.live import LiveClaims
from gitexp.store.locks import held_by
from gitexp.store.naming import sweep_ref
from gitexp.store.records import QUEUED, Ledger, Sweep, Trial
from gitexp.store.refstore import LocalRefs, RefStore
from gitexp.store.remote import Remote, RemoteRefs, fetch_experiments, resolve_remote
from gitexp.store.stops import request_stop, stop_message, stop_ref, who_stops

FOLLOW_POLL = 0.2  # seconds between looks at a followed log


@dataclass
class StopPlan:
    """What ``gitexp stop`` will do, decided before anything is written."""

    here: list[Trial] = field(default_factory=list)  # held by a runner of this clone
    remote: list[tuple[Trial, Remote, dict[str, str]]] = field(default_factory=list)  # held by a claim on a remote
    sweeps: list[Sweep] = field(default_factory=list)  # to stop: queued trials cancelled, the stop recorded
    homes: dict[str, Remote] = field(default_factory=dict)  # sweep name -> the remote that shares it
    by: str = ""

    def write(self, git: Git) -> None:
        common_dir = git.common_dir()
        for sweep in self.sweeps:  # first: a runner whose trial stops next must find its sweep stopped
            home = self.homes.get(sweep.name)
            claimed = stop_sweep(git, sweep, f"stopped by {self.by}", home)
            self._add_claimed_meanwhile(common_dir, claimed, home)
        for trial in self.here:
            request_stop(common_dir, trial.sweep, trial.name, self.by)
        for trial, remote, _ in self.remote:
            push_stop(git, remote, trial, self.by)


    def _add_claimed_meanwhile(self, common_dir: Path, trials: list[Trial], home: Remote | None) -> None:
        """Stop, as the others, the trials a runner claimed since the plan was made (their cancel lost to the claim)."""
        planned = {trial.ref.key for trial in self.here} | {trial.ref.key for trial, _, _ in self.remote}
        for trial in trials:
            if trial.ref.key in planned:
                continue
            if held_by(trial_lock_path(common_dir, trial.sweep, trial.name)) is not None:
                self.here.append(trial)
            elif home is not None:
                self.remote.append((trial, home, {}))


def plan_stop(git: Git, names: Sequence[str], remote_spec: str | None = None) -> StopPlan:
    """Which trials ``names`` (trials or sweeps) stop, and where; refuses a trial that is not running.

    A sweep a remote shares is judged by its trials and record there (fetched first).
    """
    ledger = Ledger(git)
    sweeps = set(ledger.sweep_names())
    remote = resolve_remote(git, remote_spec, git.root) if remote_spec else None
    named = [ledger.sweep(name) for name in dict.fromkeys(names) if name in sweeps]
    homes = _homes(git, named, remote)  # fetches their claims
    live = LiveClaims.read(git)
    plan = StopPlan(homes=homes, by=who_stops(git))
    for name in dict.fromkeys(names):
        if name in sweeps:
            sweep, trials = _sweep_as_shared(git, ledger, name, homes.get(name))
            running = [t for t in trials if t.status == QUEUED and (live.holder(t) is not None or remote)]
            placed = [trial for trial in running if _place(git, plan, trial, remote or homes.get(name))]
            if not placed and (sweep.state.get("stopped") or not any(t.status == QUEUED for t in trials)):
                raise UsageError(f"sweep {name} is not running (no running or queued trial): nothing to stop")
            plan.sweeps.append(sweep)
        else:
            trial = ledger.resolve_trial(name)
            placed = trial.status == QUEUED and (live.holder(trial) is not None or remote) and _place(git, plan, trial, remote)
            if not placed:
                status = live.status(trial)
                where = f" on {remote.shown}" if remote and status == QUEUED else ""
                raise UsageError(f"{trial.ref.key} is not running{where} (it is {status}): gitexp status shows what runs")
    return plan


def _homes(git: Git, sweeps: list[Sweep], remote: Remote | None) -> dict[str, Remote]:
    """Where each sweep is stopped: the remote that shares it, or, with ``--remote``, that remote, which must have it."""
    if remote is None:
        return {name: resolve_remote(git, home) for name, home in shared_on(git, sweeps).items()}
    there = shared_there(git, remote, sweeps)
    for sweep in sweeps:
        if sweep.name not in there:
            raise UsageError(
                f"{remote.shown} has no sweep {sweep.name}: gitexp push {remote.shown} {sweep.name} first, or stop it without --remote"
            )
    return dict.fromkeys(there, remote)


def _sweep_as_shared(git: Git, ledger: Ledger, name: str, home: Remote | None) -> tuple[Sweep, list[Trial]]:
    """The sweep and its trials as its home has them: this clone, or the remote that shares it (fetched now)."""
    if home is None:
        return ledger.sweep(name), ledger.trials([name])
    fetch_experiments(git, home, [ledger.sweep(name).prefix])
    there = Ledger(RemoteRefs(git, home).view)
    return there.sweep(name), there.trials([name])


def _place(git: Git, plan: StopPlan, trial: Trial, remote: Remote | None) -> bool:
    """Add ``trial`` to the plan where it runs: here, or on the remote whose live claim holds it; False when it runs nowhere."""
    if held_by(trial_lock_path(git.common_dir(), trial.sweep, trial.name)) is not None:
        plan.here.append(trial)
        return True
    for candidate in [remote] if remote else _remotes_claiming(git, trial):
        current = RemoteRefs(git, candidate).current([claim_ref(trial.ref.key)])  # a look: nothing fetched yet
        if current:
            plan.remote.append((trial, candidate, current))
            return True
    return False


def _remotes_claiming(git: Git, trial: Trial) -> list[Remote]:
    """The configured remotes whose claims, as last fetched, hold ``trial``."""
    remotes = [resolve_remote(git, name) for name in git.remote_names()]
    return [r for r in remotes if git.rev_parse(r.tracking(claim_ref(trial.ref.key))) is not None]


def push_stop(git: Git, remote: Remote, trial: Trial, by: str) -> None:
    """Push a stop request for the run whose claim on ``remote`` holds ``trial``; its worker reads it with its next heartbeat."""
    store = RemoteRefs(git, remote)
    records = store.records([claim_ref(trial.ref.key)])
    if not records:
        return  # its run ended meanwhile
    ref = stop_ref(trial.ref.key)
    commit = git.commit_tree(git.empty_tree(), stop_message(trial.ref.key, read_claim(records[0]).worker, by))
    for _ in range(WRITE_ATTEMPTS):
        old = store.current([ref]).get(ref, ZERO_OID)  # a leftover of an earlier run is replaced
        if store.swap([RefUpdate(ref, commit, old)], message="gitexp: stop"):
            return
    raise ConcurrentChange(f"the stop request of {trial.ref.key} on {remote.shown} kept changing: run gitexp stop again")


def stop_sweep(git: Git, sweep: Sweep, reason: str, home: Remote | None = None) -> list[Trial]:
    """Record the sweep's stop (runners start none of its trials) and cancel its queued trials that no runner
    has claimed; answer those claimed, which keep their claims (see ``cancel_trials``).

    Written where its runners read it: here, or on ``home``, the remote that
    shares it, by compare-and-swap on the record last fetched, redone on the
    record as it is then when a runner there moved it; this clone's refs then
    move forward to the remote's, so that gitexp pull finds nothing diverged.
    """
    store: RefStore = RemoteRefs(git, home) if home else LocalRefs(git)
    for _ in range(WRITE_ATTEMPTS):
        try:
            write_trials(git, dataclasses.replace(sweep, state={**sweep.state, "stopped": reason}), store=store)
            break
        except ConcurrentChange:
            if home:
                fetch_experiments(git, home, [sweep.prefix])
            sweep = Ledger(store.view).sweep(sweep.name)
    else:
        raise ConcurrentChange(f"sweep {sweep.name} kept changing while it was stopped: run gitexp stop again")
    # every queued one, held or not: a runner that holds only its lock yet (no claim) must find it cancelled
    queued = [t for t in Ledger(store.view).trials([sweep.name]) if t.status == QUEUED]
    claimed = cancel_trials(git, queued, reason, store)
    if home:
        _follow_forward(git, store.view, [sweep_ref(sweep.name), *(t.ref.ref for t in queued)])
    return claimed


def _follow_forward(git: Git, there: Git, refs: Sequence[str]) -> None:
    """Move this clone's ``refs`` forward to where ``there`` has them; one moved or diverged here is left for gitexp pull."""
    store = LocalRefs(git)
    here = store.current(list(refs))
    updates = []
    for record in there.refs(*refs):
        old = here.get(record.name)
        if record.name in refs and old != record.oid and (old is None or git.is_ancestor(old, record.oid)):
            updates.append(RefUpdate(record.name, record.oid, old or ZERO_OID))
    for update in updates:  # one by one: a ref that moved meanwhile leaves the others to move
        store.swap([update], message="gitexp: stop")


# -- logs ----------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteRun:
    """A trial a runner elsewhere holds, as its claim's last heartbeat tells."""

    trial: Trial
    claim: Claim

    def describe(self, now: float | None = None) -> str:
        age = max(0.0, (now or time.time()) - self.claim.heartbeat)
        return (
            f"{self.trial.ref.key} runs on worker {self.claim.worker} (host {self.claim.host}, pid {self.claim.pid}); "
            f"its last heartbeat was {age:.0f} s ago: gitexp logs {self.trial.ref.key} shows its log once gitexp pull brings its result"
        )


def running_elsewhere(git: Git, trial: Trial) -> RemoteRun | None:
    """The live claim on a remote that holds ``trial``, as this clone last fetched it; None when there is none."""
    live = LiveClaims.read(git)
    if trial.status != QUEUED or trial.ref.key not in live.elsewhere:
        return None
    for remote in _remotes_claiming(git, trial):
        records = remote_view_claims(git, remote, trial)
        if records:
            return RemoteRun(trial, records[0])
    return None


def remote_view_claims(git: Git, remote: Remote, trial: Trial) -> list[Claim]:
    return [read_claim(r) for r in RemoteRefs(git, remote).view.refs(claim_ref(trial.ref.key))]


def running_here(git: Git, trial: Trial) -> bool:
    return trial.status == QUEUED and held_by(trial_lock_path(git.common_dir(), trial.sweep, trial.name)) is not None


def follow_log(git: Git, trial: Trial, sleep: Callable[[float], None] = time.sleep) -> Iterator[str]:
    """The trial's log as it grows, in whole lines, until its run here ends; then the rest of it.

    Each piece is read from where the last one ended, so no line comes twice.
    """
    path = trial_log_path(git.common_dir(), trial.sweep, trial.name)
    offset = 0
    while True:
        running = running_here(git, trial)  # asked first: what the run wrote before it ended is read next
        if _size(path) < offset:  # a new run of the trial (a retry) started its log afresh
            offset = 0
        chunk = _read_from(path, offset)
        whole = chunk if not running else chunk[: chunk.rfind(b"\n") + 1]
        if whole:
            offset += len(whole)
            yield whole.decode("utf-8", "replace")
        if not running:
            return
        sleep(FOLLOW_POLL)


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read()
    except OSError:
        return b""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def latest_lines(git: Git, trial: Trial, count: int) -> list[str]:
    text = _read_from(trial_log_path(git.common_dir(), trial.sweep, trial.name), 0).decode("utf-8", "replace")
    return text.rstrip("\n").splitlines()[-count:] if text.strip() else []

