"""gitexp check: validate a sweep and show the trials it would make, writing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gitexp.cli.commands.core import ScriptCommand, spec_from_options, sweep_options
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.group import cli
from gitexp.errors import RepositoryError
from gitexp.review.tables import format_value


@cli.command(cls=ScriptCommand)
@click.argument("sweep_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@sweep_options
@click.option("--json", "as_json", is_flag=True, help="Print the definition and trials as JSON.")
@pass_environment
def check(environment: Environment, sweep_file, as_json, **sweep_flags):
    """Validate a sweep file and/or --set flags; print the definition and its trials."""
    from gitexp.planning.check import preview_sweep

    spec = spec_from_options(environment, sweep_flags.pop("sets"), sweep_file, **sweep_flags)
    try:
        git = environment.git()
    except RepositoryError:
        git = None  # outside a repository only the sweep itself is checked
    preview = preview_sweep(spec, git, environment.project_dir(git) if git else "", environment.cwd)
    for warning in preview.warnings:
        environment.echo_err(f"gitexp: warning: {warning}")
    if as_json:
        environment.echo_json(json.dumps(preview.to_json(), indent=2))
        return
    definition = preview.to_json()
    environment.echo(f"strategy: {definition['strategy']}")
    environment.echo(f"concurrency: {definition['concurrency']}")
    environment.echo(f"trials: {definition['max_trials'] if definition['max_trials'] is not None else 'adaptive'}")
    objectives = definition["objectives"]
    if objectives:
        label = "objective" if len(objectives) == 1 else "objectives (Pareto)"
        environment.echo(f"{label}: " + ", ".join(f"{objective['goal']} {objective['metric']}" for objective in objectives))
    for constraint in definition["constraints"]:
        environment.echo(f"constraint: {constraint}")
    for rule in definition["early_stopping"]:
        environment.echo(f"early stopping: {rule['metric']} {'>=' if rule['optimization'] == 'maximize' else '<='} {rule['value']}")
    if spec.pruner and (steered := spec.steered()):
        options = "".join(f", {key}={value}" for key, value in spec.pruner.options.items())
        environment.echo(f"pruner: {spec.pruner.name} on {steered[1]} {steered[0]} from step {spec.pruner.min_step}{options}")
    if definition["understood"]:
        environment.echo("understood:")
        for note in definition["understood"]:
            environment.echo(f"  {note}")
    label = "first trials" if spec.strategy in ("hyperband", "bayes") else "trials"
    environment.echo(f"{label}:")
    for index, trial in enumerate(preview.trials, start=1):
        environment.echo(f"  {index:>4}  " + " ".join(f"{k}={format_value(v)}" for k, v in trial.items()))
