"""A two-objective sweep's Pareto front in headless Chromium, read from Vega's scenegraph (not pixels): exactly the
non-dominated trials are the front, joined by a line, each objective's direction respected; the table ranks by front."""

from __future__ import annotations

import io
import json
import shutil
import textwrap

import pytest

from gitexp.store.git import Git
from tests.conftest import fresh_copy
from tests.review.test_pareto import TRAIN_PY, brute_force_front
from tests.ui.conftest import screenshot
from tests.ui.test_page import cell, trial_ids

SWEEP = textwrap.dedent(
    """\
    matrix:
      train.lr: [0.01, 0.1, 0.5]
      train.n_est: [10, 40]
    objective:
      - {metric: accuracy, goal: maximize}
      - {metric: latency_ms, goal: minimize}
    concurrency: 2
    """
)
DRAWN = """() => {
    const view = window.gitexpViews.sweep.pareto, found = {front: [], line: [], dimmed: []};
    (function walk(node) {
        for (const item of node.items || []) {
            if (node.marktype === 'line' && item.datum && item.datum.id) found.line.push(item.datum.id);
            if (node.marktype === 'symbol' && item.datum && item.datum.id) (item.datum.pareto === 'front' ? found.front : found.dimmed).push(item.datum.id);
            walk(item);
        }
    })(view.scenegraph().root);
    const y = view.scale('y');
    found.latencyUp = y(20) < y(80);  // minimised: lower is drawn higher
    return found;
}"""


@pytest.fixture(scope="module")
def pareto_template(template_project, tmp_path_factory):
    """The template project with sweep ``mo`` run: six trials trading accuracy against latency."""
    from gitexp.cli.environment import Environment
    from gitexp.cli.main import main

    root = tmp_path_factory.mktemp("pareto") / "project"
    shutil.copytree(template_project, root, symlinks=True)
    (root / "train.py").write_text(TRAIN_PY)
    Git(root).run("commit", "-q", "-am", "two metrics that trade off")
    (root.parent / "sweep.yaml").write_text(SWEEP)
    quiet = Environment(cwd=root, stdout=io.StringIO(), stderr=io.StringIO())
    assert main(["queue", "--name", "mo", "--sweep", str(root.parent / "sweep.yaml")], quiet) == 0
    assert main(["run", "-j", "2"], quiet) == 0
    return root


def costs_and_front(run_gitexp, project: Git) -> tuple[dict[str, tuple[float, float]], set[str]]:
    """Each trial's two costs as show --json gives them, and the non-dominated trials found by brute force."""
    shown = [row for row in json.loads(run_gitexp(project.root, "show", "mo", "--json").out)["trials"] if row["trial"] != "baseline"]
    costs = {f"mo/{row['trial']}": (-row["metrics"]["accuracy"], row["metrics"]["latency_ms"]) for row in shown}
    front = brute_force_front(costs)
    assert 1 < len(front) < len(costs)  # a real trade-off: some trials dominated
    return costs, front


def test_a_two_objective_sweep_shows_exactly_its_non_dominated_trials_as_the_front(pareto_template, tmp_path, run_gitexp, ui_server, open_page):
    project = fresh_copy(pareto_template, tmp_path)
    costs, front = costs_and_front(run_gitexp, project)
    page = open_page(ui_server(project.root))
    page.wait_for_selector("body[data-sweep-plots^='mo:']")

    drawn = page.evaluate(DRAWN)
    assert sorted(drawn["front"]) == sorted(front) and sorted(set(drawn["line"])) == sorted(front)
    assert sorted(drawn["dimmed"]) == sorted(set(costs) - front)
    assert drawn["latencyUp"] is True
    assert "Pareto front of accuracy (maximize), latency_ms (minimize)" in page.text_content("#sweep-objective")
    lines = page.evaluate("() => window.gitexpViews.sweep.parallel.data('source_0')")
    assert {row["id"] for row in lines if row["pareto"] == "front"} == front  # the parallel coordinates mark it too
    assert {row["key"] for row in lines} == {"train.lr", "train.n_est", "accuracy", "latency_ms"}
    assert {key: cell(page, key, "pareto") for key in costs} == {key: "front" if key in front else "2" for key in costs}
    page.click("th[data-column=pareto]")
    assert set(trial_ids(page)[: len(front)]) == front
    page.eval_on_selector("#sweep-views", "node => node.scrollIntoView()")
    screenshot(page, "sweep-views-pareto")


def test_the_report_file_draws_the_same_front_offline(pareto_template, tmp_path, run_gitexp, open_file):
    project = fresh_copy(pareto_template, tmp_path)
    costs, front = costs_and_front(run_gitexp, project)
    assert run_gitexp(project.root, "report", "mo", "--format", "html", "-o", "report.html").code == 0

    page = open_file(project.root / "report.html")
    page.wait_for_selector("body[data-sweep-plots^='mo:']")

    drawn = page.evaluate(DRAWN)
    assert sorted(drawn["front"]) == sorted(front) and sorted(drawn["dimmed"]) == sorted(set(costs) - front)
    assert {key: cell(page, key, "pareto") for key in costs} == {key: "front" if key in front else "2" for key in costs}
    assert page.refused == [] and page.errors == []
