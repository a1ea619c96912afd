"""Queueing against a real repository: branches, commits, trailers, and refusals that write nothing."""

import json
import time

import pytest

from gitexp.errors import UsageError
from gitexp.planning.queue import QueueRequest, queue_sweep
from gitexp.store.git import Git
from gitexp.store.records import Ledger, parse_trailers
from gitexp.sweep.spec import spec_from_flags


def queue(git: Git, *sets: str, name: str | None = "s1", **kwargs):
    return queue_sweep(git, QueueRequest(spec_from_flags(list(sets)), name, **kwargs))


def test_grid_becomes_branches_with_one_params_commit_each(project):
    head = project.rev_parse("HEAD")
    queued = queue(project, "train.lr=[0.001, 0.1]", "train.n_est=range(50, 151, 50)")
    assert [t.ref.branch for t in queued.trials] == [f"exp/s1/t00{i}" for i in range(1, 7)]
    assert [t.params for t in queued.trials][:2] == [
        {"train.lr": 0.001, "train.n_est": 50},
        {"train.lr": 0.001, "train.n_est": 100},
    ]
    tip = queued.trials[3].tip
    assert project.run("rev-parse", f"{tip}^").strip() == head
    assert project.run("diff", "--name-only", head, tip).split() == ["params.yaml"]
    diff = project.run("diff", "-U0", head, tip, "--", "params.yaml")
    assert "-  lr: 0.01   # learning rate\n+  lr: 0.1   # learning rate" in diff
    assert "-  n_est: 50\n+  n_est: 50" not in diff
    trailers = parse_trailers(project.run("log", "-1", "--format=%B", tip))
    assert trailers["Gitexp-Sweep"] == "s1" and trailers["Gitexp-Trial"] == "t004"
    assert json.loads(trailers["Gitexp-Params"]) == {"train.lr": 0.1, "train.n_est": 50}
    sweep = Ledger(project).sweep("s1")
    assert sweep.baseline == head and sweep.spec["strategy"] == "grid"
    assert project.rev_parse("HEAD") == head and project.run("status", "--porcelain") == ""


def test_untouched_bytes_of_params_file_are_identical(project):
    original = project.read_blob("HEAD", "params.yaml").decode()
    queued = queue(project, "train.loss=hinge", "seed=8")
    new = project.read_blob(queued.trials[0].tip, "params.yaml").decode()
    expected = original.replace("loss: 'log'", "loss: 'hinge'").replace("seed: 7", "seed: 8")
    assert new == expected


def test_thousand_trials_queue_in_a_few_seconds(project):
    started = time.monotonic()
    queued = queue(project, "train.lr=linspace(0.001, 0.1, 40)", "train.n_est=range(1, 26)")
    elapsed = time.monotonic() - started
    assert len(queued.trials) == 1000
    assert len(project.run("for-each-ref", "refs/heads/exp/s1/").splitlines()) == 1000
    assert elapsed < 30  # the target (3 s) is measured in benchmarks/, this only catches a collapse


def test_sweep_name_taken_is_refused_without_writing(project, repo_state):
    queue(project, "train.lr=0.5")
    before = repo_state(project)
    with pytest.raises(UsageError, match="exists already"):
        queue(project, "train.lr=0.6")
    assert repo_state(project) == before


@pytest.mark.parametrize(
    "sets, message",
    [
        (["train.lrr=0.1"], "no key 'train.lrr'"),
        (["train.lr=abc"], "is a number"),
        (["other.yaml:train.lr=0.1"], "dvc.yaml lists no params from other.yaml"),
    ],
)
def test_bad_input_writes_nothing(project, repo_state, sets, message):
    before = repo_state(project)
    with pytest.raises(UsageError, match=message):
        queue(project, *sets)
    assert repo_state(project) == before


def test_uncommitted_changes_are_refused_or_snapshotted(project, repo_state):
    (project.root / "train.py").write_text((project.root / "train.py").read_text() + "# tweak\n")
    before = repo_state(project)
    with pytest.raises(UsageError, match="--include-uncommitted"):
        queue(project, "train.lr=0.2")
    assert repo_state(project) == before
    queued = queue(project, "train.lr=0.2", include_uncommitted=True)
    baseline = queued.sweep.baseline
    assert baseline != project.rev_parse("HEAD")
    assert project.read_blob(baseline, "train.py").decode().endswith("# tweak\n")
    assert project.run("status", "--porcelain").strip() == "M train.py"


def test_explicit_rev_as_baseline(project):
    first = project.rev_parse("HEAD")
    (project.root / "train.py").write_text("print('new')\n")
    project.run("commit", "-qam", "second")
    queued = queue(project, "train.lr=0.3", rev=first)
    assert queued.sweep.baseline == first
    assert project.read_blob(queued.trials[0].tip, "train.py") == project.read_blob(first, "train.py")


def test_an_objective_no_result_on_the_baseline_has_is_refused(project, run_gitexp, repo_state):
    """The baseline holds no metrics, but the trials run on it tell which metrics the project has."""
    assert run_gitexp(project.root, "queue", "--name", "first", "--set", "train.lr=[0.1]").code == 0
    assert run_gitexp(project.root, "run", "first").code == 0
    before = repo_state(project)

    refused = run_gitexp(project.root, "queue", "--set", "train.lr=[0.2]", "--objective", "scroe")

    assert refused.code == 2 and "has 'scroe'" in refused.err and "did you mean 'score'" in refused.err, refused.err
    assert repo_state(project) == before
    assert run_gitexp(project.root, "queue", "--set", "train.lr=[0.2]", "--objective", "score").code == 0


def test_queue_m_gives_the_trial_commits_its_subject_and_body_and_keeps_the_trailers(project, run_gitexp):
    message = "Try a higher learning rate\n\nThe loss plateaued at 0.01."
    assert run_gitexp(project.root, "queue", "--name", "m", "-m", message, "--set", "train.lr=[0.2, 0.3]").code == 0
    assert run_gitexp(project.root, "queue", "--name", "plain", "--set", "train.lr=[0.2, 0.3]").code == 0
    for trial in ("t001", "t002"):
        with_message = project.run("log", "-1", "--format=%B", f"exp/m/{trial}")
        plain = project.run("log", "-1", "--format=%B", f"exp/plain/{trial}")
        assert project.run("log", "-1", "--format=%s", f"exp/m/{trial}").strip() == "Try a higher learning rate"
        subject = plain.splitlines()[0]
        assert subject.startswith(f"gitexp: plain/{trial} train.lr=")  # the default message, unchanged
        assert f"\n\nThe loss plateaued at 0.01.\n\n{subject.replace('plain/', 'm/')}\n\n" in with_message
        trailers = parse_trailers(with_message)
        assert trailers == {**parse_trailers(plain), "Gitexp-Sweep": "m"}
    assert [trial.params for trial in Ledger(project).trials(["m"])] == [{"train.lr": 0.2}, {"train.lr": 0.3}]


def test_the_trials_a_sweep_adds_later_carry_its_message_too(project, run_gitexp):
    queued = run_gitexp(project.root, "queue", "--name", "r", "-m", "Random lr", "--strategy", "random", "--num-trials", "1",
                        "--seed", "3", "--set", "train.lr=uniform(0.1, 0.2)")
    assert queued.code == 0, queued.err
    assert Ledger(project).sweep("r").message == "Random lr"
    assert run_gitexp(project.root, "run", "r", "--more", "1").code == 0
    assert [project.run("log", "-1", "--format=%s", f"exp/r/{trial}^").strip() for trial in ("t001", "t002")] == ["Random lr"] * 2
