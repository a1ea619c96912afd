"""Never hang on a remote: a black hole on loopback (accepts the connection, never answers) for every remote command.

Each command must end within a bounded wait, with a status other than 0 and
one line that names the remote (without its credentials) and the fix. The
network timeout is set to 2 seconds here (``GITEXP_NETWORK_TIMEOUT``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

import gitexp.store.git as git_module
from gitexp.errors import NetworkTimeout, UsageError
from gitexp.store.git import Git
from gitexp.store.network import DEFAULT_TIMEOUT, run_watched
from gitexp.store.redaction import without_credentials

TIMEOUT = 2.0
BOUND = 12.0  # seconds a command may take against a black hole: the timeout, then a loaded machine's slack
TOKEN = "s3cr3t-t0ken"
FIX = "allow longer with git config gitexp.networkTimeout SECONDS"


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port on 127.0.0.1 whose server accepts every connection and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


def black_hole_url(protocol: str, port: int) -> str:
    credentials = f"user:{TOKEN}@" if protocol == "http" else ""
    return f"{protocol}://{credentials}127.0.0.1:{port}/lab.git"


def queued_sweep(project: Git, run_gitexp) -> None:
    assert run_gitexp(project.root, "queue", "--name", "s", "--set", "train.lr=[0.1, 0.2]").code == 0


def checked_out_trial(project: Git, run_gitexp) -> None:
    queued_sweep(project, run_gitexp)
    project.run("checkout", "-q", "exp/s/t001")


COMMANDS = {
    "worker": (("worker", "--remote", "origin"), None),
    "worker --remote URL": (("worker", "--remote", "{url}"), None),
    "push": (("push", "--no-dvc"), queued_sweep),
    "pull": (("pull", "--no-dvc"), None),
    "remove --remote": (("remove", "s", "--remote", "origin"), queued_sweep),
    "ci plan": (("ci", "plan", "--sweep", "s"), None),
    "ci run": (("ci", "run", "--trial", "exp/s/t001"), checked_out_trial),
}


@pytest.mark.parametrize("protocol", ["http", "git"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_remote_that_never_answers_ends_the_command_with_one_line(project, black_hole, run_gitexp, protocol, command):
    argv, setup = COMMANDS[command]
    url = black_hole_url(protocol, black_hole)
    project.run("remote", "add", "origin", url)
    if setup:
        setup(project, run_gitexp)

    started = time.monotonic()
    result = run_gitexp(project.root, *(part.format(url=url) for part in argv), env={"GITEXP_NETWORK_TIMEOUT": f"{TIMEOUT:g}"})
    elapsed = time.monotonic() - started

    assert result.code not in (0, None), result
    assert result.err.count("\n") == 1 and result.err.startswith("gitexp: error: "), result.err
    assert without_credentials(url) in result.err and f"did not answer within {TIMEOUT:g} s" in result.err, result.err
    assert FIX in result.err
    assert TOKEN not in result.err
    assert TIMEOUT <= elapsed < BOUND


def test_a_dvc_remote_that_never_answers_ends_push_with_one_line(model_project, black_hole, run_gitexp):
    """The Git refs go to a live remote; ``dvc push`` meets the black hole and is stopped once its progress stands still."""
    dvc_remote = f"http://user:{TOKEN}@127.0.0.1:{black_hole}/store"
    dvc = [sys.executable, "-m", "dvc", "remote", "add", "-f", "-d", "--local", "storage", dvc_remote]
    subprocess.run(dvc, cwd=model_project.root, check=True, capture_output=True)
    assert run_gitexp(model_project.root, "queue", "--name", "s", "--set", "train.lr=0.1").code == 0
    assert run_gitexp(model_project.root, "run", "s").code == 0

    started = time.monotonic()
    result = run_gitexp(model_project.root, "push", env={"GITEXP_NETWORK_TIMEOUT": "4"})
    elapsed = time.monotonic() - started

    assert result.code == 1, result
    assert result.err.count("\n") == 1, result.err
    assert f"the DVC remote storage ({without_credentials(dvc_remote)}) did not answer within 4 s (dvc push)" in result.err
    assert "the Git refs were pushed to origin" in result.err and TOKEN not in result.err
    assert elapsed < 4 + BOUND


# -- the bound itself ------------------------------------------------------------------


def test_a_process_that_keeps_talking_outlives_the_timeout_and_a_silent_one_does_not(tmp_path):
    talking = "import time\nfor i in range(6):\n    print(i, flush=True); time.sleep(0.3)\n"
    silent = "import time; time.sleep(30)"

    started = time.monotonic()
    finished = run_watched([sys.executable, "-c", talking], tmp_path, {}, silence=1.0)
    killed = run_watched([sys.executable, "-c", silent], tmp_path, {}, silence=1.0)

    assert finished is not None and finished.returncode == 0 and finished.stdout.split() == [b"0", b"1", b"2", b"3", b"4", b"5"]
    assert killed is None
    assert time.monotonic() - started < 1.8 + 1.0 + BOUND / 2


def test_the_timeout_comes_from_the_environment_then_git_config_then_the_default(project):
    assert project.network_timeout() == DEFAULT_TIMEOUT
    project.config_set("gitexp.networkTimeout", "7.5")
    assert project.network_timeout() == 7.5
    assert Git(project.root, {**project.env, "GITEXP_NETWORK_TIMEOUT": "3"}).network_timeout() == 3


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf", "1e9"])
def test_a_timeout_that_is_not_one_is_refused_with_the_fix(project, value):
    with pytest.raises(UsageError, match=r"GITEXP_NETWORK_TIMEOUT=.* is not a network timeout: give seconds above 0"):
        Git(project.root, {**project.env, "GITEXP_NETWORK_TIMEOUT": value}).network_timeout()


def test_http_low_speed_settings_the_user_made_are_kept(project, black_hole, monkeypatch):
    """With http.lowSpeedTime configured (30 s), gitexp adds none of its own; its bound on silence (2 s) still ends the fetch."""
    project.config_set("http.lowSpeedTime", "30")
    seen: list[list[str]] = []
    monkeypatch.setattr(git_module, "run_watched", lambda argv, *rest, **options: seen.append(list(argv)) or run_watched(argv, *rest, **options))
    git = Git(project.root, {**project.env, "GITEXP_NETWORK_TIMEOUT": "2"})

    with pytest.raises(NetworkTimeout, match="did not answer within 2 s"):
        git.ls_remote(f"http://127.0.0.1:{black_hole}/lab.git", ["x"])
    assert not any("lowSpeed" in part for part in seen[0])
