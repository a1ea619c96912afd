"""The run display counts against the sweep's budget, which grows with adaptive sweeps: never done > total."""

import io
import re
import textwrap
from pathlib import Path

from gitexp.cli.environment import Environment
from gitexp.cli.progress import PlainProgress
from gitexp.execution.local import RunEvent
from gitexp.execution.pipeline import RunOutcome
from gitexp.store.records import Ledger
from tests.conftest import HYPERBAND_SWEEP

COUNT = re.compile(r"^\[(\d+)/(\d+)\] ", re.MULTILINE)


def test_hyperband_run_counts_up_to_its_schedule(project, run_gitexp):
    (project.root / "hb.yaml").write_text(HYPERBAND_SWEEP)
    result = run_gitexp(project.root, "run", "--sweep", "hb.yaml", "--name", "hb", "-j", "2")
    assert result.code == 0, result.err
    counts = [(int(done), int(total)) for done, total in COUNT.findall(result.out)]
    ran = len(Ledger(project).trials(["hb"]))
    assert ran == 6  # bracket 1: 3 configs + 1 promoted; bracket 0: 2
    assert [done for done, _ in counts] == list(range(1, ran + 1))
    assert all(done <= total for done, total in counts), result.out
    assert counts[-1] == (ran, ran)
    status = run_gitexp(project.root, "status").out
    assert "hb  hyperband  6 of 6 trials: 6 succeeded" in status


def test_bayes_with_max_trials_counts_against_it(project, run_gitexp):
    (project.root / "bo.yaml").write_text(
        textwrap.dedent(
            """\
            matrix:
              train.lr: uniform(0.0, 0.5)
            strategy: {name: bayes, n_initial_trials: 2}
            max_trials: 3
            objective: {metric: score, goal: maximize}
            concurrency: 2
            """
        )
    )
    result = run_gitexp(project.root, "run", "--sweep", "bo.yaml", "--name", "bo", "-j", "2")
    assert result.code == 0, result.err
    assert COUNT.findall(result.out) == [("1", "3"), ("2", "3"), ("3", "3")]


def test_without_a_budget_it_shows_done_and_running(project, run_gitexp):
    assert run_gitexp(project.root, "queue", "--name", "q", "--set", "train.lr=1,2").code == 0
    first, second = Ledger(project).trials(["q"])
    out = io.StringIO()
    display = PlainProgress(Environment(cwd=Path(project.root), stdout=out), lambda: None)
    for event in (RunEvent("started", first), RunEvent("started", second), RunEvent("finished", first, RunOutcome("succeeded", 1.0))):
        display(event)
    assert out.getvalue().splitlines()[-1] == "[1 done, 1 running] succeeded q/t001 in 1.0s"
