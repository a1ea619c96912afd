"""gitexp demo: the bundled example, end to end, with the same commands a user types."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

import click

from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.group import cli
from gitexp.errors import GitexpError


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("-j", "--jobs", default=2, show_default=True, help="Trials to run in parallel.")
@pass_environment
def demo(environment: Environment, directory, jobs):
    """Build the example DVC project in DIRECTORY (default: a temporary folder), run a sweep and write its report."""
    from gitexp.cli.main import main  # the demo runs the commands themselves, as a user would
    from gitexp.demo.build import DEMO_OBJECTIVE, DEMO_REPORT, DEMO_SETS, create_demo_project

    directory = (environment.cwd / directory) if directory else Path(tempfile.mkdtemp(prefix="gitexp-demo-"))
    environment.echo(f"Building the demo project in {directory} (git init, dvc init, dvc repro of the baseline)")
    create_demo_project(directory, environment.env)
    inside = Environment(
        cwd=directory, env=environment.env, stdout=environment.stdout, stderr=environment.stderr, no_color=environment.no_color
    )
    sets = [part for value in DEMO_SETS for part in ("--set", value)]
    metric, goal = DEMO_OBJECTIVE
    steps = (
        ["queue", "--name", "demo", *sets, "--objective", metric, "--goal", goal],
        ["run", "-j", str(jobs)],
        ["show", "--sort-by", metric],
        ["report", "demo", "--format", "html", "-o", DEMO_REPORT],
    )
    for argv in steps:
        environment.echo(f"\n$ gitexp {shlex.join(argv)}")
        code = main(argv, inside)
        if code:
            raise GitexpError(f"the demo stopped at gitexp {argv[0]} (exit status {code}); see the message above")
    environment.echo(f"\nEvery trial is a branch: git -C {shlex.quote(str(directory))} log --oneline --graph --all")
    environment.echo(f"The report ranks the trials by {metric}: open {(directory / DEMO_REPORT).as_uri()} in a browser")
