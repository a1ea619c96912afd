"""Pruning: stopping a running trial whose dvclive steps lose to the sweep's other trials.

Each sweep with a pruner gets one Optuna study in memory (``SweepPruner``),
rebuilt from Git once and then kept current, never rebuilt from scratch:

- finished trials (succeeded, pruned) from the dvclive step file of the
  steered metric in their result commits, each read once;
- this executor's running trials as RUNNING trials that report each new step
  as dvclive writes it (``TrialPruning``: at most once a second, and only when
  the file grew);
- other runners' running trials (peers) from the steps their claims'
  heartbeats carry (``Claim.steps``), so that pruners on every machine see the
  same running trials without a server.

Optuna's pruner decides; gitexp only asks it (``Trial.should_prune``) at each
step from ``min_step`` on. Optuna's rules hold as they are: the median and
percentile pruners compare with completed trials, successive halving and
hyperband with every trial that reached a rung, running ones included. For
those two, a trial rebuilt from Git or seen through a heartbeat is asked
about too, step by step, so that its rungs are recorded as its own runner's
pruner recorded them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from gitexp.errors import GitCommandError, UsageError
from gitexp.execution.claims import Claims
from gitexp.numbers import finite
from gitexp.project.metrics import parse_step_tsv, step_file, step_folder
from gitexp.project.model import load_project
from gitexp.store.claim_records import Claim
from gitexp.store.git import Git
from gitexp.store.records import FAILED, PRUNED, SUCCEEDED, Ledger, Trial, dumps_compact
from gitexp.store.remote import RemoteRefs, fetch_experiments, fetch_sweeps_and_claims
from gitexp.sweep.pruner import PrunerSpec, make_pruner
from gitexp.sweep.spec import SweepSpec

LOOK_EVERY = 1.0  # seconds between reads of a running trial's step file (git config gitexp.pruneInterval)
INTERVAL_CONFIG = "gitexp.pruneInterval"
HEARTBEAT_STEPS = 500  # the most (latest) steps a heartbeat carries
_REPLAYED = ("successive_halving", "hyperband")  # pruners that record rungs on the trials they are asked about

Steps = dict[int, float]


class StepFile:
    """One dvclive step file of a running trial, read as it grows: only the bytes added since the last read.

    What the checkout held before the run (the baseline's curve, committed)
    is not the run's: the file counts once dvclive has written it anew.
    """

    def __init__(self, path: Path, metric: str):
        self.path = path
        self.column = metric.rsplit("/", 1)[-1]
        self.before = _identity(path)
        self._reset(None)

    def _reset(self, identity) -> None:
        self.identity = identity
        self.offset = 0
        self.partial = b""
        self.columns: tuple[int, int] | None = None  # (step, value) column indices, once the header is read

    def read(self) -> Steps:
        """The steps written since the last read."""
        identity = _identity(self.path)
        if identity is None or identity == self.before:
            return {}
        self.before = None
        if identity[0] != (self.identity or (None,))[0] or identity[1] < self.offset:
            self._reset(identity)  # written anew
        self.identity = identity
        if identity[1] == self.offset:
            return {}
        try:
            with self.path.open("rb") as file:
                file.seek(self.offset)
                data = file.read()
        except OSError:
            return {}
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        return dict(step for line in lines if (step := self._parse(line.decode("utf-8", "replace"))) is not None)

    def _parse(self, line: str) -> tuple[int, float] | None:
        fields = line.rstrip("\r").split("\t")
        if self.columns is None:
            names = [name for name in fields if name not in ("step", "timestamp")]
            value = self.column if self.column in names else (names[-1] if names else None)
            if "step" in fields and value is not None:
                self.columns = (fields.index("step"), fields.index(value))
            return None
        try:
            step, value = int(float(fields[self.columns[0]])), float(fields[self.columns[1]])
        except (IndexError, ValueError):
            return None
        return (step, value) if finite(value) is not None else None


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


class SweepPruner:
    """One sweep's Optuna study and pruner, fed with every trial's steps of the steered metric."""

    def __init__(self, spec: PrunerSpec, metric: str, goal: str, file: str):
        import optuna

        optuna.logging.set_verbosity(logging.WARNING)  # a line per trial would go to the run's display
        self.spec = spec
        self.metric = metric
        self.file = file  # the repo-relative step file of the metric
        self.study = optuna.create_study(direction=goal, pruner=make_pruner(spec))
        self.replay = spec.name in _REPLAYED or spec.options.get("wrapped", {}).get("name") in _REPLAYED
        self.running: dict[str, object] = {}  # trial key -> Optuna trial, here or elsewhere
        self.steps: dict[str, Steps] = {}  # what each running trial reported
        self.local: set[str] = set()
        self.done: set[str] = set()
        self.lock = threading.Lock()

    # -- trials of this executor -----------------------------------------------

    def start(self, key: str) -> None:
        with self.lock:
            self.local.add(key)
            self._running(key)

    def report(self, key: str, steps: Steps, ask: bool = True) -> bool:
        """Report ``steps`` of a trial running here; whether the pruner stops it at its latest step (when asked)."""
        with self.lock:
            trial = self._report(key, steps)
            last = max(self.steps[key], default=-1)
            return ask and bool(steps) and last >= self.spec.min_step and trial.should_prune()

    def finish(self, key: str, status: str | None) -> None:
        """A trial that ran here ended with ``status`` (None: it did not run here; its result may come from Git)."""
        with self.lock:
            self.local.discard(key)
            self._tell(key, status or FAILED, final=status is not None)

    # -- trials of others ------------------------------------------------------

    def add_finished(self, key: str, status: str, steps: Steps) -> None:
        """A finished trial's curve, from its result commit."""
        with self.lock:
            if key in self.done or key in self.local:
                return
            if key in self.running or self.replay:
                self._report(key, steps, ask=self.replay)
                self._tell(key, status)
                return
            self.done.add(key)
            if steps:
                self.study.add_trial(_frozen(status, steps))

    def peer(self, key: str, steps: Steps) -> None:
        """A trial running elsewhere, as its heartbeat shows it."""
        with self.lock:
            if key not in self.done and key not in self.local:
                self._report(key, steps, ask=self.replay)

    # -- the study -------------------------------------------------------------

    def _running(self, key: str):
        if key not in self.running:
            self.running[key] = self.study.ask()
            self.steps[key] = {}
        return self.running[key]

    def _report(self, key: str, steps: Steps, ask: bool = False):
        trial = self._running(key)
        known = self.steps[key]
        for step in sorted(steps):
            if step not in known:
                known[step] = steps[step]
                trial.report(steps[step], step)
                if ask and step >= self.spec.min_step:
                    trial.should_prune()  # records its rungs as its own runner's pruner did
        return trial

    def _tell(self, key: str, status: str, final: bool = True) -> None:
        import optuna

        trial, steps = self.running.pop(key, None), self.steps.pop(key, {})
        if final:
            self.done.add(key)
        if trial is None:
            return
        states = optuna.trial.TrialState
        if status == SUCCEEDED and steps:
            self.study.tell(trial, steps[max(steps)])
        else:
            self.study.tell(trial, state=states.PRUNED if status == PRUNED else states.FAIL)


def _frozen(status: str, steps: Steps):
    import optuna

    states = optuna.trial.TrialState
    state, value = (states.COMPLETE, steps[max(steps)]) if status == SUCCEEDED else (states.PRUNED, None)
    return optuna.trial.create_trial(state=state, value=value, intermediate_values=steps)


class Prunings:
    """The pruners of the sweeps one executor runs: one per sweep, made when its first trial starts.

    Finished trials come from the store's view of the sweep's branches; peers
    from the claims there, fetched again (on a remote) at most once a heartbeat.
    """

    def __init__(self, git: Git, claims: Claims):
        self.git = git
        self.claims = claims
        self.sweeps: dict[str, SweepPruner | None] = {}
        self.refreshed: dict[str, float] = {}
        self.lock = threading.Lock()
        self.interval = LOOK_EVERY  # read from the configuration once a sweep prunes

    def watch(self, trial: Trial, fetch_results: bool = False) -> TrialPruning | None:
        """A watch over ``trial`` while it runs; None when its sweep has no pruner.

        ``fetch_results``: the store is a remote whose trial branches this clone
        has not fetched (a CI job's checkout): fetch them first, for their curves.
        """
        with self.lock:
            if trial.sweep not in self.sweeps:
                self.sweeps[trial.sweep] = self._pruner(trial.sweep)
            pruner = self.sweeps[trial.sweep]
        if pruner is None:
            return None
        self.interval = look_interval(self.git)
        store = self.claims.store
        if fetch_results and isinstance(store, RemoteRefs):
            fetch_experiments(self.git, store.remote, [Ledger(store.view).sweep(trial.sweep).prefix])
        pruner.start(trial.ref.key)
        self.refresh(trial.sweep, force=True)
        return TrialPruning(self, pruner, trial)

    def _pruner(self, name: str) -> SweepPruner | None:
        sweep = Ledger(self.claims.store.view).sweep(name)
        spec = SweepSpec.from_json(sweep.spec)
        steered = spec.steered()
        folder = step_folder(load_project(self.git, sweep.baseline, sweep.project)) if steered else None
        if steered is None or folder is None:  # a sweep queued without dvclive steps was refused; one without a pruner prunes nothing
            return None
        return SweepPruner(spec.pruner, steered[0], steered[1], step_file(folder, steered[0]))

    def refresh(self, sweep: str, force: bool = False) -> None:
        """Finished trials and peers of ``sweep``, as the store has them now (at most once a heartbeat unless forced)."""
        now = time.monotonic()
        with self.lock:
            if not force and now - self.refreshed.get(sweep, -math.inf) < self.claims.heartbeat:
                return
            self.refreshed[sweep] = now
            pruner = self.sweeps[sweep]
            store = self.claims.store
            try:
                if isinstance(store, RemoteRefs) and not force:  # forced: the executor fetched just now
                    fetch_sweeps_and_claims(self.git, store.remote)
            except GitCommandError:
                pass  # unreachable for now: the next refresh tries again
            trials = Ledger(store.view).trials([sweep])
            claims = [claim for claim in self.claims.known().values() if claim.key.startswith(sweep + "/")]
        add_results(self.git, pruner, trials)
        ours = self.claims.runner.worker
        for claim in claims:
            if claim.worker != ours and claim.steps:
                pruner.peer(claim.key, heartbeat_steps(claim, pruner.metric))


def look_interval(git: Git) -> float:
    """Seconds between two looks at a running trial's steps: ``gitexp.pruneInterval``, else ``LOOK_EVERY``."""
    text = git.config_get(INTERVAL_CONFIG)
    try:
        seconds = float(text) if text else LOOK_EVERY
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= 3600:  # NaN fails too
        raise UsageError(f"{INTERVAL_CONFIG}={text!r} is not an interval: give seconds above 0, such as 1")
    return seconds


def add_results(git: Git, pruner: SweepPruner, trials: Sequence[Trial]) -> None:
    """Add the finished trials the study lacks, their step files read in one batch."""
    known = pruner.done | pruner.local
    new = [trial for trial in trials if trial.status in (SUCCEEDED, PRUNED) and trial.ref.key not in known]
    blobs = git.read_blobs([f"{trial.tip}:{pruner.file}" for trial in new]) if new else []
    for trial, blob in zip(new, blobs):
        points = parse_step_tsv(blob or b"", pruner.metric.rsplit("/", 1)[-1])
        pruner.add_finished(trial.ref.key, trial.status, {int(step): value for step, value in points})


def heartbeat_steps(claim: Claim, metric: str) -> Steps:
    """The steps of ``metric`` a claim's heartbeat carried (none when unreadable or of another metric)."""
    try:
        carried = json.loads(claim.steps)
        return {int(step): float(value) for step, value in carried.get(metric, ()) if finite(value) is not None}
    except (ValueError, TypeError, AttributeError):
        return {}


class TrialPruning:
    """One running trial's watch: its new steps go to the pruner, which may stop it."""

    def __init__(self, prunings: Prunings, pruner: SweepPruner, trial: Trial):
        self.prunings = prunings
        self.pruner = pruner
        self.trial = trial
        self.key = trial.ref.key
        self.file: StepFile | None = None
        self.steps: Steps = {}
        self.next_look = 0.0
        self.reason = ""

    @property
    def step(self) -> int | None:
        return max(self.steps) if self.steps else None

    def start(self, checkout: Path) -> None:
        """Before the pipeline starts in ``checkout`` (the repository's root): what is there now is not this run's."""
        self.file = StepFile(checkout / self.pruner.file, self.pruner.metric)

    def check(self) -> str | None:
        """Why the trial is pruned now, or None; reads its step file at most once an interval (``look_interval``)."""
        now = time.monotonic()
        if self.file is None or now < self.next_look:
            return None
        self.next_look = now + self.prunings.interval
        new = self._read()
        self.prunings.refresh(self.trial.sweep)
        if not self.pruner.report(self.key, new):
            return None
        step = self.step
        self.reason = f"pruned at step {step} by the {self.pruner.spec.name} pruner: {self.pruner.metric} was {self.steps[step]:.6g}"
        return self.reason

    def _read(self) -> Steps:
        new = {step: value for step, value in self.file.read().items() if step not in self.steps}
        self.steps.update(new)
        return new

    def progress(self) -> str:
        """What the trial's heartbeat carries: its latest steps of the steered metric ("" before the first)."""
        latest = sorted(self.steps.items())[-HEARTBEAT_STEPS:]
        return dumps_compact({self.pruner.metric: [[step, value] for step, value in latest]}) if latest else ""

    def finish(self, status: str | None) -> None:
        """The trial ended (None: it did not run here): its last steps and its status go into the study."""
        if self.file is not None and status == SUCCEEDED:
            self.pruner.report(self.key, self._read(), ask=False)
        self.pruner.finish(self.key, status if status in (SUCCEEDED, PRUNED, None) else FAILED)
