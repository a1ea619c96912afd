"""A local, GitHub-like REST server that checks every request (used through the ``github`` fixture).

``FakeGitHub`` answers just enough of GitHub's REST API (pulls and issue comments
of octo/lab) and collects in ``problems`` what a request got wrong; ``serve``
runs it on 127.0.0.1 for the length of a ``with`` block. It can also misbehave
as a hostile or broken server would: canned ``failures`` (redirects, links,
token echoes, bodies streamed from a generator without end) and ``endless`` pages.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gitexp import __version__

TOKEN = "ghp_TESTtoken0123456789abcdefABCDEF"
DOCS = "https://docs.github.com/rest"

Answer = tuple[int, Any, dict[str, str]]  # status, JSON (or raw bytes, or an iterator of byte chunks), headers


# -- a GitHub-like server -------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    payload: Any


@dataclass
class Failure:
    """A canned answer for the next request, whatever it is.

    ``body`` may be an iterator of chunks (a generator): streamed as it comes, without a
    Content-Length (unless ``headers`` claims one), so a test can send 400 MB
    without holding them.
    """

    status: int
    body: bytes | Iterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeGitHub:
    """Just enough of GitHub's REST API: pulls and issue comments of the repositories in ``repos``.

    Every request is checked (headers, JSON body, known route); what is wrong is
    collected in ``problems``, which the fixture requires to be empty at the end.
    """

    def __init__(self) -> None:
        self.repos = {("octo", "lab")}
        self.pulls: list[dict[str, Any]] = []
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[Recorded] = []
        self.dispatches: list[dict[str, Any]] = []  # workflow_dispatch requests: workflow, ref, inputs
        self.branches = {"main"}  # the branches a dispatch may start on
        self.problems: list[str] = []
        self.failures: list[Failure] = []
        self.page_size = 100  # lower it to make GitHub paginate
        self.endless = False  # every page links to a next one, for ever
        self.next_id = 1000
        self.url = ""

    # answers, shaped like GitHub's

    def handle(self, handler: http.server.BaseHTTPRequestHandler) -> Answer:
        recorded = self.record(handler)
        if self.failures:
            failure = self.failures.pop(0)
            time.sleep(failure.delay)
            return failure.status, failure.body, failure.headers
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}, {}
        parts = recorded.path.strip("/").split("/")
        if parts[:1] != ["repos"] or tuple(parts[1:3]) not in self.repos:
            return self.not_found()
        return self.route(recorded, parts[3:])

    def route(self, request: Recorded, rest: list[str]) -> Answer:
        match request.method, rest:
            case "POST", ["pulls"]:
                return self.create_pull(request.payload)
            case "GET", ["pulls"]:
                return self.list_pulls(request)
            case "PATCH", ["pulls", number]:
                return self.update(self.pulls, "number", int(number), request.payload, {"body", "state"})
            case "POST", ["actions", "workflows", workflow, "dispatches"]:
                return self.dispatch(workflow, request.payload)
            case "GET", ["issues", number, "comments"]:
                return self.page(request, self.comments.get(int(number), []))
            case "POST", ["issues", number, "comments"]:
                return self.create_comment(int(number), request.payload)
            case "PATCH", ["issues", "comments", comment_id]:
                all_comments = [comment for comments in self.comments.values() for comment in comments]
                return self.update(all_comments, "id", int(comment_id), request.payload)
        self.problems.append(f"no such route: {request.method} {request.path}")
        return self.not_found()

    def create_pull(self, payload: dict[str, Any]) -> Answer:
        self.expect_keys(payload, {"title", "head", "base", "body", "draft"})
        branches = (payload["head"], payload["base"])
        if any((pull["head"]["ref"], pull["base"]["ref"]) == branches for pull in self.pulls):
            message = f"A pull request already exists for octo:{payload['head']}."
            error = {"resource": "PullRequest", "code": "custom", "message": message}
            return 422, {"message": "Validation Failed", "errors": [error], "documentation_url": DOCS}, {}
        number = len(self.pulls) + 1
        pull = {
            "number": number,
            "url": f"{self.url}/repos/octo/lab/pulls/{number}",
            "html_url": f"https://github.com/octo/lab/pull/{number}",
            "state": "open",
            "title": payload["title"],
            "body": payload["body"],
            "draft": payload["draft"],
            "head": {"ref": payload["head"], "label": f"octo:{payload['head']}"},
            "base": {"ref": payload["base"], "label": f"octo:{payload['base']}"},
        }
        self.pulls.append(pull)
        return 201, pull, {}

    def list_pulls(self, request: Recorded) -> Answer:
        query = {key: values[0] for key, values in request.query.items()}
        matching = [
            pull
            for pull in self.pulls
            if pull["head"]["label"] == query.get("head", pull["head"]["label"])
            and pull["base"]["ref"] == query.get("base", pull["base"]["ref"])
            and pull["state"] == query.get("state", "open")
        ]
        return self.page(request, matching)

    def create_comment(self, issue: int, payload: dict[str, Any]) -> Answer:
        self.expect_keys(payload, {"body"})
        self.next_id += 1
        comment = {
            "id": self.next_id,
            "html_url": f"https://github.com/octo/lab/pull/{issue}#issuecomment-{self.next_id}",
            "body": payload["body"],
            "user": {"login": "gitexp-bot"},
        }
        self.comments.setdefault(issue, []).append(comment)
        return 201, comment, {}

    def dispatch(self, workflow: str, payload: dict[str, Any]) -> Answer:
        """Like GitHub: 204 without a body; 422 for a ref that is no branch here or inputs not of strings."""
        self.expect_keys(payload, {"ref", "inputs"})
        inputs = payload.get("inputs")
        if payload.get("ref") not in self.branches or not all(isinstance(v, str) for v in (inputs or {}).values()):
            return 422, {"message": f"No ref found for: {payload.get('ref')}", "documentation_url": DOCS}, {}
        self.dispatches.append({"workflow": workflow, **payload})
        return 204, b"", {}

    def update(
        self, items: list[dict[str, Any]], key: str, value: int, payload: dict[str, Any], allowed: set[str] = frozenset({"body"})
    ) -> Answer:
        if not payload or not set(payload) <= allowed or len(payload) != 1:
            self.problems.append(f"body keys {sorted(payload)}: one of {sorted(allowed)}")
        for item in items:
            if item[key] == value:
                item.update(payload)
                return 200, item, {}
        return self.not_found()

    def page(self, request: Recorded, items: list[Any]) -> Answer:
        """One page of ``items`` and, like GitHub, a Link header to the next and last ones."""
        per_page = min(int(request.query.get("per_page", ["30"])[0]), self.page_size)
        page = int(request.query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("next", page + 1), ("last", last)):
            if page < last or (self.endless and rel == "next"):
                query = urllib.parse.urlencode({**{k: v[0] for k, v in request.query.items()}, "page": number})
                links.append(f'<{self.url}{request.path}?{query}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, items[(page - 1) * per_page : page * per_page], headers

    def not_found(self) -> Answer:
        return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, {}

    # checks

    def record(self, handler: http.server.BaseHTTPRequestHandler) -> Recorded:
        url = urllib.parse.urlsplit(handler.path)
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        payload = self.check(handler, raw)
        recorded = Recorded(handler.command, url.path, urllib.parse.parse_qs(url.query), dict(handler.headers), payload)
        self.requests.append(recorded)
        return recorded

    def check(self, handler: http.server.BaseHTTPRequestHandler, raw: bytes) -> Any:
        """The headers GitHub asks every client for, and a JSON object as the body of writes."""
        expected = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": f"gitexp/{__version__}",
        }
        for name, value in expected.items():
            if handler.headers.get(name) != value:
                self.problems.append(f"{handler.command} {handler.path}: {name} is {handler.headers.get(name)!r}")
        if not (handler.headers.get("Authorization") or "").startswith("Bearer "):
            self.problems.append(f"{handler.command} {handler.path}: no Bearer Authorization")
        if handler.command == "GET":
            if raw:
                self.problems.append(f"GET {handler.path} has a body")
            return None
        if not (handler.headers.get("Content-Type") or "").startswith("application/json"):
            content_type = handler.headers.get("Content-Type")
            self.problems.append(f"{handler.command} {handler.path}: Content-Type {content_type!r}")
        try:
            payload = json.loads(raw)
        except ValueError:
            self.problems.append(f"{handler.command} {handler.path}: body is not JSON: {raw[:80]!r}")
            return {}
        if not isinstance(payload, dict):
            self.problems.append(f"{handler.command} {handler.path}: body is not a JSON object")
        return payload

    def expect_keys(self, payload: dict[str, Any], keys: set[str]) -> None:
        if set(payload) != keys:
            self.problems.append(f"body keys {sorted(payload)} instead of {sorted(keys)}")


def _handler_for(fake: FakeGitHub) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            status, body, headers = fake.handle(self)
            if not isinstance(body, (bytes, Iterator)):
                body = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            if isinstance(body, bytes) and "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                for chunk in [body] if isinstance(body, bytes) else body:
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (waiting, or reading more than it takes)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = answer

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
            pass

    return Handler


@contextmanager
def serve() -> Iterator[FakeGitHub]:
    """A ``FakeGitHub`` listening on 127.0.0.1 (its ``url``) until the block ends."""
    fake = FakeGitHub()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# -- looking for a leaked token ---------------------------------------------------


def shows_token(text: str, token: str = TOKEN, window: int = 16) -> bool:
    """Whether ``text`` holds ``token``, or any ``window`` characters of it, in any form a server could echo it:
    any letter case, split by whitespace or line breaks, percent-, plus- or JSON-escaped."""
    plain = re.sub(r"\\u([0-9a-fA-F]{4})", lambda match: chr(int(match[1], 16)), urllib.parse.unquote_plus(text))
    plain = re.sub(r"\\[nrt]|\s", "", plain).lower()
    token = token.lower()
    return any(token[start : start + window] in plain for start in range(max(1, len(token) - window + 1)))


def token_echoes(token: str = TOKEN) -> dict[str, str]:
    """The token as a server might send it back in an error's text."""
    return {
        "as-is": token,
        "lower": token.lower(),
        "upper": token.upper(),
        "split-by-newline": token[:12] + "\n" + token[12:],
        "split-by-crlf-and-spaces": token[:5] + "\r\n  " + token[5:20] + " " + token[20:],
        "percent-encoded": "".join(f"%{ord(ch):02X}" for ch in token),
        "partly-percent-encoded": "".join(f"%{ord(ch):02x}" if i % 3 else ch for i, ch in enumerate(token)),
        "json-unicode-escaped": "".join(f"\\u{ord(ch):04x}" for ch in token),
        "in-a-url": f"https://x-access-token:{token}@github.com/octo/lab.git",
        "lower-in-a-query": f"https://api.github.com/repos?access_token={token.lower()}",
    }
