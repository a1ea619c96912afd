"""Polyaxon group files (seeds 000, 001), read as they are.

``params`` and ``declarations`` are constants; ``hptuning`` holds ``matrix``,
``concurrency``, ``seed``, ``early_stopping`` and one of ``grid_search`` /
``random_search`` (``n_experiments``), ``hyperband`` (``max_iter``, ``eta``,
``resource: {name, type}``, ``metric: {name, optimization}``, ``resume``) or
``bo`` (read as ``bayes`` with the ``gp`` sampler and ``max_trials =
n_initial_trials + n_iterations``); older files have a top-level ``matrix`` and
``settings`` (``concurrent_experiments``, ``search_method``, ``n_experiments``
and the same search sections); ``run.cmd`` is the command. Sections about
Polyaxon's own environment (``build``, ``environment``, ``project``, ...) are
ignored. Matrix entries are read as in gitexp's format, which takes its mapping
syntax from Polyaxon.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

from gitexp.sweep.formats.base import ignore
from gitexp.sweep.formats.gitexp import GitexpReader
from gitexp.sweep.spec import Objective

# Polyaxon sections that describe its own cluster and build, not the sweep.
IGNORED_SECTIONS = (
    "version", "project", "build", "environment", "logging", "tags", "description",
    "name", "model", "train", "eval", "backend", "framework", "inputs", "outputs",
)
_IGNORED_SETTINGS = ("logging", "export_strategies", "run_type")
# Keys only a Polyaxon file has at its top level: one of them makes a file Polyaxon's.
SECTIONS = ("declarations", "hptuning", "settings", "run", "kind", *IGNORED_SECTIONS)


def gp_sampler_available() -> bool:
    """Whether Optuna's GP sampler can run here (it needs torch and scipy)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "scipy"))


class PolyaxonReader(GitexpReader):
    """gitexp's sections and Polyaxon's, so that a file may mix them."""

    def top_level_handlers(self) -> dict[str, Callable[[Any, str], None]]:
        search = self.search_handlers()
        return {
            **super().top_level_handlers(),
            "declarations": self.read_constants,
            "hptuning": lambda value, where: self.read_section(value, where, search),
            "settings": lambda value, where: self.read_section(value, where, {
                **search,
                "concurrent_experiments": self.giver("concurrency"),
                "search_method": self.giver("strategy"),
                "n_experiments": self.giver("max_trials"),
                **{name: ignore for name in _IGNORED_SETTINGS},
            }),
            "run": self.read_run,
            "kind": self.read_kind,
            **{name: ignore for name in IGNORED_SECTIONS},
        }

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

    def read_metric(self, value, where: str) -> Objective:
        """Polyaxon's ``metric: {name, optimization}``."""
        section = self.plain(self.read_keys(value, where, allowed=("name", "optimization"), required=("name", "optimization")), where)
        return self.checked(where, Objective, section["name"], section["optimization"])

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
