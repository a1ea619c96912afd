"""Sweep files: reading the YAML, and handing it to the reader of its format.

Each format has its module under ``formats/``: gitexp's own (``formats/gitexp.py``),
Polyaxon's group files (``formats/polyaxon.py``) and W&B sweep configurations
(``formats/wandb.py``), read unchanged; ``formats.reader_for`` tells them apart
by their top-level keys.

Scalars follow the YAML 1.2 core schema, the rules of ``--set``: ``1e-3`` is a
float, and ``range: 1:10:2`` stays the text written (YAML 1.1, PyYAML's
default, reads it as the sexagesimal number 4202). A quoted string is always a
string, even where the params file holds a number.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from gitexp.errors import UsageError
from gitexp.sweep.formats import reader_for
from gitexp.sweep.formats.base import QuotedString
from gitexp.sweep.formats.polyaxon import gp_sampler_available
from gitexp.sweep.scalars import resolve_scalar
from gitexp.sweep.spec import SweepSpec
from gitexp.yaml_size import refuse_explosive_node

__all__ = ["gp_sampler_available", "load_sweep_file", "read_sweep_file", "validate_in_file"]

_PLAIN_SCALAR_TAG = "tag:gitexp.dev,2024:plain"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping repeats a key (PyYAML would silently keep the last)."""


class _SweepLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but unquoted scalars follow YAML 1.2 like ``--set``, and repeated keys are refused."""

    yaml_implicit_resolvers = {
        "<": [(_MERGE_TAG, re.compile(r"<<\Z"))],
        None: [(_PLAIN_SCALAR_TAG, re.compile(r".*", re.DOTALL))],
    }

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                if key_node.value in seen:
                    raise _DuplicateKeyError(
                        "while reading a mapping", node.start_mark, f"found the key {key_node.value!r} twice", key_node.start_mark
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


_SweepLoader.add_constructor(_PLAIN_SCALAR_TAG, lambda loader, node: resolve_scalar(node.value))
_SweepLoader.add_constructor("tag:yaml.org,2002:str", lambda loader, node: QuotedString(node.value))


def load_sweep_file(path) -> SweepSpec:
    """The validated specification a sweep file describes; UsageError names the file and the place."""
    spec = read_sweep_file(path)
    validate_in_file(spec, path)
    return spec


def read_sweep_file(path) -> SweepSpec:
    """The specification a sweep file describes, not validated as a whole (flags may complete it)."""
    path = Path(path)
    document = _load_yaml(path)
    reader = reader_for(document)(path)
    reader.read_top_level(document)
    return reader.spec()


def validate_in_file(spec: SweepSpec, path) -> None:
    """``spec.validate()``, its error naming the file."""
    try:
        spec.validate()
    except UsageError as error:
        raise UsageError(f"{path}: {error.message}") from None


def _load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"sweep file {path} does not exist: check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read sweep file {path} ({error}): give a readable UTF-8 YAML file") from None
    try:
        return _construct(text, path)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = " ".join(str(getattr(error, "problem", None) or error).split())
        fix = (
            "keep one of them"
            if isinstance(error, _DuplicateKeyError)
            else "fix the syntax there, and quote values that hold ': ' or start with one of [ { * & ! | > % @"
        )
        raise UsageError(f"{where}: invalid YAML ({problem}): {fix}") from None


def _construct(text: str, path: Path) -> Any:
    """The document of ``text``, refused before it is built when its aliases explode (``gitexp.yaml_size``)."""
    loader = _SweepLoader(text)
    try:
        node = loader.get_single_node()
        refuse_explosive_node(node, str(path), "write the values out, or long lists as range(), linspace() or a distribution")
        return loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
