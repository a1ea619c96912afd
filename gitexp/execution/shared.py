"""``gitexp run`` of sweeps that a Git remote shares: their trials are claimed there, as workers claim them.

Once a sweep is on a remote, workers, CI jobs and runs in other clones take its
trials from there; claims made only in this clone would let them run those
trials again. So ``run`` first asks where each sweep it runs is shared, from
facts in Git, and without the network while there are none:

- this clone saw the sweep's record on a configured remote (in
  ``refs/gitexp/remotes/<remote>/gitexp/sweeps/``, which ``gitexp push``,
  ``gitexp pull``, workers and CI jobs write), or Git's remote-tracking branches
  hold its trial branches (``git clone``, ``git fetch``);
- then that remote says (one fetch of its sweep records and claims): it shares
  the sweep when its record is there, on the same history as this clone's (a
  sweep queued again under the same name is another sweep).

A remote's sweeps run as a worker limited to them runs them (``worker.Worker``:
the remote's claim refs, heartbeats, stale takeovers, each result published
there as its claim is dropped, all through ``claims.run_claimed``), with two
differences for a run in the user's clone: each result that lands also moves
this clone's trial branch, and the DVC outputs stay in this clone's cache until
``gitexp push`` sends them, as after any local run. A sweep on two remotes is
refused: its claims must be in one place. Every other sweep runs as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitexp.errors import ConcurrentChange, GitCommandError, UsageError
from gitexp.execution.claims import default_worker_id
from gitexp.execution.driver import (
    WRITE_ATTEMPTS,
    CombinedSource,
    SweepDriver,
    check_objective_metrics,
    plan_extension,
    sources_for,
)
from gitexp.execution.local import LocalExecutor, RunEvent, RunOptions, RunSummary, StaticTrials
from gitexp.execution.pipeline import RunOutcome
from gitexp.execution.pruning import TrialPruning
from gitexp.execution.worker import Worker, WorkerOptions
from gitexp.planning.queue import write_trials
from gitexp.store.git import ZERO_OID, Git, RefUpdate
from gitexp.store.naming import SWEEPS_NAMESPACE, sweep_ref
from gitexp.store.records import Ledger, Sweep, Trial
from gitexp.store.refstore import LocalRefs
from gitexp.store.remote import (
    Remote,
    RemoteRefs,
    TrackingView,
    fetch_experiments,
    fetch_sweeps_and_claims,
    resolve_remote,
    same_history,
)

OnEvent = Callable[[RunEvent], None]


# -- where each sweep is shared ---------------------------------------------------------


def seen_on_remotes(git: Git, sweeps: Sequence[Sweep]) -> dict[str, set[str]]:
    """For each sweep, the configured remotes this clone has seen it on (no network): sweep name -> remote names."""
    patterns: dict[str, tuple[str, str]] = {}
    for name in git.remote_names():
        remote = resolve_remote(git, name)
        for sweep in sweeps:
            patterns[remote.tracking(sweep_ref(sweep.name))] = (sweep.name, name)
            patterns[f"refs/remotes/{name}/{sweep.prefix}{sweep.name}/"] = (sweep.name, name)
    seen: dict[str, set[str]] = {}
    for record in git.refs(*patterns) if patterns else ():
        found = patterns.get(record.name) or patterns.get(record.name.rpartition("/")[0] + "/")
        if found:
            seen.setdefault(found[0], set()).add(found[1])
    return seen


def shared_on(git: Git, sweeps: Sequence[Sweep]) -> dict[str, str]:
    """The remote that shares each of ``sweeps`` that one shares: sweep name -> remote name.

    Asks only the remotes this clone has seen a sweep on; refuses a sweep that two share.
    """
    seen = seen_on_remotes(git, sweeps)
    homes: dict[str, list[str]] = {}
    for name in sorted({remote for remotes in seen.values() for remote in remotes}):
        asked = sorted((sweep for sweep in sweeps if name in seen.get(sweep.name, ())), key=lambda sweep: sweep.name)
        for sweep in shared_there(git, resolve_remote(git, name), asked):
            homes.setdefault(sweep, []).append(name)
    for sweep, remotes in homes.items():
        if len(remotes) > 1:
            raise UsageError(
                f"sweep {sweep} is shared on {' and '.join(remotes)}, and its trials are claimed on one remote: "
                f"run them with gitexp worker --remote NAME, naming the one its workers use"
            )
    return {sweep: remotes[0] for sweep, remotes in homes.items()}


def shared_there(git: Git, remote: Remote, sweeps: Sequence[Sweep]) -> list[str]:
    """The names of ``sweeps`` whose record ``remote`` holds on the same history as this clone's (one fetch)."""
    if not sweeps:
        return []
    try:
        fetch_sweeps_and_claims(git, remote)
    except GitCommandError as error:
        raise GitCommandError(
            f"cannot reach {remote.shown}, which shares sweep {sweeps[0].name} ({error.message}): gitexp run claims a shared "
            f"sweep's trials there, so that no worker runs one twice; check the remote and run again"
        ) from None
    there = {record.name: record.oid for record in TrackingView(git, remote).refs(SWEEPS_NAMESPACE)}
    return [
        sweep.name
        for sweep in sweeps
        if (theirs := there.get(sweep_ref(sweep.name))) and same_history(git, sweep.commit, theirs)
    ]


# -- running a remote's sweeps from this clone ---------------------------------------------


class SharedRun(Worker):
    """``gitexp run`` of some sweeps and trials that ``remote`` shares: a worker limited to them.

    ``sweeps`` run whole (growing and stopping as on the remote); ``trials``
    (``sweep/trial`` keys) run alone. Call ``connect`` first.
    """

    def __init__(self, git: Git, remote: str, sweeps: Sequence[str], trials: Sequence[str], options: RunOptions):
        self.whole = list(sweeps)
        self.trial_keys = list(trials)
        looked_at = self.whole or sorted({key.partition("/")[0] for key in self.trial_keys})
        worker_id = f"run-{default_worker_id()}"[:100]
        super().__init__(git, resolve_remote(git, remote), WorkerOptions(run=options, sweeps=tuple(looked_at), worker_id=worker_id))

    @property
    def note(self) -> str:
        return f"Claimed and published on {self.queue.remote.shown}, which shares {', '.join(self.options.sweeps)}"

    def make_executor(self, git: Git, on_event: OnEvent) -> LocalExecutor:
        return ResultsHere(git, self.options.run, on_event, claims=self.claims)

    def connect(self) -> None:
        self.queue.refresh()

    @property
    def drivers(self) -> list[SweepDriver]:
        return [driver for name, driver in self.queue.drivers.items() if name in self.whole]

    def expected_runs(self) -> int:
        return sum(driver.expected_runs() for driver in self.drivers) + len(self.named_trials())

    @property
    def bounded(self) -> bool:
        return all(driver.bounded for driver in self.drivers)

    def named_trials(self) -> list[Trial]:
        """The named trials as the remote has them now, those still to run."""
        if not self.trial_keys:
            return []
        statuses = self.options.run.runnable_statuses
        trials = Ledger(self.claims.store.view).trials(sorted({key.partition("/")[0] for key in self.trial_keys}))
        return [trial for trial in trials if trial.ref.key in self.trial_keys and trial.status in statuses]

    def run(self) -> RunSummary:
        summary = super().run() if self.whole else RunSummary()
        named = self.named_trials()
        if named:
            summary.add(self.executor.run(StaticTrials(named)))
        return summary


class ResultsHere(LocalExecutor):
    """The local executor with claims on a remote: each result that lands there moves this clone's branch too.

    By compare-and-swap from the queued tip (or creating the branch of a trial
    the remote's sweep grew); a branch checked out here, or moved, is left for ``gitexp pull``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.results: dict[str, str] = {}  # trial ref -> its result commit, while it is being published

    def execute(self, trial: Trial, worktree: Path, pruning: TrialPruning | None = None) -> tuple[RunOutcome, str]:
        outcome, result = super().execute(trial, worktree, pruning)
        self.results[trial.ref.ref] = result
        return outcome, result

    def run_one(self, trial: Trial) -> RunOutcome | None:
        outcome = super().run_one(trial)
        result = self.results.pop(trial.ref.ref, None)
        if outcome is not None and result is not None and trial.ref.ref != self.git.current_branch():
            store = LocalRefs(self.git)
            here = store.current([trial.ref.ref]).get(trial.ref.ref)
            if here in (None, trial.tip):
                store.swap([RefUpdate(trial.ref.ref, result, here or ZERO_OID)], message="gitexp: result published")
        return outcome


def extend_sweep(git: Git, name: str, more: int, remote: str | None) -> None:
    """Raise sweep ``name``'s trial budget by ``more`` where its trials are claimed: here, or on ``remote``.

    A shared run reads the remote's record, so that is the one extended, as
    drivers write there: a compare-and-swap on the record last fetched (the
    lease), redone on the record as it is then when another runner moved it.
    Each attempt is checked (``plan_extension``) before it is written.
    """
    home = resolve_remote(git, remote) if remote else None
    store = RemoteRefs(git, home) if home else LocalRefs(git)
    for _ in range(WRITE_ATTEMPTS):
        if home:  # its trials too: an adaptive sweep's budget counts them
            fetch_experiments(git, home, [Ledger(git).sweep(name).prefix])
        try:
            write_trials(git, plan_extension(store.view, Ledger(store.view).sweep(name), more), store=store)
            return
        except ConcurrentChange:
            continue
    raise ConcurrentChange(f"sweep {name!r} kept changing while it was being extended (other runners at work): try again")


# -- the whole run -------------------------------------------------------------------------


@dataclass
class RunPlan:
    """What ``gitexp run NAMES`` executes: some trials with claims in this clone, others with claims on remotes."""

    git: Git
    options: RunOptions
    source: CombinedSource
    local_total: int
    shared: list[SharedRun] = field(default_factory=list)

    @property
    def total(self) -> int:
        """How many trials the run has to start with (0: nothing to run)."""
        return self.local_total + sum(run.expected_runs() for run in self.shared)

    def expected_runs(self) -> int | None:
        """How many trials the run executes as far as is known now (it grows with adaptive sweeps);
        None when a sweep without a budget takes part."""
        parts = [self.source, *self.shared]
        return sum(part.expected_runs() for part in parts) if all(part.bounded for part in parts) else None

    @property
    def drivers(self) -> list:
        return [*self.source.sources, *(driver for run in self.shared for driver in run.drivers)]

    def run(self, on_event: OnEvent) -> RunSummary:
        summary = RunSummary()
        if self.local_total:
            summary.add(LocalExecutor(self.git, self.options, on_event).run(self.source))
        for shared in self.shared:
            shared.executor.on_event = on_event  # the display is made once the totals are known
            summary.add(shared.run())
        return summary


def plan_run(git: Git, names: Sequence[str], options: RunOptions, more: int | None = None) -> RunPlan:
    """Split ``names`` (sweeps and trials; every sweep when none) by where their trials are claimed, and connect.

    ``more``: extend the one sweep named by that many trials first (``--more``), where its trials are claimed.
    """
    ledger = Ledger(git)
    sweep_names = set(ledger.sweep_names())
    wanted = list(dict.fromkeys(names)) or sorted(sweep_names)
    sweep_of = {name: name if name in sweep_names else ledger.resolve_trial(name).sweep for name in wanted}
    involved = [ledger.sweep(name) for name in sorted(set(sweep_of.values()))]
    homes = shared_on(git, involved)
    for sweep in involved:
        checked = sweep.name in wanted and (sweep.name in homes or more is not None)
        problem = check_objective_metrics(git, sweep) if checked else None
        if problem:  # as sources_for refuses a sweep run here, before an extension is written
            raise UsageError(f"sweep {sweep.name}: {problem}")
    if more is not None:
        extend_sweep(git, wanted[0], more, homes.get(wanted[0]))
    local = [name for name in wanted if sweep_of[name] not in homes]
    source, total = sources_for(git, local, options.runnable_statuses) if local else (CombinedSource([]), 0)
    plan = RunPlan(git, options, source, total)
    for remote in sorted(set(homes.values())):
        mine = [name for name in wanted if homes.get(sweep_of[name]) == remote]
        keys = [ledger.resolve_trial(name).ref.key for name in mine if name not in sweep_names]
        shared = SharedRun(git, remote, [name for name in mine if name in sweep_names], keys, options)
        shared.connect()
        plan.shared.append(shared)
    return plan
