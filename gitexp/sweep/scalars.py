"""Scalars as ``--set`` and sweep files write them: read by the YAML 1.2 core schema, written back as EXPR text.

Separate from the parser because sweep files read their plain values the same
way (``files``), and tables and reports write values back with ``format_literal``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from gitexp.errors import UsageError


# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"null|Null|NULL|~|")
_BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_DECIMAL = re.compile(r"[-+]?[0-9]+")
_OCTAL = re.compile(r"0o[0-7]+")
_HEXADECIMAL = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INFINITY = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NOT_A_NUMBER = re.compile(r"\.(nan|NaN|NAN)")

# Strings that read back as themselves without quotes.
_PLAIN_STRING = re.compile(r"[A-Za-z0-9_.@/+-]+")


def resolve_scalar(text: str) -> Any:
    """An unquoted scalar's value by the YAML 1.2 core schema."""
    if _NULL.fullmatch(text):
        return None
    if text in _BOOLEANS:
        return _BOOLEANS[text]
    if _DECIMAL.fullmatch(text):
        return decimal_integer(text)
    if _OCTAL.fullmatch(text):
        return int(text[2:], 8)
    if _HEXADECIMAL.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INFINITY.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NOT_A_NUMBER.fullmatch(text):
        return math.nan
    return text


def decimal_integer(text: str) -> int:
    """A decimal integer, refused beyond the digits Python converts (4,300 by default)."""
    try:
        return int(text)
    except ValueError:
        raise UsageError(
            f"the integer {text[:12]}... has {len(text.lstrip('+-'))} digits, more than can be read: "
            "write it as a float such as 1e300, or quote it to keep it as text"
        ) from None


def format_literal(value: Any, quoted: bool = False) -> str:
    """A value as EXPR text; strings are quoted when they would not read back as themselves."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return f"[{', '.join(map(format_literal, value))}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{format_literal(str(k))}: {format_literal(v)}" for k, v in value.items()) + "}"
    if not value.isprintable():
        return json.dumps(value, ensure_ascii=False)  # JSON's escapes are valid in double quotes: one line
    if quoted or not _PLAIN_STRING.fullmatch(value) or resolve_scalar(value) != value:
        return "'" + value.replace("'", "''") + "'"
    return value


def surrogate_error(text: str) -> str | None:
    """Why ``text`` cannot be written into a UTF-8 file (a lone surrogate, e.g. from bytes that are not UTF-8), or None."""
    bad = next((char for char in text if 0xD800 <= ord(char) <= 0xDFFF), None)
    if bad is None:
        return None
    return (
        f"{text!r} holds U+{ord(bad):04X}, a lone surrogate that no UTF-8 file can hold (bytes that are not UTF-8, "
        "or a \\ud800-style escape): give valid text"
    )
