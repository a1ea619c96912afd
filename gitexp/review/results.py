"""Results of sweeps as rows: the baseline first, then each trial with its params and metrics."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gitexp import collector
from gitexp.errors import UsageError
from gitexp.numbers import finite, orderable
from gitexp.project.data import find_tracking
from gitexp.project.data import label as dataset_label
from gitexp.project.lock import PipelineRecord
from gitexp.project.metrics import CommitReader, dvc_file_paths, flatten, merge_metrics_files, read_workspace_metrics
from gitexp.project.model import Project, load_project
from gitexp.project.params import ParamsFile
from gitexp.project.params_read import read_values
from gitexp.store.git import Git
from gitexp.store.layout import checked_out_commit
from gitexp.store.live import LiveClaims
from gitexp.store.records import QUEUED, RUNNING, SUCCEEDED, Ledger, Sweep, Trial
from gitexp.sweep.spec import Constraint, Objective, SweepSpec

BASELINE = "baseline"


@dataclass(frozen=True)
class CommitDetails:
    """A row's commit as ``dvc exp show --json`` describes one: params and metrics by file, deps, outs, time.

    Paths are relative to the DVC project, as DVC writes them.
    """

    rev: str
    timestamp: str | None
    params: dict[str, Any]  # repo path -> values
    metrics: dict[str, Any]
    pipeline: PipelineRecord
    project: Project

    def to_json(self) -> dict[str, Any]:
        name = self.project.display
        return {
            "rev": self.rev,
            "timestamp": self.timestamp,
            "params": {name(path): {"data": values} for path, values in self.params.items()},
            "metrics": {name(path): {"data": values} for path, values in self.metrics.items()},
            "deps": {name(path): dep.to_json() for path, dep in self.pipeline.deps.items()},
            "outs": {name(path): out.to_json() for path, out in self.pipeline.outs.items() if out.kind == "outs"},
        }

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
    details: CommitDetails | None = None
    host: str | None = None  # where its result was made, and on which GPUs (when --gpus chose them)
    gpus: str | None = None
    archived: bool = False  # under refs/gitexp/archive/: no branch until gitexp restore

    @property
    def is_baseline(self) -> bool:
        return self.name == BASELINE

    def to_json(self) -> dict[str, Any]:
        """The row as ``show --json`` gives it; NaN and the infinities stay, for the writer to make null (strict JSON)."""
        found = {
            "sweep": self.sweep,
            "trial": self.name,
            "branch": self.branch,
            "status": self.status,
            "commit": self.commit,
            "duration": self.duration,
            "host": self.host,
            "gpus": self.gpus,
            "params": self.params,
            "metrics": self.metrics,
        }
        if self.archived:
            found["archived"] = True
        if self.details is not None:
            found["data"] = self.details.to_json()
        return found


@dataclass
class ResultsTable:
    rows: list[Row]
    param_columns: list[str] = field(default_factory=list)
    metric_columns: list[str] = field(default_factory=list)
    objectives: dict[str, tuple[str, str]] = field(default_factory=dict)  # sweep -> (metric, goal)
    pareto: dict[str, Pareto] = field(default_factory=dict)  # sweeps with several objectives or constraints
    hidden: int = 0  # trials left out by a limit

    def row_json(self, row: Row) -> dict[str, Any]:
        found = row.to_json()
        pareto = self.pareto.get(row.sweep)
        if pareto is not None and not row.is_baseline:
            found["pareto_front"] = pareto.fronts.get(row.name)
            found["feasible"] = row.name not in pareto.infeasible
        return found

    def pareto_mark(self, row: Row) -> str | None:
        """``front``, the number of the row's front, ``infeasible`` or ``-``; None outside multi-objective sweeps."""
        pareto = self.pareto.get(row.sweep)
        if pareto is None or row.is_baseline:
            return None if pareto is None else ""
        if row.name in pareto.infeasible:
            return "infeasible"
        front = pareto.fronts.get(row.name)
        return "front" if front == 1 else str(front) if front else "-"


@dataclass(frozen=True)
class Pareto:
    """A sweep's trials by Pareto front: 1 is the front (no feasible trial is better in every
    objective), 2 the front once those are set aside, and so on; infeasible trials break a constraint."""

    objectives: tuple[Objective, ...]
    fronts: dict[str, int]  # trial name -> front, for succeeded feasible trials with every objective
    infeasible: frozenset[str]

    @classmethod
    def of(cls, rows: list[Row], objectives: tuple[Objective, ...], constraints: tuple[Constraint, ...]) -> Pareto:
        done = [row for row in rows if row.status == SUCCEEDED and not row.is_baseline]
        infeasible = frozenset(
            row.name for row in done if any(rule.violation(row.metrics.get(rule.metric)) > 0 for rule in constraints)
        )
        points = {}
        for row in done:
            values = [finite(row.metrics.get(objective.metric)) for objective in objectives]
            if row.name not in infeasible and None not in values:  # costs: lower is better in every objective
                points[row.name] = tuple(-value if objective.goal == "maximize" else value for value, objective in zip(values, objectives))
        return cls(objectives, non_dominated_fronts(points), infeasible)

    def order(self, row: Row) -> tuple:
        """Sort key: front by front, within a front by the first objective, the rest after."""
        front = self.fronts.get(row.name)
        first = finite(row.metrics.get(self.objectives[0].metric)) if front else None
        return (front is None, front or 0, -first if first is not None and self.objectives[0].goal == "maximize" else first or 0)


def non_dominated_fronts(points: dict[str, tuple[float, ...]]) -> dict[str, int]:
    """Each point's front by non-dominated sorting of costs (lower is better in every coordinate)."""
    fronts: dict[str, int] = {}
    remaining = dict(points)
    front = 1
    while remaining:
        current = [name for name, cost in remaining.items() if not any(_dominates(other, cost) for other in remaining.values())]
        for name in current:
            fronts[name] = front
            del remaining[name]
        front += 1
    return fronts


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def sort_by_pareto(table: ResultsTable) -> None:
    """Sort the trials of multi-objective sweeps by their fronts (baseline rows stay first)."""
    ordered: list[Row] = []
    for sweep in dict.fromkeys(row.sweep for row in table.rows):
        rows = [row for row in table.rows if row.sweep == sweep]
        pareto = table.pareto.get(sweep)
        if pareto is not None:
            rows = [row for row in rows if row.is_baseline] + sorted((row for row in rows if not row.is_baseline), key=pareto.order)
        ordered += rows
    table.rows[:] = ordered


@collector.paused()  # 10,000 rows of small dicts and records, and no cycle among them
def collect_results(
    git: Git,
    sweep_names: list[str] | None = None,
    live: bool = True,
    all_params: bool = False,
    details: bool = False,
    archived: bool = False,
    limit: int | None = None,
    rank: tuple[str, str | None] | None = None,
) -> ResultsTable:
    """Rows for ``sweep_names`` (every sweep when None), with live metrics of running trials.

    Rows carry the params the trials vary, or with ``all_params`` every param of
    every params file; ``details`` adds what ``dvc exp show --json`` tells of each commit;
    ``archived`` adds the archived trials. With ``limit``, only the first ``limit`` trials are
    read (the best by ``rank``, ``(metric, order)``, as each result's headline metrics rank them),
    so a screenful of 100,000 trials costs as much as a screenful of ten.
    """
    ledger = Ledger(git)
    sweeps = [ledger.sweep(name) for name in sweep_names] if sweep_names else ledger.sweeps()
    trials = ledger.trials([sweep.name for sweep in sweeps], archived=archived) if sweeps else []
    claims = LiveClaims.read(git) if live else None
    by_sweep: dict[str, list[Trial]] = {}
    for trial in trials:
        if claims is not None and trial.status == QUEUED:
            trial = with_live_state(trial, git, claims)
        by_sweep.setdefault(trial.sweep, []).append(trial)
    objectives = {sweep.name: objective for sweep in sweeps if (objective := SweepSpec.from_json(sweep.spec).objective)}
    hidden = first_trials(by_sweep, limit, rank, {name: o.goal for name, o in objectives.items()}) if limit is not None else 0
    reading = RowReader(git, all_params, details)
    for sweep in sweeps:
        reading.add(sweep, by_sweep.get(sweep.name, []))
    reading.read()
    rows: list[Row] = []
    table = ResultsTable(rows, hidden=hidden)
    for sweep in sweeps:
        sweep_trials = by_sweep.get(sweep.name, [])
        keys = list(dict.fromkeys(key for trial in sweep_trials for key in trial.params))
        rows.append(reading.baseline_row(sweep, keys))
        trial_rows = [reading.trial_row(trial) for trial in sweep_trials]
        rows += trial_rows
        spec = SweepSpec.from_json(sweep.spec)
        if spec.objective:
            table.objectives[sweep.name] = (spec.objective.metric, spec.objective.goal)
        if len(spec.objectives) > 1 or (spec.objectives and spec.constraints):
            table.pareto[sweep.name] = Pareto.of(trial_rows, spec.objectives, spec.constraints)
    table.param_columns = list(dict.fromkeys(key for row in rows for key in row.params))
    table.metric_columns = list(dict.fromkeys(key for row in rows for key in row.metrics))
    return table


def first_trials(by_sweep: dict[str, list[Trial]], limit: int, rank: tuple[str, str | None] | None, goals: dict[str, str]) -> int:
    """Keep in ``by_sweep`` the first ``limit`` trials in table order (the best first by ``rank``); answer how many went."""
    ordered = []
    for name, trials in by_sweep.items():
        if rank is not None:
            metric, order = rank
            descending = order == "desc" if order else goals.get(name) != "minimize"
            present = [t for t in trials if orderable(t.metrics.get(metric)) is not None]
            present.sort(key=lambda t: orderable(t.metrics[metric]), reverse=descending)
            trials = present + [t for t in trials if orderable(t.metrics.get(metric)) is None]
        ordered += trials
    kept = {id(trial) for trial in ordered[:limit]}
    for name, trials in by_sweep.items():
        by_sweep[name] = [trial for trial in trials if id(trial) in kept]
    return max(0, len(ordered) - limit)


def limit_rows(table: ResultsTable, limit: int) -> None:
    """Keep the baseline rows and the first ``limit`` trial rows (after sorting: the best), counting the rest in ``hidden``."""
    trials = [row for row in table.rows if not row.is_baseline]
    if len(trials) <= limit:
        return
    dropped = {id(row) for row in trials[limit:]}
    table.rows[:] = [row for row in table.rows if id(row) not in dropped]
    table.hidden += len(dropped)


def with_live_state(trial: Trial, git: Git, claims: LiveClaims) -> Trial:
    """A queued trial that a runner holds is running; its worktree, when here, has its latest metrics.

    A runner reuses its worktree for trial after trial: what it holds belongs to
    this trial only once it has this trial checked out.
    """
    holder = claims.holder(trial)
    if holder is None:
        return trial
    worktree = holder.get("worktree")
    metrics = {}
    if worktree and checked_out_commit(Path(worktree)) == trial.tip:
        metrics = read_workspace_metrics(Path(worktree), load_project(git, trial.tip, trial.project))
    return Trial(**{**trial.__dict__, "status": RUNNING, "metrics": metrics})


def baseline_row(git: Git, sweep: Sweep, keys: list[str]) -> Row:
    """The baseline of ``sweep`` with the values of the params ``keys`` and its metrics."""
    reading = RowReader(git)
    reading.add(sweep, [])
    reading.read()
    return reading.baseline_row(sweep, keys)


class RowReader:
    """Builds rows from their commits' files, all read in one batch (``add`` every sweep, then ``read``).

    A succeeded trial's metrics are its result commit's metrics files (those in a
    cached output from the DVC cache); its ``Gitexp-Metrics`` trailer, which holds
    only the first numeric ones, stands in when none of the files can be read
    (outputs not fetched into this clone's cache). Other trials have the metrics
    their record or their running worktree gives.
    """

    def __init__(self, git: Git, all_params: bool = False, details: bool = False):
        self.git = git
        self.files = CommitReader(git)
        self.all_params = all_params
        self.details = details
        self.projects: dict[str, Project] = {}
        self.revs: dict[str, None] = {}
        self.params: dict[str, dict[str, Any]] = {}  # rev -> params file -> values
        self.times: dict[str, str] = {}
        self.sweeps: dict[str, Sweep] = {}
        self.constants: dict[str, list[tuple[str, Any]]] = {}  # sweep -> what its spec sets in every trial
        self.baseline_files: dict[tuple[str, str], ParamsFile | None] = {}  # (sweep, path) -> the baseline's file
        self.targets: dict[tuple[str, str], tuple[str, str]] = {}  # (sweep, param) -> (file, key)

    def add(self, sweep: Sweep, trials: list[Trial]) -> None:
        project = load_project(self.git, sweep.baseline, sweep.project)  # a trial changes params files only
        self.projects[sweep.name] = project
        self.sweeps[sweep.name] = sweep
        self.constants[sweep.name] = [(str(target), value) for target, value in SweepSpec.from_json(sweep.spec).constants]
        dvc_files = dvc_file_paths(self.git, sweep.baseline, project)
        params = project.params_files if self.all_params or self.details else ()
        self.files.add(sweep.baseline, project, dvc_files, params)
        self.revs.update(dict.fromkeys([sweep.baseline, *(trial.tip for trial in trials)]))
        for trial in trials:
            if trial.status == SUCCEEDED:
                self.files.add(trial.tip, project, dvc_files, params, trial.tree)
            else:
                self.files.want(trial.tip, params, trial.tree)
            if self.details and trial.committed is not None:
                self.times[trial.tip] = iso_time(trial.committed)

    def read(self) -> None:
        self.files.read()
        if self.details:
            self.times.update(commit_times(self.git, [rev for rev in self.revs if rev not in self.times]))

    def baseline_row(self, sweep: Sweep, keys: list[str]) -> Row:
        rev = sweep.baseline
        project = self.projects[sweep.name]
        plain = [key for key in keys if key not in sweep.data]
        params = self._flat_params(sweep.name, rev) if self.all_params else baseline_params(self.git, rev, plain, project)
        params.update(baseline_datasets(self.git, sweep, project))
        metrics = self.files.metrics_files(rev)
        details = self._details(sweep.name, rev, metrics)
        return Row(sweep.name, BASELINE, None, "", params, merge_metrics_files(metrics), commit=rev, details=details)

    def trial_row(self, trial: Trial) -> Row:
        files = self.files.metrics_files(trial.tip) if trial.status == SUCCEEDED else {}
        params = self._flat_params(trial.sweep, trial.tip, trial) if self.all_params else dict(trial.params)
        params.update((target, dataset_label(entry)) for target, entry in trial.data.items())
        details = self._details(trial.sweep, trial.tip, files, trial.status == SUCCEEDED, trial)
        metrics = merge_metrics_files(files) or trial.metrics
        return Row(
            trial.sweep, trial.name, None if trial.archived else trial.ref.branch, trial.status, params, metrics,
            trial.duration, trial.tip, details, trial.host, trial.gpus, trial.archived,
        )

    def _params_files(self, sweep: str, rev: str, trial: Trial | None = None) -> dict[str, Any]:
        """Each params file of the sweep's project that ``rev`` has, with its values (for a trial's commit,
        from its record when the file is the copy queue writes with the values the record names)."""
        if rev not in self.params:
            found = {}
            for path in self.projects[sweep].params_files:
                content = self.files.blob(rev, path)
                if content is None:
                    continue
                text = content.decode("utf-8", "replace")
                try:
                    copied = self._copy_values(sweep, path, text, trial) if trial is not None else None
                    found[path] = copied if copied is not None else read_values(path, text)
                except UsageError:  # broken in this commit: the row goes without it
                    continue
            self.params[rev] = found
        return self.params[rev]

    def _copy_values(self, sweep: str, path: str, text: str, trial: Trial) -> Any | None:
        """``path``'s values in ``trial`` when its text is the baseline's copy with the trial's values
        (the sweep's constants, then the record's params); None when the text must be read."""
        if (sweep, path) not in self.baseline_files:
            blob = self.files.blob(self.sweeps[sweep].baseline, path)
            try:
                self.baseline_files[sweep, path] = ParamsFile(path, blob.decode("utf-8", "replace")) if blob is not None else None
            except UsageError:
                self.baseline_files[sweep, path] = None
        baseline = self.baseline_files[sweep, path]
        if baseline is None:
            return None
        updates = {}
        for name, value in [*self.constants[sweep], *trial.params.items()]:
            file, key = self._target(sweep, name)
            if file == path:
                updates[key] = value
        return baseline.copy_values(text, updates)

    def _target(self, sweep: str, name: str) -> tuple[str, str]:
        """The params file (repo path) and the key in it that a param's name sets, as queue resolves it."""
        if (sweep, name) not in self.targets:
            project = self.projects[sweep]
            file, sep, key = name.partition(":")
            file, key = (file, key) if sep else (project.default_params_file, name)
            self.targets[sweep, name] = (project.path(file), key)
        return self.targets[sweep, name]

    def _details(self, sweep: str, rev: str, metrics: dict[str, Any], result: bool = True, trial: Trial | None = None) -> CommitDetails | None:
        """What dvc exp show tells of ``rev``; deps and outs only for a commit with results."""
        if not self.details:
            return None
        pipeline = self.files.pipeline(rev) if result else PipelineRecord({}, {})
        params = self._params_files(sweep, rev, trial)
        return CommitDetails(rev, self.times.get(rev), params, metrics, pipeline, self.projects[sweep])

    def _flat_params(self, sweep: str, rev: str, trial: Trial | None = None) -> dict[str, Any]:
        return flat_params(self.projects[sweep], self._params_files(sweep, rev, trial))


def flat_params(project: Project, files: dict[str, Any]) -> dict[str, Any]:
    """Every param of params ``files`` (path -> values) as a column: ``train.lr`` for params.yaml, ``FILE:KEY``
    for the others, the files named as users and ``--set`` name them (relative to the project)."""
    flat = {}
    for path, values in files.items():
        name = project.display(path)
        prefix = "" if name == project.default_params_file else f"{name}:"
        if isinstance(values, dict):
            flat.update((prefix + key, value) for key, value in flatten(values))
    return flat


def baseline_datasets(git: Git, sweep: Sweep, project: Project) -> dict[str, str]:
    """The datasets the baseline of a sweep with ``--data`` has, named as show names a trial's."""
    found = {}
    for target in sweep.data:
        try:
            tracking = find_tracking(git, sweep.baseline, project, target)
        except UsageError:
            continue
        found[target] = dataset_label({**tracking.current, "source": target})
    return found


def commit_times(git: Git, revs: list[str]) -> dict[str, str]:
    """When each commit was made, in ISO 8601 local time (``dvc exp show``'s timestamp, with its offset)."""
    return {rev: iso_time(seconds) for rev, seconds in git.commit_times(revs).items()}


@functools.lru_cache(maxsize=4096)  # a sweep's results share their seconds
def iso_time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds).astimezone().isoformat()


def baseline_params(git: Git, rev: str, keys: list[str], project: Project) -> dict[str, Any]:
    files: dict[str, ParamsFile | None] = {}
    values = {}
    for key in keys:
        path, sep, dotted = key.partition(":")
        path, dotted = (path, dotted) if sep else (project.default_params_file, key)
        if path not in files:
            linked = git.through_links(rev, project.path(path))
            blob = git.read_blob(rev, linked[0]) if linked else None
            files[path] = ParamsFile(path, blob.decode("utf-8", "replace")) if blob is not None else None
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
        present = [row for row in trials if orderable(row.metrics.get(metric)) is not None]
        absent = [row for row in trials if orderable(row.metrics.get(metric)) is None]
        present.sort(key=lambda row: orderable(row.metrics[metric]), reverse=descending)
        ordered += baseline + present + absent
    table.rows[:] = ordered
