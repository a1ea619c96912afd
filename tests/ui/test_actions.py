"""The run form's buttons through the API: Queue and run here starts gitexp run; Queue and push pushes the sweep."""

from __future__ import annotations

import json
import time

from gitexp.store.records import Ledger


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
