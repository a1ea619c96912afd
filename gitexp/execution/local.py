"""The local executor: queued trials in parallel worktrees of this clone."""

from __future__ import annotations

import errno
import math
import os
import shutil
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from gitexp.errors import DiskFull, GitCommandError, RepositoryError, UsageError
from gitexp.execution.claims import Claims, Runner, clone_id, run_claimed
from gitexp.execution.gpus import GpuLeases, GpuPlan, check_jobs
from gitexp.execution.pipeline import RunOutcome, commit_result, run_pipeline, trial_command, trial_env, where
from gitexp.execution.processes import stop_orphaned_trials
from gitexp.execution.pruning import Prunings, TrialPruning
from gitexp.execution.repro_server import WarmDvcPool
from gitexp.execution.worktrees import Slots, checkout_slot, remove_stale_slots, share_dvc_cache
from gitexp.project.dvc import tool_env
from gitexp.project.model import Project, ProjectCache, load_project
from gitexp.store.git import Git
from gitexp.store.journal import recover
from gitexp.store.layout import stop_request_path, trial_lock_path, trial_log_path, worktrees_root
from gitexp.store.locks import TrialLock
from gitexp.store.naming import sweep_ref
from gitexp.store.records import CANCELLED, FAILED, PRUNED, QUEUED, Ledger, Sweep, Trial
from gitexp.store.refstore import LocalRefs
from gitexp.store.remote import seen_shared
from gitexp.store.stops import clear_seen_stop_request, clear_stop_request, seen_stop_request


@dataclass(frozen=True)
class RunOptions:
    jobs: int = 1
    timeout: float | None = None
    stage: str | None = None
    retry_failed: bool = False
    retry_cancelled: bool = False  # trials stopped (gitexp stop) or cancelled by a sweep's stop
    copy_paths: tuple[str, ...] = ()  # repository-relative files and folders copied from the workspace into each trial
    gpus: GpuPlan | None = None  # --gpus: each running trial gets a group of its own; None leaves GPUs as they are

    @property
    def runnable_statuses(self) -> tuple[str, ...]:
        return (QUEUED, *((FAILED,) if self.retry_failed else ()), *((CANCELLED,) if self.retry_cancelled else ()))

    def validate(self) -> None:
        if self.jobs < 1:
            raise UsageError(f"-j {self.jobs}: the number of parallel trials must be 1 or more")
        if self.timeout is not None and not 0 < self.timeout < math.inf:  # NaN too
            raise UsageError(f"--timeout {self.timeout:g}: give a number of seconds above 0, such as 3600")
        check_jobs(self.jobs, self.gpus)


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

    @property
    def cancelled(self) -> list[Trial]:
        return [trial for trial, outcome in self.finished if outcome.status == CANCELLED]

    @property
    def pruned(self) -> list[Trial]:
        return [trial for trial, outcome in self.finished if outcome.status == PRUNED]

    def counts(self) -> str:
        """What the run did, as its last line says it: pruned and cancelled trials (stopped by a user) only when there are some."""
        succeeded = len(self.finished) - len(self.failed) - len(self.cancelled) - len(self.pruned)
        pruned = f", {len(self.pruned)} pruned" if self.pruned else ""
        cancelled = f", {len(self.cancelled)} cancelled" if self.cancelled else ""
        return f"{succeeded} succeeded{pruned}, {len(self.failed)} failed{cancelled}"

    def add(self, other: RunSummary) -> None:
        self.finished += other.finished
        self.skipped += other.skipped


class TrialSource(Protocol):
    """Feeds trials to an executor; adaptive sweeps create them as results come in."""

    def next_trial(self) -> Trial | None: ...

    def finished(self, trial: Trial, outcome: RunOutcome | None) -> None: ...


class StaticTrials:
    """A fixed list of trials."""

    def __init__(self, trials: list[Trial]):
        self._pending = list(trials)
        self.count = len(trials)

    bounded = True

    def expected_runs(self) -> int:
        return self.count

    def next_trial(self) -> Trial | None:
        return self._pending.pop(0) if self._pending else None

    def finished(self, trial: Trial, outcome: RunOutcome | None) -> None:
        pass


class LocalExecutor:
    """Runs trials in detached worktrees, N at a time, publishing each result by compare-and-swap.

    Each executor thread reuses one worktree (a slot) and one warm DVC for the
    trials it runs; both go away at the end of ``run``.

    Trials are claimed and results published through ``claims``: by default in
    this repository (``gitexp run``); a worker passes claims on its remote.
    Before it runs anything, ``run`` cleans up after runners of this clone that died.

    With ``takes_ahead`` (a worker, whose every claim is a round trip to its
    remote) a thread that has run a trial tells the source its outcome (so an
    adaptive sweep learns from it first), asks for the next trial, takes its
    flock, and claims it in the push that publishes the result; that trial starts
    next, claimed already.
    """

    takes_ahead = False

    def __init__(
        self,
        git: Git,
        options: RunOptions,
        on_event: Callable[[RunEvent], None] = lambda event: None,
        claims: Claims | None = None,
        host: str | None = None,
    ):
        options.validate()
        self.git = git
        self.options = options
        self.on_event = on_event
        self.common_dir = git.common_dir()
        with stopped_when_disk_full():  # a new clone writes its id
            self.claims = claims or local_claims(git)
        self.watch_sharing = claims is None  # claims here: stop taking a sweep's trials once it is pushed
        self.host = host or where("local")
        self.warm_dvc: WarmDvcPool | None = None
        self.loading_dvc: WarmDvcPool | None = None  # started before ``run`` by ``load_dvc``
        self.slots = Slots(git, self.common_dir)
        self.gpus = GpuLeases(options.gpus)
        self.prunings = Prunings(git, self.claims)
        self.source: TrialSource | None = None
        self.source_lock = threading.Lock()  # executor threads ask the source too, when they take ahead
        self.ahead: list[Trial] = []  # trials a thread chose to run next, in order: started before the source is asked (once claimed)
        self.ahead_locks: dict[str, TrialLock] = {}  # their flocks, held since then, by trial key
        self.claiming: set[str] = set()  # keys of those whose claim rides on a result push that has not answered yet
        self.told: set[str] = set()  # keys of trials whose outcome the source heard from the thread that ran them

    def run(self, source: TrialSource) -> RunSummary:
        """Run the trials of ``source``; a full disk stops the run with ``DiskFull`` (unfinished trials stay queued)."""
        summary = RunSummary()
        self.source = source
        # A warm DVC starts first (unless ``load_dvc`` started it): it loads while dead runs are cleaned up and
        # the first trial is claimed.
        warm, self.loading_dvc = self.loading_dvc or WarmDvcPool(tool_env(self.git.env)), None
        with stopped_when_disk_full(), warm as self.warm_dvc, self.dropping_ahead():
            self.recover()
            with self.slots, ThreadPoolExecutor(self.options.jobs) as pool:
                running = {}
                while True:
                    while len(running) < self.options.jobs and (trial := self.next_trial()) is not None:
                        self.on_event(RunEvent("started", trial))
                        running[pool.submit(self.run_one, trial)] = trial
                        self.warm_dvc.warm(len(running))
                    if not running:
                        return summary
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        trial = running.pop(future)
                        outcome = future.result()
                        with self.source_lock:
                            if trial.ref.key not in self.told:
                                source.finished(trial, outcome)
                            self.told.discard(trial.ref.key)
                        if outcome is None:
                            summary.skipped.append(trial)
                            self.on_event(RunEvent("skipped", trial, note="claimed or finished elsewhere"))
                        else:
                            summary.finished.append((trial, outcome))
                            self.on_event(RunEvent("finished", trial, outcome))

    @contextmanager
    def load_dvc(self):
        """Start the first warm DVC now, for the next ``run``: it loads while the caller prepares (a worker reaches
        its remote); stopped when the caller's preparation raises."""
        self.loading_dvc = WarmDvcPool(tool_env(self.git.env))
        try:
            yield
        except BaseException:
            self.loading_dvc.close()
            self.loading_dvc = None
            raise

    def next_trial(self) -> Trial | None:
        """The trial to start next: one a thread took ahead, once the push claiming it has answered, else the source's.

        Started before that answer, its take would miss the claim that push may be
        landing (not yet handed to ``take``, nor in this clone's mirror), give the
        trial up, and leave that claim on the store.
        """
        with self.source_lock:
            ready = next((trial for trial in self.ahead if trial.ref.key not in self.claiming), None)
            if ready is None:
                return self.source.next_trial()
            self.ahead.remove(ready)
            return ready

    def take_ahead(self, done: Trial, outcome: RunOutcome) -> Trial | None:
        """The source's next trial once it knows how ``done`` ended, made the next to start, with its flock held:
        to be claimed with ``done``'s result. None when there is none, or another runner of this clone holds it
        (it starts anyway, and is skipped)."""
        if not self.takes_ahead:
            return None
        with self.source_lock:
            self.source.finished(done, outcome)
            self.told.add(done.ref.key)
        return self.choose_ahead()

    def choose_ahead(self) -> Trial | None:
        """The source's next trial, made the next to start, with its flock held (see ``take_ahead``)."""
        with self.source_lock:  # the flock with it: whichever thread starts the trial finds it held
            trial = self.source.next_trial()
            if trial is None:
                return None
            self.ahead.append(trial)
            lock = self.lock_trial(trial, worktrees_root(self.common_dir) / trial.ref.key)
            if lock is None:
                return None
            self.ahead_locks[trial.ref.key] = lock
            self.claiming.add(trial.ref.key)
        return trial

    def give_back_unclaimed(self, trial: Trial) -> None:
        """Once the result's push that tried to claim ``trial`` has answered: the trial may start now, or goes back
        to the source when that push could not claim it (another runner holds it or has finished it, so a take of
        its own would fail too); it stays queued there otherwise."""
        with self.source_lock:
            self.claiming.discard(trial.ref.key)
            if self.claims.holds_ahead(trial.ref.key) or trial not in self.ahead:
                return  # claimed: it starts next (or was given back already)
            self.ahead.remove(trial)
            lock = self.ahead_locks.pop(trial.ref.key, None)
            if lock is not None:
                lock.release()
            self.source.finished(trial, None)

    @contextmanager
    def dropping_ahead(self):
        """On the way out, drop the claims and flocks of trials taken ahead that did not start (a run that raised)."""
        try:
            yield
        finally:
            for key, lock in list(self.ahead_locks.items()):
                try:
                    self.claims.drop_ahead(key)
                finally:
                    lock.release()
            self.ahead_locks.clear()
            self.ahead.clear()
            self.claiming.clear()
            self.told.clear()

    def run_one(self, trial: Trial) -> RunOutcome | None:
        """Claim, run and publish one trial; None when another runner has it or has done it."""
        pruning = self.prunings.watch(trial)  # before the trial's lock: its claim follows the lock at once
        ran = None
        try:
            ran = self.run_locked(trial, pruning)
        finally:
            if pruning is not None:
                pruning.finish(ran[0].status if ran else None)  # None: it ran elsewhere, or not at all
        return ran[0] if ran is not None and ran[1] else None

    def run_locked(self, trial: Trial, pruning: TrialPruning | None) -> tuple[RunOutcome, bool] | None:
        """``run_claimed`` under the trial's lock; None when another runner holds or did it."""
        worktree = self.slots.current()
        lock = self.ahead_locks.pop(trial.ref.key, None) or self.lock_trial(trial, worktree)
        if lock is None:
            return None
        try:
            if self.watch_sharing and self.shared_meanwhile(trial):
                return None
            progress = pruning.progress if pruning is not None else None
            chosen: list[Trial] = []  # the trials chosen to take ahead, the last the one tried last

            def following(outcome: RunOutcome) -> Trial | None:
                chosen.extend(filter(None, [self.take_ahead(trial, outcome)]))
                return chosen[-1] if chosen else None

            def instead(refused: Trial) -> Trial | None:  # another runner took it since this clone last looked
                self.give_back_unclaimed(refused)
                chosen.extend(filter(None, [self.choose_ahead()]))
                return chosen[-1] if chosen[-1] is not refused else None

            execute = lambda claimed: self.execute(claimed, worktree, pruning)  # noqa: E731
            ran = run_claimed(self.claims, trial, execute, progress, following, instead)
            for ahead in chosen:
                self.give_back_unclaimed(ahead)
            return ran
        finally:
            clear_stop_request(stop_request_path(self.common_dir, trial.sweep, trial.name))  # its run is over
            lock.release()

    def trial_lock(self, sweep: str, name: str) -> TrialLock:
        """The flock of trial ``sweep/name``, naming this runner's worker to whoever reads who holds it."""
        return TrialLock(trial_lock_path(self.common_dir, sweep, name), worker=self.claims.runner.worker)

    def lock_trial(self, trial: Trial, worktree: Path) -> TrialLock | None:
        """The trial's flock, taken without waiting (None: another runner of this clone holds it), with the stop
        request an earlier run of the trial left cleared.

        Only the one there before the flock was taken: ``gitexp stop`` writes a
        request once it sees the flock held, so one written since is for this
        run (one that came as it took the flock, say), and its stop watch honours it.
        """
        stop = stop_request_path(self.common_dir, trial.sweep, trial.name)
        left = seen_stop_request(stop)
        lock = self.trial_lock(trial.sweep, trial.name)
        if not lock.acquire(worktree):
            return None
        clear_seen_stop_request(stop, left)
        return lock

    def shared_meanwhile(self, trial: Trial) -> bool:
        """Whether ``trial``'s sweep was pushed to a remote since this run began: its workers take it from
        there now. Asked once the trial's lock is held, which ``gitexp push`` looks at after noting the push."""
        record = self.git.rev_parse(sweep_ref(trial.sweep))
        return record is not None and seen_shared(self.git, trial.sweep, record)

    def execute(self, trial: Trial, worktree: Path, pruning: TrialPruning | None = None) -> tuple[RunOutcome, str]:
        """Run ``trial`` in the worktree at ``worktree`` (made on first use, else switched to the trial).

        Answers the outcome and the result commit, which is not yet on any ref.
        ``pruning`` watches its steps for the sweep's pruner.
        """
        workdir = checkout_slot(self.git, self.common_dir, worktree, trial.tip)
        resolver = self.warm_dvc.resolve if self.warm_dvc is not None else None  # DVC is loaded there already
        project = load_project(workdir, trial.tip, trial.project, ProjectCache(self.common_dir), resolver)
        check_stage(project, self.options.stage)
        share_dvc_cache(self.git.root / project.directory, worktree / project.directory)
        copy_from_workspace(self.git.root, worktree, self.options.copy_paths)
        with self.gpus.lease() as (gpu_env, gpus):
            outcome = run_pipeline(
                worktree,
                trial_command(worktree, project, self.options.stage),
                trial_log_path(self.common_dir, trial.sweep, trial.name),
                project,
                timeout=self.options.timeout,
                env={**trial_env(self.git, trial), **gpu_env},
                warm_dvc=self.warm_dvc,
                slot=True,
                stop_request=stop_request_path(self.common_dir, trial.sweep, trial.name),
                pruning=pruning,
            )
        if not outcome.slot_reusable:  # something may still write into it, or it is broken: the next trial gets a new one
            self.slots.retire()
        return outcome, commit_result(self.git, trial, outcome, self.host, gpus)  # the slot may be gone; the objects are shared

    def recover(self) -> None:
        """Clean up after runners and writers of this clone killed midway: worktrees, ref writes and locks, claims.

        The processes their trials left in cgroups are stopped, whichever clone
        they ran for: the cgroup's name holds its runner's pid, and a runner
        that is gone publishes nothing.

        Whatever is cleaned is under a flock (a slot's, a trial's) that nobody
        holds any more, so nothing a live runner uses is touched.
        """
        stop_orphaned_trials()  # first: their pipelines would go on writing into the slots removed next
        remove_stale_slots(self.git, self.common_dir)
        recover(self.git, Ledger(self.git).prefixes())
        for claim in self.claims.known().values():
            sweep, _, name = claim.key.partition("/")
            lock = self.trial_lock(sweep, name)
            if self.claims.from_this_clone(claim) and lock.acquire(worktrees_root(self.common_dir) / claim.key):
                try:
                    self.claims.release(claim)
                finally:
                    lock.release()


@contextmanager
def stopped_when_disk_full():
    """A write of the run that finds no space becomes ``DiskFull``: one line instead of a traceback."""
    again = "free some space and run again (trials that did not finish stay queued)"
    try:
        yield
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise DiskFull(f"no space left on the device to write {error.filename or 'a file of the run'}: {again}") from None
    except GitCommandError as error:  # git said so itself
        if os.strerror(errno.ENOSPC) not in error.message:
            raise
        raise DiskFull(f"{error.message}: {again}") from None


def check_stage_of(git: Git, sweeps: Sequence[Sweep], trials: Sequence[Trial], stage: str | None) -> None:
    """Refuse a --stage that dvc.yaml does not define at a sweep's baseline or a trial's commit, before anything is written."""
    if stage is None:
        return
    for commit, folder in dict.fromkeys([(s.baseline, s.project) for s in sweeps] + [(t.tip, t.project) for t in trials]):
        check_stage(load_project(git, commit, folder), stage)


def check_stage(project: Project, stage: str | None) -> None:
    """Refuse a --stage that dvc.yaml does not define, before it could become a failed result.

    Paths and ``file:stage`` targets are left for DVC to resolve; ``stage@key`` is a foreach item.
    """
    if stage is None or any(ch in stage for ch in "/:") or stage.split("@")[0] in project.stages:
        return
    stages = ", ".join(project.stages) or "none"
    raise UsageError(f"dvc.yaml has no stage {stage!r} (stages: {stages}): name one of them with --stage")


def copy_paths_option(git: Git, cwd: Path, paths: Sequence[str]) -> tuple[str, ...]:
    """``-C PATH`` arguments (relative to ``cwd``) as repository-relative paths, refusing any a trial cannot be given.

    Like ``dvc exp run --copy-paths``: ignored or untracked inputs, which a
    trial's checkout lacks. A file Git tracks is in every trial's commit already.
    """
    relative = [_repository_path(git, cwd, path) for path in paths]
    tracked = git.tracked_files(relative)
    if tracked:
        raise UsageError(
            f"-C: {tracked[0]} is tracked by Git, so every trial has it from its commit: "
            "-C copies ignored or untracked files only"
        )
    return tuple(dict.fromkeys(relative))


def _repository_path(git: Git, cwd: Path, path: str) -> str:
    absolute = Path(os.path.normpath(Path(os.path.realpath(cwd)) / path))
    try:
        relative = absolute.relative_to(git.root)
    except ValueError:
        raise UsageError(f"-C {path}: not inside the repository {git.root}: name a file or folder of the project") from None
    if not relative.parts or relative.parts[0] == ".git":
        raise UsageError(f"-C {path}: name a file or folder inside the project, not the project itself or .git")
    if not os.path.lexists(absolute):
        raise UsageError(f"-C {path}: no such file or folder in {cwd}: give a path that exists")
    return relative.as_posix()


def copy_from_workspace(root: Path, worktree: Path, paths: Sequence[str]) -> None:
    """Copy the ``-C`` paths from the workspace at ``root`` into a trial's worktree."""
    for path in paths:
        source, target = root / path, worktree / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)
        except OSError as error:
            raise RepositoryError(f"-C {path}: cannot copy it into a trial ({error.strerror or error}): check that it still exists") from None


def local_claims(git: Git) -> Claims:
    """Claims in this repository, for ``gitexp run``."""
    common_dir = git.common_dir()
    runner = Runner(worker=f"local-{socket.gethostname()}-{os.getpid()}", clone=clone_id(common_dir))
    return Claims(git, LocalRefs(git), runner)
