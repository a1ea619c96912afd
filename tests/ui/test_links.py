"""The trial page links its commits and branch to GitHub when the remote gitexp push uses is there (a fake
remote URL: no network), and never shows a credential of that URL."""

from __future__ import annotations

import json

import pytest

from gitexp.ui.data import github_links, github_repo
from tests.ui.conftest import screenshot

SHA = "0123456789abcdef0123456789abcdef01234567"
RESULT = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("url", "web"),
    [
        ("https://github.com/acme/models.git", "https://github.com/acme/models"),
        ("https://github.com/acme/models", "https://github.com/acme/models"),
        ("https://bot:ghp_s3cret@github.com/acme/models.git", "https://github.com/acme/models"),
        ("git@github.com:acme/models.git", "https://github.com/acme/models"),
        ("git@github.com:acme/models", "https://github.com/acme/models"),
        ("ssh://git@github.com/acme/models.git", "https://github.com/acme/models"),
        ("https://github.example-corp.com/acme/models.git", "https://github.example-corp.com/acme/models"),  # Enterprise
    ],
)
def test_each_form_of_a_github_remote_url_links_to_the_repository_s_pages(project, url, web):
    project.run("remote", "add", "origin", url)
    assert github_links(github_repo(project), SHA, RESULT, "exp/s/t001") == {
        "trial_commit": f"{web}/commit/{SHA}",
        "result_commit": f"{web}/commit/{RESULT}",
        "branch": f"{web}/tree/exp/s/t001",
        "pulls": f"{web}/pulls?q=is%3Apr+head%3Aexp%2Fs%2Ft001",
    }


@pytest.mark.parametrize("url", ["https://gitlab.com/acme/models.git", "/srv/git/models.git", None])
def test_a_remote_elsewhere_or_none_gives_no_links(project, url):
    if url:
        project.run("remote", "add", "origin", url)
    assert github_links(github_repo(project), SHA, None, "exp/s/t001") is None


def test_the_trial_page_links_its_commits_and_branch_to_github_without_the_url_s_credentials(reviewed_project, ui_server, open_page):
    reviewed_project.run("remote", "add", "origin", "https://bot:ghp_s3cret@github.com/acme/models.git")
    result = reviewed_project.rev_parse("exp/s/t003")
    trial = reviewed_project.rev_parse("exp/s/t003^")
    baseline = reviewed_project.rev_parse("exp/s/t003^^")
    assert reviewed_project.run("log", "-1", "--format=%s", trial).startswith("gitexp: s/t003 ")  # queue's commit, on the baseline
    served = ui_server(reviewed_project.root)
    page = open_page(served)
    page.goto(page.url.split("#")[0] + "#trial/s%2Ft003")
    page.wait_for_selector("body[data-trial='s/t003']")

    links = dict(page.eval_on_selector_all("#trial-commits a", "nodes => nodes.map(node => [node.dataset.link, node.href])"))
    assert links == {
        "branch": "https://github.com/acme/models/tree/exp/s/t003",
        "trial_commit": f"https://github.com/acme/models/commit/{trial}",
        "result_commit": f"https://github.com/acme/models/commit/{result}",
        "pulls": "https://github.com/acme/models/pulls?q=is%3Apr+head%3Aexp%2Fs%2Ft003",
    }
    assert baseline[:10] in page.text_content("#trial-commits")
    assert "s3cret" not in page.content() and "bot:" not in page.content()
    assert b"s3cret" not in served.request("/api/trial?id=s/t003")[1]
    assert json.loads(served.request("/api/trial?id=s/t001")[1])["links"]["trial_commit"].startswith("https://github.com/acme/models/commit/")
    screenshot(page, "trial-with-github-links")
