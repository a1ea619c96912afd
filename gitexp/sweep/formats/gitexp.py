"""gitexp's own sweep-file format (every key optional)::

    params:                                  # constants set in every trial: KEY or FILE:KEY
      train.batch_size: 128
    matrix:                                  # the swept keys, each one of
      train.lr: logspace(-4, -1, 4)          #   an EXPR, as after --set KEY=
      train.optimizer: [adam, sgd]           #   a list of values
      train.dropout: {uniform: [0.1, 0.5]}   #   a mapping, as in Polyaxon (below)
    data:                                    # datasets, as --data: a DVC-tracked path and its sources
      data/data.xml: [a.xml, b.xml]
    strategy: random                         # grid (default), random, hyperband or bayes, or the
                                             # name with the strategy's options (see spec.py):
                                             #   {name: hyperband, resource: train.epochs, max_iter: 81}
    max_trials: 20                           # a count, or a fraction in (0, 1] of the grid
    seed: 42
    concurrency: 2
    objective: {metric: roc_auc, goal: maximize}   # or a list of them: multi-objective
    constraints: ["latency_ms <= 50"]        # a trial that breaks one is infeasible
    early_stopping:                          # start no new trial once one reaches a value
      - {metric: roc_auc, value: 0.95, optimization: maximize}   # (goal: works too)
    pruner: {name: median, min_step: 5}      # stop a running trial early (sweep/pruner.py)
    command: python train.py                 # only for projects without dvc.yaml

A matrix mapping has one key: ``values: [...]``, ``pvalues: [[v, p], ...]``, or a
numeric function of the EXPR language with its arguments as ``"a:b:c"``, a list
or a mapping by name: ``range: {start, stop, step}``, ``linspace`` and
``geomspace: {start, stop, num}``, ``logspace: {start, stop, num, base}``,
``uniform: {low, high}``, ``quniform: {low, high, q}``, ``normal: {loc, scale}``,
... ``randint: {low, high}``; a distribution also takes ``size``, a count of
values drawn once.
"""

from __future__ import annotations

from typing import Any, Callable

from gitexp.sweep.expr import data_axis, parse_expr
from gitexp.sweep.expr_functions import SIGNATURES, make_dimension
from gitexp.sweep.formats.base import SweepFileReader, quoted_indices
from gitexp.sweep.pruner import parse_pruner
from gitexp.sweep.scalars import resolve_scalar
from gitexp.sweep.space import Axis, Choice, DataTarget, Dimension, PChoice, closest_hint
from gitexp.sweep.spec import Constraint, EarlyStoppingRule, Objective, check_objectives

MATRIX_KINDS = ("values", "pvalues", *SIGNATURES)


class GitexpReader(SweepFileReader):
    """gitexp's sections; Polyaxon's reader adds its own to them."""

    def read_top_level(self, document):
        if document is None:
            raise self.error("", "the file is empty: add a matrix, e.g. matrix: {train.lr: [0.01, 0.1]}")
        self.read_section(document, "", self.top_level_handlers())

    def top_level_handlers(self) -> dict[str, Callable[[Any, str], None]]:
        return {
            "params": self.read_constants,
            "matrix": self.read_matrix,
            "data": self.read_data,
            "strategy": self.read_strategy,
            "max_trials": self.giver("max_trials"),
            "seed": self.giver("seed"),
            "concurrency": self.giver("concurrency"),
            "objective": self.read_objective,
            "constraints": self.read_constraints,
            "early_stopping": self.read_early_stopping,
            "pruner": self.read_pruner,
            "command": self.giver("command"),
        }

    def read_matrix(self, value, where: str):
        self.give("matrix", value, where)  # kept as loaded (quoting marks explicit strings); parsed once the seed is known

    def read_data(self, value, where: str):
        """``data: {TARGET: SOURCE or [SOURCE, ...]}``: datasets, as ``--data`` gives them (an axis each)."""
        self.give("data", value, where)

    def data_axes(self) -> list[Axis]:
        where = self.sources.get("data", "data")
        axes = []
        for key, entry in self.read_keys(self.fields.get("data"), where).items():
            here = f"{where}.{key}"
            target = self.checked(here, DataTarget, self.key_text(key, where))
            axes.append(self.checked(here, data_axis, target, self.dimension(entry, here, 0, str(target)), here))
        return axes

    def read_constants(self, value, where: str):
        for key, constant in self.read_keys(value, where).items():
            here = f"{where}.{key}"
            self.add_constant(self.target(key, where), constant, here)

    def read_strategy(self, value, where: str):
        if isinstance(value, dict):
            options = self.plain(value, where)
            if "name" not in options:
                raise self.error(where, "a strategy mapping needs its name, e.g. {name: hyperband, resource: train.epochs, max_iter: 81}")
            value = options.pop("name")
            self.give("options", options, where)
        self.give("strategy", value, where)

    def read_objective(self, value, where: str):
        """One ``{metric, goal}``, or a list of them (multi-objective)."""
        entries = value if isinstance(value, list) else [value]
        if not entries:
            raise self.error(where, "an empty list: give at least one {metric: loss, goal: minimize}")
        objectives = []
        for index, entry in enumerate(entries):
            here = f"{where}[{index}]" if isinstance(value, list) else where
            section = self.plain(self.read_keys(entry, here, allowed=("metric", "goal"), required=("metric", "goal")), here)
            objectives.append(self.checked(here, Objective, section["metric"], section["goal"]))
        self.give_objectives(objectives, where)

    def give_objectives(self, objectives: list[Objective], where: str):
        self.checked(where, check_objectives, objectives)
        self.give("objective", objectives[0], where)
        if len(objectives) > 1:
            self.give("more_objectives", tuple(objectives[1:]), where)

    def read_constraints(self, value, where: str):
        if not isinstance(value, list):
            raise self.error(where, 'expected a list of conditions like ["latency_ms <= 50"]')
        parsed = [self.checked(f"{where}[{index}]", Constraint.parse, item) for index, item in enumerate(value)]
        self.give("constraints", tuple(parsed), where)

    def read_early_stopping(self, value, where: str):
        if not isinstance(value, list):
            raise self.error(where, "expected a list of rules like - {metric: loss, value: 0.05, optimization: minimize}")
        rules = []
        for index, item in enumerate(value):
            here = f"{where}[{index}]"
            rule = self.plain(self.read_keys(item, here, allowed=("metric", "value", "optimization", "goal"), required=("metric", "value")), here)
            goals = [rule[name] for name in ("optimization", "goal") if name in rule]
            if len(goals) != 1:
                raise self.error(here, "give the direction once, as optimization: maximize or minimize")
            rules.append(self.checked(here, EarlyStoppingRule, rule["metric"], rule["value"], goals[0]))
        self.give("early_stopping", tuple(rules), where)

    def read_pruner(self, value, where: str):
        self.give("pruner", parse_pruner(self.plain(value, where), f"{self.path}: {where}"), where)

    def axes(self, seed: int) -> list[Axis]:
        matrix = self.fields.get("matrix")
        where = self.sources.get("matrix", "matrix")
        axes = []
        for key, entry in self.read_keys(matrix, where).items():
            here = f"{where}.{key}"
            target = self.target(key, where)
            axes.append(Axis(target, self.dimension(entry, here, seed, str(target))))
        return axes + self.data_axes()

    def dimension(self, entry, where: str, seed: int, key: str) -> Dimension:
        """A matrix entry: an EXPR, a list of values, a mapping, or a single value."""
        if isinstance(entry, str):
            return self.checked(where, parse_expr, entry, seed=seed, key=key)
        if isinstance(entry, list):
            return self.checked(where, Choice, self.plain(entry, where), quoted_indices(entry))
        if not isinstance(entry, dict):
            return Choice((entry,))
        if len(entry) != 1:
            raise self.error(where, f"a matrix mapping has one key, such as values, range or uniform; got {', '.join(map(str, entry))}")
        ((kind, argument),) = entry.items()
        here = f"{where}.{kind}"
        if kind in ("values", "pvalues") and not isinstance(argument, list):
            raise self.error(here, f"{kind} takes a list, e.g. values: [1, 2] or pvalues: [[a, 0.3], [b, 0.7]]")
        if kind == "values":
            return self.dimension(argument, here, seed, key)
        if kind == "pvalues":
            quoted = quoted_indices([pair[0] if isinstance(pair, list) and pair else None for pair in argument])
            return self.checked(here, PChoice.from_pairs, self.plain(argument, here), quoted)
        if kind in SIGNATURES:
            return self.checked(here, make_dimension, kind, self.arguments(kind, argument, here), seed=seed, key=key)
        raise self.error(where, f"unknown matrix kind {kind!r}{closest_hint(str(kind), MATRIX_KINDS)}: use one of {', '.join(MATRIX_KINDS)}")

    def arguments(self, kind: str, argument, where: str) -> list:
        """A function's positional arguments from "a:b:c", [a, b, c] or a mapping by name."""
        required, optional = SIGNATURES[kind]
        if isinstance(argument, str):
            return [resolve_scalar(part.strip()) for part in argument.split(":")]
        if isinstance(argument, list):
            return argument
        if not isinstance(argument, dict):
            raise self.error(where, f"expected the arguments as '{':'.join(required)}', a list or a mapping by name, got {argument!r}")
        names = required + optional
        section = self.read_keys(argument, where, allowed=names, required=required)
        return [section[name] for name in names if name in section]
