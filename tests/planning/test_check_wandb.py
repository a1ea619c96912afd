"""gitexp check of W&B and multi-objective sweep files: how each field was understood."""

from __future__ import annotations

import json
import textwrap

from gitexp.sweep.spec import Constraint, Objective, SweepSpec
from gitexp.sweep.space import Axis, Choice, ParamTarget, Space

WANDB = textwrap.dedent(
    """\
    program: train.py
    name: lr-search
    method: random
    run_cap: 3
    metric: {name: score, goal: maximize}
    early_terminate: {type: hyperband, min_iter: 2, eta: 2}
    parameters:
      train:
        parameters:
          lr: {distribution: log_uniform_values, min: 0.001, max: 0.1}
          n_est: {values: [10, 20]}
    """
)


def test_check_prints_how_a_w_and_b_file_was_understood_and_that_the_pipeline_wins(project, run_gitexp, tmp_path, repo_state):
    (tmp_path / "sweep.yaml").write_text(WANDB)
    before = repo_state(project)
    result = run_gitexp(project.root, "check", str(tmp_path / "sweep.yaml"))
    assert result.code == 0, result
    lines = result.out.splitlines()
    understood = lines[lines.index("understood:") + 1 : lines.index("trials:")]
    assert understood == [
        "  name: W&B's own, ignored",
        "  method: random -> strategy random",
        "  run_cap: 3 -> max_trials 3",
        "  metric: maximize score",
        "  early_terminate: hyperband -> pruner hyperband (min_resource 2, max_resource auto, reduction_factor 2) steering by maximize score",
        "  program: the command '/usr/bin/env python train.py --train.lr={{ train.lr }} --train.n_est={{ train.n_est }}', for a project without dvc.yaml",
        "  parameters.train.parameters.lr: log_uniform_values -> train.lr from loguniform(0.001, 0.1)",
        "  parameters.train.parameters.n_est: categorical -> train.n_est from [10, 20]",
        "  command '/usr/bin/env python train.py --train.lr={{ train.lr }} --train.n_est={{ train.n_est }}' is ignored: "
        "the project has a pipeline (dvc.yaml), so trials run dvc repro",
    ]
    assert "objective: maximize score" in lines
    assert len([line for line in lines if line.startswith("     ")]) == 3  # the three trials
    assert repo_state(project) == before
    shown = json.loads(run_gitexp(project.root, "check", str(tmp_path / "sweep.yaml"), "--json").out)
    assert shown["objectives"] == [{"metric": "score", "goal": "maximize"}] and len(shown["trials"]) == 3


def test_queue_runs_a_w_and_b_grid_file_unchanged(project, run_gitexp, tmp_path):
    (tmp_path / "sweep.yaml").write_text(textwrap.dedent(
        """\
        method: grid
        metric: {name: score, goal: maximize}
        parameters:
          train:
            parameters:
              lr: {values: [0.05, 0.1]}
              n_est: {value: 30}
        """
    ))
    assert run_gitexp(project.root, "queue", "--name", "wb", "--sweep", str(tmp_path / "sweep.yaml")).code == 0
    assert run_gitexp(project.root, "run", "wb").code == 0
    trials = [t for t in json.loads(run_gitexp(project.root, "show", "wb", "--json").out)["trials"] if t["trial"] != "baseline"]
    assert sorted((t["params"]["train.lr"], t["status"], t["metrics"]["score"]) for t in trials) == [
        (0.05, "succeeded", round(1.0 - 0.05 - 30 / 10000.0, 6)),
        (0.1, "succeeded", round(1.0 - 30 / 10000.0, 6)),
    ]
    assert "  n_est: 30" in project.run("show", "exp/wb/t001:params.yaml")  # the constant, set in the params file


def test_check_lists_several_objectives_and_constraints(project, run_gitexp, tmp_path):
    (tmp_path / "sweep.yaml").write_text(
        "matrix: {train.lr: [0.01, 0.1]}\n"
        "objective: [{metric: score, goal: maximize}, {metric: test.auc, goal: maximize}]\n"
        "constraints: ['score >= 0.5']\n"
    )
    out = run_gitexp(project.root, "check", str(tmp_path / "sweep.yaml")).out.splitlines()
    assert "objectives (Pareto): maximize score, maximize test.auc" in out
    assert "constraint: score >= 0.5" in out


def test_a_multi_objective_spec_is_recorded_and_read_back_and_a_single_one_records_as_before():
    space = Space((Axis(ParamTarget(None, "x"), Choice((1, 2))),))
    spec = SweepSpec(
        space,
        objective=Objective("a", "max"),
        more_objectives=(Objective("b", "min"),),
        constraints=(Constraint.parse(" latency_ms<=50 "), Constraint.parse("memory >= 1e3")),
    )
    assert SweepSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    assert spec.constraints == (Constraint("latency_ms", "<=", 50.0), Constraint("memory", ">=", 1000.0))
    assert [rule.violation(value) for rule, value in zip(spec.constraints, (49, None))] == [-1, float("inf")]
    assert spec.named_metrics() == ["a", "b", "latency_ms", "memory"]
    single = SweepSpec(space, objective=Objective("a", "max"))
    assert "more_objectives" not in single.to_json() and "constraints" not in single.to_json()
