"""gitexp.github.client against a local, GitHub-like REST server that checks every request."""

from __future__ import annotations

import json
import logging
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from gitexp.errors import GitexpError, NotFoundError, UsageError
from gitexp.github.client import Comment, GitHubClient, PullRequest
from gitexp.github.repository import GitHubRepo
from gitexp.github.transport import MAX_PAGES, MAX_REDIRECTS, GitHubAuthError, GitHubError, GitHubValidationError
from tests.fake_github import DOCS, TOKEN, Failure, FakeGitHub, serve, shows_token, token_echoes

REPO = GitHubRepo("octo", "lab")


@pytest.fixture
def client(github: FakeGitHub) -> GitHubClient:
    return GitHubClient(TOKEN, api_url=github.url + "/", timeout=2)


# -- pull requests -----------------------------------------------------------------


def test_create_pull_request_sends_exactly_githubs_fields(github: FakeGitHub, client: GitHubClient):
    pull = client.create_pull_request(REPO, "exp/s/t-1", "main", "Trial t-1", "## Report\n", draft=True)

    html_url = "https://github.com/octo/lab/pull/1"
    assert pull == PullRequest(1, f"{github.url}/repos/octo/lab/pulls/1", html_url, created=True)
    [request] = github.requests
    assert (request.method, request.path) == ("POST", "/repos/octo/lab/pulls")
    assert request.payload == {
        "title": "Trial t-1", "head": "exp/s/t-1", "base": "main", "body": "## Report\n", "draft": True
    }  # fmt: skip
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_create_pull_request_when_one_exists_updates_and_returns_it(github: FakeGitHub, client: GitHubClient):
    client.create_pull_request(REPO, "exp/s/t-1", "main", "Trial t-1", "old report")

    again = client.create_pull_request(REPO, "exp/s/t-1", "main", "Trial t-1", "new report")

    assert (again.number, again.created) == (1, False)
    assert [(r.method, r.path) for r in github.requests[1:]] == [
        ("POST", "/repos/octo/lab/pulls"),  # 422: already exists
        ("GET", "/repos/octo/lab/pulls"),
        ("PATCH", "/repos/octo/lab/pulls/1"),
    ]
    lookup = github.requests[2].query
    assert lookup == {"head": ["octo:exp/s/t-1"], "base": ["main"], "state": ["open"], "per_page": ["100"]}
    assert github.requests[3].payload == {"body": "new report"}
    assert github.pulls[0]["body"] == "new report"


def test_other_validation_errors_carry_githubs_message(github: FakeGitHub, client: GitHubClient):
    error = {"resource": "PullRequest", "field": "base", "code": "invalid"}
    github.failures.append(Failure(422, json.dumps({"message": "Validation Failed", "errors": [error]}).encode()))

    with pytest.raises(GitHubValidationError) as caught:
        client.create_pull_request(REPO, "exp/s/t-1", "nope", "T", "B")

    assert str(caught.value) == (
        "GitHub refused POST /repos/octo/lab/pulls (422 Validation Failed: PullRequest.base invalid)"
    )
    assert caught.value.details == ("PullRequest.base invalid",)


def test_find_pull_request(github: FakeGitHub, client: GitHubClient):
    client.create_pull_request(REPO, "exp/s/t-1", "main", "T1", "B")
    client.create_pull_request(REPO, "exp/s/t-2", "main", "T2", "B")

    found = client.find_pull_request(REPO, "exp/s/t-2")

    assert found == PullRequest(2, f"{github.url}/repos/octo/lab/pulls/2", "https://github.com/octo/lab/pull/2")
    assert github.requests[-1].query == {"head": ["octo:exp/s/t-2"], "state": ["open"], "per_page": ["100"]}
    assert client.find_pull_request(REPO, "exp/s/none") is None


# -- comments ----------------------------------------------------------------------


def test_upsert_comment_creates_then_updates_the_same_comment(github: FakeGitHub, client: GitHubClient):
    first = client.upsert_comment(REPO, 7, "sweep/lr", "3 trials")
    second = client.upsert_comment(REPO, 7, "sweep/lr", "5 trials")

    assert first.created and not second.created
    assert first.id == second.id and first.html_url == second.html_url
    assert [c["body"] for c in github.comments[7]] == ["<!-- gitexp:sweep/lr -->\n5 trials"]
    assert [(r.method, r.path) for r in github.requests] == [
        ("GET", "/repos/octo/lab/issues/7/comments"),
        ("POST", "/repos/octo/lab/issues/7/comments"),
        ("GET", "/repos/octo/lab/issues/7/comments"),
        ("PATCH", f"/repos/octo/lab/issues/comments/{first.id}"),
    ]
    assert github.requests[-1].payload == {"body": "<!-- gitexp:sweep/lr -->\n5 trials"}


def test_upsert_comment_finds_its_comment_on_a_later_page(github: FakeGitHub, client: GitHubClient):
    github.page_size = 2
    for body in ("LGTM", "<!-- gitexp:sweep/lr-2 -->\nanother sweep", "nice"):
        github.create_comment(7, {"body": body})
    ours = github.create_comment(7, {"body": "<!-- gitexp:sweep/lr -->\nold"})[1]

    comment = client.upsert_comment(REPO, 7, "sweep/lr", "new")

    assert comment == Comment(ours["id"], ours["html_url"], created=False)
    pages = [r.query.get("page", ["1"]) for r in github.requests if r.method == "GET"]
    assert pages == [["1"], ["2"]]
    assert [c["body"] for c in github.comments[7]][1:] == [
        "<!-- gitexp:sweep/lr-2 -->\nanother sweep",  # a longer marker is another sweep's
        "nice",
        "<!-- gitexp:sweep/lr -->\nnew",
    ]


def test_upsert_comment_reads_every_page_before_creating(github: FakeGitHub, client: GitHubClient):
    github.page_size = 2
    for body in ("a", "b", "c"):
        github.create_comment(3, {"body": body})

    comment = client.upsert_comment(REPO, 3, "s", "report")

    assert comment.created
    assert [(r.method, r.query.get("page")) for r in github.requests] == [("GET", None), ("GET", ["2"]), ("POST", None)]


def test_upsert_comment_refuses_a_marker_that_breaks_the_html_comment(client: GitHubClient):
    with pytest.raises(UsageError, match="HTML comment"):
        client.upsert_comment(REPO, 1, "a-->b", "x")


def test_pagination_does_not_follow_a_link_to_another_origin(github: FakeGitHub, client: GitHubClient):
    elsewhere = github.url.replace("127.0.0.1", "localhost")  # same server, another origin
    link = f'<{elsewhere}/repos/octo/lab/issues/1/comments?page=2>; rel="next"'
    github.failures.append(Failure(200, b"[]", {"Link": link}))

    with pytest.raises(GitHubError, match="not followed"):
        client.upsert_comment(REPO, 1, "s", "x")
    assert len(github.requests) == 1


# -- errors ------------------------------------------------------------------------


def test_401_says_the_token_is_bad_and_which_scope_it_needs(github: FakeGitHub):
    client = GitHubClient("ghp_wrong", api_url=github.url, timeout=2)

    with pytest.raises(GitHubAuthError) as caught:
        client.find_pull_request(REPO, "exp/s/t")

    message = str(caught.value)
    assert message.startswith("GitHub rejected the token (401 Bad credentials)")
    assert "'repo' scope" in message and "\n" not in message
    assert caught.value.exit_code == 2


def test_403_names_the_missing_permission(github: FakeGitHub, client: GitHubClient):
    body = {"message": "Resource not accessible by integration", "documentation_url": DOCS, "status": "403"}
    github.failures.append(Failure(403, json.dumps(body).encode(), {"X-RateLimit-Remaining": "4999"}))

    with pytest.raises(GitHubAuthError, match=r"403 Resource not accessible by integration\): the token lacks"):
        client.upsert_comment(REPO, 1, "s", "x")


def test_403_rate_limit_is_not_a_token_problem(github: FakeGitHub, client: GitHubClient):
    body = {"message": "API rate limit exceeded for user ID 1.", "documentation_url": DOCS}
    github.failures.append(Failure(403, json.dumps(body).encode(), {"X-RateLimit-Remaining": "0"}))

    with pytest.raises(GitHubError, match="rate limit is exhausted") as caught:
        client.find_pull_request(REPO, "b")
    assert not isinstance(caught.value, GitHubAuthError)


def test_404_says_the_repository_or_pull_request_is_not_found(github: FakeGitHub, client: GitHubClient):
    with pytest.raises(NotFoundError) as caught:
        client.create_pull_request(GitHubRepo("octo", "missing"), "exp/s/t", "main", "T", "B")

    assert str(caught.value) == (
        "GitHub found nothing at POST /repos/octo/missing/pulls (404 Not Found): check that the repository "
        "and pull request exist and that the token can see them (private repositories need the 'repo' scope)"
    )


def _echoes_token(status: int) -> Failure:
    return Failure(status, json.dumps({"message": f"Bad token Bearer {TOKEN}", "errors": [f"token {TOKEN}"]}).encode())


@pytest.mark.parametrize(
    "failure",
    [
        _echoes_token(401),
        _echoes_token(403),
        _echoes_token(404),
        _echoes_token(422),
        _echoes_token(500),
        Failure(502, f"<html>upstream saw {TOKEN}</html>".encode()),
        Failure(200, f"not json {TOKEN}".encode()),
        Failure(200, b"[]", {"Link": f'<https://evil.example/{TOKEN}?page=2>; rel="next"'}),
        Failure(200, b"[]", delay=0.5),  # slower than the client's timeout
    ],
    ids=["401", "403", "404", "422", "500", "502-html", "not-json", "foreign-link", "timeout"],
)
def test_the_token_never_leaks(github: FakeGitHub, failure: Failure, caplog: pytest.LogCaptureFixture):
    client = GitHubClient(TOKEN, api_url=github.url, timeout=0.2)
    github.failures.append(failure)
    caplog.set_level(logging.DEBUG, logger="gitexp.github.client")

    with pytest.raises(GitexpError) as caught:
        client.upsert_comment(REPO, 1, "s", "x")

    for shown in (str(caught.value), repr(caught.value), repr(client), caplog.text):
        assert TOKEN not in shown
    assert "\n" not in str(caught.value)
    assert TOKEN not in repr(getattr(caught.value, "details", ()))


def test_unreachable_server_is_a_one_line_error_without_the_token():
    client = GitHubClient(TOKEN, api_url="http://127.0.0.1:9", timeout=0.5)  # discard port: nothing listens

    with pytest.raises(GitHubError, match="cannot reach GitHub at http://127.0.0.1:9") as caught:
        client.find_pull_request(REPO, "b")
    assert TOKEN not in str(caught.value) and TOKEN not in repr(client)


# -- hostile or broken servers: redirects, links, echoes, floods ----------------------

COMMENTS = "/repos/octo/lab/issues/1/comments"


@pytest.fixture
def elsewhere() -> Iterator[FakeGitHub]:
    """Another origin on this machine: a server that must never hear from a client of ``github``."""
    with serve() as other:
        yield other


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_refused_before_anything_goes_there(
    github: FakeGitHub, elsewhere: FakeGitHub, client: GitHubClient, status: int
):
    github.failures.append(Failure(status, b"", {"Location": f"{elsewhere.url}/repos/octo/lab/pulls"}))

    with pytest.raises(GitHubError) as caught:
        client.find_pull_request(REPO, "exp/s/t")

    assert str(caught.value) == f"GitHub sent a redirect to {elsewhere.url}, outside {github.url}: not followed"
    assert elsewhere.requests == []  # no token, no request, nothing
    assert len(github.requests) == 1


def test_a_redirect_on_the_api_origin_is_followed_with_the_token(github: FakeGitHub, client: GitHubClient):
    client.create_pull_request(REPO, "exp/s/t-1", "main", "T1", "B")
    moved = f"{github.url}/repos/octo/lab/pulls?head=octo%3Aexp%2Fs%2Ft-1&state=open&per_page=100"
    github.failures.append(Failure(301, b"", {"Location": moved}))  # a renamed repository, say

    found = client.find_pull_request(REPO, "exp/s/t-1")

    assert found is not None and found.number == 1
    followed = github.requests[-1]
    assert (followed.method, followed.query["head"]) == ("GET", ["octo:exp/s/t-1"])
    assert followed.headers["Authorization"] == f"Bearer {TOKEN}"


def test_redirects_on_the_api_origin_are_bounded(github: FakeGitHub, client: GitHubClient):
    github.failures += [Failure(302, b"", {"Location": f"{github.url}/hop/{n}"}) for n in range(50)]

    with pytest.raises(GitHubError, match="302"):
        client.find_pull_request(REPO, "b")
    assert len(github.requests) == 1 + MAX_REDIRECTS
    github.failures.clear()


def test_a_next_link_to_the_same_page_is_not_followed_again(github: FakeGitHub, client: GitHubClient):
    same = f'<{github.url}{COMMENTS}?per_page=100>; rel="next"'
    github.failures += [Failure(200, b"[]", {"Link": same}) for _ in range(20)]

    with pytest.raises(GitHubError) as caught:
        client.upsert_comment(REPO, 1, "s", "x")

    assert str(caught.value) == f"GitHub's list at GET {COMMENTS} links back to a page already read: not read further"
    assert len(github.requests) == 1
    github.failures.clear()


def test_next_links_in_a_circle_end_at_the_first_page_read_twice(github: FakeGitHub, client: GitHubClient):
    first, second = (f'<{github.url}{COMMENTS}?{query}>; rel="next"' for query in ("page=2", "per_page=100"))
    github.failures += [Failure(200, b"[]", {"Link": first}), Failure(200, b"[]", {"Link": second})]

    with pytest.raises(GitHubError, match="links back to a page already read"):
        client.upsert_comment(REPO, 1, "s", "x")
    assert len(github.requests) == 2


def test_endless_pages_stop_at_the_page_limit(github: FakeGitHub, client: GitHubClient):
    github.endless, github.page_size = True, 1
    started = time.monotonic()

    with pytest.raises(GitHubError, match=f"goes on past {MAX_PAGES} pages: not read further"):
        client.upsert_comment(REPO, 1, "s", "x")

    assert len(github.requests) == MAX_PAGES and not any(r.method == "POST" for r in github.requests)
    assert time.monotonic() - started < 10


def _flood(total: int, chunk: bytes = b" " * (1 << 20)) -> Iterator[bytes]:
    """``total`` bytes of JSON whitespace, made as they are sent (never held)."""
    yield b"["
    for _ in range(total // len(chunk)):
        yield chunk


HUGE = 400 * 1024 * 1024


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (lambda: Failure(200, _flood(HUGE)), "is larger than 10,240 KB: not read"),
        (lambda: Failure(200, _flood(HUGE), {"Content-Length": str(HUGE)}), "is larger than 10,240 KB: not read"),
        (lambda: Failure(500, _flood(HUGE)), "with 500 Internal Server Error"),
    ],
    ids=["streamed", "declared", "error-body"],
)
def test_a_huge_answer_is_refused_without_holding_it(github: FakeGitHub, client: GitHubClient, failure, message: str):
    github.failures.append(failure())
    started = time.monotonic()
    tracemalloc.start()
    try:
        with pytest.raises(GitHubError, match=message):
            client.find_pull_request(REPO, "b")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 40 * 1024 * 1024  # 10 MB read at most, and never twice over
    assert time.monotonic() - started < 10


def _trickle() -> Iterator[bytes]:
    while True:  # one byte at a time, each well within the socket timeout, for ever
        yield b" "
        time.sleep(0.05)


def test_a_trickling_answer_ends_at_its_deadline(github: FakeGitHub):
    client = GitHubClient(TOKEN, api_url=github.url, timeout=0.25)
    github.failures.append(Failure(200, _trickle()))
    started = time.monotonic()

    with pytest.raises(GitHubError, match="was still arriving at its deadline: not read"):
        client.find_pull_request(REPO, "b")
    assert time.monotonic() - started < 3


def _echoed(status: int, form: str) -> Failure:
    echo = token_echoes()[form]
    body = {"message": f"Bad token {echo}", "errors": [f"token {echo}", {"message": echo}]}
    return Failure(status, json.dumps(body).encode())


@pytest.mark.parametrize("form", sorted(token_echoes()))
@pytest.mark.parametrize("status", [401, 403, 404, 422, 500])
def test_the_token_never_leaks_in_any_form_a_server_echoes_it(
    github: FakeGitHub, caplog: pytest.LogCaptureFixture, status: int, form: str
):
    client = GitHubClient(TOKEN, api_url=github.url, timeout=2)
    github.failures.append(_echoed(status, form))
    caplog.set_level(logging.DEBUG, logger="gitexp.github.client")

    with pytest.raises(GitexpError) as caught:
        client.upsert_comment(REPO, 1, "s", "x")

    shown = [str(caught.value), repr(caught.value), repr(client), caplog.text, repr(getattr(caught.value, "details", ()))]
    assert not [text for text in shown if shows_token(text)]
    assert "\n" not in str(caught.value) and "\r" not in str(caught.value)


def test_a_next_link_carrying_the_token_is_not_shown(github: FakeGitHub, client: GitHubClient, caplog):
    caplog.set_level(logging.DEBUG, logger="gitexp.github.client")
    link = f'<{github.url}{COMMENTS}?access_token={TOKEN.lower()}&page=2>; rel="next"'
    github.failures += [Failure(200, b"[]", {"Link": link}), _echoed(500, "as-is")]

    with pytest.raises(GitHubError) as caught:
        client.upsert_comment(REPO, 1, "s", "x")

    assert len(github.requests) == 2 and github.requests[1].query["access_token"] == [TOKEN.lower()]
    assert "GET /repos/octo/lab/issues/1/comments?access_token=***&page=2" in str(caught.value)
    assert not shows_token(caplog.text) and not shows_token(str(caught.value))


def test_a_long_message_is_cut_after_it_is_redacted(github: FakeGitHub, client: GitHubClient):
    message = "x" * 290 + TOKEN  # cut first, and the token's first characters would show
    github.failures.append(Failure(500, json.dumps({"message": message}).encode()))

    with pytest.raises(GitHubError) as caught:
        client.find_pull_request(REPO, "b")
    assert not shows_token(str(caught.value), window=8)


def test_urls_in_an_answer_are_shown_without_the_token(github: FakeGitHub, client: GitHubClient):
    pull = {"number": 1, "url": f"{github.url}/p/1", "html_url": f"https://github.com/octo/lab/pull/1#{TOKEN.upper()}"}
    github.failures.append(Failure(201, json.dumps(pull).encode()))

    opened = client.create_pull_request(REPO, "exp/s/t", "main", "T", "B")

    assert opened.html_url == "https://github.com/octo/lab/pull/1#***" and not shows_token(repr(opened))


@pytest.mark.parametrize("answer", [b"[]", b'{"number": "1", "url": "u", "html_url": "h"}', b'{"number": true}', b"null"])
def test_an_answer_that_is_not_a_pull_request_is_one_line(github: FakeGitHub, client: GitHubClient, answer: bytes):
    github.failures.append(Failure(201, answer))

    with pytest.raises(GitHubError) as caught:
        client.create_pull_request(REPO, "exp/s/t", "main", "T", "B")
    assert str(caught.value) == "GitHub's answer is not a pull request (it lacks number, url, html_url): not used"


# -- where the token may go ----------------------------------------------------------

@pytest.mark.parametrize(
    ("host", "env"),
    [
        ("github.com.attacker.net", {}),
        ("github.com.attacker.net", {"GITHUB_SERVER_URL": "https://github.com"}),
        ("evil-github.com", {}),
        ("github.corp.com", {}),  # an Enterprise host, until the environment says so
        ("github.corp.com", {"GITHUB_SERVER_URL": "https://github.corp.com.attacker.net"}),
        ("octocorp.ghe.com", {}),
    ],
)
def test_the_token_goes_to_no_host_only_because_a_remote_names_it(host: str, env: dict[str, str]):
    repo = GitHubRepo("octo", "lab", host)

    with pytest.raises(UsageError) as caught:
        GitHubClient.from_environment({"GITHUB_TOKEN": TOKEN, **env}, repo)

    assert str(caught.value) == (
        f"the remote is on {host}, and gitexp sends a GitHub token only to github.com or to GITHUB_API_URL: "
        f"if {host} is your GitHub Enterprise server, set GITHUB_API_URL={repo.api_url}"
    )
    assert not shows_token(str(caught.value))


@pytest.mark.parametrize(
    ("host", "env", "api_url"),
    [
        ("github.com", {}, "https://api.github.com"),
        ("github.corp.com", {"GITHUB_SERVER_URL": "https://github.corp.com"}, "https://github.corp.com/api/v3"),
        ("octocorp.ghe.com", {"GITHUB_SERVER_URL": "https://octocorp.ghe.com"}, "https://api.octocorp.ghe.com"),
        ("github.com.attacker.net", {"GITHUB_API_URL": "https://api.github.com"}, "https://api.github.com"),
        ("anything.example", {"GITHUB_API_URL": "https://ghe.corp/api/v3"}, "https://ghe.corp/api/v3"),
    ],
)
def test_the_token_goes_to_github_or_to_the_configured_api(host: str, env: dict[str, str], api_url: str):
    client = GitHubClient.from_environment({"GITHUB_TOKEN": TOKEN, **env}, GitHubRepo("octo", "lab", host))

    assert client is not None and client.api_url == api_url


@pytest.mark.parametrize("api_url", [f"https://x:{TOKEN}@api.github.com", "https://api.github.com:notaport"])
def test_an_api_url_with_credentials_or_a_bad_port_is_refused_without_repeating_it(api_url: str):
    with pytest.raises(UsageError, match="GitHub API URL") as caught:
        GitHubClient(TOKEN, api_url=api_url)
    assert not shows_token(str(caught.value))


# -- the client from the environment -------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected_api_url"),
    [
        ({"GITHUB_TOKEN": "t1"}, "https://api.github.com"),
        ({"GH_TOKEN": "t2"}, "https://api.github.com"),
        ({"GITHUB_TOKEN": "t1", "GITHUB_API_URL": "https://ghe.corp/api/v3/"}, "https://ghe.corp/api/v3"),
    ],
)
def test_from_environment(env: dict[str, str], expected_api_url: str):
    client = GitHubClient.from_environment(env)

    assert client is not None and client.api_url == expected_api_url
    assert "t1" not in repr(client) and "t2" not in repr(client)


def test_from_environment_prefers_github_token_and_the_repos_api():
    env = {"GH_TOKEN": "gh", "GITHUB_TOKEN": "github", "GITHUB_SERVER_URL": "https://github.corp.com"}
    client = GitHubClient.from_environment(env, GitHubRepo("o", "r", "github.corp.com"))

    assert client is not None and client.api_url == "https://github.corp.com/api/v3"
    assert client._token == "github"


@pytest.mark.parametrize("env", [{}, {"GITHUB_TOKEN": ""}, {"GH_TOKEN": "  "}])
def test_from_environment_without_a_token_is_none(env: dict[str, str]):
    assert GitHubClient.from_environment(env) is None


@pytest.mark.parametrize("token", ["", "  ", "ghp_abc\nX-Evil: 1", "ghp_abc def"])
def test_a_token_unfit_for_a_header_is_refused_without_repeating_it(token: str):
    with pytest.raises(UsageError, match="empty or has spaces or control characters") as caught:
        GitHubClient(token)
    assert "ghp_abc" not in str(caught.value)


def test_the_token_is_never_sent_in_clear_to_another_machine():
    with pytest.raises(UsageError, match="must use https"):
        GitHubClient(TOKEN, api_url="http://api.github.com")
