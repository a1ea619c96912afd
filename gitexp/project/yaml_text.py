"""How one value is spelled in a params file: YAML flow text (and JSON) that PyYAML and ruamel.yaml read back unchanged.

Separate from ``params`` because it is about a value's text alone, not about
where in a file it goes: floats with a signed exponent, strings plain only where
both YAML versions read them as strings, escapes for unprintable characters,
and which number tokens read back the same wherever they stand.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from gitexp.errors import UsageError

# A string PyYAML (YAML 1.1) or ruamel (YAML 1.2) would read as something else
# must be quoted; this is what both read as a plain string.
_SAFE_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./ -]*\Z")


def render_yaml_value(value: Any, style: str | None = None) -> str:
    """A value as YAML flow text that PyYAML and ruamel.yaml both read back unchanged."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _render_float(value)
    if isinstance(value, str):
        return _render_string(value, style)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_yaml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = (f"{render_yaml_value(str(k))}: {render_yaml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise UsageError(f"cannot write a {type(value).__name__} value into a params file: use a number, text or list")


def _render_float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text:  # YAML 1.1 readers need a dot and a signed exponent: 1.0e-05
        mantissa, exponent = text.split("e")
        mantissa = mantissa if "." in mantissa else mantissa + ".0"
        exponent = exponent if exponent[0] in "+-" else "+" + exponent
        text = f"{mantissa}e{exponent}"
    return text


def _render_string(value: str, style: str | None) -> str:
    if style == '"' or not value.isprintable():
        return escaped_json(value)
    if style != "'" and _SAFE_PLAIN.match(value) and yaml.safe_load(value) == value and not value.endswith(" "):
        return value
    return "'" + value.replace("'", "''") + "'"


def quoted_where_unprintable(value: Any) -> Any:
    """``value`` for ruamel.yaml's emitter, which writes some unprintable characters (NEL) raw unless told to quote."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, str):
        return value if value.isprintable() else DoubleQuotedScalarString(value)
    if isinstance(value, (list, tuple)):
        return [quoted_where_unprintable(item) for item in value]
    if isinstance(value, Mapping):
        return {key: quoted_where_unprintable(item) for key, item in value.items()}
    return value


def escaped_json(value: Any) -> str:
    """JSON text with unprintable characters escaped: YAML (which reads JSON too) allows none raw, not even DEL.
    (Beyond the BMP YAML allows every character raw, and has no escape JSON shares.)"""
    return "".join(
        char if char.isprintable() or char == "\n" or ord(char) > 0xFFFF else f"\\u{ord(char):04x}"
        for char in json.dumps(value, ensure_ascii=False)
    )


_DECIMAL_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_DECIMAL_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+\Z")


def number_token(text: str, value: Any) -> str | None:
    """``int`` or ``float`` when ``text`` is a plain decimal that YAML 1.1 and 1.2 (and JSON) read as exactly
    ``value`` in any place a scalar stands (no sign but ``-``, no ``_``, exponent, leading zero or space),
    else None."""
    if type(value) is int and _DECIMAL_INT.match(text) and int(text) == value:
        return "int"
    if type(value) is float and _DECIMAL_FLOAT.match(text) and float(text) == value:
        return "float"
    return None
