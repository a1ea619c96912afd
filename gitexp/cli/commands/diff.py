"""diff: params and metrics of two trials or commits, as dvc exp diff shows them."""

from __future__ import annotations

from pathlib import Path

import click

from gitexp.cli.completion import complete_names
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.group import cli
from gitexp.review.tables import strict_json_text


@cli.command()
@click.argument("a", shell_complete=complete_names)
@click.argument("b", required=False, shell_complete=complete_names)
@click.option("-a", "--all", "everything", is_flag=True, help="Unchanged params and metrics too.")
@click.option("--params-only", is_flag=True, help="Params alone (a trial without a result yet has no metrics).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (dvc exp diff --json's shape, plus rel).")
@click.option("--md", "as_md", is_flag=True, help="Print Markdown tables.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR", help="Write both sides' DVC plots into DIR (dvc plots diff).")
@pass_environment
def diff(environment: Environment, a, b, everything, params_only, as_json, as_md, as_csv, plots_dir):
    """What differs from A to B (trials, sweeps' baselines, commits); from A's baseline to A when B is left out."""
    from gitexp.errors import UsageError
    from gitexp.review import diff as diffs

    if sum((as_json, as_md, as_csv)) > 1:
        raise UsageError("choose one of --json, --md and --csv")
    git = environment.git()
    old, new = diffs.plan_diff(git, a, b, environment.project_dir(git), params_only)
    if plots_dir is not None:
        diffs.check_plots_dir(environment.cwd / plots_dir)
    result = diffs.diff(git, old, new, everything=everything, params_only=params_only)
    if plots_dir is not None:
        written = diffs.write_plots(git, old, new, environment.cwd / plots_dir, environment.env)
    if as_json:
        environment.echo_json(strict_json_text(result.to_json()))  # NaN as null, as show --json writes it
    elif as_md:
        environment.write(diffs.to_markdown(result))
    elif as_csv:
        environment.write(diffs.to_csv(result))
    else:
        show_tables(environment, result)
    if plots_dir is not None and not as_json:
        environment.echo_err(f"Plots of {old.label} and {new.label}: {written}")


def show_tables(environment: Environment, result) -> None:
    from gitexp.review import diff as diffs

    if not result.changes:
        what = "params" if result.params_only else "params or metrics"
        environment.echo(f"No {what} differ between {result.old.label} and {result.new.label} (--all lists them all)")
        return
    for index, kind in enumerate(diffs.kinds(result)):
        if index:
            environment.echo()
        if result.of(kind):
            environment.console.print(diffs.to_rich(result, kind))
        else:
            environment.echo(f"No {kind} differ")
