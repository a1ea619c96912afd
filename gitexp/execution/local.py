"""The local executor: queued trials in parallel worktrees of this clone."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from ..errors import UsageError
from ..git import Git, RefUpdate
from ..project import load_project
from ..records import FAILED, QUEUED, Trial
from .locks import TrialLock, lock_path
from .pipeline import RunOutcome, commit_result, pipeline_command, run_pipeline, trial_log_path, where
from .worktrees import dvc_cache_dir, share_dvc_cache, trial_worktree, worktrees_root


@dataclass(frozen=True)
class RunOptions:
    jobs: int = 1
    timeout: float | None = None
    stage: str | None = None
    retry_failed: bool = False

    def validate(self) -> None:
        if self.jobs < 1:
            raise UsageError(f"-j {self.jobs}: the number of parallel trials must be 1 or more")
        if self.timeout is not None and self.timeout <= 0:
            raise UsageError(f"--timeout {self.timeout:g}: give a number of seconds above 0")


@dataclass(frozen=True)
class RunEvent:
    """What the executor tells its caller: a trial ``started``, ``finished`` or was ``skipped``."""

    kind: str
    trial: Trial
    outcome: RunOutcome | None = None
    note: str = ""


@dataclass
class RunSummary:
    finished: list[tuple[Trial, RunOutcome]] = field(default_factory=list)
    skipped: list[Trial] = field(default_factory=list)

    @property
    def failed(self) -> list[Trial]:
        return [trial for trial, outcome in self.finished if outcome.status == FAILED]


class TrialSource(Protocol):
    """Feeds trials to an executor; adaptive sweeps create them as results come in."""

    def next_trial(self) -> Trial | None: ...

    def finished(self, trial: Trial, outcome: RunOutcome | None) -> None: ...


class StaticTrials:
    """A fixed list of trials."""

    def __init__(self, trials: list[Trial]):
        self._pending = list(trials)

    def next_trial(self) -> Trial | None:
        return self._pending.pop(0) if self._pending else None

    def finished(self, trial: Trial, outcome: RunOutcome | None) -> None:
        pass


def runnable(trial: Trial, options: RunOptions) -> bool:
    return trial.status == QUEUED or (options.retry_failed and trial.status == FAILED)


class LocalExecutor:
    """Runs trials in detached worktrees, N at a time, publishing each result by compare-and-swap."""

    def __init__(self, git: Git, options: RunOptions, on_event: Callable[[RunEvent], None] = lambda event: None):
        options.validate()
        self.git = git
        self.options = options
        self.on_event = on_event
        self.common_dir = git.common_dir()
        self.cache_dir = dvc_cache_dir(git.root)

    def run(self, source: TrialSource) -> RunSummary:
        summary = RunSummary()
        with ThreadPoolExecutor(max_workers=self.options.jobs) as pool:
            running = {}
            while True:
                while len(running) < self.options.jobs and (trial := source.next_trial()) is not None:
                    self.on_event(RunEvent("started", trial))
                    running[pool.submit(self.run_one, trial)] = trial
                if not running:
                    return summary
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    trial = running.pop(future)
                    outcome = future.result()
                    source.finished(trial, outcome)
                    if outcome is None:
                        summary.skipped.append(trial)
                        self.on_event(RunEvent("skipped", trial, note="claimed or finished elsewhere"))
                    else:
                        summary.finished.append((trial, outcome))
                        self.on_event(RunEvent("finished", trial, outcome))

    def run_one(self, trial: Trial) -> RunOutcome | None:
        """Claim, run and publish one trial; None when another runner has it or has done it."""
        worktree = worktrees_root(self.common_dir) / trial.sweep / trial.name
        lock = TrialLock(lock_path(self.common_dir, trial.sweep, trial.name))
        if not lock.acquire(worktree):
            return None
        try:
            if self.git.rev_parse(trial.ref.ref) != trial.tip:
                return None
            project = load_project(self.git, trial.tip)
            with trial_worktree(self.git, worktree, trial.tip) as workdir:
                share_dvc_cache(self.git.root, worktree, self.cache_dir)
                outcome = run_pipeline(
                    worktree,
                    pipeline_command(self.options.stage),
                    trial_log_path(self.common_dir, trial.sweep, trial.name),
                    project,
                    timeout=self.options.timeout,
                    env={"GITEXP_SWEEP": trial.sweep, "GITEXP_TRIAL": trial.name},
                )
                result = commit_result(workdir, trial, outcome, where("local"))
            published = self.git.try_update_refs([RefUpdate(trial.ref.ref, result, trial.tip)], "gitexp: result")
            return outcome if published else None
        finally:
            lock.release()
