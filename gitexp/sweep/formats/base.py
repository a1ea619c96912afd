"""What every sweep-file format shares: placing errors in the file, mappings with known keys,
fields given once, plain values, and the SweepSpec of what was read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from gitexp.errors import UsageError
from gitexp.sweep.expr import parse_target
from gitexp.sweep.scalars import surrogate_error
from gitexp.sweep.space import Axis, ParamTarget, Space, closest_hint
from gitexp.sweep.spec import SweepSpec


class QuotedString(str):
    """A string the file wrote in quotes (or tagged !!str): explicitly a string."""


def ignore(value, where):
    """Handler of sections gitexp has no use for."""


def quoted_indices(values: list) -> frozenset[int]:
    return frozenset(index for index, value in enumerate(values) if isinstance(value, QuotedString))


class SweepFileReader:
    """Reads one sweep file's sections into SweepSpec fields, each given at most once.

    A format subclasses it: ``read_top_level(document)`` reads the sections, and
    ``axes(seed)`` gives the swept parameters once the seed is known.
    """

    def __init__(self, path: Path):
        self.path = path
        self.fields: dict[str, Any] = {}  # SweepSpec field name -> value
        self.sources: dict[str, str] = {}  # SweepSpec field name -> where in the file it was given
        self.constants: list[tuple[ParamTarget, Any]] = []
        self.quoted_constants: set[int] = set()
        self.notes: list[str] = []  # how fields were understood, for gitexp check

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
                valid = [name for name in allowed if allowed[name] is not ignore] if isinstance(allowed, dict) else allowed
                raise self.error(where, f"unknown key {key!r}{closest_hint(str(key), allowed)}: valid keys are {', '.join(valid)}")
        for key in required:
            if key not in value:
                raise self.error(where, f"{key} is missing: add it")
        return value

    def read_section(self, value, where: str, handlers: dict[str, Callable[[Any, str], None]]):
        for key, item in self.read_keys(value, where, allowed=handlers).items():
            handlers[key](item, f"{where}.{key}" if where else key)

    def read_top_level(self, document):
        raise NotImplementedError

    def axes(self, seed: int) -> list[Axis]:
        raise NotImplementedError

    def target(self, key, where: str) -> ParamTarget:
        """A parameter name (a key of the mapping at ``where``) as ``--set`` reads it: a dotted key, or FILE:KEY."""
        return self.checked(f"{where}.{key}", parse_target, self.key_text(key, where))

    def key_text(self, key, where: str) -> str:
        if not isinstance(key, str):
            raise self.error(where, f"key {key!r} is not text: quote it, e.g. '{key}'")
        return self.plain(key, where)

    def add_constant(self, target: ParamTarget, value, where: str):
        if isinstance(value, QuotedString):
            self.quoted_constants.add(len(self.constants))
        self.constants.append((target, self.plain(value, where)))

    def spec(self) -> SweepSpec:
        """The SweepSpec of what was read (not validated yet)."""
        fields = dict(self.fields)
        seed = fields.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise self.error(self.sources["seed"], f"seed must be a whole number, got {seed!r}")
        space = self.checked(self.sources.get("matrix", "matrix"), Space, tuple(self.axes(seed or 0)))
        fields.pop("matrix", None)
        fields.pop("data", None)  # read into the axes
        return SweepSpec(
            space=space,
            constants=tuple(self.constants),
            quoted_constants=frozenset(self.quoted_constants),
            notes=tuple(self.notes),
            **fields,
        )

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

