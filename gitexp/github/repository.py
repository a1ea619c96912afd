"""Where a GitHub repository is: its owner, name and host from a Git remote URL, its web pages and its API root.

Separate from the REST client because pages that need no token (a compare URL,
the workflow's page, the UI's links) need only this.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from gitexp.errors import UsageError
from gitexp.store.redaction import without_credentials

DEFAULT_API_URL = "https://api.github.com"

_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_REPO_NAME = re.compile(r"[A-Za-z0-9._-]+")

# scp-like remotes: [user@]host:owner/repo(.git)
_SCP_LIKE_URL = re.compile(r"(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)")
_URL_SCHEMES = {"https", "http", "ssh", "git", "git+ssh", "ssh+git"}


@dataclass(frozen=True)
class GitHubRepo:
    """A repository on github.com (the default host) or on a GitHub Enterprise host."""

    owner: str
    name: str
    host: str = "github.com"

    @classmethod
    def from_remote_url(cls, url: str) -> GitHubRepo:
        """The repository a Git remote URL points at (https, scp-like or ssh; GitHub or Enterprise)."""
        host, path = _split_remote_url(url.strip())
        if host is not None and _is_github_host(host):
            owner, _, name = path.strip("/").removesuffix(".git").partition("/")
            if _OWNER.fullmatch(owner) and _REPO_NAME.fullmatch(name) and name not in {".", ".."}:
                return cls(owner, name, _canonical_host(host))
        raise UsageError(
            f"{without_credentials(url)!r} is not a GitHub remote URL: expected "
            "https://github.com/OWNER/REPO.git, git@github.com:OWNER/REPO.git or "
            "ssh://git@github.com/OWNER/REPO.git (or the same on a GitHub Enterprise host); "
            "point the remote at GitHub with `git remote set-url origin https://github.com/OWNER/REPO.git`"
        )

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def web_url(self) -> str:
        return f"https://{self.host}/{self.full_name}"

    @property
    def api_url(self) -> str:
        """Where this host's REST API lives: github.com, GHE.com data residency, or GHE Server."""
        return _api_url_of_host(self.host)


def compare_url(repo: GitHubRepo, base: str, head: str) -> str:
    """The web page that offers to open a PR head→base, for when there is no token."""
    return f"{repo.web_url}/compare/{_quote_branch(base)}...{_quote_branch(head)}?expand=1"


def actions_page_url(repo: GitHubRepo, workflow: str) -> str:
    """The workflow's page on GitHub, whose "Run workflow" button dispatches it by hand."""
    return f"{repo.web_url}/actions/workflows/{urllib.parse.quote(workflow, safe='')}"


def _quote_branch(branch: str) -> str:
    # Slashes stay (GitHub reads exp/s/t as one ref); '+', '#', '?', '%' and spaces must not.
    return urllib.parse.quote(branch, safe="/")


def _split_remote_url(url: str) -> tuple[str | None, str]:
    """(host, path) of a URL-style or scp-like remote; host None when it is neither."""
    if "://" in url:
        try:
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname
        except ValueError:  # e.g. an unbalanced IPv6 bracket
            return None, ""
        return (host if parts.scheme.lower() in _URL_SCHEMES else None), parts.path
    scp_like = _SCP_LIKE_URL.fullmatch(url)
    if scp_like is None:
        return None, ""
    return scp_like["host"].lower(), scp_like["path"]


def _is_github_host(host: str) -> bool:
    # github.com and its subdomains, GHE.com (*.ghe.com), and Enterprise Server hosts named for GitHub.
    return "github" in host or host.endswith(".ghe.com")


def _canonical_host(host: str) -> str:
    """www.github.com and ssh.github.com are github.com for the web and the API."""
    return "github.com" if host.endswith(".github.com") else host


def _api_url_of_host(host: str) -> str:
    if host == "github.com":
        return DEFAULT_API_URL
    if host.endswith(".ghe.com"):
        return f"https://api.{host}"
    return f"https://{host}/api/v3"
