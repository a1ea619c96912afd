"""The sweep language: ``--set`` EXPRs and sweep files, resolved into a SweepSpec."""

from gitexp.sweep.expr import (
    format_expr,
    format_literal,
    parse_expr,
    parse_set,
    parse_target,
)
from gitexp.sweep.files import load_sweep_file
from gitexp.sweep.space import (
    Axis,
    Choice,
    Dimension,
    Distribution,
    ParamTarget,
    PChoice,
    Space,
    dimension_from_json,
)
from gitexp.sweep.spec import (
    STRATEGIES,
    EarlyStoppingRule,
    Objective,
    SweepSpec,
    spec_from_flags,
)

__all__ = [
    "STRATEGIES",
    "Axis",
    "Choice",
    "Dimension",
    "Distribution",
    "EarlyStoppingRule",
    "Objective",
    "PChoice",
    "ParamTarget",
    "Space",
    "SweepSpec",
    "dimension_from_json",
    "format_expr",
    "format_literal",
    "load_sweep_file",
    "parse_expr",
    "parse_set",
    "parse_target",
    "spec_from_flags",
]
