"""One SweepSpec from the command line: --set flags, a sweep file, or both (flags win), and a script's
command after ``--`` (its swept flags are axes too)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from gitexp.errors import UsageError
from gitexp.sweep.expr import parse_data, parse_set
from gitexp.sweep.files import read_sweep_file, validate_in_file
from gitexp.sweep.pruner import PrunerSpec, parse_pruner
from gitexp.sweep.script import script_sweep
from gitexp.sweep.space import Space
from gitexp.sweep.spec import Objective, SweepSpec, spec_from_flags


def build_spec(
    sets: list[str],
    *,
    data: list[str] = (),
    sweep_file: Path | None = None,
    strategy: str | None = None,
    num_trials: int | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    objective: str | None = None,
    goal: str | None = None,
    command: Sequence[str] = (),
    metrics: Sequence[str] = (),
    outs: Sequence[str] = (),
    pruner: str | None = None,
    prune_metric: str | None = None,
    prune_min_step: int | None = None,
) -> SweepSpec:
    evaluate = strategy != "none"  # Grid.ai's none: the command's flags as written, one trial
    if not evaluate:
        if not command:
            raise UsageError("--strategy none passes a command's flags as written: give the command after --, e.g. gitexp queue --strategy none -- python main.py")
        strategy = "grid"
    spec = _flags_and_file(sets, data, sweep_file, strategy, num_trials, seed, concurrency, objective, goal, bool(command))
    if command:
        line, axes = script_sweep(command, evaluate=evaluate, seed=seed if seed is not None else spec.seed or 0)
        flagged = {axis.target for axis in axes}
        space = Space(tuple(axis for axis in spec.space.axes if axis.target not in flagged) + tuple(axes))
        spec = dataclasses.replace(spec, space=space, command=line)
    if metrics or outs:
        spec = dataclasses.replace(spec, command_metrics=tuple(metrics), command_outs=tuple(outs))
    if (command or metrics or outs) and sweep_file:
        validate_in_file(spec, sweep_file)
    elif command or metrics or outs:
        spec.validate()
    flagged = _pruner_with_flags(spec.pruner, pruner, prune_metric, prune_min_step)
    if flagged is not spec.pruner:
        spec = dataclasses.replace(spec, pruner=flagged)
        spec.validate()
    return spec


def _pruner_with_flags(recorded: PrunerSpec | None, name: str | None, metric: str | None, min_step: int | None) -> PrunerSpec | None:
    """The sweep file's pruner as --pruner, --prune-metric and --prune-min-step change it."""
    if name is None and metric is None and min_step is None:
        return recorded
    if name is not None and (recorded is None or recorded.name != name.lower()):
        recorded = parse_pruner(name, "--pruner")
    if recorded is None:
        raise UsageError("--prune-metric and --prune-min-step need a pruner: give --pruner NAME, e.g. --pruner median")
    section = {**recorded.options, "name": recorded.name, "metric": metric or recorded.metric, "goal": recorded.goal}
    section["min_step"] = recorded.min_step if min_step is None else min_step
    return parse_pruner({key: value for key, value in section.items() if value is not None}, "--pruner")


def _flags_and_file(sets, data, sweep_file, strategy, num_trials, seed, concurrency, objective, goal, command: bool) -> SweepSpec:
    if not sets and not data and sweep_file is None and not command:
        raise UsageError("nothing to sweep: give --set KEY=VALUES (repeatable), --data PATH=SOURCE, --sweep FILE or a command after --")
    if goal and not objective:
        raise UsageError("--goal needs --objective METRIC: name the metric to optimise")
    target = Objective(objective, goal or "maximize") if objective else None
    if sweep_file is None:
        return spec_from_flags(
            sets,
            data=data,
            strategy=strategy or "grid",
            num_trials=num_trials,
            seed=seed,
            concurrency=1 if concurrency is None else concurrency,
            objective=target,
        )
    spec = read_sweep_file(sweep_file)  # validated once the flags are in: --num-trials may complete a W&B file
    overrides = {
        name: value
        for name, value in (
            ("strategy", strategy),
            ("max_trials", num_trials),
            ("seed", seed),
            ("concurrency", concurrency),
            ("objective", target),
        )
        if value is not None
    }
    if target is not None:
        overrides["more_objectives"] = ()  # --objective names the one objective
    if sets or data:
        flag_axes = [parse_set(flag, seed=seed if seed is not None else spec.seed or 0) for flag in sets]
        flag_axes += [parse_data(flag) for flag in data]
        flagged = {axis.target for axis in flag_axes}
        kept = [axis for axis in spec.space.axes if axis.target not in flagged]
        overrides["space"] = Space(tuple(kept + flag_axes))
    spec = dataclasses.replace(spec, **overrides)
    validate_in_file(spec, sweep_file)
    return spec
