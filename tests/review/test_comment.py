"""The sweep's pull-request comment of a real demo run: plots GitHub draws (Mermaid) and images it serves.

The demo project (``gitexp demo``: 6 trials, dvclive step curves, a dvc.yaml
confusion matrix and a dvclive image) is run once per session. The comment is
read as GitHub reads it, with cmark-gfm; its Mermaid blocks are drawn by the
mermaid library (tests/fixtures/mermaid, installed by ``make browser``)
in headless Chromium; its images are pushed to a bare remote standing for
GitHub, and the comment is posted to the checking fake GitHub API.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
from pathlib import Path

import cmarkgfm
import pytest

from gitexp.review.comment import BETTER, COMMENT_LIMIT, WORSE, render_comment, significant_digits
from gitexp.review.report import build_sweep_report, project_plots, render_html, render_markdown, report_plots
from gitexp.review.results import Row
from gitexp.review.vega import manifest
from gitexp.store.git import Git
from gitexp.ui.twin import report_page
from tests.fake_github import TOKEN
from tests.review.test_report import assert_fetches_nothing
from tests.ui.conftest import system_chromium  # noqa: F401, F811 (a fixture, also used by the fixture draw)

REPO = Path(__file__).resolve().parents[2]
MERMAID_JS = REPO / "tests/fixtures/mermaid/node_modules/mermaid/dist/mermaid.min.js"
GITHUB_URL = "https://github.com/octo/lab.git"
HOSTILE = 'x"]\n```\n%%{init}%% --> | <b>b</b> [l](http://e) `c` ;'
DEMO_TRIALS = 6


@pytest.fixture(scope="module")
def draw(system_chromium):
    """``draw(mermaid source) -> (error or None, kinds of the series drawn)``, by mermaid in headless Chromium.

    It shares the module's one Chromium: Playwright's sync API allows one instance per thread at a time."""
    if not MERMAID_JS.exists():
        if os.environ.get("CI"):
            pytest.fail("mermaid is missing: run make browser")
        pytest.skip("mermaid is missing: run make browser")
    context = system_chromium.new_context()
    page = context.new_page()
    page.set_content("<html><body></body></html>")
    page.add_script_tag(path=str(MERMAID_JS))
    page.evaluate("mermaid.initialize({startOnLoad: false})")
    counter = iter(range(10_000))

    def render(source: str) -> tuple[str | None, list[str]]:
        answer = page.evaluate(
            """async ([id, source]) => {
                try { await mermaid.parse(source); return {svg: (await mermaid.render(id, source)).svg}; }
                catch (error) { return {error: String(error && error.message || error)}; }
            }""",
            [f"chart{next(counter)}", source],
        )
        if "error" in answer:
            return answer["error"], []
        return None, re.findall(r'<g class="(line|bar)-plot-\d+"', answer["svg"])

    yield render
    context.close()


def gfm(markdown: str) -> str:
    """The comment as GitHub renders it (raw HTML kept, so that any that got through shows)."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)


def mermaid_blocks(markdown: str) -> list[str]:
    return [html.unescape(block) for block in re.findall(r'<pre lang="mermaid"><code>(.*?)</code></pre>', gfm(markdown), re.S)]


def legends(markdown: str) -> list[int]:
    """The number of coloured squares in each legend line under a chart."""
    return [len(re.findall("[🟦🟧🟩🟥🟪🟫🟨⬛]", line)) for line in markdown.splitlines() if line.startswith(("🟦", "⬛"))]


def table_shapes(markdown: str) -> list[set[int]]:
    """For each table GitHub would draw: the set of cell counts of its rows (one count when no cell leaked)."""
    return [{len(re.findall(r"<t[hd][ >]", row)) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)} for table in re.findall(r"<table>(.*?)</table>", gfm(markdown), re.S)]


def test_the_demo_comment_is_posted_with_its_images_pushed_where_its_links_point(demo, bare_remote, github, run_gitexp, tmp_path):
    git = demo
    git.run("remote", "add", "origin", GITHUB_URL)
    git.run("config", f"url.{bare_remote}.insteadOf", GITHUB_URL)
    github.pulls.append({"number": 7, "state": "open", "head": {"ref": "exp/demo/t004", "label": "octo:exp/demo/t004"},
                         "base": {"ref": "main"}, "url": "u", "html_url": "https://github.com/octo/lab/pull/7"})  # fmt: skip
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "octo/lab",
           "GITHUB_REF": "refs/heads/exp/demo/t004", "GITHUB_RUN_ID": "42"}  # fmt: skip
    output = tmp_path / "comment.md"

    result = run_gitexp(git.root, "ci", "comment", "--sweep", "demo", "--report-plots", "both", "--output", str(output), env=env)

    assert result.code == 0, result.err
    [comment] = github.comments[7]
    body = comment["body"]
    assert output.read_text(encoding="utf-8") in body and len(body) < COMMENT_LIMIT
    remote = Git(bare_remote)
    pushed = remote.rev_parse("refs/gitexp/reports/demo")
    sources = re.findall(r'<img src="([^"]*)"', gfm(body))
    names = {"test.acc-vs-train.lr.png", "test.acc-vs-train.epochs.png", "steps-train_loss.png", "dvc-Confusion_matrix.png"}
    assert names <= {source.rsplit("/", 1)[-1].removesuffix("?raw=true") for source in sources}
    assert len([source for source in sources if "regions" in source]) == 2  # the dvclive image of the best trial and the baseline
    for source in sources:  # no relative link is left, and each points at a PNG of the pushed commit
        match = re.fullmatch(r"https://github\.com/octo/lab/blob/([0-9a-f]{40})/(demo/[^?]+)\?raw=true", source)
        assert match, source
        assert match[1] == pushed and remote.read_blob(pushed, match[2]).startswith(b"\x89PNG\r\n")
    assert "Full report (Markdown, HTML, plot files): the gitexp-report artifact of [workflow run 42](https://github.com/octo/lab/actions/runs/42)" in body
    assert len(mermaid_blocks(body)) == 2 + 3  # the objective against both params, and dvclive's three step curves


@pytest.mark.parametrize("token", [TOKEN, ""])
def test_without_a_pull_request_to_post_on_no_image_is_pushed(demo, bare_remote, github, run_gitexp, tmp_path, token):
    git = demo
    git.run("remote", "add", "origin", GITHUB_URL)
    git.run("config", f"url.{bare_remote}.insteadOf", GITHUB_URL)
    env = {"GITHUB_TOKEN": token, "GH_TOKEN": "", "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "octo/lab",
           "GITHUB_REF": "refs/heads/exp/demo/t004"}  # fmt: skip
    output = tmp_path / "comment.md"

    result = run_gitexp(git.root, "ci", "comment", "--sweep", "demo", "--report-plots", "both", "--output", str(output), env=env)

    assert result.code == 0, result.err
    assert result.out.startswith("Not posted: ") and github.comments == {}
    assert Git(bare_remote).run("for-each-ref") == ""  # no reports ref: nothing would link its images
    written = output.read_text(encoding="utf-8")
    assert "<img" not in gfm(written) and "/blob/" not in written and len(mermaid_blocks(written)) == 2 + 3


def test_every_mermaid_block_draws_with_one_series_per_trial(demo, draw):
    report = build_sweep_report(demo, "demo", top=0)

    markdown = render_comment(report, report_plots(demo, report), project_plots(demo, report), "mermaid")

    blocks = mermaid_blocks(markdown)
    drawn = [draw(block) for block in blocks]
    assert [error for error, _ in drawn] == [None] * len(blocks)
    kinds = [series for _, series in drawn]
    assert kinds[:2] == [["bar", "line"]] * 2  # the best test.acc per value of each param, and the baseline
    assert kinds[2:] == [["line"] * (DEMO_TRIALS + 1)] * 3  # a line per trial and the baseline, on each step curve
    assert legends(markdown) == [len(series) for series in kinds]
    assert "<img" not in gfm(markdown)  # mermaid only: no images
    assert "| baseline | 1 | " in markdown and "predicted 1" in markdown  # the confusion matrix as a table
    print(f"\nthe demo's comment ({len(markdown)} characters):\n{markdown}")


def test_the_ranking_is_rounded_and_its_deltas_signed_and_marked(demo):
    report = build_sweep_report(demo, "demo", top=0)

    markdown = render_comment(report, mode="mermaid")

    rows = [line for line in markdown.splitlines() if re.match(r"\| [0-9]+ \| exp/demo/", line)]
    assert len(rows) == DEMO_TRIALS
    for line in rows:
        delta = line.split(" | ")[5]
        assert re.fullmatch(rf"[+-][0-9.]+ ({BETTER}|{WORSE})|±0", delta), delta
    assert significant_digits([0.68241, 0.68212, 0.5]).value(0.68212) == "0.6821"  # apart at 4 digits, not 3
    assert significant_digits([0.5, 0.25]).delta(0.25, 0.5) == ("-0.25", -0.25)
    assert significant_digits([19, 29]).delta(29, 19) == ("+10", 10)


def test_a_300_trial_sweep_shows_the_best_10_and_stays_under_the_limit(demo):
    report = build_sweep_report(demo, "demo", top=0)
    best = report.ranked[0]
    rows = [
        dataclasses.replace(best, name=f"t{index:03d}", branch=f"exp/demo/t{index:03d}", metrics={**best.metrics, "test.acc": 0.5 + index / 1000})
        for index in range(1, 301)
    ]
    big = dataclasses.replace(report, trials=rows, ranked=sorted(rows, key=lambda row: -row.metrics["test.acc"]))

    markdown = render_comment(big, report_plots(demo, big), project_plots(demo, big), "both", full_report="the gitexp-report artifact")

    assert len(markdown) < COMMENT_LIMIT
    ranked = re.findall(r"^\| ([0-9]+) \| exp/demo/(t[0-9]+) \|", markdown, re.M)
    assert ranked == [(str(rank), f"t{301 - rank:03d}") for rank in range(1, 11)]
    assert "|  | baseline | " in markdown and "300 trials: 300 succeeded." in markdown
    assert "The best 10 of 300 ranked trials; the full ranking is in the full report." in markdown


def test_a_comment_over_the_limit_drops_plots_and_says_where_the_full_report_is(demo):
    report = build_sweep_report(demo, "demo", top=0)

    markdown = render_comment(report, report_plots(demo, report), project_plots(demo, report), "mermaid", full_report="the gitexp-report artifact", limit=4000)

    assert len(markdown) <= 4000
    assert "**This comment was cut to fit GitHub's size limit**: the full report is the gitexp-report artifact." in markdown
    assert "### Ranking by test.acc" in markdown


def test_hostile_trial_param_and_metric_names_break_no_chart_and_no_table(demo, draw):
    report = build_sweep_report(demo, "demo", top=0)
    param, metric = f"train.{HOSTILE}", f"acc {HOSTILE}"

    def hostile(row: Row) -> Row:
        params = {param if key == "train.lr" else key: value for key, value in row.params.items()}
        metrics = {metric if key == "test.acc" else key: value for key, value in row.metrics.items()}
        named = {} if row.is_baseline else {"name": f"{row.name}{HOSTILE}", "branch": f"exp/demo/{row.name}{HOSTILE}", "sweep": HOSTILE}
        return dataclasses.replace(row, params=params, metrics=metrics, **named)

    ranking = dataclasses.replace(report.ranking, metric=metric)
    odd = dataclasses.replace(
        report,
        baseline=hostile(report.baseline),
        trials=[hostile(row) for row in report.trials],
        ranked=[hostile(row) for row in report.ranked],
        varied=[param if key == "train.lr" else key for key in report.varied],
        metrics=[metric if key == "test.acc" else key for key in report.metrics],
        ranking=ranking,
    )

    markdown = render_comment(odd, report_plots(demo, odd), mode="mermaid")

    blocks = mermaid_blocks(markdown)
    assert len(blocks) == 5 and [draw(block)[0] for block in blocks] == [None] * 5
    assert [len(draw(block)[1]) for block in blocks[2:]] == [DEMO_TRIALS + 1] * 3
    assert all(len(shape) == 1 for shape in table_shapes(markdown))  # no pipe added a cell
    rendered = gfm(markdown)
    assert "<b>" not in rendered and 'href="http' not in rendered
    assert markdown.count("```mermaid") == 5 and markdown.count("```") == 10  # no name closed a block


def test_a_project_plot_whose_data_a_trial_lacks_says_so_and_the_report_goes_on(demo, tmp_path):
    git = demo
    report = build_sweep_report(git, "demo")
    best = report.ranked[0]
    git.run("checkout", "-q", "--detach", best.commit)
    git.run("rm", "-q", "eval/predictions.csv")
    git.run("commit", "-q", "-m", "no predictions")
    broken = dataclasses.replace(best, commit=git.rev_parse("HEAD"))
    git.run("checkout", "-q", "main")

    declared = project_plots(git, report, [broken])
    markdown = render_markdown(git, report, (), [(plot, None) for plot in declared])

    [confusion] = [plot for plot in declared if plot.title == "Confusion matrix"]
    assert confusion.notes == ("demo/t004: eval/predictions.csv not found in its commit, so the plot lacks it",)
    section = markdown.split("#### Confusion matrix", 1)[1]
    assert section.index("eval/predictions.csv not found") < section.index("#### dvclive/plots/images/regions.png (baseline)")
    assert "| baseline | 0 | " in section  # the baseline's matrix still shows, as a table


def test_the_html_report_carries_dvc_renders_vega_lite_of_each_project_plot(demo):
    report = build_sweep_report(demo, "demo")

    page = render_html(demo, report, [], project_plots(demo, report))

    [spec_text] = re.findall(r'<script type="application/json" class="vega-lite">(.*?)</script>', page, re.S)
    spec = json.loads(spec_text)
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert {row["rev"] for row in spec["data"]["values"]} == {"baseline", f"demo/{report.best.name}"}
    assert page.count('<img src="data:image/png;base64,') == 3  # the confusion matrix, and the two images


def test_the_html_report_of_project_plots_inlines_vega_and_fetches_nothing(demo):
    report = build_sweep_report(demo, "demo")

    page = report_page(demo, report)

    assert_fetches_nothing(page)
    assert [f"/* {script['package']} {script['version']}" in page for script in manifest()] == [True, True, True]


SCENEGRAPH_MARKS = """() => window.gitexpViews.report.map(view => {
    const marks = [];
    (function walk(node) {
        if (node.marktype) { marks.push({type: node.marktype, role: node.role || '', items: node.items.length}); }
        (node.items || []).forEach(walk);
    })(view.scenegraph().root);
    return marks;
})"""


def test_the_html_report_draws_each_project_plot_offline_with_the_inlined_vega(demo, system_chromium, tmp_path):
    report = build_sweep_report(demo, "demo")
    page_file = tmp_path / "report.html"
    page_file.write_text(report_page(demo, report), encoding="utf-8")
    context = system_chromium.new_context()
    fetched = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else (fetched.append(route.request.url), route.abort()))
    page = context.new_page()
    page.goto(page_file.as_uri() + "#report")  # the ui's page: the report is its Report view
    page.wait_for_selector("body[data-plots]")

    assert page.get_attribute("body", "data-plots") == "drawn" and fetched == []
    [marks] = page.evaluate(SCENEGRAPH_MARKS)
    [panels] = [mark["items"] for mark in marks if mark["role"] == "scope"]
    cells = [mark["items"] for mark in marks if mark["type"] == "rect" and mark["role"] == "mark" and mark["items"]]
    assert panels == 2 and cells == [4, 4, 4, 4]  # a 2x2 matrix per commit (the baseline, the best trial): heat and frame
    for folder in [tmp_path / "screenshots", *([Path(os.environ["GITEXP_ARTIFACTS"])] if os.environ.get("GITEXP_ARTIFACTS") else [])]:
        folder.mkdir(parents=True, exist_ok=True)  # as tests/ui's pages are kept
        page.screenshot(path=str(folder / "html-report-project-plots.png"), full_page=True)
    context.close()


def test_the_report_job_writes_the_full_report_with_the_project_plots(demo, run_gitexp, tmp_path):
    result = run_gitexp(demo.root, "report", "demo", "--top", "0", "-o", str(tmp_path / "gitexp-report/demo/report.md"))

    assert result.code == 0, result.err
    plots = sorted(path.name for path in (tmp_path / "gitexp-report/demo/report-plots").iterdir())
    assert "dvc-Confusion_matrix.png" in plots and len([name for name in plots if "regions" in name]) == 2


POINTS_TEMPLATE = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "data": {"values": "<DVC_METRIC_DATA>"},
    "mark": "point",
    "encoding": {"x": {"field": "<DVC_METRIC_X>", "type": "quantitative"}, "y": {"field": "<DVC_METRIC_Y>", "type": "quantitative"}},
}
LOSS_POINTS = "  - Loss points:\n      template: tpl/points.json\n      x: step\n      y:\n        dvclive/plots/metrics/train/loss.tsv: loss\n"


def test_a_custom_template_is_read_from_the_commit_and_one_it_lacks_is_named(demo, tmp_path, monkeypatch):
    git = demo
    (git.root / "tpl").mkdir()
    (git.root / "tpl/points.json").write_text(json.dumps(POINTS_TEMPLATE))
    (git.root / "dvc.yaml").write_text((git.root / "dvc.yaml").read_text() + LOSS_POINTS)
    git.run("add", "-A")
    git.run("commit", "-q", "-m", "a custom template")
    monkeypatch.chdir(tmp_path)  # DVC would look for the template where it runs

    [points] = [plot for plot in project_plots(git, build_sweep_report(git, "demo", baseline_rev="HEAD")) if plot.title == "Loss points"]
    git.run("rm", "-q", "tpl/points.json")
    git.run("commit", "-q", "-m", "the template is gone")
    [lost] = [plot for plot in project_plots(git, build_sweep_report(git, "demo", baseline_rev="HEAD")) if plot.title == "Loss points"]

    assert points.vega["mark"] == "point" and points.png and points.notes == ()
    assert lost.notes == ("baseline: tpl/points.json (its Vega template: drawn as a line) not found in its commit, so the plot lacks it",)
    assert lost.png and lost.vega["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_a_multi_objective_sweep_s_comment_names_each_trial_s_pareto_front(project, run_gitexp, tmp_path):
    from tests.review.test_pareto import run_pareto_sweep

    run_pareto_sweep(project, run_gitexp, tmp_path)
    report = build_sweep_report(project, "mo", top=0)

    markdown = render_comment(report, report_plots(project, report), mode="mermaid")

    header = next(line for line in markdown.splitlines() if line.startswith("| # | trial |"))
    assert header.endswith("| Pareto front |") and all(len(shape) == 1 for shape in table_shapes(markdown))
    fronts = [line.rsplit("|", 2)[1].strip() for line in markdown.splitlines() if re.match(r"\| [0-9]+ \| exp/mo/", line)]
    assert fronts == [str(report.pareto.fronts[row.name]) for row in report.ranked] and fronts[0] == "1"
