"""The resolved sweep specification: the space, and how to search it.

A sweep records ``SweepSpec.to_json()`` in Git, so any clone can show, resume or
extend it. Strategies and their ``options``:

- ``grid``: every grid point in order, up to ``max_trials``; no options.
- ``random``: ``max_trials`` points drawn from the space; no options. Without
  ``max_trials`` a finite space is run whole in random order (Polyaxon's
  ``search_method: random``); a space with a continuous axis needs a count.
- ``hyperband``: ``resource`` (required: the params key that receives each
  trial's budget, e.g. ``train.epochs``), ``max_iter`` (required: the largest
  budget), ``eta`` (the reduction factor, > 1; Polyaxon's default is 3),
  ``resource_type`` (``int`` or ``float``; default ``int``), ``resume`` (bool:
  a promoted trial continues from its checkpoint). Needs an objective.
- ``bayes``: ``sampler`` (``tpe`` or ``gp``), ``n_initial_trials`` (random
  trials before the model leads), ``utility_function`` (Polyaxon's acquisition
  settings for ``gp``, kept as written). Needs an objective and ``max_trials``.
  With several objectives, ``sampler`` may also be ``nsga2`` (Optuna's NSGA-II).

Several objectives (``objective`` first, then ``more_objectives``) make a
multi-objective sweep: bayes asks Optuna's multi-objective samplers, review
ranks trials by Pareto fronts. ``constraints`` (``latency_ms <= 50``) mark a
trial infeasible, as Optuna's ``constraints_func`` does.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

from gitexp.errors import UsageError
from gitexp.numbers import finite, is_number
from gitexp.sweep.expr import parse_data, parse_set
from gitexp.sweep.options import check_options
from gitexp.sweep.pruner import PrunerSpec
from gitexp.sweep.space import ParamTarget, Space, closest_hint, exact

STRATEGIES = ("grid", "random", "hyperband", "bayes")
ADAPTIVE_STRATEGIES = ("hyperband", "bayes")
# Names other tools use for the same strategies (Polyaxon, Grid.ai).
_STRATEGY_ALIASES = {"sequential": "grid", "grid_search": "grid", "random_search": "random", "bo": "bayes"}
_GOALS = {"max": "maximize", "maximize": "maximize", "min": "minimize", "minimize": "minimize"}
SPEC_VERSION = 1
MAX_CONCURRENCY = 1_000  # an adaptive sweep queues this many to start with: 200,000 took 69 s (bayes: 1,000 took 20 s)


def _is_whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@dataclass(frozen=True)
class _Option:
    required: bool
    expected: str  # what a valid value is, for the error message
    accepts: Callable[[Any], bool]


_COUNT = _Option(False, "a whole number of at least 1", lambda value: _is_whole(value, 1))
_STRATEGY_OPTIONS: dict[str, dict[str, _Option]] = {
    "grid": {},
    "random": {},
    "hyperband": {
        "resource": _Option(True, "a params key such as train.epochs", lambda value: isinstance(value, str) and value.strip() != ""),
        "max_iter": dataclasses.replace(_COUNT, required=True),
        "eta": _Option(False, "a number above 1", lambda value: is_number(value) and value > 1),
        "resource_type": _Option(False, "int or float", lambda value: value in ("int", "float")),
        "resume": _Option(False, "true or false", lambda value: isinstance(value, bool)),
    },
    "bayes": {
        "sampler": _Option(False, "tpe or gp (or nsga2, for several objectives)", lambda value: value in ("tpe", "gp", "nsga2")),
        "n_initial_trials": _COUNT,
        "utility_function": _Option(False, "a mapping", lambda value: isinstance(value, dict)),
    },
}


def _check_metric(metric: Any, what: str):
    if not isinstance(metric, str) or not metric.strip():
        raise UsageError(f"{what} needs a metric name, got {metric!r}: name one such as roc_auc.test")


def normalize_goal(goal: Any) -> str:
    """``maximize`` or ``minimize`` from any of max, min, maximize, minimize (any case)."""
    normal = _GOALS.get(goal.lower()) if isinstance(goal, str) else None
    if normal is None:
        raise UsageError(f"goal {goal!r} is neither maximize nor minimize: write one of them (or max, min)")
    return normal


@dataclass(frozen=True)
class Objective:
    """The metric a sweep optimises and in which direction."""

    metric: str
    goal: str

    def __post_init__(self):
        _check_metric(self.metric, "an objective")
        object.__setattr__(self, "goal", normalize_goal(self.goal))


def check_objectives(objectives) -> None:
    """Refuse a metric listed twice: a trial would be ranked twice by the same number."""
    seen = set()
    for objective in objectives:
        if objective.metric in seen:
            raise UsageError(f"the objective lists {objective.metric} twice: give each metric once")
        seen.add(objective.metric)


_CONSTRAINT = re.compile(r"\s*(?P<metric>\S.*?)\s*(?P<operator><=|>=)\s*(?P<bound>\S+)\s*")


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` or ``metric >= bound``: a trial that breaks it is infeasible."""

    metric: str
    operator: str
    bound: float

    def __post_init__(self):
        _check_metric(self.metric, "a constraint")
        if self.operator not in ("<=", ">=") or finite(self.bound) is None:
            raise UsageError(f"constraint {self.metric} {self.operator} {self.bound!r} is not METRIC <= NUMBER or METRIC >= NUMBER: write e.g. latency_ms <= 50")

    @classmethod
    def parse(cls, text: Any) -> Constraint:
        match = _CONSTRAINT.fullmatch(text) if isinstance(text, str) else None
        bound = _number(match["bound"]) if match else None
        if bound is None:
            raise UsageError(f"constraint {text!r} does not parse: write METRIC <= NUMBER or METRIC >= NUMBER, e.g. latency_ms <= 50")
        return cls(match["metric"], match["operator"], bound)

    def violation(self, observed: Any) -> float:
        """Optuna's constraint value: at most 0 when met; a missing or non-finite metric is violated."""
        value = finite(observed)
        if value is None:
            return math.inf
        return value - self.bound if self.operator == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.metric} {self.operator} {self.bound:g}"


def _number(text: str) -> float | None:
    try:
        return finite(float(text))
    except ValueError:
        return None


@dataclass(frozen=True)
class EarlyStoppingRule:
    """Start no new trials once a finished trial's metric reaches value (>= maximizing, <= minimizing)."""

    metric: str
    value: float
    goal: str

    def __post_init__(self):
        _check_metric(self.metric, "an early-stopping rule")
        if finite(self.value) is None:
            raise UsageError(f"early stopping on {self.metric}: value must be a number, a finite one, got {self.value!r}")
        object.__setattr__(self, "goal", normalize_goal(self.goal))

    def is_met(self, observed: float) -> bool:
        return observed >= self.value if self.goal == "maximize" else observed <= self.value


@dataclass(frozen=True)
class SweepSpec:
    """Everything a sweep is made from; ``validate()`` checks that it hangs together."""

    space: Space
    strategy: str = "grid"
    options: dict = field(default_factory=dict)
    max_trials: int | float | None = None  # a count, or a fraction in (0, 1] of the grid
    seed: int | None = None
    concurrency: int = 1
    objective: Objective | None = None
    early_stopping: tuple[EarlyStoppingRule, ...] = ()
    command: str | None = None  # a Polyaxon run.cmd or W&B command, for projects without dvc.yaml
    command_metrics: tuple[str, ...] = ()  # --metrics: the command's metrics files (besides dvclive's)
    command_outs: tuple[str, ...] = ()  # --outs: the command's outputs that go into the DVC cache
    constants: tuple[tuple[ParamTarget, Any], ...] = ()  # set in every trial
    quoted_constants: frozenset[int] = frozenset()  # indices of constants written as quoted strings
    more_objectives: tuple[Objective, ...] = ()  # after objective: a multi-objective sweep
    constraints: tuple[Constraint, ...] = ()
    pruner: PrunerSpec | None = None  # stops running trials early (sweep/pruner.py)
    notes: tuple[str, ...] = field(default=(), compare=False)  # how a sweep file's fields were understood; not recorded

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return (self.objective, *self.more_objectives) if self.objective else ()

    def named_metrics(self) -> list[str]:
        """Every metric the sweep steers or stops by, early-stopping rules first."""
        named = [rule.metric for rule in self.early_stopping] + [objective.metric for objective in self.objectives]
        return list(dict.fromkeys(named + [constraint.metric for constraint in self.constraints]))

    def __post_init__(self):
        if isinstance(self.strategy, str):
            strategy = self.strategy.lower()
            object.__setattr__(self, "strategy", _STRATEGY_ALIASES.get(strategy, strategy))
        object.__setattr__(self, "early_stopping", tuple(self.early_stopping))
        object.__setattr__(self, "constants", tuple(tuple(constant) for constant in self.constants))
        object.__setattr__(self, "quoted_constants", frozenset(self.quoted_constants))
        object.__setattr__(self, "more_objectives", tuple(self.more_objectives))
        object.__setattr__(self, "constraints", tuple(self.constraints))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "command_metrics", tuple(self.command_metrics))
        object.__setattr__(self, "command_outs", tuple(self.command_outs))

    def validate(self) -> None:
        """Raise UsageError for the first inconsistency found."""
        if self.strategy not in STRATEGIES:
            raise UsageError(
                f"unknown strategy {self.strategy!r}{closest_hint(str(self.strategy), STRATEGIES)}: "
                f"use one of {', '.join(STRATEGIES)}"
            )
        self._validate_options()
        if not _is_whole(self.concurrency, 1):
            raise UsageError(f"concurrency must be a whole number of at least 1, got {self.concurrency!r}")
        if self.concurrency > MAX_CONCURRENCY:
            raise UsageError(
                f"concurrency {self.concurrency} is more than {MAX_CONCURRENCY} trials at once "
                f"(an adaptive sweep queues that many to start with): give at most {MAX_CONCURRENCY}"
            )
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise UsageError(f"seed must be a whole number, got {self.seed!r}")
        if self.command is not None and not (isinstance(self.command, str) and self.command.strip()):
            raise UsageError(f"command must be a non-empty shell command, got {self.command!r}")
        if (self.command_metrics or self.command_outs) and self.command is None:
            raise UsageError("--metrics and --outs name what a command writes: give the command after --, e.g. gitexp queue --metrics m.json -- python train.py")
        self._validate_max_trials()
        self._validate_targets()
        if self.strategy == "grid":
            self.space.grid_size()  # refuses continuous axes
        self._validate_objectives()
        if self.strategy in ADAPTIVE_STRATEGIES and self.objective is None:
            raise UsageError(f"the {self.strategy} strategy needs an objective: name the metric and goal, e.g. objective: {{metric: loss, goal: minimize}}")
        self.steered()  # a pruner knows its metric and goal
        if self.max_trials is None and (self.strategy == "bayes" or (self.strategy == "random" and not self.space.is_discrete)):
            raise UsageError(f"the {self.strategy} strategy on this space needs a number of trials: give --num-trials N (max_trials in a sweep file, run_cap in a W&B one)")

    def _validate_objectives(self):
        if self.more_objectives and self.objective is None:
            raise UsageError("more objectives but no first one: list every objective under objective")
        check_objectives(self.objectives)
        if len(self.objectives) > 1 and self.strategy == "hyperband":
            raise UsageError("hyperband promotes by one objective: give one, or use the bayes strategy for several")
        if self.options.get("sampler") == "nsga2" and len(self.objectives) < 2:
            raise UsageError("the nsga2 sampler is for several objectives: list them under objective, or use sampler: tpe")

    def _validate_options(self):
        check_options(self.options, _STRATEGY_OPTIONS[self.strategy], f"the {self.strategy} strategy", self.strategy)

    def _validate_max_trials(self):
        max_trials = self.max_trials
        if max_trials is None or _is_whole(max_trials, 1):
            return
        if not isinstance(max_trials, float) or not 0 < max_trials <= 1:
            raise UsageError(f"max_trials {max_trials!r} is neither a count of at least 1 nor a fraction in (0, 1]: write e.g. 20 or 0.25")
        if not self.space.is_discrete:
            raise UsageError(f"max_trials {max_trials} is a fraction of the grid, but the space has a continuous axis: give a count instead, e.g. 20")

    def _validate_targets(self):
        swept = {axis.target for axis in self.space.axes}
        constant_targets = set()
        for target, _ in self.constants:
            if target in swept:
                raise UsageError(f"{target} is both a constant and swept: keep it in params or in the matrix, not both")
            if target in constant_targets:
                raise UsageError(f"{target} is given twice as a constant: keep one")
            constant_targets.add(target)
        resource = self.options.get("resource")
        if resource is not None and resource in {str(target) for target in swept | constant_targets}:
            raise UsageError(f"hyperband sets {resource} itself (it is the resource): remove it from the matrix and params")

    def steered(self) -> tuple[str, str] | None:
        """The metric and goal the pruner steers by (the objective's by default); None without a pruner."""
        pruner = self.pruner
        if pruner is None or not pruner.prunes:
            return None
        objective = self.objective
        metric = pruner.metric or (objective.metric if objective else None)
        if metric is None:
            raise UsageError("the pruner needs a metric to steer by: give --prune-metric METRIC (metric: in the pruner section) or an objective")
        goal = pruner.goal or (objective.goal if objective else None)
        if goal is None:
            raise UsageError(f"the pruner steers by {metric} but not which way: give its goal (goal: minimize in the pruner section) or an objective")
        return metric, goal

    def num_planned_trials(self) -> int | None:
        """How many trials the sweep plans; None when an adaptive strategy decides."""
        adaptive = self.strategy in ADAPTIVE_STRATEGIES
        if self.max_trials is None:
            return None if adaptive else self.space.grid_size()
        if isinstance(self.max_trials, float):  # a fraction: validate() saw a finite space
            count = max(1, math.floor(exact(self.max_trials) * self.space.grid_size()))
        else:
            count = self.max_trials
        return count if adaptive or not self.space.is_discrete else min(count, self.space.grid_size())

    def to_json(self) -> dict:
        recorded = {
            "version": SPEC_VERSION,
            "space": self.space.to_json(),
            "strategy": self.strategy,
            "options": copy.deepcopy(self.options),
            "max_trials": self.max_trials,
            "seed": self.seed,
            "concurrency": self.concurrency,
            "objective": dataclasses.asdict(self.objective) if self.objective else None,
            "early_stopping": [dataclasses.asdict(rule) for rule in self.early_stopping],
            "command": self.command,
            "constants": [{"target": target.to_json(), "value": value} for target, value in self.constants],
            "quoted_constants": sorted(self.quoted_constants),
        }
        if self.pruner:  # only then: a sweep without one records what older gitexp wrote
            recorded["pruner"] = self.pruner.to_json()
        if self.more_objectives:  # likewise
            recorded["more_objectives"] = [dataclasses.asdict(objective) for objective in self.more_objectives]
        for name in ("command_metrics", "command_outs"):
            if getattr(self, name):
                recorded[name] = list(getattr(self, name))
        if self.constraints:
            recorded["constraints"] = [dataclasses.asdict(constraint) for constraint in self.constraints]
        return recorded

    @classmethod
    def from_json(cls, data: dict) -> SweepSpec:
        if data.get("version") != SPEC_VERSION:
            raise UsageError(f"the sweep was recorded in format version {data.get('version')!r}; this gitexp reads {SPEC_VERSION}: use a matching gitexp")
        try:
            return cls(
                space=Space.from_json(data["space"]),
                strategy=data["strategy"],
                options=copy.deepcopy(data["options"]),
                max_trials=data["max_trials"],
                seed=data["seed"],
                concurrency=data["concurrency"],
                objective=Objective(**data["objective"]) if data["objective"] else None,
                early_stopping=tuple(EarlyStoppingRule(**rule) for rule in data["early_stopping"]),
                command=data["command"],
                constants=tuple((ParamTarget.from_json(item["target"]), item["value"]) for item in data["constants"]),
                quoted_constants=frozenset(data.get("quoted_constants", ())),  # absent from older records
                more_objectives=tuple(Objective(**objective) for objective in data.get("more_objectives", ())),
                constraints=tuple(Constraint(**constraint) for constraint in data.get("constraints", ())),
                pruner=PrunerSpec.from_json(data["pruner"]) if data.get("pruner") else None,
                command_metrics=tuple(data.get("command_metrics", ())),
                command_outs=tuple(data.get("command_outs", ())),
            )
        except (KeyError, TypeError) as error:
            raise UsageError(f"the recorded sweep specification is incomplete ({error!r}): re-create the sweep") from None


def spec_from_flags(
    sets: list[str],
    *,
    strategy: str = "grid",
    num_trials: int | float | None = None,
    seed: int | None = None,
    concurrency: int = 1,
    objective: Objective | None = None,
    data: Sequence[str] = (),
) -> SweepSpec:
    """A validated spec from ``--set`` flags (and ``--data`` ones); a None seed draws counted distributions with seed 0."""
    axes = tuple(parse_set(flag, seed=seed or 0) for flag in sets) + tuple(parse_data(flag) for flag in data)
    spec = SweepSpec(
        space=Space(axes),
        strategy=strategy,
        max_trials=num_trials,
        seed=seed,
        concurrency=concurrency,
        objective=objective,
    )
    spec.validate()
    return spec
