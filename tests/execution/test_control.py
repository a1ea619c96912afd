"""logs -f and stop against real runs: a stage that prints a line every 0.3 s, a real `gitexp run` process."""

from __future__ import annotations

import os
import textwrap
import time

import pytest

from gitexp.store.layout import trial_lock_path, trial_log_path
from gitexp.store.locks import held_by
from gitexp.store.records import Ledger
from tests.conftest import process_cwd

TICKING_TRAIN_PY = textwrap.dedent(
    """\
    import json, time
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    for i in range(int(p["ticks"])):
        print(f"tick {i}", flush=True)
        time.sleep(0.3)
    json.dump({"score": p["lr"]}, open("metrics.json", "w"))
    """
)


@pytest.fixture
def ticking(project):
    params = project.root / "params.yaml"
    params.write_text(params.read_text().replace("fail: false", "fail: false\n  ticks: 1"))
    (project.root / "train.py").write_text(TICKING_TRAIN_PY)
    project.run("commit", "-qam", "a stage that ticks")
    return project


def wait_running(git, key: str, timeout: float = 30) -> None:
    sweep, _, name = key.partition("/")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = trial_log_path(git.common_dir(), sweep, name)
        if held_by(trial_lock_path(git.common_dir(), sweep, name)) and log.exists() and "tick" in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{key} did not start")


def test_logs_follow_prints_every_line_once_in_order(ticking, run_gitexp, kit):
    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=12").code == 0
    runner = kit.gitexp(ticking.root, "run", "s")
    wait_running(ticking, "s/t001")
    followed = run_gitexp(ticking.root, "logs", "-f", "s/t001")
    assert runner.wait(60) == 0
    assert followed.code == 0
    ticks = [line for line in followed.out.splitlines() if line.startswith("tick")]
    assert ticks == [f"tick {i}" for i in range(12)]
    assert Ledger(ticking).resolve_trial("s/t001").status == "succeeded"  # it followed until the result


def test_stop_cancels_a_local_trial_and_the_others_go_on(ticking, run_gitexp, kit):
    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=[25,3]").code == 0
    runner = kit.gitexp(ticking.root, "run", "s", "-j", "2")
    wait_running(ticking, "s/t001")
    stopped = run_gitexp(ticking.root, "stop", "s/t001")
    assert stopped.code == 0, stopped.err
    out, _ = runner.communicate(timeout=30)
    assert out.splitlines()[-1] == "1 succeeded, 0 failed, 1 cancelled, 0 skipped"
    ledger = Ledger(ticking)
    first, second = ledger.resolve_trial("s/t001"), ledger.resolve_trial("s/t002")
    assert first.status == "cancelled" and "stopped by " in first.message
    assert second.status == "succeeded"
    assert kit.result_counts(ticking) == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 1}
    log = trial_log_path(ticking.common_dir(), "s", "t001").read_text()
    assert "tick 24" not in log  # it stopped at once, not after its 25 ticks
    assert not [p for p in _processes_in(ticking.common_dir()) if p]  # its process tree is gone
    again = run_gitexp(ticking.root, "run", "s/t001", "--retry-cancelled")
    assert again.code == 0 and Ledger(ticking).resolve_trial("s/t001").status == "succeeded"


def _processes_in(common_dir):
    """The pids whose working directory is inside one of the clone's slots."""
    root = str(common_dir / "gitexp" / "worktrees")
    return [pid for pid in os.listdir("/proc") if pid.isdigit() and process_cwd(pid).startswith(root)]


HEARTBEAT = 1.0


def worker_elsewhere(ticking, kit, tmp_path):
    """A bare remote ``origin`` of ``ticking``, a clone of it, and a worker running there with quick heartbeats."""
    remote = kit.make_remote(ticking, tmp_path / "remote.git")
    ticking.run("remote", "add", "origin", str(remote.root))
    there = kit.clone(remote.root, tmp_path / "there")
    worker = kit.gitexp(there.root, "worker", "--remote", "origin", "--heartbeat", str(HEARTBEAT), "--poll", "0.2")
    return remote, there, worker


def test_stop_of_a_trial_a_worker_runs_lands_within_two_heartbeats(ticking, run_gitexp, kit, tmp_path):
    from gitexp.execution.processes import GRACE
    from gitexp.store.git import Git

    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=60").code == 0
    remote, there, worker = worker_elsewhere(ticking, kit, tmp_path)
    wait_running(there, "s/t001")
    assert run_gitexp(ticking.root, "pull", "origin").code == 0  # brings the remote's claims: where s/t001 runs

    where = run_gitexp(ticking.root, "logs", "-f", "s/t001")
    assert where.code == 0 and "s/t001 runs on worker " in where.out and "last heartbeat was" in where.out
    asked = time.monotonic()
    stopped = run_gitexp(ticking.root, "stop", "s/t001")
    assert stopped.code == 0 and "on origin" in stopped.out, stopped.err
    while kit.result_counts(Git(remote.root)) == {"refs/heads/exp/s/t001": 0}:
        assert time.monotonic() - asked < 2 * HEARTBEAT + GRACE + 5, "not stopped within two heartbeats"
        time.sleep(0.1)
    worker.communicate(timeout=30)
    assert worker.returncode == 0

    assert run_gitexp(ticking.root, "pull", "origin").code == 0
    trial = Ledger(ticking).resolve_trial("s/t001")
    assert trial.status == "cancelled" and "stopped by " in trial.message
    assert kit.result_counts(Git(remote.root)) == {"refs/heads/exp/s/t001": 1}
    assert not remote.run("for-each-ref", "refs/gitexp/stop/", "refs/gitexp/claims/").strip()  # nothing left behind


def test_stop_of_a_sweep_a_remote_shares_stops_it_there(ticking, run_gitexp, kit, tmp_path):
    from gitexp.store.git import Git

    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=[60,61,62]").code == 0
    remote, there, worker = worker_elsewhere(ticking, kit, tmp_path)
    deadline = time.monotonic() + 30
    while not remote.run("for-each-ref", "refs/gitexp/claims/").strip():
        assert time.monotonic() < deadline, "the worker claimed nothing"
        time.sleep(0.1)
    assert run_gitexp(ticking.root, "pull", "origin").code == 0  # this clone sees the sweep shared there

    stopped = run_gitexp(ticking.root, "stop", "s")
    assert stopped.code == 0 and "Sweep s stopped" in stopped.out, stopped.err
    worker.communicate(timeout=30)  # its trial stopped, it starts no other: nothing left to do
    assert worker.returncode == 0
    shared = Ledger(Git(remote.root))
    assert [t.status for t in shared.trials(["s"])] == ["cancelled"] * 3
    assert shared.sweep("s").state["stopped"].startswith("stopped by ")
    assert kit.result_counts(Git(remote.root)) == {f"refs/heads/exp/s/t00{i}": 1 for i in (1, 2, 3)}
    pulled = run_gitexp(ticking.root, "pull", "origin")
    assert pulled.code == 0 and "left" not in pulled.out, pulled.out  # this clone followed: nothing diverged
    assert [t.status for t in Ledger(ticking).trials(["s"])] == ["cancelled"] * 3


def test_remove_deletes_stop_requests_here_and_on_the_remote(ticking, run_gitexp, kit, tmp_path):
    """A stop request a run never read (it ended first): a file here, refs here and on the remote."""
    from gitexp.store.git import Git
    from gitexp.store.layout import stop_request_path
    from gitexp.store.stops import request_stop, stop_message

    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=[1,2]").code == 0
    remote = kit.make_remote(ticking, tmp_path / "remote.git")
    ticking.run("remote", "add", "origin", str(remote.root))
    for key in ("s/t001", "s/t002"):
        stop = ticking.commit_tree(ticking.empty_tree(), stop_message(key, "w", "me"))
        ticking.run("update-ref", f"refs/gitexp/stop/{key}", stop)
        ticking.run("push", "-q", "origin", f"refs/gitexp/stop/{key}")
    request_stop(ticking.common_dir(), "s", "t001", "me")

    assert run_gitexp(ticking.root, "remove", "s/t001", "--remote", "origin").code == 0
    assert not stop_request_path(ticking.common_dir(), "s", "t001").exists()
    stops = "for-each-ref", "--format=%(refname)", "refs/gitexp/stop/"
    assert ticking.run(*stops).split() == Git(remote.root).run(*stops).split() == ["refs/gitexp/stop/s/t002"]
    assert run_gitexp(ticking.root, "remove", "s", "--remote", "origin").code == 0
    assert not ticking.run(*stops).strip() and not Git(remote.root).run(*stops).strip()


def test_logs_and_stop_of_a_sweep_running_here(ticking, run_gitexp, kit):
    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=[40,41,1]").code == 0
    runner = kit.gitexp(ticking.root, "run", "s", "-j", "2")
    wait_running(ticking, "s/t001")
    wait_running(ticking, "s/t002")
    logs = run_gitexp(ticking.root, "logs", "s")
    assert logs.code == 0, logs.err
    prefixes = {line.split(": ")[0] for line in logs.out.splitlines()}
    assert prefixes == {"t001", "t002"} and "t001: tick 0" in logs.out  # the running trials' last lines, not t003

    stopped = run_gitexp(ticking.root, "stop", "s")
    assert stopped.code == 0 and "Sweep s stopped" in stopped.out, stopped.err
    runner.wait(30)
    trials = Ledger(ticking).trials(["s"])
    assert [t.status for t in trials] == ["cancelled"] * 3 and all("stopped by " in t.message for t in trials)
    assert Ledger(ticking).sweep("s").state["stopped"].startswith("stopped by ")
    assert kit.result_counts(ticking) == {f"refs/heads/exp/s/t00{i}": 1 for i in (1, 2, 3)}
    assert not trial_log_path(ticking.common_dir(), "s", "t003").exists()  # it never started
    assert "tick 39" not in trial_log_path(ticking.common_dir(), "s", "t001").read_text()


def test_run_retry_cancelled_lifts_a_sweeps_stop(ticking, run_gitexp):
    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=[1,2]").code == 0
    assert run_gitexp(ticking.root, "stop", "s").code == 0  # nothing runs yet: its queued trials are cancelled
    assert run_gitexp(ticking.root, "run", "s").code == 0
    assert [t.status for t in Ledger(ticking).trials(["s"])] == ["cancelled"] * 2  # a stopped sweep starts nothing
    again = run_gitexp(ticking.root, "run", "--retry-cancelled", "s")
    assert again.code == 0, again.err
    ledger = Ledger(ticking)
    assert [t.status for t in ledger.trials(["s"])] == ["succeeded"] * 2
    assert "stopped" not in ledger.sweep("s").state


def test_run_retry_cancelled_lifts_the_stop_of_a_sweep_a_remote_shares_there(ticking, run_gitexp, tmp_path):
    from gitexp.store.git import Git

    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=[1,2]").code == 0
    remote = Git(tmp_path / "remote.git")
    ticking.run("init", "-q", "--bare", "-b", "main", str(remote.root))
    ticking.run("remote", "add", "origin", str(remote.root))
    assert run_gitexp(ticking.root, "push", "origin").code == 0  # the sweep is shared from now on
    assert run_gitexp(ticking.root, "stop", "s").code == 0
    assert "stopped" in Ledger(remote).sweep("s").state

    again = run_gitexp(ticking.root, "run", "--retry-cancelled", "s")

    assert again.code == 0, again.err
    assert [t.status for t in Ledger(remote).trials(["s"])] == ["succeeded"] * 2  # run and published there
    assert "stopped" not in Ledger(remote).sweep("s").state


def two_remotes(ticking, run_gitexp, tmp_path, *pushed_to: str):
    """Bare remotes ``origin`` and ``cluster`` of ``ticking``; sweep ``s`` (two queued trials) pushed to ``pushed_to``."""
    from gitexp.store.git import Git

    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=[1,2]").code == 0
    remotes = {}
    for name in ("origin", "cluster"):
        remotes[name] = Git(tmp_path / f"{name}.git")
        ticking.run("init", "-q", "--bare", "-b", "main", str(remotes[name].root))
        ticking.run("remote", "add", name, str(remotes[name].root))
    for name in pushed_to:
        assert run_gitexp(ticking.root, "push", name, "--no-dvc").code == 0
    return remotes


def test_stop_of_a_sweep_with_remote_stops_it_on_that_remote(ticking, run_gitexp, tmp_path):
    remotes = two_remotes(ticking, run_gitexp, tmp_path, "origin", "cluster")

    stopped = run_gitexp(ticking.root, "stop", "s", "--remote", "cluster")

    assert stopped.code == 0, stopped.err
    cluster, origin = Ledger(remotes["cluster"]), Ledger(remotes["origin"])
    assert cluster.sweep("s").state["stopped"].startswith("stopped by ")
    assert [t.status for t in cluster.trials(["s"])] == ["cancelled"] * 2
    assert "stopped" not in origin.sweep("s").state and [t.status for t in origin.trials(["s"])] == ["queued"] * 2


def test_stop_with_a_remote_that_lacks_the_sweep_is_refused(ticking, run_gitexp, tmp_path, repo_state):
    remotes = two_remotes(ticking, run_gitexp, tmp_path, "origin")
    origin_refs = remotes["origin"].run("for-each-ref")
    before = repo_state(ticking)

    stopped = run_gitexp(ticking.root, "stop", "s", "--remote", "cluster")

    assert stopped.code == 2
    assert stopped.err == "gitexp: error: cluster has no sweep s: gitexp push cluster s first, or stop it without --remote\n"
    assert repo_state(ticking) == before and remotes["origin"].run("for-each-ref") == origin_refs


def test_a_trial_claimed_while_its_sweep_stops_is_stopped_not_cancelled_under_its_worker(ticking, run_gitexp, tmp_path):
    """The race of a worker's claim and a stop: the stop's cancel of a trial is one compare-and-swap with the trial's
    claim, so a trial claimed after the stop looked keeps its claim and gets a stop request; one cancelled first is
    never claimed."""
    from gitexp.execution.claims import Claims, Runner
    from gitexp.execution.control import plan_stop
    from gitexp.store.remote import RemoteRefs, resolve_remote

    remotes = two_remotes(ticking, run_gitexp, tmp_path, "origin")
    origin = remotes["origin"]
    queued = {trial.name: trial for trial in Ledger(ticking).trials(["s"])}
    elsewhere = Claims(ticking, RemoteRefs(ticking, resolve_remote(ticking, "origin"), mirror=False), Runner("w2", clone="c2"))
    plan = plan_stop(ticking, ["s"])  # looks: nothing runs yet

    claim = elsewhere.take(queued["t001"])  # a worker claims t001 now, after the look
    plan.write(ticking)

    assert claim is not None and origin.rev_parse("refs/heads/exp/s/t001") == queued["t001"].tip  # not cancelled under it
    assert origin.rev_parse("refs/gitexp/claims/s/t001") == claim.oid
    assert "Gitexp-Stop-Worker: w2" in origin.run("log", "-1", "--format=%B", "refs/gitexp/stop/s/t001")
    assert [trial.ref.key for trial, _, _ in plan.remote] == ["s/t001"]
    assert Ledger(origin).resolve_trial("s/t002").status == "cancelled"
    assert elsewhere.take(queued["t002"]) is None  # cancelled first: no worker can claim it


def test_a_trial_whose_runner_holds_only_its_lock_when_the_sweep_stops_is_cancelled_and_never_claimed(ticking, run_gitexp):
    """A local runner takes the trial's lock, clears old stop requests, then claims: a stop between the lock and
    the claim cancels the trial (a stop request written then would be cleared), and the claim fails on it."""
    from gitexp.execution.claims import Claims, Runner
    from gitexp.execution.control import plan_stop
    from gitexp.store.locks import TrialLock
    from gitexp.store.refstore import LocalRefs

    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=[1,2]").code == 0
    queued = Ledger(ticking).resolve_trial("s/t001")
    lock = TrialLock(trial_lock_path(ticking.common_dir(), "s", "t001"))
    assert lock.acquire(ticking.root / "slot")
    try:
        plan = plan_stop(ticking, ["s"])
        plan.write(ticking)
        claim = Claims(ticking, LocalRefs(ticking), Runner("w", clone="c")).take(queued)
    finally:
        lock.release()

    assert claim is None and Ledger(ticking).resolve_trial("s/t001").status == "cancelled"
    assert [t.status for t in Ledger(ticking).trials(["s"])] == ["cancelled"] * 2


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_stop_request_written_once_the_runner_holds_the_trial_is_honoured_and_an_older_one_cleared(ticking, run_gitexp, monkeypatch, when):
    """A runner clears the stop request an earlier run of the trial left, not one written since it took the
    trial's flock: ``gitexp stop`` writes one as soon as it sees that flock held, which may come before the clear."""
    from gitexp.execution.control import plan_stop
    from gitexp.execution.local import LocalExecutor, RunOptions, StaticTrials
    from gitexp.store.locks import TrialLock
    from gitexp.store.stops import request_stop

    assert run_gitexp(ticking.root, "queue", "--name", "s", "--set", "train.ticks=10").code == 0
    trial = Ledger(ticking).resolve_trial("s/t001")
    lock_path = trial_lock_path(ticking.common_dir(), "s", "t001")
    real_acquire, stops = TrialLock.acquire, []

    def acquire(lock, worktree):  # gitexp stop, at the instant the runner's flock makes the trial running
        taken = real_acquire(lock, worktree)
        if taken and lock.path == lock_path and not stops:
            stops.append(plan_stop(ticking, ["s/t001"]))
            stops[0].write(ticking)
        return taken

    if when == "after":
        monkeypatch.setattr(TrialLock, "acquire", acquire)
    else:
        request_stop(ticking.common_dir(), "s", "t001", "an earlier stop")  # its run ended before it came
    summary = LocalExecutor(ticking, RunOptions()).run(StaticTrials([trial]))

    [(_, outcome)] = summary.finished
    result = Ledger(ticking).resolve_trial("s/t001")
    if when == "after":
        assert [t.ref.key for t in stops[0].here] == ["s/t001"]  # the stop saw it running here
        assert outcome.status == result.status == "cancelled" and f"stopped by {stops[0].by}" in result.message
        assert "tick 9" not in trial_log_path(ticking.common_dir(), "s", "t001").read_text()  # stopped at once
    else:
        assert outcome.status == result.status == "succeeded"
