"""push, pull, apply and remove against real remotes: a bare repository on disk and git daemon."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitexp.execution.claims import Claims, Runner
from gitexp.store.git import Git
from gitexp.store.layout import trial_lock_path
from gitexp.store.locks import TrialLock
from gitexp.store.records import Ledger
from gitexp.store.remote import RemoteRefs, resolve_remote

TRIALS = [f"refs/heads/exp/s/t00{index}" for index in range(1, 7)]
SHARED = ["refs/gitexp/sweeps/s", *TRIALS]


def refs_of(git: Git, *patterns: str) -> dict[str, str]:
    out = git.run("for-each-ref", "--format=%(refname) %(objectname)", *patterns)
    return dict(line.split() for line in out.splitlines())


def remote_refs(path_or_url: str | Path) -> dict[str, str]:
    out = Git(Path.cwd()).run("ls-remote", "--refs", str(path_or_url))
    return {ref: oid for oid, ref in (line.split("\t") for line in out.splitlines())}


def clone(url: str | Path, path: Path) -> Git:
    Git(path.parent).run("clone", "-q", str(url), str(path))
    return Git(path)


@pytest.fixture
def shared(reviewed_project, bare_remote, run_gitexp):
    """The reviewed project pushed to a bare ``origin``, and a second clone of that remote."""
    reviewed_project.run("remote", "add", "origin", str(bare_remote))
    reviewed_project.run("push", "-q", "origin", "main")
    result = run_gitexp(reviewed_project.root, "push", "--no-dvc")
    assert result.code == 0, result.err
    other = clone(bare_remote, reviewed_project.root.parent / "other")
    return reviewed_project, other, bare_remote


def test_push_sends_the_sweep_and_every_trial_branch_then_nothing_more(reviewed_project, bare_remote, run_gitexp):
    reviewed_project.run("remote", "add", "origin", str(bare_remote))

    first = run_gitexp(reviewed_project.root, "push", "--no-dvc")
    again = run_gitexp(reviewed_project.root, "push", "origin", "s", "--no-dvc")

    assert first.code == 0 and first.out.splitlines() == ["Pushed to origin: 7 new, 0 updated, 0 up to date"]
    assert remote_refs(bare_remote) == {ref: oid for ref, oid in refs_of(reviewed_project).items() if ref in SHARED}
    assert again.out.splitlines() == ["Pushed to origin: 0 new, 0 updated, 7 up to date"]


def test_pull_into_another_clone_brings_the_results(shared, run_gitexp):
    project, other, _ = shared

    result = run_gitexp(other.root, "pull", "--no-dvc")

    assert result.code == 0, result.err
    assert result.out.splitlines() == ["Pulled from origin: 7 new, 0 updated, 0 up to date"]
    assert {ref: oid for ref, oid in refs_of(other).items() if ref in SHARED} == {
        ref: oid for ref, oid in refs_of(project).items() if ref in SHARED
    }
    assert refs_of(other, "refs/gitexp/incoming/") == {}  # the staging area is emptied
    shown = json.loads(run_gitexp(other.root, "show", "s", "--json").out)["trials"]
    assert [row["status"] for row in shown[1:]] == ["succeeded"] * 4 + ["failed"] * 2
    assert shown[3]["metrics"] == {"score": 0.999, "test.auc": 0.4995}


def test_results_travel_both_ways_as_fast_forwards(shared, run_gitexp):
    project, other, remote = shared
    result_commit = project.rev_parse("exp/s/t003")
    project.run("update-ref", "refs/heads/exp/s/t003", f"{result_commit}^")  # as if t003 had not run yet here
    run_gitexp(other.root, "pull", "--no-dvc")

    pushed_behind = run_gitexp(project.root, "push", "--no-dvc")
    pulled = run_gitexp(project.root, "pull", "origin", "s", "--no-dvc")

    assert "left exp/s/t003: newer on the remote: gitexp pull first" in pushed_behind.out
    assert remote_refs(remote)["refs/heads/exp/s/t003"] == result_commit
    assert pulled.out.splitlines()[0] == "Pulled from origin: 0 new, 1 updated, 6 up to date"
    assert project.rev_parse("exp/s/t003") == result_commit


def test_diverged_branches_are_left_alone_both_ways(shared, run_gitexp):
    project, other, remote = shared
    run_gitexp(other.root, "pull", "--no-dvc")
    for git, message in ((project, "here"), (other, "there")):
        tip = git.rev_parse("exp/s/t001")
        trailers = "Gitexp-Sweep: s\nGitexp-Trial: t001\nGitexp-Status: succeeded"
        commit = git.run("commit-tree", f"{tip}^{{tree}}", "-p", tip, "-m", message, "-m", trailers).strip()
        git.run("update-ref", "refs/heads/exp/s/t001", commit)
    assert run_gitexp(other.root, "push", "--no-dvc").out.splitlines()[0].startswith("Pushed to origin: 0 new, 1 updated")
    before = project.rev_parse("exp/s/t001")

    pulled = run_gitexp(project.root, "pull", "--no-dvc")
    pushed = run_gitexp(project.root, "push", "--no-dvc")

    assert "left exp/s/t001: diverged from the remote" in pulled.out
    assert "left exp/s/t001: diverged from the remote" in pushed.out
    assert project.rev_parse("exp/s/t001") == before
    assert remote_refs(remote)["refs/heads/exp/s/t001"] == other.rev_parse("exp/s/t001")


def test_after_a_pull_trials_that_workers_hold_show_as_running(shared, run_gitexp):
    project, other, _ = shared
    assert run_gitexp(project.root, "queue", "--name", "q", "--set", "train.lr=[0.2, 0.3, 0.4]").code == 0
    assert run_gitexp(project.root, "push", "q", "--no-dvc").code == 0
    assert run_gitexp(other.root, "pull", "q", "--no-dvc").code == 0
    trials = {t.name: t for t in Ledger(other).trials(["q"])}
    origin = RemoteRefs(other, resolve_remote(other, "origin"))
    worker = Claims(other, origin, Runner("w1", "c1"))
    claim = worker.take(trials["t001"])
    assert claim is not None
    an_hour_ago = lambda: time.time() - 3600  # noqa: E731 - a worker that died an hour ago
    assert Claims(other, origin, Runner("w2", "c2"), clock=an_hour_ago).take(trials["t002"])

    assert "q  grid  3 trials: 3 queued" in run_gitexp(project.root, "status").out  # not fetched yet
    assert run_gitexp(project.root, "pull", "--no-dvc").code == 0

    assert "q  grid  3 trials: 2 queued, 1 running" in run_gitexp(project.root, "status").out
    rows = json.loads(run_gitexp(project.root, "show", "q", "--json").out)["trials"]
    assert {row["trial"]: row["status"] for row in rows[1:]} == {"t001": "running", "t002": "queued", "t003": "queued"}
    worker.release(claim)
    assert run_gitexp(project.root, "pull", "--no-dvc").code == 0
    assert "q  grid  3 trials: 3 queued" in run_gitexp(project.root, "status").out  # its claim is gone there


def test_pull_keeps_out_branches_that_are_not_trials(shared, run_gitexp):
    project, other, _ = shared
    base = project.rev_parse("main")
    project.run("push", "-q", "origin", f"{base}:refs/heads/exp/s/not-a-trial", f"{base}:refs/heads/feature/s/x")

    result = run_gitexp(other.root, "pull", "--no-dvc")

    assert result.code == 0
    assert "refs/heads/exp/s/not-a-trial" not in refs_of(other) and "refs/heads/feature/s/x" not in refs_of(other)


def test_push_and_pull_through_git_daemon(reviewed_project, git_daemon, run_gitexp, tmp_path):
    base, url = git_daemon
    Git(base).run("init", "-q", "--bare", str(base / "lab.git"))
    reviewed_project.run("remote", "add", "lab", f"{url}/lab.git")

    pushed = run_gitexp(reviewed_project.root, "push", "lab", "s", "--no-dvc")
    other = clone(f"{url}/lab.git", tmp_path / "other")
    other.run("remote", "rename", "origin", "lab")
    pulled = run_gitexp(other.root, "pull", "lab", "s", "--no-dvc")

    assert pushed.code == 0 and pushed.out.startswith("Pushed to lab: 7 new"), pushed.err
    assert set(remote_refs(base / "lab.git")) == set(SHARED)
    assert pulled.code == 0 and pulled.out.startswith("Pulled from lab: 7 new"), pulled.err
    assert other.rev_parse("exp/s/t004") == reviewed_project.rev_parse("exp/s/t004")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["push"], "no Git remote named 'origin' (remotes: none configured): add it with git remote add origin URL"),
        (["pull", "upstream"], "no Git remote named 'origin'"),
        (["push", "nope"], "'nope' is neither a Git remote (remotes: none configured) nor a sweep (sweeps: s)"),
        (["remove", "s/t009"], "no trial named 's/t009'"),
        (["remove", "s", "--remote", "upstream"], "no Git remote named 'upstream'"),
        (["apply", "nope"], "no trial named 'nope'"),
    ],
)
def test_bad_input_is_one_line_with_status_2(reviewed_project, run_gitexp, repo_state, argv, message):
    before = repo_state(reviewed_project)

    result = run_gitexp(reviewed_project.root, *argv)

    assert result.code == 2 and result.out == ""
    assert result.err.startswith("gitexp: error: ") and message in result.err and result.err.count("\n") == 1
    assert repo_state(reviewed_project) == before


def test_pull_of_a_sweep_the_remote_lacks(shared, run_gitexp, repo_state):
    _, other, _ = shared
    before = repo_state(other)

    result = run_gitexp(other.root, "pull", "origin", "nope")

    assert result.code == 2
    assert result.err == (
        "gitexp: error: origin has no sweep named 'nope' (sweeps there: s): gitexp push it from the clone that has it\n"
    )
    assert repo_state(other) == before


def test_remove_a_trial_here_and_on_the_remote(shared, run_gitexp):
    project, _, remote = shared

    result = run_gitexp(project.root, "remove", "s/t001", "--remote", "origin")

    assert result.code == 0, result.err
    assert result.out.splitlines() == ["Removed 1 trial branch(es): s/t001", "Removed 1 ref(s) from origin"]
    assert "refs/heads/exp/s/t001" not in refs_of(project) and "refs/heads/exp/s/t001" not in remote_refs(remote)
    assert "refs/heads/exp/s/t002" in refs_of(project) and "refs/heads/exp/s/t002" in remote_refs(remote)


def test_remove_a_sweep_with_its_claims_and_trials_only_the_remote_has(shared, run_gitexp):
    project, other, remote = shared
    tip = project.rev_parse("exp/s/t002")
    other.run("push", "-q", "origin", f"{tip}:refs/heads/exp/s/t099", f"{tip}:refs/gitexp/claims/s/t002")
    project.run("update-ref", "refs/gitexp/claims/s/t001", tip)
    (project.common_dir() / "gitexp" / "logs" / "s").mkdir(parents=True, exist_ok=True)

    result = run_gitexp(project.root, "remove", "s", "--remote", "origin")

    assert result.code == 0, result.err
    assert result.out.splitlines() == ["Removed 6 trial branch(es) and sweep s", "Removed 9 ref(s) from origin"]
    assert refs_of(project, "refs/gitexp/", "refs/heads/exp/") == {}
    assert set(remote_refs(remote)) == {"refs/heads/main"}
    assert not (project.common_dir() / "gitexp" / "logs" / "s").exists()


def test_remove_a_sweep_takes_its_branch_report_images_and_archived_trials_here_and_there(shared, run_gitexp):
    project, _, remote = shared
    main = project.rev_parse("main")
    project.run("update-ref", "refs/gitexp/archive/s/t006", project.rev_parse("exp/s/t006"))
    project.run("update-ref", "-d", "refs/heads/exp/s/t006")  # as gitexp archive leaves it
    for ref in ("refs/heads/sweeps/s", "refs/gitexp/reports/s"):
        project.run("update-ref", ref, main)
    project.run("push", "-q", "origin", "refs/heads/sweeps/s", "refs/gitexp/reports/s", "refs/gitexp/archive/s/t006")
    project.run("update-ref", "refs/heads/sweeps/sx", main)  # another sweep's name with the same start stays

    result = run_gitexp(project.root, "remove", "s", "--remote", "origin")

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "Removed 6 trial branch(es) and sweep s",
        "Removed 10 ref(s) from origin",
        "Deleted branch sweeps/s on origin: GitHub closes its pull request if one was open",
    ]
    assert set(remote_refs(remote)) == {"refs/heads/main"}
    assert refs_of(project, "refs/gitexp/", "refs/heads/exp/", "refs/heads/sweeps/", "refs/remotes/origin/sweeps/") == {
        "refs/heads/sweeps/sx": main
    }


def test_remove_refuses_a_checked_out_sweep_branch(reviewed_project, run_gitexp, repo_state):
    reviewed_project.run("checkout", "-q", "-b", "sweeps/s")
    before = repo_state(reviewed_project)

    result = run_gitexp(reviewed_project.root, "remove", "s")

    assert result.code == 2
    assert result.err == "gitexp: error: sweeps/s is checked out: switch to another branch, then remove sweep s\n"
    assert repo_state(reviewed_project) == before


def test_remove_refuses_a_running_trial(reviewed_project, run_gitexp, repo_state):
    lock = TrialLock(trial_lock_path(reviewed_project.common_dir(), "s", "t002"))
    assert lock.acquire(reviewed_project.root / "elsewhere")
    before = repo_state(reviewed_project)
    try:
        result = run_gitexp(reviewed_project.root, "remove", "s")
    finally:
        lock.release()

    assert result.code == 2 and result.err == "gitexp: error: s/t002 is running: wait until it finishes, then remove it\n"
    assert repo_state(reviewed_project) == before


def test_apply_brings_the_trials_params_and_results_into_the_working_tree(reviewed_project, run_gitexp):
    git = reviewed_project

    result = run_gitexp(git.root, "apply", "s/t003")

    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == (
        "Applied s/t003: dvc.lock, dvclive/plots/metrics/loss.tsv, metrics.json, params.yaml"
    )
    assert "lr: 0.1   # learning rate" in (git.root / "params.yaml").read_text()
    assert json.loads((git.root / "metrics.json").read_text())["score"] == 0.999
    assert git.run("diff", "--cached", "--name-only", "exp/s/t003").strip() == ""  # index matches the trial there
    assert git.rev_parse("HEAD") == git.rev_parse("main")


def test_apply_refuses_over_uncommitted_changes(reviewed_project, run_gitexp, repo_state):
    (reviewed_project.root / "train.py").write_text("# edited\n")
    before = repo_state(reviewed_project)

    result = run_gitexp(reviewed_project.root, "apply", "s/t003")

    assert result.code == 2
    assert result.err == (
        "gitexp: error: uncommitted changes to train.py: commit or stash them before gitexp apply s/t003\n"
    )
    assert repo_state(reviewed_project) == before


def test_dvc_outputs_travel_with_push_pull_and_apply(model_project, bare_remote, run_gitexp, tmp_path):
    project = model_project
    assert run_gitexp(project.root, "queue", "--name", "m", "--set", "train.lr=0.3").code == 0
    assert run_gitexp(project.root, "run").code == 0

    pushed = run_gitexp(project.root, "push")
    other = clone(bare_remote, tmp_path / "other")
    pulled = run_gitexp(other.root, "pull")
    applied = run_gitexp(other.root, "apply", "m/t001")

    assert pushed.out.splitlines()[-1] == "DVC data: outputs of every branch pushed to the DVC remote", pushed.err
    assert any((tmp_path / "storage").rglob("*")), "nothing reached the DVC remote"
    assert pulled.out.splitlines()[-1] == "DVC data: outputs of every branch fetched into the cache from the DVC remote"
    assert applied.code == 0, applied.err
    assert applied.out.splitlines()[1] == "DVC outputs checked out from the cache (those it holds)"
    assert (other.root / "model.pkl").read_text() == "weights for lr=0.3\n"


# -- DVC outputs through the DVC remote: workers push them, pull names what is missing, apply refuses ---------


def storage_holds(storage: Path, content: bytes) -> bool:
    """Whether the local-directory DVC remote has the object of a file with ``content``."""
    import hashlib

    digest = hashlib.md5(content).hexdigest()
    return (storage / "files" / "md5" / digest[:2] / digest[2:]).is_file()


def test_a_workers_outputs_come_back_through_pull_and_apply(model_project, bare_remote, run_gitexp, tmp_path):
    project = model_project
    assert run_gitexp(project.root, "queue", "--name", "m", "--set", "train.lr=[0.2, 0.3]").code == 0
    assert run_gitexp(project.root, "push").code == 0
    elsewhere = clone(bare_remote, tmp_path / "elsewhere")
    worker = subprocess.run(
        [sys.executable, "-m", "gitexp", "worker", "--remote", "origin", "--heartbeat", "0.2", "--poll", "0.2"],
        cwd=elsewhere.root, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert worker.returncode == 0, worker.stderr
    assert storage_holds(tmp_path / "storage", b"weights for lr=0.3\n")  # the worker pushed it: nobody else ran it

    pulled = run_gitexp(project.root, "pull")
    applied = run_gitexp(project.root, "apply", "m/t002")

    assert pulled.code == 0 and pulled.out.splitlines() == [
        "Pulled from origin: 0 new, 2 updated, 1 up to date",
        "DVC data: outputs of every branch fetched into the cache from the DVC remote",
    ], pulled.out + pulled.err
    assert applied.code == 0, applied.err
    assert (project.root / "model.pkl").read_bytes() == b"weights for lr=0.3\n"
    assert json.loads((project.root / "metrics.json").read_text()) == {"score": 0.3}


def test_pull_names_outputs_missing_from_the_dvc_remote_and_apply_refuses_them(
    model_project, bare_remote, run_gitexp, repo_state, tmp_path
):
    project = model_project
    assert run_gitexp(project.root, "queue", "--name", "m", "--set", "train.lr=0.3").code == 0
    assert run_gitexp(project.root, "push", "--no-dvc").code == 0
    elsewhere = clone(bare_remote, tmp_path / "elsewhere")
    assert run_gitexp(elsewhere.root, "pull", "--no-dvc").code == 0
    assert run_gitexp(elsewhere.root, "run").code == 0
    assert run_gitexp(elsewhere.root, "push", "--no-dvc").code == 0  # the result, without its model

    pulled = run_gitexp(project.root, "pull")
    before = repo_state(project)
    applied = run_gitexp(project.root, "apply", "m/t001")

    assert pulled.code == 0 and pulled.out.splitlines()[-1] == (
        "DVC data: 1 output(s) of pulled trials are neither on the DVC remote nor in the cache (m/t001 model.pkl): "
        "gitexp push them from the clone that ran those trials"
    )
    assert applied.code == 2 and applied.out == ""
    assert applied.err == (
        "gitexp: error: outputs of m/t001 are not in the DVC cache nor on the DVC remote: model.pkl; nothing was "
        "applied: gitexp push them from the clone that ran the trial, then gitexp apply m/t001 again\n"
    )
    assert repo_state(project) == before and not (project.root / "model.pkl").exists()

    assert run_gitexp(elsewhere.root, "push").code == 0  # now with its outputs
    applied = run_gitexp(project.root, "apply", "m/t001")
    assert applied.code == 0, applied.err
    assert (project.root / "model.pkl").read_bytes() == b"weights for lr=0.3\n"


def test_push_passes_dvcs_error_through_and_says_the_git_refs_were_pushed(model_project, bare_remote, run_gitexp, tmp_path):
    project = model_project
    assert run_gitexp(project.root, "queue", "--name", "m", "--set", "train.lr=0.3").code == 0
    assert run_gitexp(project.root, "run").code == 0
    (tmp_path / "a-file").write_text("not a folder\n")
    subprocess.run(
        [sys.executable, "-m", "dvc", "remote", "modify", "--local", "storage", "url", str(tmp_path / "a-file" / "store")],
        cwd=project.root, check=True, capture_output=True,
    )  # fmt: skip

    pushed = run_gitexp(project.root, "push")

    assert pushed.code == 1 and pushed.err.count("\n") == 1, pushed.err
    assert pushed.err.startswith("gitexp: error: dvc push failed: ")
    assert "Not a directory" in pushed.err  # DVC's own words
    assert pushed.err.endswith(
        "; the Git refs were pushed to origin (2 new, 0 updated, 0 up to date) but not the DVC outputs: "
        "fix the DVC remote (dvc remote list), then gitexp push again\n"
    )
    assert remote_refs(bare_remote)["refs/heads/exp/m/t001"] == project.rev_parse("exp/m/t001")
