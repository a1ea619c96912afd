"""Driving a sweep while it runs: adaptive strategies, concurrency and early stopping.

A ``SweepDriver`` is the executor's ``TrialSource`` for one sweep. It hands out
queued trials, asks the strategy for new ones as results come in (writing them
as branches under the same batch discipline as ``gitexp queue``), keeps at
most the sweep's concurrency in flight, and stops the sweep when an early
stopping rule holds: queued trials then get a ``cancelled`` result commit and
the sweep record says why it stopped. All state is rebuilt from Git, so a
sweep resumes from any clone.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Collection, Sequence
from typing import Any

from gitexp.errors import ConcurrentChange, UsageError
from gitexp.execution.pipeline import RunOutcome
from gitexp.numbers import is_number
from gitexp.planning.queue import MAX_TRIALS_PER_QUEUE, ParamsTargets, next_index, objective_problem, pruning_problem, write_trials
from gitexp.project.model import load_project
from gitexp.store.claim_records import claim_ref
from gitexp.store.git import ZERO_OID, Git, RefUpdate
from gitexp.store.live import LiveClaims
from gitexp.store.naming import CLAIMS_NAMESPACE
from gitexp.store.records import ARCHIVED_TRIALS, CANCELLED, QUEUED, SUCCEEDED, Ledger, Sweep, Trial, cancel_message
from gitexp.store.refstore import LocalRefs, RefStore
from gitexp.strategies import strategy_for
from gitexp.strategies.base import TrialOutcome, TrialPlan
from gitexp.sweep.spec import SweepSpec


def ran(trial: Trial) -> bool:
    """Whether the trial's result is of a run: a trial cancelled before it ran (a sweep's stop) was not tried,
    one stopped while it ran (``gitexp stop``, its result names a host) was, and is not suggested again."""
    return trial.status != CANCELLED or trial.host is not None


def outcome_of(trial: Trial) -> TrialOutcome:
    return TrialOutcome(trial.params, trial.status, trial.metrics, trial.tags)


WRITE_ATTEMPTS = 3


class SweepDriver:
    """Feeds one sweep's trials to an executor and grows adaptive sweeps.

    Its refs are written to ``store``: this repository for ``gitexp run``, the
    remote for a worker, which calls ``sync`` after each fetch to see what the
    other runners did (trials added, run or held, the sweep stopped). A write
    that loses a race to another runner is redone on the sweep as it now is.
    """

    def __init__(
        self,
        git: Git,
        sweep: Sweep,
        runnable_statuses: Sequence[str] = (QUEUED,),
        store: RefStore | None = None,
        held: Collection[str] = (),
        shuffle: bool = False,
        ledger: Ledger | None = None,
    ):
        self.git = git
        self.store = store or LocalRefs(git)
        self.runnable_statuses = tuple(runnable_statuses)
        self.shuffle = shuffle  # workers starting together should not all reach for the same trial
        self.running: list[Trial] = []
        self.ran: dict[str, Trial] = {}  # trials finished here, as they ended, by key (see sync)
        self.handed_out = 0  # trials next_trial gave this run
        self.stop_reason: str | None = None
        self.sync(sweep, held, ledger)

    def sync(self, sweep: Sweep, held: Collection[str] = (), ledger: Ledger | None = None) -> None:
        """Read the sweep's trials again from the store's view; ``held``: keys of trials other runners hold.

        ``ledger`` is the caller's reading of that view, when it has one. The
        trials this driver runs stay its own. A stop decided here whose record
        lost a race is recorded now.
        """
        self.sweep = sweep
        self.spec = SweepSpec.from_json(sweep.spec)
        self.strategy = strategy_for(self.spec)
        self.held = frozenset(held)
        ours = {t.ref.key for t in self.running}
        trials = (ledger or Ledger(self.store.view)).trials([sweep.name])
        self.next_index = next_index(sweep, trials)
        # A trial that ended here whose result the view does not show yet (a worker tells the outcome before
        # the push that publishes it) is as it ended, and not to run again: else it would be handed out again.
        ended = {t.ref.key for t in trials if (done := self.ran.get(t.ref.key)) is not None and done.tip == t.tip}
        trials = [self.ran[t.ref.key] if t.ref.key in ended else t for t in trials]
        others = [t for t in trials if t.ref.key not in ours]
        runnable = [t for t in others if t.status in self.runnable_statuses and t.ref.key not in ended]
        self.completed = [t for t in others if t.finished and t.status not in self.runnable_statuses and ran(t)]
        self.queued = [t for t in runnable if t.ref.key not in self.held]
        self.elsewhere = [t for t in runnable if t.ref.key in self.held]  # pending, but not ours
        if self.shuffle:
            random.shuffle(self.queued)
        if sweep.state.get("stopped"):
            self.stop_reason = sweep.state["stopped"]
        elif self.stop_reason:
            self.stop(self.stop_reason)

    @functools.cached_property
    def targets(self) -> ParamsTargets:
        """The baseline's params files, read only when the sweep grows."""
        project = load_project(self.git, self.sweep.baseline, self.sweep.project)
        return ParamsTargets(self.git, self.sweep.baseline, project, self.sweep.data)

    # -- TrialSource ---------------------------------------------------------

    def next_trial(self) -> Trial | None:
        if self.stop_reason or self.at_concurrency_limit():
            return None
        if not self.queued:
            self._grow()
        if not self.queued:
            return None
        trial = self.queued.pop(0)
        self.running.append(trial)
        self.handed_out += 1
        return trial

    def finished(self, trial: Trial, outcome: RunOutcome | None) -> None:
        self.running = [t for t in self.running if t.ref != trial.ref]
        if outcome is None:
            self.elsewhere.append(trial)
            return
        done = Trial(**{**trial.__dict__, "status": outcome.status, "metrics": dict(outcome.metrics)})
        self.completed.append(done)
        self.ran[trial.ref.key] = done
        if outcome.status == SUCCEEDED and not self.stop_reason:
            reason = early_stopping_reason(self.spec, outcome.metrics)
            if reason:
                self.stop(reason)

    def at_concurrency_limit(self) -> bool:
        """Adaptive strategies learn from results, so the sweep's concurrency bounds what runs
        without feedback, here and elsewhere; static sweeps run as many at once as executors allow."""
        return self.strategy.adaptive and len(self.running) + len(self.elsewhere) >= self.spec.concurrency

    def has_work(self) -> bool:
        """Whether ``next_trial`` would hand out a trial now (queued, or one the strategy would create)."""
        if self.stop_reason or self.at_concurrency_limit():
            return False
        return bool(self.queued) or bool(self._suggest(1))

    def waits_on_others(self) -> bool:
        """Whether trials other runners hold may still make this (adaptive) sweep grow."""
        return self.strategy.adaptive and not self.stop_reason and bool(self.elsewhere)

    @property
    def budget(self) -> int | None:
        """The most trials the sweep will have: ``max_trials``, a grid's size, a hyperband schedule's; None when a
        strategy decides as it goes (bayes without ``max_trials``)."""
        return self.strategy.planned_trials()

    @property
    def bounded(self) -> bool:
        """Whether ``expected_runs`` is the whole count, not only a floor (a sweep without a budget)."""
        return self.budget is not None

    def expected_runs(self) -> int:
        """How many trials this run executes, as far as can be told now: those handed out so far and those still
        to start here within the budget (or the queued ones, without one). Never below what was handed out."""
        if self.stop_reason:
            return self.handed_out
        if self.budget is None:
            return self.handed_out + len(self.queued)
        left = self.budget - len(self.completed) - len(self.running) - len(self.elsewhere)
        return self.handed_out + max(len(self.queued), left)

    # -- growing and stopping ---------------------------------------------------

    def _grow(self) -> None:
        self._check_objective()
        for _ in range(WRITE_ATTEMPTS):
            if self.queued or self.stop_reason:  # another runner grew or stopped the sweep meanwhile
                return
            plans = self._suggest(max(1, self.spec.concurrency - len(self.running) - len(self.elsewhere)))
            if not plans:
                return
            try:
                self.sweep, new = write_trials(
                    self.git,
                    self.sweep,
                    plans,
                    spec=self.spec,
                    targets=self.targets,
                    first_index=self.next_index,
                    store=self.store,
                )
            except ConcurrentChange:
                self._reread()
                continue
            self.next_index += len(new)
            self.queued += new
            return

    def _check_objective(self) -> None:
        """Refuse to steer by a metric that no result has: every trial would look equally bad.

        ``gitexp run`` checks the baseline's metrics first; a baseline that never ran cannot tell.
        """
        objective = self.spec.objective
        succeeded = [t for t in self.completed if t.status == SUCCEEDED]
        if not (self.strategy.adaptive and objective and succeeded):
            return
        if any(objective.metric in t.metrics for t in succeeded):
            return
        found = ", ".join(sorted({key for t in succeeded for key in t.metrics})[:8]) or "none"
        raise UsageError(
            f"sweep {self.sweep.name} steers by {objective.metric!r}, but no result has that metric "
            f"(metrics: {found}): gitexp remove {self.sweep.name}, then queue it again with one of them as objective"
        )

    def _suggest(self, limit: int) -> list[TrialPlan]:
        if self.sweep.state.get(ARCHIVED_TRIALS):  # its archived trials have no branch: it would make them again
            return []
        pending = [outcome_of(t) for t in self.running + self.elsewhere]
        return self.strategy.suggest([outcome_of(t) for t in self.completed], pending, limit)

    def stop(self, reason: str) -> None:
        """Start no new trial: cancel the queued ones and record why in the sweep."""
        self.stop_reason = reason
        cancel_trials(self.git, self.queued, reason, self.store)
        self.queued = []
        for _ in range(WRITE_ATTEMPTS):
            stopped = dataclasses.replace(self.sweep, state={**self.sweep.state, "stopped": reason})
            try:
                self.sweep, _ = write_trials(self.git, stopped, store=self.store)
                return
            except ConcurrentChange:
                self.sweep = Ledger(self.store.view).sweep(self.sweep.name)
        # A remote's view is as new as its last fetch: the next sync records the stop.

    def resume_when_retrying(self) -> None:
        """``--retry-cancelled`` runs a stopped sweep's cancelled trials again, so its stop is lifted where it is kept."""
        if self.stop_reason and CANCELLED in self.runnable_statuses:
            self.resume()

    def resume(self) -> None:
        """Lift the sweep's stop (its cancelled trials are to run again), recording it in the sweep."""
        for _ in range(WRITE_ATTEMPTS):
            resumed = dataclasses.replace(self.sweep, state={k: v for k, v in self.sweep.state.items() if k != "stopped"})
            try:
                sweep, _ = write_trials(self.git, resumed, store=self.store)
            except ConcurrentChange:
                self.sweep = Ledger(self.store.view).sweep(self.sweep.name)
                continue
            self.stop_reason = None
            self.sync(sweep, self.held)
            return
        raise ConcurrentChange(f"sweep {self.sweep.name} kept changing while its stop was lifted: run again")

    def _reread(self) -> None:
        """Another runner changed the sweep: take it as the store's view has it now."""
        self.sync(Ledger(self.store.view).sweep(self.sweep.name), self.held)


def early_stopping_reason(spec: SweepSpec, metrics: dict[str, Any]) -> str | None:
    """The first early-stopping rule the metrics meet, as a sentence; rules are ORed."""
    for rule in spec.early_stopping:
        value = metrics.get(rule.metric)
        if is_number(value) and rule.is_met(float(value)):
            sign = ">=" if rule.goal == "maximize" else "<="
            return f"early stopping: {rule.metric} = {value:g} {sign} {rule.value:g}"
    return None


def cancel_trials(git: Git, trials: Sequence[Trial], reason: str, store: RefStore | None = None) -> list[Trial]:
    """Give each queued trial an empty ``cancelled`` result commit (shown, not deleted); answer those a runner holds.

    A trial another runner has meanwhile claimed or finished keeps what it has:
    each cancel is one compare-and-swap of the branch and the trial's claim, which
    must be absent or the dead one the store's view has (deleted with it), and a
    runner claims only a branch still at its queued tip. So a trial is never run
    after its cancel landed, nor cancelled under a runner that claimed it first.
    """
    store = store or LocalRefs(git)
    live = LiveClaims.read(git)
    seen = {record.name: record.oid for record in store.view.refs(*{f"{CLAIMS_NAMESPACE}{t.sweep}/" for t in trials})} if trials else {}
    held = []
    for trial in trials:
        claim = claim_ref(trial.ref.key)
        dead = seen.get(claim, ZERO_OID) if live.holder(trial) is None else ZERO_OID  # a live claim is never deleted
        commit = git.commit_tree(f"{trial.tip}^{{tree}}", cancel_message(trial, reason), [trial.tip])
        if store.swap([RefUpdate(trial.ref.ref, commit, trial.tip), RefUpdate(claim, ZERO_OID, dead)], message="gitexp: cancel"):
            continue
        now = store.current([trial.ref.ref, claim])
        if now.get(trial.ref.ref) == trial.tip and claim in now:  # else finished or cancelled by another meanwhile
            held.append(trial)
    return held


def plan_extension(git: Git, sweep: Sweep, more: int) -> Sweep:
    """The sweep with its trial budget raised by ``more`` and a stop cleared (``gitexp run --more N``), for
    ``write_trials`` to record; refuses, before anything is written, more trials than its space holds."""
    if not 1 <= more <= MAX_TRIALS_PER_QUEUE:
        raise UsageError(f"--more {more}: give a number of additional trials of 1 or more (at most {MAX_TRIALS_PER_QUEUE})")
    spec = SweepSpec.from_json(sweep.spec)
    planned = spec.num_planned_trials() or len(Ledger(git).trials([sweep.name]))
    if not strategy_for(spec).adaptive and spec.space.is_discrete and planned + more > spec.space.grid_size():
        left = spec.space.grid_size() - planned
        fix = f"give --more {left} or less" if left else "queue a new sweep with more values"
        raise UsageError(f"sweep {sweep.name} has {left} untried point(s) of its {spec.space.grid_size()}: {fix}")
    spec = dataclasses.replace(spec, max_trials=planned + more)
    state = {key: value for key, value in sweep.state.items() if key != "stopped"}
    return dataclasses.replace(sweep, spec=spec.to_json(), state=state)


def check_objective_metrics(git: Git, sweep: Sweep) -> str | None:
    """A problem with the sweep's objective or stopping metrics, or None.

    Refused when dvc.yaml declares no metrics at all, or when the baseline has
    metrics and none is named so; a project that never ran yet cannot tell.
    """
    spec = SweepSpec.from_json(sweep.spec)
    if not spec.named_metrics() and not spec.pruner:
        return None
    project = load_project(git, sweep.baseline, sweep.project)
    return objective_problem(git, spec, sweep.baseline, project) or pruning_problem(git, spec, sweep.baseline, project)


class CombinedSource:
    """Several sources (one per sweep, or a list of named trials) drawn from in turn."""

    def __init__(self, sources: Sequence[Any]):
        self.sources = list(sources)
        self.owner: dict[Any, Any] = {}
        self.turn = 0

    def next_trial(self) -> Trial | None:
        for offset in range(len(self.sources)):
            source = self.sources[(self.turn + offset) % len(self.sources)]
            trial = source.next_trial()
            if trial is not None:
                self.turn = (self.turn + offset + 1) % len(self.sources)
                self.owner[trial.ref] = source
                return trial
        return None

    def finished(self, trial: Trial, outcome: RunOutcome | None) -> None:
        self.owner.pop(trial.ref).finished(trial, outcome)

    def expected_runs(self) -> int:
        return sum(source.expected_runs() for source in self.sources)

    @property
    def bounded(self) -> bool:
        return all(source.bounded for source in self.sources)


def selection(git: Git, names: Sequence[str]) -> tuple[list[Sweep], list[Trial]]:
    """The sweeps and the single trials ``names`` name (every sweep when none is named)."""
    ledger = Ledger(git)
    sweep_names = set(ledger.sweep_names())
    wanted = [name for name in names if name in sweep_names] if names else sorted(sweep_names)
    return [ledger.sweep(name) for name in wanted], [ledger.resolve_trial(name) for name in names if name not in sweep_names]


def sources_for(git: Git, names: Sequence[str], runnable_statuses: Sequence[str]) -> tuple[CombinedSource, int]:
    """What ``gitexp run NAMES`` executes: whole sweeps through drivers, named trials as they are.

    Refuses a sweep whose objective or early-stopping metric the project does not declare.
    """
    from gitexp.execution.local import StaticTrials

    ledger = Ledger(git)
    sweeps, named_trials = selection(git, names)
    sources: list[Any] = []
    total = 0
    for sweep in sweeps:
        driver = SweepDriver(git, sweep, runnable_statuses, ledger=ledger)
        driver.resume_when_retrying()
        if driver.expected_runs() == 0 or driver.stop_reason:
            continue
        refuse_objective_problems(git, sweep)
        sources.append(driver)
        total += driver.expected_runs()
    static = [t for t in named_trials if t.status in runnable_statuses]
    if static:
        sources.append(StaticTrials(static))
        total += len(static)
    return CombinedSource(sources), total


def refuse_objective_problems(git: Git, sweep: Sweep) -> None:
    problem = check_objective_metrics(git, sweep)
    if problem:
        raise UsageError(f"sweep {sweep.name}: {problem}")
