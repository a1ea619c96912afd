"""The remote worker: claim queued trials on a Git remote, run them here, push their results.

A worker is the local executor with two things swapped: its trials come from
the remote (``RemoteQueue``, fetched into this clone's mirror of the remote),
and its claims and results are compare-and-swaps on the remote (``Claims``
over ``RemoteRefs``). Running a trial (worktree, pipeline, result commit) is
the local executor's own code. The worker takes the trial's flock in this
clone too, so it never runs a trial at the same time as a ``gitexp run`` here.
Before a succeeded trial's result is published, its outputs go to the DVC
remote (when the project has one), as a CI job's do, so whoever pulls the
result can apply it with its outputs.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from gitexp.errors import GitCommandError, NetworkTimeout, NotFoundError, UsageError
from gitexp.execution.claims import DEFAULT_HEARTBEAT, Claims, Runner, clone_id, default_worker_id
from gitexp.execution.driver import CombinedSource, SweepDriver
from gitexp.execution.local import LocalExecutor, RunOptions, RunSummary, check_stage_of
from gitexp.execution.pipeline import RunOutcome
from gitexp.execution.pruning import TrialPruning
from gitexp.project.outputs import push_outputs
from gitexp.store.claim_records import DEFAULT_STALE_AFTER
from gitexp.store.git import Git
from gitexp.store.naming import MAX_NAME_LENGTH, NAME_PATTERN, SWEEPS_NAMESPACE
from gitexp.store.records import SWEEP_FILE, WITH_OUTPUTS, Ledger, Sweep, Trial
from gitexp.store.remote import Remote, RemoteRefs, fetch_objects, served_namespaces, sync_mirror

DEFAULT_POLL = 5.0
RESYNC_AFTER = 30.0  # seconds the drivers' view of a remote where nothing moved is trusted
MAX_BACKOFF = 8  # a quiet remote is polled at most this many poll intervals apart
REFRESH_AFTER = 30.0  # seconds a fetched view with trials left in it is trusted (until a claim shows it is old)
FETCH_ATTEMPTS = 3
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h)?\Z")
_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str, option: str) -> float:
    """Seconds from ``90``, ``90s``, ``10m`` or ``1h``."""
    match = _DURATION.match(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"{option} {text!r} is not a duration: write seconds or minutes or hours, such as 90s, 10m or 1h")
    return float(match.group(1)) * _UNITS[match.group(2)]


def validate_worker_id(worker_id: str) -> str:
    if len(worker_id) > MAX_NAME_LENGTH or not NAME_PATTERN.match(worker_id):
        raise UsageError(
            f"the worker id {worker_id!r} is not allowed: use up to {MAX_NAME_LENGTH} letters, digits, '.', '_' and '-'"
        )
    return worker_id


@dataclass(frozen=True)
class WorkerOptions:
    run: RunOptions = field(default_factory=RunOptions)
    sweeps: tuple[str, ...] = ()
    idle_exit: float = 0.0  # seconds to wait for new trials once nothing is left
    stale_after: float = DEFAULT_STALE_AFTER
    heartbeat: float = DEFAULT_HEARTBEAT
    poll: float = DEFAULT_POLL
    worker_id: str | None = None

    def validate(self) -> None:
        self.run.validate()
        if not 0 <= self.idle_exit < math.inf:  # NaN too
            raise UsageError(f"--idle-exit {self.idle_exit:g}: give a number of seconds, 0 or more, such as 600")
        if not (0 < self.heartbeat < math.inf and 0 < self.poll < math.inf):
            raise UsageError("the heartbeat and poll intervals must be above 0 seconds")
        if self.heartbeat * 3 > self.stale_after:
            raise UsageError(
                f"--stale-after {self.stale_after:g}s is too short for a heartbeat every {self.heartbeat:g}s: "
                "give at least three heartbeats, e.g. --stale-after 10m"
            )
        if self.worker_id is not None:
            validate_worker_id(self.worker_id)


class RemoteQueue:
    """The trials of a remote's sweeps, as a ``TrialSource``: one ``SweepDriver`` per sweep, writing to the remote.

    The drivers are synced with the remote whenever the last look is old, so
    they see what other workers did. Their writes (new trials of adaptive
    sweeps, cancellations, a stop) are compare-and-swaps on the remote like
    the claims, so concurrent workers grow a sweep once.
    """

    def __init__(self, git: Git, remote: Remote, claims: Claims, options: WorkerOptions):
        self.git = git
        self.remote = remote
        self.claims = claims
        self.options = options
        self.prefixes = {Ledger(git).prefix}
        self.drivers: dict[str, SweepDriver] = {}
        self.source = CombinedSource([])
        self.fetched_at = float("-inf")
        self.synced_at = float("-inf")
        self.outdated = False  # a trial of the view was claimed or finished elsewhere meanwhile

    def refresh(self) -> bool:
        """Fetch what moved of the remote's sweeps, claims and trials (those this worker serves), and sync each
        sweep's driver with them; True when anything moved."""
        changed = self._fetch()
        if not changed and time.monotonic() - self.synced_at < min(RESYNC_AFTER, self.options.stale_after / 4):
            return False  # nothing moved there: the drivers' view stands (a claim going stale is seen within RESYNC_AFTER)
        wanted = set(self.options.sweeps)
        ledger = Ledger(self.claims.store.view)
        sweeps = [s for s in ledger.sweeps() if not wanted or s.name in wanted]
        prefixes = {sweep.prefix for sweep in sweeps}
        if not prefixes <= self.prefixes:  # a sweep with its own branch prefix: fetch its trials too
            self.prefixes |= prefixes
            changed = self._fetch() or changed  # only trial branches arrive: the ledger reads them afresh, its sweeps stand
        held = {key for key, claim in self.claims.known().items() if not self.claims.may_take_over(claim)}
        statuses = self.options.run.runnable_statuses
        drivers = {}
        for sweep in sweeps:
            driver = self.drivers.get(sweep.name)
            if driver is None:
                driver = SweepDriver(self.git, sweep, statuses, self.claims.store, held, shuffle=True, ledger=ledger)
                driver.resume_when_retrying()  # in the remote's record: a run of a sweep the remote shares
            else:
                driver.sync(sweep, held, ledger)
            drivers[sweep.name] = driver
        # a sweep removed from the remote while one of its trials runs here: finish that trial
        drivers.update((name, d) for name, d in self.drivers.items() if name not in drivers and d.running)
        self.drivers = drivers
        self.source.sources = list(drivers.values())
        self.synced_at = time.monotonic()
        return changed

    def has_work(self) -> bool:
        return any(driver.has_work() for driver in self.drivers.values())

    def check_remote(self) -> dict[str, str]:
        """Reach the remote and find the sweeps asked for there, without writing a ref here: name -> record."""
        try:
            records = self.git.ls_remote(self.remote.spec, [f"{SWEEPS_NAMESPACE}*"])
        except NetworkTimeout:
            raise  # its line already names the remote and the fix
        except GitCommandError as error:
            raise NotFoundError(
                f"cannot reach {self.remote.shown} ({error.message}): check the remote's URL and your access"
            ) from None
        there = {ref[len(SWEEPS_NAMESPACE) :]: oid for ref, oid in records.items()}
        wanted = self.options.sweeps or sorted(there)
        missing = [name for name in wanted if name not in there]
        if missing:
            known = ", ".join(sorted(there)) or "none"
            raise NotFoundError(
                f"{self.remote.shown} has no sweep named {missing[0]!r} (sweeps there: {known}): "
                "push the sweep and its trial branches to it first"
            )
        return {name: there[name] for name in wanted}

    def check_stage(self, records: dict[str, str]) -> None:
        """Refuse a --stage that the baseline of a sweep in ``records`` (name -> record) does not define.

        Before any ref is written, here or there: the records and baselines are
        read as objects, those this clone lacks fetched by id without a ref
        (so a refusal leaves even the mirror of the remote as it was).
        """
        if self.options.run.stage is None or not records:
            return
        fetch_objects(self.git, self.remote, list(records.values()))
        blobs = self.git.read_blobs([f"{oid}:{SWEEP_FILE}" for oid in records.values()])
        sweeps = [Sweep.from_json(oid, json.loads(blob)) for oid, blob in zip(records.values(), blobs) if blob]
        fetch_objects(self.git, self.remote, [sweep.baseline for sweep in sweeps])
        check_stage_of(self.git, sweeps, [], self.options.run.stage)

    def _fetch(self) -> bool:
        namespaces = served_namespaces(sorted(self.prefixes), self.options.sweeps)
        for attempt in range(FETCH_ATTEMPTS):
            try:
                changed = sync_mirror(self.git, self.remote, namespaces)
                break
            except GitCommandError:
                if attempt == FETCH_ATTEMPTS - 1:
                    raise
                time.sleep(self.options.poll * (attempt + 1) / FETCH_ATTEMPTS)
        self.fetched_at = time.monotonic()
        self.outdated = False
        return changed

    # -- TrialSource ---------------------------------------------------------

    def next_trial(self) -> Trial | None:
        """The next trial of the view, fetched again only when it is old, proved outdated, or has none left:
        a trial others took meanwhile costs one push that loses (and is how the view proves outdated)."""
        fresh = not self.outdated and time.monotonic() - self.fetched_at <= REFRESH_AFTER
        if not fresh:
            self.refresh()
        trial = self.source.next_trial()
        if trial is None and fresh:  # what looked empty may have changed since
            self.refresh()
            trial = self.source.next_trial()
        return trial

    def finished(self, trial: Trial, outcome: RunOutcome | None) -> None:
        self.source.finished(trial, outcome)
        if outcome is None:  # not run here: another runner holds it or finished it since the last look
            self.outdated = True

    def all_done(self) -> bool:
        """Whether the sweeps named by ``--sweep`` are over: none has a trial queued, one running anywhere, or one
        its strategy would still add (a worker serving every sweep of the remote may see new ones pushed)."""
        return bool(self.options.sweeps) and all(
            not (driver.running or driver.queued or driver.elsewhere or driver.has_work()) for driver in self.drivers.values()
        )

    def wait_for_work(self, idle_exit: float) -> bool:
        """Poll the remote until a trial can be run: True. False once none came for ``idle_exit``
        seconds and no adaptive sweep waits on trials that other workers run (their results may grow it),
        or at once when the sweeps it was given are over (an array task then frees its node)."""
        deadline = time.monotonic() + idle_exit
        interval = self.options.poll
        while True:
            if self.all_done():
                return False
            if any(driver.waits_on_others() for driver in self.drivers.values()):
                deadline = max(deadline, time.monotonic() + interval)
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(interval, left))
            changed = self.refresh()
            if self.has_work():
                return True
            # while nothing moves on the remote, look less and less often (up to MAX_BACKOFF times the poll)
            interval = self.options.poll if changed else min(interval * 2, self.options.poll * MAX_BACKOFF)


class Worker:
    """Runs a remote's queued trials until none are left (and none came for ``idle_exit`` seconds)."""

    def __init__(self, git: Git, remote: Remote, options: WorkerOptions, on_event=lambda event: None):
        options.validate()
        self.options = options
        self.worker_id = options.worker_id or default_worker_id()
        runner = Runner(worker=self.worker_id, clone=clone_id(git.common_dir()))
        self.claims = Claims(git, RemoteRefs(git, remote), runner, options.stale_after, options.heartbeat)
        self.queue = RemoteQueue(git, remote, self.claims, options)
        self.executor = self.make_executor(git, on_event)

    def make_executor(self, git: Git, on_event) -> LocalExecutor:
        """What runs each claimed trial here: the local executor, pushing outputs to the DVC remote before each result."""
        return OutputPushingExecutor(git, self.options.run, on_event, claims=self.claims, host=f"worker:{self.worker_id}")

    def connect(self) -> None:
        """Reach the remote and check the sweeps asked for and the stage, before anything runs or is written
        (while the first warm DVC loads)."""
        with self.executor.load_dvc():
            self.queue.check_stage(self.queue.check_remote())
            self.queue.refresh()

    def run(self) -> RunSummary:
        summary = RunSummary()
        while True:
            summary.add(self.executor.run(self.queue))
            if not self.queue.wait_for_work(self.options.idle_exit):
                return summary


class OutputPushingExecutor(LocalExecutor):
    """The local executor, with a succeeded or pruned trial's outputs pushed to the DVC remote before its result is published.

    The push runs while the claim's heartbeat goes on; a failed push stops the
    worker with DVC's error, the claim is dropped and the trial stays queued.
    Each result's push claims the next trial too (``takes_ahead``).
    """

    takes_ahead = True

    def execute(self, trial: Trial, worktree: Path, pruning: TrialPruning | None = None) -> tuple[RunOutcome, str]:
        outcome, result = super().execute(trial, worktree, pruning)
        if outcome.status in WITH_OUTPUTS:
            push_outputs(worktree / trial.project, self.git.env, trial.ref.key)
        return outcome, result
