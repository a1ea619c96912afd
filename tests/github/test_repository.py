"""gitexp.github.repository: which repository a Git remote URL names, its API root and compare URLs."""

from __future__ import annotations

import pytest

from gitexp.errors import UsageError
from gitexp.github.repository import GitHubRepo, compare_url

REPO = GitHubRepo("octo", "lab")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/octo/lab", GitHubRepo("octo", "lab")),
        ("https://github.com/octo/lab.git", GitHubRepo("octo", "lab")),
        ("https://github.com/octo/lab.git/", GitHubRepo("octo", "lab")),
        ("https://x-access-token:secret@github.com/octo/lab.git", GitHubRepo("octo", "lab")),
        ("https://www.github.com/Octo-Org/my.lab", GitHubRepo("Octo-Org", "my.lab")),
        ("git@github.com:octo/lab.git", GitHubRepo("octo", "lab")),
        ("git@github.com:octo/lab", GitHubRepo("octo", "lab")),
        ("ssh://git@github.com/octo/lab.git", GitHubRepo("octo", "lab")),
        ("ssh://git@ssh.github.com:443/octo/lab.git", GitHubRepo("octo", "lab")),
        ("https://github.example.com/team/lab.git", GitHubRepo("team", "lab", "github.example.com")),
        ("git@github.example.com:team/lab.git", GitHubRepo("team", "lab", "github.example.com")),
        ("ssh://git@GitHub.Example.com:2222/team/lab.git", GitHubRepo("team", "lab", "github.example.com")),
        ("https://octocorp.ghe.com/team/lab", GitHubRepo("team", "lab", "octocorp.ghe.com")),
    ],
)
def test_from_remote_url(url: str, expected: GitHubRepo):
    assert GitHubRepo.from_remote_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://gitlab.com/octo/lab.git",
        "git@bitbucket.org:octo/lab.git",
        "/srv/git/lab.git",
        "file:///srv/git/github/lab.git",
        "https://github.com/octo",
        "https://github.com/octo/lab/tree/main",
        "https://github.com/-octo/lab",
        "https://[github.com/octo/lab",
        "",
    ],
)
def test_from_remote_url_refuses_what_is_not_github(url: str):
    with pytest.raises(UsageError, match="is not a GitHub remote URL: expected https://github.com/OWNER/") as caught:
        GitHubRepo.from_remote_url(url)
    assert "git remote set-url origin" in str(caught.value)


def test_from_remote_url_does_not_repeat_credentials():
    with pytest.raises(UsageError) as caught:
        GitHubRepo.from_remote_url("https://oauth2:glpat-secret@gitlab.com/octo/lab.git")
    assert "secret" not in str(caught.value) and "***@gitlab.com" in str(caught.value)


@pytest.mark.parametrize(
    ("repo", "api_url"),
    [
        (GitHubRepo("o", "r"), "https://api.github.com"),
        (GitHubRepo("o", "r", "github.corp.com"), "https://github.corp.com/api/v3"),
        (GitHubRepo("o", "r", "octocorp.ghe.com"), "https://api.octocorp.ghe.com"),
    ],
)
def test_api_url_of_each_kind_of_host(repo: GitHubRepo, api_url: str):
    assert repo.api_url == api_url


@pytest.mark.parametrize(
    ("base", "head", "expected"),
    [
        ("main", "exp/s/t-1", "https://github.com/octo/lab/compare/main...exp/s/t-1?expand=1"),
        ("main", "exp/s/lr+1e-3", "https://github.com/octo/lab/compare/main...exp/s/lr%2B1e-3?expand=1"),
        ("release#2", "exp/s/t#1", "https://github.com/octo/lab/compare/release%232...exp/s/t%231?expand=1"),
        ("main", "exp/s/a b?c%", "https://github.com/octo/lab/compare/main...exp/s/a%20b%3Fc%25?expand=1"),
    ],
)
def test_compare_url_quotes_branch_names(base: str, head: str, expected: str):
    assert compare_url(REPO, base, head) == expected


def test_compare_url_on_enterprise():
    repo = GitHubRepo("team", "lab", "github.corp.com")
    assert compare_url(repo, "main", "exp/s/t") == "https://github.corp.com/team/lab/compare/main...exp/s/t?expand=1"
