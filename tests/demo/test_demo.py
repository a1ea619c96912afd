"""gitexp demo end to end: the baseline holds its own results, the sweep its objective, the report is written."""

import json

from gitexp.store.git import Git


def test_demo_compares_trials_with_a_reproduced_baseline_and_ranks_by_its_objective(run_gitexp, tmp_path):
    folder = tmp_path / "demo"
    result = run_gitexp(tmp_path, "demo", str(folder))
    assert result.code == 0, result.err

    git = Git(folder)
    assert git.run("log", "--format=%s", "main").splitlines() == [
        "Baseline results: dvc repro",
        "Demo project: a DVC pipeline with dvclive",
    ]
    assert {"dvc.lock", "dvclive/metrics.json"} <= set(git.run("ls-tree", "-r", "--name-only", "main").split())

    rows = json.loads(run_gitexp(folder, "show", "--json").out)["trials"]
    baseline = rows[0]
    assert baseline["trial"] == "baseline" and 0.5 < baseline["metrics"]["test.acc"] <= 1
    assert [row["status"] for row in rows[1:]] == ["succeeded"] * 6

    page = (folder / "report.html").read_text()
    report = page.split('<section id="view-report" hidden>', 1)[1].split("</section>", 1)[0]  # the ui's page: its Report view
    assert "Ranking by test.acc (higher is better)" in report and "guess" not in report
    best = max(rows[1:], key=lambda row: row["metrics"]["test.acc"])
    delta = best["metrics"]["test.acc"] - baseline["metrics"]["test.acc"]
    assert f"{delta:+.4g}" in report  # the delta against the baseline is filled
    assert result.out.rstrip().endswith(f"open {(folder / 'report.html').as_uri()} in a browser")
    assert git.run("status", "--porcelain") == ""  # the report is ignored, the workspace stays clean


def test_demo_refuses_a_folder_that_is_not_empty(run_gitexp, tmp_path):
    (tmp_path / "notes.txt").write_text("mine\n")
    result = run_gitexp(tmp_path, "demo", str(tmp_path))
    assert result.code == 2
    assert result.err.splitlines() == [f"gitexp: error: {tmp_path} is not empty: give gitexp demo a new or empty folder"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
