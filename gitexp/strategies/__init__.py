"""Search strategies, one module each, looked up by name.

Modules are imported on demand so that a grid sweep never imports optuna.
"""

from __future__ import annotations

import importlib

from gitexp.errors import UsageError
from gitexp.strategies.base import Strategy
from gitexp.sweep.spec import SweepSpec

_MODULES = {
    "grid": ("grid", "GridStrategy"),
    "random": ("random_search", "RandomStrategy"),
    "hyperband": ("hyperband", "HyperbandStrategy"),
    "bayes": ("bayes", "BayesStrategy"),
}


def strategy_for(spec: SweepSpec) -> Strategy:
    try:
        module_name, class_name = _MODULES[spec.strategy]
    except KeyError:
        raise UsageError(f"unknown strategy {spec.strategy!r}: use one of {', '.join(_MODULES)}") from None
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)(spec)
