"""Rows as dvc exp show sees them: every metric of the result files (cached ones from the DVC cache),
every param with --all, and each commit's params, metrics, deps, outs and time in --json."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from gitexp.project.lock import ENTRY_KEYS, DvcCache, LockedOutput, _lock_stages, _plain_entries, pipeline_record
from gitexp.project.model import Output, Project
from gitexp.project.params_read import read_values
from gitexp.review.results import collect_results
from gitexp.store.git import Git
from gitexp.store.records import MAX_TRAILER_METRICS, Ledger
from tests.conftest import build_project, fresh_copy

WIDE_TRAIN_PY = textwrap.dedent(
    """\
    import json, yaml
    train = yaml.safe_load(open("params.yaml"))["train"]
    model = yaml.safe_load(open("model.yaml"))["model"]
    scores = {f"m{i:02d}": round(train["lr"] * i, 6) for i in range(80)}
    summary = {"scores": scores, "model": "forest", "note": f"depth {model['depth']}", "converged": train["lr"] < 0.5}
    json.dump(summary, open("metrics.json", "w"))
    """
)

WIDE_DVC_YAML = textwrap.dedent(
    """\
    stages:
      train:
        cmd: python train.py
        deps: [train.py]
        params:
          - train
          - model.yaml:
              - model.depth
        metrics:
          - metrics.json:
              cache: false
    """
)


@pytest.fixture(scope="module")
def wide_template(tmp_path_factory) -> Path:
    """80 numeric metrics, 2 text ones and a boolean; a second params file; sweep ``w`` has run."""
    from gitexp.cli.environment import Environment
    from gitexp.cli.main import main

    root = tmp_path_factory.mktemp("wide") / "project"
    files = {
        "params.yaml": "train:\n  lr: 0.1\n  epochs: 3\nseed: 1\n",
        "model.yaml": "model:\n  depth: 4\n  kind: tree\n",
        "train.py": WIDE_TRAIN_PY,
        "dvc.yaml": WIDE_DVC_YAML,
    }
    build_project(root, files)
    quiet = Environment(cwd=root, stdout=io.StringIO(), stderr=io.StringIO())
    assert main(["queue", "--name", "w", "--set", "train.lr=[0.2, 0.7]", "--set", "model.yaml:model.depth=6"], quiet) == 0
    assert main(["run", "-j", "2"], quiet) == 0, quiet.stderr.getvalue()
    return root


@pytest.fixture
def wide(wide_template, tmp_path) -> Git:
    return fresh_copy(wide_template, tmp_path)


def show_json(run_gitexp, git: Git, *argv: str) -> dict[str, dict]:
    result = run_gitexp(git.root, "show", "--json", *argv)
    assert result.code == 0, result.err
    return {row["trial"]: row for row in json.loads(result.out)["trials"]}


def test_every_metric_of_the_result_files_is_shown_numbers_text_and_booleans(wide, run_gitexp):
    rows = show_json(run_gitexp, wide)

    trailer = Ledger(wide).resolve_trial("w/t001").metrics
    assert len(trailer) == MAX_TRAILER_METRICS  # the trailer holds only the first 60 numbers
    t001, t002 = rows["t001"]["metrics"], rows["t002"]["metrics"]
    assert len(t001) == 83 and len(t002) == 83
    assert t001["scores.m00"] == 0 and t001["scores.m79"] == 15.8 and t002["scores.m79"] == 55.3
    assert (t001["model"], t001["note"], t001["converged"]) == ("forest", "depth 6", True)
    assert t002["converged"] is False
    assert rows["t001"]["data"]["metrics"]["metrics.json"]["data"]["scores"]["m42"] == 8.4
    assert rows["baseline"]["metrics"] == {}  # the baseline never ran


def test_the_table_has_a_column_for_every_metric(wide, run_gitexp):
    result = run_gitexp(wide.root, "show", "--csv")

    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [name for name in rows[0] if name.startswith("scores.")] == [f"scores.m{i:02d}" for i in range(80)]
    assert [(row["trial"], row["note"], row["converged"], row["scores.m61"]) for row in rows[1:]] == [
        ("t001", "depth 6", "True", "12.2"), ("t002", "depth 6", "False", "42.7"),
    ]  # fmt: skip


def test_show_all_lists_every_param_of_every_params_file(wide, run_gitexp):
    varied = list(csv.reader(io.StringIO(run_gitexp(wide.root, "show", "--csv").out)))[0]
    every = list(csv.DictReader(io.StringIO(run_gitexp(wide.root, "show", "--all", "--csv").out)))

    assert [name for name in varied if "." in name][:2] == ["train.lr", "model.yaml:model.depth"]
    params = ["train.lr", "train.epochs", "seed", "model.yaml:model.depth", "model.yaml:model.kind"]
    assert [name for name in every[0] if name in params] == params
    assert [[row[name] for name in params] for row in every] == [
        ["0.1", "3", "1", "4", "tree"], ["0.2", "3", "1", "6", "tree"], ["0.7", "3", "1", "6", "tree"],
    ]  # fmt: skip


def test_json_carries_every_params_file_by_file(wide, run_gitexp):
    rows = show_json(run_gitexp, wide)

    assert rows["t002"]["params"] == {"train.lr": 0.7, "model.yaml:model.depth": 6}  # the varied ones, as the table
    assert rows["t002"]["data"]["params"] == {
        "params.yaml": {"data": {"train": {"lr": 0.7, "epochs": 3}, "seed": 1}},
        "model.yaml": {"data": {"model": {"depth": 6, "kind": "tree"}}},
    }


def commit_on_top(git: Git, branch: str, path: str, text: str) -> None:
    """A commit on ``branch`` with ``path`` rewritten and the tip's message (so its record still names the trial)."""
    tip = git.run("rev-parse", branch).strip()
    blob = git.run("hash-object", "-w", "--stdin", input=text).strip()
    tree = git.run("mktree", input="".join(
        f"{line}\n" if not line.endswith(f"\t{path}") else f"100644 blob {blob}\t{path}\n"
        for line in git.run("ls-tree", tip).splitlines()
    )).strip()  # fmt: skip
    commit = git.run("commit-tree", tree, "-p", tip, "-m", git.run("log", "-1", "--format=%B", tip)).strip()
    git.run("update-ref", f"refs/heads/{branch}", commit, tip)


def test_json_params_are_the_files_values_even_where_a_commit_changed_the_file(wide, run_gitexp, monkeypatch):
    """A trial's params files are taken from its record only when the file is the copy queue writes: t002's
    params.yaml, changed after the run, is read; t001's files and t002's model.yaml are not parsed again."""
    commit_on_top(wide, "exp/w/t002", "params.yaml", "# changed after the run\ntrain:\n  lr: 0.7\n  epochs: 5\nseed: 1\n")
    import gitexp.review.results as results

    parsed = []
    monkeypatch.setattr(results, "read_values", lambda path, text: parsed.append(path) or read_values(path, text))
    rows = show_json(run_gitexp, wide)

    for trial in ("t001", "t002"):
        tip = rows[trial]["commit"]
        files = {path: yaml.safe_load(wide.run("show", f"{tip}:{path}")) for path in ("params.yaml", "model.yaml")}
        assert rows[trial]["data"]["params"] == {path: {"data": values} for path, values in files.items()}
    assert rows["t002"]["data"]["params"]["params.yaml"]["data"]["train"]["epochs"] == 5
    assert sorted(parsed) == ["model.yaml", "params.yaml", "params.yaml"]  # the baseline's two, t002's params.yaml


# -- metrics inside a cached output directory (example-get-started) -----------------


def test_metrics_inside_a_cached_directory_come_from_the_dvc_cache(get_started):
    rows = {row.name: row for row in collect_results(get_started, ["gs"]).rows}

    assert rows["baseline"].metrics == {"avg_prec.train": 0.5, "avg_prec.test": 0.25, "roc_auc.test": 0.2}
    assert rows["t001"].metrics == {"avg_prec.train": 0.1, "avg_prec.test": 0.05, "roc_auc.test": 0.2}
    assert rows["t002"].metrics == {"avg_prec.train": 0.3, "avg_prec.test": 0.15, "roc_auc.test": 0.2}
    for row in rows.values():
        assert get_started.read_blob(row.commit, "eval/metrics.json") is None  # not in Git: in the cache only


def test_without_the_outputs_in_the_cache_the_trailer_stands_in(get_started):
    shutil.rmtree(get_started.root / ".dvc" / "cache")

    rows = {row.name: row for row in collect_results(get_started, ["gs"]).rows}

    assert rows["baseline"].metrics == {}
    assert rows["t002"].metrics == {"avg_prec.train": 0.3, "avg_prec.test": 0.15, "roc_auc.test": 0.2}


def test_json_has_the_deps_and_outs_of_dvc_lock_and_the_commit_time(get_started, run_gitexp):
    rows = show_json(run_gitexp, get_started)

    assert set(rows) == {"baseline", "t001", "t002"}
    for row in rows.values():
        data = row["data"]
        lock = yaml.safe_load(get_started.read_blob(row["commit"], "dvc.lock"))
        deps, outs = {}, {}
        for stage in lock["stages"].values():
            deps.update({dep["path"]: {"hash": dep["md5"], "size": dep["size"], "nfiles": dep.get("nfiles")} for dep in stage["deps"]})
            outs.update({out["path"]: out["md5"] for out in stage["outs"]})
        assert data["rev"] == row["commit"] and data["deps"] == deps
        assert {path: out["hash"] for path, out in data["outs"].items()} == {**outs, "data/data.csv": deps["data/data.csv"]["hash"]}
        assert data["outs"]["data/data.csv"]["is_data_source"] is True and data["outs"]["eval"]["nfiles"] == 2
        committed = int(get_started.run("log", "-1", "--format=%ct", row["commit"]))
        assert datetime.fromisoformat(data["timestamp"]).timestamp() == committed
    assert rows["t001"]["data"]["outs"]["eval"]["hash"] != rows["baseline"]["data"]["outs"]["eval"]["hash"]
    assert rows["t001"]["data"]["metrics"] == {"eval/metrics.json": {"data": {"avg_prec": {"train": 0.1, "test": 0.05}, "roc_auc": {"test": 0.2}}}}


def test_json_describes_the_baseline_as_dvc_exp_show_does(get_started, run_gitexp):
    ours = show_json(run_gitexp, get_started)["baseline"]["data"]

    shown = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=get_started.root, capture_output=True, check=True)
    [dvc] = [row["data"] for row in json.loads(shown.stdout) if row["rev"] == ours["rev"]]
    for field in ("params", "metrics", "deps", "outs"):
        assert ours[field] == dvc[field], field
    assert datetime.fromisoformat(ours["timestamp"]).replace(tzinfo=None) == datetime.fromisoformat(dvc["timestamp"])


def test_show_all_lists_the_params_no_trial_touched(get_started, run_gitexp):
    rows = list(csv.DictReader(io.StringIO(run_gitexp(get_started.root, "show", "--all", "--csv").out)))

    params = ["prepare.split", "prepare.seed", "train.seed", "train.n_est", "train.min_split"]
    assert [[row[name] for name in params] for row in rows] == [
        ["0.2", "20170428", "20170428", "50", "0.01"],
        ["0.2", "20170428", "20170428", "10", "0.01"],
        ["0.2", "20170428", "20170428", "30", "0.01"],
    ]


# -- dvc.lock and the cache, read as files ----------------------------------------------


LOCK = b"""\
schema: '2.0'
stages:
  prepare:
    cmd: python src/prepare.py
    deps:
    - path: data/data.csv
      hash: md5
      md5: f78bfdeaba5a8709dac31f183bdbbe79
      size: 1800
    params:
      params.yaml:
        prepare.seed: 20170428
    outs:
    - path: data/prepared
      hash: md5
      md5: 45be76313a92e10ef07e7f8f5a478e81.dir
      size: 1800
      nfiles: 2
  train:
    cmd:
    - python src/train.py
    - echo 'done: yes'
    deps:
    - path: data/prepared
      hash: md5
      md5: 45be76313a92e10ef07e7f8f5a478e81.dir
      size: 1800
      nfiles: 2
    outs:
    - path: model.pkl
      hash: md5
      md5: 050e7c318a4b94ed918c2f10b97f669e
      size: 26
"""


def test_lock_stages_parsed_stage_by_stage_equal_the_whole_file():
    assert _lock_stages(LOCK) == _as_text(yaml.safe_load(LOCK)["stages"])
    assert _lock_stages(b"schema: '2.0'\nstages: {a: {cmd: x, outs: [{path: o, md5: ab}]}}\n") == {
        "a": {"cmd": "x", "outs": [{"path": "o", "md5": "ab"}]}
    }


ODD_LOCKS = [  # what the plain reading of deps and outs leaves to YAML, and must read as YAML does
    LOCK.replace(b"path: model.pkl", b"path: 'model: v2.pkl'"),
    LOCK.replace(b"path: model.pkl", b'path: "model.pkl"  # quoted'),
    LOCK.replace(b"path: model.pkl", b"path: model.pkl # a comment"),
    LOCK.replace(b"      size: 26\n", b"      size: 26\n      meta:\n        owner: me\n"),
    LOCK.replace(b"    outs:\n    - path: model.pkl", b"    outs:\n    # the model\n    - path: model.pkl"),
    LOCK.replace(b"    outs:\n    - path: model.pkl\n      hash: md5\n      md5: 050e7c318a4b94ed918c2f10b97f669e\n      size: 26\n", b"    outs: [{path: model.pkl, md5: 05}]\n"),
    LOCK.replace(b"    outs:\n    - path: model.pkl\n      hash: md5\n      md5: 050e7c318a4b94ed918c2f10b97f669e\n      size: 26\n", b"    outs:\n"),
    LOCK.replace(b"      size: 26", b"      size: &n 26"),
    LOCK.replace(b"      size: 26", b"      size:\t26"),
    LOCK.replace(b"  train:\n", b"  train: # trains\n"),
]


@pytest.mark.parametrize("lock", [LOCK, *ODD_LOCKS])
def test_lock_deps_and_outs_read_line_by_line_equal_what_yaml_reads(lock):
    """pipeline_record reads a lock's deps and outs, not its cmd and params: from their lines when DVC wrote them."""
    whole = _lock_stages(lock)
    assert _lock_stages(lock, ENTRY_KEYS) == {name: {key: stage[key] for key in ENTRY_KEYS if key in stage} for name, stage in whole.items()}


def test_only_plain_deps_and_outs_lines_are_read_without_yaml():
    assert _plain_entries(b"    outs:\n    - path: model.pkl\n      md5: 05\n      size: 26\n") == [{"path": "model.pkl", "md5": "05", "size": "26"}]
    odd = [b"    outs:\n", b"    outs: []\n", b"    outs:\n    - path: 'a b'\n", b"    outs:\n      md5: 05\n", b"    outs:\n    - path: a # b\n"]
    assert [_plain_entries(section) for section in odd] == [None] * len(odd)


def _as_text(value):
    if isinstance(value, dict):
        return {key: _as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_text(item) for item in value]
    return str(value)


def test_lock_paths_are_relative_to_the_stage_wdir_and_flags_come_from_the_project():
    dvc_yaml = b"stages:\n  fit:\n    wdir: work\n    cmd: x\n    outs: [../models, scratch]\n"
    lock = b"schema: '2.0'\nstages:\n  fit:\n    cmd: x\n    outs:\n    - path: ../models\n      md5: aa.dir\n      size: 3\n      nfiles: 1\n    - path: scratch\n      md5: bb\n      size: 1\n"
    project = Project((), (), (), directory="sub", outputs=(Output("sub/work/scratch", "fit", cache=False),), dvc_files=("sub/dvc.yaml",))

    record = pipeline_record(project, {"sub/dvc.yaml": dvc_yaml, "sub/dvc.lock": lock})

    assert record.outs == {
        "sub/models": LockedOutput("sub/models", "aa.dir", 3, 1),
        "sub/work/scratch": LockedOutput("sub/work/scratch", "bb", 1, None, use_cache=False),
    }
    assert record.holding("sub/models/a/b.json") == (record.outs["sub/models"], "a/b.json")
    assert record.holding("sub/work/scratch") is None  # not cached


def test_the_cache_is_read_in_dvc_3_and_dvc_2_layouts(tmp_path):
    (tmp_path / "files" / "md5" / "aa").mkdir(parents=True)
    (tmp_path / "files" / "md5" / "aa" / "11.dir").write_text(json.dumps([{"md5": "bb22", "relpath": "m/metrics.json"}]))
    (tmp_path / "bb").mkdir()
    (tmp_path / "bb" / "22").write_text('{"acc": 1}')  # a DVC 2 cache's object
    cache = DvcCache(tmp_path)

    directory = LockedOutput("eval", "aa11.dir", None, 2)
    assert cache.read(directory, "m/metrics.json") == b'{"acc": 1}'
    assert cache.read(directory, "missing.json") is None
    assert cache.read(LockedOutput("m.json", "bb22", None, None), "") == b'{"acc": 1}'


def test_json_has_no_bare_nan_or_infinity():
    """``show --json`` must be JSON: NaN and the infinities (a diverged loss) become null, as strict readers need."""
    import json as strict_json

    from gitexp.review.results import ResultsTable, Row
    from gitexp.review.tables import to_json

    row = Row("s", "t001", "exp/s/t001", "succeeded", {"train.lr": float("nan")}, {"loss": float("inf"), "acc": [float("-inf"), 0.5]})
    text = to_json(ResultsTable([row], ["train.lr"], ["loss", "acc"]))

    def refuse(name):
        raise AssertionError(f"bare {name} in {text}")

    trial = strict_json.loads(text, parse_constant=refuse)["trials"][0]
    assert trial["params"] == {"train.lr": None} and trial["metrics"] == {"loss": None, "acc": [None, 0.5]}


def _commit(git: Git, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (git.root / name).write_text(text)
    git.run("add", "-A")
    git.run("commit", "-q", "-m", message)
    return git.run("rev-parse", "HEAD").strip()


def test_commits_without_a_lock_share_a_pipeline_record_and_a_lock_gives_its_own(project):
    """show reads 10,000 commits' locks: those with the same lock files (here none) share one record, read once."""
    from gitexp.project.metrics import CommitReader
    from gitexp.project.model import load_project

    first = project.run("rev-parse", "HEAD").strip()
    second = _commit(project, {"params.yaml": "train:\n  lr: 0.5\n"}, "another value, no lock")
    locked = _commit(project, {"dvc.lock": LOCK.decode()}, "a lock")
    reader = CommitReader(project)
    for rev in (first, second, locked):
        reader.add(rev, load_project(project, rev))
    reader.read()

    assert reader.pipeline(first) is reader.pipeline(second)
    assert reader.pipeline(first).deps == {} and reader.pipeline(first).outs == {}
    own = pipeline_record(load_project(project, locked), {"dvc.yaml": project.read_blob(locked, "dvc.yaml"), "dvc.lock": LOCK})
    assert reader.pipeline(locked) == own and own.deps


def test_the_collector_is_paused_inside_and_as_it_was_after():
    import gc

    from gitexp import collector

    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer one resumes it
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()  # off before: off after
    finally:
        gc.enable()
