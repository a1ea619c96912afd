"""report, pr, push, pull, apply, remove: sharing and reviewing trials."""

from __future__ import annotations

from pathlib import Path

import click

from gitexp.cli.completion import (
    complete_names,
    complete_remotes,
    complete_remotes_and_sweeps,
    complete_sweeps,
    complete_trials,
)
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.group import cli
from gitexp.store.remote import DEFAULT_REMOTE

REMOTE_AND_SWEEPS = "[REMOTE] [SWEEP]..."


@cli.command()
@click.argument("arguments", nargs=-1, metavar=REMOTE_AND_SWEEPS, shell_complete=complete_remotes_and_sweeps)
@click.option("--no-dvc", is_flag=True, help="Leave DVC outputs alone (no dvc push).")
@click.option("--run", "start_runs", is_flag=True, help="Then start each named sweep's one CI run (GITHUB_TOKEN, GH_TOKEN or gh).")
@click.option("--pr", "open_prs", is_flag=True, help="With --run: open each sweep's draft pull request, whose push starts the run.")
@pass_environment
def push(environment: Environment, arguments, no_dvc, start_runs, open_prs):
    """Push sweeps and their trial branches (every sweep by default) to REMOTE (default: origin).

    Only refs that are new or ahead here move; then dvc push sends the outputs
    of every branch when the project has a DVC remote (if it fails, the error is
    DVC's, and the Git refs have been pushed). With --run, each named sweep's CI
    run is checked first (token, baseline branch on the remote, workflow file),
    and started once everything is pushed.
    """
    from gitexp.errors import UsageError
    from gitexp.github.pull_requests import open_sweep_pull_request
    from gitexp.github.runs import dispatch, prepare_run
    from gitexp.sharing.remotes import split_remote_and_names, with_actions_token
    from gitexp.sharing.sync import push as push_refs
    from gitexp.store.records import Ledger

    git = environment.git()
    remote, sweeps = split_remote_and_names(git, list(arguments), local_sweeps=True)
    if open_prs and not start_runs:
        raise UsageError("--pr goes with --run: gitexp push origin SWEEP --run --pr")
    if start_runs and not sweeps:
        raise UsageError("--run starts the runs of the sweeps named: gitexp push origin SWEEP --run")
    git = with_actions_token(git, environment.env, remote)
    starts = [prepare_run(git, environment.env, Ledger(git).sweep(name), remote) for name in sweeps if start_runs]
    report = push_refs(git, remote, sweeps, with_data=not no_dvc)
    for line in report.lines("Pushed to"):
        environment.echo(line)
    for start in starts:
        if open_prs:
            opened = open_sweep_pull_request(git, environment.env, start.sweep, start.ref, remote)
            environment.echo(f"Started sweep {start.sweep}'s run by pushing {opened.branch}: follow it at {start.page}")
            environment.echo(f"{'Opened' if opened.created else 'Pull request'} {opened.url or opened.compare_url}")
            continue
        dispatch(start, environment.env)
        environment.echo(f"Started sweep {start.sweep}'s run on {start.ref}: follow it at {start.page}")


@cli.command()
@click.argument("arguments", nargs=-1, metavar=REMOTE_AND_SWEEPS, shell_complete=complete_remotes_and_sweeps)
@click.option("--no-dvc", is_flag=True, help="Leave DVC outputs alone (no dvc fetch).")
@pass_environment
def pull(environment: Environment, arguments, no_dvc):
    """Fetch sweeps and their trial branches (every sweep by default) from REMOTE (default: origin).

    Local refs are created or fast-forwarded, never rewound; then dvc fetch
    brings the outputs of every branch into the cache when there is a DVC remote,
    and the pulled trials' outputs that neither the cache nor the remote has are named.
    """
    from gitexp.sharing.remotes import split_remote_and_names, with_actions_token
    from gitexp.sharing.sync import pull as pull_refs

    git = environment.git()
    remote, sweeps = split_remote_and_names(git, list(arguments))
    report = pull_refs(with_actions_token(git, environment.env, remote), remote, sweeps, with_data=not no_dvc)
    for line in report.lines("Pulled from"):
        environment.echo(line)


@cli.command()
@click.argument("trial", shell_complete=complete_trials)
@pass_environment
def apply(environment: Environment, trial):
    """Bring TRIAL's params, results and DVC outputs into the working tree.

    Refused over uncommitted changes, and when the DVC cache lacks outputs of the trial that dvc fetch cannot bring.
    """
    from gitexp.sharing.apply import apply_trial

    applied = apply_trial(environment.git(), trial)
    environment.echo(f"Applied {applied.trial.ref.key}: {', '.join(applied.paths) or 'no changed files'}")
    environment.echo(applied.data)
    environment.echo("Review with git diff --cached; commit to keep it, or git checkout HEAD -- . to undo")


@cli.command()
@click.argument("names", nargs=-1, required=True, metavar="TRIAL|SWEEP...", shell_complete=complete_names)
@click.option("--remote", shell_complete=complete_remotes, help="Also delete them on this Git remote (first, atomically).")
@pass_environment
def remove(environment: Environment, names, remote):
    """Delete trials or whole sweeps: branches, sweep records and claims."""
    from gitexp.sharing.remotes import with_actions_token
    from gitexp.sharing.remove import remove as remove_refs

    git = environment.git()
    if remote is not None:
        git = with_actions_token(git, environment.env, remote)
    removal = remove_refs(git, list(names), remote)
    for line in removal.lines(remote):
        environment.echo(line)


@cli.command()
@click.argument("sweep", required=False, shell_complete=complete_sweeps)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here (plots beside it).")
@click.option("--baseline", "baseline_rev", metavar="REV", help="Compare against this commit (default: the sweep's baseline).")
@click.option("--top", default=20, show_default=True, help="Trials in the ranked table (0 for all).")
@click.option("--format", "output_format", default="md", show_default=True, help="md or html (the ui's page as one file: data and scripts inlined).")
@click.option("--trials", metavar="A,B,...", help="Draw the project's dvc.yaml plots for these trials (default: the best one) and the baseline.")
@pass_environment
def report(environment: Environment, sweep, output, baseline_rev, top, output_format, trials):
    """The review report of SWEEP (default: the newest sweep): definition, ranking, best trial, failures, plots
    (gitexp's own, and those the project's dvc.yaml declares, drawn for the best trial and the baseline).

    Markdown written with -o gets its PNG plots in a folder beside it; on standard
    output it comes without plots. A sweep with no finished trial gets a report
    that says so (exit status 0), so CI can always publish one.
    """
    from gitexp.review.report import build_sweep_report, check_format, chosen_trials, render_markdown, write_markdown

    check_format(output_format)
    git = environment.git()
    built = build_sweep_report(git, sweep, baseline_rev, top)
    chosen = chosen_trials(built, trials)
    if output_format == "html":
        from gitexp.ui.twin import report_page, write_page  # the ui's page as one file
    if output is None:
        environment.write(report_page(git, built, chosen) if output_format == "html" else render_markdown(git, built))
        return
    write = write_page if output_format == "html" else write_markdown
    written = write(git, built, environment.cwd / output, chosen)
    plots = f" and {len(written) - 1} plot(s) in {written[1].parent.name}/" if len(written) > 1 else ""
    environment.echo(f"Wrote {output}{plots}")


@cli.command()
@click.argument("trial", metavar="TRIAL|SWEEP", shell_complete=complete_names)
@click.option("--base", help="The branch to merge into (default: main for a trial, the baseline branch for a sweep).")
@click.option("--title", help="The pull request's title (default: the trial and its params).")
@click.option("--remote", default=DEFAULT_REMOTE, show_default=True, shell_complete=complete_remotes, help="The Git remote on GitHub to push to.")
@click.option("--top", default=20, show_default=True, help="Trials of the sweep's table in the body (0 for all).")
@click.option("--replace", "replaces", metavar="SWEEP", shell_complete=complete_sweeps, help="Close SWEEP's draft pull request for this trial's.")
@pass_environment
def pr(environment: Environment, trial, base, title, remote, top, replaces):
    """Push TRIAL's branch and open a pull request whose body is the trial's report; or SWEEP's draft one.

    A sweep's draft pull request comes from its branch sweeps/SWEEP (the sweep's
    summary on its baseline; pushing it starts the sweep's CI run), and the
    report job keeps the sweep's comment on it. Uses GITHUB_TOKEN (or GH_TOKEN)
    and GITHUB_API_URL, else a logged-in gh; without either it prints the URL
    to open and writes the body to a file.
    """
    from gitexp.errors import UsageError
    from gitexp.github.pull_requests import open_sweep_pull_request, open_trial_pull_request
    from gitexp.sharing.remotes import with_actions_token
    from gitexp.store.records import Ledger

    git = with_actions_token(environment.git(), environment.env, remote)
    if "/" not in trial and trial in Ledger(git).sweep_names():
        if replaces:
            raise UsageError(f"--replace turns a sweep's review into a trial's pull request: gitexp pr {trial}/TRIAL --replace {trial}")
        outcome = open_sweep_pull_request(git, environment.env, trial, base, remote, top)
    else:
        outcome = open_trial_pull_request(git, environment.env, trial, base, title, remote, top, replaces)
    for line in outcome.pushed.lines("Pushed to"):
        environment.echo(line)
    if outcome.url:
        verb = "Opened" if outcome.created else "Pull request"
        environment.echo(f"{verb} {outcome.url}")
        if replaces:
            closed = f"Closed {outcome.replaced}," if outcome.replaced else "No open pull request of"
            environment.echo(f"{closed} sweep {replaces}'s review (its branch and trials stay)")
        return
    environment.echo(f"No pull request opened: {outcome.note}")
    environment.echo(f"Open it at {outcome.compare_url}")
    environment.echo(f"with the body in {outcome.body_file}")
