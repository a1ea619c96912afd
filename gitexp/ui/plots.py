"""The page's plots, as Vega-Lite: the project's declared plots and dvclive's step curves for the selected
trials (the specifications ``report --format html`` draws, from ``gitexp.review.dvc_plots``), and a sweep's
own views (``gitexp.review.sweep_views``).

A running trial has no result commit yet: its step curves are read from the
worktree that runs it, so each new dvclive step shows on the next refresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitexp.errors import UsageError
from gitexp.project.plots import declared_plots
from gitexp.review import dvc_plots
from gitexp.review.progress import sweep_progress
from gitexp.review.report import DVCLIVE_PLOTS_DIR, choose_ranking, dvclive_curves, parse_step_tsv
from gitexp.review.results import ResultsTable, Row, collect_results
from gitexp.review.sweep_views import Fronts, sweep_views
from gitexp.store.git import Git
from gitexp.store.layout import checked_out_commit
from gitexp.store.live import LiveClaims
from gitexp.store.records import RUNNING, Ledger, Trial
from gitexp.ui.data import safe

MAX_SELECTED = 20


def trial_plots(git: Git, project: str, ids: list[str], table: ResultsTable | None = None) -> dict[str, Any]:
    """``{"plots": [{"id", "title", "spec"}]}``: every plot the project declares, a series per selected trial
    (``table``: the results of their sweeps, when the caller has read them already)."""
    if len(ids) > MAX_SELECTED:
        raise UsageError(f"{len(ids)} trials selected: plots overlay at most {MAX_SELECTED}, unselect some")
    ledger = Ledger(git)
    trials = [ledger.resolve_trial(name) for name in ids]
    if table is None:
        table = collect_results(git, list(dict.fromkeys(trial.sweep for trial in trials)))
    rows = {(row.sweep, row.name): row for row in table.rows}
    chosen = [rows[(trial.sweep, trial.name)] for trial in trials if (trial.sweep, trial.name) in rows]
    revs = {f"{row.sweep}/{row.name}": row.commit for row in chosen if row.commit}
    found = [dvc_plots.step_curve(name, curves) for name, curves in sorted(step_curves(git, chosen, trials).items())]
    found += [plot for plot in declared_plots(git, project, revs) if plot.kind == "vega"]
    specs = [{"id": plot.id, "title": plot.title, "spec": dvc_plots.vega_lite(plot)} for plot in found]
    return safe({"plots": [spec for spec in specs if spec["spec"] is not None]})


def step_curves(git: Git, rows: list[Row], trials: list[Trial]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """``metric -> trial -> [(step, value)]``: finished trials' from their result commits, running ones' from their worktree."""
    curves = dvclive_curves(git, [row for row in rows if row.status != RUNNING])
    claims = LiveClaims.read(git, remotes=False)
    for row, trial in zip(rows, trials):
        if row.status != RUNNING:
            continue
        worktree = (claims.holder(trial) or {}).get("worktree")
        if not worktree or checked_out_commit(Path(worktree)) != trial.tip:
            continue
        folder = Path(worktree) / DVCLIVE_PLOTS_DIR
        for path in sorted(folder.rglob("*.tsv")):
            name = path.relative_to(folder).as_posix().removesuffix(".tsv")
            points = parse_step_tsv(path.read_bytes(), name.rsplit("/", 1)[-1])
            if points:
                curves.setdefault(name, {})[f"{row.sweep}/{row.name}"] = points
    return curves


def sweep_plots(git: Git, sweep: str, table: ResultsTable | None = None) -> dict[str, Any]:
    """``{"sweep", "metric", "goal", "declared", "objectives", "views"}``: the sweep's views against its objective
    (or the metric the report would rank by), its Pareto front when it has several objectives (``objectives``:
    ``[[metric, goal]]``, empty for one); no views when no trial has a number for it yet. ``table``: the sweep's
    results, when the caller has read them already."""
    if table is None:
        table = collect_results(git, [sweep])
    rows = [row for row in table.rows if not row.is_baseline]
    ranking = choose_ranking(rows, table.metric_columns, table.objectives.get(sweep))
    if ranking is None:
        return {"sweep": sweep, "metric": None, "goal": None, "declared": False, "objectives": [], "views": []}
    trials = [{"id": f"{row.sweep}/{row.name}", "params": row.params, "metrics": row.metrics} for row in rows]
    curve = [(f"{sweep}/{name}", best) for name, best in sweep_progress(rows, ranking.metric, ranking.goal).best_so_far]
    fronts = Fronts.of(table.pareto[sweep], sweep) if sweep in table.pareto else None
    views = sweep_views(trials, table.param_columns, ranking.metric, ranking.goal, curve, fronts)
    objectives = [list(objective) for objective in fronts.objectives] if fronts and len(fronts.objectives) > 1 else []
    return safe({"sweep": sweep, "metric": ranking.metric, "goal": ranking.goal, "declared": ranking.declared,
                 "objectives": objectives, "views": views})
