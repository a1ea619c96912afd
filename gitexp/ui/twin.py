"""``gitexp report --format html``: the page of ``gitexp ui`` as one file that needs no server (its static twin).

The file is the ui's own index.html with its stylesheet and scripts inlined (the
vendored Vega builds too) and, in ``<script type="application/json" id="gitexp-data">``,
what the ui's API answers for the report's sweep, built by the same functions
(``gitexp.ui.data``, ``gitexp.ui.plots``): the table, each trial's page, the
plots of the best trials (at most as many as the page overlays) and the sweep's
views. app.js reads that element instead of the API when the page holds it, so
there is no fetch, no live update and no run form. The report itself (ranking,
best trial, failures, the project's dvc.yaml plots) is the page's Report view.
A Content-Security-Policy of the scripts' hashes lets only them run and nothing load.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from markupsafe import escape

from gitexp.review.report import SweepReport, prepare_output, project_plots, render_html, report_plots, script_json
from gitexp.review.results import Row, collect_results
from gitexp.review.vega import STATIC, inline_script
from gitexp.store.git import Git
from gitexp.ui import data, plots

LOG_BYTES = 4096  # of each trial's log in the file (the live page reads 64 KiB)
SCRIPT = re.compile(r'<script src="/static/([^"]+)"></script>')
STYLESHEET = '<link rel="stylesheet" href="/static/app.css">'
POLICY = re.compile(r'<meta http-equiv="Content-Security-Policy" content="[^"]*">')
REPORT_VIEW = '<section id="view-report" hidden></section>'


def snapshot(git: Git, report: SweepReport, trials: Sequence[Row] | None = None) -> dict[str, Any]:
    """What the ui's API answers for the report's sweep: the page draws the table, the trial pages and the plots from it.
    The plots are those of ``trials`` (``--trials``), then of the best ranked, up to the page's limit."""
    sweep = report.sweep
    results = collect_results(git, [sweep.name])  # read once for the table, the plots and the views
    table = {**data.experiments(data.View(git, sweep.project, sweeps=(sweep.name,)), results), "version": 1}
    ids = [row["id"] for row in table["rows"] if row["kind"] == "trial"]
    preferred = [f"{row.sweep}/{row.name}" for row in [*(trials or ()), *report.ranked]]
    plotted = [name for name in dict.fromkeys([*preferred, *ids]) if name in ids][: plots.MAX_SELECTED]
    return data.safe({
        "experiments": table,
        "trials": data.sweep_details(git, sweep.name, LOG_BYTES),
        "plotted": plotted,
        "plots": plots.trial_plots(git, sweep.project, plotted, results)["plots"] if plotted else [],
        "sweepPlots": {sweep.name: plots.sweep_plots(git, sweep.name, results)},
    })


def report_page(git: Git, report: SweepReport, trials: Sequence[Row] | None = None) -> str:
    """The ui's page as one file: its scripts and stylesheet inlined, the report's data embedded, the report as a view."""
    summary = render_html(git, report, report_plots(git, report), project_plots(git, report, trials))
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    hashes = []

    def inlined(match: re.Match[str]) -> str:
        code = inline_script(match.group(1))
        hashes.append("'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'")
        return f"<script>{code}</script>"

    page = SCRIPT.sub(inlined, page)
    policy = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src {' '.join(hashes)}"
    page = POLICY.sub(lambda _: f'<meta http-equiv="Content-Security-Policy" content="{policy}">', page)
    style = (STATIC / "app.css").read_text(encoding="utf-8").replace("</style", "<\\/style")
    embedded = f'<script type="application/json" id="gitexp-data">{script_json(snapshot(git, report, trials))}</script>\n'
    replacements = [
        (STYLESHEET, f"<style>\n{style}</style>"),
        ("<title>gitexp</title>", f"<title>gitexp sweep {escape(report.sweep.name)}</title>"),
        ("</main>\n", "</main>\n" + embedded),
        (REPORT_VIEW, f'<section id="view-report" hidden>\n{summary}</section>'),  # last: nothing is looked for in it
    ]
    for marker, replacement in replacements:
        if marker not in page:
            raise AssertionError(f"gitexp/ui/static/index.html lost {marker!r}, which the HTML report replaces")
        page = page.replace(marker, replacement, 1)
    return page


def write_page(git: Git, report: SweepReport, output: Path, trials: Sequence[Row] | None = None) -> list[Path]:
    """Write ``report_page`` to ``output`` (its folder made, as for Markdown); answers the files written."""
    prepare_output(output)
    output.write_text(report_page(git, report, trials), encoding="utf-8")
    return [output]
