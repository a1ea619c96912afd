"""Params files read as DVC reads them: the format by name, UTF-8 text, YAML 1.2 numbers, merge keys.

Everything that only reads params (show, diff, metrics, the UI) needs just
this; what editing needs (the node graph, rendering, verifying copies) stays in
``params``, which reads through here too.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from gitexp.errors import UsageError


def read_values(path: str, text: str) -> Any:
    """A params file's values as DVC reads them (YAML 1.2 numbers, merge keys as ruamel.yaml resolves them), without what editing needs."""
    kind = kind_of(path)
    try:
        if kind == "toml":
            import tomlkit

            return tomlkit.parse(text).unwrap()
        if kind == "json":
            _check_json(path, text)
        return yaml.load(text, Loader=LOADER) or {}
    except UsageError:
        raise
    except Exception as exc:  # each parser has its own error type
        raise UsageError(f"{path} cannot be parsed ({first_line(exc)}): fix the file and commit it") from None


def _check_json(path: str, text: str) -> None:
    """Refuse what DVC's JSON reader and the YAML reader gitexp edits with would read differently."""

    def no_constant(name: str):
        raise UsageError(f"{path} holds {name}, which is not JSON (nor read the same by every tool): write null or a string such as \"{name}\"")

    def no_repeats(pairs: list) -> dict:
        keys = [key for key, _ in pairs]
        repeated = next((key for key in keys if keys.count(key) > 1), None)
        if repeated is not None:
            raise UsageError(f"{path} has the key {repeated!r} twice in one object: keep one")
        return dict(pairs)

    try:
        json.loads(text, parse_constant=no_constant, object_pairs_hook=no_repeats)
    except json.JSONDecodeError as error:
        raise UsageError(f"{path} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}): fix it and commit it") from None


def decode_params(path: str, data: bytes) -> str:
    """A params file's bytes as text; DVC reads params files as UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise UsageError(
            f"{path} is not UTF-8 text (byte 0x{data[error.start]:02x} on line {line}): save it as UTF-8 and commit it"
        ) from None


def kind_of(path: str) -> str:
    if path.endswith((".yaml", ".yml")):
        return "yaml"
    if path.endswith(".json"):
        return "json"
    if path.endswith(".toml"):
        return "toml"
    raise UsageError(f"gitexp cannot edit {path}: params files must be .yaml, .yml, .json or .toml")


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class _Yaml12Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """PyYAML's fast loader with YAML 1.2 floats (``1e-3``) and merge keys resolved as DVC reads params."""

    def flatten_mapping(self, node: Any) -> None:
        """Merge keys as YAML defines them (and ruamel.yaml, DVC's reader, resolves them): a mapping's own
        keys win, then the first merged mapping listed. (PyYAML 6.0.3+ lets a later listed one win.)"""
        own, merged = [], []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping", node.start_mark,
                            f"expected a mapping for merging, but found {source.id}", source.start_mark,
                        )  # fmt: skip
                    self.flatten_mapping(source)
                    merged.append(source.value)
            else:
                if key_node.tag == "tag:yaml.org,2002:value":
                    key_node.tag = "tag:yaml.org,2002:str"
                own.append((key_node, value_node))
        if merged:  # a later pair overrides an earlier one: the first mapping listed goes last
            node.value = [pair for pairs in reversed(merged) for pair in pairs] + own


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?\.?[0-9]+(?:[eE][-+]?[0-9]+)\Z"),
    list("-+0123456789."),
)
LOADER = _Yaml12Loader
