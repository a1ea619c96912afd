"""gitexp against ``dvc exp run``, one small project per DVC feature (issue 11, "a compatibility suite").

Each test builds its project, runs two param sets through ``dvc exp run --temp -S`` and through
``gitexp queue --set`` + ``gitexp run -j 2``, and asserts the same metrics, the same ``dvc.lock``
files and the same paths in the result commit, and the same metrics for the baseline
(tests/compat/harness.py). A test that fails because of gitexp gets ``xfail(strict=True)`` with the
item of issue 11 it waits for, so that it turns into an error once that item is fixed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.compat.harness import STEP_PY, Feature, assert_same, dvc, git_in, write_files

METRICS_JSON = "metrics:\n      - metrics.json:\n          cache: false\n"


def simple_pipeline(step: str = "step.py", extra: str = "") -> str:
    """One stage: ``train.scale`` from params.yaml to model.txt (cached) and metrics.json (in Git)."""
    return textwrap.dedent(
        f"""\
        stages:
          train:
            cmd: python {step} --param params.yaml:train.scale --out model.txt --metrics metrics.json{extra}
            deps: [{step}]
            params: [train.scale]
            outs: [model.txt]
        """
    ) + "    " + METRICS_JSON


SIMPLE = {"step.py": STEP_PY, "params.yaml": "train:\n  scale: 1\n", "dvc.yaml": simple_pipeline()}
SCALES = (("train.scale=2",), ("train.scale=3",))


def under(folder: str, files: dict[str, str]) -> dict[str, str]:
    return {f"{folder}/{name}": content for name, content in files.items()}


def data_rows(count: int) -> str:
    return "".join(f"row {number},{number * 7 % 13}\n" for number in range(count))


def git_repo_with(path: Path, files: dict[str, str], dvc_add: tuple[str, ...] = ()) -> Path:
    """A committed git repository at ``path`` (a DVC project when it has data to ``dvc add``)."""
    write_files(path, files)
    git_in(path, "init", "-q", "-b", "main")
    if dvc_add:
        dvc(path, "init")
        dvc(path, "add", *dvc_add)
    git_in(path, "add", "-A")
    git_in(path, "commit", "-q", "-m", "source")
    return path


# -- data that DVC tracks outside any stage -----------------------------------------------------

DVC_ADD = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "train:\n  scale: 1\n",
        "data/raw.csv": data_rows(200),
        "dvc.yaml": simple_pipeline(extra=" --input data/raw.csv").replace("deps: [step.py]", "deps: [step.py, data/raw.csv]"),
    },
    param_sets=SCALES,
    before_repro=lambda root: dvc(root, "add", "data/raw.csv"),
)


def test_dvc_add_data(same_as_dvc):
    same_as_dvc(DVC_ADD)


def import_from_second_repo(root: Path) -> None:
    source = git_repo_with(root.parent.parent / "source", {"data/source.csv": data_rows(150)}, dvc_add=("data/source.csv",))
    (root / "data").mkdir()
    dvc(root, "import", str(source), "data/source.csv", "-o", "data/imported.csv")


DVC_IMPORT = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "train:\n  scale: 1\n",
        "dvc.yaml": simple_pipeline(extra=" --input data/imported.csv").replace(
            "deps: [step.py]", "deps: [step.py, data/imported.csv]"
        ),
    },
    param_sets=SCALES,
    before_repro=import_from_second_repo,
)


def test_dvc_import_from_a_local_repo(same_as_dvc):
    same_as_dvc(DVC_IMPORT)


# -- stages whose outputs a trial must find in place ---------------------------------------------

FROZEN = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "train:\n  scale: 1\n",
        "dvc.yaml": textwrap.dedent(
            """\
            stages:
              prepare:
                cmd: python step.py --value 7 --out data/prepared.txt
                deps: [step.py]
                outs: [data/prepared.txt]
              train:
                cmd: python step.py --param params.yaml:train.scale --input data/prepared.txt --out model.txt --metrics metrics.json
                deps: [step.py, data/prepared.txt]
                params: [train.scale]
                outs: [model.txt]
            """
        ) + "    " + METRICS_JSON,
    },
    param_sets=SCALES,
    after_repro=lambda root: dvc(root, "freeze", "prepare"),
)


def test_frozen_stage(same_as_dvc):
    same_as_dvc(FROZEN)


PERSIST = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "train:\n  scale: 1\n",
        "dvc.yaml": textwrap.dedent(
            """\
            stages:
              count:
                cmd: python step.py --param params.yaml:train.scale --out state.txt --append --metrics metrics.json
                deps: [step.py]
                params: [train.scale]
                outs:
                  - state.txt:
                      persist: true
            """
        ) + "    " + METRICS_JSON,
    },
    param_sets=SCALES,
)


def test_persisted_output(same_as_dvc):
    result = same_as_dvc(PERSIST)
    assert dict(result.dvc[0].metrics)["lines"] == 2  # the baseline's line, then the trial's


# -- templated dvc.yaml --------------------------------------------------------------------------

FOREACH = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "train:\n  scale: 1\n",
        "dvc.yaml": textwrap.dedent(
            """\
            stages:
              train:
                foreach: [tree, forest]
                do:
                  cmd: python step.py --param params.yaml:train.scale --value ${item} --out models/${item}.txt --metrics metrics/${item}.json
                  deps: [step.py]
                  params: [train.scale]
                  outs:
                    - models/${item}.txt
                  metrics:
                    - metrics/${item}.json:
                        cache: false
            """
        ),
    },
    param_sets=SCALES,
)


def test_foreach_stages(same_as_dvc):
    same_as_dvc(FOREACH)


MATRIX = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "train:\n  scale: 1\n",
        "dvc.yaml": textwrap.dedent(
            """\
            stages:
              train:
                matrix:
                  model: [tree, forest]
                  depth: [1, 2]
                cmd: >-
                  python step.py --param params.yaml:train.scale --value ${item.depth} --value ${item.model}
                  --out models/${item.model}-${item.depth}.txt --metrics metrics/${item.model}-${item.depth}.json
                deps: [step.py]
                params: [train.scale]
                outs:
                  - models/${item.model}-${item.depth}.txt
                metrics:
                  - metrics/${item.model}-${item.depth}.json:
                      cache: false
            """
        ),
    },
    param_sets=SCALES,
)


def test_matrix_stages(same_as_dvc):
    same_as_dvc(MATRIX)


VARS = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "train:\n  scale: 1\n",
        "config.yaml": "model:\n  depth: 3\n",
        "dvc.yaml": textwrap.dedent(
            """\
            vars:
              - config.yaml
              - offset: 5
            stages:
              train:
                cmd: python step.py --param params.yaml:train.scale --value ${model.depth} --value ${offset} --out model.txt --metrics metrics.json
                deps: [step.py]
                params: [train.scale]
                outs: [model.txt]
            """
        ) + "    " + METRICS_JSON,
    },
    param_sets=(("config.yaml:model.depth=4",), ("train.scale=2",)),
)


def test_vars_inline_and_from_a_file(same_as_dvc):
    same_as_dvc(VARS)


INTERPOLATED_PARAMS = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "train:\n  epochs: 3\n",
        "dvc.yaml": textwrap.dedent(
            """\
            stages:
              train:
                cmd: python step.py --value ${train.epochs} --out model.txt --metrics metrics.json
                deps: [step.py]
                outs: [model.txt]
            """
        ) + "    " + METRICS_JSON,
    },
    param_sets=(("train.epochs=4",), ("train.epochs=5",)),
)


def test_params_used_only_through_interpolation(same_as_dvc):
    same_as_dvc(INTERPOLATED_PARAMS)


# -- where the project is, and how many dvc.yaml it has -------------------------------------------

SUBFOLDER = Feature(
    files={"README.md": "a repository whose DVC project is in proj/\n", **under("proj", SIMPLE)},
    param_sets=SCALES,
    directory="proj",
)


def test_project_in_a_subfolder(same_as_dvc):
    same_as_dvc(SUBFOLDER)


MONOREPO = Feature(
    files={**under("vision", SIMPLE), **under("speech", {**SIMPLE, "params.yaml": "train:\n  scale: 10\n"})},
    param_sets=SCALES,
    directory="speech",
    projects=("vision", "speech"),
)


def test_monorepo_with_two_projects(same_as_dvc):
    result = same_as_dvc(MONOREPO)
    assert set(result.dvc[0].locks) == {"vision/dvc.lock", "speech/dvc.lock"}


TWO_DVC_YAML = Feature(  # train (dvc.yaml) reads what prepare (sub/dvc.yaml) writes, so dvc repro runs both
    files={
        **SIMPLE,
        "dvc.yaml": simple_pipeline(extra=" --input sub/features.txt").replace(
            "deps: [step.py]", "deps: [step.py, sub/features.txt]"
        ),
        "sub/params.yaml": "prepare:\n  size: 5\n",
        "sub/dvc.yaml": textwrap.dedent(
            """\
            stages:
              prepare:
                cmd: python ../step.py --param params.yaml:prepare.size --out features.txt --metrics prepare.json
                deps: [../step.py]
                params: [prepare.size]
                outs: [features.txt]
                metrics:
                  - prepare.json:
                      cache: false
            """
        ),
    },
    param_sets=(("train.scale=2",), ("sub/params.yaml:prepare.size=7",)),
)


def test_two_dvc_yaml_files(same_as_dvc):
    same_as_dvc(TWO_DVC_YAML)


# -- metrics and params files of every kind ------------------------------------------------------

CACHED_METRICS = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "train:\n  scale: 1\n",
        "dvc.yaml": textwrap.dedent(
            """\
            stages:
              evaluate:
                cmd: python step.py --param params.yaml:train.scale --out eval/report.txt --metrics eval/metrics.json
                deps: [step.py]
                params: [train.scale]
                outs: [eval]
            metrics:
              - eval/metrics.json
            """
        ),
    },
    param_sets=SCALES,
)


def test_metrics_inside_a_cached_output_directory(same_as_dvc):
    same_as_dvc(CACHED_METRICS)


def params_file_feature(name: str, content: str) -> Feature:
    """The simple pipeline reading ``train.scale`` from ``name`` (declared as ``params: [NAME: [train.scale]]``)."""
    pipeline = simple_pipeline().replace("params.yaml:train.scale", f"{name}:train.scale")
    pipeline = pipeline.replace("params: [train.scale]", f"params: [{name}: [train.scale]]")
    return Feature(
        files={"step.py": STEP_PY, name: content, "dvc.yaml": pipeline},
        param_sets=((f"{name}:train.scale=2",), (f"{name}:train.scale=3",)),
    )


@pytest.mark.parametrize(
    "name, content",
    [
        ("params.json", '{"train": {"scale": 1}}\n'),
        ("params.toml", "[train]\nscale = 1\n"),
        ("custom.yaml", "train:\n  scale: 1\n"),
    ],
)
def test_params_file_kinds(same_as_dvc, name, content):
    same_as_dvc(params_file_feature(name, content))


MERGE_KEYS = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "defaults: &defaults\n  scale: 1\n  depth: 2\ntrain:\n  <<: *defaults\n  depth: 3\n",
        "dvc.yaml": simple_pipeline(extra=" --param params.yaml:train.depth").replace(
            "params: [train.scale]", "params: [train.scale, train.depth]"
        ),
    },
    param_sets=SCALES,
)


def test_yaml_merge_keys(same_as_dvc):
    same_as_dvc(MERGE_KEYS)


WIDE_METRICS = Feature(
    files={**SIMPLE, "dvc.yaml": simple_pipeline(extra=" --wide")},
    param_sets=SCALES,
)


def test_eighty_numeric_and_two_text_metrics(same_as_dvc):
    result = same_as_dvc(WIDE_METRICS)
    assert len(result.dvc[0].metrics) == 85 and ("model", dict(result.dvc[0].metrics)["model"]) in result.gitexp[0].metrics


# -- what a result commit holds, and what a trial needs beyond DVC ---------------------------------

UNDECLARED_FILE = Feature(
    files={**SIMPLE, "dvc.yaml": simple_pipeline(extra=" --scratch scratch.bin")},
    param_sets=SCALES,
    uncommitted=("scratch.bin",),
)


def test_undeclared_file_stays_out_of_the_result_commit(same_as_dvc):
    result = same_as_dvc(UNDECLARED_FILE)
    assert "scratch.bin" not in result.gitexp[0].files


def add_submodule(root: Path) -> None:
    library = git_repo_with(root.parent.parent / "library", {"factor.txt": "factor 11\n"})
    git_in(root, "submodule", "add", "-q", str(library), "lib")


SUBMODULE = Feature(
    files={
        "step.py": STEP_PY,
        "params.yaml": "train:\n  scale: 1\n",
        "dvc.yaml": simple_pipeline(extra=" --input lib/factor.txt").replace("deps: [step.py]", "deps: [step.py, lib/factor.txt]"),
    },
    param_sets=SCALES,
    before_repro=add_submodule,
    dvc_mode=(),  # DVC's --temp leaves the submodule empty: its workspace run is the reference
)


def test_stage_reads_a_git_submodule(both_tools, tmp_path, monkeypatch):
    for name, value in {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "protocol.file.allow", "GIT_CONFIG_VALUE_0": "always"}.items():
        monkeypatch.setenv(name, value)  # Git clones a submodule from a local path (ours is one) only when told to
    result = both_tools(SUBMODULE)
    temp = dvc(tmp_path / "baseline" / "repo", "exp", "run", "--temp", "-S", "train.scale=4", check=False)
    assert temp.returncode != 0 and "lib/factor.txt" in temp.stdout + temp.stderr  # DVC's --temp fails here
    assert_same(SUBMODULE, result)
