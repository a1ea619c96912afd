"""Search spaces: the dimensions one parameter can take, and their product.

A dimension is one of

- ``Choice``: a finite list of values (what lists, ``range``, ``linspace`` and
  a distribution with a count all resolve to);
- ``PChoice``: a finite list of values with probabilities (``pvalues``);
- ``Distribution``: a distribution to draw from (random and model-based
  strategies). ``randint`` is the one discrete distribution: it enumerates
  ``range(low, high)`` and may be used by the grid strategy.

Distribution semantics follow Polyaxon's matrix reference (seed 001), where
every bounded kind takes the bounds of the *value*, ``[low, high]``:

- ``uniform(low, high)``: uniform on [low, high);
- ``loguniform(low, high)``: a value in [low, high] whose logarithm is uniform,
  i.e. ``exp(uniform(log(low), log(high)))``; bounds must be positive. (Not
  Hyperopt's ``exp(uniform(low, high))``, whose bounds are exponents.)
- ``normal(loc, scale)``: Gaussian; ``lognormal(loc, scale)``: ``exp(normal(loc,
  scale))``, so loc and scale belong to the underlying normal, as in numpy;
- ``randint(low, high)``: an integer in [low, high), high excluded;
- ``beta(a, b)``: the beta distribution on [0, 1] (W&B's ``beta``);
- the q-variants (``quniform(low, high, q)``, ...) give ``round(x / q) * q``,
  computed in exact decimal arithmetic so 3 * 0.1 is 0.3, never
  0.30000000000000004; a whole-number q gives ints; bounded kinds keep the
  result within [low, high] by rounding to the nearest multiple inside.
"""

from __future__ import annotations

import difflib
import math
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterator, Union

from gitexp.errors import UsageError
from gitexp.numbers import finite, is_number

# Argument names of each distribution kind, in call order; sweep files use them as
# mapping keys (``uniform: {low: 0, high: 1}``).
DISTRIBUTION_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "quniform": ("low", "high", "q"),
    "loguniform": ("low", "high"),
    "qloguniform": ("low", "high", "q"),
    "normal": ("loc", "scale"),
    "qnormal": ("loc", "scale", "q"),
    "lognormal": ("loc", "scale"),
    "qlognormal": ("loc", "scale", "q"),
    "randint": ("low", "high"),
    "beta": ("a", "b"),
    "qbeta": ("a", "b", "q"),
}


class DimensionError(UsageError):
    """A dimension's arguments are invalid.

    ``argument`` is the index of the offending argument (None: the whole call), so
    that the expression parser can point at it.
    """

    def __init__(self, message: str, argument: int | None = None):
        super().__init__(message)
        self.argument = argument


def exact(number: int | float) -> Fraction:
    """The decimal a number was written as (shortest repr), as an exact fraction."""
    return Fraction(repr(number)) if isinstance(number, float) else Fraction(number)


def multiple_of(count: int, step: int | float) -> int | float:
    """``count * step`` as the float nearest the exact decimal product (3 * 0.1 -> 0.3)."""
    return count * step if isinstance(step, int) else float(count * exact(step))


def closest_hint(word: str, choices) -> str:
    """' (did you mean X?)' for the closest of choices, or '' when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else tuple(value)


def _checked_quoted(quoted, values: tuple) -> frozenset[int]:
    quoted = frozenset(quoted)
    if any(not 0 <= index < len(values) for index in quoted):
        raise ValueError(f"quoted indices {sorted(quoted)} are outside {len(values)} values")
    return quoted


@dataclass(frozen=True)
class Choice:
    """A finite list of values, each equally likely when sampled.

    ``quoted`` holds the indices of values the user wrote as quoted strings: an
    explicit string, even where the params file holds a number.
    """

    values: tuple
    quoted: frozenset[int] = frozenset()

    is_discrete = True

    def __post_init__(self):
        object.__setattr__(self, "values", _as_tuple(self.values))
        if not self.values:
            raise DimensionError("an empty list of values: give at least one value, e.g. [1, 2]")
        object.__setattr__(self, "quoted", _checked_quoted(self.quoted, self.values))

    @property
    def size(self) -> int:
        return len(self.values)

    def sample(self, rng: random.Random):
        return rng.choice(self.values)

    def to_json(self) -> dict:
        return {"kind": "choice", "values": list(self.values), "quoted": sorted(self.quoted)}


@dataclass(frozen=True)
class PChoice:
    """Values with probabilities (Polyaxon's ``pvalues``); the probabilities sum to 1."""

    values: tuple
    probabilities: tuple
    quoted: frozenset[int] = frozenset()

    is_discrete = True

    def __post_init__(self):
        object.__setattr__(self, "values", _as_tuple(self.values))
        object.__setattr__(self, "probabilities", _as_tuple(self.probabilities))
        if not self.values:
            raise DimensionError("pvalues needs at least one [value, probability] pair, e.g. pvalues([[a, 0.3], [b, 0.7]])")
        if len(self.values) != len(self.probabilities):
            raise DimensionError(f"pvalues has {len(self.values)} values but {len(self.probabilities)} probabilities: give one probability per value")
        for index, probability in enumerate(self.probabilities):
            if not is_number(probability) or not 0 <= probability <= 1:
                raise DimensionError(f"the probability of {self.values[index]!r} is {probability!r}: give a number between 0 and 1", index)
        total = math.fsum(self.probabilities)
        if abs(total - 1) > 1e-9:
            raise DimensionError(f"pvalues probabilities sum to {total:g}, not 1: adjust them so they add up to 1")
        object.__setattr__(self, "quoted", _checked_quoted(self.quoted, self.values))

    @classmethod
    def from_pairs(cls, pairs, quoted=frozenset()) -> PChoice:
        """From ``[[value, probability], ...]`` (pairs may be lists or tuples)."""
        for index, pair in enumerate(pairs):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise DimensionError(f"pvalues item {pair!r} is not a [value, probability] pair: write e.g. [adam, 0.3]", index)
        return cls(tuple(pair[0] for pair in pairs), tuple(pair[1] for pair in pairs), quoted)

    @property
    def size(self) -> int:
        return len(self.values)

    def sample(self, rng: random.Random):
        return rng.choices(self.values, weights=self.probabilities)[0]

    def to_json(self) -> dict:
        return {
            "kind": "pvalues",
            "values": list(self.values),
            "probabilities": list(self.probabilities),
            "quoted": sorted(self.quoted),
        }


@dataclass(frozen=True)
class Distribution:
    """A distribution to draw values from; see the module docstring for semantics."""

    kind: str
    args: tuple

    def __post_init__(self):
        object.__setattr__(self, "args", _as_tuple(self.args))
        names = DISTRIBUTION_ARGUMENTS.get(self.kind)
        if names is None:
            raise DimensionError(
                f"unknown distribution {self.kind!r}{closest_hint(self.kind, DISTRIBUTION_ARGUMENTS)}: "
                f"use one of {', '.join(DISTRIBUTION_ARGUMENTS)}"
            )
        if len(self.args) != len(names):
            raise DimensionError(f"{self.kind} takes {len(names)} arguments ({', '.join(names)}), got {len(self.args)}")
        for index, (name, value) in enumerate(zip(names, self.args)):
            if finite(value) is None:
                raise DimensionError(f"{self.kind}: {name} must be a finite number, got {value!r}", index)
        self._check_bounds()

    def _check_bounds(self):
        params = self._params()
        if "q" in params and params["q"] <= 0:
            raise DimensionError(f"{self}: q must be positive, got {params['q']!r}", 2)
        if "scale" in params and params["scale"] <= 0:
            raise DimensionError(f"{self}: scale (the standard deviation) must be positive, got {params['scale']!r}", 1)
        for index, shape in enumerate(("a", "b")):
            if shape in params and params[shape] <= 0:
                raise DimensionError(f"{self}: {shape} (a shape of the beta distribution) must be positive, got {params[shape]!r}", index)
        if "low" not in params:
            return
        if params["low"] >= params["high"]:
            raise DimensionError(f"{self}: low must be below high: swap or widen them", 1)
        if self.kind.endswith("loguniform") and params["low"] <= 0:
            raise DimensionError(f"{self}: log-uniform bounds must be positive, e.g. low=1e-05 and high=0.1", 0)
        if self.kind == "randint" and not all(isinstance(bound, int) for bound in self.args):
            raise DimensionError(f"{self}: randint bounds must be whole numbers, e.g. randint(1, 10)")
        if "q" in params:
            lowest, highest = self._quantum_range()
            if lowest > highest:
                raise DimensionError(f"{self}: no multiple of q lies between low and high: lower q or widen the bounds", 2)

    def _params(self) -> dict[str, int | float]:
        return dict(zip(DISTRIBUTION_ARGUMENTS[self.kind], self.args))

    def bounds(self) -> tuple[int | float, int | float] | None:
        """The interval every draw lies in, or None for an unbounded kind (normal, lognormal)."""
        params = self._params()
        if "a" in params:
            return 0, 1
        return (params["low"], params["high"]) if "low" in params else None

    def _quantum_range(self) -> tuple[float, float]:
        """The smallest and largest k with k * q within the bounds (unbounded kinds: infinite)."""
        bounds = self.bounds()
        if bounds is None:
            return -math.inf, math.inf
        q = exact(self._params()["q"])
        return math.ceil(exact(bounds[0]) / q), math.floor(exact(bounds[1]) / q)

    def __str__(self) -> str:
        return f"{self.kind}({', '.join(map(repr, self.args))})"

    @property
    def is_discrete(self) -> bool:
        return self.kind == "randint"

    @property
    def size(self) -> int | None:
        return self.args[1] - self.args[0] if self.is_discrete else None

    @property
    def values(self) -> range:
        if not self.is_discrete:
            raise no_grid_error(self)
        return range(*self.args)

    def sample(self, rng: random.Random):
        try:
            drawn = self._draw(rng)
        except OverflowError:
            drawn = math.inf
        if finite(drawn) is None:
            raise DimensionError(f"{self} draws values beyond the largest float: use a smaller loc or scale")
        return drawn

    def _draw(self, rng: random.Random):
        params = self._params()
        base_kind = self.kind[1:] if "q" in params else self.kind
        if base_kind == "randint":
            return rng.randrange(params["low"], params["high"])
        if base_kind == "uniform":
            drawn = rng.uniform(params["low"], params["high"])
        elif base_kind == "loguniform":
            drawn = math.exp(rng.uniform(math.log(params["low"]), math.log(params["high"])))
            drawn = min(max(drawn, params["low"]), params["high"])  # exp(log(x)) may miss x by an ulp
        elif base_kind == "normal":
            drawn = rng.normalvariate(params["loc"], params["scale"])
        elif base_kind == "beta":
            drawn = rng.betavariate(params["a"], params["b"])
        else:
            drawn = rng.lognormvariate(params["loc"], params["scale"])
        if "q" not in params:
            return drawn
        lowest, highest = self._quantum_range()
        count = min(max(round(drawn / params["q"]), lowest), highest)
        return multiple_of(count, params["q"])

    def to_json(self) -> dict:
        return {"kind": self.kind, "args": list(self.args)}


Dimension = Union[Choice, PChoice, Distribution]


def no_grid_error(dimension: Distribution, target: ParamTarget | None = None) -> UsageError:
    """The error for enumerating a continuous distribution, with the two ways out."""
    subject = f"{target} is drawn from {dimension}" if target else str(dimension)
    with_count = f"{dimension.kind}({', '.join(map(repr, dimension.args + (10,)))})"
    return UsageError(
        f"{subject}, a continuous distribution with no grid: give it a count, e.g. {with_count}, "
        f"or use --strategy random or bayes"
    )


def dimension_from_json(data: dict) -> Dimension:
    """The inverse of ``to_json`` of every dimension."""
    try:
        kind = data["kind"]
        if kind == "choice":
            return Choice(tuple(data["values"]), frozenset(data["quoted"]))
        if kind == "pvalues":
            return PChoice(tuple(data["values"]), tuple(data["probabilities"]), frozenset(data["quoted"]))
        return Distribution(kind, tuple(data["args"]))
    except (KeyError, TypeError) as error:
        raise UsageError(f"unreadable recorded dimension {data!r} ({error}): re-create the sweep") from None


@dataclass(frozen=True)
class ParamTarget:
    """A parameter to set: ``key`` (a dotted path; integer parts index lists) in ``file``.

    ``file`` None means the default params file.
    """

    file: str | None
    key: str

    def __post_init__(self):
        if not self.key or "" in self.key.split("."):
            raise UsageError(f"parameter key {self.key!r} is empty or has an empty part: write a dotted path like train.lr")
        if self.file == "":
            raise UsageError(f"parameter {self.key!r} has an empty file name: write FILE:KEY, e.g. params.yaml:{self.key}")

    def __str__(self) -> str:
        return f"{self.file}:{self.key}" if self.file else self.key

    def to_json(self) -> dict:
        return {"file": self.file, "key": self.key}

    @classmethod
    def from_json(cls, data: dict) -> ParamTarget:
        return cls(data["file"], data["key"])


@dataclass(frozen=True)
class DataTarget:
    """A DVC-tracked path (``dvc add``-ed, or a frozen stage's output) whose data each trial replaces:
    ``--data PATH=SOURCE``. Its values are the sources, files or folders outside Git."""

    path: str

    def __post_init__(self):
        if not self.path or self.path.startswith("/") or ".." in self.path.split("/"):
            raise UsageError(f"--data {self.path!r}: name a path of the DVC project, relative to it, e.g. data/data.xml")

    def __str__(self) -> str:
        return self.path

    def to_json(self) -> dict:
        return {"data": self.path}


def target_from_json(data: dict) -> ParamTarget | DataTarget:
    return DataTarget(data["data"]) if "data" in data else ParamTarget.from_json(data)


@dataclass(frozen=True)
class Axis:
    """One swept parameter (or dataset): where it goes and what it takes."""

    target: ParamTarget | DataTarget
    dimension: Dimension

    def to_json(self) -> dict:
        return {"target": self.target.to_json(), "dimension": self.dimension.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> Axis:
        return cls(target_from_json(data["target"]), dimension_from_json(data["dimension"]))


@dataclass(frozen=True)
class Space:
    """The product of its axes; grid points are computed on demand, never listed."""

    axes: tuple[Axis, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "axes", _as_tuple(self.axes))
        seen = set()
        for axis in self.axes:
            if axis.target in seen:
                raise UsageError(
                    f"{axis.target} is set twice: give each key once, with all its values in one EXPR, "
                    f"e.g. {axis.target}='[1, 2]'"
                )
            seen.add(axis.target)

    @property
    def is_discrete(self) -> bool:
        return all(axis.dimension.is_discrete for axis in self.axes)

    def grid_size(self) -> int:
        size = 1
        for axis in self.axes:
            if not axis.dimension.is_discrete:
                raise no_grid_error(axis.dimension, axis.target)
            size *= axis.dimension.size
        return size

    def grid_point(self, index: int) -> dict[ParamTarget, Any]:
        """The index-th point in itertools.product order (the last axis varies fastest)."""
        size = self.grid_size()
        if not 0 <= index < size:
            raise IndexError(f"grid point {index} is outside a grid of {size} points")
        point = {}
        for axis in reversed(self.axes):
            index, digit = divmod(index, axis.dimension.size)
            point[axis.target] = axis.dimension.values[digit]
        return {axis.target: point[axis.target] for axis in self.axes}

    def iter_grid(self) -> Iterator[dict[ParamTarget, Any]]:
        return (self.grid_point(index) for index in range(self.grid_size()))

    def sample(self, rng: random.Random) -> dict[ParamTarget, Any]:
        return {axis.target: axis.dimension.sample(rng) for axis in self.axes}

    def to_json(self) -> list[dict]:
        return [axis.to_json() for axis in self.axes]

    @classmethod
    def from_json(cls, data: list[dict]) -> Space:
        return cls(tuple(Axis.from_json(axis) for axis in data))
