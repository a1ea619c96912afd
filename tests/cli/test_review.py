"""gitexp report and gitexp pr as a user runs them; pr against a local GitHub-like server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from gitexp.store.git import Git
from tests.fake_github import TOKEN

GITHUB_URL = "https://github.com/octo/lab.git"


def test_report_writes_markdown_with_its_plots(reviewed_project, run_gitexp):
    result = run_gitexp(reviewed_project.root, "report", "s", "-o", "review/report.md", "--top", "2")

    assert result.code == 0, result.err
    assert result.out == "Wrote review/report.md and 4 plot(s) in report-plots/\n"  # 3 charts and the best so far
    text = (reviewed_project.root / "review" / "report.md").read_text()
    assert text.startswith("## gitexp sweep s\n") and "The best 2 of 4 ranked trials." in text
    assert len(list((reviewed_project.root / "review" / "report-plots").glob("*.png"))) == 4


def test_report_as_one_html_page(reviewed_project, run_gitexp):
    result = run_gitexp(reviewed_project.root, "report", "--format", "html", "-o", "report.html")

    assert result.code == 0 and result.out == "Wrote report.html\n"
    page = (reviewed_project.root / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count('<img src="data:image/png;base64,') == 4
    assert not (reviewed_project.root / "report-plots").exists()


def test_report_on_standard_output_has_no_plots(reviewed_project, run_gitexp):
    result = run_gitexp(reviewed_project.root, "report")

    assert result.code == 0 and result.out.startswith("## gitexp sweep s\n")
    assert "### Plots" not in result.out and "### Failed trials" in result.out


def test_report_of_a_sweep_that_has_not_run_succeeds_and_says_so(project, run_gitexp):
    run_gitexp(project.root, "queue", "--name", "q", "--set", "train.lr=[0.1, 0.2]")

    result = run_gitexp(project.root, "report", "q")

    assert result.code == 0
    assert "**No trial of this sweep has finished yet**" in result.out and "2 trials: 2 queued" in result.out


def test_report_of_a_get_started_project_has_deltas_against_its_baseline(get_started, run_gitexp):
    result = run_gitexp(get_started.root, "report", "gs")

    assert result.code == 0, result.err
    assert "| # | trial | train.n_est | avg_prec.test | Δ vs baseline | avg_prec.train | roc_auc.test | duration |" in result.out
    assert "|  | baseline | 50 | 0.25 |  | 0.5 | 0.2 |  |" in result.out
    assert "| 1 | exp/gs/t002 | 30 | 0.15 | -0.1 | 0.3 | 0.2 | " in result.out
    assert "| 2 | exp/gs/t001 | 10 | 0.05 | -0.2 | 0.1 | 0.2 | " in result.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "nope"], "no sweep named 'nope' (sweeps: s): see gitexp status"),
        (["report", "s", "--baseline", "nope"], "--baseline 'nope' names no commit: give a branch, tag or commit id"),
        (["report", "s", "--format", "pdf"], "--format 'pdf': use md or html"),
        (["report", "s", "--top", "-1"], "--top -1: give the number of trials to list, or 0 for all of them"),
        (["pr", "s/t009"], "no trial named 's/t009': gitexp show lists the trials as SWEEP/TRIAL"),
        (["pr", "s/t003"], "no Git remote named 'origin' (remotes: none configured): add it with git remote add origin URL"),
    ],
)
def test_bad_input_is_one_line_with_status_2(reviewed_project, run_gitexp, repo_state, argv, message):
    before = repo_state(reviewed_project)

    result = run_gitexp(reviewed_project.root, *argv)

    assert result.code == 2 and result.out == ""
    assert result.err == f"gitexp: error: {message}\n"
    assert repo_state(reviewed_project) == before


def test_no_sweep_at_all(project, run_gitexp):
    result = run_gitexp(project.root, "report")

    assert result.code == 2 and result.err == "gitexp: error: no sweeps yet: create one with gitexp queue --set KEY=VALUES\n"


@pytest.fixture
def on_github(reviewed_project, bare_remote):
    """origin is github.com/octo/lab for gitexp and GitHub, and the bare remote for git (url.insteadOf)."""
    reviewed_project.run("remote", "add", "origin", GITHUB_URL)
    reviewed_project.run("config", f"url.{bare_remote}.insteadOf", GITHUB_URL)
    reviewed_project.run("push", "-q", "origin", "main")
    return reviewed_project


def no_gh_path() -> str:
    """A PATH with this Python's tools and the system's, where no ``gh`` is (it may be installed elsewhere)."""
    return os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"])


def test_pr_pushes_the_trial_and_opens_a_pull_request_with_its_report(on_github, bare_remote, github, run_gitexp):
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url}

    result = run_gitexp(on_github.root, "pr", "s/t003", env=env)

    assert result.code == 0, result.err
    assert result.out.splitlines() == ["Pushed to origin: 2 new, 0 updated, 0 up to date", "Opened https://github.com/octo/lab/pull/1"]
    remote = Git(bare_remote).run("for-each-ref", "--format=%(refname) %(objectname)")
    assert f"refs/heads/exp/s/t003 {on_github.rev_parse('exp/s/t003')}" in remote and "refs/gitexp/sweeps/s " in remote
    [request] = [request for request in github.requests if request.method == "POST"]
    assert request.path == "/repos/octo/lab/pulls"
    assert request.payload["head"] == "exp/s/t003" and request.payload["base"] == "main"
    assert request.payload["title"] == "gitexp s/t003: train.lr=0.1, train.n_est=10" and request.payload["draft"] is False
    body = request.payload["body"]
    assert body.startswith("## gitexp trial s/t003\n\nBranch **exp/s/t003** of sweep **s**: succeeded in ")
    assert "Rank 1 of 4 by score (higher is better)." in body
    assert "| score | - | 0.999 |  |" in body and "| 1 | exp/s/t003 (this trial) | 0.1 | 10 | 0.999 |" in body


def test_pr_again_updates_the_open_pull_request(on_github, github, run_gitexp):
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url}
    run_gitexp(on_github.root, "pr", "s/t003", "--title", "Best so far", env=env)

    again = run_gitexp(on_github.root, "pr", "s/t003", env=env)

    assert again.code == 0 and again.out.splitlines() == [
        "Pushed to origin: 0 new, 0 updated, 2 up to date",
        "Pull request https://github.com/octo/lab/pull/1",
    ]
    assert [pull["title"] for pull in github.pulls] == ["Best so far"] and len(github.pulls) == 1
    assert [request.method for request in github.requests] == ["POST", "POST", "GET", "PATCH"]


def test_pr_of_a_failed_trial_quotes_its_log(on_github, github, run_gitexp):
    run_gitexp(on_github.root, "pr", "s/t005", "--base", "dev", env={"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url})

    body = github.pulls[0]["body"]
    assert github.pulls[0]["base"]["ref"] == "dev"
    assert "### Why it failed" in body and "loss is nan <b>diverged</b> | *stop*" in body.split("```")[1]


def test_pr_without_a_token_prints_the_compare_url_and_writes_the_body(on_github, bare_remote, run_gitexp):
    env = {"GITHUB_TOKEN": "", "GH_TOKEN": "", "PATH": no_gh_path()}

    result = run_gitexp(on_github.root, "pr", "s/t004", env=env)

    body_file = on_github.common_dir() / "gitexp" / "pr" / "s" / "t004.md"
    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == [
        "No pull request opened: no GITHUB_TOKEN (or GH_TOKEN) and no logged-in gh: open the pull request in the browser",
        "Open it at https://github.com/octo/lab/compare/main...exp/s/t004?expand=1",
        f"with the body in {body_file}",
    ]
    assert body_file.read_text().startswith("## gitexp trial s/t004\n")
    assert "refs/heads/exp/s/t004" in Git(bare_remote).run("for-each-ref")


def test_pr_with_a_rejected_token_falls_back_to_the_compare_url(on_github, github, run_gitexp):
    env = {"GITHUB_TOKEN": "ghp_wrong", "GITHUB_API_URL": github.url, "PATH": no_gh_path()}

    result = run_gitexp(on_github.root, "pr", "s/t003", env=env)

    assert result.code == 0
    assert result.out.splitlines()[1].startswith("No pull request opened: GitHub rejected the token (401 Bad credentials)")
    assert "Open it at https://github.com/octo/lab/compare/main...exp/s/t003?expand=1" in result.out


def test_pr_needs_a_github_remote(reviewed_project, bare_remote, run_gitexp, repo_state):
    reviewed_project.run("remote", "add", "origin", str(bare_remote))
    before = repo_state(reviewed_project)

    result = run_gitexp(reviewed_project.root, "pr", "s/t003")

    assert result.code == 2 and f"{str(bare_remote)!r} is not a GitHub remote URL" in result.err
    assert result.err.count("\n") == 1 and repo_state(reviewed_project) == before
