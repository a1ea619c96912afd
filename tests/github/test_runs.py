"""A sweep's one CI run and its one pull request, against the checking fake GitHub and a bare repository behind
GitHub's URL: the dispatch request (URL, inputs, token header, no token in output), gh's, the trigger branch,
the sweep's draft pull request, its comment, and its replacement by a trial's pull request."""

from __future__ import annotations

import json
import sys

import pytest

from gitexp.store.git import Git
from tests.fake_github import TOKEN, shows_token

GITHUB_URL = "https://github.com/octo/lab.git"
ACTIONS_PAGE = "https://github.com/octo/lab/actions/workflows/gitexp.yml"


@pytest.fixture
def github_project(project, tmp_path, run_gitexp):
    """The project with gitexp's workflow on main, origin on GitHub's URL (a bare repository behind it) holding main,
    and sweep ``s`` of two trials queued here."""
    assert run_gitexp(project.root, "ci", "init").code == 0
    project.run("add", "-A")
    project.run("commit", "-qm", "gitexp's workflow")
    remote = tmp_path / "github.git"
    project.run("init", "-q", "--bare", str(remote))
    project.run("remote", "add", "origin", GITHUB_URL)
    project.run("config", f"url.{remote}.insteadOf", GITHUB_URL)
    project.run("push", "-q", "origin", "main")
    assert run_gitexp(project.root, "queue", "--name", "s", "--set", "train.lr=[0.1, 0.2]").code == 0
    return project


def remote_refs(project: Git) -> dict[str, str]:
    """The refs of the bare repository behind GitHub's URL (beside the project)."""
    listed = Git(project.root.parent / "github.git").run("for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ") for line in listed.splitlines())


def token_env(github) -> dict[str, str]:
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url}


def test_ci_start_dispatches_the_workflow_once_with_the_sweeps_name(github_project, github, run_gitexp):
    assert run_gitexp(github_project.root, "push", "--no-dvc").code == 0

    result = run_gitexp(github_project.root, "ci", "start", "s", env=token_env(github))

    assert result.code == 0, result.err
    assert github.dispatches == [{"workflow": "gitexp.yml", "ref": "main", "inputs": {"sweep": "s"}}]
    [request] = [r for r in github.requests if r.method == "POST"]
    assert request.path == "/repos/octo/lab/actions/workflows/gitexp.yml/dispatches"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert result.out == f"Started sweep s's run on main: follow it at {ACTIONS_PAGE}\n"
    assert not shows_token(result.out + result.err)


def test_push_run_pushes_the_sweep_then_dispatches_its_one_run(github_project, github, run_gitexp):
    result = run_gitexp(github_project.root, "push", "origin", "s", "--run", "--no-dvc", env=token_env(github))

    assert result.code == 0, result.err
    refs = remote_refs(github_project)
    assert {"refs/heads/exp/s/t001", "refs/heads/exp/s/t002", "refs/gitexp/sweeps/s"} <= set(refs)
    assert "refs/heads/sweeps/s" not in refs  # the dispatch starts the run: no push of the trigger branch besides
    assert len(github.dispatches) == 1 and github.dispatches[0]["inputs"] == {"sweep": "s"}
    assert not shows_token(result.out + result.err)


def test_push_run_without_a_token_or_gh_pushes_nothing(github_project, github, run_gitexp):
    before = remote_refs(github_project)

    result = run_gitexp(github_project.root, "push", "origin", "s", "--run", "--no-dvc",
                        env={"GITHUB_TOKEN": "", "GH_TOKEN": "", "GH_CONFIG_DIR": "/nonexistent"})  # fmt: skip

    assert result.code == 2 and result.err.count("\n") == 1
    assert remote_refs(github_project) == before == {"refs/heads/main": github_project.rev_parse("main")}
    assert github.requests == []


def test_without_a_token_a_logged_in_gh_dispatches(github_project, tmp_path, run_gitexp):
    calls = tmp_path / "gh-calls.jsonl"
    gh = tmp_path / "bin" / "gh"
    gh.parent.mkdir()
    gh.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                  f"open({str(calls)!r}, 'a').write(json.dumps([sys.argv[1:], os.environ.get('GH_PROMPT_DISABLED')]) + '\\n')\n")  # fmt: skip
    gh.chmod(0o755)
    assert run_gitexp(github_project.root, "push", "--no-dvc").code == 0

    result = run_gitexp(github_project.root, "ci", "start", "s",
                        env={"GITHUB_TOKEN": "", "GH_TOKEN": "", "PATH": f"{gh.parent}:/usr/bin:/bin"})  # fmt: skip

    assert result.code == 0, result.err
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [
        [["auth", "status", "--hostname", "github.com"], "1"],
        [["workflow", "run", "gitexp.yml", "--repo", "octo/lab", "--ref", "main", "--raw-field", "sweep=s"], "1"],
    ]


def test_ci_start_push_starts_the_run_through_the_sweeps_branch_without_a_token(github_project, run_gitexp):
    env = {"GITHUB_TOKEN": "", "GH_TOKEN": ""}
    first = run_gitexp(github_project.root, "ci", "start", "s", "--push", env=env)
    tip = remote_refs(github_project)["refs/heads/sweeps/s"]
    second = run_gitexp(github_project.root, "ci", "start", "s", "--push", env=env)

    assert first.code == 0 and second.code == 0, first.err + second.err
    assert first.out == "Pushed sweeps/s to origin: the workflow runs sweep s on that push\n"
    new_tip = remote_refs(github_project)["refs/heads/sweeps/s"]
    assert github_project.run("rev-parse", f"{new_tip}^").strip() == tip  # a new push each time, fast-forward
    baseline = github_project.rev_parse("main")
    assert github_project.run("rev-parse", f"{tip}^").strip() == baseline
    assert github_project.run("diff", "--name-only", baseline, new_tip).split() == [".gitexp/sweeps/s.md"]
    assert "refs/heads/exp/s/t001" in remote_refs(github_project)  # the trials went first


def test_the_sweeps_draft_pull_request_gets_its_comment_and_gives_way_to_a_trials(github_project, github, tmp_path, run_gitexp):
    env = token_env(github)

    opened = run_gitexp(github_project.root, "pr", "s", env=env)

    assert opened.code == 0, opened.err
    [pull] = github.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"], pull["draft"]) == ("sweeps/s", "main", True)
    assert pull["title"] == "gitexp sweep s" and "gitexp pr s/TRIAL --replace s" in pull["body"]
    summary = github_project.run("show", f"{remote_refs(github_project)['refs/heads/sweeps/s']}:.gitexp/sweeps/s.md")
    assert summary.startswith("## gitexp sweep s\n")
    assert opened.out.endswith(f"Opened {pull['html_url']}\n")

    report = tmp_path / "report.md"
    ci_env = {**env, "GITHUB_REPOSITORY": "octo/lab", "GITHUB_REF": "refs/heads/main"}  # a dispatched run: on main
    for text in ("## first report\n", "## second report\n"):
        report.write_text(text)
        assert run_gitexp(github_project.root, "ci", "comment", "--sweep", "s", "--file", str(report), env=ci_env).code == 0
    assert [comment["body"] for comment in github.comments[pull["number"]]] == ["<!-- gitexp:sweep:s -->\n## second report\n"]

    replaced = run_gitexp(github_project.root, "pr", "s/t001", "--replace", "s", env=env)

    assert replaced.code == 0, replaced.err
    sweep_pull, trial_pull = github.pulls
    assert (trial_pull["head"]["ref"], trial_pull["base"]["ref"], trial_pull["draft"]) == ("exp/s/t001", "main", False)
    assert sweep_pull["state"] == "closed"
    assert github.comments[sweep_pull["number"]][-1]["body"].endswith(f"Replaced by {trial_pull['html_url']}, the trial chosen from this sweep.")
    assert replaced.out.endswith(f"Closed {sweep_pull['html_url']}, sweep s's review (its branch and trials stay)\n")
    assert {"refs/heads/exp/s/t001", "refs/heads/exp/s/t002", "refs/heads/sweeps/s"} <= set(remote_refs(github_project))
    assert not shows_token(opened.out + opened.err + replaced.out + replaced.err)


def test_push_run_pr_opens_the_sweeps_draft_whose_push_starts_the_run(github_project, github, run_gitexp):
    result = run_gitexp(github_project.root, "push", "origin", "s", "--run", "--pr", "--no-dvc", env=token_env(github))

    assert result.code == 0, result.err
    [pull] = github.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"], pull["draft"]) == ("sweeps/s", "main", True)
    assert github.dispatches == []  # the push of sweeps/s starts the run: no second one
    assert {"refs/heads/exp/s/t001", "refs/heads/sweeps/s"} <= set(remote_refs(github_project))
    assert f"Started sweep s's run by pushing sweeps/s: follow it at {ACTIONS_PAGE}\n" in result.out
    assert result.out.endswith(f"Opened {pull['html_url']}\n")


def test_without_a_token_or_gh_the_sweeps_pull_request_is_left_to_open_by_hand(github_project, run_gitexp):
    result = run_gitexp(github_project.root, "pr", "s", env={"GITHUB_TOKEN": "", "GH_TOKEN": "", "GH_CONFIG_DIR": "/nonexistent"})

    assert result.code == 0, result.err
    assert "Open it at https://github.com/octo/lab/compare/main...sweeps/s?expand=1\n" in result.out
    body = github_project.root / ".git/gitexp/pr/s.md"
    assert result.out.endswith(f"with the body in {body}\n") and body.read_text().startswith("## gitexp sweep s\n")
    assert "refs/heads/sweeps/s" in remote_refs(github_project)
