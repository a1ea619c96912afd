"""The page's plots in headless Chromium, read from Vega's scenegraph (not pixels): the project's declared plots
and dvclive's step curves for the ticked trials, a series each; brushing the parallel coordinates filters the table."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.ui.conftest import REPO, screenshot
from tests.ui.test_page import trial_ids, wait_for_step_above

DEMO_PLOTS = [
    "Confusion matrix",
    "dvclive/plots/metrics/test/acc.tsv", "dvclive/plots/metrics/train/acc.tsv", "dvclive/plots/metrics/train/loss.tsv",
]  # fmt: skip  (the demo's declared plots, by title)
SERIES = """() => window.gitexpViews.trials.map(({id, view}) => {
    const revs = new Set();
    (function walk(node) {
        if (node.role === 'mark') (node.items || []).forEach(item => item.datum && item.datum.rev && revs.add(item.datum.rev));
        (node.items || []).forEach(walk);
    })(view.scenegraph().root);
    return [id, [...revs].sort()];
})"""


def tick(page, *ids: str) -> None:
    for trial in ids:
        page.check(f"input[data-select='{trial}']")
    page.wait_for_selector(f"body[data-trial-plots^='{','.join(ids)}:']")


def test_ticking_two_trials_draws_each_declared_plot_with_a_series_each(demo, ui_server, open_page):
    page = open_page(ui_server(demo.root))
    errors = []  # a Content-Security-Policy refusal (eval) or a failed fetch would show here
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))

    tick(page, "demo/t002", "demo/t004")

    drawn = dict(page.evaluate(SERIES))
    assert sorted(drawn) == DEMO_PLOTS
    assert all(revs == ["demo/t002", "demo/t004"] for revs in drawn.values()), drawn
    assert page.locator("#trial-plots figcaption").all_text_contents()[0] == "test/acc"
    assert errors == []
    page.eval_on_selector("#trial-plots", "node => node.scrollIntoView()")
    screenshot(page, "plots-of-two-trials")


def brush(page, axis: int, low: float, high: float) -> None:
    """Drag a rectangle over the parallel coordinates' axis ``axis``, up from position ``low`` (inside the
    plot, where the drag must start) to ``high`` (above 1: the brush stops at the plot's top)."""
    box = page.evaluate(
        """([axis, low, high]) => {
            const view = window.gitexpViews.sweep.parallel, [originX, originY] = view.origin(), padding = view.padding();
            view.container().scrollIntoView();
            const frame = view.container().querySelector('svg').getBoundingClientRect();
            const x = view.scale('x'), y = view.scale('y');
            const left = frame.left + padding.left + originX, top = frame.top + padding.top + originY;
            return {x0: left + x(axis - 0.1), x1: left + x(axis + 0.1), y0: top + y(low), y1: top + y(high)};
        }""",
        [axis, low, high],
    )
    page.mouse.move(box["x0"], box["y0"])
    page.mouse.down()
    page.mouse.move((box["x0"] + box["x1"]) / 2, (box["y0"] + box["y1"]) / 2, steps=4)
    page.mouse.move(box["x1"], box["y1"], steps=4)
    page.mouse.up()


def test_brushing_an_axis_of_the_parallel_coordinates_filters_the_table(reviewed_project, ui_server, open_page):
    page = open_page(ui_server(reviewed_project.root))
    page.wait_for_selector("body[data-sweep-plots^='s:']")
    rows = page.evaluate("() => window.gitexpViews.sweep.parallel.data('source_0')")
    lr_axis = sorted({(row["id"], row["value"]) for row in rows if row["key"] == "train.lr"})
    assert sorted(trial_ids(page)) == [f"s/t00{n}" for n in range(1, 7)]
    assert {value for _, value in lr_axis} == {"0.01", "0.1"}  # the failed lr=0.5 trials have no score to draw

    brush(page, 0, 0.8, 1.05)  # the top of the lr axis: lr 0.1

    page.wait_for_function("() => document.querySelectorAll('#table tr.trial').length === 2")
    assert sorted(trial_ids(page)) == sorted(trial for trial, value in lr_axis if value == "0.1")
    assert page.text_content("#brushed") == "brushed: 2 trials"
    screenshot(page, "sweep-views-brushed")
    page.click("#brush-clear")
    page.wait_for_function("() => document.querySelectorAll('#table tr.trial').length === 6")


STEPPING_TRAIN_PY = textwrap.dedent(
    """\
    import json, os, time
    os.makedirs("dvclive/plots/metrics", exist_ok=True)
    with open("dvclive/plots/metrics/score.tsv", "w") as curve:
        curve.write("step\\tscore\\n")
    for step in range(40):
        with open("dvclive/plots/metrics/score.tsv", "a") as curve:
            curve.write(f"{step}\\t{step / 100}\\n")
        json.dump({"step": step, "score": step / 100}, open("metrics.json", "w"))
        time.sleep(0.4)
    """
)
POINTS_ABOVE = """(above) => {
    const found = window.gitexpViews.trials.find(({id}) => id.endsWith('score.tsv'));
    let points = 0;
    (function walk(node) {
        if (node.marktype === 'line') points += node.items.filter(item => item.datum && item.datum.rev === 'live/t001').length;
        (node.items || []).forEach(walk);
    })(found ? found.view.scenegraph().root : {});
    return points > above ? points : 0;
}"""  # the points of live/t001's score curve drawn, when more than ``above``


def test_a_running_trial_s_step_curve_grows_in_the_open_page(project, run_gitexp, ui_server, open_page):
    (project.root / "train.py").write_text(STEPPING_TRAIN_PY)
    project.run("commit", "-qam", "a training that logs a dvclive step every 0.4 s")
    assert run_gitexp(project.root, "queue", "--name", "live", "--set", "train.lr=[0.2]").code == 0
    page = open_page(ui_server(project.root))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen([sys.executable, "-m", "gitexp", "run", "live"], cwd=project.root, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_step_above(page, "live/t001", -1, timeout=60_000)
        tick(page, "live/t001")
        first = page.wait_for_function(POINTS_ABOVE, arg=0).json_value()
        page.wait_for_function(POINTS_ABOVE, arg=first)  # a later step, drawn without a reload or a new tick
    finally:
        run.terminate()
        run.wait(30)
