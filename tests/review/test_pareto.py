"""Multi-objective review: Pareto fronts in show and report, checked against brute force."""

from __future__ import annotations

import itertools
import json
import textwrap

import optuna
from hypothesis import given, settings
from hypothesis import strategies as st

from gitexp.review.report import build_sweep_report, ranked_table, write_markdown
from gitexp.review.results import non_dominated_fronts
from tests.conftest import markdown_tables

# accuracy rises with n_est and falls away from lr 0.1; latency rises with n_est: a trade-off
TRAIN_PY = textwrap.dedent(
    """\
    import json, yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    accuracy = round(1.0 - abs(p["lr"] - 0.1) + p["n_est"] / 100.0, 6)
    latency = round(p["n_est"] * 2 + p["lr"] * 10, 6)
    json.dump({"accuracy": accuracy, "latency_ms": latency}, open("metrics.json", "w"))
    """
)
SWEEP = textwrap.dedent(
    """\
    matrix:
      train.lr: [0.01, 0.1, 0.5]
      train.n_est: [10, 20, 40]
    objective:
      - {metric: accuracy, goal: maximize}
      - {metric: latency_ms, goal: minimize}
    constraints: ["latency_ms <= 75"]
    concurrency: 2
    """
)


def brute_force_front(points: dict[str, tuple[float, ...]]) -> set[str]:
    """The names no other point dominates (costs: lower is better), comparing every pair."""
    return {
        name
        for name, cost in points.items()
        if not any(all(o <= c for o, c in zip(other, cost)) and other != cost for other in points.values())
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=25))
def test_fronts_match_brute_force_and_optuna(costs):
    points = {f"t{index}": cost for index, cost in enumerate(costs)}
    fronts = non_dominated_fronts(points)
    assert {name for name, front in fronts.items() if front == 1} == brute_force_front(points)
    remaining = dict(points)
    for front in itertools.count(1):  # each later front is the Pareto set of what the earlier ones left
        if not remaining:
            break
        layer = brute_force_front(remaining)
        assert {name for name, number in fronts.items() if number == front} == layer
        remaining = {name: cost for name, cost in remaining.items() if name not in layer}
    study = optuna.create_study(directions=["minimize"] * 3)
    distribution = {"i": optuna.distributions.IntDistribution(0, len(costs))}
    for index, cost in enumerate(costs):
        study.add_trial(optuna.trial.create_trial(params={"i": index}, distributions=distribution, values=list(cost)))
    assert {f"t{trial.params['i']}" for trial in study.best_trials} == brute_force_front(points)


def run_pareto_sweep(project, run_gitexp, tmp_path):
    (project.root / "train.py").write_text(TRAIN_PY)
    project.run("commit", "-q", "-am", "two metrics that trade off")
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    assert run_gitexp(project.root, "queue", "--name", "mo", "--sweep", str(tmp_path / "sweep.yaml")).code == 0
    assert run_gitexp(project.root, "run", "-j", "2").code == 0


def test_show_and_report_rank_a_small_grid_by_its_pareto_fronts(project, run_gitexp, tmp_path):
    run_pareto_sweep(project, run_gitexp, tmp_path)
    shown = run_gitexp(project.root, "show", "mo", "--json")
    trials = [trial for trial in json.loads(shown.out)["trials"] if trial["trial"] != "baseline"]
    assert len(trials) == 9
    feasible = {t["trial"]: t for t in trials if t["metrics"]["latency_ms"] <= 75}
    assert {t["trial"] for t in trials if not t["feasible"]} == {t["trial"] for t in trials} - set(feasible)
    costs = {name: (-t["metrics"]["accuracy"], t["metrics"]["latency_ms"]) for name, t in feasible.items()}
    front = brute_force_front(costs)
    assert {t["trial"] for t in trials if t["pareto_front"] == 1} == front
    order = [t["pareto_front"] or 99 for t in trials]
    assert order == sorted(order)  # ranked front by front, the infeasible last
    assert all(t["pareto_front"] is None for t in trials if not t["feasible"])

    lines = markdown_tables(run_gitexp(project.root, "show", "mo", "--md").out)[0]
    header, _, *rows = ([cell.strip() for cell in line.strip("|").split("|")] for line in lines)
    marks = {row[0].split("/")[-1]: row[header.index("pareto")] for row in rows if "baseline" not in row[0]}
    assert {name for name, mark in marks.items() if mark == "front"} == front
    assert {name for name, mark in marks.items() if mark == "infeasible"} == set(costs) ^ {t["trial"] for t in trials}

    report = build_sweep_report(project, "mo")
    assert [row.name for row in report.ranked if report.pareto.fronts[row.name] == 1] == [
        t["trial"] for t in trials if t["pareto_front"] == 1
    ]
    assert ranked_table(report).headers[-1] == "Pareto front"
    written = write_markdown(project, report, tmp_path / "out" / "report.md")
    assert any(path.name == "pareto-accuracy-latency_ms.png" for path in written)
    text = (tmp_path / "out" / "report.md").read_text()
    assert "| objectives (Pareto) | maximize accuracy, minimize latency_ms |" in text
    assert "| constraint | latency_ms \\<= 75 |" in text  # Markdown-escaped
