"""W&B sweep configurations, read unchanged (https://docs.wandb.ai/guides/sweeps/sweep-config-keys).

- ``method``: ``grid``, ``random`` or ``bayes``; ``run_cap``: ``max_trials``.
- ``metric: {name, goal, target}``: the objective (goal ``minimize`` by
  default, as in W&B); ``target`` becomes an early-stopping rule (W&B starts no
  new run once one reaches it). ``metrics: [...]`` lists several (multi-objective).
- ``parameters``: each name is a params key as ``--set`` reads it (dotted, or
  ``FILE:KEY``); a nested ``parameters`` mapping adds its names after a dot.
  Each parameter gives ``value`` (a constant), ``values`` (with
  ``probabilities``: weighted), or a ``distribution`` with ``min``/``max``,
  ``mu``/``sigma``, ``q``, ``a``/``b`` and W&B's defaults; without
  ``distribution``, ``min``/``max`` mean ``int_uniform`` when both are whole
  numbers, else ``uniform``. ``log_uniform``, ``q_log_uniform`` and
  ``inv_log_uniform`` take natural-log exponents as W&B documents (their
  ``_values`` forms take values). ``int_uniform`` includes ``max``.
- ``early_terminate: {type: hyperband, min_iter | max_iter (+ s), eta}``: a
  pruner, Optuna's HyperbandPruner, steering by the metric.
- ``command`` and ``program``: the command, for projects without dvc.yaml.
- ``name``, ``description``, ``entity``, ``project``, ``controller``, ... are
  W&B's own and ignored.

``notes`` say how each field was understood; ``gitexp check`` prints them.
"""

from __future__ import annotations

import math
import re
import shlex
from typing import Any

from gitexp.numbers import finite
from gitexp.sweep.expr import parse_target
from gitexp.sweep.formats.base import SweepFileReader, quoted_indices
from gitexp.sweep.pruner import parse_pruner
from gitexp.sweep.space import Axis, Choice, Dimension, Distribution, PChoice, closest_hint
from gitexp.sweep.spec import EarlyStoppingRule, Objective, check_objectives

MARKERS = ("method", "parameters", "program", "run_cap", "early_terminate")
METHODS = ("grid", "random", "bayes")
IGNORED = ("name", "description", "entity", "project", "controller", "apiVersion", "kind", "job", "image_uri")
DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")
_NUMBER = "a number"
_MACRO = re.compile(r"\$\{([^}]*)\}")
_WHOLE = "a whole number"


# distribution -> (its fields with W&B's defaults (None: required), gitexp's kind, how to make gitexp's arguments)
DISTRIBUTIONS: dict[str, tuple[dict[str, Any], str, Any]] = {
    "int_uniform": ({"min": None, "max": None}, "randint", lambda f: (f["min"], f["max"] + 1)),
    "uniform": ({"min": None, "max": None}, "uniform", lambda f: (f["min"], f["max"])),
    "q_uniform": ({"min": None, "max": None, "q": 1}, "quniform", lambda f: (f["min"], f["max"], f["q"])),
    "log_uniform": ({"min": None, "max": None}, "loguniform", lambda f: (math.exp(f["min"]), math.exp(f["max"]))),
    "log_uniform_values": ({"min": None, "max": None}, "loguniform", lambda f: (f["min"], f["max"])),
    "q_log_uniform": ({"min": None, "max": None, "q": 1}, "qloguniform", lambda f: (math.exp(f["min"]), math.exp(f["max"]), f["q"])),
    "q_log_uniform_values": ({"min": None, "max": None, "q": 1}, "qloguniform", lambda f: (f["min"], f["max"], f["q"])),
    # 1/X log-uniform is X log-uniform: the same values, bounds flipped and back
    "inv_log_uniform": ({"min": None, "max": None}, "loguniform", lambda f: (math.exp(-f["max"]), math.exp(-f["min"]))),
    "inv_log_uniform_values": ({"min": None, "max": None}, "loguniform", lambda f: (f["min"], f["max"])),
    "normal": ({"mu": 0, "sigma": 1}, "normal", lambda f: (f["mu"], f["sigma"])),
    "q_normal": ({"mu": 0, "sigma": 1, "q": 1}, "qnormal", lambda f: (f["mu"], f["sigma"], f["q"])),
    "log_normal": ({"mu": 0, "sigma": 1}, "lognormal", lambda f: (f["mu"], f["sigma"])),
    "q_log_normal": ({"mu": 0, "sigma": 1, "q": 1}, "qlognormal", lambda f: (f["mu"], f["sigma"], f["q"])),
    "beta": ({"a": 1, "b": 1}, "beta", lambda f: (f["a"], f["b"])),
    "q_beta": ({"a": 1, "b": 1, "q": 1}, "qbeta", lambda f: (f["a"], f["b"], f["q"])),
}
KINDS = ("constant", "categorical", "categorical_w_probabilities", *DISTRIBUTIONS)
PARAMETER_FIELDS = ("distribution", "value", "values", "probabilities", "min", "max", "mu", "sigma", "q", "a", "b", "parameters")


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class WandbReader(SweepFileReader):
    """A W&B sweep configuration's fields into SweepSpec fields, with a note for each."""

    def read_top_level(self, document):
        self.parameters: dict = {}
        self.program: str | None = None
        self.command_words: list | None = None
        self.early_terminate: tuple[Any, str] | None = None
        self.read_section(document, "", {
            "method": self.read_method,
            "metric": self.read_metric,
            "metrics": self.read_metrics,
            "parameters": self.read_parameters,
            "run_cap": self.read_run_cap,
            "early_terminate": lambda value, where: setattr(self, "early_terminate", (value, where)),
            "program": self.read_program,
            "command": self.read_command,
            **{name: self.ignored for name in IGNORED},
        })
        if "strategy" not in self.fields:
            raise self.error("", f"method is missing: add method: random (W&B's methods: {', '.join(METHODS)})")
        if "matrix" not in self.fields:
            raise self.error("", "parameters is missing: add the parameters to sweep, e.g. parameters: {train.lr: {values: [0.01, 0.1]}}")
        if self.early_terminate is not None:
            self.read_early_terminate(*self.early_terminate)
        self.settle_command()

    def ignored(self, value, where: str):
        self.notes.append(f"{where}: W&B's own, ignored")

    def expect(self, value, where: str, what: str, accepts) -> Any:
        """value when accepts(value), else the one-line error naming the field and its type."""
        if not accepts(value):
            raise self.error(where, f"must be {what}, got {value!r}: write {what} there")
        return value

    def read_method(self, value, where: str):
        if value not in METHODS:
            hint = closest_hint(str(value), METHODS)
            raise self.error(where, f"unknown method {value!r}{hint}: gitexp runs W&B's {', '.join(METHODS)}")
        self.give("strategy", value, where)
        self.notes.append(f"{where}: {value} -> strategy {value}")

    def read_metric(self, value, where: str):
        objective, target = self.objective(value, where)
        self.give_objectives([objective], where)
        if target is not None:
            self.give("early_stopping", (EarlyStoppingRule(objective.metric, target, objective.goal),), f"{where}.target")
            self.notes.append(f"{where}.target: {target} -> no new trial once one has {objective.metric} {'>=' if objective.goal == 'maximize' else '<='} {target}")

    def read_metrics(self, value, where: str):
        entries = self.expect(value, where, "a list of metrics like - {name: loss, goal: minimize}", lambda v: isinstance(v, list) and v)
        objectives = []
        for index, entry in enumerate(entries):
            objective, target = self.objective(entry, f"{where}[{index}]")
            if target is not None:
                raise self.error(f"{where}[{index}].target", "a target stops a single-objective sweep only: remove it, or use metric")
            objectives.append(objective)
        self.give_objectives(objectives, where)

    def objective(self, value, where: str) -> tuple[Objective, float | None]:
        allowed = ("name", "goal", "target", "impute", "impute_while_running")
        section = self.plain(self.read_keys(value, where, allowed=allowed, required=("name",)), where)
        name = self.expect(section["name"], f"{where}.name", "a metric name", lambda v: isinstance(v, str) and v.strip())
        goal = self.expect(section.get("goal", "minimize"), f"{where}.goal", "minimize or maximize", lambda v: v in ("minimize", "maximize"))
        target = section.get("target")
        if target is not None:
            self.expect(target, f"{where}.target", _NUMBER, lambda v: finite(v) is not None)
        for setting in ("impute", "impute_while_running"):
            if setting in section:
                self.notes.append(f"{where}.{setting}: ignored (gitexp's bayes counts a failed trial as failed)")
        self.notes.append(f"{where}: {goal} {name}" + ("" if "goal" in section else " (W&B's default goal)"))
        return Objective(name, goal), target

    def give_objectives(self, objectives: list[Objective], where: str):
        self.checked(where, check_objectives, objectives)
        self.give("objective", objectives[0], where)
        if len(objectives) > 1:
            self.give("more_objectives", tuple(objectives[1:]), where)

    def read_run_cap(self, value, where: str):
        self.give("max_trials", self.expect(value, where, "a whole number of at least 1", lambda v: _is_whole(v) and v >= 1), where)
        self.notes.append(f"{where}: {value} -> max_trials {value}")

    def read_program(self, value, where: str):
        self.program = self.expect(self.plain(value, where), where, "a script path such as train.py", lambda v: isinstance(v, str) and v.strip())

    def read_command(self, value, where: str):
        accepts = lambda v: isinstance(v, list) and v and all(isinstance(word, str) for word in v)  # noqa: E731
        self.command_words = self.expect(self.plain(value, where), where, "a list of words like [python, train.py, ${args}]", accepts)

    def settle_command(self):
        """program and command as one command line: W&B's macros filled in, a parameter as Polyaxon's ``{{ name }}``."""
        if self.program is None and self.command_words is None:
            return
        words = self.command_words or list(DEFAULT_COMMAND)
        if "${program}" in words and self.program is None:
            raise self.error("command", "it names ${program}, but program is missing: add program: train.py")
        names = list(self.parameters)
        fills = {
            "${env}": ["/usr/bin/env"],
            "${interpreter}": ["python"],
            "${program}": [shlex.quote(self.program or "")],
            "${args}": [f"--{name}={{{{ {name} }}}}" for name in names],
            "${args_no_hyphens}": [f"{name}={{{{ {name} }}}}" for name in names],
        }
        line = " ".join(part for word in words for part in fills.get(word) or [self.filled(word, names)])
        where = "command" if self.command_words is not None else "program"
        self.give("command", line, where)
        self.notes.append(f"{where}: the command {line!r}, for a project without dvc.yaml")

    def filled(self, word: str, names: list[str]) -> str:
        """One word of the command, quoted, its ``${name}`` macros as ``{{ name }}``."""
        for macro in _MACRO.findall(word):
            if macro not in names:
                raise self.error("command", f"gitexp cannot fill ${{{macro}}}: name a parameter of the sweep, or use ${{args}} or ${{args_no_hyphens}}")
        return _MACRO.sub(lambda match: f"{{{{ {match[1]} }}}}", shlex.quote(word))

    def read_parameters(self, value, where: str, prefix: str = ""):
        section = self.read_keys(value, where)
        if not section:
            raise self.error(where, "no parameters: add at least one, e.g. lr: {values: [0.01, 0.1]}")
        for name, parameter in section.items():
            here = f"{where}.{name}"
            full = f"{prefix}.{self.key_text(name, where)}" if prefix else self.key_text(name, where)
            fields = self.read_keys(parameter, here, allowed=PARAMETER_FIELDS)
            if "parameters" in fields:
                if len(fields) != 1:
                    raise self.error(here, "a parameter with nested parameters has nothing else: move the other fields into one of them")
                self.read_parameters(fields["parameters"], f"{here}.parameters", full)
            else:
                self.parameters[full] = (fields, here)
        self.fields.setdefault("matrix", True)  # parameters are read as axes once the seed is known
        self.sources.setdefault("matrix", where)

    def axes(self, seed: int) -> list[Axis]:
        axes = []
        for name, (fields, where) in self.parameters.items():
            target = self.target_of(name, where)
            kind = self.kind(fields, where)
            if kind == "constant":
                self.add_constant(target, self.field(fields, "value", where), f"{where}.value")
                self.notes.append(f"{where}: {target} = {fields['value']!r} in every trial")
                continue
            dimension = self.dimension(kind, fields, where)
            self.notes.append(f"{where}: {kind} -> {target} from {_describe(dimension)}")
            axes.append(Axis(target, dimension))
        return axes

    def target_of(self, name: str, where: str):
        return self.checked(where, parse_target, name)

    def kind(self, fields: dict, where: str) -> str:
        if "distribution" in fields:
            kind = fields["distribution"]
            if kind not in KINDS:
                raise self.error(f"{where}.distribution", f"unknown distribution {kind!r}{closest_hint(str(kind), KINDS)}: use one of {', '.join(KINDS)}")
            return kind
        if "value" in fields:
            return "constant"
        if "values" in fields:
            return "categorical_w_probabilities" if "probabilities" in fields else "categorical"
        if "min" in fields and "max" in fields:
            return "int_uniform" if _is_whole(fields["min"]) and _is_whole(fields["max"]) else "uniform"
        raise self.error(where, "give value, values, min and max, or a distribution (e.g. distribution: normal, mu: 0, sigma: 1)")

    def field(self, fields: dict, name: str, where: str):
        if name not in fields:
            raise self.error(where, f"{name} is missing: add it")
        return fields[name]

    def dimension(self, kind: str, fields: dict, where: str) -> Dimension:
        if kind in ("categorical", "categorical_w_probabilities"):
            return self.categorical(kind, fields, where)
        defaults, gitexp_kind, arguments = DISTRIBUTIONS[kind]
        self.only(fields, where, kind, ("distribution", *defaults))
        values = {}
        for name, default in defaults.items():
            value = fields.get(name, default)
            here = f"{where}.{name}"
            if value is None:
                raise self.error(where, f"{kind} needs {name}: add it")
            whole = kind == "int_uniform" and name in ("min", "max")
            values[name] = self.expect(value, here, _WHOLE if whole else _NUMBER, _is_whole if whole else lambda v: finite(v) is not None)
        return self.checked(where, Distribution, gitexp_kind, self.checked(where, arguments, values))

    def categorical(self, kind: str, fields: dict, where: str) -> Dimension:
        weighted = kind == "categorical_w_probabilities"
        self.only(fields, where, kind, ("distribution", "values", "probabilities") if weighted else ("distribution", "values"))
        values = self.expect(self.field(fields, "values", where), f"{where}.values", "a non-empty list", lambda v: isinstance(v, list) and v)
        if not weighted:
            return self.checked(f"{where}.values", Choice, self.plain(values, where), quoted_indices(values))
        probabilities = self.expect(self.field(fields, "probabilities", where), f"{where}.probabilities", "a list of numbers", lambda v: isinstance(v, list))
        return self.checked(where, PChoice, tuple(self.plain(values, where)), tuple(probabilities), quoted_indices(values))

    def only(self, fields: dict, where: str, kind: str, allowed: tuple[str, ...]):
        for name in fields:
            if name not in allowed:
                raise self.error(f"{where}.{name}", f"{kind} takes no {name}: its fields are {', '.join(allowed)}")

    def read_early_terminate(self, value, where: str):
        """W&B's hyperband early termination as Optuna's HyperbandPruner on the sweep's metric."""
        section = self.read_keys(value, where, allowed=("type", "min_iter", "max_iter", "s", "eta", "strict"), required=("type",))
        if section["type"] != "hyperband":
            raise self.error(f"{where}.type", f"unknown early_terminate type {section['type']!r}: W&B's one type is hyperband")
        if "min_iter" not in section and "max_iter" not in section:
            raise self.error(where, "hyperband needs min_iter or max_iter (with s): add e.g. min_iter: 3")
        if "min_iter" not in section and "s" not in section:
            raise self.error(where, "max_iter needs s, the number of brackets below it: add e.g. s: 2, or give min_iter")
        objective = self.fields.get("objective")
        if objective is None:
            raise self.error(where, "early termination steers by the sweep's metric: add metric: {name: loss, goal: minimize}")
        eta = self.expect(section.get("eta", 3), f"{where}.eta", "a whole number of at least 2 (Optuna's reduction_factor)", lambda v: _is_whole(v) and v >= 2)
        for name in ("min_iter", "max_iter"):
            if name in section:
                self.expect(section[name], f"{where}.{name}", "a whole number of at least 1", lambda v: _is_whole(v) and v >= 1)
        if "s" in section:
            self.expect(section["s"], f"{where}.s", "a whole number of at least 0", lambda v: _is_whole(v) and v >= 0)
        if "strict" in section:
            self.expect(section["strict"], f"{where}.strict", "true or false", lambda v: isinstance(v, bool))
            self.notes.append(f"{where}.strict: ignored (Optuna's HyperbandPruner decides which trials stop)")
        options = _hyperband_options(section, eta)
        pruner = self.checked(where, parse_pruner, {"name": "hyperband", **options, "metric": objective.metric, "goal": objective.goal})
        self.give("pruner", pruner, where)
        described = ", ".join(f"{name} {value}" for name, value in options.items())
        self.notes.append(f"{where}: hyperband -> pruner hyperband ({described}) steering by {objective.goal} {objective.metric}")


def _hyperband_options(section: dict, eta) -> dict[str, Any]:
    """Optuna's HyperbandPruner options: W&B's min_iter, or max_iter / eta**s (its first bracket)."""
    if "min_iter" in section:
        minimum = section["min_iter"]
    else:
        minimum = max(1, math.floor(section["max_iter"] / eta ** section["s"]))
    return {"min_resource": minimum, "max_resource": section.get("max_iter", "auto"), "reduction_factor": eta}


def _describe(dimension: Dimension) -> str:
    if isinstance(dimension, Distribution):
        return str(dimension)
    return f"[{', '.join(map(repr, dimension.values))}]"
