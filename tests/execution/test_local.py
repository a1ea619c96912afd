"""The local executor on real DVC: parallel worktrees, result commits, failures, an untouched workspace."""

import json

from gitexp.execution.local import LocalExecutor, RunOptions, StaticTrials
from gitexp.planning.queue import QueueRequest, queue_sweep
from gitexp.store.records import Ledger, parse_trailers
from gitexp.sweep.spec import spec_from_flags


def run_all(git, **options):
    trials = [t for t in Ledger(git).trials() if t.status == "queued"]
    events = []
    summary = LocalExecutor(git, RunOptions(**options), events.append).run(StaticTrials(trials))
    return summary, events


def test_parallel_run_appends_one_result_commit_per_trial(project, repo_state):
    queue_sweep(project, QueueRequest(spec_from_flags(["train.lr=[0.05, 0.1, 0.2]", "train.fail=[false, true]"]), "s"))
    before = repo_state(project)
    summary, events = run_all(project, jobs=2)
    after = repo_state(project)
    # only refs moved, and the shared DVC cache (ignored by Git) grew
    after["status"] = "".join(line for line in after["status"].splitlines(True) if "!! .dvc/cache/" not in line)
    assert {k: v for k, v in after.items() if k != "refs"} == {k: v for k, v in before.items() if k != "refs"}
    assert len(summary.finished) == 6 and len(summary.failed) == 3
    assert [e.kind for e in events].count("started") == 6
    trials = {t.name: t for t in Ledger(project).trials(["s"])}
    ok, bad = trials["t003"], trials["t004"]  # lr=0.1 fail=false / lr=0.1 fail=true
    assert ok.status == "succeeded" and ok.metrics == {"score": 0.995, "test.auc": 0.4975}
    assert bad.status == "failed"
    # the result commit sits on the trial commit and holds what DVC produced
    trial_commit = project.run("rev-parse", f"{ok.tip}^").strip()
    assert parse_trailers(project.run("log", "-1", "--format=%B", trial_commit)).get("Gitexp-Status") is None
    changed = project.run("diff", "--name-only", trial_commit, ok.tip).split()
    assert changed == ["dvc.lock", "metrics.json"]
    assert json.loads(project.read_blob(ok.tip, "metrics.json"))["score"] == 0.995
    assert "lr: 0.1" in project.read_blob(ok.tip, "dvc.lock").decode()
    # a failure keeps its log, in the commit message and on disk
    assert project.run("diff", "--name-only", f"{bad.tip}^", bad.tip) == ""
    assert "training diverged" in bad.message
    log = project.common_dir() / "gitexp" / "logs" / "s" / "t004.log"
    assert "training diverged" in log.read_text()
    # worktrees are gone, and nothing is left queued
    assert len(project.run("worktree", "list").splitlines()) == 1
    assert run_all(project, jobs=2)[0].finished == []


def test_timeout_marks_trial_failed(project):
    (project.root / "params.yaml").write_text((project.root / "params.yaml").read_text().replace("fail: false", "fail: false\n  sleep: 0"))
    project.run("commit", "-qam", "sleep param")
    queue_sweep(project, QueueRequest(spec_from_flags(["train.sleep=[30]"]), "slow"))
    summary, _ = run_all(project, timeout=2)
    (trial, outcome), = summary.finished
    assert outcome.status == "failed" and "timed out" in outcome.reason and outcome.duration < 20
    assert Ledger(project).trials(["slow"])[0].status == "failed"


def test_retry_failed_puts_new_result_on_top(project):
    queue_sweep(project, QueueRequest(spec_from_flags(["train.fail=true"]), "r"))
    run_all(project)
    failed = Ledger(project).trials(["r"])[0]
    assert failed.status == "failed"
    summary = LocalExecutor(project, RunOptions(retry_failed=True)).run(StaticTrials([failed]))
    again = Ledger(project).trials(["r"])[0]
    assert len(summary.finished) == 1
    assert project.run("rev-parse", f"{again.tip}^").strip() == failed.tip
