"""Pruner sections: names and options checked against Optuna's pruners, flags, and the record's round trip."""

from __future__ import annotations

import pytest

from gitexp.errors import UsageError
from gitexp.sweep.build import build_spec
from gitexp.sweep.pruner import PRUNERS, PrunerSpec, make_pruner, parse_pruner
from gitexp.sweep.spec import SweepSpec


@pytest.mark.parametrize(
    "section, optuna_class",
    [
        ("median", "MedianPruner"),
        ({"name": "percentile", "percentile": 25, "n_startup_trials": 3}, "PercentilePruner"),
        ({"name": "successive_halving", "min_resource": "auto", "reduction_factor": 3}, "SuccessiveHalvingPruner"),
        ({"name": "hyperband", "min_resource": 1, "max_resource": 81}, "HyperbandPruner"),
        ({"name": "threshold", "upper": 10.0}, "ThresholdPruner"),
        ({"name": "patient", "patience": 2, "wrapped": {"name": "median", "n_warmup_steps": 3}}, "PatientPruner"),
        ("none", "NopPruner"),
    ],
)
def test_every_pruner_is_optuna_s_own_with_the_options_given(section, optuna_class):
    spec = parse_pruner(section)
    assert type(make_pruner(spec)).__name__ == optuna_class
    assert PrunerSpec.from_json(spec.to_json()) == spec
    assert set(PRUNERS) == {"median", "percentile", "successive_halving", "hyperband", "threshold", "patient", "none"}


@pytest.mark.parametrize(
    "section, message",
    [
        ("medain", "unknown pruner 'medain' (did you mean 'median'?)"),
        ({"name": "median", "n_warmup": 3}, "the median pruner has no option 'n_warmup' (did you mean 'n_warmup_steps'?)"),
        ({"name": "median", "n_startup_trials": -1}, "n_startup_trials must be a whole number of at least 0"),
        ({"name": "percentile"}, "the percentile pruner needs the option percentile"),
        ({"name": "threshold"}, "the threshold pruner needs lower or upper"),
        ({"name": "threshold", "lower": 2, "upper": 1}, "Optuna refuses the threshold pruner's options"),
        ({"name": "patient", "patience": 1, "wrapped": "nope"}, "pruner.wrapped: unknown pruner 'nope'"),
        ({"name": "median", "min_step": 1.5}, "min_step must be a whole number of at least 0"),
        ({"name": "median", "goal": "up"}, "goal 'up' is neither maximize nor minimize"),
        ({"min_step": 3}, "expected a pruner name or a mapping with its name"),
    ],
)
def test_a_bad_section_is_one_line_naming_it(section, message):
    with pytest.raises(UsageError) as raised:
        parse_pruner(section)
    assert message in raised.value.message and "\n" not in raised.value.message


def test_flags_set_or_change_the_sweep_file_s_pruner(tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("matrix: {train.lr: [0.1, 0.2]}\nobjective: {metric: loss, goal: minimize}\npruner: {name: median, n_startup_trials: 3}\n")
    assert build_spec([], sweep_file=sweep).pruner == PrunerSpec("median", {"n_startup_trials": 3})
    changed = build_spec([], sweep_file=sweep, prune_metric="acc", prune_min_step=4).pruner
    assert changed == PrunerSpec("median", {"n_startup_trials": 3}, "acc", None, 4)
    with pytest.raises(UsageError, match="--pruner: the threshold pruner needs lower or upper"):
        build_spec([], sweep_file=sweep, pruner="threshold")  # another pruner: the file's options are not its
    flagged = build_spec(["train.lr=[0.1, 0.2]"], objective="loss", goal="minimize", pruner="median", prune_min_step=5)
    assert flagged.steered() == ("loss", "minimize") and flagged.pruner.min_step == 5
    assert SweepSpec.from_json(flagged.to_json()) == flagged


def test_a_sweep_without_a_pruner_records_what_it_recorded_before():
    spec = build_spec(["train.lr=[0.1, 0.2]"])
    assert "pruner" not in spec.to_json() and SweepSpec.from_json(spec.to_json()).pruner is None
