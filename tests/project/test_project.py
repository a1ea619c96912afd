"""The DVC project as DVC sees it: subfolders, monorepos, every dvc.yaml, templating, DVC's own refusals."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gitexp.project.model import ProjectCache, load_project
from gitexp.store.git import Git

WRITE_PY = textwrap.dedent(
    """\
    import json, sys
    json.dump({sys.argv[2]: float(sys.argv[3])}, open(sys.argv[1], "w"))
    """
)

STAGE_YAML = textwrap.dedent(
    """\
    stages:
      train:
        cmd: python write.py metrics.json score ${train.lr}
        deps: [write.py]
        params: [train.lr]
        metrics:
          - metrics.json:
              cache: false
    """
)


def dvc(cwd: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path) -> Git:
    root.mkdir(parents=True)
    git = Git(root)
    git.run("init", "-q", "-b", "main")
    return git


def add_project(git: Git, folder: str, files: dict[str, str]) -> Path:
    """A DVC project in ``folder`` of the repository (``dvc init --subdir`` unless at the root)."""
    where = git.root / folder
    where.mkdir(parents=True, exist_ok=True)
    dvc(where, "init", "-q", *(["--subdir"] if folder else []))
    for name, text in {"write.py": WRITE_PY, **files}.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
    git.run("add", "-A")
    git.run("commit", "-q", "-m", f"project {folder or 'root'}")
    return where


@pytest.fixture
def monorepo(tmp_path) -> Git:
    """Two DVC projects in subfolders ``a`` and ``b`` of one repository."""
    git = make_repo(tmp_path / "mono")
    add_project(git, "a", {"dvc.yaml": STAGE_YAML, "params.yaml": "train:\n  lr: 0.1\n"})
    add_project(git, "b", {"dvc.yaml": STAGE_YAML, "params.yaml": "train:\n  lr: 0.5\n"})
    return git


def test_a_project_in_a_subfolder_runs_there_and_its_results_land_in_its_folder(monorepo, run_gitexp):
    project = monorepo.root / "a"

    queued = run_gitexp(project, "queue", "--set", "train.lr=[0.2, 0.3]", "--name", "sa")
    ran = run_gitexp(project, "run", "-j", "2")

    assert queued.code == 0 and ran.code == 0, queued.err + ran.err
    trial_files = monorepo.run("diff", "--name-only", "main", "exp/sa/t001^").split()
    result_files = monorepo.run("diff", "--name-only", "exp/sa/t001^", "exp/sa/t001").split()
    assert trial_files == ["a/params.yaml"]
    assert sorted(result_files) == ["a/dvc.lock", "a/metrics.json"]
    assert json.loads(monorepo.read_blob("exp/sa/t002", "a/metrics.json")) == {"score": 0.3}
    shown = json.loads(run_gitexp(monorepo.root, "show", "sa", "--json").out)
    assert [row["metrics"].get("score") for row in shown["trials"]] == [None, 0.2, 0.3]
    assert shown["trials"][0]["params"] == {"train.lr": 0.1}  # the baseline's own value, from a/params.yaml


def test_project_names_the_project_from_anywhere_in_the_repository(monorepo, run_gitexp):
    queued = run_gitexp(monorepo.root, "--project", "b", "queue", "--set", "train.lr=0.7", "--name", "sb")
    ran = run_gitexp(monorepo.root, "run", "sb")

    assert queued.code == 0 and ran.code == 0, queued.err + ran.err
    assert monorepo.run("diff", "--name-only", "main", "exp/sb/t001^").split() == ["b/params.yaml"]
    assert json.loads(monorepo.read_blob("exp/sb/t001", "b/metrics.json")) == {"score": 0.7}
    assert monorepo.read_blob("exp/sb/t001", "a/dvc.lock") is None  # the other project did not run


def test_a_nested_project_is_not_part_of_the_one_around_it(tmp_path):
    git = make_repo(tmp_path / "repo")
    add_project(git, "", {"dvc.yaml": STAGE_YAML, "params.yaml": "train:\n  lr: 0.1\n"})
    add_project(git, "inner", {"dvc.yaml": STAGE_YAML.replace("train:\n    cmd", "inner:\n    cmd"), "params.yaml": "train:\n  lr: 1\n"})

    outer = load_project(git, "HEAD", "")
    inner = load_project(git, "HEAD", "inner")

    assert outer.dvc_files == ("dvc.yaml",) and outer.stages == ("train",)
    assert inner.dvc_files == ("inner/dvc.yaml",) and inner.stages == ("inner",)
    assert inner.metrics_files == ("inner/metrics.json",) and inner.params_files == ("inner/params.yaml",)


TEMPLATED_YAML = textwrap.dedent(
    """\
    vars:
      - config.yaml
      - offset: 3
    stages:
      prepare:
        foreach: [a, b]
        do:
          cmd: python write.py part_${item}.json part_${item} ${offset}
          deps: [write.py]
          metrics:
            - part_${item}.json:
                cache: false
      train:
        matrix:
          depth: [1, 2]
        cmd: python write.py train_${item.depth}.json score_${item.depth} ${train.lr}
        deps: [write.py]
        metrics:
          - train_${item.depth}.json:
              cache: false
      evaluate:
        cmd: python write.py eval.json threshold ${threshold}
        deps: [write.py]
        metrics:
          - eval.json:
              cache: false
    """
)


@pytest.fixture
def templated(tmp_path) -> Git:
    """foreach, matrix, inline vars, a vars file, and a params.yaml key used only through ``${}``."""
    git = make_repo(tmp_path / "templated")
    add_project(
        git, "", {"dvc.yaml": TEMPLATED_YAML, "params.yaml": "train:\n  lr: 0.1\n", "config.yaml": "threshold: 0.5\n"}
    )
    return git


def test_a_templated_pipeline_is_resolved_by_dvc(templated):
    project = load_project(templated, "HEAD")

    assert project.stages == ("prepare@a", "prepare@b", "train@1", "train@2", "evaluate")
    assert project.metrics_files == ("eval.json", "part_a.json", "part_b.json", "train_1.json", "train_2.json")
    assert set(project.params_files) == {"params.yaml", "config.yaml"}
    assert all(not out.cache for out in project.outputs)


def test_params_used_only_through_templates_and_vars_files_can_be_swept(templated, run_gitexp):
    queued = run_gitexp(
        templated.root, "queue", "--set", "train.lr=[0.2, 0.4]", "--set", "config.yaml:threshold=0.9", "--name", "t"
    )
    ran = run_gitexp(templated.root, "run", "-j", "2")

    assert queued.code == 0 and ran.code == 0, queued.err + ran.err
    shown = json.loads(run_gitexp(templated.root, "show", "t", "--json").out)
    trials = [row for row in shown["trials"] if row["trial"] != "baseline"]
    assert [row["metrics"]["score_2"] for row in trials] == [0.2, 0.4]
    assert {row["metrics"]["threshold"] for row in trials} == {0.9}
    assert {row["metrics"]["part_a"] for row in trials} == {3.0}


def test_show_and_status_read_a_resolved_project_from_the_cache_without_importing_dvc(templated, run_gitexp):
    assert run_gitexp(templated.root, "queue", "--set", "train.lr=0.2", "--name", "t").code == 0
    probe = (
        "import io, sys\n"
        "from gitexp.cli.main import Environment, main\n"
        "for argv in (['show', '--json'], ['status']):\n"
        "    assert main(argv, Environment(stdout=io.StringIO())) == 0\n"
        "print(sorted(name for name in sys.modules if name == 'dvc' or name.startswith('dvc.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=templated.root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_stage_writing_an_undeclared_file_leaves_it_out_of_the_result_and_says_so(project, run_gitexp):
    train = project.root / "train.py"
    train.write_text(train.read_text() + "open('scratch.bin', 'wb').write(b'x' * 2_000_000)\n")
    project.run("commit", "-qam", "the stage leaves a scratch file")

    assert run_gitexp(project.root, "queue", "--set", "train.lr=0.2", "--name", "s").code == 0
    assert run_gitexp(project.root, "run").code == 0

    assert sorted(project.run("diff", "--name-only", "exp/s/t001^", "exp/s/t001").split()) == ["dvc.lock", "metrics.json"]
    log = run_gitexp(project.root, "logs", "s/t001").out
    assert "gitexp: not in the result commit (dvc.yaml does not declare them): scratch.bin" in log


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--project", "nowhere", "status"), "--project nowhere: not a DVC project (no .dvc folder in "),
        (("--project", "a/.dvc", "queue", "--set", "train.lr=1"), "--project a/.dvc: not a DVC project"),
    ],
)
def test_a_project_option_that_names_no_dvc_project_is_refused(monorepo, run_gitexp, repo_state, argv, message):
    before = repo_state(monorepo)

    result = run_gitexp(monorepo.root, *argv)

    assert result.code == 2 and message in result.err and result.err.count("\n") == 1, result.err
    assert "give the folder where dvc init ran" in result.err
    assert repo_state(monorepo) == before


def test_a_dvc_yaml_that_dvc_rejects_is_refused_with_dvcs_message(project, run_gitexp, repo_state):
    (project.root / "dvc.yaml").write_text("stages:\n  train:\n    cmd: python train.py\n    outs: 5\n")
    project.run("commit", "-qam", "broken pipeline")
    before = repo_state(project)

    result = run_gitexp(project.root, "queue", "--set", "train.lr=1")

    assert result.code == 2 and result.err.count("\n") == 1, result.err
    assert "dvc.yaml" in result.err and "fix the file and commit it" in result.err
    assert repo_state(project) == before
    assert not (project.common_dir() / "gitexp").exists()  # nothing cached by a refused command


def test_a_refused_queue_caches_nothing_and_a_queued_one_caches_its_project(project, run_gitexp):
    refused = run_gitexp(project.root, "queue", "--set", "train.nope=1")
    assert refused.code == 2 and not (project.common_dir() / "gitexp").exists()

    assert run_gitexp(project.root, "queue", "--set", "train.lr=0.3").code == 0

    cached = ProjectCache(project.common_dir())
    assert len(list(cached.folder.glob("*.json"))) == 1


def test_a_project_resolved_once_is_read_from_the_cache_by_every_later_load(project, monkeypatch, tmp_path):
    """A miss used to be remembered for ever, so a worker resolved the same project with DVC for every trial."""
    import gitexp.project.dvc as dvc

    resolved = []
    real = dvc.resolve_project
    monkeypatch.setattr(dvc, "resolve_project", lambda *args: resolved.append(args) or real(*args))
    first = load_project(project, "HEAD", "", ProjectCache(tmp_path / "cache"))
    again = [load_project(project, "HEAD", "", ProjectCache(tmp_path / "cache")) for _ in range(3)]
    assert len(resolved) == 1 and again == [first] * 3
