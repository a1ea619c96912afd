"""A trial's DVC-tracked data restored into its worktree before ``dvc repro``, as ``dvc exp run`` does.

Real DVC projects in tmp_path: data from ``dvc add`` and ``dvc import``, a
frozen stage, a persistent output (against ``dvc exp run`` itself), data
fetched from a DVC remote or missing everywhere, linked cache types; and what
else a trial's checkout needs: submodules, the environment dvclive reads, and
``-C`` copies of ignored inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from gitexp.execution.local import LocalExecutor, RunOptions, StaticTrials
from gitexp.execution.pipeline import pipeline_command, run_pipeline, trial_env
from gitexp.execution.restore import missing_data_reason
from gitexp.execution.worktrees import share_dvc_cache
from gitexp.project.model import load_project
from gitexp.store.git import Git
from gitexp.store.records import Ledger

# Scores a trial by its params and by the rows of its data, so a result proves which data it saw.
DATA_TRAIN_PY = textwrap.dedent(
    """\
    import json, sys
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    rows = len(open(sys.argv[1]).read().splitlines())
    json.dump({"rows": rows, "score": round(p["lr"] * rows, 6)}, open("metrics.json", "w"))
    """
)


def dvc(cwd: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def commit(git: Git, message: str) -> None:
    git.run("add", "-A")
    git.run("commit", "-qm", message)


def train_on(data: str, extra_deps: str = "") -> str:
    """dvc.yaml with one stage scoring the data at ``data``."""
    return textwrap.dedent(
        f"""\
        stages:
          train:
            cmd: python train.py {data}
            deps: [train.py, {data}{extra_deps}]
            params: [train]
            metrics:
              - metrics.json:
                  cache: false
        """
    )


def with_data(git: Git, rows: int = 3, cache_type: str | None = None, remote: Path | None = None) -> None:
    """The project with ``data/data.csv`` added by ``dvc add`` and scored by its stage (a cache type, a default remote first)."""
    if cache_type:
        dvc(git.root, "config", "cache.type", cache_type)
    if remote:
        dvc(git.root, "remote", "add", "-d", "store", str(remote))
    (git.root / "data").mkdir()
    (git.root / "data" / "data.csv").write_text("".join(f"{i},x\n" for i in range(rows)))
    dvc(git.root, "add", "-q", "data/data.csv")
    (git.root / "train.py").write_text(DATA_TRAIN_PY)
    (git.root / "dvc.yaml").write_text(train_on("data/data.csv"))
    commit(git, "data tracked by dvc add")


def run_all(git: Git, **options):
    trials = [trial for trial in Ledger(git).trials() if trial.status == "queued"]
    return LocalExecutor(git, RunOptions(**options)).run(StaticTrials(trials))


def outcomes(summary) -> dict[str, object]:
    return {trial.ref.key: outcome for trial, outcome in summary.finished}


def trials(git: Git, sweep: str) -> dict[str, object]:
    return {trial.name: trial for trial in Ledger(git).trials([sweep])}


def trial_log(git: Git, sweep: str, name: str) -> str:
    return (git.common_dir() / "gitexp" / "logs" / sweep / f"{name}.log").read_text()


def cache_file(git: Git, md5: str) -> Path:
    return git.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def dvc_file_md5(git: Git, path: str) -> str:
    return yaml.safe_load((git.root / path).read_text())["outs"][0]["md5"]


def lock_outs(blob: bytes) -> dict[str, str]:
    """Every output path of a dvc.lock with its hash."""
    lock = yaml.safe_load(blob)
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


# -- data from dvc add and dvc import, frozen stages ------------------------------------


def test_data_from_dvc_add_is_in_every_trial(kit, project):
    with_data(project, rows=4)
    kit.queue(project, "s", "train.lr=[0.1, 0.2]")
    summary = run_all(project, jobs=2)
    assert [outcome.status for outcome in outcomes(summary).values()] == ["succeeded", "succeeded"]
    found = trials(project, "s")
    assert found["t001"].metrics == {"rows": 4, "score": 0.4} and found["t002"].metrics == {"rows": 4, "score": 0.8}
    deps = yaml.safe_load(project.read_blob(found["t001"].tip, "dvc.lock"))["stages"]["train"]["deps"]
    assert {dep["path"]: dep["md5"] for dep in deps}["data/data.csv"] == dvc_file_md5(project, "data/data.csv.dvc")


def test_data_from_dvc_import_of_a_local_repository_is_in_every_trial(kit, project, tmp_path):
    source = Git(tmp_path / "source")
    source.root.mkdir()
    source.run("init", "-q", "-b", "main")
    dvc(source.root, "init", "-q")
    (source.root / "rows.csv").write_text("a\nb\nc\nd\ne\n")
    dvc(source.root, "add", "-q", "rows.csv")
    commit(source, "source data")
    (project.root / "data").mkdir()
    dvc(project.root, "import", "-q", str(source.root), "rows.csv", "-o", "data/imported.csv")
    (project.root / "train.py").write_text(DATA_TRAIN_PY)
    (project.root / "dvc.yaml").write_text(train_on("data/imported.csv"))
    commit(project, "imported data")
    kit.queue(project, "s", "train.lr=[0.1, 0.3]")
    summary = run_all(project, jobs=2)
    assert [outcome.status for outcome in outcomes(summary).values()] == ["succeeded", "succeeded"]
    assert {name: trial.metrics for name, trial in trials(project, "s").items()} == {
        "t001": {"rows": 5, "score": 0.5},
        "t002": {"rows": 5, "score": 1.5},
    }


FROZEN_DVC_YAML = textwrap.dedent(
    """\
    stages:
      prepare:
        cmd: python prepare.py
        deps: [prepare.py]
        outs: [data/prepared.csv]
      train:
        cmd: python train.py data/prepared.csv
        deps: [train.py, data/prepared.csv]
        params: [train]
        metrics:
          - metrics.json:
              cache: false
    """
)

PREPARE_PY = textwrap.dedent(
    """\
    import os
    os.makedirs("data", exist_ok=True)
    open("data/prepared.csv", "w").write("1\\n2\\n3\\n4\\n5\\n6\\n")
    """
)


def test_the_outputs_of_a_frozen_stage_are_in_every_trial(kit, project):
    files = {"dvc.yaml": FROZEN_DVC_YAML, "prepare.py": PREPARE_PY, "train.py": DATA_TRAIN_PY}
    for name, content in files.items():
        (project.root / name).write_text(content)
    dvc(project.root, "repro", "-q", "prepare")
    dvc(project.root, "freeze", "prepare")
    (project.root / "prepare.py").write_text("raise SystemExit('a frozen stage must not run')\n")
    commit(project, "prepare ran once, then frozen")
    kit.queue(project, "s", "train.lr=[0.5, 1.0]")
    summary = run_all(project, jobs=2)
    assert [outcome.status for outcome in outcomes(summary).values()] == ["succeeded", "succeeded"]
    assert {name: trial.metrics["score"] for name, trial in trials(project, "s").items()} == {"t001": 3.0, "t002": 6.0}


# -- a persistent output, against dvc exp run ---------------------------------------------

PERSIST_DVC_YAML = textwrap.dedent(
    """\
    stages:
      train:
        cmd: python count.py
        deps: [count.py]
        params: [train]
        outs:
          - state/runs.txt:
              persist: true
        metrics:
          - metrics.json:
              cache: false
    """
)

# Counts its runs in a persistent output: a trial that starts without it computes something else.
COUNT_PY = textwrap.dedent(
    """\
    import json, os
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    path = "state/runs.txt"
    runs = int(open(path).read()) if os.path.exists(path) else 0
    os.makedirs("state", exist_ok=True)
    open(path, "w").write(str(runs + 1))
    json.dump({"runs": runs + 1, "score": p["lr"]}, open("metrics.json", "w"))
    """
)


def test_a_persistent_output_is_restored_and_the_result_is_what_dvc_exp_run_gives(kit, project):
    (project.root / "dvc.yaml").write_text(PERSIST_DVC_YAML)
    (project.root / "count.py").write_text(COUNT_PY)
    dvc(project.root, "repro", "-q")
    commit(project, "baseline: the stage ran once")
    dvc(project.root, "exp", "run", "-q", "--temp", "--name", "by-dvc", "--set-param", "train.lr=0.2")
    dvc_commit = project.run("for-each-ref", "--format=%(objectname)", "refs/exps/*/*/by-dvc").strip()
    kit.queue(project, "s", "train.lr=0.2")
    summary = run_all(project)
    (outcome,) = outcomes(summary).values()
    assert outcome.status == "succeeded", outcome.log_tail
    trial = trials(project, "s")["t001"]
    by_dvc = json.loads(project.read_blob(dvc_commit, "metrics.json"))
    assert by_dvc == {"runs": 2, "score": 0.2}
    assert json.loads(project.read_blob(trial.tip, "metrics.json")) == by_dvc
    assert lock_outs(project.read_blob(trial.tip, "dvc.lock")) == lock_outs(project.read_blob(dvc_commit, "dvc.lock"))


# -- data missing from the cache: fetched, or the trial fails with one line ---------------


def test_data_missing_from_the_cache_is_fetched_from_the_dvc_remote(kit, project, tmp_path):
    with_data(project, rows=2, remote=tmp_path / "store")
    dvc(project.root, "push", "-q")
    md5 = dvc_file_md5(project, "data/data.csv.dvc")
    cache_file(project, md5).unlink()
    kit.queue(project, "s", "train.lr=[0.1, 0.2]")
    summary = run_all(project, jobs=2)
    assert [outcome.status for outcome in outcomes(summary).values()] == ["succeeded", "succeeded"]
    assert {trial.metrics["rows"] for trial in trials(project, "s").values()} == {2}
    assert cache_file(project, md5).read_text() == "0,x\n1,x\n"  # fetched into the shared cache
    fetched = "gitexp: fetching 1 missing output(s) into the DVC cache"
    assert any(fetched in trial_log(project, "s", name) for name in ("t001", "t002"))


@pytest.mark.parametrize("remote", [False, True], ids=["no remote", "remote without it"])
def test_data_missing_everywhere_fails_its_trial_with_one_line_and_the_others_run(kit, project, tmp_path, remote):
    with_data(project, rows=2, remote=tmp_path / "store" if remote else None)
    if remote:
        dvc(project.root, "push", "-q")
    kit.queue(project, "ok", "train.lr=[0.1, 0.2]")
    (project.root / "data" / "data.csv").write_text("new,data\n")
    dvc(project.root, "add", "-q", "data/data.csv")
    commit(project, "new data, never pushed")
    cache_file(project, dvc_file_md5(project, "data/data.csv.dvc")).unlink()
    kit.queue(project, "lost", "train.lr=0.3")
    summary = run_all(project, jobs=2)
    statuses = {key: outcome.status for key, outcome in outcomes(summary).items()}
    assert statuses == {"ok/t001": "succeeded", "ok/t002": "succeeded", "lost/t001": "failed"}
    expected = missing_data_reason(["data/data.csv"], "store" if remote else None)
    assert outcomes(summary)["lost/t001"].reason == expected
    assert "\n" not in expected and "data/data.csv" in expected
    assert ("dvc push" if remote else "dvc remote add -d NAME URL") in expected
    lost = trials(project, "lost")["t001"]
    assert lost.status == "failed" and lost.message.split("\n\n")[1] == expected


# -- linked cache types -----------------------------------------------------------------

# Reports how the data file sits in the trial's worktree.
PROBE_PY = textwrap.dedent(
    """\
    import json, os, sys
    path = sys.argv[1]
    json.dump({"inode": os.stat(path).st_ino, "symlink": os.path.islink(path), "target": os.path.realpath(path)},
              open("probe.json", "w"))
    json.dump({"score": 1}, open("metrics.json", "w"))
    """
)


@pytest.mark.parametrize("cache_type", ["hardlink", "symlink"])
def test_data_is_linked_into_the_trial_as_the_cache_type_says(kit, project, cache_type):
    with_data(project, cache_type=cache_type)
    (project.root / "train.py").write_text(PROBE_PY)
    (project.root / "dvc.yaml").write_text(train_on("data/data.csv").replace("cache: false", "cache: false\n      - probe.json:\n          cache: false"))
    commit(project, "probe")
    kit.queue(project, "s", "train.lr=[0.1, 0.2]")
    summary = run_all(project)
    assert [outcome.status for outcome in outcomes(summary).values()] == ["succeeded", "succeeded"]
    cached = cache_file(project, dvc_file_md5(project, "data/data.csv.dvc"))
    for trial in trials(project, "s").values():
        probe = json.loads(project.read_blob(trial.tip, "probe.json"))
        if cache_type == "hardlink":
            assert probe["inode"] == cached.stat().st_ino and not probe["symlink"]
        else:
            assert probe["symlink"] and probe["target"] == str(cached.resolve())


# -- a DVC project in a subfolder of the repository ---------------------------------------


def test_data_is_restored_in_a_dvc_project_in_a_subfolder(tmp_path):
    git = Git(tmp_path / "repo")
    sub = git.root / "sub"
    sub.mkdir(parents=True)
    git.run("init", "-q", "-b", "main")
    dvc(sub, "init", "-q", "--subdir")
    (sub / "params.yaml").write_text("train:\n  lr: 0.5\n")
    (sub / "data.csv").write_text("1\n2\n3\n4\n")
    dvc(sub, "add", "-q", "data.csv")
    (sub / "train.py").write_text(DATA_TRAIN_PY)
    (sub / "dvc.yaml").write_text(train_on("data.csv"))
    commit(git, "a DVC project in sub/")
    slot = tmp_path / "slot"
    git.run("worktree", "add", "-q", "--detach", str(slot), "HEAD")
    share_dvc_cache(sub, slot / "sub")
    project = load_project(git, "HEAD", "sub")
    assert project.directory == "sub" and project.metrics_files == ("sub/metrics.json",)
    outcome = run_pipeline(slot, pipeline_command(None), tmp_path / "trial.log", project)
    assert outcome.status == "succeeded", outcome.log_tail
    assert outcome.metrics == {"rows": 4, "score": 2.0}


# -- beyond DVC: submodules, dvclive's environment, copies of ignored inputs ---------------


def test_a_submodule_is_checked_out_in_every_trial(kit, project, tmp_path, monkeypatch):
    for name, value in {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "protocol.file.allow", "GIT_CONFIG_VALUE_0": "always"}.items():
        monkeypatch.setenv(name, value)  # Git clones submodules from a local path only when told to
    library = Git(tmp_path / "library")
    library.root.mkdir()
    library.run("init", "-q", "-b", "main")
    (library.root / "rows.csv").write_text("1\n2\n3\n")
    commit(library, "library data")
    project = Git(project.root)  # with the setting above
    project.run("submodule", "--quiet", "add", str(library.root), "lib")
    (project.root / "train.py").write_text(DATA_TRAIN_PY)
    (project.root / "dvc.yaml").write_text(train_on("lib/rows.csv"))
    commit(project, "data in a submodule")
    kit.queue(project, "s", "train.lr=[1.0, 2.0, 3.0]")
    summary = run_all(project)
    assert [outcome.status for outcome in outcomes(summary).values()] == ["succeeded"] * 3
    assert {name: trial.metrics["score"] for name, trial in trials(project, "s").items()} == {"t001": 3.0, "t002": 6.0, "t003": 9.0}


DVCLIVE_TRAIN_PY = textwrap.dedent(
    """\
    import json, os
    from dvclive import Live
    names = ["DVC_EXP_BASELINE_REV", "DVC_EXP_NAME", "DVC_STUDIO_TOKEN", "STUDIO_TOKEN", "DVC_STUDIO_REPO_URL", "DVC_STUDIO_URL"]
    json.dump({name: os.environ.get(name) for name in names}, open("seen.json", "w"))
    with Live(save_dvc_exp=True) as live:
        live.log_metric("score", 0.5)
    """
)

DVCLIVE_DVC_YAML = textwrap.dedent(
    """\
    stages:
      train:
        cmd: python train.py
        deps: [train.py]
        params: [train]
        outs:
          - seen.json:
              cache: false
    """
)


def test_a_dvclive_stage_sees_what_dvc_exp_run_tells_it(kit, project, monkeypatch):
    studio = {
        "DVC_STUDIO_OFFLINE": "true",  # nothing is sent anywhere
        "DVC_STUDIO_TOKEN": "isat_test",
        "STUDIO_TOKEN": "isat_legacy",
        "DVC_STUDIO_REPO_URL": "https://example.com/team/project.git",
        "DVC_STUDIO_URL": "https://studio.example.com",
    }
    for name, value in studio.items():
        monkeypatch.setenv(name, value)
    (project.root / "train.py").write_text(DVCLIVE_TRAIN_PY)
    (project.root / "dvc.yaml").write_text(DVCLIVE_DVC_YAML)
    commit(project, "a dvclive stage")
    baseline = project.rev_parse("HEAD")
    kit.queue(project, "s", "train.lr=0.2")
    (outcome,) = outcomes(run_all(project)).values()
    assert outcome.status == "succeeded", outcome.log_tail
    trial = trials(project, "s")["t001"]
    seen = json.loads(project.read_blob(trial.tip, "seen.json"))
    assert seen == {
        "DVC_EXP_BASELINE_REV": baseline,
        "DVC_EXP_NAME": "s-t001",
        **{name: value for name, value in studio.items() if name != "DVC_STUDIO_OFFLINE"},
    }
    log = trial_log(project, "s", "t001")
    assert "Ignoring `save_dvc_exp`" not in log  # what dvclive warns under a plain dvc repro


def test_a_retried_trial_names_its_sweeps_baseline_too(kit, project):
    kit.queue(project, "r", "train.fail=true")
    run_all(project)
    failed = trials(project, "r")["t001"]
    assert failed.status == "failed" and "Gitexp-Baseline" not in failed.message  # its tip is the failed result
    assert trial_env(project, failed)["DVC_EXP_BASELINE_REV"] == project.rev_parse("main")


IGNORED_INPUT_TRAIN_PY = textwrap.dedent(
    """\
    import json
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    scale = float(open("local/scale.txt").read())
    rows = len(open("local/extra/rows.csv").read().splitlines())
    json.dump({"score": round(p["lr"] * scale * rows, 6)}, open("metrics.json", "w"))
    """
)


def test_copy_paths_bring_ignored_inputs_into_every_trial(kit, project, run_gitexp):
    (project.root / ".gitignore").write_text("local/\n")
    (project.root / "train.py").write_text(IGNORED_INPUT_TRAIN_PY)
    commit(project, "a stage reading ignored inputs")
    (project.root / "local" / "extra").mkdir(parents=True)
    (project.root / "local" / "scale.txt").write_text("10")
    (project.root / "local" / "extra" / "rows.csv").write_text("a\nb\n")
    kit.queue(project, "s", "train.lr=[0.1, 0.2]")
    result = run_gitexp(project.root / "local", "run", "-C", "scale.txt", "--copy-paths", "extra")
    assert result.code == 0, result.out + result.err
    assert {name: trial.metrics for name, trial in trials(project, "s").items()} == {"t001": {"score": 2.0}, "t002": {"score": 4.0}}
    kit.queue(project, "without", "train.lr=0.3")  # a new lr: DVC's run-cache has no result for it
    assert run_gitexp(project.root, "run", "without").code == 1  # the trial's checkout lacks them
    assert "No such file or directory: 'local/scale.txt'" in trial_log(project, "without", "t001")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("nothing-here.txt", "-C nothing-here.txt: no such file or folder"),
        ("../outside.txt", "-C ../outside.txt: not inside the repository"),
        ("params.yaml", "-C: params.yaml is tracked by Git, so every trial has it from its commit"),
        (".git/config", "-C .git/config: name a file or folder inside the project, not the project itself or .git"),
    ],
)
def test_copy_paths_are_checked_before_anything_runs(kit, project, run_gitexp, repo_state, path, message):
    (project.root.parent / "outside.txt").write_text("outside")
    kit.queue(project, "s", "train.lr=0.1")
    before = repo_state(project)
    result = run_gitexp(project.root, "run", "-C", path)
    assert result.code == 2
    assert result.err.count("\n") == 1 and message in result.err
    assert repo_state(project) == before
    assert not (project.common_dir() / "gitexp" / "logs").exists()


# -- ci run: a fresh checkout, data only on the DVC remote ---------------------------------


def test_ci_run_fetches_the_data_of_its_trial_from_the_dvc_remote(kit, project, bare_remote, tmp_path, run_gitexp):
    with_data(project, rows=3, remote=tmp_path / "store")
    dvc(project.root, "push", "-q")
    project.run("remote", "add", "origin", str(bare_remote))
    project.run("push", "-q", "origin", "main")
    kit.queue(project, "q", "train.lr=0.5")
    assert run_gitexp(project.root, "push", "--no-dvc").code == 0
    ci = Git(tmp_path / "ci")
    Git(tmp_path).run("clone", "-q", str(bare_remote), str(ci.root))
    ci.run("checkout", "-q", "-B", "exp/q/t001", "refs/remotes/origin/exp/q/t001")
    assert not (ci.root / "data" / "data.csv").exists()
    result = run_gitexp(ci.root, "ci", "run", "--trial", "exp/q/t001")
    assert result.code == 0, result.out + result.err
    pushed = Git(bare_remote).run("log", "-1", "--format=%B", "exp/q/t001")
    assert "Gitexp-Status: succeeded" in pushed and '"rows": 3' in pushed
