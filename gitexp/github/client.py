"""GitHub's REST API for gitexp: a pull request per trial, one updatable comment per sweep, workflow runs.

Talks to GitHub with the standard library only (``urllib``), through
``transport``, which holds the token and bounds every request and answer;
where a repository is comes from ``repository``. Without a token, ``gh``
(its own module) or a compare URL takes over.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from typing import Any, Mapping

from gitexp.errors import UsageError
from gitexp.github.repository import DEFAULT_API_URL, GitHubRepo
from gitexp.github.transport import TOKEN_VARIABLES, GitHubValidationError, RestTransport


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    html_url: str
    created: bool = False  # True when this call opened it, False when it already existed


@dataclass(frozen=True)
class Comment:
    id: int
    html_url: str
    created: bool


class GitHubClient(RestTransport):
    """A REST API client holding one token: the operations gitexp needs, each one request or a few."""

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str] | None = None, repo: GitHubRepo | None = None
    ) -> GitHubClient | None:
        """A client from GITHUB_TOKEN (else GH_TOKEN) and GITHUB_API_URL; None without a token.

        Without GITHUB_API_URL the API is github.com's, or that of ``repo``'s host
        when GITHUB_SERVER_URL names that host (GitHub Enterprise, as Actions sets
        it); a token never goes to a host only because a remote URL names it.
        """
        env = os.environ if env is None else env
        token = next((env[name].strip() for name in TOKEN_VARIABLES if (env.get(name) or "").strip()), "")
        if not token:
            return None
        return cls(token, _configured_api_url(env, repo))

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r})"

    # -- pull requests -------------------------------------------------------

    def create_pull_request(
        self, repo: GitHubRepo, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequest:
        """Open a PR head→base; if one is already open, update its body and return it."""
        payload = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        try:
            response = self._request("POST", f"{_repo_path(repo)}/pulls", payload)
        except GitHubValidationError as exc:
            existing = self.find_pull_request(repo, head, base=base) if _says_already_exists(exc) else None
            if existing is None:
                raise
            response = self._request("PATCH", f"{_repo_path(repo)}/pulls/{existing.number}", {"body": body})
            return self._pull_request(response.data)
        return self._pull_request(response.data, created=True)

    def find_pull_request(self, repo: GitHubRepo, head_branch: str, base: str | None = None) -> PullRequest | None:
        """The open PR from ``head_branch`` of ``repo`` (into ``base`` if given), or None."""
        query = {"head": f"{repo.owner}:{head_branch}", "state": "open"}
        if base is not None:
            query["base"] = base
        first = next(self._paginate(f"{_repo_path(repo)}/pulls", query), None)
        return None if first is None else self._pull_request(first)

    def close_pull_request(self, repo: GitHubRepo, number: int) -> None:
        """Close the pull request (its branch and the trials stay)."""
        self._request("PATCH", f"{_repo_path(repo)}/pulls/{int(number)}", {"state": "closed"})

    # -- workflow runs ---------------------------------------------------------

    def dispatch_workflow(self, repo: GitHubRepo, workflow: str, ref: str, inputs: Mapping[str, str]) -> None:
        """Start a run of ``workflow`` (its file name) on branch ``ref`` with ``inputs`` (``workflow_dispatch``)."""
        path = f"{_repo_path(repo)}/actions/workflows/{urllib.parse.quote(workflow, safe='')}/dispatches"
        self._request("POST", path, {"ref": ref, "inputs": dict(inputs)})

    # -- comments ------------------------------------------------------------

    def upsert_comment(self, repo: GitHubRepo, issue_number: int, marker: str, body: str) -> Comment:
        """Update the issue's comment carrying ``marker``, or create it: one comment per marker."""
        tag = comment_marker(marker)
        marked_body = {"body": f"{tag}\n{body}"}
        comments_path = f"{_repo_path(repo)}/issues/{int(issue_number)}/comments"
        existing_id = self._find_comment_id(comments_path, tag)
        if existing_id is None:
            response = self._request("POST", comments_path, marked_body)
        else:
            response = self._request("PATCH", f"{_repo_path(repo)}/issues/comments/{existing_id}", marked_body)
        comment_id, html_url = self._fields(response.data, "a comment", id=int, html_url=str)
        return Comment(comment_id, html_url, created=existing_id is None)

    def _find_comment_id(self, comments_path: str, tag: str) -> int | None:
        """The first comment whose body carries ``tag``; stops paging once found."""
        for comment in self._paginate(comments_path, {}):
            if isinstance(comment, dict) and tag in str(comment.get("body") or ""):
                return self._fields(comment, "a comment", id=int)[0]
        return None

    def _pull_request(self, data: Any, created: bool = False) -> PullRequest:
        number, url, html_url = self._fields(data, "a pull request", number=int, url=str, html_url=str)
        return PullRequest(number, url, html_url, created)


def comment_marker(marker: str) -> str:
    """The hidden HTML comment that identifies gitexp's comment for ``marker``."""
    if not marker or "--" in marker or ">" in marker or "\n" in marker:
        raise UsageError(f"comment marker {marker!r} cannot go in an HTML comment: drop '--', '>' and line breaks")
    return f"<!-- gitexp:{marker} -->"


def _repo_path(repo: GitHubRepo) -> str:
    return f"/repos/{urllib.parse.quote(repo.owner, safe='')}/{urllib.parse.quote(repo.name, safe='')}"


def _says_already_exists(exc: GitHubValidationError) -> bool:
    return any("already exists" in detail.lower() for detail in exc.details)


def _configured_api_url(env: Mapping[str, str], repo: GitHubRepo | None) -> str:
    """GITHUB_API_URL; else github.com's API, or that of GITHUB_SERVER_URL's host when the repository is there."""
    if env.get("GITHUB_API_URL"):
        return env["GITHUB_API_URL"]
    if repo is None or repo.host == "github.com":
        return DEFAULT_API_URL
    if repo.host == _hostname(env.get("GITHUB_SERVER_URL") or ""):
        return repo.api_url
    raise UsageError(
        f"the remote is on {repo.host}, and gitexp sends a GitHub token only to github.com or to GITHUB_API_URL: "
        f"if {repo.host} is your GitHub Enterprise server, set GITHUB_API_URL={repo.api_url}"
    )


def _hostname(url: str) -> str | None:
    try:
        return urllib.parse.urlsplit(url.strip()).hostname
    except ValueError:
        return None
