"""The page in headless Chromium: the table as show --json has it, sorting, filtering, live steps, the run form,
hostile values as text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from gitexp.store.records import Ledger
from tests.conftest import HOSTILE_TEXT
from tests.ui.conftest import REPO, screenshot


def cell(page, row_id: str, column: str) -> str:
    return page.eval_on_selector(f"tr[data-id='{row_id}'] td[data-column='{column}']", "node => node.textContent")


def wait_for_step_above(page, row_id: str, above: int, timeout: float | None = None) -> None:
    page.wait_for_function(
        """([id, above]) => {
            const found = document.querySelector(`tr[data-id='${id}'] td[data-column=step]`);
            return found !== null && found.textContent !== '' && Number(found.textContent) > above;
        }""",
        arg=[row_id, above],
        timeout=timeout,
    )


def trial_ids(page) -> list[str]:
    return page.eval_on_selector_all("#table tr.trial", "rows => rows.map(row => row.dataset.id)")


def assert_cells_as_shown(page, sweep: str, trials) -> None:
    """Each trial's status, params and metrics cells hold what ``show --json`` gave for it (``trials``: its rows)."""
    for row in trials:
        key = f"{sweep}/{row['trial']}"
        assert cell(page, key, "status") == row["status"]
        for name, value in row["params"].items():
            assert float(cell(page, key, f"p:{name}")) == pytest.approx(value, rel=1e-5)
        for name, value in row["metrics"].items():
            assert float(cell(page, key, f"m:{name}")) == pytest.approx(value, rel=1e-5)


def test_the_table_shows_each_trial_with_the_values_show_json_gives(reviewed_project, run_gitexp, ui_server, open_page):
    shown = json.loads(run_gitexp(reviewed_project.root, "show", "--json").out)["trials"]
    page = open_page(ui_server(reviewed_project.root))
    trials = [row for row in shown if row["trial"] != "baseline"]
    assert sorted(trial_ids(page)) == sorted(f"s/{row['trial']}" for row in trials) and len(trials) == 6
    assert_cells_as_shown(page, "s", trials)
    assert page.text_content("[data-count=succeeded]") == "4" and page.text_content("[data-count=failed]") == "2"
    screenshot(page, "table")


def test_sorting_and_filtering_change_the_rows(reviewed_project, ui_server, open_page):
    page = open_page(ui_server(reviewed_project.root))
    page.click("th[data-column='m:score']")
    scores = [cell(page, key, "m:score") for key in trial_ids(page)]
    present = [float(score) for score in scores if score]
    assert present == sorted(present, reverse=True) and scores[len(present):] == ["", ""]  # failed ones last
    page.click("th[data-column='m:score']")
    ascending = [float(cell(page, key, "m:score")) for key in trial_ids(page)[:4]]
    assert ascending == sorted(ascending)
    page.fill("#filter", "score > 0.95 and status == succeeded")
    page.wait_for_function("document.querySelectorAll('#table tr.trial').length === 2")
    assert all(float(cell(page, key, "m:score")) > 0.95 for key in trial_ids(page))
    page.fill("#filter", "train.lr == 0.5")
    page.wait_for_function("document.querySelectorAll('#table tr.trial').length === 2")
    assert {cell(page, key, "status") for key in trial_ids(page)} == {"failed"}
    page.fill("#filter", "score > and")
    page.wait_for_function("document.getElementById('filter-error').textContent !== ''")
    page.fill("#filter", "")
    page.uncheck("input[data-status=failed]")
    page.wait_for_function("document.querySelectorAll('#table tr.trial').length === 4")


SLOW_TRAIN_PY = textwrap.dedent(
    """\
    import json, os, time
    for step in range(40):
        json.dump({"step": step, "score": step / 100}, open("metrics.json", "w"))
        time.sleep(0.4)
    """
)


def test_a_running_trial_shows_its_new_steps_without_a_reload(project, run_gitexp, ui_server, open_page):
    (project.root / "train.py").write_text(SLOW_TRAIN_PY)
    project.run("commit", "-qam", "a training that logs a step every 0.4 s")
    assert run_gitexp(project.root, "queue", "--name", "live", "--set", "train.lr=[0.2]").code == 0
    page = open_page(ui_server(project.root))
    page.evaluate("window.notReloaded = true")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen([sys.executable, "-m", "gitexp", "run", "live"], cwd=project.root, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_step_above(page, "live/t001", -1, timeout=60_000)
        first = int(cell(page, "live/t001", "step"))
        assert cell(page, "live/t001", "status") == "running"
        wait_for_step_above(page, "live/t001", first)
        assert float(cell(page, "live/t001", "m:score")) > first / 100
        assert page.evaluate("window.notReloaded") is True
    finally:
        run.terminate()
        run.wait(30)


def test_the_run_form_queues_a_sweep_and_shows_the_caret_error(reviewed_project, ui_server, open_page):
    page = open_page(ui_server(reviewed_project.root))
    page.goto(page.url.split("#")[0] + "#run")
    page.wait_for_selector("body[data-form='1']")
    assert page.input_value("input[data-key='train.lr']") == "0.01"
    page.fill("input[data-key='train.lr']", "logspace(1,")
    page.wait_for_function("key => document.querySelector(`.field-error[data-key='${key}']`).textContent.includes('>>>')", arg="train.lr")
    screenshot(page, "run-form-caret-error")
    page.click("button[data-action=queue]")
    page.wait_for_timeout(500)
    assert [sweep.name for sweep in Ledger(reviewed_project).sweeps()] == ["s"]
    page.fill("input[data-key='train.lr']", "[0.2, 0.3]")
    page.fill("#run-name", "fromform")
    page.click("button[data-action=queue]")
    page.wait_for_selector("body[data-queued='fromform']")
    assert reviewed_project.rev_parse("exp/fromform/t001") and reviewed_project.rev_parse("exp/fromform/t002")
    page.goto(page.url.split("#")[0] + "#table")
    page.wait_for_selector("tr[data-id='fromform/t002']")


def test_hostile_values_render_as_text(hostile_project, ui_server, open_page):
    page = open_page(ui_server(hostile_project.root))
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    shown = {cell(page, key, "p:train.loss") for key in trial_ids(page)}
    assert shown == set(HOSTILE_TEXT)
    assert page.eval_on_selector_all("#table img, #table b, #table script", "nodes => nodes.length") == 0
    assert "<b>m</b>" in page.eval_on_selector_all("#table th", "cells => cells.map(cell => cell.textContent)")
    page.goto(page.url.split("#")[0] + "#trial/h%2Ft002")
    page.wait_for_selector("body[data-trial='h/t002']")
    assert "failed on =HYPERLINK" in page.text_content("#trial-log")
    assert dialogs == []


def test_columns_are_hidden_shown_reordered_and_pinned_and_stay_so_after_a_reload(reviewed_project, ui_server, open_page):
    page = open_page(ui_server(reviewed_project.root))
    headers = lambda: page.eval_on_selector_all("#table th", "cells => cells.map(cell => cell.dataset.column)")  # noqa: E731
    assert "p:train.lr" in headers() and "p:train.loss" not in headers()  # the varied params by default
    page.click("#columns-button")
    page.uncheck("#columns input[data-column=host]")
    page.check("#columns input[data-column='p:train.loss']")
    page.click("#columns .column-choice:has(input[data-column='m:score']) button[title=pin]")
    assert "host" not in headers() and "p:train.loss" in headers()
    assert headers()[:2] == ["name", "m:score"] and "pinned" in page.get_attribute("th[data-column='m:score']", "class")
    before = headers().index("status")
    page.click("#columns .column-choice:has(input[data-column=created]) button[title='move up']")
    assert headers().index("created") == before
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert "host" not in headers() and headers()[:2] == ["name", "m:score"]


def test_a_trials_page_has_its_params_against_the_baseline_metric_deltas_log_and_commands(reviewed_project, run_gitexp, ui_server, open_page):
    shown = {row["trial"]: row for row in json.loads(run_gitexp(reviewed_project.root, "show", "--json").out)["trials"]}
    page = open_page(ui_server(reviewed_project.root))
    page.click("tr[data-id='s/t003'] a")
    page.wait_for_selector("body[data-trial='s/t003']")
    rows = page.eval_on_selector_all("#view-trial table.detail tr", "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))")
    changed = {cells[0]: cells[1:] for cells in rows if len(cells) == 3 and cells[0] != "param"}
    trial, baseline = shown["t003"], shown["baseline"]
    assert {key for key in changed} == {key for key in trial["params"] if trial["params"][key] != baseline["params"].get(key)}
    score = next(cells for cells in rows if cells[0] == "score")
    assert float(score[2]) == pytest.approx(trial["metrics"]["score"], rel=1e-5)
    if baseline["metrics"].get("score") is not None:
        assert float(score[3]) == pytest.approx(trial["metrics"]["score"] - baseline["metrics"]["score"], rel=1e-4)
    commands = page.eval_on_selector_all(".commands code", "nodes => nodes.map(node => node.textContent)")
    assert "gitexp apply s/t003" in commands and "gitexp diff s/t003" in commands and "gitexp pr s/t003" in commands
    assert "Running stage 'train'" in page.text_content("#trial-log")
    screenshot(page, "trial")
