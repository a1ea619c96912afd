"""Sweep files: gitexp's own format, and Polyaxon files read unchanged.

gitexp's format (every key optional)::

    params:                                  # constants set in every trial: KEY or FILE:KEY
      train.batch_size: 128
    matrix:                                  # the swept keys, each one of
      train.lr: logspace(-4, -1, 4)          #   an EXPR, as after --set KEY=
      train.optimizer: [adam, sgd]           #   a list of values
      train.dropout: {uniform: [0.1, 0.5]}   #   a mapping, as in Polyaxon (below)
    strategy: random                         # grid (default), random, hyperband or bayes, or the
                                             # name with the strategy's options (see spec.py):
                                             #   {name: hyperband, resource: train.epochs, max_iter: 81}
    max_trials: 20                           # a count, or a fraction in (0, 1] of the grid
    seed: 42
    concurrency: 2
    objective: {metric: roc_auc, goal: maximize}
    early_stopping:                          # start no new trial once one reaches a value
      - {metric: roc_auc, value: 0.95, optimization: maximize}   # (goal: works too)
    command: python train.py                 # only for projects without dvc.yaml

Polyaxon files (seeds 000, 001) load as they are: ``params`` and ``declarations``
are constants; ``hptuning`` holds ``matrix``, ``concurrency``, ``seed``,
``early_stopping`` and one of ``grid_search`` / ``random_search``
(``n_experiments``), ``hyperband`` (``max_iter``, ``eta``, ``resource: {name,
type}``, ``metric: {name, optimization}``, ``resume``) or ``bo`` (read as
``bayes`` with the ``gp`` sampler and ``max_trials = n_initial_trials +
n_iterations``); older files have a top-level ``matrix`` and ``settings``
(``concurrent_experiments``, ``search_method``, ``n_experiments`` and the same
search sections); ``run.cmd`` is the command. Sections about Polyaxon's own
environment (``build``, ``environment``, ``project``, ...) are ignored.

A matrix mapping has one key: ``values: [...]``, ``pvalues: [[v, p], ...]``, or a
numeric function of the EXPR language with its arguments as ``"a:b:c"``, a list
or a mapping by name: ``range: {start, stop, step}``, ``linspace`` and
``geomspace: {start, stop, num}``, ``logspace: {start, stop, num, base}``,
``uniform: {low, high}``, ``quniform: {low, high, q}``, ``normal: {loc, scale}``,
... ``randint: {low, high}``; a distribution also takes ``size``, a count of
values drawn once.

Scalars follow the YAML 1.2 core schema, the rules of ``--set``: ``1e-3`` is a
float, and ``range: 1:10:2`` stays the text written (YAML 1.1, PyYAML's
default, reads it as the sexagesimal number 4202). A quoted string is always a
string, even where the params file holds a number.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any, Callable

import yaml

from gitexp.errors import UsageError
from gitexp.sweep.expr import (
    SIGNATURES,
    make_dimension,
    parse_expr,
    parse_target,
    resolve_scalar,
    surrogate_error,
)
from gitexp.sweep.space import (
    Axis,
    Choice,
    Dimension,
    ParamTarget,
    PChoice,
    Space,
    closest_hint,
)
from gitexp.sweep.spec import EarlyStoppingRule, Objective, SweepSpec
from gitexp.yaml_size import refuse_explosive_node

_PLAIN_SCALAR_TAG = "tag:gitexp.dev,2024:plain"
_MERGE_TAG = "tag:yaml.org,2002:merge"
MATRIX_KINDS = ("values", "pvalues", *SIGNATURES)
# Polyaxon sections that describe its own cluster and build, not the sweep.
_IGNORED_POLYAXON_SECTIONS = (
    "version", "project", "build", "environment", "logging", "tags", "description",
    "name", "model", "train", "eval", "backend", "framework", "inputs", "outputs",
)
_IGNORED_POLYAXON_SETTINGS = ("logging", "export_strategies", "run_type")


class _QuotedString(str):
    """A string the file wrote in quotes (or tagged !!str): explicitly a string."""


class _DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping repeats a key (PyYAML would silently keep the last)."""


def gp_sampler_available() -> bool:
    """Whether Optuna's GP sampler can run here (it needs torch and scipy)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "scipy"))


class _SweepLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but unquoted scalars follow YAML 1.2 like ``--set``, and repeated keys are refused."""

    yaml_implicit_resolvers = {
        "<": [(_MERGE_TAG, re.compile(r"<<\Z"))],
        None: [(_PLAIN_SCALAR_TAG, re.compile(r".*", re.DOTALL))],
    }

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                if key_node.value in seen:
                    raise _DuplicateKeyError(
                        "while reading a mapping", node.start_mark, f"found the key {key_node.value!r} twice", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


_SweepLoader.add_constructor(_PLAIN_SCALAR_TAG, lambda loader, node: resolve_scalar(node.value))
_SweepLoader.add_constructor("tag:yaml.org,2002:str", lambda loader, node: _QuotedString(node.value))


def load_sweep_file(path) -> SweepSpec:
    """The validated specification a sweep file describes; UsageError names the file and the place."""
    path = Path(path)
    reader = _SweepFileReader(path)
    reader.read_top_level(_load_yaml(path))
    spec = reader.spec()
    try:
        spec.validate()
    except UsageError as error:
        raise UsageError(f"{path}: {error.message}") from None
    return spec


def _load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"sweep file {path} does not exist: check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read sweep file {path} ({error}): give a readable UTF-8 YAML file") from None
    try:
        return _construct(text, path)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = " ".join(str(getattr(error, "problem", None) or error).split())
        fix = (
            "keep one of them"
            if isinstance(error, _DuplicateKeyError)
            else "fix the syntax there, and quote values that hold ': ' or start with one of [ { * & ! | > % @"
        )
        raise UsageError(f"{where}: invalid YAML ({problem}): {fix}") from None


def _construct(text: str, path: Path) -> Any:
    """The document of ``text``, refused before it is built when its aliases explode (``gitexp.yaml_size``)."""
    loader = _SweepLoader(text)
    try:
        node = loader.get_single_node()
        refuse_explosive_node(node, str(path), "write the values out, or long lists as range(), linspace() or a distribution")
        return loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def _ignore(value, where):
    """Handler of sections gitexp has no use for."""


class _SweepFileReader:
    """Reads one sweep file's sections into SweepSpec fields, each given at most once."""

    def __init__(self, path: Path):
        self.path = path
        self.fields: dict[str, Any] = {}  # SweepSpec field name -> value
        self.sources: dict[str, str] = {}  # SweepSpec field name -> where in the file it was given
        self.constants: list[tuple[ParamTarget, Any]] = []
        self.quoted_constants: set[int] = set()

    def error(self, where: str, message: str) -> UsageError:
        return UsageError(f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}")

    def checked(self, where: str, function: Callable, *args, **kwargs):
        """function(*args, **kwargs), with its UsageError placed in the file."""
        try:
            return function(*args, **kwargs)
        except UsageError as error:
            raise self.error(where, error.message) from None

    def give(self, name: str, value, where: str):
        if name in self.fields:
            raise self.error(where, f"{name} is also given by {self.sources[name]}: keep one")
        self.fields[name] = value
        self.sources[name] = where

    def giver(self, name: str) -> Callable[[Any, str], None]:
        return lambda value, where: self.give(name, self.plain(value, where), where)

    def read_keys(self, value, where: str, allowed=None, required=()) -> dict:
        """A mapping (null reads as empty) with only allowed keys (None: any) and all required ones."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.error(where, f"expected a mapping of keys to values, got {value!r}")
        for key in value:
            if allowed is not None and key not in allowed:
                valid = [name for name in allowed if allowed[name] is not _ignore] if isinstance(allowed, dict) else allowed
                raise self.error(where, f"unknown key {key!r}{closest_hint(str(key), allowed)}: valid keys are {', '.join(valid)}")
        for key in required:
            if key not in value:
                raise self.error(where, f"{key} is missing: add it")
        return value

    def read_section(self, value, where: str, handlers: dict[str, Callable[[Any, str], None]]):
        for key, item in self.read_keys(value, where, allowed=handlers).items():
            handlers[key](item, f"{where}.{key}" if where else key)

    def read_top_level(self, document):
        if document is None:
            raise self.error("", "the file is empty: add a matrix, e.g. matrix: {train.lr: [0.01, 0.1]}")
        search = self.search_handlers()
        self.read_section(document, "", {
            "params": self.read_constants,
            "declarations": self.read_constants,
            "matrix": self.read_matrix,
            "strategy": self.read_strategy,
            "max_trials": self.giver("max_trials"),
            "seed": self.giver("seed"),
            "concurrency": self.giver("concurrency"),
            "objective": self.read_objective,
            "early_stopping": self.read_early_stopping,
            "command": self.giver("command"),
            "hptuning": lambda value, where: self.read_section(value, where, search),
            "settings": lambda value, where: self.read_section(value, where, {
                **search,
                "concurrent_experiments": self.giver("concurrency"),
                "search_method": self.giver("strategy"),
                "n_experiments": self.giver("max_trials"),
                **{name: _ignore for name in _IGNORED_POLYAXON_SETTINGS},
            }),
            "run": self.read_run,
            "kind": self.read_kind,
            **{name: _ignore for name in _IGNORED_POLYAXON_SECTIONS},
        })

    def search_handlers(self) -> dict[str, Callable[[Any, str], None]]:
        """Polyaxon's hptuning section (and the later settings section)."""
        return {
            "matrix": self.read_matrix,
            "concurrency": self.giver("concurrency"),
            "seed": self.giver("seed"),
            "early_stopping": self.read_early_stopping,
            "grid_search": lambda value, where: self.read_experiment_count("grid", value, where),
            "random_search": lambda value, where: self.read_experiment_count("random", value, where),
            "hyperband": self.read_hyperband,
            "bo": self.read_bayesian_optimization,
        }

    def read_matrix(self, value, where: str):
        self.give("matrix", value, where)  # kept as loaded (quoting marks explicit strings); parsed once the seed is known

    def read_constants(self, value, where: str):
        for key, constant in self.read_keys(value, where).items():
            here = f"{where}.{key}"
            if isinstance(constant, _QuotedString):
                self.quoted_constants.add(len(self.constants))
            self.constants.append((self.checked(here, parse_target, self.key_text(key, where)), self.plain(constant, here)))

    def key_text(self, key, where: str) -> str:
        if not isinstance(key, str):
            raise self.error(where, f"key {key!r} is not text: quote it, e.g. '{key}'")
        return self.plain(key, where)

    def read_strategy(self, value, where: str):
        if isinstance(value, dict):
            options = self.plain(value, where)
            if "name" not in options:
                raise self.error(where, "a strategy mapping needs its name, e.g. {name: hyperband, resource: train.epochs, max_iter: 81}")
            value = options.pop("name")
            self.give("options", options, where)
        self.give("strategy", value, where)

    def read_objective(self, value, where: str):
        section = self.plain(self.read_keys(value, where, allowed=("metric", "goal"), required=("metric", "goal")), where)
        self.give("objective", self.checked(where, Objective, section["metric"], section["goal"]), where)

    def read_metric(self, value, where: str) -> Objective:
        """Polyaxon's ``metric: {name, optimization}``."""
        section = self.plain(self.read_keys(value, where, allowed=("name", "optimization"), required=("name", "optimization")), where)
        return self.checked(where, Objective, section["name"], section["optimization"])

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

    def read_experiment_count(self, strategy: str, value, where: str):
        section = self.read_keys(value, where, allowed=("n_experiments",))
        self.give("strategy", strategy, where)
        if "n_experiments" in section:
            self.give("max_trials", section["n_experiments"], f"{where}.n_experiments")

    def read_hyperband(self, value, where: str):
        section = self.read_keys(
            value, where, allowed=("max_iter", "eta", "resource", "metric", "resume"), required=("max_iter", "resource", "metric")
        )
        resource = self.read_keys(section["resource"], f"{where}.resource", allowed=("name", "type"), required=("name",))
        options = {"resource": resource["name"], "max_iter": section["max_iter"]}
        if "type" in resource:
            options["resource_type"] = resource["type"]
        options.update({name: section[name] for name in ("eta", "resume") if name in section})
        self.give("strategy", "hyperband", where)
        self.give("options", self.plain(options, where), where)
        self.give("objective", self.read_metric(section["metric"], f"{where}.metric"), where)

    def read_bayesian_optimization(self, value, where: str):
        section = self.read_keys(
            value,
            where,
            allowed=("n_initial_trials", "n_iterations", "metric", "utility_function"),
            required=("n_initial_trials", "n_iterations", "metric"),
        )
        counts = [section["n_initial_trials"], section["n_iterations"]]
        if not all(isinstance(count, int) and not isinstance(count, bool) and count >= 1 for count in counts):
            raise self.error(where, f"n_initial_trials and n_iterations must be whole numbers of at least 1, got {counts}")
        options = {"sampler": "gp" if gp_sampler_available() else "tpe", "n_initial_trials": counts[0]}
        if "utility_function" in section:
            options["utility_function"] = section["utility_function"]
        self.give("strategy", "bayes", where)
        self.give("options", self.plain(options, where), where)
        self.give("max_trials", sum(counts), where)
        self.give("objective", self.read_metric(section["metric"], f"{where}.metric"), where)

    def read_run(self, value, where: str):
        section = self.read_keys(value, where)  # image, steps, ...: Polyaxon's environment
        if "cmd" in section:
            self.give("command", self.plain(section["cmd"], where), f"{where}.cmd")

    def read_kind(self, value, where: str):
        if value not in ("group", "experiment"):
            raise self.error(where, f"kind {value!r} is not a sweep: gitexp reads kind: group (or experiment)")

    def spec(self) -> SweepSpec:
        """The SweepSpec of what was read (not validated yet)."""
        fields = dict(self.fields)
        seed = fields.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise self.error(self.sources["seed"], f"seed must be a whole number, got {seed!r}")
        matrix = fields.pop("matrix", None)
        where = self.sources.get("matrix", "matrix")
        axes = []
        for key, entry in self.read_keys(matrix, where).items():
            here = f"{where}.{key}"
            target = self.checked(here, parse_target, self.key_text(key, where))
            axes.append(Axis(target, self.dimension(entry, here, seed or 0, str(target))))
        space = self.checked(where, Space, tuple(axes))
        return SweepSpec(space=space, constants=tuple(self.constants), quoted_constants=frozenset(self.quoted_constants), **fields)

    def dimension(self, entry, where: str, seed: int, key: str) -> Dimension:
        """A matrix entry: an EXPR, a list of values, a mapping, or a single value."""
        if isinstance(entry, str):
            return self.checked(where, parse_expr, entry, seed=seed, key=key)
        if isinstance(entry, list):
            return self.checked(where, Choice, self.plain(entry, where), _quoted_indices(entry))
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
            quoted = _quoted_indices([pair[0] if isinstance(pair, list) and pair else None for pair in argument])
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

    def plain(self, value, where: str):
        """The value with quoted strings as plain str; only what JSON can record is accepted."""
        if isinstance(value, str):
            if surrogate_error(value):
                raise self.error(where, surrogate_error(value))
            return str(value)
        if isinstance(value, list):
            return [self.plain(item, where) for item in value]
        if isinstance(value, dict):
            return {self.plain(key, where): self.plain(item, where) for key, item in value.items()}
        if value is None or isinstance(value, (bool, int, float)):
            return value
        raise self.error(where, f"a {type(value).__name__} value is not supported: write a string, number, list or mapping")


def _quoted_indices(values: list) -> frozenset[int]:
    return frozenset(index for index, value in enumerate(values) if isinstance(value, _QuotedString))
