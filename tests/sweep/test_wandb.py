"""W&B sweep configurations read unchanged: the examples of W&B's documentation
(docs.wandb.ai, "Define a sweep configuration" and "Sweep configuration options",
written out here) parse to the spaces they describe, every distribution draws in
its bounds, and a wrong field is refused in one line."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitexp.errors import UsageError
from gitexp.strategies import strategy_for
from gitexp.strategies.base import TrialOutcome
from gitexp.sweep.build import build_spec
from gitexp.sweep.files import load_sweep_file, read_sweep_file
from gitexp.sweep.pruner import PrunerSpec
from gitexp.sweep.space import Axis, Choice, Distribution, ParamTarget, PChoice, Space
from gitexp.sweep.spec import EarlyStoppingRule, Objective, SweepSpec

# "Basic structure" (define-sweep-configuration), verbatim.
BASIC = """\
program: train.py
name: sweepdemo
method: bayes
metric:
  goal: minimize
  name: validation_loss
parameters:
  learning_rate:
    min: 0.0001
    max: 0.1
  batch_size:
    values: [16, 32, 64]
  epochs:
    values: [5, 10, 15]
  optimizer:
    values: ["adam", "sgd"]
"""

# "Sweep configuration examples", verbatim.
RANDOM = """\
program: train.py
method: random
metric:
  goal: minimize
  name: loss
parameters:
  batch_size:
    distribution: q_log_uniform_values
    max: 256
    min: 32
    q: 8
  dropout:
    values: [0.3, 0.4, 0.5]
  epochs:
    value: 1
  fc_layer_size:
    values: [128, 256, 512]
  learning_rate:
    distribution: uniform
    max: 0.1
    min: 0
  optimizer:
    values: ["adam", "sgd"]
"""

# "Bayes hyperband example", verbatim.
BAYES_HYPERBAND = """\
program: train.py
method: bayes
metric:
  goal: minimize
  name: val_loss
parameters:
  dropout:
    values: [0.15, 0.2, 0.25, 0.3, 0.4]
  hidden_layer_size:
    values: [96, 128, 148]
  layer_1_size:
    values: [10, 12, 14, 16, 18, 20]
  layer_2_size:
    values: [24, 28, 32, 36, 40, 44]
  learn_rate:
    values: [0.001, 0.01, 0.003]
  decay:
    values: [1e-5, 1e-6, 1e-7]
  momentum:
    values: [0.8, 0.9, 0.95]
  epochs:
    value: 27
early_terminate:
  type: hyperband
  s: 2
  eta: 3
  max_iter: 27
"""

# "Macro and custom command arguments example", verbatim: it names ${batch_size} and
# ${optimizer}, which its parameters do not define.
MACROS = """\
program: run.py
method: random
metric:
  name: validation_loss
parameters:
  learning_rate:
    min: 0.0001
    max: 0.1
command:
  - ${env}
  - ${interpreter}
  - ${program}
  - "--batch_size=${batch_size}"
  - "--optimizer=${optimizer}"
  - "--test=True"
"""


def target(key: str, file: str | None = None) -> ParamTarget:
    return ParamTarget(file, key)


def axes_of(spec) -> dict[str, object]:
    return {str(axis.target): axis.dimension for axis in spec.space.axes}


def test_basic_structure_is_a_bayes_space_that_needs_a_count(write):
    path = write(BASIC)
    spec = read_sweep_file(path)
    assert spec.strategy == "bayes"
    assert spec.objective == Objective("validation_loss", "minimize")
    assert axes_of(spec) == {
        "learning_rate": Distribution("uniform", (0.0001, 0.1)),  # float min and max: uniform
        "batch_size": Choice((16, 32, 64)),
        "epochs": Choice((5, 10, 15)),
        "optimizer": Choice(("adam", "sgd"), {0, 1}),  # quoted: explicitly strings
    }
    assert spec.command == "/usr/bin/env python train.py --learning_rate={{ learning_rate }} --batch_size={{ batch_size }} --epochs={{ epochs }} --optimizer={{ optimizer }}"
    with pytest.raises(UsageError, match="run_cap in a W&B one"):
        load_sweep_file(path)  # W&B's bayes runs until stopped
    assert build_spec([], sweep_file=path, num_trials=12).num_planned_trials() == 12


def test_random_example(write):
    spec = build_spec([], sweep_file=write(RANDOM), num_trials=5)
    assert spec.strategy == "random"
    assert spec.objective == Objective("loss", "minimize")
    assert axes_of(spec) == {
        "batch_size": Distribution("qloguniform", (32, 256, 8)),
        "dropout": Choice((0.3, 0.4, 0.5)),
        "fc_layer_size": Choice((128, 256, 512)),
        "learning_rate": Distribution("uniform", (0, 0.1)),  # distribution: uniform with an int min
        "optimizer": Choice(("adam", "sgd"), {0, 1}),
    }
    assert spec.constants == ((target("epochs"), 1),)


def test_bayes_hyperband_example_maps_onto_optunas_hyperband_pruner(write):
    spec = build_spec([], sweep_file=write(BAYES_HYPERBAND), num_trials=20)
    # W&B's brackets for max_iter 27, s 2, eta 3 are [9, 3]: the first at 27 / 3**2
    assert spec.pruner == PrunerSpec("hyperband", {"min_resource": 3, "max_resource": 27, "reduction_factor": 3}, "val_loss", "minimize")
    assert axes_of(spec)["decay"] == Choice((1e-5, 1e-6, 1e-7))
    assert spec.constants == ((target("epochs"), 27),)
    assert spec.space.grid_size() == 5 * 3 * 6 * 6 * 3 * 3 * 3


def test_min_iter_tab(write):
    spec = build_spec([], sweep_file=write(BAYES_HYPERBAND.replace("  s: 2\n  eta: 3\n  max_iter: 27\n", "  min_iter: 3\n")), num_trials=20)
    assert spec.pruner.options == {"min_resource": 3, "max_resource": "auto", "reduction_factor": 3}


def test_macro_example_is_refused_for_macros_its_parameters_lack(write, refused):
    message = refused(UsageError, build_spec, [], sweep_file=write(MACROS), num_trials=5)
    assert "${batch_size}" in message and "name a parameter of the sweep" in message
    fixed = MACROS.replace("  learning_rate:", "  batch_size: {values: [16, 32]}\n  optimizer: {values: [adam, sgd]}\n  learning_rate:")
    spec = build_spec([], sweep_file=write(fixed), num_trials=5)
    assert spec.command == "/usr/bin/env python run.py '--batch_size={{ batch_size }}' '--optimizer={{ optimizer }}' --test=True"
    assert spec.objective == Objective("validation_loss", "minimize")  # W&B's default goal


def test_nested_parameters_and_file_keys_map_as_set_does(write):
    spec = load_sweep_file(write("""\
        method: grid
        parameters:
          train:
            parameters:
              lr: {values: [0.1, 0.01]}
              optim:
                parameters:
                  name: {value: adam}
          params.yaml:seed: {values: [1, 2]}
        """))
    assert axes_of(spec) == {"train.lr": Choice((0.1, 0.01)), "params.yaml:seed": Choice((1, 2))}
    assert spec.constants == ((target("train.optim.name"), "adam"),)


def test_metric_target_stops_and_run_cap_counts(write):
    spec = load_sweep_file(write("""\
        method: random
        run_cap: 7
        metric: {name: acc, goal: maximize, target: 0.99}
        parameters: {lr: {distribution: log_uniform_values, min: 1.0e-5, max: 0.1}}
        """))
    assert spec.max_trials == 7
    assert spec.early_stopping == (EarlyStoppingRule("acc", 0.99, "maximize"),)
    notes = "\n".join(spec.notes)
    assert "run_cap: 7 -> max_trials 7" in notes and "no new trial once one has acc >= 0.99" in notes
    assert "parameters.lr: log_uniform_values -> lr from loguniform(1e-05, 0.1)" in notes


def test_float_tag_as_the_docs_advise(write):
    spec = load_sweep_file(write("method: random\nrun_cap: 2\nparameters: {lr: {min: !!float 1e-5, max: 0.1}}\n"))
    assert axes_of(spec)["lr"] == Distribution("uniform", (1e-5, 0.1))


# every distribution W&B documents, with its fields, and the space gitexp reads
DISTRIBUTIONS = [
    ({"distribution": "constant", "value": 3}, None),
    ({"distribution": "categorical", "values": [1, "a"]}, Choice((1, "a"), {1})),
    ({"values": ["a", "b"], "probabilities": [0.25, 0.75]}, PChoice(("a", "b"), (0.25, 0.75), {0, 1})),
    ({"distribution": "int_uniform", "min": 2, "max": 5}, Distribution("randint", (2, 6))),  # max included
    ({"min": 2, "max": 5}, Distribution("randint", (2, 6))),
    ({"distribution": "uniform", "min": -1.5, "max": 2.5}, Distribution("uniform", (-1.5, 2.5))),
    ({"distribution": "q_uniform", "min": 0, "max": 10}, Distribution("quniform", (0, 10, 1))),  # q defaults to 1
    ({"distribution": "log_uniform", "min": -2, "max": 1}, Distribution("loguniform", (math.exp(-2), math.exp(1)))),
    ({"distribution": "log_uniform_values", "min": 0.001, "max": 1}, Distribution("loguniform", (0.001, 1))),
    ({"distribution": "q_log_uniform", "min": 0, "max": 5, "q": 2}, Distribution("qloguniform", (1.0, math.exp(5), 2))),
    ({"distribution": "q_log_uniform_values", "min": 32, "max": 256, "q": 8}, Distribution("qloguniform", (32, 256, 8))),
    ({"distribution": "inv_log_uniform", "min": 1, "max": 3}, Distribution("loguniform", (math.exp(-3), math.exp(-1)))),
    ({"distribution": "inv_log_uniform_values", "min": 0.01, "max": 0.5}, Distribution("loguniform", (0.01, 0.5))),
    ({"distribution": "normal"}, Distribution("normal", (0, 1))),  # mu 0 and sigma 1 by default
    ({"distribution": "q_normal", "mu": 10, "sigma": 2, "q": 0.5}, Distribution("qnormal", (10, 2, 0.5))),
    ({"distribution": "log_normal", "mu": 0.5, "sigma": 0.2}, Distribution("lognormal", (0.5, 0.2))),
    ({"distribution": "q_log_normal", "mu": 1, "sigma": 0.5, "q": 0.1}, Distribution("qlognormal", (1, 0.5, 0.1))),
    ({"distribution": "beta", "a": 2, "b": 5}, Distribution("beta", (2, 5))),
    ({"distribution": "q_beta", "a": 0.5, "b": 0.5, "q": 0.25}, Distribution("qbeta", (0.5, 0.5, 0.25))),
]


def _file(fields: dict) -> str:
    return f"method: random\nrun_cap: 3\nparameters:\n  x: {json.dumps(fields)}\n"


@pytest.mark.parametrize(("fields", "dimension"), DISTRIBUTIONS, ids=[fields.get("distribution", "-".join(fields)) for fields, _ in DISTRIBUTIONS])
def test_every_distribution(write, fields, dimension):
    spec = load_sweep_file(write(_file(fields)))
    if dimension is None:
        assert spec.constants == ((target("x"), 3),) and not spec.space.axes
    else:
        assert axes_of(spec) == {"x": dimension}


def _within(dimension, value) -> bool:
    if isinstance(dimension, (Choice, PChoice)):
        return value in dimension.values
    if dimension.kind == "randint":
        return isinstance(value, int) and dimension.args[0] <= value < dimension.args[1]
    bounds = dimension.bounds()
    if dimension.kind.startswith("q"):
        q = dimension.args[-1]
        assert abs(value / q - round(value / q)) < 1e-6, (dimension, value)  # a multiple of q
    if bounds is None:  # normal kinds: any finite value; lognormal ones: not negative
        return math.isfinite(value) and (value >= 0 or "log" not in dimension.kind)
    return bounds[0] <= value <= bounds[1]


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(DISTRIBUTIONS) - 1), seed=st.integers(0, 2**32))
def test_draws_stay_in_bounds(index, seed):
    fields, dimension = DISTRIBUTIONS[index]
    if dimension is None:
        return
    value = dimension.sample(random.Random(seed))
    assert _within(dimension, value), (dimension, value)


@settings(max_examples=200, deadline=None)
@given(
    low=st.floats(-50, 50, allow_nan=False),
    width=st.floats(1e-3, 50),
    kind=st.sampled_from(["uniform", "q_uniform", "log_uniform", "inv_log_uniform", "int_uniform"]),
    seed=st.integers(0, 2**32),
)
def test_draws_of_any_bounds_stay_in_them(tmp_path_factory, low, width, kind, seed):
    if kind == "int_uniform":
        low, high = math.floor(low), math.floor(low) + max(1, math.ceil(width))
    else:
        high = low + width
    fields = {"distribution": kind, "min": low, "max": high, **({"q": 0.5} if kind == "q_uniform" else {})}
    path = tmp_path_factory.mktemp("wandb") / "sweep.yaml"
    path.write_text(_file(fields))
    try:
        spec = load_sweep_file(path)
    except UsageError:
        assert kind == "q_uniform"  # no multiple of q within [min, max]
        return
    (axis,) = spec.space.axes
    value = axis.dimension.sample(random.Random(seed))
    wanted = {  # what W&B documents each kind to draw from
        "uniform": (low, high),
        "q_uniform": (low, high),
        "log_uniform": (math.exp(low), math.exp(high)),
        "inv_log_uniform": (math.exp(-high), math.exp(-low)),
        "int_uniform": (low, high),
    }[kind]
    assert wanted[0] <= value <= wanted[1] or math.isclose(value, wanted[0]) or math.isclose(value, wanted[1])


BAD = [
    ("method: sobol\nparameters: {x: {values: [1]}}\n", "unknown method 'sobol'"),
    ("method: grid\nparameters: {x: {distribution: gaussian}}\n", "unknown distribution 'gaussian'"),
    ("method: grid\nparameters: {x: {distribution: uniform, min: low, max: 1}}\n", "parameters.x.min: must be a number, got 'low'"),
    ("method: grid\nparameters: {x: {distribution: int_uniform, min: 1.5, max: 3}}\n", "must be a whole number"),
    ("method: grid\nparameters: {x: {values: 3}}\n", "parameters.x.values: must be a non-empty list"),
    ("method: grid\nparameters: {x: {distribution: normal, min: 1}}\n", "normal takes no min"),
    ("method: grid\nparameters: {x: {mean: 1}}\n", "unknown key 'mean'"),
    ("method: grid\nparameters: {x: {q: 1}}\n", "give value, values, min and max, or a distribution"),
    ("method: grid\nrun_cap: many\nparameters: {x: {values: [1]}}\n", "run_cap: must be a whole number"),
    ("method: grid\nmetric: {name: 3}\nparameters: {x: {values: [1]}}\n", "metric.name: must be a metric name"),
    ("method: grid\nmetric: {name: loss, goal: lowest}\nparameters: {x: {values: [1]}}\n", "minimize or maximize"),
    ("method: grid\nmetric: {name: loss}\nearly_terminate: {type: hyperband, eta: 3}\nparameters: {x: {values: [1]}}\n", "needs min_iter or max_iter"),
    ("method: grid\nmetric: {name: loss}\nearly_terminate: {type: hyperband, max_iter: 27}\nparameters: {x: {values: [1]}}\n", "max_iter needs s"),
    ("method: grid\nmetric: {name: loss}\nearly_terminate: {type: median, min_iter: 3}\nparameters: {x: {values: [1]}}\n", "W&B's one type is hyperband"),
    ("method: grid\nearly_terminate: {type: hyperband, min_iter: 3}\nparameters: {x: {values: [1]}}\n", "add metric"),
    ("method: grid\nmetric: {name: loss}\nearly_terminate: {type: hyperband, min_iter: 0}\nparameters: {x: {values: [1]}}\n", "min_iter: must be a whole number of at least 1"),
    ("method: grid\ncommand: python train.py\nparameters: {x: {values: [1]}}\n", "command: must be a list of words"),
    ("method: grid\ncommand: [python, '${program}']\nparameters: {x: {values: [1]}}\n", "program is missing"),
    ("method: grid\n", "parameters is missing"),
    ("parameters: {x: {values: [1]}}\n", "method is missing"),
    ("method: grid\nmetrics: [{name: a}, {name: a, goal: maximize}]\nparameters: {x: {values: [1]}}\n", "lists a twice"),
    ("method: grid\nparameters: {x: {parameters: {y: {value: 1}}, value: 2}}\n", "nested parameters has nothing else"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD)
def test_bad_fields_are_refused_in_one_line(write, refused, text, fragment):
    assert fragment in refused(UsageError, load_sweep_file, write(text))


def test_several_metrics_are_a_multi_objective_sweep(write):
    spec = load_sweep_file(write("""\
        method: random
        run_cap: 4
        metrics:
          - {name: accuracy, goal: maximize}
          - {name: latency_ms}
        parameters: {lr: {values: [0.1, 0.01]}}
        """))
    assert spec.objectives == (Objective("accuracy", "maximize"), Objective("latency_ms", "minimize"))


def test_w_and_b_own_fields_are_ignored_with_a_note(write):
    spec = load_sweep_file(write("method: grid\nname: demo\nentity: me\nproject: p\ndescription: d\nparameters: {x: {values: [1]}}\n"))
    assert [note for note in spec.notes if "ignored" in note] == [f"{key}: W&B's own, ignored" for key in ("name", "entity", "project", "description")]


SEARCHED = [case for case in DISTRIBUTIONS if case[1] is not None]


@pytest.mark.parametrize(("fields", "dimension"), SEARCHED, ids=[fields.get("distribution", "-".join(fields)) for fields, _ in SEARCHED])
def test_bayes_suggestions_of_every_distribution_stay_in_bounds(fields, dimension):
    spec = SweepSpec(Space((Axis(target("x"), dimension),)), strategy="bayes", max_trials=8, seed=1, objective=Objective("m", "minimize"), options={"n_initial_trials": 3})
    strategy = strategy_for(spec)
    finished: list[TrialOutcome] = []
    while plans := strategy.suggest(finished, [], 1):
        value = plans[0].params[target("x")]
        assert _within(dimension, value), (dimension, value)
        score = abs(value - 0.3) if isinstance(value, (int, float)) else float(len(str(value)))
        finished.append(TrialOutcome({"x": value}, "succeeded", {"m": score}))
    assert len(finished) == 8
