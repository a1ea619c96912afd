import json

import pytest

from gitexp.errors import UsageError
from gitexp.sweep.files import gp_sampler_available, load_sweep_file
from gitexp.sweep.space import Choice, Distribution, ParamTarget, PChoice
from gitexp.sweep.spec import EarlyStoppingRule, Objective, SweepSpec

LR = ParamTarget(None, "lr")
BATCH_SIZE = ParamTarget(None, "batch_size")
POLYAXON_LOGSPACE = (1.0232929922807541, 1.0777052536943219, 1.1350108156723151, 1.1953635256737185, 1.2589254117941673)
COMMAND = "python3 train.py --batch-size={{ batch_size }} --lr={{ lr }}"

# Seed 000 (early Polyaxon), verbatim.
POLYAXON_0_FILE = """\
---
version: 1

project:
  name: mnist

declarations:
  batch_size: 128

matrix:
  lr:
    logspace: 0.01:0.1:5

run:
  image: tensorflow/tensorflow:1.4.1-py3
  steps:
    - pip install scikit-learn
  cmd: python3 train.py --batch-size={{ batch_size }} --lr={{ lr }}
"""
EARLY_STOPPING = """\
  early_stopping:
    - metric: accuracy
      value: 0.9
      optimization: maximize
    - metric: loss
      value: 0.05
      optimization: minimize
"""
POLYAXON_0_SETTINGS = "settings:\n  concurrent_experiments: 2\n  search_method: random\n  n_experiments: 4\n" + EARLY_STOPPING

# Seed 001 (Polyaxon groups), verbatim.
POLYAXON_1_FILE = """\

---
version: 1

kind: group

params:
  batch_size: 128

hptuning:
  matrix:
    lr:
      logspace: 0.01:0.1:5

build:
  image: tensorflow/tensorflow:1.4.1-py3
  build_steps:
    - pip install scikit-learn

run:
  cmd: python3 train.py --batch-size={{ batch_size }} --lr={{ lr }}
"""


def load(write, text: str) -> SweepSpec:
    return load_sweep_file(write(text))


@pytest.mark.parametrize("text", [POLYAXON_0_FILE, POLYAXON_1_FILE])
def test_polyaxon_examples_load(write, text):
    spec = load(write, text)
    assert spec.space.grid_size() == 5 and spec.num_planned_trials() == 5
    assert [point[LR] for point in spec.space.iter_grid()] == list(POLYAXON_LOGSPACE)
    assert spec.constants == ((BATCH_SIZE, 128),)
    assert spec.command == COMMAND
    assert spec.strategy == "grid" and spec.concurrency == 1


def test_polyaxon_0_override_file_loads(write):
    spec = load(write, "---\nversion: 1\n\nsettings:\n  concurrent_experiments: 2\n  search_method: random\n")
    assert spec.strategy == "random" and spec.concurrency == 2


def test_polyaxon_0_settings(write):
    spec = load(write, POLYAXON_0_FILE + POLYAXON_0_SETTINGS)
    assert (spec.strategy, spec.concurrency, spec.max_trials, spec.num_planned_trials()) == ("random", 2, 4, 4)
    assert spec.early_stopping == (EarlyStoppingRule("accuracy", 0.9, "maximize"), EarlyStoppingRule("loss", 0.05, "minimize"))


def test_polyaxon_0_fraction_of_experiments(write):
    spec = load(write, POLYAXON_0_FILE + POLYAXON_0_SETTINGS.replace("n_experiments: 4", "n_experiments: 0.4"))
    assert spec.max_trials == 0.4 and spec.num_planned_trials() == 2


@pytest.mark.parametrize(
    "hptuning, strategy, concurrency, planned",
    [
        ("  concurrency: 2\n  random_search:\n    n_experiments: 5\n", "random", 2, 5),
        ("  concurrency: 2\n  grid_search:\n    n_experiments: 4\n", "grid", 2, 4),
    ],
)
def test_polyaxon_1_overrides(write, hptuning, strategy, concurrency, planned):
    spec = load(write, POLYAXON_1_FILE.replace("hptuning:\n", "hptuning:\n" + hptuning))
    assert (spec.strategy, spec.concurrency, spec.num_planned_trials()) == (strategy, concurrency, planned)


def test_polyaxon_1_early_stopping(write):
    spec = load(write, POLYAXON_1_FILE.replace("hptuning:\n", "hptuning:\n" + EARLY_STOPPING))
    assert [rule.goal for rule in spec.early_stopping] == ["maximize", "minimize"]


def test_polyaxon_hyperband(write):
    spec = load(
        write,
        """
        kind: group
        hptuning:
          concurrency: 4
          matrix:
            lr: {uniform: 0:1}
          hyperband:
            max_iter: 81
            eta: 3
            resource: {name: num_steps, type: int}
            metric: {name: loss, optimization: minimize}
            resume: false
        """,
    )
    assert spec.strategy == "hyperband" and spec.objective == Objective("loss", "minimize")
    assert spec.options == {"resource": "num_steps", "resource_type": "int", "max_iter": 81, "eta": 3, "resume": False}
    assert spec.space.axes[0].dimension == Distribution("uniform", (0, 1))


def test_polyaxon_bayesian_optimization(write):
    spec = load(
        write,
        """
        hptuning:
          matrix:
            lr: {loguniform: [0.0001, 0.1]}
            units: {values: [32, 64]}
          bo:
            n_initial_trials: 5
            n_iterations: 15
            metric: {name: accuracy, optimization: maximize}
            utility_function:
              acquisition_function: ucb
              kappa: 1.2
              gaussian_process: {kernel: matern, length_scale: 1.0, nu: 1.9, n_restarts_optimizer: 0}
        """,
    )
    assert (spec.strategy, spec.max_trials, spec.num_planned_trials()) == ("bayes", 20, 20)
    expected = "gp" if gp_sampler_available() else "tpe"  # GP needs optional torch and scipy
    assert spec.options["sampler"] == expected and spec.options["n_initial_trials"] == 5
    assert spec.options["utility_function"]["gaussian_process"]["nu"] == 1.9
    json.dumps(spec.to_json())


def test_gitexp_format(write):
    spec = load(
        write,
        """
        params:
          train.batch_size: 128
          conf/model.yaml:model.depth: 6
        matrix:
          train.lr: logspace(-4, -1, 4)
          train.optimizer: [adam, 'sgd', "1"]
          train.dropout: {uniform: [0.1, 0.5]}
          model.layers.0.units: 64
        strategy:
          name: hyperband
          resource: train.epochs
          max_iter: 27
          eta: 3
        max_trials: 30
        seed: 42
        concurrency: 3
        objective: {metric: "roc_auc.test", goal: max}
        early_stopping:
          - {metric: roc_auc.test, value: 0.95, goal: maximize}
        command: 'python train.py'
        """,
    )
    axes = {str(axis.target): axis.dimension for axis in spec.space.axes}
    assert axes["train.lr"] == Choice((0.0001, 0.001, 0.01, 0.1))
    assert axes["train.optimizer"] == Choice(("adam", "sgd", "1"), frozenset({1, 2}))
    assert all(type(value) is str for value in axes["train.optimizer"].values)
    assert axes["train.dropout"] == Distribution("uniform", (0.1, 0.5))
    assert axes["model.layers.0.units"] == Choice((64,))
    assert spec.constants == ((ParamTarget(None, "train.batch_size"), 128), (ParamTarget("conf/model.yaml", "model.depth"), 6))
    assert (spec.strategy, spec.max_trials, spec.seed, spec.concurrency, spec.command) == ("hyperband", 30, 42, 3, "python train.py")
    assert spec.options == {"resource": "train.epochs", "max_iter": 27, "eta": 3}
    assert spec.objective == Objective("roc_auc.test", "maximize")
    assert type(spec.command) is str and type(spec.objective.metric) is str  # quoting leaves no trace but in matrix values
    assert SweepSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


@pytest.mark.parametrize(
    "entry, dimension",
    [
        ("{range: 1:10:2}", Choice((1, 3, 5, 7, 9))),  # YAML 1.1 would read 4202
        ("{range: '1:10:2'}", Choice((1, 3, 5, 7, 9))),
        ("{range: [1, 10, 2]}", Choice((1, 3, 5, 7, 9))),
        ("{range: {start: 1, stop: 10, step: 2}}", Choice((1, 3, 5, 7, 9))),
        ("{range: 0:1:0.25}", Choice((0.0, 0.25, 0.5, 0.75))),
        ("{range: 0:3}", Choice((0, 1, 2))),
        ("{linspace: 0:1:5}", Choice((0.0, 0.25, 0.5, 0.75, 1.0))),
        ("{linspace: {start: 0, stop: 1, num: 5}}", Choice((0.0, 0.25, 0.5, 0.75, 1.0))),
        ("{logspace: 0.01:0.1:5}", Choice(POLYAXON_LOGSPACE)),
        ("{logspace: {start: 0, stop: 3, num: 4, base: 2}}", Choice((1.0, 2.0, 4.0, 8.0))),
        ("{geomspace: [1, 1000, 4]}", Choice((1.0, 10.0, 100.0, 1000.0))),
        ("{values: [1, 2, 3]}", Choice((1, 2, 3))),
        ("{values: ['a', b]}", Choice(("a", "b"), frozenset({0}))),
        ("{pvalues: [[a, 0.2], [b, 0.8]]}", PChoice(("a", "b"), (0.2, 0.8))),
        ("{pvalues: [['1', 0.5], [2, 0.5]]}", PChoice(("1", 2), (0.5, 0.5), frozenset({0}))),
        ("{uniform: 0:1}", Distribution("uniform", (0, 1))),
        ("{uniform: [0, 1]}", Distribution("uniform", (0, 1))),
        ("{uniform: {low: 0, high: 1}}", Distribution("uniform", (0, 1))),
        ("{quniform: {low: 0, high: 1, q: 0.1}}", Distribution("quniform", (0, 1, 0.1))),
        ("{loguniform: [1e-5, 1e-1]}", Distribution("loguniform", (1e-5, 0.1))),
        ("{qloguniform: 1:1000:1}", Distribution("qloguniform", (1, 1000, 1))),
        ("{normal: {loc: 0, scale: 1}}", Distribution("normal", (0, 1))),
        ("{qnormal: [0, 1, 0.5]}", Distribution("qnormal", (0, 1, 0.5))),
        ("{lognormal: 0:1}", Distribution("lognormal", (0, 1))),
        ("{qlognormal: {loc: 0, scale: 1, q: 1}}", Distribution("qlognormal", (0, 1, 1))),
        ("{randint: {low: 1, high: 10}}", Distribution("randint", (1, 10))),
        ("'[1, 2]'", Choice((1, 2))),
        ("1e-3", Choice((0.001,))),
        ("true", Choice((True,))),
        ("[[1, 2], [3]]", Choice(([1, 2], [3]))),
    ],
)
def test_matrix_entries(write, entry, dimension):
    assert load(write, f"matrix:\n  lr: {entry}\nstrategy: random\nmax_trials: 3\n").space.axes[0].dimension == dimension


def test_constants_remember_which_were_quoted(write):
    spec = load(write, "params:\n  a: abc\n  b: 'abc'\n  c: \"1\"\nmatrix:\n  d: [1]\n")

    assert [value for _, value in spec.constants] == ["abc", "abc", "1"]
    assert spec.quoted_constants == {1, 2}
    assert SweepSpec.from_json(spec.to_json()).quoted_constants == {1, 2}


def test_distribution_with_size_is_drawn_with_the_file_seed(write):
    text = "seed: {seed}\nmatrix:\n  lr: {{uniform: {{low: 0, high: 1, size: 3}}}}\n"
    first = load(write, text.format(seed=1)).space.axes[0].dimension
    assert first.size == 3 and first == load(write, text.format(seed=1)).space.axes[0].dimension
    assert first != load(write, text.format(seed=2)).space.axes[0].dimension
    assert first == load(write, "seed: 1\nmatrix:\n  lr: uniform(0, 1, 3)\n").space.axes[0].dimension


def test_yaml_merge_keys_still_work(write):
    spec = load(write, "params:\n  <<: {a: 1, b: 2}\n  b: 3\n")
    assert dict(spec.constants) == {ParamTarget(None, "a"): 1, ParamTarget(None, "b"): 3}


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("matrix:\n  lr: [1, 2\n", ["sweep.yaml:", "invalid YAML", "fix the syntax"]),
        ("matrix:\n  lr: [1, 2]\n   bad: 3\n", ["sweep.yaml:3:", "invalid YAML"]),
        ("matrix:\n  lr: [1]\n  lr: [2]\n", ["sweep.yaml:3:", "'lr' twice"]),
        ("matrx:\n  lr: [1]\n", ["unknown key 'matrx'", "did you mean 'matrix'"]),
        ("hptuning:\n  concurrncy: 2\n", ["hptuning", "did you mean 'concurrency'"]),
        ("", ["empty"]),
        ("[1, 2]\n", ["expected a mapping"]),
        ("matrix:\n  lr: {unifrom: [0, 1]}\n", ["matrix.lr", "did you mean 'uniform'"]),
        ("matrix:\n  lr: {values: [1], range: [1, 2]}\n", ["one key"]),
        ("matrix:\n  lr: {values: 3}\n", ["takes a list"]),
        ("matrix:\n  lr: {range: {start: 1}}\n", ["matrix.lr.range", "stop is missing"]),
        ("matrix:\n  lr: {range: {start: 1, stop: 5, stpe: 1}}\n", ["unknown key 'stpe'", "valid keys are start, stop, step"]),
        ("matrix:\n  lr: {range: 5:1}\n", ["is empty"]),
        ("matrix:\n  lr: {uniform: a:b}\n", ["must be a number"]),
        ("matrix:\n  lr: {uniform: 7}\n", ["expected the arguments as 'low:high'"]),
        ("matrix:\n  lr: {pvalues: [[a, 0.5], [b, 0.2]]}\n", ["sum to 0.7"]),
        ("matrix:\n  lr: uniform(1, 0)\n", ["matrix.lr", "low must be below high", "at column"]),
        ("matrix:\n  lr: []\n", ["empty"]),
        ("matrix:\n  lr: {uniform: [0, 1]}\n", ["continuous distribution with no grid"]),
        ("matrix:\n  a.b: [1]\n  a..b: [2]\n", ["empty part"]),
        ("matrix:\n  1: [1]\n", ["not text", "quote it"]),
        ("params:\n  lr: 1\nmatrix:\n  lr: [1, 2]\n", ["both a constant and swept"]),
        ("params:\n  lr: 1\ndeclarations:\n  lr: 2\n", ["twice as a constant"]),
        ("params:\n  when: !!timestamp 2024-01-01\n", ["not supported"]),
        ("matrix: {lr: [1]}\nhptuning:\n  matrix: {lr: [2]}\n", ["matrix is also given by matrix"]),
        ("hptuning:\n  grid_search: {}\n  random_search: {n_experiments: 2}\n", ["strategy is also given by hptuning.grid_search"]),
        ("hptuning:\n  grid_search: {n_experiment: 2}\n", ["did you mean 'n_experiments'"]),
        ("hptuning:\n  hyperband: {max_iter: 9, metric: {name: loss, optimization: min}}\n", ["resource is missing"]),
        ("hptuning:\n  hyperband: {max_iter: 9, resource: {name: steps}, metric: {name: loss}}\n", ["optimization is missing"]),
        ("hptuning:\n  bo: {n_initial_trials: 0, n_iterations: 5, metric: {name: a, optimization: max}}\n", ["at least 1"]),
        ("strategy: {resource: epochs}\n", ["needs its name"]),
        ("strategy: random\nmatrix: {lr: 'uniform(0, 1)'}\n", ["needs a number of trials"]),
        ("strategy: bayes\nmax_trials: 5\n", ["needs an objective"]),
        ("max_trials: 1.5\n", ["fraction in (0, 1]"]),
        ("concurrency: 0\n", ["concurrency"]),
        ("seed: abc\nmatrix: {lr: 'uniform(0, 1, 2)'}\n", ["seed must be a whole number"]),
        ("objective: {metric: acc}\n", ["goal is missing"]),
        ("objective: {metric: acc, goal: up}\n", ["objective", "neither maximize nor minimize"]),
        ("early_stopping: {metric: acc}\n", ["expected a list"]),
        ("early_stopping:\n  - {metric: acc, value: 0.9}\n", ["early_stopping[0]", "give the direction"]),
        ("early_stopping:\n  - {metric: acc, value: high, optimization: max}\n", ["must be a number"]),
        ("kind: job\n", ["not a sweep"]),
        ("run: {cmd: [python, train.py]}\n", ["command must be"]),
    ],
)
def test_bad_files_are_refused_with_the_place(refused, write, text, fragments):
    message = refused(UsageError, load_sweep_file, write(text))
    assert "sweep.yaml" in message
    assert message.count("sweep.yaml") == 1
    for fragment in fragments:
        assert fragment in message


def test_missing_file(refused, tmp_path):
    assert "does not exist" in refused(UsageError, load_sweep_file, tmp_path / "nope.yaml")


def test_unreadable_file(refused, tmp_path):
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    assert "cannot read" in refused(UsageError, load_sweep_file, tmp_path / "binary.yaml")
