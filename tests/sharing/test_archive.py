"""archive and restore: finished trials leave the branch list and come back, every ref and result intact."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitexp.sharing.archive import ArchiveRequest, archive, restore
from gitexp.store.git import FastImportCommit, Git, RefUpdate
from gitexp.store.records import Ledger, dumps_compact, format_message
from gitexp.store.refstore import LocalRefs
from tests.conftest import wait_for_orphans


def refs(git: Git, *patterns: str) -> dict[str, str]:
    out = git.run("for-each-ref", "--format=%(refname) %(objectname)", *patterns)
    return dict(line.split(" ") for line in out.splitlines())


def shown(run_gitexp, git: Git, *args: str) -> list[dict]:
    result = run_gitexp(git.root, "show", "--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)["trials"]


def test_archive_then_restore_round_trips_every_ref_and_result(reviewed_project, run_gitexp):
    git = reviewed_project
    before = refs(git)
    rows = shown(run_gitexp, git)
    assert len([r for r in rows if r["trial"] != "baseline"]) == 6

    result = run_gitexp(git.root, "archive", "s")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == "Archived 6 trial(s) of s"
    assert refs(git, "refs/heads/exp/") == {}  # the branch list holds only live work
    archived = refs(git, "refs/gitexp/archive/")
    assert archived == {ref.replace("refs/heads/exp/", "refs/gitexp/archive/"): oid for ref, oid in before.items() if ref.startswith("refs/heads/exp/")}
    assert "Gitexp-Status: succeeded" in git.run("log", "-1", "--format=%B", "refs/gitexp/archive/s/t001")
    assert [r["trial"] for r in shown(run_gitexp, git)] == ["baseline"]
    with_archived = shown(run_gitexp, git, "--archived")
    assert [dict(r, branch=None, archived=None) for r in with_archived] == [dict(r, branch=None, archived=None) for r in rows]
    assert all(r.get("archived") for r in with_archived[1:])
    report = run_gitexp(git.root, "report", "s")
    assert report.code == 0 and "s/t001" in report.out or "t001" in report.out

    restored = run_gitexp(git.root, "restore", "s")
    assert restored.code == 0, restored.err
    record = "refs/gitexp/sweeps/s"
    assert {r: o for r, o in refs(git).items() if r != record} == {r: o for r, o in before.items() if r != record}
    assert git.run("show", f"{record}:sweep.json") == git.run("show", f"{before[record]}:sweep.json")
    assert git.is_ancestor(before[record], record)  # the record noted the archive, then its end: history kept
    assert shown(run_gitexp, git) == rows
    assert not list((git.root / ".git/refs").rglob("*.lock"))


def test_keep_best_and_older_than_leave_trials_live(reviewed_project):
    git = reviewed_project
    spec = json.loads(git.run("show", "refs/gitexp/sweeps/s:sweep.json"))
    assert spec["spec"]["objective"]["metric"] == "score"
    best = max((t for t in Ledger(git).trials(["s"]) if "score" in t.metrics), key=lambda t: t.metrics["score"])

    assert archive(git, ArchiveRequest(("s",), older_than=3600.0)).trials == []  # every result is minutes old
    moved = archive(git, ArchiveRequest(("s",), keep_best=1))

    assert len(moved.trials) == 5 and moved.kept == {best.ref.key: "among the best"}
    assert list(refs(git, "refs/heads/exp/")) == [best.ref.ref]
    assert len(restore(git, ["s"]).trials) == 5


def test_queued_and_checked_out_trials_stay_branches(reviewed_project, run_gitexp):
    git = reviewed_project
    assert run_gitexp(git.root, "queue", "--name", "q", "--set", "train.lr=[0.2]").code == 0
    git.run("checkout", "-q", "exp/s/t002")
    moved = archive(git, ArchiveRequest(("s", "q")))
    assert sorted(moved.kept.items()) == [("q/t001", "not finished"), ("s/t002", "checked out here")]
    assert sorted(refs(git, "refs/heads/exp/")) == ["refs/heads/exp/q/t001", "refs/heads/exp/s/t002"]


# -- kill -9 ----------------------------------------------------------------------------

TRIALS = 3000


def finished_sweep(git: Git, run_gitexp, name: str, count: int) -> None:
    """``count`` trials queued, each with a result commit (fast-import), as gitexp run would leave them."""
    assert run_gitexp(git.root, "queue", "--name", name, "--set", f"train.n_est=range(0, {count})").code == 0
    trials = Ledger(git).trials([name])
    commits = []
    for i, trial in enumerate(trials):
        trailers = {"Gitexp-Sweep": name, "Gitexp-Trial": trial.name, "Gitexp-Status": "succeeded",
                    "Gitexp-Params": dumps_compact(trial.params), "Gitexp-Metrics": dumps_compact({"score": i})}
        message = format_message(f"gitexp: {trial.ref.key} succeeded", trailers)
        commits.append(FastImportCommit(trial.tip, message, {"metrics.json": ("100644", b'{"score": %d}\n' % i)}))
    oids = git.fast_import(commits, "refs/gitexp/tmp/test")
    assert LocalRefs(git).swap([RefUpdate(t.ref.ref, o, t.tip) for t, o in zip(trials, oids)], ["refs/gitexp/tmp/test"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds orphaned processes through /proc")
def test_kill_9_of_archive_leaves_every_trial_archived_or_live(project, run_gitexp):
    finished_sweep(project, run_gitexp, "big", TRIALS)
    tips = {ref.rsplit("/", 1)[1]: oid for ref, oid in refs(project, "refs/heads/exp/big/").items()}
    rng = random.Random(17)
    outcomes = set()
    for attempt in range(4):
        process = subprocess.Popen([sys.executable, "-m", "gitexp", "archive", "big"], cwd=project.root,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(0.3, 1.2))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        wait_for_orphans(project.root)
        live = {ref.rsplit("/", 1)[1]: oid for ref, oid in refs(project, "refs/heads/exp/big/").items()}
        kept = {ref.rsplit("/", 1)[1]: oid for ref, oid in refs(project, "refs/gitexp/archive/big/").items()}
        assert not live.keys() & kept.keys() and {**live, **kept} == tips  # each trial once, at its result
        assert len(kept) in (0, TRIALS), len(kept)
        outcomes.add(len(kept))
        if kept:
            assert run_gitexp(project.root, "restore", "big").code == 0
    assert run_gitexp(project.root, "archive", "big").code == 0  # whatever a kill left is cleaned up first
    assert not list((project.root / ".git").rglob("*.lock"))
    assert len(refs(project, "refs/gitexp/archive/big/")) == TRIALS


@pytest.mark.slow
def test_twenty_thousand_trials_queue_into_packed_refs(project, run_gitexp):
    result = run_gitexp(project.root, "queue", "--name", "huge", "--set", "train.n_est=range(0, 20000)")
    assert result.code == 0, result.err
    assert len(refs(project, "refs/heads/exp/huge/")) == 20000
    loose = [p for p in (project.root / ".git/refs").rglob("*") if p.is_file()]
    assert [p.name for p in loose] == ["main"]
    assert not (project.root / ".git/logs/refs/heads/exp").exists()
    assert project.run_process("fsck", "--no-progress", "--connectivity-only").returncode == 0


# -- push and pull carry archives; a remote's branch list holds only live work ----------


def remote_refs(path: Path) -> dict[str, str]:
    out = Git(path).run("for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ") for line in out.splitlines())


def test_push_and_pull_carry_archives_and_leave_only_live_branches(reviewed_project, bare_remote, run_gitexp):
    git = reviewed_project
    git.run("remote", "add", "origin", str(bare_remote))
    git.run("push", "-q", "origin", "main")
    assert run_gitexp(git.root, "push", "--no-dvc").code == 0
    other = Git(git.root.parent / "other")
    Git(git.root.parent).run("clone", "-q", str(bare_remote), str(other.root))
    assert run_gitexp(other.root, "pull", "--no-dvc").code == 0
    tips = refs(git, "refs/heads/exp/")

    assert run_gitexp(git.root, "archive", "s").code == 0
    pushed = run_gitexp(git.root, "push", "--no-dvc")
    assert pushed.code == 0, pushed.err
    there = remote_refs(bare_remote)
    assert not [ref for ref in there if ref.startswith("refs/heads/exp/")]  # only live work: main
    assert {ref: oid for ref, oid in there.items() if ref.startswith("refs/gitexp/archive/")} == {
        ref.replace("refs/heads/exp/", "refs/gitexp/archive/"): oid for ref, oid in tips.items()
    }

    pulled = run_gitexp(other.root, "pull", "--no-dvc")
    assert pulled.code == 0, pulled.err
    assert refs(other, "refs/heads/exp/") == {}  # archived there, so archived here: never both
    assert len(refs(other, "refs/gitexp/archive/s/")) == 6
    assert len(shown(run_gitexp, other, "--archived")) == 7

    assert run_gitexp(other.root, "restore", "s/t001").code == 0
    again = run_gitexp(other.root, "push", "--no-dvc")  # the archive on origin wins over a branch at its commit
    assert "left exp/s/t001: archived on the other side (origin): gitexp pull first" in again.out
    assert "refs/heads/exp/s/t001" not in remote_refs(bare_remote)


def test_restore_of_what_only_a_remote_has_archived_says_to_pull_it_first(reviewed_project, bare_remote, run_gitexp, repo_state):
    git = reviewed_project
    git.run("remote", "add", "origin", str(bare_remote))
    git.run("push", "-q", "origin", "main")
    assert run_gitexp(git.root, "archive", "s").code == 0
    assert run_gitexp(git.root, "push", "--no-dvc").code == 0
    other = Git(git.root.parent / "other")
    Git(git.root.parent).run("clone", "-q", str(bare_remote), str(other.root))  # no gitexp pull yet
    before = repo_state(other)

    for name in ("s", "s/t002"):
        result = run_gitexp(other.root, "restore", name)
        assert result.code == 2 and result.err == (
            f"gitexp: error: {name} is archived on origin, not here: gitexp pull origin s, then gitexp restore {name}\n"
        )
    missing = run_gitexp(other.root, "restore", "s/t099")
    assert missing.code == 2 and "nothing archived is named 's/t099'" in missing.err
    assert repo_state(other) == before

    assert run_gitexp(other.root, "pull", "origin", "s", "--no-dvc").code == 0  # as the line says
    assert run_gitexp(other.root, "restore", "s/t002").code == 0
    assert "refs/heads/exp/s/t002" in refs(other, "refs/heads/exp/")
