"""``gitexp run`` of a sweep that a remote shares claims its trials there, with workers and runs in other clones.

"Runs once" is counted where it happens (the stage appends each trial it runs
to one file outside the repositories); "lands once" on the remote (result
commits per trial branch). A sweep never shared runs as before, without the network.
"""

from __future__ import annotations

from gitexp.store.git import Git

FAST = ["--heartbeat", "0.2", "--poll", "0.2"]


def shared_project(kit, run_gitexp, project: Git, bare: Git, *sets: str) -> None:
    """Queue sweep ``s`` in ``project`` and ``gitexp push`` it (and main) to ``bare`` as origin."""
    project.run("remote", "add", "origin", str(bare.root))
    project.run("push", "-q", "origin", "main")
    kit.queue(project, "s", *sets)
    pushed = run_gitexp(project.root, "push", "--no-dvc")
    assert pushed.code == 0, pushed.err


def pulled_clone(kit, run_gitexp, bare: Git, path) -> Git:
    clone = kit.clone(bare.root, path)
    pulled = run_gitexp(clone.root, "pull", "--no-dvc")
    assert pulled.code == 0, pulled.err
    return clone


def claims_on(git: Git) -> list[str]:
    return git.run("for-each-ref", "--format=%(refname)", "refs/gitexp/claims/").split()


def finished(output: str) -> list[str]:
    return [line.split()[2] for line in output.splitlines() if line.startswith("[") and line.split()[1] in ("succeeded", "failed")]


def test_two_runs_and_two_workers_in_four_clones_run_each_trial_once(kit, logging_project, runs_log, run_gitexp, tmp_path):
    bare = Git(tmp_path / "remote.git")
    Git(tmp_path).run("init", "-q", "--bare", "-b", "main", str(bare.root))
    grid = ["train.lr=[0.05, 0.1, 0.2, 0.3]", "train.n_est=[10, 20, 30]", "train.sleep=0.2"]
    shared_project(kit, run_gitexp, logging_project, bare, *grid)  # a run where the sweep was pushed from
    other = pulled_clone(kit, run_gitexp, bare, tmp_path / "other")  # a run where it was pulled into
    workers = [kit.clone(bare.root, tmp_path / f"w{i}") for i in range(2)]
    processes = [
        kit.gitexp(logging_project.root, "run"),
        kit.gitexp(other.root, "run", "-j", "2"),
        *(kit.gitexp(w.root, "worker", "--remote", "origin", "--worker-id", f"w{i}", *FAST) for i, w in enumerate(workers)),
    ]
    outputs = [proc.communicate(timeout=180) for proc in processes]
    assert [proc.returncode for proc in processes] == [0, 0, 0, 0], outputs

    ran = kit.runs(runs_log)
    assert len(ran) == 12 and set(ran.values()) == {1}, ran  # each trial ran exactly once, somewhere
    counts = kit.result_counts(bare)
    assert len(counts) == 12 and set(counts.values()) == {1}, counts  # one result each on the remote, 0 duplicates
    assert claims_on(bare) == [] and claims_on(logging_project) == [] and claims_on(other) == []
    by_runs = [finished(out) for out, _ in outputs[:2]]
    by_workers = [line.split()[1] for out, _ in outputs[2:] for line in out.splitlines() if line.startswith("succeeded")]
    assert sorted(by_runs[0] + by_runs[1] + by_workers) == sorted(ran)
    note = "Claimed and published on origin, which shares s: gitexp pull brings the results of other runners"
    for clone, mine, (out, _) in zip((logging_project, other), by_runs, outputs):
        assert note in out.splitlines()
        for key in mine:  # a run's own results are on its clone's branches too, the same commits as on the remote
            assert clone.rev_parse(f"refs/heads/exp/{key}") == bare.rev_parse(f"refs/heads/exp/{key}")


def test_a_run_leaves_trials_a_live_worker_holds_and_takes_over_a_dead_ones(kit, logging_project, runs_log, run_gitexp, tmp_path):
    import time

    from gitexp.execution.claims import Claims, Runner
    from gitexp.store.records import Ledger
    from gitexp.store.remote import RemoteRefs, TrackingView, fetch_experiments, resolve_remote

    bare = Git(tmp_path / "remote.git")
    Git(tmp_path).run("init", "-q", "--bare", "-b", "main", str(bare.root))
    shared_project(kit, run_gitexp, logging_project, bare, "train.lr=[0.05, 0.1, 0.2]")
    elsewhere = kit.clone(bare.root, tmp_path / "elsewhere")
    remote = resolve_remote(elsewhere, "origin")
    fetch_experiments(elsewhere, remote, ["exp/"])
    trials = {t.ref.key: t for t in Ledger(TrackingView(elsewhere, remote)).trials()}

    def claims(worker, clock=time.time):
        return Claims(elsewhere, RemoteRefs(elsewhere, remote), Runner(worker, clone=f"clone-{worker}"), clock=clock)

    assert claims("dead", clock=lambda: time.time() - 3600).take(trials["s/t001"])  # a worker that died an hour ago
    assert claims("alive").take(trials["s/t002"])  # a worker running it now

    result = run_gitexp(logging_project.root, "run")

    assert result.code == 0, result.err
    assert kit.runs(runs_log) == {"s/t001": 1, "s/t003": 1}
    assert kit.result_counts(bare) == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 0, "refs/heads/exp/s/t003": 1}
    assert claims_on(bare) == ["refs/gitexp/claims/s/t002"]  # the live claim stays, the run's own are dropped
    assert kit.result_counts(logging_project) == kit.result_counts(bare)


def test_a_sweep_never_pushed_runs_here_without_the_network(kit, logging_project, runs_log, run_gitexp, tmp_path):
    logging_project.run("remote", "add", "origin", str(tmp_path / "nowhere.git"))  # any fetch or push would fail
    kit.queue(logging_project, "s", "train.lr=[0.05, 0.1]")

    result = run_gitexp(logging_project.root, "run")

    assert result.code == 0, result.err
    assert kit.runs(runs_log) == {"s/t001": 1, "s/t002": 1}
    assert kit.result_counts(logging_project) == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 1}
    assert logging_project.run("for-each-ref", "refs/gitexp/remotes/") == ""


def test_a_shared_sweep_whose_remote_cannot_be_reached_is_not_run(kit, logging_project, runs_log, run_gitexp, tmp_path, repo_state):
    bare = Git(tmp_path / "remote.git")
    Git(tmp_path).run("init", "-q", "--bare", "-b", "main", str(bare.root))
    shared_project(kit, run_gitexp, logging_project, bare, "train.lr=[0.05, 0.1]")
    logging_project.run("remote", "set-url", "origin", str(tmp_path / "gone.git"))
    before = repo_state(logging_project)

    result = run_gitexp(logging_project.root, "run")

    assert result.code == 1 and result.out == "" and result.err.count("\n") == 1, result.err
    assert result.err.startswith("gitexp: error: cannot reach origin, which shares sweep s (")
    assert result.err.endswith(
        "gitexp run claims a shared sweep's trials there, so that no worker runs one twice; check the remote and run again\n"
    )
    assert kit.runs(runs_log) == {} and repo_state(logging_project) == before


def test_a_sweep_on_two_remotes_is_refused_with_the_worker_to_use(kit, logging_project, runs_log, run_gitexp, tmp_path, repo_state):
    bare = Git(tmp_path / "remote.git")
    Git(tmp_path).run("init", "-q", "--bare", "-b", "main", str(bare.root))
    shared_project(kit, run_gitexp, logging_project, bare, "train.lr=[0.05, 0.1]")
    Git(tmp_path).run("clone", "-q", "--bare", str(bare.root), str(tmp_path / "backup.git"))
    logging_project.run("remote", "add", "backup", str(tmp_path / "backup.git"))
    assert run_gitexp(logging_project.root, "push", "backup", "--no-dvc").code == 0
    before = repo_state(logging_project)

    result = run_gitexp(logging_project.root, "run", "s")

    assert result.code == 2 and result.out == ""
    assert result.err == (
        "gitexp: error: sweep s is shared on backup and origin, and its trials are claimed on one remote: "
        "run them with gitexp worker --remote NAME, naming the one its workers use\n"
    )
    assert kit.runs(runs_log) == {} and repo_state(logging_project) == before


def test_a_sweep_queued_again_under_a_removed_shared_name_runs_here(kit, logging_project, runs_log, run_gitexp, tmp_path):
    bare = Git(tmp_path / "remote.git")
    Git(tmp_path).run("init", "-q", "--bare", "-b", "main", str(bare.root))
    shared_project(kit, run_gitexp, logging_project, bare, "train.lr=[0.05, 0.1]")
    assert run_gitexp(logging_project.root, "remove", "s").code == 0  # here only: origin keeps its sweep s
    kit.queue(logging_project, "s", "train.lr=0.3")

    result = run_gitexp(logging_project.root, "run")

    assert result.code == 0, result.err
    assert kit.runs(runs_log) == {"s/t001": 1}
    assert kit.result_counts(logging_project) == {"refs/heads/exp/s/t001": 1}
    assert kit.result_counts(bare) == {"refs/heads/exp/s/t001": 0, "refs/heads/exp/s/t002": 0}  # origin's sweep s untouched


# -- the converse: a sweep pushed while a run here claims its trials in this clone ----------------


def wait_for(condition, seconds: float = 60) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_push_refuses_a_sweep_whose_trial_a_local_run_here_runs(kit, logging_project, runs_log, run_gitexp, tmp_path, repo_state):
    Git(tmp_path).run("init", "-q", "--bare", "-b", "main", str(tmp_path / "remote.git"))
    logging_project.run("remote", "add", "origin", str(tmp_path / "remote.git"))
    kit.queue(logging_project, "s", "train.lr=0.1", "train.sleep=3")
    running = kit.gitexp(logging_project.root, "run")
    wait_for(lambda: claims_on(logging_project))
    before = repo_state(logging_project)

    pushed = run_gitexp(logging_project.root, "push", "--no-dvc")

    assert pushed.code == 2 and pushed.out == "", pushed.err
    assert pushed.err == (
        "gitexp: error: s/t001 is running in a gitexp run here that claims its trials in this clone, "
        "and workers would run them again: gitexp push s once that run ends\n"
    )
    assert repo_state(logging_project) == before
    assert Git(tmp_path / "remote.git").run("for-each-ref") == ""
    assert running.wait(timeout=60) == 0
    assert run_gitexp(logging_project.root, "push", "--no-dvc").code == 0  # the run ended: the result goes


def test_a_local_run_leaves_the_rest_of_a_sweep_pushed_meanwhile_to_the_remotes_workers(
    kit, logging_project, runs_log, run_gitexp, tmp_path
):
    from gitexp.execution.local import LocalExecutor, RunOptions, StaticTrials
    from gitexp.store.records import Ledger

    bare = Git(tmp_path / "remote.git")
    Git(tmp_path).run("init", "-q", "--bare", "-b", "main", str(bare.root))
    logging_project.run("remote", "add", "origin", str(bare.root))
    logging_project.run("push", "-q", "origin", "main")
    kit.queue(logging_project, "s", "train.lr=[0.05, 0.1, 0.2, 0.3]")

    class PushedAfterTheFirst(StaticTrials):
        def finished(self, trial, outcome):  # between two trials, the user pushes the sweep
            if not kit.result_counts(bare):
                assert run_gitexp(logging_project.root, "push", "--no-dvc").code == 0

    summary = LocalExecutor(logging_project, RunOptions()).run(PushedAfterTheFirst(Ledger(logging_project).trials()))
    worker = kit.clone(bare.root, tmp_path / "worker")
    result = run_gitexp(worker.root, "worker", "--remote", "origin", *FAST)

    assert result.code == 0, result.err
    assert [t.ref.key for t, _ in summary.finished] == ["s/t001"] and len(summary.skipped) == 3
    ran = kit.runs(runs_log)
    assert len(ran) == 4 and set(ran.values()) == {1}, ran
    assert kit.result_counts(bare) == {f"refs/heads/exp/s/t00{i}": 1 for i in range(1, 5)}


# -- extending a shared sweep ------------------------------------------------------------------


def test_run_more_extends_a_shared_sweep_on_its_remote_and_runs_the_new_trials(kit, logging_project, runs_log, run_gitexp, tmp_path):
    from gitexp.planning.queue import QueueRequest, queue_sweep
    from gitexp.store.records import Ledger
    from gitexp.sweep.spec import spec_from_flags

    bare = Git(tmp_path / "remote.git")
    Git(tmp_path).run("init", "-q", "--bare", "-b", "main", str(bare.root))
    logging_project.run("remote", "add", "origin", str(bare.root))
    logging_project.run("push", "-q", "origin", "main")
    queue_sweep(logging_project, QueueRequest(spec_from_flags(["train.lr=[0.05, 0.1, 0.2, 0.3]"], num_trials=1), "s"))
    assert run_gitexp(logging_project.root, "push", "--no-dvc").code == 0
    record_here = logging_project.rev_parse("refs/gitexp/sweeps/s")

    result = run_gitexp(logging_project.root, "run", "s", "--more", "2")

    assert result.code == 0, result.err
    assert kit.runs(runs_log) == {"s/t001": 1, "s/t002": 1, "s/t003": 1}
    assert kit.result_counts(bare) == {f"refs/heads/exp/s/t00{i}": 1 for i in range(1, 4)}  # the new trials ran, there
    there = Ledger(bare).sweep("s")
    assert there.spec["max_trials"] == 3 and bare.is_ancestor(record_here, there.commit)  # the extension is the remote's
    assert logging_project.rev_parse("refs/gitexp/sweeps/s") == record_here  # here it arrives with gitexp pull
    assert claims_on(bare) == []
    assert "Claimed and published on origin, which shares s" in result.out


def test_run_more_beyond_a_shared_grid_is_refused_before_anything_is_written(
    kit, logging_project, runs_log, run_gitexp, tmp_path, repo_state
):
    bare = Git(tmp_path / "remote.git")
    Git(tmp_path).run("init", "-q", "--bare", "-b", "main", str(bare.root))
    shared_project(kit, run_gitexp, logging_project, bare, "train.lr=[0.05, 0.1]")
    before, remote_before = repo_state(logging_project), bare.run("for-each-ref")

    result = run_gitexp(logging_project.root, "run", "s", "--more", "1")

    assert result.code == 2 and result.out == "", result.err
    assert result.err == "gitexp: error: sweep s has 0 untried point(s) of its 2: queue a new sweep with more values\n"
    assert repo_state(logging_project) == before and bare.run("for-each-ref") == remote_before
    assert kit.runs(runs_log) == {}
