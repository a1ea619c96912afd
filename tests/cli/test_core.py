"""The core commands as a user runs them: output formats, exit codes, one-line errors."""

import csv
import io
import json

import pytest

from gitexp.store.records import Ledger, parse_trailers


@pytest.fixture
def finished_sweep(project, run_gitexp):
    result = run_gitexp(project.root, "queue", "--name", "s", "--set", "train.lr=[0.05, 0.1]", "--set", "train.n_est=[10, 20]")
    assert result.code == 0, result.err
    result = run_gitexp(project.root, "run", "-j", "2")
    assert result.code == 0, result.err
    return project


def test_queue_prints_branches(project, run_gitexp):
    result = run_gitexp(project.root, "queue", "--name", "q", "--set", "train.lr=1,2")
    assert result.code == 0
    assert "exp/q/t001  train.lr=1" in result.out and "exp/q/t002  train.lr=2" in result.out
    assert "gitexp run q" in result.out


def test_run_sweep_m_gives_the_trial_commits_its_message_and_the_sweep_keeps_it(project, run_gitexp, tmp_path):
    (tmp_path / "sweep.yaml").write_text("matrix:\n  train.lr: [0.05, 0.1]\n")
    message = "Try a lower lr\n\nThe last sweep overshot."
    result = run_gitexp(project.root, "run", "--sweep", str(tmp_path / "sweep.yaml"), "--name", "m", "-m", message)
    assert result.code == 0, result.err
    trials = Ledger(project).trials(["m"])
    assert [trial.status for trial in trials] == ["succeeded", "succeeded"]
    for trial in trials:  # the trial commit is the result commit's parent
        body = project.run("log", "-1", "--format=%B", f"{trial.tip}^")
        assert body.startswith(f"{message}\n\ngitexp: m/{trial.ref.trial} train.lr=")
        assert parse_trailers(body)["Gitexp-Sweep"] == "m"
    assert Ledger(project).sweep("m").message == message


def test_show_json_lists_baseline_then_trials(finished_sweep, run_gitexp):
    result = run_gitexp(finished_sweep.root, "show", "s", "--json", "--sort-by", "score")
    data = json.loads(result.out)
    rows = data["trials"]
    assert rows[0]["trial"] == "baseline" and rows[0]["params"] == {"train.lr": 0.01, "train.n_est": 50}
    trials = rows[1:]
    assert [r["status"] for r in trials] == ["succeeded"] * 4
    scores = [r["metrics"]["score"] for r in trials]
    assert scores == sorted(scores, reverse=True)
    assert trials[0]["params"] == {"train.lr": 0.1, "train.n_est": 10}
    assert trials[0]["branch"] == "exp/s/t003"


def test_show_csv_and_markdown(finished_sweep, run_gitexp):
    rows = list(csv.DictReader(io.StringIO(run_gitexp(finished_sweep.root, "show", "--csv").out)))
    assert [r["trial"] for r in rows] == ["baseline", "t001", "t002", "t003", "t004"]
    assert rows[3]["train.lr"] == "0.1" and rows[3]["score"] == "0.999"
    md = run_gitexp(finished_sweep.root, "show", "--md").out.splitlines()
    assert md[0].startswith("| trial | status | duration | train.lr | train.n_est | score | test.auc |")
    assert len(md) == 2 + 5
    table = run_gitexp(finished_sweep.root, "show").out
    assert "s/t004" in table and "succeeded" in table


def test_status_counts(finished_sweep, run_gitexp):
    run_gitexp(finished_sweep.root, "queue", "--name", "later", "--set", "train.lr=0.3")
    out = run_gitexp(finished_sweep.root, "status").out
    assert "s  grid  4 trials: 4 succeeded" in out
    assert "later  grid  1 trials: 1 queued" in out


def test_failed_trial_exits_1_and_logs_are_readable(project, run_gitexp):
    run_gitexp(project.root, "queue", "--name", "f", "--set", "train.fail=true")
    result = run_gitexp(project.root, "run")
    assert result.code == 1 and "1 trial(s) failed (f/t001)" in result.err
    assert "training diverged" in run_gitexp(project.root, "logs", "f/t001").out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["queue", "--set", "train.lr=[0.1"], "train.lr"),
        (["queue", "--set", "nokey=1"], "no key 'nokey'"),
        (["queue", "--set", "train.lr=1", "--name", "bad name"], "not allowed"),
        (["queue"], "nothing to sweep"),
        (["show", "--sort-by", "nope"], "no metric named 'nope'"),
        (["show", "missing"], "no sweep named 'missing'"),
        (["logs", "nope/t001"], "no trial named"),
        (["run", "-j", "0"], "1 or more"),
        (["queue", "--bogus"], "No such option"),
    ],
)
def test_bad_input_is_one_line_with_status_2(project, run_gitexp, repo_state, argv, message):
    before = repo_state(project)
    result = run_gitexp(project.root, *argv)
    assert result.code == 2, result
    assert message in result.err and result.err.count("\n") == 1, result.err
    assert repo_state(project) == before


def test_outside_a_repository(tmp_path, run_gitexp):
    result = run_gitexp(tmp_path, "status")
    assert result.code == 2 and "not inside a Git repository" in result.err


def test_repository_without_dvc_yaml(tmp_path, run_gitexp):
    from gitexp.store.git import Git

    git = Git(tmp_path)
    git.run("init", "-q")
    (tmp_path / "params.yaml").write_text("a: 1\n")
    git.run("add", "-A")
    git.run("commit", "-qm", "x")
    result = run_gitexp(tmp_path, "queue", "--set", "a=2")
    assert result.code == 2 and "no dvc.yaml" in result.err
    empty = tmp_path / "empty"
    Git(tmp_path).run("init", "-q", str(empty))
    result = run_gitexp(empty, "queue", "--set", "a=2")
    assert result.code == 2 and "no commits" in result.err
