"""Model-based search with Optuna through ask and tell; the study lives only in memory.

Every suggestion rebuilds an in-memory study from the sweep's trials: finished
ones as COMPLETE (with the objective), PRUNED (stopped by the sweep's pruner)
or FAIL (failed, metric missing, not finite), pending ones as RUNNING, so the sampler's constant liar spreads
concurrent trials apart. One point is asked per study, and a batch of k asks
k studies, each seeing the points asked before it as RUNNING and seeded from
(seed, trial index): a plan is the same whether the runner asks for trials one
at a time or several at once, and in whichever clone. ``max_trials`` is the
total, finished and pending trials counted.

Options (spec.py validates their types):

- ``sampler``: ``tpe`` (default; Optuna's TPESampler with constant_liar),
  ``gp`` (Optuna's GPSampler, which needs PyTorch and SciPy; refused without)
  or, with several objectives, ``nsga2`` (Optuna's NSGAIISampler).

Several objectives make a multi-objective study (one direction each; a trial
missing any of them is FAIL). Constraints are recorded on every finished trial
as Optuna records a ``constraints_func``'s values (at most 0 when met; a missing
metric violates), and the sampler is given that function, so it steers away
from infeasible trials.
- ``n_initial_trials``: trials drawn at random before the model leads, the
  sampler's ``n_startup_trials`` (default 10, Optuna's).
- ``utility_function``: Polyaxon's ``bo`` acquisition settings, accepted so
  that Polyaxon files run unchanged. Optuna fixes most of them:
  ``acquisition_function`` ``ei`` is what GPSampler does (log expected
  improvement; TPE's density ratio is equivalent to EI too); ``ucb`` and
  ``poi`` have no Optuna equivalent and run as EI, so ``kappa`` and ``eps``
  have no effect; ``gaussian_process.kernel`` ``matern`` is GPSampler's kernel
  (Matern 5/2 whose length scales are fitted, so ``nu`` and ``length_scale``
  have no effect), ``rbf`` has no equivalent; ``n_restarts_optimizer``,
  ``n_warmup`` and ``n_iter`` tune an optimiser that Optuna runs its own way.
  Unknown keys and values are refused.

Dimensions as Optuna sees them:

- ``Choice`` and ``pvalues``: categorical over the value indices (values may be
  lists, which Optuna cannot hold); ``pvalues`` probabilities are not used,
  since Optuna's categorical distribution has no weights.
- ``uniform``, ``loguniform``: floats on [low, high], log-scaled for the latter;
  ``beta``: floats on [0, 1].
- ``randint(low, high)``: integers low..high-1.
- ``normal(loc, scale)``: floats on loc ± 4 scale (99.994% of the mass), with a
  uniform prior, since Optuna has no unbounded distributions; ``lognormal``:
  exp of that range, log-scaled.
- q-variants: the integer k of k * q, over the multiples of q in those ranges
  (log-scaled for the log kinds), so values are exact multiples as ``sample``
  gives them.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitexp.errors import UsageError
from gitexp.numbers import finite
from gitexp.store.records import PRUNED
from gitexp.strategies.base import Strategy, TrialOutcome, TrialPlan, seeded_rng
from gitexp.sweep.space import (
    Choice,
    Dimension,
    Distribution,
    PChoice,
    closest_hint,
    exact,
    multiple_of,
)

DEFAULT_STARTUP_TRIALS = 10
_CONSTRAINTS_KEY = "constraints"  # Optuna's system attribute for a trial's constraint values
_WORST_VIOLATION = 1e300  # a missing metric: violated, as a finite number the samplers can weigh
NORMAL_HALF_WIDTH = 4  # in standard deviations

# Polyaxon's utility_function keys, and the values it allows where it names them.
UTILITY_FUNCTION_KEYS = {
    "acquisition_function": ("ucb", "ei", "poi"),
    "kappa": None,
    "eps": None,
    "n_warmup": None,
    "n_iter": None,
    "gaussian_process": None,
}
GAUSSIAN_PROCESS_KEYS = {"kernel": ("matern", "rbf"), "length_scale": None, "nu": None, "n_restarts_optimizer": None}


@functools.cache
def _optuna():
    import optuna

    # A study is created per suggestion: Optuna would log every creation.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna


@dataclass(frozen=True)
class Codec:
    """One axis as Optuna sees it: a distribution, and how values cross over."""

    distribution: Any
    encode: Callable[[Any], Any]  # a sweep value to Optuna's, None when it lies outside
    decode: Callable[[Any], Any]


def codec_for(dimension: Dimension) -> Codec:
    distributions = _optuna().distributions
    if isinstance(dimension, (Choice, PChoice)):
        values = dimension.values
        indices = tuple(range(len(values)))
        return Codec(distributions.CategoricalDistribution(indices), lambda value: _index_of(values, value), values.__getitem__)
    if dimension.kind == "randint":
        low, high = dimension.args
        return Codec(distributions.IntDistribution(low, high - 1), _within(low, high - 1), int)
    low, high, log = _value_range(dimension)
    q = dimension.args[-1] if dimension.kind.startswith("q") else None  # q is always the last argument
    if q is None:
        return Codec(distributions.FloatDistribution(low, high, log=log), _within(low, high), float)
    return _quantized_codec(low, high, q, log)


def _value_range(dimension: Distribution) -> tuple[float, float, bool]:
    """The bounds Optuna searches for a continuous kind, and whether on a log scale."""
    base_kind = dimension.kind.removeprefix("q")
    first, second = dimension.args[:2]
    if base_kind in ("uniform", "loguniform"):
        return first, second, base_kind == "loguniform"
    if base_kind == "beta":
        return 0, 1, False
    low, high = first - NORMAL_HALF_WIDTH * second, first + NORMAL_HALF_WIDTH * second
    return (math.exp(low), math.exp(high), True) if base_kind == "lognormal" else (low, high, False)


def _quantized_codec(low: float, high: float, q: int | float, log: bool) -> Codec:
    lowest, highest = math.ceil(exact(low) / exact(q)), math.floor(exact(high) / exact(q))
    if lowest > highest:  # q wider than the range: the one multiple that sampling rounds to
        lowest = highest = round(exact((low + high) / 2) / exact(q))
        log = False
    distribution = _optuna().distributions.IntDistribution(lowest, highest, log=log)
    in_range = _within(lowest, highest)

    def encode(value):
        return in_range(round(exact(value) / exact(q))) if finite(value) is not None else None

    return Codec(distribution, encode, lambda count: multiple_of(count, q))


def _within(low, high) -> Callable[[Any], Any]:
    return lambda value: value if finite(value) is not None and low <= value <= high else None


def _index_of(values: tuple, value: Any) -> int | None:
    return next((index for index, candidate in enumerate(values) if candidate == value), None)


def check_utility_function(settings: Mapping) -> None:
    _check_keys(settings, UTILITY_FUNCTION_KEYS, "utility_function")
    process = settings.get("gaussian_process", {})
    if not isinstance(process, Mapping):
        raise UsageError(f"bayes utility_function.gaussian_process must be a mapping, got {process!r}")
    _check_keys(process, GAUSSIAN_PROCESS_KEYS, "utility_function.gaussian_process")


def _check_keys(settings: Mapping, known: Mapping[str, tuple | None], where: str) -> None:
    for key, value in settings.items():
        if key not in known:
            raise UsageError(f"bayes {where} has no setting {key!r}{closest_hint(str(key), known)}: use {', '.join(known)}")
        allowed = known[key]
        if allowed is not None and value not in allowed:
            raise UsageError(f"bayes {where}.{key} must be one of {', '.join(allowed)}, got {value!r}")


def _check_gp_available() -> None:
    missing = [module for module in ("torch", "scipy") if importlib.util.find_spec(module) is None]
    if missing:
        raise UsageError(
            f"the gp sampler needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            f"pip install {' '.join(missing)}, or use sampler: tpe"
        )


class BayesStrategy(Strategy):
    """Expects a validated spec: an objective and ``max_trials`` are present."""

    name = "bayes"
    adaptive = True

    def __init__(self, spec):
        super().__init__(spec)
        self.sampler_name = spec.options.get("sampler", "tpe")
        if self.sampler_name == "gp":
            _check_gp_available()
        check_utility_function(spec.options.get("utility_function", {}))
        self.codecs = {str(axis.target): codec_for(axis.dimension) for axis in spec.space.axes}
        self.targets = {str(axis.target): axis.target for axis in spec.space.axes}

    def suggest(self, finished: Sequence[TrialOutcome], pending: Sequence[TrialOutcome], limit: int) -> list[TrialPlan]:
        seen = len(finished) + len(pending)
        wanted = min(limit, (self.spec.num_planned_trials() or 0) - seen)
        if wanted <= 0:
            return []
        study = self._study(finished, pending)
        plans = []
        for index in range(seen, seen + wanted):
            study.sampler = self._sampler(index)  # each trial's point depends on its index, not on the batch
            asked = study.ask({name: codec.distribution for name, codec in self.codecs.items()})  # stays running in it
            params = {name: codec.decode(asked.params[name]) for name, codec in self.codecs.items()}
            plans.append(TrialPlan({self.targets[name]: value for name, value in params.items()}))
        return plans

    def _study(self, finished: Sequence[TrialOutcome], pending: Sequence[TrialOutcome]):
        """A study of the trials so far: one per batch, whose asks stay in it as running trials (linear, not quadratic)."""
        optuna = _optuna()
        study = optuna.create_study(directions=[objective.goal for objective in self.spec.objectives])
        states = optuna.trial.TrialState
        for trial in finished:
            scores = [trial.score(objective) for objective in self.spec.objectives]
            if trial.status == PRUNED:  # stopped by the sweep's pruner: Optuna's samplers know such trials
                self._add(study, trial.params, states.PRUNED)
            elif None in scores:
                self._add(study, trial.params, states.FAIL)
            else:
                violations = [constraint.violation(trial.metrics.get(constraint.metric)) for constraint in self.spec.constraints]
                self._add(study, trial.params, states.COMPLETE, scores, violations)
        for trial in pending:
            self._add(study, trial.params, states.RUNNING)
        return study

    def _add(self, study, params: Mapping[str, Any], state, values: list[float] | None = None, violations=()) -> None:
        encoded = {name: codec.encode(params.get(name)) for name, codec in self.codecs.items()}
        if None in encoded.values():
            return  # a value the space cannot hold (the sweep's space changed): no evidence about it
        distributions = {name: codec.distribution for name, codec in self.codecs.items()}
        # where Optuna keeps what a constraints_func returned, so every sampler reads them
        attrs = {_CONSTRAINTS_KEY: [min(value, _WORST_VIOLATION) for value in violations]} if violations else {}
        created = _optuna().trial.create_trial(params=encoded, distributions=distributions, state=state, values=values, system_attrs=attrs)
        study.add_trial(created)

    def _sampler(self, index: int):
        samplers = _optuna().samplers
        seed = seeded_rng(self.spec, "bayes", index).getrandbits(32)
        startup = self.spec.options.get("n_initial_trials", DEFAULT_STARTUP_TRIALS)
        constrained = {"constraints_func": _recorded_constraints} if self.spec.constraints else {}
        with warnings.catch_warnings():
            # GPSampler is experimental; Optuna 5 deprecates constraints_func for values set on the trial, as _add does
            warnings.simplefilter("ignore", _optuna().exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", FutureWarning)
            if self.sampler_name == "gp":
                return samplers.GPSampler(seed=seed, n_startup_trials=startup, **constrained)
            if self.sampler_name == "nsga2":
                return samplers.NSGAIISampler(seed=seed, **constrained)
            return samplers.TPESampler(seed=seed, n_startup_trials=startup, constant_liar=True, **constrained)


def _recorded_constraints(trial) -> list[float]:
    """The constraint values _add recorded (the sampler asks only of trials it finishes, which these never are)."""
    return trial.system_attrs.get(_CONSTRAINTS_KEY, [])
