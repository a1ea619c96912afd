"""Workers on many clones against one remote: every trial runs once and its result lands once.

"Runs once" is counted where it happens: the stage appends each trial it runs
to one shared file. "Lands once" is counted on the remote: result commits
(those with a Gitexp-Status trailer) per trial branch.
"""

from __future__ import annotations

import textwrap
import threading
import time
from functools import partial

import pytest

from gitexp.errors import GitCommandError, UsageError
from gitexp.execution.claims import Claims, Runner
from gitexp.execution.local import LocalExecutor, RunOptions, StaticTrials
from gitexp.execution.worker import Worker, WorkerOptions, parse_duration
from gitexp.planning.queue import QueueRequest, queue_sweep
from gitexp.store.git import ZERO_OID, Git, RefUpdate
from gitexp.store.records import Ledger
from gitexp.store.refstore import LocalRefs
from gitexp.store.remote import RemoteRefs, TrackingView, fetch_experiments, resolve_remote
from gitexp.sweep.files import load_sweep_file

FAST = ["--heartbeat", "0.2", "--poll", "0.2"]


def remote_claims(git: Git, worker: str, clock=time.time) -> Claims:
    """Claims on ``git``'s origin as a worker named ``worker`` in that clone would make them."""
    remote = resolve_remote(git, "origin")
    return Claims(git, RemoteRefs(git, remote), Runner(worker, clone=f"clone-{worker}"), clock=clock)


def remote_trials(git: Git) -> dict[str, object]:
    """The origin's trials as ``git`` sees them after a fetch, by ``sweep/trial``."""
    remote = resolve_remote(git, "origin")
    fetch_experiments(git, remote, ["exp/"])
    return {trial.ref.key: trial for trial in Ledger(TrackingView(git, remote)).trials()}


def claims_on(git: Git) -> list[str]:
    return git.run("for-each-ref", "--format=%(refname)", "refs/gitexp/claims/").split()


def at_once(*calls):
    """Start each of ``calls`` in its own thread at the same instant; their results, in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def call(index):
        barrier.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=call, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def finished_lines(output: str) -> list[str]:
    return [line.split()[1] for line in output.splitlines() if line.startswith(("succeeded", "failed"))]


def test_three_workers_in_separate_clones_run_twelve_trials_once_each(kit, logging_project, runs_log, tmp_path):
    kit.twelve_trials(logging_project)
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    clones = [kit.clone(remote.root, tmp_path / f"w{i}") for i in range(3)]
    before = [(kit.workspace(c), c.run("for-each-ref", "refs/heads/")) for c in clones]
    workers = [kit.gitexp(c.root, "worker", "--remote", "origin", "--worker-id", f"w{i}", *FAST) for i, c in enumerate(clones)]
    outputs = [proc.communicate(timeout=120) for proc in workers]
    assert [proc.returncode for proc in workers] == [0, 0, 0], outputs

    ran = kit.runs(runs_log)
    assert len(ran) == 12 and set(ran.values()) == {1}, ran  # each trial ran exactly once, somewhere
    reported = [key for out, _ in outputs for key in finished_lines(out)]
    assert sorted(reported) == sorted(ran)  # ...and by the worker that says so
    counts = kit.result_counts(remote)
    assert len(counts) == 12 and set(counts.values()) == {1}, counts  # 0 duplicates, 0 lost
    assert claims_on(remote) == []
    hosts = {Ledger(remote).resolve_trial(key).host for key in ran}
    assert hosts <= {"worker:w0", "worker:w1", "worker:w2"}
    # the workers' clones: HEAD, index, working tree and the user's branches as they were
    assert [(kit.workspace(c), c.run("for-each-ref", "refs/heads/")) for c in clones] == before


def test_two_runners_in_one_clone_and_a_worker_pushing_to_it_never_run_a_trial_twice(kit, logging_project, runs_log, tmp_path):
    """The clone is the worker's remote, so local claims (update-ref) and pushed ones meet in one ref store."""
    kit.queue(logging_project, "s", "train.lr=[0.05, 0.1, 0.2, 0.3]", "train.n_est=[10, 20]", "train.sleep=0.2")
    other = kit.clone(logging_project.root, tmp_path / "other")
    worker = kit.gitexp(other.root, "worker", "--remote", "origin", *FAST)
    trials = Ledger(logging_project).trials()
    summaries = at_once(*(partial(LocalExecutor(logging_project, RunOptions()).run, StaticTrials(trials)) for _ in range(2)))
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    ran = kit.runs(runs_log)
    assert len(ran) == 8 and set(ran.values()) == {1}, ran
    assert sum(len(summary.finished) for summary in summaries) + len(finished_lines(out)) == 8
    counts = kit.result_counts(logging_project)
    assert len(counts) == 8 and set(counts.values()) == {1}, counts
    assert claims_on(logging_project) == []


def test_two_gitexp_runs_in_one_clone_and_a_worker_never_run_a_trial_twice(kit, logging_project, runs_log, tmp_path):
    kit.queue(logging_project, "s", "train.lr=[0.05, 0.1, 0.2]", "train.n_est=[10, 20]")
    other = kit.clone(logging_project.root, tmp_path / "other")
    processes = [
        kit.gitexp(logging_project.root, "run"),
        kit.gitexp(logging_project.root, "run"),
        kit.gitexp(other.root, "worker", "--remote", "origin", *FAST),
    ]
    outputs = [proc.communicate(timeout=120) for proc in processes]
    assert [proc.returncode for proc in processes] == [0, 0, 0], outputs
    ran = kit.runs(runs_log)
    assert len(ran) == 6 and set(ran.values()) == {1}, ran
    counts = kit.result_counts(logging_project)
    assert len(counts) == 6 and set(counts.values()) == {1}, counts


def test_stale_claim_is_taken_over_and_a_live_one_is_not(kit, logging_project, runs_log, tmp_path, run_gitexp):
    kit.queue(logging_project, "s", "train.lr=[0.05, 0.1]")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    elsewhere = kit.clone(remote.root, tmp_path / "elsewhere")
    trials = remote_trials(elsewhere)
    # a worker claimed s/t001 an hour ago and died; another claimed s/t002 a moment ago and runs it
    assert remote_claims(elsewhere, "dead", clock=lambda: time.time() - 3600).take(trials["s/t001"])
    assert remote_claims(elsewhere, "alive").take(trials["s/t002"])

    here = kit.clone(remote.root, tmp_path / "here")
    result = run_gitexp(here.root, "worker", "--remote", "origin", "--stale-after", "10m")
    assert result.code == 0, result.err
    assert finished_lines(result.out) == ["s/t001"]
    assert kit.runs(runs_log) == {"s/t001": 1}
    assert kit.result_counts(remote) == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 0}
    assert claims_on(remote) == ["refs/gitexp/claims/s/t002"]  # the live claim stays


def test_heartbeats_keep_a_long_trials_claim_from_going_stale(kit, logging_project, runs_log, tmp_path):
    kit.queue(logging_project, "s", "train.lr=0.1", "train.sleep=4")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    first, second = kit.clone(remote.root, tmp_path / "first"), kit.clone(remote.root, tmp_path / "second")
    # 3 s leaves room for a heartbeat push on a loaded machine; the trial runs longer than that
    running = kit.gitexp(first.root, "worker", "--remote", "origin", "--stale-after", "3s", *FAST)
    deadline = time.monotonic() + 30
    while not claims_on(remote):
        assert time.monotonic() < deadline, "the first worker never claimed the trial"
        time.sleep(0.05)
    seen = set()
    while len(seen) < 4 and time.monotonic() < deadline:  # the claim is renewed, beat after beat
        seen.update(remote.run("for-each-ref", "--format=%(objectname)", "refs/gitexp/claims/").split())
        time.sleep(0.1)
    assert len(seen) >= 4
    # a second worker that takes over claims older than 3 s finds this one fresh, so leaves it
    late = kit.gitexp(second.root, "worker", "--remote", "origin", "--stale-after", "3s", *FAST)
    out, err = late.communicate(timeout=60)
    assert late.returncode == 0 and finished_lines(out) == [], err
    assert running.wait(timeout=60) == 0
    assert kit.runs(runs_log) == {"s/t001": 1}
    assert kit.result_counts(remote) == {"refs/heads/exp/s/t001": 1}


def test_claims_racing_for_the_same_trial_have_one_winner(kit, logging_project, tmp_path):
    kit.queue(logging_project, "s", "train.lr=[0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08]")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    clones = [kit.clone(remote.root, tmp_path / f"c{i}") for i in range(3)]
    contenders = [(remote_claims(c, f"c{i}"), remote_trials(c)) for i, c in enumerate(clones)]
    for key in contenders[0][1]:
        won = at_once(*(partial(claims.take, trials[key]) for claims, trials in contenders))
        assert sum(claim is not None for claim in won) == 1, (key, won)
    assert len(claims_on(remote)) == 8


def test_racing_results_land_once(kit, logging_project, runs_log, tmp_path):
    """Worker a's claim went stale and b took the trial over; both finish and push at the same moment."""
    kit.queue(logging_project, "s", "train.lr=[0.01, 0.02, 0.03, 0.04, 0.05, 0.06]")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    a, b = kit.clone(remote.root, tmp_path / "a"), kit.clone(remote.root, tmp_path / "b")
    claims_a = remote_claims(a, "a")
    claims_b = remote_claims(b, "b", clock=lambda: time.time() + 3600)  # sees a's claims as an hour old
    trials_a = remote_trials(a)
    held_a = {key: claims_a.take(trial) for key, trial in trials_a.items()}
    trials_b = remote_trials(b)
    held_b = {key: claims_b.take(trial) for key, trial in trials_b.items()}
    assert all(held_a.values()) and all(held_b.values())

    # s/t001 really runs on both; the others race with result commits made by hand
    results = {}
    for git, claims, trials in ((a, claims_a, trials_a), (b, claims_b, trials_b)):
        time.sleep(1.1 if git is b else 0)  # commit times count seconds: two equal runs in one second make one commit
        executor = LocalExecutor(git, RunOptions(), claims=claims)
        results[git.root, "s/t001"] = executor.execute(trials["s/t001"], tmp_path / f"wt-{git.root.name}")[1]
        for key, trial in trials.items():
            if key != "s/t001":
                message = f"gitexp: result\n\nGitexp-Status: succeeded\nGitexp-Host: {git.root.name}\n"
                results[git.root, key] = git.commit_tree(f"{trial.tip}^{{tree}}", message, [trial.tip])
    assert kit.runs(runs_log) == {"s/t001": 2}

    for key in trials_a:
        landed = dict(
            zip(
                (a.root, b.root),
                at_once(
                    partial(claims_a.publish, trials_a[key], results[a.root, key], held_a[key]),
                    partial(claims_b.publish, trials_b[key], results[b.root, key], held_b[key]),
                ),
            )
        )
        assert sorted(landed.values()) == [False, True], (key, landed)
        winner = next(root for root, ok in landed.items() if ok)
        assert remote.rev_parse(f"refs/heads/exp/{key}") == results[winner, key]
    counts = kit.result_counts(remote)
    assert len(counts) == 6 and set(counts.values()) == {1}, counts
    assert claims_on(remote) == []


class FlakyRefs(LocalRefs):
    """This repository as a ref store whose first few transactions fail as a busy remote's would."""

    def __init__(self, git, failures):
        super().__init__(git)
        self.failures = failures

    def swap(self, updates):
        if self.failures:
            self.failures -= 1
            raise GitCommandError("git push failed: the remote end hung up unexpectedly")
        return super().swap(updates)


def test_publish_retries_a_store_that_fails_for_a_moment(kit, logging_project):
    kit.queue(logging_project, "s", "train.lr=0.1")
    trial = Ledger(logging_project).trials()[0]
    claims = Claims(logging_project, FlakyRefs(logging_project, failures=3), Runner("w", "c"))
    claim = claims.take(trial)
    result = logging_project.commit_tree(f"{trial.tip}^{{tree}}", "result\n\nGitexp-Status: succeeded\n", [trial.tip])
    assert claims.publish(trial, result, claim)
    assert logging_project.rev_parse(trial.ref.ref) == result and claims_on(logging_project) == []


def test_idle_worker_waits_for_trials_queued_later(kit, logging_project, runs_log, tmp_path):
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    here = kit.clone(remote.root, tmp_path / "here")
    waiting = kit.gitexp(here.root, "worker", "--remote", "origin", "--idle-exit", "20", *FAST)
    time.sleep(1.0)
    kit.queue(logging_project, "later", "train.lr=0.2")
    logging_project.run("push", "-q", str(remote.root), "refs/heads/exp/*:refs/heads/exp/*", "refs/gitexp/sweeps/*:refs/gitexp/sweeps/*")
    deadline = time.monotonic() + 60
    while not kit.result_counts(remote).get("refs/heads/exp/later/t001"):
        assert time.monotonic() < deadline and waiting.poll() is None, waiting.communicate()
        time.sleep(0.1)
    waiting.kill()
    waiting.wait()
    assert kit.runs(runs_log) == {"later/t001": 1}


def test_a_worker_given_its_sweeps_exits_once_they_are_over_whatever_its_idle_exit(kit, logging_project, runs_log, tmp_path):
    kit.queue(logging_project, "s", "train.lr=0.1,0.2")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    here = kit.clone(remote.root, tmp_path / "here")
    started = time.monotonic()
    worker = kit.gitexp(here.root, "worker", "--remote", "origin", "--sweep", "s", "--idle-exit", "600", *FAST)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    assert time.monotonic() - started < 60  # not the 600 s of --idle-exit: nothing of s is left to wait for
    assert kit.runs(runs_log) == {"s/t001": 1, "s/t002": 1} and claims_on(remote) == []


def queue_file(git: Git, name: str, text: str) -> None:
    (git.root / f"{name}.yaml").write_text(textwrap.dedent(text))
    queue_sweep(git, QueueRequest(load_sweep_file(git.root / f"{name}.yaml"), name))


@pytest.mark.parametrize("count", [2, 3])  # a third worker polls and grows beside them: the race for the budget is likelier
def test_two_workers_grow_a_bayes_sweep_on_the_remote_once(kit, logging_project, runs_log, tmp_path, count):
    queue_file(
        logging_project,
        "bo",
        """\
        matrix:
          train.lr: uniform(0.0, 0.5)
        strategy: {name: bayes, n_initial_trials: 2}
        max_trials: 6
        objective: {metric: score, goal: maximize}
        seed: 4
        concurrency: 2
        """,
    )
    assert [t.name for t in Ledger(logging_project).trials()] == ["t001", "t002"]  # queue writes the first batch
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    clones = [kit.clone(remote.root, tmp_path / f"w{i}") for i in range(count)]
    workers = [kit.gitexp(c.root, "worker", "--remote", "origin", "--worker-id", f"w{i}", *FAST) for i, c in enumerate(clones)]
    outputs = [proc.communicate(timeout=180) for proc in workers]
    assert [proc.returncode for proc in workers] == [0] * count, outputs

    trials = remote_trials(clones[0])
    assert sorted(trials) == [f"bo/t00{i}" for i in range(1, 7)]  # the workers wrote t003..t006, no more
    assert all(t.status == "succeeded" for t in trials.values())
    assert len({t.params["train.lr"] for t in trials.values()}) == 6
    ran = kit.runs(runs_log)
    assert sorted(ran) == sorted(trials) and set(ran.values()) == {1}, ran
    counts = kit.result_counts(remote)
    assert len(counts) == 6 and set(counts.values()) == {1}, counts
    assert claims_on(remote) == [] and remote.run("for-each-ref", "refs/gitexp/tmp/") == ""
    reported = [key for out, _ in outputs for key in finished_lines(out)]
    assert sorted(reported) == sorted(trials)
    record = Ledger(remote).sweep("bo")
    assert record.commit != Ledger(logging_project).sweep("bo").commit  # each growth moved the record


def test_a_worker_stops_a_sweep_early_on_the_remote(kit, logging_project, runs_log, tmp_path):
    queue_file(
        logging_project,
        "es",
        """\
        matrix:
          train.lr: [0.01, 0.02, 0.05, 0.1, 0.2, 0.3]
        early_stopping:
          - {metric: score, value: 0.5, optimization: maximize}
        """,
    )  # every trial scores above 0.5: the first result stops the sweep
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    here = kit.clone(remote.root, tmp_path / "here")
    worker = kit.gitexp(here.root, "worker", "--remote", "origin", *FAST)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err

    trials = remote_trials(here)
    ran = kit.runs(runs_log)
    assert len(ran) == 1 and trials[next(iter(ran))].status == "succeeded"
    assert sorted(t.status for t in trials.values()) == ["cancelled"] * 5 + ["succeeded"]
    assert Ledger(remote).sweep("es").state["stopped"].startswith("early stopping: score")
    assert kit.result_counts(remote) == {f"refs/heads/exp/{key}": 1 for key in trials}


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("10m", 600), ("1h", 3600), ("45", 45), ("1.5m", 90)])
def test_durations(text, seconds):
    assert parse_duration(text, "--stale-after") == seconds


@pytest.mark.parametrize("text", ["", "10x", "-5m", "0s", "m", "1h30m"])
def test_bad_durations(text):
    with pytest.raises(UsageError, match="is not a duration"):
        parse_duration(text, "--stale-after")


def test_a_worker_whose_dvc_remote_refuses_publishes_no_result_without_its_outputs(kit, model_project, bare_remote, tmp_path):
    kit.queue(model_project, "m", "train.lr=0.3")
    model_project.run("push", "-q", "origin", "refs/heads/exp/*:refs/heads/exp/*", "refs/gitexp/sweeps/*:refs/gitexp/sweeps/*")
    elsewhere = kit.clone(bare_remote, tmp_path / "elsewhere")
    (tmp_path / "a-file").write_text("not a folder\n")
    kit.dvc(elsewhere.root, "remote", "modify", "--local", "storage", "url", str(tmp_path / "a-file" / "store"))

    worker = kit.gitexp(elsewhere.root, "worker", "--remote", "origin", *FAST)
    out, err = worker.communicate(timeout=120)

    assert worker.returncode == 1 and err.count("\n") == 1, (out, err)
    assert err.startswith("gitexp: error: dvc push failed: ") and "Not a directory" in err  # DVC's own words
    assert err.endswith(
        "; the result of m/t001 is not published (its outputs would be missing for everyone who pulls it): "
        "fix the DVC remote (dvc remote list), then run the trial again\n"
    )
    origin = Git(bare_remote)
    assert kit.result_counts(origin) == {"refs/heads/exp/m/t001": 0}  # still queued, for a worker that can push
    assert claims_on(origin) == []


def test_a_worker_with_a_stage_no_sweep_defines_refuses_before_writing_here_or_there(
    kit, logging_project, runs_log, tmp_path, run_gitexp, repo_state
):
    kit.queue(logging_project, "s", "train.lr=[0.05, 0.1]")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    worker = kit.clone(remote.root, tmp_path / "w")  # git clone: the trials' objects, not the sweep records
    before, remote_before = repo_state(worker), remote.run("for-each-ref")

    result = run_gitexp(worker.root, "worker", "--remote", "origin", "--stage", "nope", *FAST)

    assert result.code == 2 and result.out == "", result.err
    assert result.err == "gitexp: error: dvc.yaml has no stage 'nope' (stages: train): name one of them with --stage\n"
    assert repo_state(worker) == before and worker.run("for-each-ref", "refs/gitexp/") == ""  # no tracking ref either
    assert remote.run("for-each-ref") == remote_before and kit.runs(runs_log) == {}

    ran = run_gitexp(worker.root, "worker", "--remote", "origin", "--sweep", "s", "--stage", "train", *FAST)
    assert ran.code == 0, ran.err  # a stage the sweep defines runs
    assert kit.runs(runs_log) == {"s/t001": 1, "s/t002": 1}


def test_a_worker_beside_archived_and_finished_sweeps_claims_only_queued_trials(kit, logging_project, runs_log, tmp_path, run_gitexp):
    git = logging_project
    for name in ("old", "done"):
        kit.queue(git, name, "train.lr=[0.05, 0.1]")
    assert run_gitexp(git.root, "run", "old", "done").code == 0
    assert run_gitexp(git.root, "archive", "old").code == 0
    kit.queue(git, "todo", "train.lr=[0.2, 0.3]")
    runs_log.write_text("")
    bare = tmp_path / "remote.git"
    git.run("init", "-q", "--bare", "-b", "main", str(bare))
    git.run("remote", "add", "origin", str(bare))
    git.run("push", "-q", "origin", "main")
    assert run_gitexp(git.root, "push", "--no-dvc").code == 0
    remote = Git(bare)
    archived = remote.run("for-each-ref", "refs/gitexp/archive/")
    assert len(archived.splitlines()) == 2
    here = kit.clone(bare, tmp_path / "here")

    worker = kit.gitexp(here.root, "worker", "--remote", "origin", *FAST)
    _, err = worker.communicate(timeout=120)

    assert worker.returncode == 0, err
    assert sorted(kit.runs(runs_log)) == ["todo/t001", "todo/t002"]
    assert remote.run("for-each-ref", "refs/gitexp/archive/") == archived
    assert here.run("for-each-ref", "refs/gitexp/remotes/origin/gitexp/archive/") == ""  # never fetched


def test_a_poll_fetches_only_what_moved_on_the_remote(kit, project, tmp_path):
    from gitexp.store.remote import served_namespaces, sync_mirror

    kit.queue(project, "s", "train.lr=[0.1, 0.2, 0.3]")
    kit.queue(project, "other", "train.lr=[0.4]")
    remote = kit.make_remote(project, tmp_path / "remote.git")
    here = kit.clone(remote.root, tmp_path / "here")
    origin = resolve_remote(here, "origin")
    namespaces = served_namespaces(["exp/"], ("s",))

    assert sync_mirror(here, origin, namespaces) is True
    mirrored = here.ref_oids("refs/gitexp/remotes/origin/")
    assert sorted(mirrored) == [
        "refs/gitexp/remotes/origin/gitexp/sweeps/s",
        *(f"refs/gitexp/remotes/origin/heads/exp/s/t00{i}" for i in (1, 2, 3)),
    ]  # sweep other is not served: none of its refs
    assert sync_mirror(here, origin, namespaces) is False  # nothing moved: nothing fetched

    remote.run("update-ref", "-d", "refs/heads/exp/s/t003")
    remote.run("update-ref", "refs/heads/exp/s/t001", project.rev_parse("exp/s/t002"))
    assert sync_mirror(here, origin, namespaces) is True
    now = here.ref_oids("refs/gitexp/remotes/origin/")
    assert "refs/gitexp/remotes/origin/heads/exp/s/t003" not in now
    assert now["refs/gitexp/remotes/origin/heads/exp/s/t001"] == project.rev_parse("exp/s/t002")


def test_a_poll_never_mirrors_a_sweep_record_newer_than_the_listing(kit, project, tmp_path):
    """Another runner grows the sweep between a poll's listing and its fetch: the record stays as listed.

    Fetched as it was by then, the record would name a trial whose branch the
    listing lacked, and a driver reading that view would grow the sweep past its
    budget (its compare-and-swap on the record would land).
    """
    from gitexp.store.remote import served_namespaces, sync_mirror

    kit.queue(project, "s", "train.lr=[0.1, 0.2, 0.3]")
    remote = kit.make_remote(project, tmp_path / "remote.git")
    here = kit.clone(remote.root, tmp_path / "here")
    origin = resolve_remote(here, "origin")
    namespaces = served_namespaces(["exp/"], ("s",))
    sync_mirror(here, origin, namespaces)
    record = "refs/gitexp/sweeps/s"

    def grow() -> str:  # a record moved on its history, and the trial it names, in one transaction
        old = remote.rev_parse(record)
        new = remote.commit_tree(f"{old}^{{tree}}", "gitexp: queue s", [old])
        tip = remote.rev_parse("refs/heads/exp/s/t001")
        remote.run("update-ref", "--stdin", input=f"update {record} {new} {old}\ncreate refs/heads/exp/s/t00{len(grown) + 4} {tip}\n")
        grown.append(new)
        return new

    grown: list[str] = []
    listed = grow()
    listing = here.ls_remote

    def listing_then_growth(*args):
        found = listing(*args)
        grow()
        return found

    here.ls_remote = listing_then_growth
    assert sync_mirror(here, origin, namespaces) is True
    mirrored = here.ref_oids("refs/gitexp/remotes/origin/")
    assert mirrored["refs/gitexp/remotes/origin/gitexp/sweeps/s"] == listed  # not grown[1], whose t005 it lacks
    assert "refs/gitexp/remotes/origin/heads/exp/s/t004" in mirrored
    assert "refs/gitexp/remotes/origin/heads/exp/s/t005" not in mirrored

    here.ls_remote = listing
    assert sync_mirror(here, origin, namespaces) is True  # the next poll brings both
    mirrored = here.ref_oids("refs/gitexp/remotes/origin/")
    assert mirrored["refs/gitexp/remotes/origin/gitexp/sweeps/s"] == grown[1]
    assert "refs/gitexp/remotes/origin/heads/exp/s/t005" in mirrored


def hand_made_result(git: Git, trial) -> str:
    return git.commit_tree(f"{trial.tip}^{{tree}}", "gitexp: result\n\nGitexp-Status: succeeded\nGitexp-Host: by-hand\n", [trial.tip])


def test_a_result_push_claims_the_next_trial_and_take_hands_that_claim_out(kit, logging_project, tmp_path):
    kit.queue(logging_project, "s", "train.lr=[0.01, 0.02, 0.03]")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    a, b = kit.clone(remote.root, tmp_path / "a"), kit.clone(remote.root, tmp_path / "b")
    claims = remote_claims(a, "a")
    t1, t2, t3 = (remote_trials(a)[f"s/t00{i}"] for i in (1, 2, 3))
    first = claims.take(t1)

    assert claims.publish(t1, hand_made_result(a, t1), first, following=t2)
    on_remote = remote.rev_parse("refs/gitexp/claims/s/t002")
    assert claims_on(remote) == ["refs/gitexp/claims/s/t002"] and kit.result_counts(remote)["refs/heads/exp/s/t001"] == 1
    second = claims.take(t2)
    assert second.oid == on_remote  # the claim the result's push made: no second push (a new one would be a new commit)

    assert remote_claims(b, "b").take(remote_trials(b)["s/t003"])  # another runner holds the next one
    assert claims.publish(t2, hand_made_result(a, t2), second, following=t3)  # the result lands alone
    assert claims.take(t3) is None
    assert claims_on(remote) == ["refs/gitexp/claims/s/t003"]
    assert read_claim_worker(remote, "s/t003") == "b"
    assert kit.result_counts(remote) == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 1, "refs/heads/exp/s/t003": 0}


def read_claim_worker(git: Git, key: str) -> str:
    return git.run("log", "-1", "--format=%(trailers:key=Gitexp-Worker,valueonly)", f"refs/gitexp/claims/{key}").strip()


def test_two_results_pushed_at_once_naming_the_same_next_trial_claim_it_once(kit, logging_project, tmp_path):
    kit.queue(logging_project, "s", "train.lr=[0.01, 0.02, 0.03]")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    a, b = kit.clone(remote.root, tmp_path / "a"), kit.clone(remote.root, tmp_path / "b")
    runners = [(remote_claims(git, name), remote_trials(git)) for git, name in ((a, "a"), (b, "b"))]
    held = [claims.take(trials[key]) for (claims, trials), key in zip(runners, ("s/t001", "s/t002"))]
    landed = at_once(
        *(
            partial(claims.publish, trials[key], hand_made_result(git, trials[key]), claim, following=trials["s/t003"])
            for (claims, trials), key, claim, git in zip(runners, ("s/t001", "s/t002"), held, (a, b))
        )
    )
    assert landed == [True, True]  # both results land, whichever got the next claim
    taken = [claims.take(trials["s/t003"]) for claims, trials in runners]
    assert sum(claim is not None for claim in taken) == 1, taken
    assert claims_on(remote) == ["refs/gitexp/claims/s/t003"]
    assert kit.result_counts(remote) == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 1, "refs/heads/exp/s/t003": 0}


@pytest.mark.parametrize("status, pushed", [("pruned", True), ("failed", False)])
def test_a_worker_pushes_a_pruned_trials_outputs_as_a_finished_ones(kit, model_project, tmp_path, monkeypatch, status, pushed):
    """A pruned trial's result commit is a result: what its run put in the DVC cache goes to the DVC remote before it lands."""
    from gitexp.execution.pipeline import RunOutcome
    from gitexp.execution.worker import OutputPushingExecutor

    kit.queue(model_project, "m", "train.lr=0.3")
    trial = Ledger(model_project).resolve_trial("m/t001")
    kit.dvc(model_project.root, "repro")  # model.pkl in the cache, as the run leaves it in its slot
    monkeypatch.setattr(LocalExecutor, "execute", lambda self, trial, worktree, pruning=None: (RunOutcome(status, 1.0), "c"))
    executor = object.__new__(OutputPushingExecutor)  # only its push step runs here
    executor.git = model_project

    assert executor.execute(trial, model_project.root)[0].status == status

    stored = [path.read_bytes() for path in (tmp_path / "storage").rglob("*") if path.is_file()]
    assert any(content.startswith(b"weights for lr=") for content in stored) == pushed


def test_a_result_push_whose_next_trial_another_runner_took_claims_the_one_named_instead(kit, logging_project, tmp_path):
    kit.queue(logging_project, "s", "train.lr=[0.01, 0.02, 0.03]")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    a, b = kit.clone(remote.root, tmp_path / "a"), kit.clone(remote.root, tmp_path / "b")
    claims, trials = remote_claims(a, "a"), remote_trials(a)  # a's view: before b's claim
    first = claims.take(trials["s/t001"])
    assert remote_claims(b, "b").take(remote_trials(b)["s/t002"])
    refused = []

    def instead(trial):
        refused.append(trial.ref.key)
        return trials["s/t003"]

    assert claims.publish(trials["s/t001"], hand_made_result(a, trials["s/t001"]), first, trials["s/t002"], instead)
    assert refused == ["s/t002"]
    assert claims_on(remote) == ["refs/gitexp/claims/s/t002", "refs/gitexp/claims/s/t003"]
    assert read_claim_worker(remote, "s/t002") == "b" and read_claim_worker(remote, "s/t003") == "a"
    assert claims.take(trials["s/t003"]).oid == remote.rev_parse("refs/gitexp/claims/s/t003")  # taken with the result
    assert kit.result_counts(remote) == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 0, "refs/heads/exp/s/t003": 0}


def test_a_trial_claimed_with_a_result_starts_only_once_that_push_has_answered(kit, logging_project, runs_log, tmp_path, monkeypatch):
    """-j 2: one thread's result push claims the last trial while the other thread's slot is free already.

    That push lands just as the free slot would start the trial, and its answer
    (with the claim's copy in this clone's mirror) comes back only after the
    slot had its chance: a take of its own then lost to the claim on the
    remote, found no holder in the mirror, skipped the trial, and left the
    claim behind for good.
    """
    kit.queue(logging_project, "s", "train.lr=[0.01, 0.02, 0.03]")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    here = kit.clone(remote.root, tmp_path / "here")
    other_result, slot_asked, ahead_landed, slot_tried = (threading.Event() for _ in range(4))
    real_push, real_take, real_next = Git.push, Claims.take, LocalExecutor.next_trial

    def push(git, spec, updates, atomic=True):
        result = any(u.ref.startswith("refs/heads/") and u.new != u.old for u in updates)
        creates_claim = any(u.old == ZERO_OID for u in updates)
        if result and creates_claim:
            assert slot_asked.wait(30)  # the other thread's result landed and its slot asked for a trial
        elif creates_claim and slot_asked.is_set():
            assert ahead_landed.wait(30)  # that slot's take goes once the result's push has landed
        rejected = real_push(git, spec, updates, atomic)
        if result and creates_claim:
            ahead_landed.set()
            assert slot_tried.wait(30)  # the answer comes back once that slot took the trial, or found none
        elif result:
            other_result.set()
        return rejected

    def take(claims, trial):
        claim = real_take(claims, trial)
        if ahead_landed.is_set():
            slot_tried.set()
            while claim is None and not claims.holds_ahead(trial.ref.key):  # skipped: the source hears so once that
                time.sleep(0.01)  # push's answer is in, and knows the claim in its view as this clone's own
        return claim

    def next_trial(executor):
        trial = real_next(executor)
        if other_result.is_set():
            slot_asked.set()
            if trial is None:
                slot_tried.set()
        return trial

    monkeypatch.setattr(Git, "push", push)
    monkeypatch.setattr(Claims, "take", take)
    monkeypatch.setattr(LocalExecutor, "next_trial", next_trial)
    worker = Worker(here, resolve_remote(here, "origin"), WorkerOptions(RunOptions(jobs=2), poll=0.2))
    worker.connect()

    summary = worker.run()

    assert claims_on(remote) == []
    assert (len(summary.finished), summary.skipped) == (3, [])
    assert kit.runs(runs_log) == {"s/t001": 1, "s/t002": 1, "s/t003": 1}
    assert kit.result_counts(remote) == {f"refs/heads/exp/s/t00{i}": 1 for i in (1, 2, 3)}


def test_a_result_push_that_lost_its_own_part_names_no_other_next_trial(kit, logging_project, tmp_path):
    kit.queue(logging_project, "s", "train.lr=[0.01, 0.02]")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    a, b = kit.clone(remote.root, tmp_path / "a"), kit.clone(remote.root, tmp_path / "b")
    claims, trials = remote_claims(a, "a"), remote_trials(a)
    first = claims.take(trials["s/t001"])
    theirs = remote_trials(b)["s/t001"]  # another runner's result landed first (it took the claim over, say)
    result = b.commit_tree(f"{theirs.tip}^{{tree}}", "gitexp: result\n\nGitexp-Status: failed\nGitexp-Host: b\n", [theirs.tip])
    assert RemoteRefs(b, resolve_remote(b, "origin")).swap([RefUpdate(theirs.ref.ref, result, theirs.tip)])
    refused = []

    landed = claims.publish(trials["s/t001"], hand_made_result(a, trials["s/t001"]), first, trials["s/t002"], refused.append)
    assert not landed and refused == []
    assert claims_on(remote) == [] and kit.result_counts(remote) == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 0}
