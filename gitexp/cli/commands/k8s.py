"""k8s init, k8s submit: gitexp workers as a Kubernetes Indexed Job."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import click

from gitexp.cli.completion import complete_remotes, complete_sweeps
from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.group import cli
from gitexp.store.remote import DEFAULT_REMOTE


@cli.group()
def k8s():
    """Run workers on Kubernetes: write an Indexed Job manifest, and submit it with kubectl."""


@k8s.command("init")
@click.option("--workers", default=2, show_default=True, help="Worker pods in all (the Job's completions).")
@click.option("--parallel", type=int, help="Worker pods running at once (default: all of them).")
@click.option("--image", help="The container image, with git, DVC and gitexp installed (required).")
@click.option("--gpus-per-worker", type=int, metavar="G", help="nvidia.com/gpu each pod asks for.")
@click.option("--cpu", help="CPU each pod requests (a quantity: 2, 500m).")
@click.option("--memory", help="Memory each pod requests and may use (a quantity: 4Gi).")
@click.option("--secret", "secrets", multiple=True, metavar="NAME", help="A Secret whose keys the pods get as environment variables (Git token or deploy key, DVC remote credentials); repeat.")
@click.option("--namespace", help="The namespace of the Job (default: kubectl's current one).")
@click.option("--name", default="gitexp-worker", show_default=True, help="The Job's name.")
@click.option("--remote", default=DEFAULT_REMOTE, show_default=True, metavar="R", shell_complete=complete_remotes, help="The Git remote the pods clone and take trials from (a name here, or a URL).")
@click.option("--sweep", "sweeps", multiple=True, metavar="S", shell_complete=complete_sweeps, help="Only trials of this sweep; repeat for more.")
@click.option("--force", is_flag=True, help="Replace an existing manifest.")
@pass_environment
def k8s_init(environment: Environment, remote, sweeps, secrets, force, **flags):
    """Write gitexp.k8s.yaml: an Indexed Job whose pods clone the remote and run gitexp worker until the queue is empty."""
    from gitexp.launchers import launcher_for
    from gitexp.launchers.base import clone_url, on_this_machine

    launcher = launcher_for("k8s")
    draft = launcher.options_type(sweeps=tuple(dict.fromkeys(sweeps)), secrets=tuple(dict.fromkeys(secrets)), **flags)
    draft.validate()  # every flag, before the remote is looked up
    git = environment.git()
    options = dataclasses.replace(draft, remote_url=clone_url(git, remote, environment.cwd))
    for path in launcher.init(git.root, options, force):
        environment.echo(f"Wrote {path.relative_to(git.root)}: commit it, push your sweeps, then gitexp k8s submit")
    if on_this_machine(options.remote_url):
        environment.echo(f"Note: the pods clone {options.remote_url}, a path on this machine: give --remote a URL the cluster reaches")
    if not options.secrets:
        environment.echo("No --secret: the pods reach the Git remote and DVC remote without credentials")
    for secret in options.secrets:
        environment.echo(f"Create the Secret {secret} first (kubectl create secret generic {secret} --from-literal=KEY=VALUE ...)")


@k8s.command("submit")
@click.option("--file", "manifest", type=click.Path(dir_okay=False), help="The manifest to apply (default: gitexp.k8s.yaml at the top of the repository).")
@pass_environment
def k8s_submit(environment: Environment, manifest):
    """Start the worker Job: kubectl apply -f gitexp.k8s.yaml, or print that command when kubectl is not installed."""
    from gitexp.launchers import launcher_for

    git = environment.git()
    launcher = launcher_for("k8s")
    root = git.root.resolve()
    files = [Path(name) for name in launcher.default_files]
    if manifest is not None:
        path = (environment.cwd / manifest).resolve()
        files = [path.relative_to(root) if path.is_relative_to(root) else path]
    submission = launcher.submit(root, files, environment.env)
    if not submission.ran:
        environment.echo(f"kubectl is not installed here: run {submission.shown} (from {git.root}) where it is")
        return
    environment.write(submission.stdout)
    environment.echo("Watch the trials with gitexp pull origin && gitexp status --watch; the pods with kubectl get pods")


@k8s.command("status")
@click.option("--remote", "remote_spec", default=DEFAULT_REMOTE, show_default=True, metavar="R", shell_complete=complete_remotes, help="The Git remote the workers take trials from.")
@pass_environment
def k8s_status(environment: Environment, remote_spec):
    """List the trials Kubernetes workers hold on the remote: the pod, and the age of its heartbeat."""
    from gitexp.launchers import launcher_for
    from gitexp.store.claim_records import DEFAULT_STALE_AFTER
    from gitexp.store.remote import resolve_remote

    git = environment.git()
    remote = resolve_remote(git, remote_spec, environment.cwd)
    claims = launcher_for("k8s").held_on(git, remote)
    if not claims:
        environment.echo(f"No Kubernetes worker holds a trial on {remote.shown}")
    now = time.time()
    for claim in claims:
        age = max(0.0, now - claim.heartbeat)
        state = "stale: the next worker takes it over" if age > DEFAULT_STALE_AFTER else "running"
        environment.echo(f"{claim.key}  {claim.worker.removeprefix('k8s-')}  heartbeat {age:.0f}s ago  {state}")
