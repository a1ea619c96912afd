"""A pruner: which of Optuna's pruners stops running trials, steering by which dvclive metric.

(The pruning helper owns this module; this is the dataclass it shares.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PrunerSpec:
    name: str
    options: Mapping[str, Any]
    metric: str | None = None
    goal: str | None = None
    min_step: int = 0
