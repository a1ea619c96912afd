"""Each adaptive strategy on a real DVC project whose metric depends on the params."""

import textwrap

from gitexp.store.records import Ledger
from tests.conftest import HYPERBAND_SWEEP


def run_sweep(project, run_gitexp, name, text):
    (project.root / f"{name}.yaml").write_text(textwrap.dedent(text))
    result = run_gitexp(project.root, "run", "--sweep", f"{name}.yaml", "--name", name, "-j", "2")
    assert result.code == 0, result.err
    return Ledger(project).trials([name])


def test_hyperband_promotes_the_best_of_a_rung(project, run_gitexp):
    trials = run_sweep(project, run_gitexp, "hb", HYPERBAND_SWEEP)
    # max_iter 3, eta 3: bracket 1 runs 3 configs at n_est 1 and promotes 1 to n_est 3; bracket 0 runs 2 at 3
    assert len(trials) == 6 and all(t.status == "succeeded" for t in trials)
    first_rung = [t for t in trials if t.tags["bracket"] == 1 and t.tags["rung"] == 0]
    promoted = [t for t in trials if t.tags["bracket"] == 1 and t.tags["rung"] == 1]
    assert len(first_rung) == 3 and len(promoted) == 1
    best = max(first_rung, key=lambda t: t.metrics["score"])
    assert promoted[0].params["train.lr"] == best.params["train.lr"]
    assert promoted[0].params["train.n_est"] == 3 and best.params["train.n_est"] == 1


def test_bayes_runs_its_budget_and_resumes_with_more(project, run_gitexp):
    trials = run_sweep(
        project,
        run_gitexp,
        "bo",
        """\
        matrix:
          train.lr: uniform(0.0, 0.5)
        strategy: {name: bayes, n_initial_trials: 2}
        max_trials: 4
        objective: {metric: score, goal: maximize}
        seed: 1
        concurrency: 2
        """,
    )
    assert len(trials) == 4 and all(0 <= t.params["train.lr"] <= 0.5 for t in trials)
    result = run_gitexp(project.root, "run", "bo", "--more", "2")
    assert result.code == 0, result.err
    trials = Ledger(project).trials(["bo"])
    assert len(trials) == 6 and [t.name for t in trials][-1] == "t006"
    assert len({t.params["train.lr"] for t in trials}) == 6


def test_random_search_with_a_count(project, run_gitexp):
    result = run_gitexp(
        project.root, "queue", "--name", "rnd", "--strategy", "random", "--num-trials", "3", "--seed", "5",
        "--set", "train.lr=uniform(1e-5, 1e-1, 3)", "--set", "train.n_est=[1, 2, 3, 4]",
    )
    assert result.code == 0, result.err
    trials = Ledger(project).trials(["rnd"])
    assert len(trials) == 3
    assert len({(t.params["train.lr"], t.params["train.n_est"]) for t in trials}) == 3
