"""ci init, ci start, ci plan, ci run, ci comment: GitHub Actions workflows, starting a sweep's run, and the steps it runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gitexp.cli.completion import complete_sweeps
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.group import cli
from gitexp.store.remote import DEFAULT_REMOTE


@cli.group()
def ci():
    """Run trials in GitHub Actions: write the workflow, and the steps it calls."""


@ci.command("init")
@click.option("--runner", default="github", show_default=True, help="github (hosted runners) or cml (CML cloud runners).")
@click.option("--cloud", help="cml: aws, gcp, azure or kubernetes.")
@click.option("--cloud-region", help="cml: the cloud's region (or a CML region such as us-west).")
@click.option("--cloud-type", help="cml: the instance type (or a CML type such as m, l, xl, m+k80).")
@click.option("--cloud-gpu", help="cml: the GPU (such as nogpu, k80, v100, tesla).")
@click.option("--cloud-spot", is_flag=True, help="cml: a spot instance.")
@click.option("--cloud-hdd-size", type=int, help="cml: the disk size in GB.")
@click.option("--idle-timeout", help="cml: stop the runner after this idle time (seconds, 5min, never).")
@click.option("--labels", help="cml: more runner labels, comma-separated.")
@click.option("--reuse-idle", is_flag=True, help="cml: reuse an idle runner instead of launching one.")
@click.option("--single", is_flag=True, help="cml: the runner stops after one job.")
@click.option("--python", "python_version", default="3.11", show_default=True, help="Python of the jobs.")
@click.option("--install-spec", default="gitexp", show_default=True, help="What the jobs pip install for gitexp.")
@click.option("--chunks", default=4, show_default=True, help="Run jobs, each a matrix of up to 256 trials.")
@click.option("--timeout-minutes", default=360, show_default=True, help="Time limit of one trial's job.")
@click.option(
    "--secret", "secrets", multiple=True, metavar="NAME",
    help="A repository secret the trial jobs get as an environment variable, e.g. a DVC remote's credentials (repeatable).",
)
@click.option("--report-plots", default="both", show_default=True, help="Plots in the PR comment: mermaid, images or both.")
@click.option("--force", is_flag=True, help="Replace an existing workflow.")
@pass_environment
def ci_init(environment: Environment, labels, python_version, force, secrets, **options):
    """Write .github/workflows/gitexp.yml: one run per sweep, on dispatch or on a push of its branch sweeps/SWEEP."""
    from gitexp.ci.workflow import CLOUD_SECRETS, WorkflowOptions, write_workflow
    from gitexp.store.records import Ledger

    git = environment.git()
    label_list = tuple(label.strip() for label in (labels or "").split(",") if label.strip())
    workflow = WorkflowOptions(
        labels=label_list,
        python=python_version,
        branch_prefix=Ledger(git).prefix,
        secrets=tuple(dict.fromkeys(secrets)),
        **options,
    )
    path = write_workflow(git.root, workflow, force)
    environment.echo(f"Wrote {path.relative_to(git.root)}: commit and push it, then start a sweep with gitexp push origin SWEEP --run")
    if workflow.runner == "cml":
        needed = ", ".join(("PERSONAL_ACCESS_TOKEN", *CLOUD_SECRETS[workflow.cloud]))
        environment.echo(f"Add these repository secrets for the CML runner: {needed}")
    if workflow.secrets:
        environment.echo(f"Add these repository secrets for the trial jobs: {', '.join(workflow.secrets)}")


@ci.command("plan")
@click.option("--sweep", help="The sweep to run (default: GITEXP_SWEEP; else the sweep branch of --ref).")
@click.option("--ref", help="The pushed ref (default: GITHUB_REF), e.g. refs/heads/sweeps/s.")
@click.option("--chunks", default=4, show_default=True, help="How many run jobs the workflow has.")
@click.option("--chunk-size", default=256, show_default=True, help="Trials per run job (GitHub allows 256).")
@click.option("--remote", default=DEFAULT_REMOTE, show_default=True, help="Where the trials are.")
@pass_environment
def ci_plan(environment: Environment, sweep, ref, chunks, chunk_size, remote):
    """Print the job matrices (JSON) of the queued trials this CI run executes."""
    from gitexp.execution.ci import plan_ci_run
    from gitexp.sharing.remotes import with_actions_token

    git = with_actions_token(environment.git(), environment.env, remote)
    sweep = sweep or environment.env.get("GITEXP_SWEEP") or None
    ref = ref or environment.env.get("GITHUB_REF")
    plan = plan_ci_run(git, sweep, ref, chunks, chunk_size, remote)
    for note in plan.notes:
        environment.echo_err(f"gitexp: {note}")
    environment.echo_json(json.dumps(plan.document, separators=(",", ":")))


@ci.command("run")
@click.option("--trial", "branch", required=True, help="The trial's branch, checked out here (e.g. exp/s/t001).")
@click.option("--remote", default=DEFAULT_REMOTE, show_default=True, help="Where to push the result.")
@pass_environment
def ci_run(environment: Environment, branch, remote):
    """Run the checked-out trial, commit its result and push it (retrying while it is still queued)."""
    from gitexp.errors import TrialsFailed
    from gitexp.execution.ci import run_trial_in_checkout
    from gitexp.sharing.remotes import with_actions_token
    from gitexp.store.records import PRUNED, SUCCEEDED

    ran = run_trial_in_checkout(with_actions_token(environment.git(), environment.env, remote), branch, remote)
    if ran.log:
        environment.write(ran.log if ran.log.endswith("\n") else ran.log + "\n")
    if ran.outcome is None:
        environment.echo(ran.note)
        return
    environment.echo(f"{ran.trial.ref.key} {ran.outcome.status} in {ran.outcome.duration:.1f}s: {ran.note}")
    if ran.outcome.status not in (SUCCEEDED, PRUNED):  # a pruned trial ran as its sweep asked
        raise TrialsFailed(f"{ran.trial.ref.key} failed ({ran.outcome.reason}); its result commit says why")


@ci.command("start")
@click.argument("sweep", shell_complete=complete_sweeps)
@click.option("--ref", help="The branch the run starts on, with its workflow file (default: the sweep's baseline branch).")
@click.option("--remote", default=DEFAULT_REMOTE, show_default=True, help="The Git remote on GitHub.")
@click.option("--push", "by_push", is_flag=True, help="Start it by pushing the sweep's branch sweeps/SWEEP (no token needed).")
@click.option("--next", "next_round", is_flag=True, help="In CI: start the next round of an adaptive sweep, if it grows.")
@pass_environment
def ci_start(environment: Environment, sweep, ref, remote, by_push, next_round):
    """Start SWEEP's one CI run: workflow_dispatch with the sweep's name (GITHUB_TOKEN, GH_TOKEN or gh).

    The sweep must be on the remote (gitexp push origin SWEEP --run pushes and starts it in one go).
    """
    from gitexp.execution.ci import next_round as why_no_next_round
    from gitexp.github.runs import dispatch, prepare_run, push_sweep_by_hand, require_sweep_on_remote
    from gitexp.sharing.remotes import with_actions_token
    from gitexp.store.records import Ledger

    git = with_actions_token(environment.git(), environment.env, remote)
    if next_round:
        reason = why_no_next_round(git, sweep, remote)
        if reason is not None:
            environment.echo(f"No next round: {reason}")
            return
    if by_push:
        branch = push_sweep_by_hand(git, Ledger(git).sweep(sweep), remote)
        environment.echo(f"Pushed {branch} to {remote}: the workflow runs sweep {sweep} on that push")
        return
    start = prepare_run(git, environment.env, Ledger(git).sweep(sweep), remote, ref)
    require_sweep_on_remote(git, sweep, remote)
    dispatch(start, environment.env)
    environment.echo(f"Started sweep {sweep}'s run on {start.ref}: follow it at {start.page}")


@ci.command("comment")
@click.option("--sweep", required=True, help="The sweep the report is about (one comment per sweep).")
@click.option("--file", "report_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Post this Markdown as it is.")
@click.option("--report-plots", default="both", show_default=True, help="Without --file: mermaid, images (pushed to the remote) or both.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the comment here (for the job summary).")
@click.option("--remote", default=DEFAULT_REMOTE, show_default=True, help="Where the plot images are pushed.")
@pass_environment
def ci_comment(environment: Environment, sweep, report_file, report_plots, output, remote):
    """Post the sweep's report as its comment on the current branch's pull request (updated, never repeated).

    Without --file the comment is built from the sweep: its ranking, and its plots
    as Mermaid charts and/or images pushed to refs/gitexp/reports/SWEEP (only when
    there is a pull request to post on).
    """
    from gitexp.github.pull_requests import comment_target, post_sweep_comment, sweep_comment
    from gitexp.review.comment import check_plot_mode
    from gitexp.sharing.remotes import with_actions_token

    check_plot_mode(report_plots)
    git = environment.git()
    target = comment_target(git, environment.env, sweep)  # first: images are pushed only for a comment that links them
    if report_file is not None:
        body = (environment.cwd / report_file).read_text(encoding="utf-8")
    else:
        pushing = with_actions_token(git, environment.env, remote)
        body = sweep_comment(pushing, environment.env, sweep, report_plots, remote, linked=target.client is not None)
    if output is not None:
        (environment.cwd / output).write_text(body, encoding="utf-8")
    posted = post_sweep_comment(target, sweep, body)
    if posted.url is None:
        environment.echo(f"Not posted: {posted.note}")
    else:
        environment.echo(f"{'Posted' if posted.created else 'Updated'} {posted.url}")
