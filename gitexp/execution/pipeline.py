"""Running one trial's pipeline in a directory and recording the outcome as a commit.

Shared by every executor: the local runner and remote workers call it inside a
worktree, the CI job inside its own checkout.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitexp.errors import GitexpError, some_of
from gitexp.execution import restore
from gitexp.execution.processes import Ending, TrialProcesses, not_found
from gitexp.execution.pruning import TrialPruning
from gitexp.execution.repro_server import ReproResult, WarmDvcPool, group_alive
from gitexp.project.command import COMMAND_FILE, read_document, render_command
from gitexp.project.dvc import add_outputs, dvc_arguments, repro_argv, tool_env
from gitexp.project.metrics import read_workspace_metrics
from gitexp.project.model import DVC_YAML, Project, declared_top_level_paths
from gitexp.store.git import Git
from gitexp.store.records import CANCELLED, FAILED, PRUNED, SUCCEEDED, T_BASELINE, Trial, parse_trailers, result_message
from gitexp.store.stops import stop_requested

LOG_TAIL_LINES = 30
DVC_ROOT_ENV = "DVC_ROOT"


@dataclass(frozen=True)
class RunOutcome:
    status: str
    duration: float
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    log_tail: str = ""
    lingering: bool = False  # processes the pipeline started outlived it (stopped, but the slot is not reused)
    tree: str | None = None  # what the result commit holds, staged as DVC would commit it
    checkout_lost: bool = False  # the pipeline deleted its checkout, or the checkout's .git
    step: int | None = None  # a pruned trial's last dvclive step

    @property
    def slot_reusable(self) -> bool:
        """Whether the next trial may run where this one ran."""
        return not (self.lingering or self.checkout_lost)


def pipeline_command(stage: str | None) -> list[str]:
    """``dvc repro [stage]``."""
    return repro_argv(stage)


def trial_command(checkout: Path, project: Project, stage: str | None) -> list[str]:
    """What runs a trial checked out at ``checkout``: ``dvc repro [stage]``, or in a project without
    dvc.yaml the command its ``gitexp.yaml`` records, placeholders filled (an argument list, no shell)."""
    if not project.runs_command:
        return pipeline_command(stage)
    path = checkout / project.path(COMMAND_FILE)
    return render_command(read_document(path.read_bytes() if path.is_file() else None))


def run_pipeline(
    directory: Path,
    argv: Sequence[str],
    log_path: Path,
    project: Project,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    warm_dvc: WarmDvcPool | None = None,
    slot: bool = False,
    stop_request: Path | None = None,
    pruning: TrialPruning | None = None,
) -> RunOutcome:
    """Run ``argv`` in the project's folder of the checkout ``directory``, with output to ``log_path``.

    A DVC command restores the checkout's DVC-tracked data first when the
    project has any (``restore``), in ``warm_dvc`` when given (a forked,
    pre-imported DVC), and in a new process otherwise or when the warm one is
    unavailable. Whatever the run started is stopped when it ends
    (``processes``; with ``slot``, ``directory`` is the trial's alone, and
    every process working inside it is the trial's). After a successful
    run, its metrics are read and what the result commit holds is staged (see
    ``stage_result``). A stop request appearing at ``stop_request`` while it
    runs (``gitexp stop``) stops it at once, and the outcome is ``cancelled``.
    With ``pruning``, the sweep's pruner watches its dvclive steps; a pruned
    run is stopped the same way, and its outcome is ``pruned`` with its partial
    outputs staged.
    """
    workdir = directory / project.directory
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    processes = TrialProcesses(directory if slot else None)
    run_env = tool_env({**os.environ, **(env or {}), **processes.env})
    if project.runs_command:  # as dvc repro tells its stages: dvclive then leaves saving the experiment to gitexp
        run_env[DVC_ROOT_ENV] = str(workdir)
    started = time.monotonic()
    dvc_args = dvc_arguments(argv)
    restoring = dvc_args is not None and any(output.cache for output in project.outputs)  # else nothing to check out
    if pruning is not None:
        pruning.start(directory)
    watch = StopWatch(stop_request, processes, pruning)
    try:
        watch.start()
        result = None
        if warm_dvc is not None and dvc_args is not None:
            result = warm_dvc.repro(workdir, dvc_args, log_path, run_env, timeout, restoring, processes.cgroup_procs)
        if result is None:
            command = [sys.executable, "-m", restore.__name__, *dvc_args] if restoring else argv
            result = _run_process(workdir, command, log_path, run_env, timeout, processes)
        if result.session is not None:  # None: nothing started
            processes.sessions.add(result.session)
    finally:
        watch.close()
        ending = processes.stop()  # before anything is staged: nothing writes into the checkout any more
    if watch.stopped_by:
        _log(log_path, f"stopped by {watch.stopped_by}")
        reason = f"stopped by {watch.stopped_by}"
        lingering = watch.ending.survived or ending.outlived  # whatever outlived the stop may still write there
        return RunOutcome(CANCELLED, time.monotonic() - started, {}, reason, tail(log_path), lingering)
    if watch.pruned_by and result.code != 0:  # 0: it ended on its own before the stop reached it
        return _pruned(directory, project, log_path, watch, time.monotonic() - started, ending, pruning)
    lost = lost_checkout(directory)
    reason = _failure(result, "dvc " + dvc_args[0] if dvc_args else Path(argv[0]).name, lost, restoring, timeout, log_path)
    if ending.outlived:
        _log(log_path, "stopped the processes the pipeline left running" + (", but some still run" if ending.survived else ""))
    duration = time.monotonic() - started
    lingering = result.lingering or ending.outlived
    if not reason and project.runs_command and project.outputs:
        reason = cache_outputs(directory, project, run_env)
        if reason:
            _log(log_path, reason)
    if reason:
        return RunOutcome(FAILED, duration, {}, reason, tail(log_path), lingering, checkout_lost=bool(lost))
    tree, left_out = stage_result(Git(directory), project)
    if left_out:
        why = "DVC's own files, from a dvc init in a project without DVC" if project.runs_command else "dvc.yaml does not declare them"
        _log(log_path, f"not in the result commit ({why}): {some_of(left_out, shown=10)}")
    metrics = read_workspace_metrics(directory, project)
    return RunOutcome(SUCCEEDED, duration, metrics, reason, "", lingering, tree)


def _pruned(
    directory: Path, project: Project, log_path: Path, watch: StopWatch, duration: float, ending: Ending, pruning: TrialPruning
) -> RunOutcome:
    """The outcome of a run its sweep's pruner stopped: what it wrote so far (its curve) is staged like a result."""
    _log(log_path, watch.pruned_by)
    lingering = watch.ending.survived or ending.outlived
    lost = lost_checkout(directory)
    if lost:
        return RunOutcome(PRUNED, duration, {}, watch.pruned_by, tail(log_path), lingering, checkout_lost=True, step=pruning.step)
    tree, _ = stage_result(Git(directory), project)
    metrics = read_workspace_metrics(directory, project)
    return RunOutcome(PRUNED, duration, metrics, watch.pruned_by, tail(log_path), lingering, tree, step=pruning.step)


class StopWatch:
    """Watches a trial's stop request file (and its pruner) while it runs; either stops the trial's processes at once."""

    POLL = 0.2  # seconds between looks: a file's existence, no git

    def __init__(self, path: Path | None, processes: TrialProcesses, pruning: TrialPruning | None = None):
        self.path = path
        self.processes = processes
        self.pruning = pruning
        self.stopped_by: str | None = None
        self.pruned_by: str | None = None
        self.ending = Ending(False, False)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stop watch", daemon=True)

    def start(self) -> None:
        if self.path is not None or self.pruning is not None:
            self._thread.start()

    def close(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(self.POLL):
            if not (self.stopped_by or self.pruned_by):
                by = stop_requested(self.path) if self.path is not None else None
                if by is not None:
                    self.stopped_by = by
                elif self.pruning is not None:
                    self.pruned_by = self.pruning.check()
            if self.stopped_by or self.pruned_by:
                self.ending = self.processes.stop()  # TERM, grace, KILL of the whole tree; the pipeline's wait then returns
                if self.ending.outlived:
                    return  # else none had started yet (the request came first): stop them once they have


def _failure(result: ReproResult, name: str, lost: str, restoring: bool, timeout: float | None, log_path: Path) -> str:
    """Why the run failed ("" when it did not), also written at the end of its log."""
    if restoring and result.code == restore.MISSING_DATA and not lost:
        return tail(log_path, 1)  # the restore's one line, already the last of the log
    reason = ""
    if lost:
        reason = f"the pipeline deleted {lost}: a stage must leave its checkout in place"
    elif result.timed_out:
        reason = f"timed out after {timeout:g} s"
    elif result.code:
        reason = f"{name} exited with status {result.code}"
    if reason:
        _log(log_path, reason)
    return reason


def _log(log_path: Path, note: str) -> None:
    with log_path.open("ab") as log:
        log.write(f"\ngitexp: {note}\n".encode())


def cache_outputs(directory: Path, project: Project, env: Mapping[str, str]) -> str:
    """``dvc add`` a command's ``--outs`` in the checkout ``directory``; why that failed ("" when it did not)."""
    missing = [out.path for out in project.outputs if not (directory / out.path).exists()]
    if missing:
        return f"the command wrote no {project.display(missing[0])} (--outs): write it, or leave it out of --outs"
    try:
        add_outputs(directory / project.directory, env, [project.display(out.path) for out in project.outputs])
    except GitexpError as error:
        return error.message
    return ""


def lost_checkout(directory: Path) -> str:
    """What of the checkout at ``directory`` is gone ("" when nothing is): the pipeline ran in it and may have deleted it."""
    if not directory.is_dir():
        return f"its checkout {directory}"
    if not (directory / ".git").exists():
        return f"the .git of its checkout {directory}"
    return ""


def stage_result(checkout: Git, project: Project) -> tuple[str, list[str]]:
    """Stage what DVC's experiment commit would hold; answer its tree and the untracked files left out.

    As ``dvc exp run``: the tracked files the run changed (``dvc.lock`` among
    them), and of the new files only the ones the pipeline declares for Git:
    dvc.yaml and dvc.lock files, ``.dvc`` files, ``.gitignore`` files, params,
    and outputs, metrics and plots kept out of the cache, including those of a
    dvc.yaml the run wrote (dvclive writes one). Cached outputs are ignored by
    Git already. Everything else stays out, and is named in the trial's log.
    A command (a project without dvc.yaml) declares nothing: every new file Git
    does not ignore goes in, but for the ``.dvc`` scaffold of ``dvc_scaffold``.
    """
    scaffold = dvc_scaffold(checkout, project) if project.runs_command else []
    checkout.stage_tracked_changes()
    untracked = checkout.untracked_files()
    if project.runs_command:  # no pipeline declares what it writes: all Git does not ignore
        checkout.add(untracked)
        return checkout.write_tree(), scaffold
    declared = set(committed_paths(project))
    for path in untracked:
        if posixpath.basename(path) == DVC_YAML:
            declared.add(path)
            declared.update(declared_top_level_paths(_yaml_or_none(checkout.root / path), posixpath.dirname(path)))
    kept = [path for path in untracked if _is_declared(path, declared)]
    checkout.add(kept)
    return checkout.write_tree(), [path for path in untracked if path not in set(kept)]


def dvc_scaffold(checkout: Git, project: Project) -> list[str]:
    """Delete what ``dvc init`` wrote into a checkout of a project without DVC (dvclive runs it there),
    and answer it: DVC's own files, not the command's output, and no DVC project for the result commit to be."""
    if checkout.tree_entries("HEAD", [project.path(".dvc")]):
        return []
    found = [path for path in (project.path(".dvc"), project.path(".dvcignore")) if (checkout.root / path).exists()]
    for path in found:
        target = checkout.root / path
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    return found


def committed_paths(project: Project) -> list[str]:
    """The paths whose files a result commit holds when the run made them (repo-relative)."""
    uncached = [out.path for out in project.outputs if not out.cache]
    return [*project.dvc_files, *project.lock_files, *project.params_files, *project.metrics_files,
            *project.plots_paths, *uncached]


def _is_declared(path: str, declared: set[str]) -> bool:
    name = posixpath.basename(path)
    if name == ".gitignore" or name.endswith(".dvc"):
        return True
    return path in declared or any(path.startswith(folder + "/") for folder in _parents(path) & declared)


def _parents(path: str) -> set[str]:
    parts = path.split("/")[:-1]
    return {"/".join(parts[: i + 1]) for i in range(len(parts))}


def _yaml_or_none(path: Path):
    try:
        return yaml.safe_load(path.read_bytes())
    except (OSError, yaml.YAMLError):
        return None


def trial_env(git: Git, trial: Trial) -> dict[str, str]:
    """What a trial's pipeline is told about it: gitexp's names, and what dvclive reads under ``dvc exp run``.

    With DVC_EXP_BASELINE_REV set, dvclive knows an experiment runner records
    the result (so it leaves ``save_dvc_exp`` alone instead of warning), under
    the name DVC_EXP_NAME (where DVC allows no '/'). The user's Studio
    variables reach it unchanged with the rest of the environment.
    """
    return {
        "GITEXP_SWEEP": trial.sweep,
        "GITEXP_TRIAL": trial.name,
        "DVC_EXP_BASELINE_REV": trial_baseline(git, trial),
        "DVC_EXP_NAME": f"{trial.sweep}-{trial.name}",
    }


def trial_baseline(git: Git, trial: Trial) -> str:
    """The commit the trial's sweep started from, named by its trial commit (below the tip once a retried trial has a result)."""
    return parse_trailers(trial.message).get(T_BASELINE) or git.first_parent_trailer(trial.tip, T_BASELINE)


def _run_process(
    directory: Path,
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str],
    timeout: float | None,
    processes: TrialProcesses,
) -> ReproResult:
    with log_path.open("ab") as log:
        try:
            proc = subprocess.Popen(
                processes.contained(argv), cwd=directory, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        except FileNotFoundError:
            log.write(f"{not_found(argv[0])}\n".encode())
            return ReproResult(127)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            timed_out = True
        return ReproResult(None if timed_out else proc.returncode, timed_out, group_alive(proc.pid), proc.pid)



def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def where(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}"


def commit_result(workdir: Git, trial: Trial, outcome: RunOutcome, host: str, gpus: str = "") -> str:
    """Commit what the run produced (as ``stage_result`` staged it) on top of the trial; return its id.

    A failed trial gets an empty commit whose message holds the end of its log;
    a pruned one holds what it wrote before it was stopped, and the step it reached.
    The commit is written without moving HEAD or any branch: publishing it is
    the caller's compare-and-swap. ``gpus``: the GPUs it ran on (``--gpus``), "" when gitexp did not choose them.
    """
    tree = outcome.tree if outcome.status in (SUCCEEDED, PRUNED) and outcome.tree else f"{trial.tip}^{{tree}}"
    message = result_message(
        trial, outcome.status, outcome.duration, host, outcome.metrics, outcome.reason, outcome.log_tail, gpus, outcome.step
    )
    return workdir.commit_tree(tree, message, [trial.tip])
