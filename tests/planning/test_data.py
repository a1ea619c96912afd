"""Datasets as trial inputs: ``gitexp queue --data TARGET=SOURCE`` on an example-get-started-like project.

Real git, DVC and the project's own pipeline: the trials run on their own data
(prepare counts the rows it gets), the DVC cache holds each distinct file once,
and a second clone's ``dvc pull`` gets each trial's data after ``gitexp push``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitexp.project.lock import DvcCache
from gitexp.store.git import Git
from gitexp.store.records import Ledger

ROWS = (100, 300, 600)  # roc_auc.test is the number of training rows / 1000: 0.08, 0.24, 0.48


def dvc(cwd: Path, *argv: str) -> str:
    return subprocess.run([sys.executable, "-m", "dvc", *argv], cwd=cwd, check=True, capture_output=True, text=True).stdout


def synthetic(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for index, rows in enumerate(ROWS):
        path = folder / f"set{index}.csv"
        path.write_text("".join(f"{row / rows:.4f},{row % 2}\n" for row in range(rows)))
        paths.append(path)
    return paths


def cache_objects(root: Path) -> set[str]:
    files = root / ".dvc" / "cache" / "files" / "md5"
    return {f"{path.parent.name}{path.name}" for path in files.rglob("*") if path.is_file()}


@pytest.fixture
def dataset_sweep(get_started, run_gitexp, tmp_path):
    """Sweep ``ds``: data/data.csv takes each of three synthetic files outside the repository (named relative to it)."""
    sources = synthetic(tmp_path / "sets")
    before = cache_objects(get_started.root)
    listed = ", ".join(f"../sets/{source.name}" for source in sources)
    result = run_gitexp(get_started.root, "queue", "--name", "ds", "--data", f"data/data.csv=[{listed}]")
    assert result.code == 0, result.err
    return get_started, sources, before


def test_each_trial_commit_holds_its_datasets_hash_and_the_cache_its_data_once(dataset_sweep, run_gitexp, tmp_path):
    git, sources, before = dataset_sweep
    trials = Ledger(git).trials(["ds"])
    assert [trial.params for trial in trials] == [{"data/data.csv": f"../sets/set{index}.csv"} for index in range(3)]
    cache = DvcCache(git.root / ".dvc" / "cache")
    for trial, source in zip(trials, sources):
        assert git.changed_files(git.rev_parse("main"), trial.tip) == {"data/data.csv.dvc": "M"}
        (out,) = yaml.safe_load(git.read_blob(trial.tip, "data/data.csv.dvc"))["outs"]
        assert out == {"md5": trial.data["data/data.csv"]["md5"], "size": source.stat().st_size, "hash": "md5", "path": "data.csv"}
        assert (cache._find(out["md5"])).read_bytes() == source.read_bytes()
    added = cache_objects(git.root) - before
    assert len(added) == 3  # one object per distinct file
    # the same content under another name is the same dataset: nothing new in the cache
    copy = tmp_path / "copy.csv"
    copy.write_bytes(sources[1].read_bytes())
    assert run_gitexp(git.root, "queue", "--name", "again", "--data", f"data/data.csv={copy}", "-S", "train.n_est=[10, 20]").code == 0
    assert cache_objects(git.root) - before == added
    again = Ledger(git).trials(["again"])
    assert {trial.data["data/data.csv"]["md5"] for trial in again} == {trials[1].data["data/data.csv"]["md5"]}
    assert [trial.params["train.n_est"] for trial in again] == [10, 20]  # a grid with the --set axis
    assert git.run("status", "--porcelain") == ""


def test_md5_is_dvcs_own(dataset_sweep, tmp_path):
    """What dvc add would record for the same file (DVC's own hashing, not a re-implementation)."""
    git, sources, _ = dataset_sweep
    elsewhere = tmp_path / "elsewhere"
    Git(tmp_path).run("init", "-q", str(elsewhere))
    dvc(elsewhere, "init", "-q")
    (elsewhere / "set2.csv").write_bytes(sources[2].read_bytes())
    dvc(elsewhere, "add", "-q", "set2.csv")
    expected = yaml.safe_load((elsewhere / "set2.csv.dvc").read_text())["outs"][0]
    recorded = Ledger(git).trials(["ds"])[2].data["data/data.csv"]
    assert (recorded["md5"], recorded["size"]) == (expected["md5"], expected["size"])


def test_trials_run_on_their_data_and_show_names_it(dataset_sweep, run_gitexp, tmp_path):
    git, sources, _ = dataset_sweep
    result = run_gitexp(git.root, "run", "-j", "2", "ds")
    assert result.code == 0, result.err
    shown = json.loads(run_gitexp(git.root, "show", "ds", "--json").out)["trials"]
    assert [row["metrics"]["roc_auc.test"] for row in shown[1:]] == [rows * 0.8 / 1000 for rows in ROWS]
    md5s = [trial.data["data/data.csv"]["md5"] for trial in Ledger(git).trials(["ds"])]
    assert [row["params"]["data/data.csv"] for row in shown] == [
        f"data.csv (2.2 kB, {yaml.safe_load(git.read_blob('main', 'data/data.csv.dvc'))['outs'][0]['md5'][:7]})",
        f"set0.csv (900 B, {md5s[0][:7]})",
        f"set1.csv (2.7 kB, {md5s[1][:7]})",
        f"set2.csv (5.4 kB, {md5s[2][:7]})",
    ]
    assert run_gitexp(git.root, "report", "ds", "-o", str(tmp_path / "report.md")).code == 0
    report = (tmp_path / "report.md").read_text()
    assert f"set2.csv (5.4 kB, {md5s[2][:7]})" in report and "data/data.csv" in report
    from gitexp.review.report import build_sweep_report, render_trial_markdown

    sweep_report = build_sweep_report(git, "ds")
    row = next(row for row in sweep_report.trials if row.name == "t002")
    body = render_trial_markdown(git, sweep_report, row)  # what gitexp pr puts in the pull request
    assert f"set1.csv (2.7 kB, {md5s[1][:7]})" in body and "data.csv (2.2 kB" in body
    diff = json.loads(run_gitexp(git.root, "diff", "ds/t001", "ds/t003", "--json").out)
    assert diff["metrics"]["eval/metrics.json"]["roc_auc.test"]["new"] == 0.48
    assert diff["data"] == {"data/data.csv": {"old": f"set0.csv (900 B, {md5s[0][:7]})", "new": f"set2.csv (5.4 kB, {md5s[2][:7]})"}}
    assert run_gitexp(git.root, "apply", "ds/t003").code == 0  # the trial's data into the workspace, as its params would be
    assert (git.root / "data" / "data.csv").read_bytes() == sources[2].read_bytes()
    text = run_gitexp(git.root, "diff", "ds/t003").out.splitlines()
    assert text[-2].split() == ["Data", "baseline", "ds/t003"]
    assert text[-1].split() == ["data/data.csv", "data.csv", "(2.2", "kB,", text[-1].split()[4], "set2.csv", "(5.4", "kB,", f"{md5s[2][:7]})"]


def test_push_sends_each_trials_data_and_a_second_clone_pulls_it(dataset_sweep, run_gitexp, bare_remote, tmp_path):
    git, sources, _ = dataset_sweep
    storage = tmp_path / "storage"
    dvc(git.root, "remote", "add", "--local", "-d", "storage", str(storage))
    git.run("remote", "add", "origin", str(bare_remote))
    git.run("push", "-q", "origin", "main")
    result = run_gitexp(git.root, "push", "origin", "ds")
    assert result.code == 0, result.err
    clone = tmp_path / "clone"
    Git(tmp_path).run("clone", "-q", str(bare_remote), str(clone))
    dvc(clone, "remote", "add", "--local", "-d", "storage", str(storage))
    for index, source in enumerate(sources):
        Git(clone).run("checkout", "-q", f"origin/exp/ds/t00{index + 1}")
        dvc(clone, "pull", "-q", "data/data.csv")
        assert (clone / "data" / "data.csv").read_bytes() == source.read_bytes()


def test_a_sweep_files_data_section_means_what_data_flags_mean(get_started, run_gitexp, tmp_path):
    sources = synthetic(tmp_path / "sets")
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(f"matrix:\n  train.n_est: [10, 30]\ndata:\n  data/data.csv: ['{sources[0]}', '{sources[2]}']\n")
    result = run_gitexp(get_started.root, "queue", "--name", "file", "--sweep", str(sweep_file))
    assert result.code == 0, result.err
    trials = Ledger(get_started).trials(["file"])
    assert [(t.params["train.n_est"], t.params["data/data.csv"]) for t in trials] == [
        (10, str(sources[0])), (10, str(sources[2])), (30, str(sources[0])), (30, str(sources[2]))
    ]
    assert trials[1].data["data/data.csv"]["size"] == sources[2].stat().st_size


def test_a_folder_is_a_dataset_as_dvc_add_records_one(tmp_path, run_gitexp):
    from tests.conftest import build_project

    root = tmp_path / "project"
    git = build_project(root, {"params.yaml": "seed: 1\n", "dvc.yaml": "stages:\n  count:\n    cmd: ls images > count.txt\n    deps: [images]\n    params: [seed]\n    outs: [count.txt]\n"})
    (root / "images").mkdir()
    (root / "images" / "a.png").write_text("a")
    dvc(root, "add", "-q", "images")
    git.run("add", "-A")
    git.run("commit", "-qm", "images")
    folder = tmp_path / "more-images"
    folder.mkdir()
    for name in ("x.png", "y.png", "z.png"):
        (folder / name).write_text(name)
    assert run_gitexp(root, "queue", "--name", "img", "--data", f"images={folder}").code == 0
    (trial,) = Ledger(git).trials(["img"])
    (out,) = yaml.safe_load(git.read_blob(trial.tip, "images.dvc"))["outs"]
    assert out["md5"].endswith(".dir") and out["nfiles"] == 3 and out["size"] == 15
    assert run_gitexp(root, "run", "img").code == 0
    tip = Ledger(git).trials(["img"])[0].tip
    (dep,) = yaml.safe_load(git.read_blob(tip, "dvc.lock"))["stages"]["count"]["deps"]
    assert (dep["path"], dep["md5"], dep["nfiles"]) == ("images", out["md5"], 3)  # the run saw the trial's folder


PIPELINE_DATA = """\
stages:
  download:
    cmd: python download.py
    outs: [raw.csv]
  count:
    cmd: python count.py
    deps: [raw.csv, count.py]
    params: [seed]
    metrics: [{metrics.json: {cache: false}}]
"""
SCRIPTS = {
    "download.py": "open('raw.csv', 'w').write('1\\n2\\n')\n",
    "count.py": "import json\njson.dump({'rows': len(open('raw.csv').read().split())}, open('metrics.json', 'w'))\n",
}


def pipeline_with_download(tmp_path: Path, frozen: bool) -> Git:
    """A stage that downloads raw.csv (frozen, or not) and one that counts its rows; reproduced and committed."""
    from tests.conftest import build_project

    root = tmp_path / "project"
    git = build_project(root, {"params.yaml": "seed: 1\n", "dvc.yaml": PIPELINE_DATA, **SCRIPTS})
    dvc(root, "repro", "-q")
    if frozen:
        dvc(root, "freeze", "-q", "download")
    git.run("add", "-A")
    git.run("commit", "-qm", "dvc repro")
    (tmp_path / "five.csv").write_text("1\n2\n3\n4\n5\n")
    return git


def test_a_frozen_stages_output_is_replaced_in_dvc_lock(tmp_path, run_gitexp):
    git = pipeline_with_download(tmp_path, frozen=True)
    assert run_gitexp(git.root, "queue", "--name", "raw", "--data", "raw.csv=../five.csv").code == 0
    (trial,) = Ledger(git).trials(["raw"])
    assert git.changed_files(git.rev_parse("main"), trial.tip) == {"dvc.lock": "M"}
    (out,) = yaml.safe_load(git.read_blob(trial.tip, "dvc.lock"))["stages"]["download"]["outs"]
    assert (out["path"], out["md5"], out["size"]) == ("raw.csv", trial.data["raw.csv"]["md5"], 10)
    assert run_gitexp(git.root, "run", "raw").code == 0
    assert json.loads(git.read_blob(Ledger(git).trials(["raw"])[0].tip, "metrics.json")) == {"rows": 5}


def test_an_output_dvc_repro_would_make_again_is_refused(tmp_path, run_gitexp, repo_state):
    git = pipeline_with_download(tmp_path, frozen=False)
    before = repo_state(git)
    result = run_gitexp(git.root, "queue", "--data", "raw.csv=../five.csv")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "stage download makes raw.csv, and dvc repro would make it again: freeze it (dvc freeze download" in result.err
    assert repo_state(git) == before


def test_datasets_under_random_search_are_drawn_like_any_axis(dataset_sweep, run_gitexp):
    git, sources, _ = dataset_sweep
    listed = ", ".join(f"../sets/{source.name}" for source in sources)
    flags = ["--data", f"data/data.csv=[{listed}]", "-S", "train.n_est=[10, 20, 30]", "--strategy", "random", "--num-trials", "4", "--seed", "2"]
    assert run_gitexp(git.root, "queue", "--name", "rnd", *flags).code == 0
    trials = Ledger(git).trials(["rnd"])
    assert len(trials) == 4 and len({tuple(sorted(map(str, t.params.values()))) for t in trials}) == 4
    for trial in trials:
        (out,) = yaml.safe_load(git.read_blob(trial.tip, "data/data.csv.dvc"))["outs"]
        assert out["md5"] == trial.data["data/data.csv"]["md5"]
        assert out["size"] == (git.root / trial.params["data/data.csv"]).stat().st_size
