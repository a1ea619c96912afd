"""Params as plain values addressed by dotted keys (``train.lr``, ``layers.0``): set, copy, compare, check.

Separate from ``params`` because none of it touches a file's text: these work
on the values a file reads as, and also check a value a user gives against the
file's before anything is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from gitexp.errors import UsageError
from gitexp.numbers import is_number


def check_value_type(target: str, old: Any, new: Any, explicit_string: bool) -> None:
    """Refuse a value whose type contradicts the file's, unless the user forced a string."""
    if old is None or new is None:
        return
    if isinstance(new, (dict, list)) and not isinstance(old, (dict, list)):
        kind = "true/false" if isinstance(old, bool) else "a number" if is_number(old) else "text"
        shape = "a mapping" if isinstance(new, dict) else "a list"
        raise UsageError(
            f"{target} is {kind} in the params file but {new!r} is {shape}: give {kind} "
            f"(for a grid over several values write them as one list, e.g. {target}=[1, 2])"
        )
    if isinstance(old, bool) != isinstance(new, bool) and not (isinstance(new, str) and explicit_string):
        kind = "true/false" if isinstance(old, bool) else "a number" if is_number(old) else "text"
        raise UsageError(
            f"{target} is {kind} in the params file but {new!r} is not: give {kind} "
            "(or quote a text value to store it on purpose)"
        )
    if is_number(old) and isinstance(new, str) and not explicit_string:
        raise UsageError(
            f"{target} is a number in the params file but {new!r} is text: give a number, "
            f"or quote it (\"'{new}'\") to store text on purpose"
        )
    if isinstance(old, dict) and not isinstance(new, dict):
        raise UsageError(f"{target} is a mapping in the params file: set its keys ({target}.KEY=...) instead")


def refuse_unwritable(key: str, value: Any) -> None:
    """Text no UTF-8 file can hold (lone surrogates) is refused before rendering."""
    try:
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{key} = {shown(value)} holds a lone surrogate, which no UTF-8 file can hold: give valid text") from None


def with_item(value: Any, parts: list[str], new: Any) -> Any:
    """A copy of ``value`` with the item at ``parts`` replaced by ``new``."""
    copied = plain_copy(value)
    assign(copied, ".".join(parts), new)
    return copied


def plain_copy(data: Any) -> Any:
    """A copy sharing nothing: values YAML merged or aliased become independent, as DVC sees them."""
    if isinstance(data, Mapping):
        return {key: plain_copy(value) for key, value in data.items()}
    if isinstance(data, list):
        return [plain_copy(item) for item in data]
    return data


def assign(document: Any, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def flatten_keys(data: Any, prefix: str = ""):
    items = data.items() if isinstance(data, Mapping) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        dotted = f"{prefix}{key}"
        yield dotted
        yield from flatten_keys(value, dotted + ".")


def key_order(value: Any) -> Any:
    """The keys of every mapping in ``value``, in order (``same`` compares mappings regardless of it)."""
    if isinstance(value, Mapping):
        return [(key, key_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [key_order(item) for item in value]
    return None


def same(a: Any, b: Any) -> bool:
    """Equality that also tells 1 from 1.0 and True from 1, as a params file does."""
    if type(a) is not type(b) and not (isinstance(a, Mapping) and isinstance(b, Mapping)):
        return False
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def first_difference(expected: Any, actual: Any, where: str = "") -> tuple[str, Any, Any]:
    """The first dotted key whose value differs between two documents, with both values."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        for key in expected:
            if key not in actual or not same(expected[key], actual[key]):
                return first_difference(expected[key], actual.get(key), f"{where}.{key}" if where else str(key))
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (one, other) in enumerate(zip(expected, actual)):
            if not same(one, other):
                return first_difference(one, other, f"{where}.{index}" if where else str(index))
    return where, expected, actual


def shown(value: Any) -> str:
    """A value for a one-line message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
