"""Pull request bodies and report comments of hostile trials are text on GitHub: no markup, no link, no mention.

The trials are the real ones of ``hostile_project``; the GitHub API is the checking fake of tests/fake_github.py.
"""

from __future__ import annotations

import re

from gitexp.review.tables import WORD_JOINER
from tests.fake_github import TOKEN

GITHUB_URL = "https://github.com/octo/lab.git"
# What GitHub would render as a link, an image, HTML or a mention, outside code blocks.
LINKING = re.compile(r"(?<!\\)[<>\[\]]|[A-Za-z]://|www\.|@(?!" + WORD_JOINER + ")")


def outside_code(markdown: str) -> list[str]:
    return re.sub(r"(?ms)^(`{3,}).*?^\1$", "", markdown).splitlines()


def test_a_pull_request_body_of_a_hostile_trial_is_text(hostile_project, bare_remote, github, run_gitexp):
    git = hostile_project
    git.run("remote", "add", "origin", GITHUB_URL)
    git.run("config", f"url.{bare_remote}.insteadOf", GITHUB_URL)

    result = run_gitexp(git.root, "pr", "h/t001", env={"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url})

    assert result.code == 0, result.err
    [request] = [request for request in github.requests if request.method == "POST"]
    body = request.payload["body"]
    assert "https:\u2060//evil.example www\u2060.evil.example a\\@\u2060evil.example" in body
    assert [line for line in outside_code(body) if LINKING.search(line.replace("\\\\", ""))] == []
    assert "\x1b" not in body and "\r" not in body and "\u202e" not in body


def test_a_report_comment_of_hostile_trials_is_text(hostile_project, github, tmp_path, run_gitexp):
    git = hostile_project
    git.run("remote", "add", "origin", GITHUB_URL)
    github.pulls.append({"number": 7, "state": "open", "head": {"ref": "exp/h/t001", "label": "octo:exp/h/t001"},
                         "base": {"ref": "main"}, "url": "u", "html_url": "https://github.com/octo/lab/pull/7"})  # fmt: skip
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "octo/lab", "GITHUB_REF": "refs/heads/exp/h/t001"}
    assert run_gitexp(git.root, "report", "h", "-o", str(tmp_path / "report.md")).code == 0

    result = run_gitexp(git.root, "ci", "comment", "--sweep", "h", "--file", str(tmp_path / "report.md"), env=env)

    assert result.code == 0, result.err
    [comment] = github.comments[7]
    lines = outside_code(comment["body"])[1:]  # after gitexp's own marker, an HTML comment
    assert [line for line in lines if LINKING.search(line.replace("\\\\", ""))] == []
    assert "https:\u2060//evil.example" in comment["body"]


def test_the_full_report_link_is_built_only_from_variables_shaped_as_actions_sets_them():
    from gitexp.github.pull_requests import full_report_location

    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "octo/lab", "GITHUB_RUN_ID": "42"}
    assert full_report_location(env) == "the gitexp-report artifact of [workflow run 42](https://github.com/octo/lab/actions/runs/42)"
    assert full_report_location({**env, "GITHUB_REPOSITORY": "octo/lab](https://evil.example)"}) is None
    assert full_report_location({**env, "GITHUB_SERVER_URL": "javascript:alert(1)//"}) is None
    assert full_report_location({**env, "GITHUB_RUN_ID": "42)"}) is None and full_report_location({}) is None
