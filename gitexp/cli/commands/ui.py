"""gitexp ui: the experiments as a live local web page."""

from __future__ import annotations

import webbrowser

import click

from gitexp.cli.environment import Environment, pass_environment
from gitexp.cli.group import cli


@cli.command()
@click.option("--port", default=8080, show_default=True, help="The port to serve on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind; anything but loopback is reachable by others.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
@click.option("--rev", default="HEAD", show_default=True, help="The branch or commit whose history the table shows.")
@click.option("-n", "count", default=10, show_default=True, type=click.IntRange(1), help="How many commits of that history.")
@pass_environment
def ui(environment: Environment, port, host, open_browser, rev, count):
    """Serve a live page of the experiments (table, trials, run form) until Ctrl-C.

    The printed URL carries a token for this launch; the page keeps it in a
    cookie, and every API request without it is refused.
    """
    from gitexp.errors import UsageError
    from gitexp.ui.security import LOOPBACK_NAMES
    from gitexp.ui.server import Options, bind, create_app, serve, url

    git = environment.git()
    project = environment.project_dir(git)
    if not (git.root / project / ".dvc").is_dir():
        raise UsageError(f"no DVC project at or above {environment.cwd} (no .dvc folder): run dvc init there, or give --project DIR")
    if git.rev_parse(f"{rev}^{{commit}}") is None:
        raise UsageError(f"--rev {rev}: no such commit or branch: name one that git log shows")
    sock = bind(host, port)
    guard = create_app(git, project, Options(host, sock.getsockname()[1], rev, count))
    if host not in LOOPBACK_NAMES:
        environment.echo_err(f"gitexp: warning: serving on {host}: anyone who can reach it and has the URL can queue and run trials")
    address = url(guard, sock)
    environment.echo(f"Serving the experiments of {git.root} at {address}")
    environment.echo("Press Ctrl-C to stop")
    environment.stdout.flush()
    if open_browser:
        webbrowser.open(address)
    serve(guard, sock)
