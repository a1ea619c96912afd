"""What counts as a number in params and metrics, asked in one place.

A bool is never a number here (YAML's and JSON's true/false). Callers ask one
of three questions: is it a number at all (NaN and the infinities included:
what a trailer records and an early-stopping rule compares), is it finite
(what can be ranked, plotted, learned from, or bound a distribution), and has
it a place in an order (what a sort takes: the infinities have one, NaN none).
"""

from __future__ import annotations

import math
from typing import Any


def is_number(value: Any) -> bool:
    """True for ints and floats, NaN and the infinities included; False for bools."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number, else None."""
    return float(value) if is_number(value) and math.isfinite(value) else None


def orderable(value: Any) -> float | None:
    """``value`` as a float when it is a number other than NaN (infinities sort first or last), else None."""
    return float(value) if is_number(value) and not math.isnan(value) else None
