"""Params files: look values up and write changed copies that differ only where asked.

YAML and JSON files are parsed once with ruamel.yaml's composer, which knows
where every value starts and ends in the text; a trial's copy splices the new
values' text into those spans, so comments, key order, quoting and number
formats of every untouched line stay byte-identical, and writing a thousand
copies costs little. Values that replace a block collection fall back to a
ruamel.yaml round-trip of the whole document. TOML goes through tomlkit, which
keeps formatting on its own. Every rendered copy is re-read and compared with
the intended values before it is used.
"""

from __future__ import annotations

import copy
import difflib
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .errors import UsageError

# A string PyYAML (YAML 1.1) or ruamel (YAML 1.2) would read as something else
# must be quoted; this is what both read as a plain string.
_SAFE_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./ -]*\Z")


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    node: Any


class ParamsFile:
    """One params file's text and values, addressed by dotted keys (``train.lr``, ``layers.0``)."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self.kind = _kind_of(path)
        self.data = read_values(path, text)
        self._root = YAML().compose(text) if self.kind in ("yaml", "json") else None

    # -- reading -------------------------------------------------------------

    def keys(self) -> list[str]:
        return list(_flatten_keys(self.data))

    def get(self, key: str) -> Any:
        """The value at ``key``; an unknown key is refused with the closest existing ones."""
        node = self.data
        for part in key.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise UsageError(self._unknown_key_message(key))
        return node

    def _unknown_key_message(self, key: str) -> str:
        close = difflib.get_close_matches(key, self.keys(), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"its keys are {', '.join(self.keys()[:8])}"
        return f"{self.path} has no key {key!r}: {hint}"

    # -- writing -------------------------------------------------------------

    def render(self, updates: Mapping[str, Any]) -> str:
        """The file's text with ``updates`` applied and nothing else changed."""
        if not updates:
            return self.text
        if self.kind == "toml":
            text = self._render_toml(updates)
        else:
            spans = [(self._span(key), value) for key, value in updates.items()]
            if all(_spliceable(span.node) for span, _ in spans):
                text = self._splice(spans)
            else:
                text = self._render_roundtrip(updates)
        self._verify(text, updates)
        return text

    def _span(self, key: str) -> _Span:
        node = self._root
        for part in key.split("."):
            node = _child(node, part)
            if node is None:
                raise UsageError(self._unknown_key_message(key))
        return _Span(node.start_mark.index, node.end_mark.index, node)

    def _splice(self, spans: list[tuple[_Span, Any]]) -> str:
        text = self.text
        for span, value in sorted(spans, key=lambda item: item[0].start, reverse=True):
            rendered = self._render_value(value, span.node)
            text = text[: span.start] + rendered + text[span.end :]
        return text

    def _render_value(self, value: Any, old: Any) -> str:
        if self.kind == "json":
            return json.dumps(value, ensure_ascii=False)
        style = old.style if isinstance(old, ScalarNode) else None
        return render_yaml_value(value, style)

    def _render_roundtrip(self, updates: Mapping[str, Any]) -> str:
        rt = YAML()
        rt.preserve_quotes = True
        rt.width = 4096
        document = rt.load(self.text)
        for key, value in updates.items():
            _assign(document, key, value)
        out = io.StringIO()
        rt.dump(document, out)
        return out.getvalue()

    def _render_toml(self, updates: Mapping[str, Any]) -> str:
        import tomlkit

        document = tomlkit.parse(self.text)
        for key, value in updates.items():
            _assign(document, key, value)
        return tomlkit.dumps(document)

    def _verify(self, text: str, updates: Mapping[str, Any]) -> None:
        expected = copy.deepcopy(self.data)
        for key, value in updates.items():
            _assign(expected, key, value)
        actual = ParamsFile(self.path, text).data if self.kind == "toml" else yaml.load(text, Loader=_LOADER)
        if not _same(actual, expected):
            raise UsageError(
                f"cannot write {sorted(updates)} into {self.path} without changing other values: "
                "report this with the file attached"
            )


def read_values(path: str, text: str) -> Any:
    """A params file's values as DVC reads them (YAML 1.2 numbers), without what editing needs."""
    kind = _kind_of(path)
    try:
        if kind == "toml":
            import tomlkit

            return tomlkit.parse(text).unwrap()
        return yaml.load(text, Loader=_LOADER) or {}
    except Exception as exc:  # each parser has its own error type
        raise UsageError(f"{path} cannot be parsed ({_first_line(exc)}): fix the file and commit it") from None


def check_value_type(target: str, old: Any, new: Any, explicit_string: bool) -> None:
    """Refuse a value whose type contradicts the file's, unless the user forced a string."""
    if old is None or new is None:
        return
    if isinstance(old, bool) != isinstance(new, bool) and not (isinstance(new, str) and explicit_string):
        kind = "true/false" if isinstance(old, bool) else "a number" if isinstance(old, (int, float)) else "text"
        raise UsageError(
            f"{target} is {kind} in the params file but {new!r} is not: give {kind} "
            "(or quote a text value to store it on purpose)"
        )
    if isinstance(old, (int, float)) and not isinstance(old, bool) and isinstance(new, str) and not explicit_string:
        raise UsageError(
            f"{target} is a number in the params file but {new!r} is text: give a number, "
            f"or quote it (\"'{new}'\") to store text on purpose"
        )
    if isinstance(old, dict) and not isinstance(new, dict):
        raise UsageError(f"{target} is a mapping in the params file: set its keys ({target}.KEY=...) instead")


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
    if style == '"' or any(ord(ch) < 32 for ch in value):
        return json.dumps(value, ensure_ascii=False)
    if style != "'" and _SAFE_PLAIN.match(value) and yaml.safe_load(value) == value and not value.endswith(" "):
        return value
    return "'" + value.replace("'", "''") + "'"


def _kind_of(path: str) -> str:
    if path.endswith((".yaml", ".yml")):
        return "yaml"
    if path.endswith(".json"):
        return "json"
    if path.endswith(".toml"):
        return "toml"
    raise UsageError(f"gitexp cannot edit {path}: params files must be .yaml, .yml, .json or .toml")


def _child(node: Any, part: str) -> Any:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == part:
                return value_node
    elif isinstance(node, SequenceNode) and part.isdigit() and int(part) < len(node.value):
        return node.value[int(part)]
    return None


def _spliceable(node: Any) -> bool:
    if isinstance(node, ScalarNode):
        return node.style in (None, "'", '"')
    return bool(getattr(node, "flow_style", False))


def _assign(document: Any, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _flatten_keys(data: Any, prefix: str = ""):
    items = data.items() if isinstance(data, Mapping) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        dotted = f"{prefix}{key}"
        yield dotted
        yield from _flatten_keys(value, dotted + ".")


def _same(a: Any, b: Any) -> bool:
    """Equality that also tells 1 from 1.0 and True from 1, as a params file does."""
    if type(a) is not type(b) and not (isinstance(a, Mapping) and isinstance(b, Mapping)):
        return False
    if isinstance(a, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class _Yaml12Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """PyYAML's fast loader with YAML 1.2 floats (``1e-3``), as DVC reads params."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?\.?[0-9]+(?:[eE][-+]?[0-9]+)\Z"),
    list("-+0123456789."),
)
_LOADER = _Yaml12Loader
