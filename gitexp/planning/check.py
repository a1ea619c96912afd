"""``gitexp check``: what a sweep would do, computed without writing anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitexp.errors import GitexpError
from gitexp.planning.queue import MAX_TRIALS_PER_QUEUE, ParamsTargets, data_sources, pruning_problem
from gitexp.project.command import command_words, display
from gitexp.project.model import Project, ProjectCache, load_project, no_dvc_yaml
from gitexp.store.git import Git
from gitexp.strategies import strategy_for
from gitexp.sweep.spec import SweepSpec


@dataclass
class SweepPreview:
    spec: SweepSpec
    trials: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the project makes of the sweep, beside the file's own notes

    def to_json(self) -> dict[str, Any]:
        definition = {
            "strategy": self.spec.strategy,
            "concurrency": self.spec.concurrency,
            "max_trials": strategy_for(self.spec).planned_trials(),
            "early_stopping": [
                {"metric": r.metric, "value": r.value, "optimization": r.goal} for r in self.spec.early_stopping
            ],
            "objective": {"metric": self.spec.objective.metric, "goal": self.spec.objective.goal}
            if self.spec.objective
            else None,
            "objectives": [{"metric": objective.metric, "goal": objective.goal} for objective in self.spec.objectives],
            "constraints": [str(constraint) for constraint in self.spec.constraints],
            "understood": list(self.spec.notes) + self.notes,
            "trials": [{"params": params} for params in self.trials],
        }
        if self.spec.pruner:
            definition["pruner"] = self.spec.pruner.to_json()
        return definition


def preview_sweep(
    spec: SweepSpec, git: Git | None, directory: str = "", cwd: Path | None = None, rev: str = "HEAD"
) -> SweepPreview:
    """Validate ``spec`` (against the project in ``directory`` at ``rev`` when there is one, and its ``--data``
    sources, relative to ``cwd``) and list its first trials."""
    spec.validate()
    warnings, notes = [], []
    if git is not None and git.rev_parse(rev):
        head = git.rev_parse(rev)
        project = _checked_project(git, head, directory, spec, warnings)
        if project is not None:
            ParamsTargets(git, head, project).check_spec(spec)
            data_sources(git, cwd or git.root, spec)
            warnings += [] if project.runs_command else metric_warnings(spec, project.metrics_files)
            if spec.command is not None and project.stages:
                notes.append(f"command {spec.command!r} is ignored: the project has a pipeline (dvc.yaml), so trials run dvc repro")
            elif project.runs_command:
                notes.append(f"no dvc.yaml: each trial runs {display(command_words(spec.command))}, {{{{ name }}}} filled from its gitexp.yaml")
            warnings += [problem] if (problem := pruning_problem(git, spec, head, project)) else []
    planned = spec.num_planned_trials()
    if planned is not None and planned > MAX_TRIALS_PER_QUEUE and not strategy_for(spec).adaptive:
        warnings.append(f"{planned} trials is more than gitexp queues at once ({MAX_TRIALS_PER_QUEUE})")
        plans = []
    else:
        plans = strategy_for(spec).initial_batch()
    trials = [{str(target): value for target, value in plan.params.items()} for plan in plans]
    return SweepPreview(spec, trials, warnings, notes)


def _checked_project(git: Git, head: str, directory: str, spec: SweepSpec, warnings: list[str]) -> Project | None:
    """The project trials of ``spec`` would run in, or None with the warning why there is none."""
    try:
        project = load_project(git, head, directory, ProjectCache(git.common_dir(), deferred=True))
    except GitexpError as exc:
        warnings.append(str(exc))
        return None
    if project.runs_command and spec.command is None:  # no pipeline and no command: queue refuses it
        warnings.append(no_dvc_yaml(directory))
        return None
    return project


def metric_warnings(spec: SweepSpec, metrics_files: tuple[str, ...]) -> list[str]:
    named = spec.named_metrics()
    if named and not metrics_files:
        return [f"dvc.yaml declares no metrics files, so {named[0]} cannot be read: gitexp run will refuse this sweep"]
    return []
