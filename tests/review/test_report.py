"""The review report: what it ranks, compares and quotes, its plots, and that user text stays text."""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from gitexp.review.report import (
    Ranking,
    build_sweep_report,
    choose_ranking,
    code_block,
    markdown_text,
    parse_step_tsv,
    render_html,
    render_markdown,
    report_plots,
    write_markdown,
)
from gitexp.review.results import Row

HOSTILE = "<img src=x onerror=alert(1)>|*em* [l](http://x) @team $x$ `c`"


def assert_png(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    image.verify()
    assert image.format == "PNG"
    return image.size


def test_the_sweep_is_ranked_by_its_objective_with_failures_quoted(reviewed_project):
    report = build_sweep_report(reviewed_project, "s")

    assert report.ranking == Ranking("score", "maximize", declared=True)
    assert [(row.name, row.metrics["score"]) for row in report.ranked] == [
        ("t003", 0.999), ("t004", 0.998), ("t001", 0.909), ("t002", 0.908),
    ]  # fmt: skip
    assert report.counts == {"succeeded": 4, "failed": 2} and report.best.branch == "exp/s/t003"
    assert report.metrics == ["score", "test.auc"] and report.varied == ["train.lr", "train.n_est"]
    [t005, t006] = report.failed
    assert t005.row.name == "t005" and "exited with status" in t005.reason and t006.row.name == "t006"
    assert t005.log_tail[2:4] == ["epoch 1 | loss 0.9", "loss is nan <b>diverged</b> | *stop*"]


def test_the_markdown_report(reviewed_project):
    text = render_markdown(reviewed_project, build_sweep_report(reviewed_project, "s", top=3))

    lines = text.splitlines()
    assert lines[0] == "## gitexp sweep s" and lines[2] == "6 trials: 4 succeeded, 2 failed"
    assert "| train.lr | \\[0.01, 0.1, 0.5\\] |" in lines
    assert "| objective | maximize score |" in lines
    assert "### Ranking by score (higher is better)" in lines
    header = lines.index("| # | trial | train.lr | train.n_est | score | Δ vs baseline | test.auc | duration |")
    assert lines[header + 2] == "|  | baseline | 0.01 | 50 | - |  | - |  |"
    assert lines[header + 3].startswith("| 1 | exp/s/t003 | 0.1 | 10 | 0.999 |  | 0.4995 | ")
    assert len([line for line in lines if re.match(r"\| [0-9] \| exp/", line)]) == 3
    assert "The best 3 of 4 ranked trials." in lines
    assert "Branch **exp/s/t003**. Take it with gitexp apply s/t003, or open a pull request with gitexp pr s/t003." in lines
    failed = text.split("### Failed trials", 1)[1]
    assert "**exp/s/t005**: " in failed
    assert "\nepoch 1 | loss 0.9\nloss is nan <b>diverged</b> | *stop*\n" in failed.split("```")[1]  # kept as it was


def test_deltas_against_another_baseline(reviewed_project):
    git = reviewed_project
    (git.root / "metrics.json").write_text('{"score": 0.9, "test": {"auc": 0.45}}')
    git.run("add", "metrics.json")
    git.run("commit", "-q", "-m", "metrics of the current model")

    report = build_sweep_report(git, "s", baseline_rev="main")
    text = render_markdown(git, report)

    assert report.delta(report.best, "score") == pytest.approx(0.099)
    assert "|  | baseline | 0.01 | 50 | 0.9 |  | 0.45 |  |" in text
    assert "| 1 | exp/s/t003 | 0.1 | 10 | 0.999 | +0.099 | 0.4995 |" in text
    assert "| test.auc | 0.45 | 0.4995 | +0.0495 |" in text
    assert "| compared against | " in text


def test_deltas_against_a_baseline_whose_metrics_are_in_the_dvc_cache(get_started):
    report = build_sweep_report(get_started, "gs")

    text = render_markdown(get_started, report)

    assert report.ranking == Ranking("avg_prec.test", "maximize", declared=True)
    assert report.baseline.metrics == {"avg_prec.train": 0.5, "avg_prec.test": 0.25, "roc_auc.test": 0.2}
    assert [(row.params["train.n_est"], report.delta(row, "avg_prec.test")) for row in report.ranked] == [
        (30, pytest.approx(-0.1)), (10, pytest.approx(-0.2)),
    ]  # fmt: skip
    assert "|  | baseline | 50 | 0.25 |  | 0.5 | 0.2 |  |" in text
    assert "| 1 | exp/gs/t002 | 30 | 0.15 | -0.1 | 0.3 | 0.2 | " in text
    assert "| avg_prec.train | 0.5 | 0.3 | -0.2 |" in text and "| roc_auc.test | 0.2 | 0.2 | +0 |" in text


def test_plots_are_pngs_written_beside_the_markdown_and_linked_relatively(reviewed_project, tmp_path):
    report = build_sweep_report(reviewed_project, "s")

    written = write_markdown(reviewed_project, report, tmp_path / "out" / "report.md")

    plot_dir = tmp_path / "out" / "report-plots"
    assert written[0] == tmp_path / "out" / "report.md"
    assert sorted(path.name for path in written[1:]) == [
        "best-so-far-score.png", "score-vs-train.lr.png", "score-vs-train.n_est.png", "steps-loss.png",
    ]  # fmt: skip
    for path in written[1:]:
        assert path.parent == plot_dir and assert_png(path.read_bytes()) == (640, 400)
    text = written[0].read_text()
    assert "![score against train.lr](report-plots/score-vs-train.lr.png)" in text
    assert "![loss by step](report-plots/steps-loss.png)" in text


def test_the_html_report_is_one_page_with_its_plots_inlined(reviewed_project):
    report = build_sweep_report(reviewed_project, "s")

    page = render_html(reviewed_project, report, report_plots(reviewed_project, report))

    sources = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">', page)
    assert [alt for _, alt in sources] == ["score against train.lr", "score against train.n_est", "best score so far", "loss by step"]
    for data, _ in sources:
        assert_png(base64.b64decode(data))
    assert_fetches_nothing(page)
    assert "loss is nan &lt;b&gt;diverged&lt;/b&gt; | *stop*" in page and "<b>diverged" not in page


def assert_fetches_nothing(page: str) -> None:
    """No element of ``page`` loads anything: no src/href but data:, no stylesheet link, no script that fetches
    or imports an http(s) address (the vendored Vega builds are left to tests/review/test_vega.py; the ui's own scripts are read)."""
    own = re.sub(r"<script>/\* vega[^*]*\*/.*?</script>", "", page, flags=re.S)  # the builds: tests/review/test_vega.py
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", own, flags=re.S)  # the elements, without the ui's scripts and data
    assert not re.search(r"""(src|href)\s*=\s*(?!["']?(data:|#))""", markup, re.I)
    assert not re.search(r"<link\b(?![^>]*href=\"data:)|@import|url\(\s*['\"]?https?:", own, re.I)
    assert not re.search(r"(fetch|import|setAttribute)\s*\(\s*['\"`]?(https?:)?//", own)
    assert "cdn." not in own and "jsdelivr" not in page


def test_a_sweep_with_no_finished_trial_says_so(project, run_gitexp):
    assert run_gitexp(project.root, "queue", "--name", "later", "--set", f"train.loss=['{HOSTILE}', plain]").code == 0

    report = build_sweep_report(project, "later")
    text = render_markdown(project, report)

    assert report.finished == 0 and report_plots(project, report) == []
    assert "2 trials: 2 queued" in text
    assert "**No trial of this sweep has finished yet**, so there is nothing to rank: run them with gitexp run later" in text
    assert "### Ranking" not in text
    escaped = next(line for line in text.splitlines() if line.startswith("| train.loss |"))
    assert not re.search(r"(?<!\\)[<>`*\[$@]", escaped.removeprefix("| train.loss | \\["))
    # a word joiner (U+2060) after "http:" and "@": GitHub makes no link and no mention of them
    assert "\\<img src=x onerror=alert(1)\\>\\|\\*em\\* \\[l\\](http:\u2060//x) \\@\u2060team \\$x\\$ \\`c\\`" in escaped


def test_user_text_in_finished_trials_stays_text_in_both_formats(project, run_gitexp):
    assert run_gitexp(project.root, "queue", "--name", "odd", "--set", f"train.loss=['{HOSTILE}']").code == 0
    assert run_gitexp(project.root, "run").code == 0
    report = build_sweep_report(project, "odd")

    markdown = render_markdown(project, report)
    page = render_html(project, report, [])

    row = next(line for line in markdown.splitlines() if line.startswith("| 1 | exp/odd/t001 |"))
    assert len(re.split(r"(?<!\\)\|", row)) == 2 + 7  # the pipe in the value did not add a cell
    assert not re.search(r"(?<!\\)[<>`*\[$@]", row)
    assert html.escape(HOSTILE, quote=False) in page and "<img src=x" not in page


def test_markdown_text_escapes_what_markdown_would_read():
    assert markdown_text("a_b _c_ *c* <d> [e] & ~f~ $g$ @h `i` \\") == (
        "a_b \\_c\\_ \\*c\\* \\<d\\> \\[e\\] \\& \\~f\\~ \\$g\\$ \\@\u2060h \\`i\\` \\\\"
    )
    assert markdown_text("two\nlines") == "two lines"
    assert markdown_text(0.5) == "0.5" and markdown_text(None) == "-"


def test_a_code_block_fence_is_longer_than_any_backticks_inside():
    assert code_block(["plain"]) == "```\nplain\n```"
    assert code_block(["``` closes?", "````"]) == "`````\n``` closes?\n````\n`````"


def test_parse_step_tsv_takes_the_metric_column():
    tsv = b"timestamp\tstep\tloss\n1700000000\t0\t0.9\n1700000001\t1\t0.5\n1700000002\t2\tnan-ish\n"
    assert parse_step_tsv(tsv, "loss") == [(0.0, 0.9), (1.0, 0.5)]
    assert parse_step_tsv(b"step\tacc\n0\t0.1\n", "other") == [(0.0, 0.1)]
    assert parse_step_tsv(b"epoch\tacc\n0\t0.1\n", "acc") == []


def _row(**metrics) -> Row:
    return Row("s", "t001", "exp/s/t001", "succeeded", {}, metrics)


@pytest.mark.parametrize(
    ("metrics", "objective", "expected"),
    [
        ({"step": 3, "acc": 0.9}, None, Ranking("acc", "maximize", False)),
        ({"train.loss": 0.3, "acc": 0.9}, None, Ranking("train.loss", "minimize", False)),
        ({"val/error": 0.1}, None, Ranking("val/error", "minimize", False)),
        ({"acc": 0.9}, ("loss", "minimize"), Ranking("loss", "minimize", True)),
        ({"name": "text"}, None, None),
    ],
)
def test_choose_ranking(metrics, objective, expected):
    assert choose_ranking([_row(**metrics)], list(metrics), objective) == expected


def test_report_of_the_newest_sweep_by_default(reviewed_project, run_gitexp):
    assert run_gitexp(reviewed_project.root, "queue", "--name", "newer", "--set", "train.lr=0.2").code == 0

    assert build_sweep_report(reviewed_project).sweep.name == "newer"


def test_write_report_leaves_no_plot_folder_when_there_are_no_plots(project, run_gitexp, tmp_path: Path):
    assert run_gitexp(project.root, "queue", "--name", "q", "--set", "train.lr=0.2").code == 0

    written = write_markdown(project, build_sweep_report(project, "q"), tmp_path / "r.md")

    assert written == [tmp_path / "r.md"] and not (tmp_path / "r-plots").exists()
