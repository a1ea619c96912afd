"""GitHub integration: a pull request per trial, one updatable comment per sweep.

Talks to GitHub's REST API with the standard library only (``urllib``), or,
when there is no token, hands over to the ``gh`` CLI or a compare URL.

The token is a secret: it travels only in the Authorization header, only to
github.com's API or the one the environment names (GITHUB_API_URL, or
GITHUB_SERVER_URL's as Actions sets it), and never further: a redirect or a
next-page link to another origin is refused. It is never part of a message, a
repr or a log line, in whatever form a server echoes it. Every answer is
bounded: in time, in size and in pages.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, NamedTuple

from gitexp import __version__
from gitexp.errors import GitexpError, NotFoundError, UsageError
from gitexp.store.redaction import Redactor, without_credentials

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
REQUEST_TIMEOUT_SECONDS = 30.0
PAGE_SIZE = 100  # GitHub's maximum per_page: fewest round trips
MAX_PAGES = 100  # 10,000 items: more than any pull request's comments
MAX_REDIRECTS = 5
MAX_ANSWER_BYTES = 10 * 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024  # an error's message is all gitexp reads of it
READ_CHUNK_BYTES = 64 * 1024
ANSWER_DEADLINE_TIMEOUTS = 4  # a whole answer within four timeouts: a trickling server cannot hold gitexp
MAX_SERVER_TEXT = 300  # characters of a server's own words in a message
GH_AUTH_TIMEOUT_SECONDS = 10.0
GH_CREATE_TIMEOUT_SECONDS = 120.0

_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_REPO_NAME = re.compile(r"[A-Za-z0-9._-]+")
# scp-like remotes: [user@]host:owner/repo(.git)
_SCP_LIKE_URL = re.compile(r"(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)")
_URL_SCHEMES = {"https", "http", "ssh", "git", "git+ssh", "ssh+git"}
_LINK_ENTRY = re.compile(r'<(?P<url>[^>]*)>\s*;\s*rel="(?P<rel>[^"]*)"')
_PULL_URL = re.compile(r"https?://\S+/pull/\d+")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HEADER_SAFE_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: anything else makes http.client quote the token

_TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")  # in this order of preference
_TOKEN_PERMISSIONS = (
    "it needs the 'repo' scope (classic token; 'workflow' too to start runs) or read and write access to "
    "pull requests and issues, and to actions to start runs (fine-grained token; in GitHub Actions: "
    "`permissions: {pull-requests: write, issues: write, actions: write}`)"
)


class GitHubError(GitexpError):
    """GitHub failed, gave an unexpected answer or could not be reached."""

    exit_code = 1


class GitHubAuthError(UsageError):
    """The token is wrong or lacks a permission (401/403): callers may fall back to a compare URL."""


class GitHubValidationError(UsageError):
    """GitHub refused the request's content (422); ``details`` holds GitHub's own messages."""

    def __init__(self, message: str, details: tuple[str, ...] = ()):
        super().__init__(message)
        self.details = details


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


class _Response(NamedTuple):
    data: Any
    next_url: str | None


class GitHubClient:
    """A REST API client holding one token; every request goes through ``_request``."""

    def __init__(self, token: str, api_url: str = DEFAULT_API_URL, timeout: float = REQUEST_TIMEOUT_SECONDS):
        token = token.strip()
        if not _HEADER_SAFE_TOKEN.fullmatch(token):
            raise UsageError(
                "the GitHub token is empty or has spaces or control characters: check GITHUB_TOKEN (or GH_TOKEN)"
            )
        self._token = token
        self._redact = Redactor([token])
        self.api_url = _checked_api_url(api_url)
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_SameOriginRedirects(self._check_origin))

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
        token = next((env[name].strip() for name in _TOKEN_VARIABLES if (env.get(name) or "").strip()), "")
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

    def _fields(self, data: Any, what: str, **kinds: type) -> list[Any]:
        """The named fields of an answer, each of its kind; text redacted, as anything a server says that gitexp shows."""
        values = [data.get(name) if isinstance(data, dict) else None for name in kinds]
        if not all(isinstance(value, kind) and not isinstance(value, bool) for value, kind in zip(values, kinds.values())):
            raise self._error(GitHubError, f"GitHub's answer is not {what} (it lacks {', '.join(kinds)}): not used")
        return [self._server_text(value) if isinstance(value, str) else value for value in values]

    # -- transport -----------------------------------------------------------

    def _paginate(self, path: str, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Items of a list endpoint, page after page, following Link rel="next" lazily (never in a circle, never forever)."""
        url: str | None = self._absolute_url(f"{path}?{urllib.parse.urlencode({**query, 'per_page': PAGE_SIZE})}")
        read: set[str] = set()
        while url is not None:
            if url in read or len(read) == MAX_PAGES:
                why = "links back to a page already read" if url in read else f"goes on past {MAX_PAGES} pages"
                raise self._error(GitHubError, f"GitHub's list at GET {self._shown(path)} {why}: not read further")
            read.add(url)
            response = self._request("GET", url)
            if not isinstance(response.data, list):
                raise self._error(GitHubError, f"GitHub answered GET {self._shown(url)} with something not a list")
            yield from response.data
            url = response.next_url

    def _request(self, method: str, path_or_url: str, payload: Mapping[str, Any] | None = None) -> _Response:
        """The one place that talks HTTP: headers, JSON, timeout, and errors as gitexp exceptions."""
        url = self._absolute_url(path_or_url)
        request = urllib.request.Request(url, method=method, headers=self._headers(payload is not None))
        if payload is not None:
            request.data = json.dumps(payload).encode("utf-8")
        # Unredirected: only _SameOriginRedirects carries it along a redirect, and only on the API origin.
        request.add_unredirected_header("Authorization", f"Bearer {self._token}")
        deadline = time.monotonic() + ANSWER_DEADLINE_TIMEOUTS * self.timeout
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                log.debug("GitHub %s %s -> %s", method, self._shown(url), answer.status)
                raw, cut = _read_at_most(answer, MAX_ANSWER_BYTES, deadline)
                if cut:
                    raise self._error(GitHubError, f"GitHub's answer to {method} {self._shown(url)} {cut}: not read")
                data = self._decode(raw, method, url)
                return _Response(data, _next_page_url(answer.headers.get("Link")))
        except urllib.error.HTTPError as exc:
            with exc:
                log.debug("GitHub %s %s -> %s", method, self._shown(url), exc.code)
                raw, _ = _read_at_most(exc, MAX_ERROR_BYTES, deadline)  # a cut body only loses GitHub's own reason
                raise self._http_error(exc.code, exc.headers, raw, method, url) from None
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise self._error(
                GitHubError, f"cannot reach GitHub at {self.api_url} ({method} {self._shown(url)}): {reason}"
            ) from None

    def _headers(self, has_body: bool) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"gitexp/{__version__}",
        }
        if has_body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        return headers

    def _absolute_url(self, path_or_url: str) -> str:
        if path_or_url.startswith("/"):
            return self.api_url + path_or_url
        # Pagination links are absolute: follow them only on the API's own origin, token and all.
        self._check_origin(path_or_url, "a link")
        return path_or_url

    def _check_origin(self, url: str, what: str) -> None:
        """Refuse ``url`` (a link, a redirect) unless it is on the API's own origin: the token goes nowhere else."""
        if _origin(url) != _origin(self.api_url):
            raise self._error(GitHubError, f"GitHub sent {what} to {_shown_origin(url)}, outside {self.api_url}: not followed")

    def _decode(self, raw: bytes, method: str, url: str) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            shown = f"{method} {self._shown(url)}"
            raise self._error(GitHubError, f"GitHub answered {shown} with something other than JSON") from None

    def _http_error(self, status: int, headers: Mapping[str, str], raw: bytes, method: str, url: str) -> GitexpError:
        """A one-line exception for an error status, with GitHub's own reason in it."""
        answer = _json_object_or_empty(raw)
        said = self._server_text(answer.get("message"))
        reason = f"{status} {said or http.client.responses.get(status, 'error')}"
        request = f"{method} {self._shown(url)}"
        if status == 401:
            message = f"GitHub rejected the token ({reason}): it is wrong, expired or revoked; {_TOKEN_PERMISSIONS}"
            return self._error(GitHubAuthError, message)
        rate_limited = headers.get("X-RateLimit-Remaining") == "0" or "rate limit" in reason.lower()
        if status in (403, 429) and rate_limited:
            message = f"GitHub's API rate limit is exhausted ({reason}) at {request}; wait and retry"
            return self._error(GitHubError, message)
        if status == 403:
            message = f"GitHub refused {request} ({reason}): the token lacks a permission; {_TOKEN_PERMISSIONS}"
            return self._error(GitHubAuthError, message)
        if status == 404:
            return self._error(
                NotFoundError,
                f"GitHub found nothing at {request} ({reason}): check that the repository and pull request exist "
                "and that the token can see them (private repositories need the 'repo' scope)",
            )
        if status == 422:
            details = [self._server_text(detail) for detail in _validation_details(answer)]
            message = f"GitHub refused {request} ({reason}: {'; '.join(details)})"
            return self._error(GitHubValidationError, message, details=tuple(details))
        return self._error(GitHubError, f"GitHub answered {request} with {reason}")

    def _error(self, kind: type[GitexpError], message: str, **extra: Any) -> GitexpError:
        return kind(self._redacted(message), **extra)

    def _redacted(self, text: str) -> str:
        """One line, without the token even if a server echoed it back (in any case, split, encoded)."""
        return " ".join(self._redact(text).split())

    def _server_text(self, value: Any) -> str:
        """A server's own words, fit for a message: redacted first, then cut (a cut must not expose half a token)."""
        text = self._redacted("" if value is None else str(value))
        text = "".join(ch for ch in text if ch.isprintable())
        return text if len(text) <= MAX_SERVER_TEXT else text[:MAX_SERVER_TEXT] + "..."

    def _shown(self, url: str) -> str:
        """A URL as messages show it: the path below the API root (a server's next-page link may carry anything)."""
        return self._redacted(url.removeprefix(self.api_url) or "/")


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect on the API's own origin, token and all (as GitHub does for a renamed repository), a few times;
    refuses one to anywhere else, before anything is sent there."""

    max_redirections = MAX_REDIRECTS

    def __init__(self, check_origin: Callable[[str, str], None]):
        self.check_origin = check_origin

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        try:
            self.check_origin(newurl, "a redirect")
        except GitexpError:
            fp.close()
            raise
        follow = super().redirect_request(req, fp, code, msg, headers, newurl)
        if follow is not None:
            follow.add_unredirected_header("Authorization", req.unredirected_hdrs["Authorization"])
        return follow


# -- module functions ---------------------------------------------------------


def comment_marker(marker: str) -> str:
    """The hidden HTML comment that identifies gitexp's comment for ``marker``."""
    if not marker or "--" in marker or ">" in marker or "\n" in marker:
        raise UsageError(f"comment marker {marker!r} cannot go in an HTML comment: drop '--', '>' and line breaks")
    return f"<!-- gitexp:{marker} -->"


def compare_url(repo: GitHubRepo, base: str, head: str) -> str:
    """The web page that offers to open a PR head→base, for when there is no token."""
    return f"{repo.web_url}/compare/{_quote_branch(base)}...{_quote_branch(head)}?expand=1"


def gh_available(env: Mapping[str, str] | None = None, host: str | None = None) -> bool:
    """Whether the ``gh`` CLI is on PATH and logged in (to ``host`` if given)."""
    env = os.environ if env is None else env
    gh = _gh_executable(env)
    if gh is None:
        return False
    command = [gh, "auth", "status"] + (["--hostname", host] if host else [])
    try:
        result = _run_gh(command, env, GH_AUTH_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def create_pull_request_with_gh(
    repo: GitHubRepo,
    head: str,
    base: str,
    title: str,
    body_file: str | os.PathLike[str],
    draft: bool = False,
    env: Mapping[str, str] | None = None,
) -> str:
    """Open a PR with ``gh pr create``; the URL of the new PR, or of the one already open."""
    env = os.environ if env is None else env
    gh = _gh_executable(env)
    if gh is None:
        raise UsageError("the GitHub CLI `gh` is not on PATH: install it and run `gh auth login`, or set GITHUB_TOKEN")
    command = [gh, "pr", "create", "--repo", _gh_repo(repo), "--head", head, "--base", base, "--title", title]
    command += ["--body-file", os.fspath(body_file)]
    if draft:
        command.append("--draft")
    try:
        result = _run_gh(command, env, GH_CREATE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise GitHubError(f"`gh pr create` did not finish within {GH_CREATE_TIMEOUT_SECONDS:.0f} s") from None
    if result.returncode == 0:
        return _last_line(result.stdout)  # gh prints the new PR's URL last
    existing = _PULL_URL.search(result.stderr) if "already exists" in result.stderr else None
    if existing:
        return existing.group(0)
    said = Redactor(env.get(name, "") for name in _TOKEN_VARIABLES)(_last_line(result.stderr))
    raise GitHubError(f"`gh pr create` failed (exit status {result.returncode}): {said}")


def actions_page_url(repo: GitHubRepo, workflow: str) -> str:
    """The workflow's page on GitHub, whose "Run workflow" button dispatches it by hand."""
    return f"{repo.web_url}/actions/workflows/{urllib.parse.quote(workflow, safe='')}"


def dispatch_workflow_with_gh(
    repo: GitHubRepo, workflow: str, ref: str, inputs: Mapping[str, str], env: Mapping[str, str] | None = None
) -> None:
    """``gh workflow run``: the same dispatch through a logged-in ``gh``."""
    env = os.environ if env is None else env
    gh = _gh_executable(env)
    if gh is None:
        raise UsageError("the GitHub CLI `gh` is not on PATH: install it and run `gh auth login`, or set GITHUB_TOKEN")
    command = [gh, "workflow", "run", workflow, "--repo", _gh_repo(repo), "--ref", ref]
    command += [part for name, value in inputs.items() for part in ("--raw-field", f"{name}={value}")]
    try:
        result = _run_gh(command, env, GH_CREATE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise GitHubError(f"`gh workflow run` did not finish within {GH_CREATE_TIMEOUT_SECONDS:.0f} s") from None
    if result.returncode != 0:
        said = Redactor(env.get(name, "") for name in _TOKEN_VARIABLES)(_last_line(result.stderr))
        raise GitHubError(f"`gh workflow run` failed (exit status {result.returncode}): {said}")


# -- helpers ------------------------------------------------------------------


def _gh_repo(repo: GitHubRepo) -> str:
    return repo.full_name if repo.host == "github.com" else f"{repo.host}/{repo.full_name}"


def _gh_executable(env: Mapping[str, str]) -> str | None:
    return shutil.which("gh", path=env.get("PATH", ""))


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[-1].strip()


def _run_gh(command: list[str], env: Mapping[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    # No prompts, no stdin: gitexp may run unattended (CI), where a prompt would hang.
    return subprocess.run(
        command,
        env={**env, "GH_PROMPT_DISABLED": "1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


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


def _checked_api_url(api_url: str) -> str:
    """The API root without a trailing slash; plain http only to this machine, so the token stays encrypted."""
    api_url = api_url.strip().rstrip("/")
    shown = without_credentials(api_url)
    try:
        parts = urllib.parse.urlsplit(api_url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise UsageError(f"GitHub API URL {shown!r} is not a URL (check GITHUB_API_URL), e.g. {DEFAULT_API_URL}") from None
    if "@" in parts.netloc:
        raise UsageError(f"GitHub API URL {shown!r} carries credentials: drop them from GITHUB_API_URL (the token is the credential)")
    if parts.scheme == "https" and parts.hostname:
        return api_url
    if parts.scheme == "http" and _is_loopback(parts.hostname or ""):
        return api_url
    raise UsageError(f"GitHub API URL {shown!r} must use https (check GITHUB_API_URL), e.g. {DEFAULT_API_URL}")


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int | None, bool] | None:
    """(scheme, host, port, has user info) of ``url``; None when it does not parse."""
    try:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        return scheme, parts.hostname or "", parts.port or _DEFAULT_PORTS.get(scheme), "@" in parts.netloc
    except ValueError:
        return None


def _shown_origin(url: str) -> str:
    """scheme://host[:port] of ``url`` for a message (never its user info, path or query)."""
    origin = _origin(url)
    if origin is None or not origin[1]:
        return "an address that is not a URL"
    scheme, host, port, _ = origin
    return f"{scheme}://{host}" + ("" if port == _DEFAULT_PORTS.get(scheme) else f":{port}")


def _read_at_most(answer: Any, limit: int, deadline: float) -> tuple[bytes, str | None]:
    """The body of ``answer``, chunk by chunk, and why it was cut (beyond ``limit`` bytes, or ``deadline``), if it was."""
    declared = answer.headers.get("Content-Length") or ""
    too_large = f"is larger than {limit // 1024:,} KB"
    if declared.isdigit() and int(declared) > limit:
        return b"", too_large
    chunks, size = [], 0
    while chunk := answer.read1(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), too_large
        if time.monotonic() > deadline:
            return b"".join(chunks), "was still arriving at its deadline"
        chunks.append(chunk)
    return b"".join(chunks), None


def _repo_path(repo: GitHubRepo) -> str:
    return f"/repos/{urllib.parse.quote(repo.owner, safe='')}/{urllib.parse.quote(repo.name, safe='')}"


def _quote_branch(branch: str) -> str:
    # Slashes stay (GitHub reads exp/s/t as one ref); '+', '#', '?', '%' and spaces must not.
    return urllib.parse.quote(branch, safe="/")


def _next_page_url(link_header: str | None) -> str | None:
    for entry in _LINK_ENTRY.finditer(link_header or ""):
        if "next" in entry["rel"].split():
            return entry["url"]
    return None


def _json_object_or_empty(raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _validation_details(answer: Mapping[str, Any]) -> list[str]:
    """GitHub's 422 reasons: each error's message, else 'Resource.field code'."""
    details = []
    for error in answer.get("errors") or []:
        if isinstance(error, str):
            details.append(error)
        elif isinstance(error, dict):
            described = f"{error.get('resource', '')}.{error.get('field', '')} {error.get('code', '')}".strip(". ")
            details.append(error.get("message") or described)
    return details or [str(answer.get("message") or "validation failed")]


def _says_already_exists(exc: GitHubValidationError) -> bool:
    return any("already exists" in detail.lower() for detail in exc.details)
