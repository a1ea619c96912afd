"""``report --format html``, the ui's page as one file, opened by file:// in headless Chromium with every request
but the file's refused: the table as show --json has it, sorting, filtering, the plots of two ticked trials, a
trial's page and the report's own view, all from the data embedded in it; hostile values stay text."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from gitexp.cli.environment import Environment
from gitexp.cli.main import main
from gitexp.review.report import build_sweep_report
from gitexp.store.git import Git
from gitexp.ui import data, plots
from gitexp.ui.twin import report_page, snapshot
from tests.conftest import HOSTILE_TEXT, fresh_copy
from tests.ui.conftest import screenshot
from tests.ui.test_page import assert_cells_as_shown, cell, trial_ids
from tests.ui.test_plots import DEMO_PLOTS, SERIES, tick

EMBEDDED = re.compile(r'<script type="application/json" id="gitexp-data">(.*?)</script>', re.S)


def gitexp(root: Path, *argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert main(list(argv), Environment(cwd=root, stdout=out, stderr=err)) == 0, err.getvalue()
    return out.getvalue()


@pytest.fixture(scope="module")
def demo_report(demo_template, tmp_path_factory) -> tuple[Git, Path, list[dict]]:
    """The demo's report file (written once for the module), its project, and ``show --json``'s rows."""
    git = fresh_copy(demo_template, tmp_path_factory.mktemp("twin"))
    gitexp(git.root, "report", "demo", "--format", "html", "-o", "report.html")
    return git, git.root / "report.html", json.loads(gitexp(git.root, "show", "--json"))["trials"]


def test_the_file_shows_the_table_show_json_gives_with_no_run_form_and_fetches_nothing(demo_report, open_file):
    _, path, shown = demo_report
    page = open_file(path)

    trials = [row for row in shown if row["trial"] != "baseline"]
    assert trial_ids(page) == [f"demo/{row['trial']}" for row in trials] and len(trials) == 6
    assert_cells_as_shown(page, "demo", trials)
    assert page.text_content("[data-count=succeeded]") == "6"
    assert page.eval_on_selector_all("#run-form, #nav-run, #live", "nodes => nodes.length") == 0
    assert page.is_visible("#nav-report")
    page.wait_for_selector("body[data-sweep-plots^='demo:']")
    assert sorted(page.evaluate("Object.keys(window.gitexpViews.sweep)")) == ["best", "parallel", "scatter"]
    assert page.refused == [] and page.errors == []
    screenshot(page, "report-table")


def test_sorting_and_filtering_change_the_rows_in_the_file(demo_report, open_file):
    _, path, shown = demo_report
    page = open_file(path)
    trials = {f"demo/{row['trial']}": row for row in shown if row["trial"] != "baseline"}
    accuracy = {key: row["metrics"]["test.acc"] for key, row in trials.items()}

    page.click("th[data-column='m:test.acc']")
    assert [accuracy[key] for key in trial_ids(page)] == sorted(accuracy.values(), reverse=True)
    page.click("th[data-column='m:test.acc']")
    assert [accuracy[key] for key in trial_ids(page)] == sorted(accuracy.values())
    middle = sorted(accuracy.values())[3]
    page.fill("#filter", f"test.acc >= {middle} and train.epochs == 30")
    kept = sorted(key for key, row in trials.items() if accuracy[key] >= middle and row["params"]["train.epochs"] == 30)
    page.wait_for_function("count => document.querySelectorAll('#table tr.trial').length === count", arg=len(kept))
    assert sorted(trial_ids(page)) == kept and 0 < len(kept) < 6
    page.fill("#filter", "")
    page.uncheck("input[data-status=succeeded]")
    page.wait_for_function("document.querySelectorAll('#table tr.trial').length === 0")
    assert page.refused == []


def test_ticking_two_trials_in_the_file_draws_each_declared_plot_with_a_series_each(demo_report, open_file):
    _, path, _ = demo_report
    page = open_file(path)

    tick(page, "demo/t002", "demo/t005")

    drawn = dict(page.evaluate(SERIES))
    assert sorted(drawn) == DEMO_PLOTS
    assert all(revs == ["demo/t002", "demo/t005"] for revs in drawn.values()), drawn
    page.eval_on_selector("#trial-plots", "node => node.scrollIntoView()")
    screenshot(page, "report-plots-of-two-trials")
    page.uncheck("input[data-select='demo/t002']")
    page.wait_for_selector("body[data-trial-plots^='demo/t005:']")
    assert all(revs == ["demo/t005"] for revs in dict(page.evaluate(SERIES)).values())
    assert page.refused == [] and page.errors == []


def test_a_trials_page_and_the_report_view_work_offline(demo_report, open_file):
    _, path, shown = demo_report
    page = open_file(path)
    best = max(shown[1:], key=lambda row: row["metrics"]["test.acc"])

    page.click(f"tr[data-id='demo/{best['trial']}'] a")
    page.wait_for_selector(f"body[data-trial='demo/{best['trial']}']")
    rows = page.eval_on_selector_all("#view-trial table.detail tr", "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))")
    accuracy = next(cells for cells in rows if cells[0] == "test.acc")
    assert float(accuracy[2]) == pytest.approx(best["metrics"]["test.acc"], rel=1e-5)
    assert f"gitexp apply demo/{best['trial']}" in page.eval_on_selector_all(".commands code", "nodes => nodes.map(node => node.textContent)")
    screenshot(page, "report-trial")

    page.click("#nav-report")
    page.wait_for_selector("body[data-plots='drawn']")
    assert page.text_content("#view-report h2:has-text('Best trial')") == f"Best trial: demo/{best['trial']}"
    assert page.eval_on_selector_all("#view-report table:nth-of-type(2) tbody tr", "rows => rows.length") == 7  # baseline + 6
    assert len(page.evaluate("window.gitexpViews.report.map(view => view.scenegraph().root.marktype)")) == 1  # the confusion matrix
    assert page.is_hidden("#view-table") and page.refused == [] and page.errors == []
    screenshot(page, "report-view")


def test_hostile_values_render_as_text_in_the_file(hostile_project, open_file, tmp_path):
    gitexp(hostile_project.root, "report", "h", "--format", "html", "-o", str(tmp_path / "report.html"))
    page = open_file(tmp_path / "report.html")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    assert {cell(page, key, "p:train.loss") for key in trial_ids(page)} == set(HOSTILE_TEXT)
    assert page.eval_on_selector_all("#table img, #table b, #table script", "nodes => nodes.length") == 0
    assert "<b>m</b>" in page.eval_on_selector_all("#table th", "cells => cells.map(cell => cell.textContent)")
    page.goto((tmp_path / "report.html").as_uri() + "#trial/h%2Ft002")
    page.wait_for_selector("body[data-trial='h/t002']")
    assert "failed on =HYPERLINK" in page.text_content("#trial-log")
    assert dialogs == [] and page.refused == []


def test_a_value_that_closes_a_script_stays_inside_the_embedded_data(project, open_file, tmp_path):
    closing = "</script><script>alert(1)</script><!-- &amp;"
    gitexp(project.root, "queue", "--name", "x", "--set", f"train.loss={json.dumps([closing])}")
    gitexp(project.root, "run")
    gitexp(project.root, "report", "x", "--format", "html", "-o", str(tmp_path / "report.html"))
    text = (tmp_path / "report.html").read_text(encoding="utf-8")

    [embedded] = EMBEDDED.findall(text)
    assert json.loads(embedded) == json.loads(json.dumps(snapshot(project, build_sweep_report(project, "x"))))
    assert text.count("<script") == text.count("</script>") and "<!--" not in text
    page = open_file(tmp_path / "report.html")
    assert cell(page, "x/t001", "p:train.loss") == closing and page.errors == []


def test_the_embedded_trial_pages_are_what_the_ui_answers(demo_report):
    git, path, _ = demo_report
    [embedded] = EMBEDDED.findall(path.read_text(encoding="utf-8"))
    pages = json.loads(embedded)["trials"]

    assert sorted(pages) == [f"demo/t00{n}" for n in range(1, 7)]
    for name, found in pages.items():
        assert {**found, "log": ""} == {**data.trial_detail(git, name), "log": ""}
        assert data.trial_detail(git, name)["log"].endswith(found["log"]) and len(found["log"].encode()) <= 4096


def test_the_file_holds_the_plots_of_the_chosen_then_the_best_trials_up_to_the_page_s_limit(demo_report, open_file, monkeypatch, tmp_path):
    git, _, shown = demo_report
    report = build_sweep_report(git, "demo")
    chosen = [row for row in report.trials if row.name == "t006"]
    monkeypatch.setattr(plots, "MAX_SELECTED", 3)
    ranked = [f"demo/{row.name}" for row in report.ranked]

    (tmp_path / "report.html").write_text(report_page(git, report, chosen), encoding="utf-8")
    page = open_file(tmp_path / "report.html")

    plotted = ["demo/t006", *[name for name in ranked if name != "demo/t006"][:2]]
    assert json.loads(EMBEDDED.findall((tmp_path / "report.html").read_text(encoding="utf-8"))[0])["plotted"] == plotted
    disabled = page.eval_on_selector_all("input.select:disabled", "boxes => boxes.map(box => box.dataset.select)")
    assert sorted(disabled) == sorted(set(f"demo/{row['trial']}" for row in shown[1:]) - set(plotted))
    tick(page, *plotted[1:])
    assert all(revs == sorted(plotted[1:]) for revs in dict(page.evaluate(SERIES)).values())
