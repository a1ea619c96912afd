"""Pruners: which Optuna pruner stops a running trial early, steering by which metric.

A sweep file's ``pruner:`` section (or ``--pruner NAME``) is either a name or a
mapping with the name, gitexp's own keys and the pruner's options inline::

    pruner: {name: median, metric: loss, goal: minimize, min_step: 5, n_startup_trials: 5}

- ``name``: one of Optuna's pruners (``median``, ``percentile``,
  ``successive_halving``, ``hyperband``, ``threshold``, ``patient``) or ``none``.
- ``metric`` and ``goal``: the dvclive metric the pruner steers by; the sweep's
  objective when absent.
- ``min_step``: no trial is pruned before this dvclive step (a warm-up).
- Every other key is an option of the Optuna pruner, named as Optuna names its
  arguments; ``patient`` wraps another pruner: ``wrapped: median`` or a mapping.

``parse_pruner`` only checks: it builds the Optuna pruner once so that Optuna's
own checks (a percentile above 100, ...) refuse bad values before anything is
written; ``make_pruner`` builds the one a run asks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from gitexp.errors import UsageError
from gitexp.numbers import finite
from gitexp.sweep.options import check_options
from gitexp.sweep.space import closest_hint


def _whole(minimum: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _number(value: Any) -> bool:
    return finite(value) is not None


def _auto_or_count(value: Any) -> bool:
    return value == "auto" or _whole(1)(value)


@dataclass(frozen=True)
class _Option:
    expected: str  # what a valid value is, for the error message
    accepts: Callable[[Any], bool]
    required: bool = False


_STARTUP = {
    "n_startup_trials": _Option("a whole number of at least 0", _whole(0)),
    "n_warmup_steps": _Option("a whole number of at least 0", _whole(0)),
    "interval_steps": _Option("a whole number of at least 1", _whole(1)),
    "n_min_trials": _Option("a whole number of at least 1", _whole(1)),
}
_HALVING = {
    "reduction_factor": _Option("a whole number of at least 2", _whole(2)),
    "bootstrap_count": _Option("a whole number of at least 0", _whole(0)),
}
PRUNER_OPTIONS: dict[str, dict[str, _Option]] = {
    "median": _STARTUP,
    "percentile": {"percentile": _Option("a number from 0 to 100", lambda value: _number(value) and 0 <= value <= 100, True), **_STARTUP},
    "successive_halving": {
        "min_resource": _Option("auto or a whole number of at least 1", _auto_or_count),
        "min_early_stopping_rate": _Option("a whole number of at least 0", _whole(0)),
        **_HALVING,
    },
    "hyperband": {
        "min_resource": _Option("a whole number of at least 1", _whole(1)),
        "max_resource": _Option("auto or a whole number of at least 1", _auto_or_count),
        **_HALVING,
    },
    "threshold": {
        "lower": _Option("a number", _number),
        "upper": _Option("a number", _number),
        "n_warmup_steps": _STARTUP["n_warmup_steps"],
        "interval_steps": _STARTUP["interval_steps"],
    },
    "patient": {
        "patience": _Option("a whole number of at least 0", _whole(0), True),
        "min_delta": _Option("a number of at least 0", lambda value: _number(value) and value >= 0),
        "wrapped": _Option("a pruner name or mapping, e.g. median", lambda value: isinstance(value, (str, dict))),
    },
    "none": {},
}
PRUNERS = tuple(PRUNER_OPTIONS)
_OWN_KEYS = ("name", "metric", "goal", "min_step")


@dataclass(frozen=True)
class PrunerSpec:
    """One pruner with its Optuna options, the metric and goal it steers by, and its warm-up."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    metric: str | None = None  # None: the sweep's objective
    goal: str | None = None  # maximize or minimize; None: the objective's
    min_step: int = 0

    def __post_init__(self):
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def prunes(self) -> bool:
        return self.name != "none"

    def to_json(self) -> dict:
        return {"name": self.name, "options": dict(self.options), "metric": self.metric, "goal": self.goal, "min_step": self.min_step}

    @classmethod
    def from_json(cls, data: dict) -> PrunerSpec:
        return cls(data["name"], data.get("options") or {}, data.get("metric"), data.get("goal"), data.get("min_step", 0))


def parse_pruner(mapping: Any, where: str = "pruner") -> PrunerSpec:
    """The PrunerSpec of a ``pruner:`` section (a name or a mapping); one-line UsageError naming ``where``."""
    section = {"name": mapping} if isinstance(mapping, str) else mapping
    if not isinstance(section, Mapping) or "name" not in section:
        raise UsageError(f"{where}: expected a pruner name or a mapping with its name, e.g. {{name: median, min_step: 5}}, got {mapping!r}")
    name = _checked_name(section["name"], where)
    metric, goal, min_step = section.get("metric"), section.get("goal"), section.get("min_step", 0)
    if metric is not None and not (isinstance(metric, str) and metric.strip()):
        raise UsageError(f"{where}: metric must be a metric name such as loss, got {metric!r}")
    if goal is not None:
        goal = _normal_goal(goal, where)
    if not _whole(0)(min_step):
        raise UsageError(f"{where}: min_step must be a whole number of at least 0, got {min_step!r}")
    options = {key: value for key, value in section.items() if key not in _OWN_KEYS}
    spec = PrunerSpec(name, _checked_options(name, options, where), metric, goal, min_step)
    make_pruner(spec, where)  # Optuna's own checks, before anything is written
    return spec


def _checked_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or name.lower() not in PRUNER_OPTIONS:
        raise UsageError(f"{where}: unknown pruner {name!r}{closest_hint(str(name).lower(), PRUNERS)}: use one of {', '.join(PRUNERS)}")
    return name.lower()


def _normal_goal(goal: Any, where: str) -> str:
    from gitexp.sweep.spec import normalize_goal  # spec imports this module

    try:
        return normalize_goal(goal)
    except UsageError as error:
        raise UsageError(f"{where}: {error.message}") from None


def _checked_options(name: str, options: dict, where: str) -> dict:
    check_options(options, PRUNER_OPTIONS[name], f"the {name} pruner", f"{name} pruner", prefix=f"{where}: ")
    if name == "threshold" and not ({"lower", "upper"} & set(options)):
        raise UsageError(f"{where}: the threshold pruner needs lower or upper (or both): the bounds a value must stay within")
    if "wrapped" in options:
        wrapped = parse_pruner(options["wrapped"], f"{where}.wrapped")
        options = {**options, "wrapped": {"name": wrapped.name, **wrapped.options}}
    return options


def make_pruner(spec: PrunerSpec, where: str = "pruner"):
    """The Optuna pruner ``spec`` names (NopPruner for none)."""
    import optuna

    classes = {
        "median": optuna.pruners.MedianPruner,
        "percentile": optuna.pruners.PercentilePruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "threshold": optuna.pruners.ThresholdPruner,
        "patient": optuna.pruners.PatientPruner,
        "none": optuna.pruners.NopPruner,
    }
    options = dict(spec.options)
    if spec.name == "patient":
        wrapped = options.pop("wrapped", None)
        options["wrapped_pruner"] = make_pruner(parse_pruner(wrapped, f"{where}.wrapped"), where) if wrapped else None
    try:
        with warnings.catch_warnings():  # PatientPruner is "experimental" in Optuna's terms
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return classes[spec.name](**options)
    except (ValueError, TypeError) as error:
        raise UsageError(f"{where}: Optuna refuses the {spec.name} pruner's options: {str(error).splitlines()[0]}") from None

