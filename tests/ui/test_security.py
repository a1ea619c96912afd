"""gitexp ui refuses what another site or another local user's page could send, and serves nothing but its own files."""

from __future__ import annotations

import json

import pytest

from gitexp.store.records import Ledger
from tests.conftest import fresh_copy
from tests.ui.conftest import serving

QUEUE = json.dumps({"sets": {"train.lr": "[0.2, 0.3]"}, "name": "sneaky", "action": "queue"}).encode()


@pytest.fixture(scope="module")
def project(template_project, tmp_path_factory):
    """One project for the module, served once: each test checks that what it sent changed nothing."""
    return fresh_copy(template_project, tmp_path_factory.mktemp("ui-security"))


@pytest.fixture(scope="module")
def served(project):
    with serving(project.root) as found:
        yield found


def test_the_printed_url_trades_its_token_for_a_strict_http_only_cookie(served):
    import http.client

    connection = http.client.HTTPConnection(served.base.removeprefix("http://"), timeout=30)
    connection.request("GET", f"/?token={served.token}")
    answer = connection.getresponse()
    assert answer.status == 303 and answer.getheader("Location") == "/"
    cookie = answer.getheader("Set-Cookie")
    assert f"gitexp_ui_token={served.token}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_a_state_changing_request_without_the_token_is_refused_and_writes_nothing(project, served, repo_state):
    before = repo_state(project)
    assert served.request("/api/queue", "POST", QUEUE, token=False)[0] == 403
    wrong = {"Cookie": "gitexp_ui_token=guessed", "X-Gitexp-Token": "guessed"}
    assert served.request("/api/queue", "POST", QUEUE, headers=wrong, token=False)[0] == 403
    assert served.request("/api/experiments", token=False)[0] == 403
    assert repo_state(project) == before


@pytest.mark.parametrize("headers", [
    {"Host": "evil.example:8080"},
    {"Host": "attacker.example"},  # DNS rebinding: the attacker's name resolving to 127.0.0.1
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
])
def test_a_foreign_host_or_origin_is_refused_even_with_the_token(project, served, repo_state, headers):
    before = repo_state(project)
    status, body = served.request("/api/queue", "POST", QUEUE, headers=headers)
    assert status == 403, body
    assert served.request("/api/experiments", headers=headers)[0] == 403
    assert repo_state(project) == before


def test_the_served_origin_with_the_token_queues_through_the_cli_checks(project, served):
    own = {"Origin": served.base}
    status, body = served.request("/api/queue", "POST", QUEUE, headers=own)
    assert status == 200, body
    assert json.loads(body)["branches"] == ["exp/sneaky/t001", "exp/sneaky/t002"]
    assert project.rev_parse("exp/sneaky/t002") is not None
    bad = json.dumps({"sets": {"train.lr": "logspace(1,"}, "name": "bad"}).encode()
    status, body = served.request("/api/queue", "POST", bad, headers=own)
    assert status == 400 and ">>>" in json.loads(body)["error"]
    assert [sweep.name for sweep in Ledger(project).sweeps()] == ["sneaky"]


@pytest.mark.parametrize("path", [
    "/static/../../../../etc/passwd",
    "/static/%2e%2e/server.py",
    "/static/..%2f..%2fstore%2fgit.py",
    "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f.git/config",
    "/.git/config",
    "/static//etc/passwd",
])
def test_nothing_outside_the_page_files_is_served(served, path):
    import http.client

    connection = http.client.HTTPConnection(served.base.removeprefix("http://"), timeout=30)
    connection.request("GET", path, headers={"Cookie": f"gitexp_ui_token={served.token}"})
    answer = connection.getresponse()
    assert answer.status == 404, (path, answer.read()[:200])


def test_a_trial_name_that_leaves_the_logs_folder_is_refused(served):
    status, body = served.request("/api/trial?id=" + "../../../../etc/passwd")
    assert status == 400 and "root:" not in body.decode()


@pytest.mark.parametrize(("path", "error"), [
    ("/api/plots?ids=../../../../etc/passwd", "no trial named '../../../../etc/passwd': gitexp show lists the trials as SWEEP/TRIAL"),
    ("/api/plots?ids=" + ",".join(f"s/t{n:03}" for n in range(21)), "21 trials selected: plots overlay at most 20, unselect some"),
    ("/api/sweep-plots?sweep=../../etc", "no sweep named '../../etc' (sweeps: "),  # the sweeps other tests queued follow
])
def test_the_plots_refuse_names_that_are_no_trial_or_sweep_and_more_than_twenty_trials(served, path, error):
    status, body = served.request(path)
    assert status == 400 and json.loads(body)["error"].startswith(error)


def test_the_plots_need_the_token(served):
    assert served.request("/api/plots?ids=", token=False)[0] == 403


def test_another_address_than_loopback_is_served_with_a_warning_and_its_own_host_header(project, ui_server):
    served = ui_server(project.root, "--host", "0.0.0.0")
    assert "anyone who can reach it" in served.process.stderr.readline()
    port = served.base.rsplit(":", 1)[1]
    assert served.request("/api/experiments", headers={"Host": f"127.0.0.1:{port}"})[0] == 200
    assert served.request("/api/experiments", headers={"Host": f"evil.example:{port}"})[0] == 403
