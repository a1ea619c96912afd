"""The run form's buttons through the API and in the page: Queue and run here starts gitexp run, waits for
it (no zombie) and shows how it ended; Queue and push pushes the sweep; the commit message goes into the trials."""

from __future__ import annotations

import json
import time
from pathlib import Path

from gitexp.store.records import Ledger
from tests.ui.conftest import screenshot
from tests.ui.test_page import cell


def zombie_children(pid: int) -> list[int]:
    """The children of ``pid`` that ended and were never waited for (state Z in /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def queue(served, action: str, name: str) -> dict:
    body = json.dumps({"sets": {"train.lr": "[0.2, 0.3]"}, "name": name, "action": action, "jobs": 2}).encode()
    status, answer = served.request("/api/queue", "POST", body, headers={"Origin": served.base})
    assert status == 200, answer
    return json.loads(answer)


def test_queue_and_run_here_runs_the_sweep_in_the_background(project, ui_server):
    served = ui_server(project.root)
    assert queue(served, "run", "here")["branches"] == ["exp/here/t001", "exp/here/t002"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        states = [trial.status for trial in Ledger(project).trials(["here"])]
        if states == ["succeeded", "succeeded"]:
            break
        time.sleep(0.5)
    assert states == ["succeeded", "succeeded"]
    finished = time.monotonic()
    while True:  # the watcher sees the result commits within a poll or two
        table = json.loads(served.request("/api/experiments")[1])
        shown = {row["id"]: row["status"] for row in table["rows"] if row["kind"] == "trial"}
        if shown == {"here/t001": "succeeded", "here/t002": "succeeded"} or time.monotonic() - finished > 2:
            break
        time.sleep(0.1)
    assert shown == {"here/t001": "succeeded", "here/t002": "succeeded"}
    while time.monotonic() - finished < 10:  # the run's process ends a moment after its last result commit
        runs = json.loads(served.request("/api/experiments")[1])["runs"]
        if runs[0]["state"] != "running":
            break
        time.sleep(0.1)
    assert runs == [{"sweep": "here", "pid": runs[0]["pid"], "state": "finished", "exit_code": 0, "line": ""}]
    assert zombie_children(served.process.pid) == []


def test_the_form_s_queue_and_run_here_shows_how_the_run_ended_and_its_trials_carry_the_message(reviewed_project, ui_server, open_page):
    served = ui_server(reviewed_project.root)
    page = open_page(served)
    page.goto(page.url.split("#")[0] + "#run")
    page.wait_for_selector("body[data-form='1']")
    page.fill("input[data-key='train.lr']", "[0.2, 0.5]")  # lr 0.5 diverges: gitexp run ends with status 1
    page.fill("#run-name", "here")
    page.fill("#run-message", "Look past lr 0.1")
    page.fill("#run-jobs", "2")
    page.click("button[data-action=run]")
    page.wait_for_selector("body[data-queued='here']")
    page.goto(page.url.split("#")[0] + "#table")
    page.wait_for_selector("#runs .run[data-sweep=here][data-state=failed]", timeout=90_000)
    assert "gitexp run here" in page.text_content("#runs") and "failed (exit status 1)" in page.text_content("#runs")
    assert page.text_content("#runs .run code").strip()  # the run's last line, as text
    page.wait_for_function("() => document.querySelector(\"tr[data-id='here/t001'] td[data-column=status]\").textContent === 'succeeded'")
    assert cell(page, "here/t002", "status") == "failed" and float(cell(page, "here/t001", "m:score")) > 0
    assert zombie_children(served.process.pid) == []
    for trial in ("t001", "t002"):
        assert reviewed_project.run("log", "-1", "--format=%s", f"exp/here/{trial}^").strip() == "Look past lr 0.1"
    screenshot(page, "run-here-ended")


def test_queue_and_push_leaves_the_trials_on_the_remote(project, bare_remote, ui_server):
    project.run("remote", "add", "origin", str(bare_remote))
    served = ui_server(project.root)
    found = queue(served, "push", "shared")
    assert found["pushed"] and any("origin" in line for line in found["pushed"])
    remote_refs = project.run("ls-remote", str(bare_remote))
    assert "refs/heads/exp/shared/t001" in remote_refs and "refs/gitexp/sweeps/shared" in remote_refs


def test_an_unknown_key_in_the_form_is_the_cli_message_beside_its_field_and_queues_nothing(project, ui_server):
    served = ui_server(project.root)
    body = json.dumps({"sets": {"train.nope": "1", "train.lr": "[0.1, 0.2]"}}).encode()
    checked = json.loads(served.request("/api/check", "POST", body, headers={"Origin": served.base})[1])
    assert "params.yaml has no key 'train.nope'" in checked["fields"]["train.nope"] and checked["fields"]["train.lr"] is None
    status, answer = served.request("/api/queue", "POST", body, headers={"Origin": served.base})
    assert status == 400 and "train.nope" in json.loads(answer)["error"]
    assert Ledger(project).sweeps() == []
