from __future__ import annotations

import dataclasses
import importlib.util
import statistics
import subprocess
import sys

import pytest

from gitexp.errors import UsageError
from gitexp.strategies import bayes, strategy_for
from gitexp.strategies.bayes import codec_for
from gitexp.sweep.space import Axis, Choice, Distribution, ParamTarget, Space
from gitexp.sweep.spec import Objective, SweepSpec

X, Y = ParamTarget(None, "x"), ParamTarget(None, "y")


def bayes_spec(space=None, **changes) -> SweepSpec:
    space = space or Space((Axis(X, Distribution("uniform", (-5, 5))), Axis(Y, Distribution("uniform", (-5, 5)))))
    spec = SweepSpec(space, strategy="bayes", max_trials=30, seed=0, objective=Objective("loss", "minimize"))
    spec = dataclasses.replace(spec, **changes)
    spec.validate()
    return spec


def loss(params) -> float:
    """A smooth bowl, a little tilted, with its minimum 0 at (0.7, -0.4)."""
    dx, dy = params["x"] - 0.7, params["y"] + 0.4
    return dx * dx + 2 * dy * dy + 0.5 * dx * dy


def best_loss(harness, spec) -> float:
    return min(trial.metrics["loss"] for trial in harness.simulate(spec, loss).finished)


def test_bayes_beats_random_search_on_a_smooth_objective(harness):
    seeds = range(5)
    bayes = [best_loss(harness, bayes_spec(seed=seed)) for seed in seeds]
    random = [best_loss(harness, bayes_spec(seed=seed, strategy="random")) for seed in seeds]
    print(f"mean best loss over {len(seeds)} seeds, 30 trials: bayes {statistics.mean(bayes):.4f}, random {statistics.mean(random):.4f}")
    assert statistics.mean(bayes) < statistics.mean(random) / 2


def test_concurrent_suggestions_differ():
    spec = bayes_spec(options={"n_initial_trials": 1}, concurrency=3)
    plans = strategy_for(spec).suggest([], [], 3)
    assert len({tuple(plan.params.values()) for plan in plans}) == 3


def test_values_cross_over_exactly():
    quantized = codec_for(Distribution("quniform", (0, 1, 0.1)))
    assert (quantized.distribution.low, quantized.distribution.high) == (0, 10)
    assert quantized.decode(3) == 0.3 and quantized.encode(0.3) == 3
    whole = codec_for(Distribution("qloguniform", (1, 100, 5)))
    assert (whole.distribution.low, whole.distribution.high, whole.distribution.log) == (1, 20, True)
    assert whole.decode(4) == 20 and isinstance(whole.decode(4), int)
    lists = codec_for(Choice(([16], [16, 16])))
    assert lists.encode([16, 16]) == 1 and lists.decode(1) == [16, 16] and lists.encode([8]) is None
    assert codec_for(Distribution("randint", (1, 4))).distribution.high == 3


def test_normal_kinds_are_searched_within_four_standard_deviations():
    normal = codec_for(Distribution("normal", (1, 0.5))).distribution
    assert (normal.low, normal.high, normal.log) == (-1, 3, False)
    lognormal = codec_for(Distribution("lognormal", (0, 1))).distribution
    assert lognormal.log and lognormal.low == pytest.approx(0.0183, rel=1e-3)
    assert codec_for(Distribution("qnormal", (0, 1, 0.5))).decode(-8) == -4


def test_trials_the_space_cannot_hold_are_left_out(harness):
    spec = bayes_spec(options={"n_initial_trials": 1})
    strange = harness.finished(dataclasses.replace(strategy_for(spec).suggest([], [], 1)[0], params={X: 99.0, Y: 0.0}), 1.0, "loss")
    assert len(strategy_for(spec).suggest([strange], [], 1)) == 1


def test_polyaxon_utility_functions_are_accepted_and_typos_refused():
    polyaxon = {"acquisition_function": "ucb", "kappa": 1.2, "gaussian_process": {"kernel": "matern", "length_scale": 1.0, "nu": 1.9, "n_restarts_optimizer": 0}}
    strategy_for(bayes_spec(options={"utility_function": polyaxon}))
    with pytest.raises(UsageError, match="did you mean 'kappa'"):
        strategy_for(bayes_spec(options={"utility_function": {"kapa": 1}}))
    with pytest.raises(UsageError, match="acquisition_function must be one of ucb, ei, poi"):
        strategy_for(bayes_spec(options={"utility_function": {"acquisition_function": "pi"}}))


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None and importlib.util.find_spec("scipy") is not None, reason="GP sampler available")
def test_gp_without_its_dependencies_is_refused_clearly():
    with pytest.raises(UsageError, match="the gp sampler needs .*pip install .*or use sampler: tpe"):
        strategy_for(bayes_spec(options={"sampler": "gp"}))


def test_gp_asks_through_optunas_gp_sampler(monkeypatch):
    # Startup trials are random draws, which GPSampler makes without PyTorch.
    monkeypatch.setattr(bayes, "_check_gp_available", lambda: None)
    strategy = strategy_for(bayes_spec(options={"sampler": "gp", "n_initial_trials": 5}))
    assert type(strategy._sampler(0)).__name__ == "GPSampler"
    assert len(strategy.suggest([], [], 2)) == 2


def test_optuna_stays_quiet(harness, capfd):
    harness.simulate(bayes_spec(max_trials=3, options={"n_initial_trials": 1}), loss)
    assert capfd.readouterr() == ("", "")


def test_optuna_is_imported_only_by_a_bayes_sweep():
    code = (
        "import sys; from gitexp.strategies import strategy_for, bayes; from gitexp.sweep.spec import spec_from_flags; "
        "strategy_for(spec_from_flags(['x=[1, 2]'])).initial_batch(); print('optuna' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
