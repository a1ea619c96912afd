"""What every launcher promises (as optuna runs every sampler through one suite): a new launcher passes these unchanged.

Each test takes every registered launcher, its options built from the launcher's
``example`` and a bare remote; the scheduler's client is a stand-in on PATH that
records its argv, its environment and the files it was given.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import pytest

from gitexp.errors import UsageError
from gitexp.launchers import LAUNCHERS, launcher_for
from gitexp.launchers.base import LaunchFailed, Launcher, LaunchOptions, clone_url, on_this_machine
from gitexp.store.claim_records import Claim

HOSTILE = "it's \"quoted\" $(touch /tmp/gitexp-pwned) `id` ; rm -rf ~\n: #*anchor"

# What a client's stand-in prints on success, for launchers that read the client's answer.
CLIENT_REPLIES: dict[str, str] = {}


@pytest.fixture(params=sorted(LAUNCHERS))
def launcher(request) -> Launcher:
    return launcher_for(request.param)


def options_for(launcher: Launcher, **changes) -> LaunchOptions:
    fields = {"remote_url": "https://git.example.com/team/project.git", **launcher.example, **changes}
    return launcher.options_type(**fields)


def fake_client(bin_dir: Path, name: str, record: Path, reply: str = "", exit_code: int = 0, sleep: float = 0) -> Path:
    """A stand-in for the scheduler's client: records argv, environment and the named files' text as JSON."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys, time\n"
        f"time.sleep({sleep})\n"
        "files = {a: open(a).read() for a in sys.argv[1:] if os.path.isfile(a)}\n"
        f"json.dump({{'argv': sys.argv, 'env': dict(os.environ), 'files': files, 'cwd': os.getcwd()}}, open({str(record)!r}, 'w'))\n"
        f"sys.stdout.write({reply!r})\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(0o755)
    return script


def test_render_is_deterministic_and_writes_only_relative_text_files(launcher):
    options = options_for(launcher)
    files = launcher.render(options)
    assert files and files == launcher.render(options)
    assert tuple(files) == launcher.default_files or not launcher.default_files  # () : the launcher names none
    for path, text in files.items():
        assert not path.startswith("/") and ".." not in Path(path).parts
        assert text.endswith("\n") and "\r" not in text


def test_workers_parallel_and_gpus_are_checked_before_anything_is_rendered(launcher):
    for changes, flag in (
        ({"workers": 2, "parallel": 3}, "--parallel"),
        ({"workers": 0}, "--workers"),
        ({"gpus_per_worker": 0}, "--gpus-per-worker"),
        ({"gpus_per_worker": -1}, "--gpus-per-worker"),
        ({"sweeps": ("bad name",)}, "sweep"),
    ):
        with pytest.raises(UsageError, match=flag):
            launcher.render(options_for(launcher, **changes))


def test_every_option_of_the_base_reaches_the_rendered_files(launcher):
    """Workers, parallel and GPUs change what is rendered: a launcher cannot ignore them silently."""
    base = launcher.render(options_for(launcher, workers=4))
    for changes in ({"workers": 5}, {"workers": 4, "parallel": 2}, {"workers": 4, "gpus_per_worker": 2}):
        assert launcher.render(options_for(launcher, **changes)) != base, changes


def test_init_writes_every_file_or_none(launcher, tmp_path):
    written = launcher.init(tmp_path, options_for(launcher))
    files = launcher.render(options_for(launcher))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(files)
    assert all(path.read_text() == files[path.relative_to(tmp_path).as_posix()] for path in written)
    for path in written:
        path.write_text("edited by the user\n")
    with pytest.raises(UsageError, match="already exists: pass --force"):
        launcher.init(tmp_path, options_for(launcher, workers=3))
    assert all(path.read_text() == "edited by the user\n" for path in written)
    launcher.init(tmp_path, options_for(launcher, workers=3), force=True)
    assert all(path.read_text() == launcher.render(options_for(launcher, workers=3))[path.relative_to(tmp_path).as_posix()] for path in written)


def test_refused_options_write_nothing(launcher, tmp_path):
    with pytest.raises(UsageError):
        launcher.init(tmp_path, options_for(launcher, workers=1, parallel=2))
    assert list(tmp_path.iterdir()) == []


def test_submit_runs_the_client_with_an_argument_list_and_values_only_in_its_environment(launcher, tmp_path):
    written = launcher.init(tmp_path, options_for(launcher))
    record = tmp_path / "record.json"
    fake_client(tmp_path / "bin", launcher.client, record, CLIENT_REPLIES.get(launcher.name, ""))
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    files = [path.relative_to(tmp_path) for path in written]
    submission = launcher.submit(tmp_path, files, env, {"GITEXP_HOSTILE": HOSTILE})
    seen = json.loads(record.read_text())
    assert submission.ran and submission.argv[0] == launcher.client and Path(seen["argv"][0]).name == launcher.client
    assert seen["argv"][1:] == list(submission.argv[1:])
    assert seen["cwd"] == str(tmp_path)
    assert seen["env"]["GITEXP_HOSTILE"] == HOSTILE
    assert not any(HOSTILE in argument or "$(touch" in argument for argument in seen["argv"])
    assert sorted(seen["files"]) == sorted(str(file) for file in files)
    assert all(seen["files"][str(file)] == (tmp_path / file).read_text() for file in files)


def test_submit_without_the_client_prints_the_command_or_refuses(launcher, tmp_path):
    written = launcher.init(tmp_path, options_for(launcher))
    files = [path.relative_to(tmp_path) for path in written]
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {"PATH": str(empty)}
    if launcher.prints_when_missing:
        submission = launcher.submit(tmp_path, files, env)
        assert not submission.ran and submission.argv[0] == launcher.client
        assert all(str(file) in submission.shown for file in files)
    else:
        with pytest.raises(UsageError, match=f"{launcher.client} is not installed"):
            launcher.submit(tmp_path, files, env)


def test_submit_refuses_a_missing_file_before_starting_the_client(launcher, tmp_path):
    record = tmp_path / "record.json"
    fake_client(tmp_path / "bin", launcher.client, record)
    with pytest.raises(UsageError, match="does not exist"):
        launcher.submit(tmp_path, [Path("missing.file")], {"PATH": str(tmp_path / "bin")})
    assert not record.exists()


def test_a_client_that_fails_or_hangs_is_reported_in_one_line_within_its_bound(launcher, tmp_path, monkeypatch):
    written = launcher.init(tmp_path, options_for(launcher))
    files = [path.relative_to(tmp_path) for path in written]
    fake_client(tmp_path / "bin", launcher.client, tmp_path / "record.json", exit_code=3)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    with pytest.raises(LaunchFailed, match="exit 3"):
        launcher.submit(tmp_path, files, env)
    fake_client(tmp_path / "bin", launcher.client, tmp_path / "record.json", sleep=30)
    monkeypatch.setattr(type(launcher), "client_timeout", 0.5)
    started = time.monotonic()
    with pytest.raises(UsageError, match="did not answer within 0.5s"):
        launcher.submit(tmp_path, files, env)
    assert time.monotonic() - started < 10


def test_holders_are_the_claims_of_this_launchers_workers(launcher):
    ours = Claim("refs/gitexp/claims/s/t001", "0" * 40, worker=f"{launcher.worker_prefix}abc-0", host="node1")
    others = [Claim("refs/gitexp/claims/s/t002", "1" * 40, worker="laptop-123-x")]
    others += [Claim("refs/gitexp/claims/s/t003", "2" * 40, worker=f"{name}-x") for name in LAUNCHERS if name != launcher.name]
    assert launcher.holders([ours, *others]) == [ours]


def test_options_are_frozen_dataclasses_extending_the_base(launcher):
    assert issubclass(launcher.options_type, LaunchOptions)
    assert dataclasses.is_dataclass(launcher.options_type)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options_for(launcher).workers = 9


def test_clone_url_takes_names_urls_and_paths_and_refuses_credentials(project, bare_remote, tmp_path):
    project.run("remote", "add", "origin", str(bare_remote))
    assert clone_url(project, "origin") == str(bare_remote)
    assert clone_url(project, "https://git.example.com/p.git") == "https://git.example.com/p.git"
    project.run("remote", "add", "tokened", "https://user:ghp_secret@git.example.com/p.git")
    with pytest.raises(UsageError, match="carries credentials") as refused:
        clone_url(project, "tokened")
    assert "ghp_secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("/srv/git/project.git", True), ("file:///srv/git/project.git", True), ("../project.git", True),
        ("https://github.com/team/project.git", False), ("git@github.com:team/project.git", False),
        ("ssh://git@host:2222/project.git", False), ("host:project.git", False),
    ],
)
def test_on_this_machine_tells_paths_from_urls(url, local):
    assert on_this_machine(url) is local
