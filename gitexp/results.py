"""Results of sweeps as rows: the baseline first, then each trial with its params and metrics."""

from __future__ import annotations

import math
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError
from .execution.claims import DEFAULT_STALE_AFTER, read_claim
from .execution.locks import held_by, lock_path
from .execution.worktrees import checked_out_commit
from .git import Git
from .metrics import read_commit_metrics, read_workspace_metrics
from .params import ParamsFile
from .project import DEFAULT_PARAMS_FILE, Project, load_project
from .records import QUEUED, RUNNING, STATES, Ledger, Sweep, Trial
from .remote import tracked_claims
from .sweep.spec import SweepSpec

BASELINE = "baseline"


@dataclass(frozen=True)
class Row:
    sweep: str
    name: str
    branch: str | None
    status: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    duration: float | None = None
    commit: str = ""

    @property
    def is_baseline(self) -> bool:
        return self.name == BASELINE

    def to_json(self) -> dict[str, Any]:
        return {
            "sweep": self.sweep,
            "trial": self.name,
            "branch": self.branch,
            "status": self.status,
            "commit": self.commit,
            "duration": self.duration,
            "params": self.params,
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
        }


@dataclass
class ResultsTable:
    rows: list[Row]
    param_columns: list[str] = field(default_factory=list)
    metric_columns: list[str] = field(default_factory=list)
    objectives: dict[str, tuple[str, str]] = field(default_factory=dict)  # sweep -> (metric, goal)

    def to_json(self) -> dict[str, Any]:
        return {"trials": [row.to_json() for row in self.rows]}


def collect_results(git: Git, sweep_names: list[str] | None = None, live: bool = True) -> ResultsTable:
    """Rows for ``sweep_names`` (every sweep when None), with live metrics of running trials."""
    ledger = Ledger(git)
    sweeps = [ledger.sweep(name) for name in sweep_names] if sweep_names else ledger.sweeps()
    trials = ledger.trials([sweep.name for sweep in sweeps]) if sweeps else []
    common_dir = git.common_dir()
    elsewhere = running_elsewhere(git) if live else set()
    by_sweep: dict[str, list[Trial]] = {}
    for trial in trials:
        if live and trial.status == QUEUED:
            trial = with_live_state(trial, common_dir, git, elsewhere)
        by_sweep.setdefault(trial.sweep, []).append(trial)
    rows: list[Row] = []
    table = ResultsTable(rows)
    for sweep in sweeps:
        sweep_trials = by_sweep.get(sweep.name, [])
        keys = list(dict.fromkeys(key for trial in sweep_trials for key in trial.params))
        rows.append(baseline_row(git, sweep, keys))
        rows += [trial_row(trial) for trial in sweep_trials]
        objective = SweepSpec.from_json(sweep.spec).objective
        if objective:
            table.objectives[sweep.name] = (objective.metric, objective.goal)
    table.param_columns = list(dict.fromkeys(key for row in rows for key in row.params))
    table.metric_columns = list(dict.fromkeys(key for row in rows for key in row.metrics))
    return table


def running_elsewhere(git: Git) -> set[str]:
    """Trials (``sweep/trial``) that a live claim on a remote holds, as this clone last fetched the claims."""
    now = time.time()
    claims = (read_claim(record) for record in tracked_claims(git))
    return {claim.key for claim in claims if now - claim.heartbeat <= DEFAULT_STALE_AFTER}


def with_live_state(trial: Trial, common_dir: Path, git: Git, elsewhere: Collection[str] = ()) -> Trial:
    """A queued trial that a runner holds is running; its worktree, when here, has its latest metrics.

    A runner reuses its worktree for trial after trial: what it holds belongs to
    this trial only once it has this trial checked out.
    """
    holder = held_by(lock_path(common_dir, trial.sweep, trial.name))
    if holder is None:
        return Trial(**{**trial.__dict__, "status": RUNNING}) if trial.ref.key in elsewhere else trial
    worktree = Path(holder.get("worktree", ""))
    metrics = {}
    if checked_out_commit(worktree) == trial.tip:
        metrics = read_workspace_metrics(worktree, load_project(git, trial.tip, trial.project))
    return Trial(**{**trial.__dict__, "status": RUNNING, "metrics": metrics})


def trial_row(trial: Trial) -> Row:
    return Row(trial.sweep, trial.name, trial.ref.branch, trial.status, trial.params, trial.metrics, trial.duration, trial.tip)


def baseline_row(git: Git, sweep: Sweep, keys: list[str]) -> Row:
    project = load_project(git, sweep.baseline, sweep.project)
    return Row(
        sweep.name,
        BASELINE,
        None,
        "",
        baseline_params(git, sweep.baseline, keys, project),
        read_commit_metrics(git, sweep.baseline, project),
        commit=sweep.baseline,
    )


def baseline_params(git: Git, rev: str, keys: list[str], project: Project) -> dict[str, Any]:
    files: dict[str, ParamsFile | None] = {}
    values = {}
    for key in keys:
        path, sep, dotted = key.partition(":")
        path, dotted = (path, dotted) if sep else (DEFAULT_PARAMS_FILE, key)
        if path not in files:
            blob = git.read_blob(rev, project.path(path))
            files[path] = ParamsFile(path, blob.decode()) if blob is not None else None
        try:
            values[key] = files[path].get(dotted) if files[path] else None
        except UsageError:
            values[key] = None
    return values


def sort_rows(table: ResultsTable, metric: str, order: str | None = None) -> None:
    """Sort each sweep's trials by ``metric`` (baseline rows stay first); missing values last."""
    if metric not in table.metric_columns:
        known = ", ".join(table.metric_columns[:10]) or "none recorded yet"
        raise UsageError(f"no metric named {metric!r} (metrics: {known}): pick one of them for --sort-by")
    ordered: list[Row] = []
    for sweep in dict.fromkeys(row.sweep for row in table.rows):
        rows = [row for row in table.rows if row.sweep == sweep]
        goal = table.objectives.get(sweep, (None, "maximize"))[1] if order is None else None
        descending = order == "desc" if order else goal != "minimize"
        baseline = [row for row in rows if row.is_baseline]
        trials = [row for row in rows if not row.is_baseline]
        present = [row for row in trials if _number(row.metrics.get(metric)) is not None]
        absent = [row for row in trials if _number(row.metrics.get(metric)) is None]
        present.sort(key=lambda row: _number(row.metrics[metric]), reverse=descending)
        ordered += baseline + present + absent
    table.rows[:] = ordered


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def _json_number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass(frozen=True)
class SweepStatus:
    sweep: Sweep
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def sweep_statuses(git: Git) -> list[SweepStatus]:
    """Every sweep with its trials counted by state (running ones found by their claims)."""
    ledger = Ledger(git)
    common_dir = git.common_dir()
    elsewhere = running_elsewhere(git)
    counts: dict[str, dict[str, int]] = {}
    for trial in ledger.trials():
        status = trial.status
        if status == QUEUED and (
            trial.ref.key in elsewhere or held_by(lock_path(common_dir, trial.sweep, trial.name)) is not None
        ):
            status = RUNNING
        per_sweep = counts.setdefault(trial.sweep, dict.fromkeys(STATES, 0))
        per_sweep[status] = per_sweep.get(status, 0) + 1
    return [SweepStatus(sweep, counts.get(sweep.name, dict.fromkeys(STATES, 0))) for sweep in ledger.sweeps()]
