"""status --json (its schema), status --watch and show --watch against real runs in another process."""

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from gitexp.store.layout import trial_lock_path
from gitexp.store.locks import TrialLock

SCHEMA = json.loads((Path(__file__).parent / "status.schema.json").read_text())


@pytest.fixture
def slow_project(project):
    """The project with a ``train.sleep`` param, so a trial can take its time."""
    params = project.root / "params.yaml"
    params.write_text(params.read_text().replace("fail: false", "fail: false\n  sleep: 0"))
    project.run("commit", "-qam", "sleep param")
    return project


def start_run(cwd: Path, *names: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gitexp", "run", *names],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def status_json(run_gitexp, cwd: Path) -> dict:
    result = run_gitexp(cwd, "status", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    jsonschema.validate(data, SCHEMA)
    return data


def claimed(status: dict, name: str) -> list[dict]:
    """The running trials of sweep ``name``, once each has its claim's heartbeat; [] until then."""
    running = {sweep["name"]: sweep for sweep in status["sweeps"]}[name]["running"]
    return running if all(trial["heartbeat_age"] is not None for trial in running) else []


def test_status_json_of_a_finished_a_queued_and_a_running_sweep(slow_project, run_gitexp):
    root = slow_project.root
    assert run_gitexp(root, "queue", "--name", "done", "--set", "train.lr=[0.05, 0.1]").code == 0
    assert run_gitexp(root, "run", "done").code == 0
    assert run_gitexp(root, "queue", "--name", "later", "--set", "train.lr=0.3").code == 0
    assert run_gitexp(root, "queue", "--name", "slow", "--set", "train.sleep=3").code == 0
    data = status_json(run_gitexp, root)
    by_name = {sweep["name"]: sweep for sweep in data["sweeps"]}
    assert by_name["done"]["counts"]["succeeded"] == 2 and by_name["done"]["budget"] == 2
    assert by_name["later"]["counts"]["queued"] == 1 and by_name["later"]["running"] == []
    assert data["totals"] == {
        "sweeps": 3,
        "trials": 4,
        "counts": {"queued": 2, "running": 0, "succeeded": 2, "pruned": 0, "failed": 0, "cancelled": 0},
    }
    run = start_run(root, "slow")
    try:
        deadline = time.monotonic() + 30
        # Running from its flock on; its claim (the heartbeat) is written a moment later: wait for both.
        while not (running := claimed(status_json(run_gitexp, root), "slow")):
            assert run.poll() is None and time.monotonic() < deadline, "the slow trial never showed as running and claimed"
            time.sleep(0.1)
    finally:
        assert run.wait(60) == 0, run.stderr.read()
    [trial] = running
    assert trial["trial"] == "slow/t001" and trial["where"] == "local" and trial["pid"] == run.pid
    assert trial["worker"] == f"local-{trial['host']}-{run.pid}" and trial["remote"] is None
    assert 0 <= trial["heartbeat_age"] < 30
    assert status_json(run_gitexp, root)["totals"]["counts"]["succeeded"] == 3


def test_status_json_names_the_worker_of_a_trial_locked_but_not_claimed_yet(project, run_gitexp):
    """A run takes a trial's flock before it writes the trial's claim: in between, the lock names the worker."""
    assert run_gitexp(project.root, "queue", "--name", "s", "--set", "train.lr=0.3").code == 0
    lock = TrialLock(trial_lock_path(project.common_dir(), "s", "t001"), worker="local-box-42")
    assert lock.acquire(project.root / "slot")
    try:
        [trial] = {s["name"]: s for s in status_json(run_gitexp, project.root)["sweeps"]}["s"]["running"]
    finally:
        lock.release()
    assert trial["trial"] == "s/t001" and trial["where"] == "local" and trial["pid"] == os.getpid()
    assert trial["worker"] == "local-box-42" and trial["host"] == socket.gethostname() and trial["heartbeat_age"] is None


def blocks(out: str) -> list[str]:
    return [block for block in out.split("\n\n") if block.strip()]


def test_status_watch_prints_a_block_per_interval_until_the_sweep_ends(slow_project, run_gitexp):
    root = slow_project.root
    assert run_gitexp(root, "queue", "--name", "w", "--set", "train.sleep=[1, 1.5]").code == 0
    assert run_gitexp(root, "queue", "--name", "other", "--set", "train.lr=0.3").code == 0  # not watched: stays queued
    run = start_run(root, "w")
    result = run_gitexp(root, "status", "w", "--watch", "--interval", "0.5")
    assert run.wait(60) == 0, run.stderr.read()
    assert result.code == 0, result.err
    shown = blocks(result.out)
    assert len(shown) >= 3 and all(block.startswith("w  grid  2 trials: ") for block in shown)
    assert any("running here by local-" in block for block in shown)
    assert shown[-1] == "w  grid  2 trials: 2 succeeded"
    done = [int(m.group(1)) if (m := re.search(r"(\d) succeeded", block)) else 0 for block in shown]
    assert done == sorted(done) and "other" not in result.out


def test_show_watch_redraws_the_table_until_the_sweep_ends(slow_project, run_gitexp):
    root = slow_project.root
    assert run_gitexp(root, "queue", "--name", "w", "--set", "train.sleep=[1, 1.5]").code == 0
    run = start_run(root, "w")
    result = run_gitexp(root, "show", "w", "--watch", "--interval", "0.5")
    assert run.wait(60) == 0, run.stderr.read()
    assert result.code == 0, result.err
    tables = blocks(result.out)
    assert len(tables) >= 3 and all("w/t001" in table and "w/t002" in table for table in tables)
    assert any("running" in table for table in tables)
    assert tables[-1].count("succeeded") == 2 and "queued" not in tables[-1] and "running" not in tables[-1]


def test_status_json_names_the_remote_and_worker_of_a_trial_run_elsewhere(slow_project, bare_remote, tmp_path, run_gitexp):
    root = slow_project.root
    slow_project.run("remote", "add", "origin", str(bare_remote))
    slow_project.run("push", "-q", "origin", "main")
    assert run_gitexp(root, "queue", "--name", "r", "--set", "train.sleep=4").code == 0
    assert run_gitexp(root, "push", "origin", "r").code == 0
    elsewhere = tmp_path / "elsewhere"
    slow_project.run("clone", "-q", str(bare_remote), str(elsewhere))
    worker = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "worker", "--remote", "origin", "--worker-id", "box-7"],
        cwd=elsewhere, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert run_gitexp(root, "pull", "origin").code == 0
            [sweep] = status_json(run_gitexp, root)["sweeps"]
            if sweep["running"] or worker.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        assert worker.wait(60) == 0, worker.stderr.read()
    [trial] = sweep["running"]
    assert trial["trial"] == "r/t001" and trial["where"] == "remote" and trial["remote"] == "origin"
    assert trial["worker"] == "box-7" and trial["pid"] == worker.pid and 0 <= trial["heartbeat_age"] < 30
    assert sweep["counts"]["running"] == 1


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_terminal_the_view_is_redrawn_in_place_until_it_ends(tmp_path):
    from gitexp.cli.environment import Environment
    from gitexp.cli.watch import DEFAULT_INTERVAL, watch, watch_interval

    screen = Terminal()
    environment = Environment(cwd=tmp_path, env={"TERM": "xterm"}, stdout=screen)
    assert watch_interval(environment, None) == DEFAULT_INTERVAL
    views = iter([("1 queued", True), ("1 running", True), ("1 succeeded", False)])
    watch(environment, lambda: next(views), 0.01)
    drawn = screen.getvalue()
    assert drawn.index("1 queued") < drawn.index("1 running") < drawn.index("1 succeeded")
    assert "\x1b[" in drawn  # redrawn in place: the cursor moved back over the last view
    assert next(views, None) is None
