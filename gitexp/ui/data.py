"""What the page shows, as JSON, read through the functions ``show``, ``report``, ``logs`` and ``check`` use.

The experiments table is ``collect_results`` of the sweeps whose baseline is one
of the newest commits of the chosen branch, with every param (the page's column
picker offers them all; the ones that vary are shown by default).
"""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitexp.errors import GitexpError, UsageError
from gitexp.github.repository import GitHubRepo
from gitexp.project.metrics import metrics_paths
from gitexp.project.model import load_project
from gitexp.project.params_read import read_values
from gitexp.review.results import BASELINE, ResultsTable, Row, collect_results, flat_params
from gitexp.store.git import Git
from gitexp.store.layout import trial_log_path, worktrees_root
from gitexp.store.records import RUNNING, STATES, Ledger, Sweep, Trial
from gitexp.store.remote import DEFAULT_REMOTE, remote_url

LOG_TAIL_BYTES = 64 * 1024
TRIAL_HISTORY = 64  # first-parent commits searched for a trial's own commit below its results (retries stack)


@dataclass(frozen=True)
class View:
    """Which commits the table covers: the newest ``count`` of ``rev``'s first-parent line, or ``sweeps``' baselines."""

    git: Git
    project: str  # the DVC project's folder in the repository
    rev: str = "HEAD"
    count: int = 10
    sweeps: tuple[str, ...] = ()  # only these sweeps, each under its baseline commit (a report's table)


def experiments(view: View, table: ResultsTable | None = None) -> dict[str, Any]:
    """The table: commits newest first, each with the trials of the sweeps based on it (``table``: their
    results, when the caller has read them already).

    Rows carry every param: a trial commit changes only the params it varies, so
    its other params are its baseline's, read once per baseline instead of once per trial.
    """
    git = view.git
    history, base_of, sweeps = _commits_and_sweeps(view)
    if table is None:
        table = collect_results(git, [sweep.name for sweep in sweeps]) if sweeps else ResultsTable([])
    created = {sweep.name: sweep.created for sweep in sweeps}
    baseline_params = {sweep.name: _all_params(git, sweep) for sweep in sweeps}
    rows: list[dict[str, Any]] = []
    for oid, seconds, subject in history:
        rows.append({"id": oid, "kind": "commit", "commit": oid, "subject": subject, "created": seconds, "status": ""})
        parent = rows[-1]
        for row in table.rows:
            if base_of[row.sweep] != oid:
                continue
            params = {**baseline_params[row.sweep], **row.params}
            if row.is_baseline:
                parent.setdefault("params", safe(params))
                parent.setdefault("metrics", safe(row.metrics))
                parent.setdefault("sweeps", []).append(row.sweep)
                continue
            rows.append(_trial_json(table, row, params, oid, created[row.sweep]))
    trials = [row for row in rows if row["kind"] == "trial"]
    columns = list(dict.fromkeys([key for found in baseline_params.values() for key in found] + table.param_columns))
    return {
        "rev": view.rev,
        "branch": (git.current_branch() or "").removeprefix("refs/heads/") if view.rev == "HEAD" else view.rev,
        "rows": rows,
        "params": columns,
        "varying": table.param_columns,  # what show lists without --all
        "metrics": table.metric_columns,
        "objectives": {sweep: {"metric": metric, "goal": goal} for sweep, (metric, goal) in table.objectives.items()},
        "counts": {state: sum(1 for row in trials if row["status"] == state) for state in STATES},
    }


def _commits_and_sweeps(view: View) -> tuple[list[tuple[str, int, str]], dict[str, str | None], list[Sweep]]:
    """The table's commits (oid, time, subject), the commit each sweep's rows go under, and the sweeps."""
    git, ledger = view.git, Ledger(view.git)
    if view.sweeps:
        sweeps = [ledger.sweep(name) for name in view.sweeps]
        commits = {sweep.baseline: git.first_parent_log(sweep.baseline, 1)[0] for sweep in sweeps}
        return list(commits.values()), {sweep.name: sweep.baseline for sweep in sweeps}, sweeps
    history = git.first_parent_log(view.rev, view.count)
    order = {oid: index for index, (oid, _, _) in enumerate(history)}
    found = ledger.sweeps()
    base_of = {sweep.name: _commit_of(git, sweep, order) for sweep in found}
    return history, base_of, [sweep for sweep in found if base_of[sweep.name] is not None]


def _all_params(git: Git, sweep: Sweep) -> dict[str, Any]:
    try:
        return commit_params(git, sweep.baseline, sweep.project)["params"]
    except UsageError:  # a params file broken in the baseline: the trials' own params still show
        return {}


def _commit_of(git: Git, sweep: Sweep, order: dict[str, int]) -> str | None:
    """The branch commit a sweep belongs to: its baseline, or for a snapshot of uncommitted changes its parent."""
    if sweep.baseline in order:
        return sweep.baseline
    parents = git.commit_parents([sweep.baseline]).get(sweep.baseline, ())
    return parents[0] if parents and parents[0] in order else None


def _trial_json(table: ResultsTable, row: Row, params: dict[str, Any], parent: str, created: str) -> dict[str, Any]:
    """A trial's row; in a multi-objective sweep with ``pareto`` (show's mark: front, the front's number,
    infeasible or -) and ``pareto_front`` (the number, to sort by)."""
    found = safe({**table.row_json(row), "params": params})
    step = row.metrics.get("step") if row.status == RUNNING else None
    found.update({"id": f"{row.sweep}/{row.name}", "kind": "trial", "parent": parent, "created": created})
    found.update({"host": row.host, "step": step})
    if row.sweep in table.pareto:
        found["pareto"] = table.pareto_mark(row)
    return found


def trial_detail(git: Git, name: str) -> dict[str, Any]:
    """One trial: its params against its baseline's, its metrics with their deltas, log tail, commits, commands."""
    trial = Ledger(git).resolve_trial(name)
    table = collect_results(git, [trial.sweep], all_params=True)
    rows = {row.name: row for row in table.rows}
    return _detail(trial, table, rows, Pages.of(git, [trial], rows[BASELINE].commit))


def sweep_details(git: Git, sweep: str, log_bytes: int) -> dict[str, dict[str, Any]]:
    """``trial_detail`` of every trial of ``sweep`` by its id, from one read of the results (a report's trial pages)."""
    table = collect_results(git, [sweep], all_params=True)
    rows = {row.name: row for row in table.rows}
    trials = [trial for trial in Ledger(git).trials([sweep]) if trial.name in rows]
    pages = Pages.of(git, trials, rows[BASELINE].commit, log_bytes)
    return {trial.ref.key: _detail(trial, table, rows, pages) for trial in trials}


@dataclass(frozen=True)
class Pages:
    """What the pages of a sweep's trials read from Git and the disk, read once for all of them."""

    common_dir: Path  # where the logs are
    github: GitHubRepo | None
    trial_commits: dict[str, str]  # by trial id
    log_bytes: int

    @classmethod
    def of(cls, git: Git, trials: list[Trial], baseline: str, log_bytes: int = LOG_TAIL_BYTES) -> "Pages":
        commits = _trial_commits(git, {trial.ref.key: (trial.tip, baseline) for trial in trials})
        return cls(git.common_dir(), github_repo(git), commits, log_bytes)


def _detail(trial: Trial, table: ResultsTable, rows: dict[str, Row], pages: Pages) -> dict[str, Any]:
    row, baseline = rows[trial.name], rows[BASELINE]
    params = [
        {"key": key, "value": row.params.get(key), "baseline": baseline.params.get(key)}
        for key in table.param_columns
        if row.params.get(key) != baseline.params.get(key)
    ]
    metrics = [
        {"key": key, "value": row.metrics.get(key), "baseline": baseline.metrics.get(key),
         "delta": _delta(row.metrics.get(key), baseline.metrics.get(key))}
        for key in table.metric_columns
    ]
    key = trial.ref.key
    trial_commit = pages.trial_commits[key]
    result = trial.tip if trial.tip != trial_commit else None
    return safe({
        "id": key,
        "status": row.status,
        "branch": row.branch,
        "commit": row.commit,
        "trial_commit": trial_commit,
        "result_commit": result,
        "links": github_links(pages.github, trial_commit, result, row.branch),
        "baseline": baseline.commit,
        "duration": row.duration,
        "host": row.host,
        "params": params,
        "metrics": metrics,
        "log": log_tail(pages.common_dir, trial.sweep, trial.name, pages.log_bytes),
        "commands": [f"gitexp logs -f {key}", f"gitexp diff {key}", f"gitexp apply {key}", f"gitexp pr {key}"],
    })


def _trial_commits(git: Git, tips: dict[str, tuple[str, str]]) -> dict[str, str]:
    """For each trial's (tip, baseline), the commit queue wrote: the one on the baseline among the tip's first
    parents; the tip itself until a result lands on it. All tips walk down together, one ``rev-list`` a step."""
    found = {key: tip for key, (tip, _) in tips.items()}
    walking = dict(found)  # the commit each trial reached, whose first parent is read next
    for _ in range(TRIAL_HISTORY - 1):
        parents = git.commit_parents(set(walking.values())) if walking else {}
        reached = {key: (parents.get(commit) or (None,))[0] for key, commit in walking.items()}
        found.update({key: walking[key] for key, parent in reached.items() if parent == tips[key][1]})
        walking = {key: parent for key, parent in reached.items() if parent is not None and parent != tips[key][1]}
    return found


def github_repo(git: Git) -> GitHubRepo | None:
    """The GitHub repository of the remote ``gitexp push`` uses; None when there is no such remote or it is elsewhere."""
    try:
        return GitHubRepo.from_remote_url(remote_url(git, DEFAULT_REMOTE))
    except GitexpError:
        return None


def github_links(repo: GitHubRepo | None, trial_commit: str, result: str | None, branch: str | None) -> dict[str, str] | None:
    """Where the trial's commits and branch are on ``repo`` (``github_repo``); None without one. Built from the
    owner and name only, so no credential of the remote's URL reaches the page.

    ``gitexp pr`` records no pull request, so ``pulls`` searches the branch's pull requests."""
    if repo is None:
        return None
    links = {"trial_commit": f"{repo.web_url}/commit/{trial_commit}"}
    if result:
        links["result_commit"] = f"{repo.web_url}/commit/{result}"
    if branch:
        links["branch"] = f"{repo.web_url}/tree/{urllib.parse.quote(branch, safe='/')}"
        links["pulls"] = f"{repo.web_url}/pulls?q={urllib.parse.quote_plus(f'is:pr head:{branch}')}"
    return links


def _delta(value: Any, baseline: Any) -> float | None:
    numbers = all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in (value, baseline))
    return value - baseline if numbers else None


def log_tail(common_dir: Path, sweep: str, trial: str, size: int = LOG_TAIL_BYTES) -> str:
    """The last ``size`` bytes of the trial's log, as ``gitexp logs`` reads it (empty before it ran)."""
    path = trial_log_path(common_dir, sweep, trial)
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - size))
            return file.read().decode("utf-8", "replace")
    except OSError:
        return ""


def commit_params(git: Git, rev: str, project_dir: str) -> dict[str, Any]:
    """Every param of ``rev`` by column name, for the run form's fields."""
    commit = git.rev_parse(f"{rev}^{{commit}}")
    if commit is None:
        raise UsageError(f"no commit named {rev!r}: pick a commit of the table as the base")
    project = load_project(git, commit, project_dir)
    files = {}
    for path in project.params_files:
        blob = git.read_blob(commit, path)
        if blob is not None:
            files[path] = read_values(path, blob.decode("utf-8", "replace"))
    return {"commit": commit, "params": safe(flat_params(project, files))}


def watched_files(git: Git, project_dir: str) -> list[Path]:
    """Files whose change means new live metrics: each slot's metrics files, and the trial locks."""
    root = worktrees_root(git.common_dir())
    try:
        project = load_project(git, git.rev_parse("HEAD") or "HEAD", project_dir)
        paths = metrics_paths(project)
    except (UsageError, OSError):
        paths = ()
    slots = [entry for entry in root.iterdir() if entry.is_dir()] if root.is_dir() else []
    return [slot / path for slot in slots for path in paths]


def safe(value: Any) -> Any:
    """``value`` as strict JSON carries it: NaN and the infinities as null, keys as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe(item) for item in value]
    return value
