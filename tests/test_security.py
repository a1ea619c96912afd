"""Hostile text stays text: no shell anywhere, values travel intact, ref names obey Git, secrets stay out.

Param values full of shell syntax, quotes, newlines, GitHub expressions and
Markdown go end to end (queue, run, show, report) and must come back exactly
as given, where they were meant to be, without anything having run.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import gitexp
from gitexp.store.git import Git
from gitexp.store.naming import check_ref_format, validate_name
from gitexp.store.records import Ledger
from gitexp.store.remote import resolve_remote
from tests.conftest import markdown_tables

PACKAGE = Path(gitexp.__file__).parent

# EXPR as a user types it -> the value it stands for
HOSTILE = {
    "'$(touch pwned-subst)'": "$(touch pwned-subst)",
    "'`touch pwned-backtick`'": "`touch pwned-backtick`",
    "'; touch pwned-semicolon; #'": "; touch pwned-semicolon; #",
    "'&& touch pwned-and'": "&& touch pwned-and",
    "'${{ secrets.GITHUB_TOKEN }}'": "${{ secrets.GITHUB_TOKEN }}",
    "'${HOME} $PATH'": "${HOME} $PATH",
    "'it''s \"quoted\"'": "it's \"quoted\"",
    '"first line\\nsecond line"': "first line\nsecond line",
    '"x\\n\\nGitexp-Status: succeeded"': "x\n\nGitexp-Status: succeeded",
    "'a | b | c'": "a | b | c",
    "'<script>alert(1)</script> & <b>'": "<script>alert(1)</script> & <b>",
    "'--help'": "--help",
    "'back\\slash'": "back\\slash",
}


# -- no shell, no command strings --------------------------------------------------------------

SHELL_CALLS = {("os", "system"), ("os", "popen"), ("subprocess", "getoutput"), ("subprocess", "getstatusoutput")}
PROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}


def python_files():
    return sorted(PACKAGE.rglob("*.py"))


def offences(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = (getattr(func.value, "id", None), func.attr) if isinstance(func, ast.Attribute) else (None, getattr(func, "id", None))
        if name in SHELL_CALLS:
            found.append(f"{path.name}:{node.lineno} {name[0]}.{name[1]}")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                found.append(f"{path.name}:{node.lineno} shell=")
        one_string = node.args and isinstance(node.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp))
        if name[0] == "subprocess" and name[1] in PROCESS_CALLS and one_string:  # a command line as one string
            found.append(f"{path.name}:{node.lineno} command string")
    return found


def test_no_shell_and_no_command_strings_in_the_package():
    assert len(python_files()) > 20
    assert [offence for path in python_files() for offence in offences(path)] == []


def test_the_checker_catches_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os, subprocess\nos.system('x')\nos.popen('x')\nsubprocess.run('ls ' + name, shell=True)\n"
        "subprocess.Popen(f'git {x}')\n"
    )
    assert len(offences(bad)) == 5


# -- hostile values, end to end ------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_sweep(template_project, tmp_path_factory):
    """A copy of the project with sweep ``h``, one trial per hostile value of ``train.loss``, run to the end.

    Built once for this module; the commands run with their working directory
    in a scratch folder, where a relative ``touch`` would land.
    """
    from gitexp.cli.environment import Environment
    from gitexp.cli.main import main

    scratch = tmp_path_factory.mktemp("hostile")
    root = scratch / "project"
    shutil.copytree(template_project, root, symlinks=True)
    expr = "[" + ", ".join(HOSTILE) + "]"
    for argv in (["queue", "--name", "h", "--set", f"train.loss={expr}"], ["run", "h", "-j", "2"]):
        err = io.StringIO()
        previous = os.getcwd()
        os.chdir(scratch)  # contextlib.chdir is Python 3.11+
        try:
            assert main(argv, Environment(cwd=root, stdout=io.StringIO(), stderr=err)) == 0, err.getvalue()
        finally:
            os.chdir(previous)
    return Git(root)


def columns(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line)) - 1


def test_hostile_values_run_nothing(hostile_sweep):
    assert list(hostile_sweep.root.parent.rglob("pwned*")) == []


def test_hostile_values_reach_params_files_and_trailers_intact(hostile_sweep):
    git = hostile_sweep
    trials = Ledger(git).trials(["h"])
    assert sorted(trial.params["train.loss"] for trial in trials) == sorted(HOSTILE.values())
    for trial in trials:
        assert trial.status == "succeeded"  # a value that reads like a trailer set no status
        queued_commit = git.run("rev-parse", f"{trial.tip}^").strip()
        for commit in (queued_commit, trial.tip):
            params = yaml.safe_load(git.read_blob(commit, "params.yaml"))
            assert params["train"]["loss"] == trial.params["train.loss"]
            assert params["train"]["lr"] == 0.01  # nothing else moved
        subject = git.run("log", "-1", "--format=%s", queued_commit)
        assert subject.count("\n") == 1  # a newline in a value does not split the subject


def test_hostile_values_come_back_from_show(hostile_sweep, run_gitexp):
    rows = json.loads(run_gitexp(hostile_sweep.root, "show", "h", "--json").out)["trials"]
    assert sorted(row["params"]["train.loss"] for row in rows[1:]) == sorted(HOSTILE.values())
    (table,) = markdown_tables(run_gitexp(hostile_sweep.root, "show", "h", "--md").out)
    assert len(table) == 2 + 1 + len(HOSTILE)  # header, rule, baseline, one line per trial: no line breaks
    assert len({columns(line) for line in table}) == 1, table  # a '|' in a value adds no column


def test_hostile_values_in_the_report(hostile_sweep, run_gitexp):
    result = run_gitexp(hostile_sweep.root, "report", "h")
    assert result.code == 0, result.err
    tables = markdown_tables(result.out)
    assert tables and all(len({columns(line) for line in table}) == 1 for table in tables), tables
    assert "<script>" not in result.out  # Markdown renderers would keep raw HTML


# -- ref names ---------------------------------------------------------------------------------

REF_NAMES = [
    "refs/heads/exp/s/t001", "refs/heads/a..b", "refs/heads/a.lock", "refs/heads/.hidden", "refs/heads/x/",
    "refs/heads/a b", "refs/heads/a~1", "refs/heads/a^", "refs/heads/a:b", "refs/heads/a?", "refs/heads/a*",
    "refs/heads/a[b", "refs/heads/a\\b", "refs/heads/a@{1}", "refs/heads/a\x01", "refs/heads/a\x7f",
    "refs/heads//a", "refs/heads/a.", "refs/heads/é", "refs/gitexp/claims/s/t001", "refs/heads/-x",
    "refs/heads/a/.b", "refs/heads/@", "refs/heads/a\tb", "refs/heads/a\nb",
]  # fmt: skip


@pytest.mark.parametrize("ref", REF_NAMES)
def test_ref_format_agrees_with_git(ref):
    proc = subprocess.run(["git", "check-ref-format", ref], capture_output=True, check=False)
    assert check_ref_format(ref) == (proc.returncode == 0)


@pytest.mark.parametrize("name", ["a..b", "a b", "-a", ".a", "a.lock", "a/b", "a\x00b", "a\x1bb", "é", "a" * 101, "a:b", "a~b"])
def test_names_that_would_make_unsafe_refs_are_refused(name):
    from gitexp.errors import UsageError

    with pytest.raises(UsageError):
        validate_name(name, "sweep")


@pytest.mark.parametrize("spec", ["https://example.com/team/repo.git", "git@example.com:team/repo.git", "ssh://h/a b"])
def test_remote_namespaces_are_valid_refs_whatever_the_url(project, spec):
    remote = resolve_remote(project, spec)
    assert check_ref_format(remote.tracking("refs/heads/exp/s/t001"))
    subprocess.run(["git", "check-ref-format", remote.tracking("refs/heads/exp/s/t001")], check=True)


# -- secrets -----------------------------------------------------------------------------------

SECRET = "ghp_" + "S3cr3tT0k3n" * 3


def test_tokens_in_the_environment_are_never_printed_logged_or_committed(project, tmp_path):
    from gitexp.cli.environment import Environment
    from gitexp.cli.main import main

    remote = tmp_path / "remote.git"
    project.run("init", "-q", "--bare", str(remote))
    project.run("remote", "add", "origin", str(remote))
    env = {**os.environ, "GITHUB_TOKEN": SECRET, "GH_TOKEN": SECRET, "GITEXP_TOKEN": SECRET}
    printed = []
    for argv in (
        ["queue", "--name", "s", "--set", "train.fail=[false, true]"],
        ["run", "s"],
        ["show", "s", "--json"],
        ["logs", "s/t002"],
        ["worker", "--remote", "origin"],
    ):
        out, err = io.StringIO(), io.StringIO()
        main(argv, Environment(cwd=project.root, env=env, stdout=out, stderr=err))
        printed += [out.getvalue(), err.getvalue()]
    assert not any(SECRET in text for text in printed)
    objects = project.run_bytes("cat-file", "--batch-all-objects", "--batch")
    assert SECRET.encode() not in objects
    gitexp_files = [p for p in (project.common_dir() / "gitexp").rglob("*") if p.is_file()]
    assert gitexp_files and not any(SECRET.encode() in p.read_bytes() for p in gitexp_files)


# -- credentials in remote URLs, tokens on the way to GitHub -------------------------------------


def everything_written(git: Git, *bare: Path) -> str:
    """Every file under ``.git`` (config, reflogs, .git/gitexp, logs) and every object of ``git`` and ``bare``, as text."""
    files = [p.read_bytes() for p in git.common_dir().rglob("*") if p.is_file() and "objects" not in p.parts]
    objects = [Git(path).run_bytes("cat-file", "--batch-all-objects", "--batch") for path in (git.root, *bare)]
    return b"\n".join(files + objects).decode("latin-1")


@pytest.fixture
def http_remote(project, tmp_path):
    """``project``'s sweep s (one trial succeeds, one fails) pushed to a bare remote served over HTTP with a token."""
    from tests.git_http import serve_git

    served = tmp_path / "served"
    served.mkdir()
    bare = served / "remote.git"
    project.run("init", "-q", "--bare", str(bare))
    project.run("remote", "add", "origin", str(bare))
    with serve_git(served, "x-access-token", SECRET) as server:
        yield project, bare, server


def test_a_worker_on_a_credentialed_url_shows_and_stores_no_token(http_remote, run_gitexp):
    from tests.fake_github import shows_token

    project, bare, server = http_remote
    run_gitexp(project.root, "queue", "--name", "s", "--set", "train.fail=[false, true]")
    assert run_gitexp(project.root, "push", "origin", "s").code == 0
    url = f"{server.url}/remote.git"

    worker = run_gitexp(project.root, "worker", "--remote", url, "--heartbeat", "0.2", "--poll", "0.2")

    statuses = Git(bare).run("log", "--format=%(trailers:key=Gitexp-Status,valueonly)", "--branches=exp/s/*").split()
    assert worker.code == 1 and sorted(statuses) == ["failed", "succeeded"], worker.err  # it ran, through the token
    assert f"taking trials from {url.replace(f'x-access-token:{SECRET}', '***')}" in worker.out
    assert not shows_token(worker.out + worker.err, SECRET)
    assert not shows_token(everything_written(project, bare), SECRET)


@pytest.mark.parametrize(
    "spec",
    [
        "http://x-access-token:{wrong}@127.0.0.1:{port}/remote.git",  # refused: 401
        "http://x-access-token:{secret}@127.0.0.1:{port}/missing.git",
        "http://x-access-token:{secret}@127.0.0.1:9/remote.git",  # nothing listens
        "http://x-access-token:{secret}@127.0.0.1:{port}/remote.git\x01",  # not a URL
    ],
    ids=["wrong-token", "no-such-repository", "unreachable", "control-character"],
)
def test_a_worker_that_cannot_use_a_credentialed_url_says_so_without_the_token(http_remote, run_gitexp, spec: str):
    from tests.fake_github import shows_token

    project, bare, server = http_remote
    port = server.url.rsplit(":", 1)[1]
    url = spec.format(secret=SECRET, wrong=SECRET[::-1], port=port)

    worker = run_gitexp(project.root, "worker", "--remote", url)

    assert worker.code == 2 and worker.out == "" and len(worker.err.splitlines()) == 1, worker.err
    assert "***@127.0.0.1" in worker.err
    for secret in (SECRET, SECRET[::-1]):
        assert not shows_token(worker.err, secret) and not shows_token(everything_written(project), secret)


def test_pr_sends_no_token_to_a_host_only_named_like_github(reviewed_project, bare_remote, run_gitexp, repo_state):
    """A remote on github.com.attacker.net: refused before the push, in one line, without the token."""
    from tests.fake_github import shows_token

    url = "https://github.com.attacker.net/octo/lab.git"
    reviewed_project.run("remote", "add", "origin", url)
    reviewed_project.run("config", f"url.{bare_remote}.insteadOf", url)
    before = repo_state(reviewed_project)

    result = run_gitexp(reviewed_project.root, "pr", "s/t003", env={"GITHUB_TOKEN": SECRET})

    assert result.code == 2 and len(result.err.splitlines()) == 1
    assert "sends a GitHub token only to github.com or to GITHUB_API_URL" in result.err
    assert not shows_token(result.out + result.err, SECRET)
    assert repo_state(reviewed_project) == before and Git(bare_remote).run("for-each-ref") == ""


@pytest.mark.parametrize("status", [422, 500])
def test_pr_shows_no_token_that_github_echoes(reviewed_project, bare_remote, github, run_gitexp, status: int):
    from tests.fake_github import TOKEN, Failure, shows_token, token_echoes

    url = "https://github.com/octo/lab.git"
    reviewed_project.run("remote", "add", "origin", url)
    reviewed_project.run("config", f"url.{bare_remote}.insteadOf", url)
    echoes = " ".join(token_echoes().values())
    github.failures.append(Failure(status, json.dumps({"message": echoes, "errors": [echoes]}).encode()))

    result = run_gitexp(reviewed_project.root, "pr", "s/t003", env={"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url})

    assert result.code != 0 and len(result.err.splitlines()) == 1, result.err
    assert not shows_token(result.out + result.err) and not shows_token(everything_written(reviewed_project, bare_remote))
