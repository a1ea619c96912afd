"""The HTTP under the REST client, with its bounds: one token, sent only to the API's own origin.

The token travels only in the Authorization header, only to the API root the
client was given, and never further: a redirect or a next-page link to another
origin is refused before anything is sent there. It is never part of a message,
a repr or a log line, in whatever form a server echoes it. Every answer is
bounded: in time, in size and in pages; error statuses become gitexp's
exceptions with GitHub's own reason, redacted and cut.

Separate from ``client``, which holds the REST operations (pull requests,
comments, workflow runs) and reads only decoded answers through here.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Iterator, Mapping, NamedTuple

from gitexp import __version__
from gitexp.errors import GitexpError, NotFoundError, UsageError
from gitexp.github.repository import DEFAULT_API_URL
from gitexp.store.redaction import Redactor, without_credentials

log = logging.getLogger("gitexp.github.client")  # the name logging is configured by: the client's, as before the split

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

_LINK_ENTRY = re.compile(r'<(?P<url>[^>]*)>\s*;\s*rel="(?P<rel>[^"]*)"')
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HEADER_SAFE_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: anything else makes http.client quote the token

TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")  # in this order of preference
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


class _Response(NamedTuple):
    data: Any
    next_url: str | None


class RestTransport:
    """An API root and the token for it; every request goes through ``_request``."""

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

    def _fields(self, data: Any, what: str, **kinds: type) -> list[Any]:
        """The named fields of an answer, each of its kind; text redacted, as anything a server says that gitexp shows."""
        values = [data.get(name) if isinstance(data, dict) else None for name in kinds]
        if not all(isinstance(value, kind) and not isinstance(value, bool) for value, kind in zip(values, kinds.values())):
            raise self._error(GitHubError, f"GitHub's answer is not {what} (it lacks {', '.join(kinds)}): not used")
        return [self._server_text(value) if isinstance(value, str) else value for value in values]

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
