"""The sweep driver on real runs: early stopping, and writers racing to grow one sweep."""

import dataclasses
import textwrap

import pytest

from gitexp.errors import ConcurrentChange
from gitexp.execution.driver import SweepDriver
from gitexp.planning.queue import write_trials
from gitexp.store.records import Ledger


def write_sweep(project, text: str):
    path = project.root / "sweep.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_early_stopping_cancels_the_rest(project, run_gitexp):
    write_sweep(
        project,
        """\
        matrix:
          train.lr: [0.1, 0.05, 0.02, 0.01]
        early_stopping:
          - metric: score
            value: 0.99
            optimization: maximize
        """,
    )
    result = run_gitexp(project.root, "run", "--sweep", "sweep.yaml", "--name", "es")
    assert result.code == 0, result.err
    assert "stopped: early stopping: score = 0.995 >= 0.99" in result.out
    statuses = [t.status for t in Ledger(project).trials(["es"])]
    assert statuses == ["succeeded", "cancelled", "cancelled", "cancelled"]
    assert Ledger(project).sweep("es").state["stopped"].startswith("early stopping")
    status = run_gitexp(project.root, "status").out
    assert "1 succeeded, 3 cancelled" in status
    show = run_gitexp(project.root, "show", "--csv").out
    assert show.count(",cancelled,") == 3
    # a stopped sweep starts nothing more
    assert "Nothing to run" in run_gitexp(project.root, "run", "es").out


def test_unknown_objective_metric_is_refused_at_run(project, run_gitexp, repo_state, monkeypatch):
    project.run("rm", "-q", "--cached", "dvc.yaml")
    (project.root / "dvc.yaml").write_text("stages:\n  train:\n    cmd: python train.py\n    params: [train]\n")
    project.run("add", "dvc.yaml")
    project.run("commit", "-qm", "no metrics")
    write_sweep(project, "matrix:\n  train.lr: [0.1]\nearly_stopping: [{metric: score, value: 1, optimization: maximize}]\n")
    assert "warning" in run_gitexp(project.root, "check", "sweep.yaml").err
    refused = run_gitexp(project.root, "queue", "--sweep", "sweep.yaml", "--name", "m")
    assert refused.code == 2 and "declares no metrics files" in refused.err  # refused at queue time too
    # a sweep queued where the check did not run (an older gitexp, another clone) is refused by run
    monkeypatch.setattr("gitexp.planning.queue.objective_problem", lambda *args: None)
    assert run_gitexp(project.root, "queue", "--sweep", "sweep.yaml", "--name", "m").code == 0
    monkeypatch.undo()
    before = repo_state(project)
    result = run_gitexp(project.root, "run", "m")
    assert result.code == 2 and "declares no metrics files" in result.err
    assert repo_state(project) == before


def test_check_prints_trials_and_writes_nothing(project, run_gitexp, repo_state):
    before = repo_state(project)
    result = run_gitexp(project.root, "check", "--set", "train.lr=logspace(0.01, 0.1, 5)", "--json")
    assert result.code == 0, result.err
    import json

    data = json.loads(result.out)
    assert data["strategy"] == "grid" and data["max_trials"] == 5
    assert [t["params"]["train.lr"] for t in data["trials"]][0] == 1.0232929922807541
    assert data["trials"][-1]["params"]["train.lr"] == 1.2589254117941673
    assert repo_state(project) == before
    bad = run_gitexp(project.root, "check", "--set", "train.nope=1")
    assert bad.code == 2 and "no key 'train.nope'" in bad.err


def test_huge_grid_is_refused(project, run_gitexp, repo_state):
    before = repo_state(project)
    result = run_gitexp(project.root, "queue", "--set", "train.lr=range(0, 1000)", "--set", "train.n_est=range(0, 1000)")
    assert result.code == 2 and "--num-trials" in result.err
    assert repo_state(project) == before


BAYES = """\
matrix:
  train.lr: uniform(0.0, 0.5)
strategy: {name: bayes, n_initial_trials: 1}
max_trials: 3
objective: {metric: score, goal: maximize}
seed: 2
"""


def test_a_driver_that_lost_the_race_to_grow_takes_the_winners_trial(project, run_gitexp):
    write_sweep(project, BAYES)
    assert run_gitexp(project.root, "queue", "--sweep", "sweep.yaml", "--name", "bo").code == 0
    assert run_gitexp(project.root, "run", "bo/t001").code == 0
    sweep = Ledger(project).sweep("bo")
    first, second = SweepDriver(project, sweep), SweepDriver(project, sweep)

    grown = first.next_trial()  # writes t002 and a new sweep record
    assert grown.name == "t002"
    taken = second.next_trial()  # its record is stale: the write is refused, it reads the sweep again
    assert taken.name == "t002" and taken.tip == grown.tip
    assert [t.name for t in Ledger(project).trials(["bo"])] == ["t001", "t002"]
    assert project.run("for-each-ref", "refs/gitexp/tmp/") == ""


def test_a_write_on_a_stale_sweep_record_is_refused_and_leaves_nothing(project, run_gitexp):
    write_sweep(project, BAYES)
    assert run_gitexp(project.root, "queue", "--sweep", "sweep.yaml", "--name", "bo").code == 0
    stale = Ledger(project).sweep("bo")
    write_trials(project, dataclasses.replace(stale, state={"note": "first"}))
    refs = project.run("for-each-ref")
    with pytest.raises(ConcurrentChange, match="changed while its trials were being written"):
        write_trials(project, dataclasses.replace(stale, state={"note": "second"}))
    assert project.run("for-each-ref") == refs
    assert Ledger(project).sweep("bo").state == {"note": "first"}


def test_an_adaptive_sweep_steering_by_a_metric_no_result_has_is_stopped(project, run_gitexp):
    # the project's baseline never ran, so its metrics cannot be checked up front
    write_sweep(project, BAYES.replace("metric: score", "metric: acc"))
    assert run_gitexp(project.root, "queue", "--sweep", "sweep.yaml", "--name", "bo").code == 0

    result = run_gitexp(project.root, "run", "bo")

    assert result.code == 2 and result.err.count("\n") == 1
    assert "sweep bo steers by 'acc', but no result has that metric (metrics: score, test.auc): gitexp remove bo" in result.err
    assert [t.status for t in Ledger(project).trials(["bo"])] == ["succeeded"]  # the first ran, nothing was added


@pytest.mark.parametrize("removed", ["s/t002", "s/t003"])
def test_a_sweep_grown_after_a_trial_is_removed_names_its_new_trial_past_every_index_used(project, run_gitexp, removed):
    queued = run_gitexp(project.root, "queue", "--set", "train.lr=[0.05, 0.1, 0.2, 0.3, 0.4]", "--num-trials", "3", "--name", "s")
    assert queued.code == 0, queued.err
    assert run_gitexp(project.root, "remove", removed).code == 0

    result = run_gitexp(project.root, "run", "s", "--more", "1")

    assert result.code == 0, result.err
    kept = sorted({"t001", "t002", "t003"} - {removed.partition("/")[2]})
    trials = Ledger(project).trials(["s"])
    # a budget of 4 trials, 2 left: neither the removed name again nor a clash with a kept one
    assert [t.name for t in trials] == [*kept, "t004", "t005"]
    assert [t.status for t in trials] == ["succeeded"] * 4
    assert Ledger(project).sweep("s").state["last_index"] == 5


def test_a_trial_that_ended_here_is_not_handed_out_again_by_a_view_without_its_result_yet(project, run_gitexp):
    """A worker tells its driver how a trial ended before the push that publishes the result; a sync meanwhile
    (its view fetched again to choose the next trial) must not queue that trial again."""
    from gitexp.execution.pipeline import RunOutcome

    assert run_gitexp(project.root, "queue", "--name", "s", "--set", "train.lr=[0.1, 0.2]").code == 0
    sweep = Ledger(project).sweep("s")
    driver = SweepDriver(project, sweep)
    first = driver.next_trial()
    driver.finished(first, RunOutcome("failed", 1.0))
    driver.sync(sweep)  # the view still shows the trial commit it ran from
    assert [t.ref.key for t in driver.queued] == [t.ref.key for t in Ledger(project).trials(["s"]) if t != first]
    assert [t.status for t in driver.completed] == ["failed"]
    second = driver.next_trial()
    assert second is not None and second.ref != first.ref and driver.next_trial() is None

    retrying = SweepDriver(project, sweep, runnable_statuses=("queued", "failed"))  # --retry-failed: not again either
    again = next(t for t in iter(retrying.next_trial, None) if t.ref == first.ref)
    retrying.finished(again, RunOutcome("failed", 1.0))
    retrying.sync(sweep)
    assert first.ref.key not in [t.ref.key for t in retrying.queued]
