"""gitexp diff against dvc exp diff on the same project (real DVC), in every format."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import pytest

from tests.conftest import markdown_tables


def dvc_exp_diff(root, *argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "dvc", "exp", "diff", *argv, "--json"], cwd=root, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def gitexp_json(run_gitexp, root, *argv: str) -> dict:
    result = run_gitexp(root, "diff", *argv, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def same_as_dvc(ours: dict, theirs: dict) -> None:
    """The same files, keys, old and new values and changes as dvc exp diff --json."""
    for kind in ("metrics", "params"):
        assert ours[kind].keys() == theirs[kind].keys(), kind
        for path, keys in theirs[kind].items():
            assert ours[kind][path].keys() == keys.keys(), (kind, path)
            for key, entry in keys.items():
                mine = ours[kind][path][key]
                assert (mine["old"], mine["new"]) == (entry["old"], entry["new"])
                assert ("diff" in mine) == ("diff" in entry)
                if "diff" in entry:
                    assert math.isclose(mine["diff"], entry["diff"]) and type(mine["diff"]) is type(entry["diff"])


@pytest.mark.parametrize("everything", [False, True])
def test_two_trials_differ_as_dvc_exp_diff_says(get_started, run_gitexp, everything):
    flags = ["--all"] if everything else []
    ours = gitexp_json(run_gitexp, get_started.root, "gs/t001", "gs/t002", *flags)
    same_as_dvc(ours, dvc_exp_diff(get_started.root, "exp/gs/t001", "exp/gs/t002", *flags))
    assert ours["params"] == {"params.yaml": {"train.n_est": {"old": 10, "new": 30, "diff": 20, "rel": 2.0}}} or everything
    assert math.isclose(ours["metrics"]["eval/metrics.json"]["avg_prec.test"]["rel"], 2.0)
    assert (ours["old"]["name"], ours["new"]["name"]) == ("gs/t001", "gs/t002")


def test_a_trial_alone_is_compared_with_its_baseline(get_started, run_gitexp):
    ours = gitexp_json(run_gitexp, get_started.root, "gs/t001")
    baseline = get_started.rev_parse("main")
    same_as_dvc(ours, dvc_exp_diff(get_started.root, baseline, "exp/gs/t001"))
    assert ours["old"] == {"name": "baseline", "rev": baseline, "pending": None}
    assert ours["params"]["params.yaml"]["train.n_est"] == {"old": 50, "new": 10, "diff": -40, "rel": -0.8}
    # the sweep's name stands for its baseline, any commit for itself
    assert gitexp_json(run_gitexp, get_started.root, "gs", "exp/gs/t001")["params"] == ours["params"]
    assert gitexp_json(run_gitexp, get_started.root, baseline, "gs/t001")["metrics"] == ours["metrics"]


def test_text_markdown_and_csv_say_the_same(get_started, run_gitexp):
    root = get_started.root
    text = run_gitexp(root, "diff", "gs/t001")
    lines = text.out.splitlines()
    assert lines[0].split() == ["Path", "Metric", "baseline", "gs/t001", "Change", "Change", "%"]
    assert "eval/metrics.json  avg_prec.test" in text.out and "-80.00%" in text.out
    assert ["params.yaml", "train.n_est", "50", "10", "-40", "-80.00%"] in [line.split() for line in lines]
    metrics, params = markdown_tables(run_gitexp(root, "diff", "gs/t001", "--md").out)
    assert metrics[0] == "| Path | Metric | baseline | gs/t001 | Change | Change % |"
    assert "| params.yaml | train.n_est | 50 | 10 | -40 | -80.00% |" in params
    rows = list(csv.DictReader(io.StringIO(run_gitexp(root, "diff", "gs/t001", "gs/t002", "--csv", "--all").out)))
    by_key = {row["key"]: row for row in rows}
    assert by_key["train.n_est"] == {"kind": "params", "path": "params.yaml", "key": "train.n_est", "old": "10", "new": "30", "change": "20", "relative": "2.0"}
    assert by_key["train.seed"]["change"] == "0" and by_key["roc_auc.test"]["kind"] == "metrics"
    assert len(rows) == 9  # every param, metric and dataset with --all
    data = by_key[""]
    assert (data["kind"], data["path"], data["change"]) == ("data", "data/data.csv", "")
    assert data["old"] == data["new"] and data["old"].startswith("data.csv (2.2 kB, ")  # the same dvc add-ed data


def test_a_queued_trial_has_params_only(get_started, run_gitexp):
    assert run_gitexp(get_started.root, "queue", "--name", "q", "--set", "train.n_est=70").code == 0
    refused = run_gitexp(get_started.root, "diff", "q/t001")
    assert refused.code == 2 and "q/t001 has no result yet (it is queued)" in refused.err and "--params-only" in refused.err
    ours = gitexp_json(run_gitexp, get_started.root, "q/t001", "--params-only")
    assert "metrics" not in ours and ours["params"]["params.yaml"]["train.n_est"]["new"] == 70
    assert ours["new"]["pending"] == "queued"
    assert "No params differ" not in run_gitexp(get_started.root, "diff", "q/t001", "--params-only").out


def test_nothing_differs(get_started, run_gitexp):
    result = run_gitexp(get_started.root, "diff", "gs/t001", "gs/t001")
    assert result.out == "No params or metrics differ between gs/t001 and gs/t001 (--all lists them all)\n"


def test_plots_of_both_sides_through_dvc_plots_diff(reviewed_project, run_gitexp, tmp_path):
    result = run_gitexp(reviewed_project.root, "diff", "s/t001", "s/t003", "--plots", str(tmp_path / "plots"))
    assert result.code == 0, result.err
    page = (tmp_path / "plots" / "index.html").read_text()
    assert "exp/s/t001" in page and "exp/s/t003" in page and "loss" in page  # DVC's vega page, both revisions
    assert str(tmp_path / "plots" / "index.html") in result.err
    assert reviewed_project.run("status", "--porcelain") == ""


def test_nan_and_text_values_have_no_change_and_json_stays_json():
    from gitexp.project.model import Project
    from gitexp.review.diff import Change, Diff, Side
    from gitexp.review.tables import strict_json_text

    side = Side("a", "0" * 40, Project((), (), ()), None)
    changes = (Change("metrics", "m.json", "loss", 0.5, float("nan")), Change("params", "params.yaml", "opt", "adam", "sgd"),
               Change("params", "params.yaml", "lr", 0, 0.1), Change("params", "params.yaml", "on", True, False))
    data = json.loads(strict_json_text(Diff(side, side, changes).to_json()))
    assert data["metrics"]["m.json"]["loss"] == {"old": 0.5, "new": None}
    assert data["params"]["params.yaml"] == {
        "opt": {"old": "adam", "new": "sgd"}, "lr": {"old": 0, "new": 0.1, "diff": 0.1}, "on": {"old": True, "new": False}
    }
