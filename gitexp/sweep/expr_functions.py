"""The numeric functions of the ``--set`` language: ``range``, ``linspace``, ``logspace``, ``geomspace``
and distributions with a count, each checked argument by argument and bounded in length.

Separate from the parser because sweep files call the same functions by name
with arguments of their own (``formats.gitexp``); a ``DimensionError`` names the
argument at fault, and whoever parsed it points there.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Callable

from gitexp.numbers import finite
from gitexp.sweep.space import DISTRIBUTION_ARGUMENTS, Choice, Dimension, DimensionError, Distribution, exact


# A list longer than this is a typo or a job for randint with random search:
# every grid point becomes a Git branch.
MAX_AXIS_VALUES = 100_000

# Required and optional arguments of the functions that take numbers.
SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "range": (("start", "stop"), ("step",)),
    "linspace": (("start", "stop", "num"), ()),
    "logspace": (("start", "stop", "num"), ("base",)),
    "geomspace": (("start", "stop", "num"), ()),
    **{kind: (names, ("size",)) for kind, names in DISTRIBUTION_ARGUMENTS.items()},
}

# Python's and Hydra's range(stop): one argument, counted from 0 (range(5) is 0, 1, 2, 3, 4).
_FEWEST_ARGUMENTS = {"range": 1}

# Hydra's sweep functions that reorder the values of a list or of another call (DVC's ``-S``).
ORDERINGS = ("sort", "shuffle")
FUNCTIONS = ("choice", "pvalues", *ORDERINGS, *SIGNATURES)


def make_dimension(name: str, args: list, *, seed: int = 0, key: str = "") -> Dimension:
    """The dimension of a numeric function (see SIGNATURES) called with positional args.

    Raises DimensionError whose ``argument`` is the index of the offending argument.
    """
    required, optional = SIGNATURES[name]
    fewest, most = _FEWEST_ARGUMENTS.get(name, len(required)), len(required) + len(optional)
    if not fewest <= len(args) <= most:
        counts = f"{fewest} or {most}" if fewest + 1 == most else f"{fewest} to {most}" if optional else str(most)
        usage = f"{name}({', '.join(required)}{''.join(f'[, {extra}]' for extra in optional)})"
        also = f" or {name}({required[-1]})" if fewest < len(required) else ""
        raise DimensionError(f"{name} takes {counts} arguments, got {len(args)}: write {usage}{also}")
    for index, (parameter, value) in enumerate(zip(required + optional, args)):
        if finite(value) is None:
            raise DimensionError(f"{name}: {parameter} must be a number, got {value!r}", index)
    if name not in DISTRIBUTION_ARGUMENTS:
        return Choice(_GENERATORS[name](*args))
    distribution = Distribution(name, tuple(args[: len(required)]))
    if len(args) == len(required):
        return distribution
    count = _count(name, "size", args[-1], len(required))
    rng = draws_rng(seed, key)
    return Choice(tuple(distribution.sample(rng) for _ in range(count)))


def draws_rng(seed: int, key: str) -> random.Random:
    """A generator seeded by (seed, key) alone, so a flag draws the same values on any machine."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _count(name: str, parameter: str, value, index: int) -> int:
    if not isinstance(value, int) or value < 1:
        raise DimensionError(f"{name}: {parameter} must be a whole number of at least 1, got {value!r}", index)
    _check_axis_length(name, value, index)
    return value


def _check_axis_length(name: str, length: int, index: int | None = None):
    if length > MAX_AXIS_VALUES:
        raise DimensionError(
            f"{name} gives {length} values, more than {MAX_AXIS_VALUES} (each grid point is a Git branch): "
            f"use fewer, or randint with --strategy random",
            index,
        )


def _range(start, stop=None, step=1) -> tuple:
    """Python's range, for floats too: value i is start + i*step in exact decimals; ``range(stop)`` starts at 0."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise DimensionError("range step must not be zero, e.g. range(0, 1, 0.1)", 2)
    exact_start, exact_step = exact(start), exact(step)
    length = math.ceil((exact(stop) - exact_start) / exact_step)
    if length <= 0:
        direction = "above" if step > 0 else "below"
        raise DimensionError(f"range({start}, {stop}, {step}) is empty: stop must lie {direction} start, or flip the step's sign")
    _check_axis_length("range", length)
    if all(isinstance(number, int) for number in (start, stop, step)):
        return tuple(range(start, stop, step))
    return tuple(float(exact_start + index * exact_step) for index in range(length))


def _numpy_values(name: str, compute: Callable) -> tuple:
    """Values computed by numpy, so they match numpy's bit for bit; overflow is refused."""
    import numpy  # imported here: a second of start-up that most commands never need

    with numpy.errstate(over="ignore"):
        values = tuple(compute(numpy).tolist())
    if not all(math.isfinite(value) for value in values):
        raise DimensionError(f"{name} overflows to infinity: use smaller bounds")
    return values


def _linspace(start, stop, num) -> tuple:
    count = _count("linspace", "num", num, 2)
    return _numpy_values("linspace", lambda np: np.linspace(start, stop, count))


def _logspace(start, stop, num, base=10.0) -> tuple:
    if base <= 0:
        raise DimensionError(f"logspace: base must be positive, got {base!r}", 3)
    count = _count("logspace", "num", num, 2)
    return _numpy_values("logspace", lambda np: np.logspace(start, stop, count, base=base))


def _geomspace(start, stop, num) -> tuple:
    for index, bound in enumerate((start, stop)):
        if bound == 0:
            raise DimensionError("geomspace bounds must not be zero: a geometric sequence never reaches 0", index)
    if (start < 0) != (stop < 0):
        raise DimensionError("geomspace bounds must have the same sign", 1)
    count = _count("geomspace", "num", num, 2)
    return _numpy_values("geomspace", lambda np: np.geomspace(start, stop, count))


_GENERATORS: dict[str, Callable[..., tuple]] = {
    "range": _range,
    "linspace": _linspace,
    "logspace": _logspace,
    "geomspace": _geomspace,
}
