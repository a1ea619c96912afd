"""Projects without dvc.yaml: the trial runs a command, which ``gitexp.yaml`` (a params file gitexp owns) records.

The trial commit adds ``gitexp.yaml`` to the baseline::

    command: [python, main.py, --alpha, '{{ alpha }}', --beta, '{{ beta }}']
    metrics: [results.json]      # --metrics; dvclive's dvclive/metrics.json is always read
    outs: [model.pt]             # --outs: into the DVC cache (a DVC project only)
    alpha: 0.0397
    beta: 1

Every other key is a parameter: queue writes the trial's values there as into
any params file, and the runner fills each ``{{ name }}`` of the command with
the value at ``name`` (a dotted key), as Polyaxon fills ``run.cmd``. The
command is an argument list, never given to a shell.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from gitexp.errors import UsageError

COMMAND_FILE = "gitexp.yaml"
RESERVED_KEYS = ("command", "metrics", "outs")
PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_SAFE = "\ue000{}\ue001"  # a placeholder while a command line is split into words: no space inside
_SAFE_BACK = re.compile("\ue000(\\d+)\ue001")


def command_words(line: str) -> list[str]:
    """A command line (Polyaxon's ``run.cmd``, W&B's or gitexp's) as words, split as a POSIX shell would
    without running one; ``{{ name }}`` stays whole in its word even when unquoted."""
    found: list[str] = []

    def hide(match: re.Match) -> str:
        found.append(match[0])
        return _SAFE.format(len(found) - 1)

    try:
        words = shlex.split(PLACEHOLDER.sub(hide, line))
    except ValueError as error:
        raise UsageError(f"command {line!r} does not split into words ({error}): close its quotes") from None
    if not words:
        raise UsageError("the command is empty: give the program to run, e.g. python train.py")
    return [_SAFE_BACK.sub(lambda match: found[int(match[1])], word) for word in words]


def placeholders(words: Sequence[str]) -> list[str]:
    """The names the command's ``{{ name }}`` placeholders take, in order, each once."""
    return list(dict.fromkeys(name for word in words for name in PLACEHOLDER.findall(word)))


def command_document(words: Sequence[str], keys: Sequence[str], metrics: Sequence[str] = (), outs: Sequence[str] = ()) -> str:
    """The text of ``gitexp.yaml`` before a trial's values are written into it: every parameter key null."""
    clash = [key for key in keys if key.split(".")[0] in RESERVED_KEYS]
    if clash:
        raise UsageError(f"parameter {clash[0]!r} is a name {COMMAND_FILE} keeps for itself: rename the flag or parameter")
    document: dict[str, Any] = {"command": list(words)}
    document.update((name, list(paths)) for name, paths in (("metrics", metrics), ("outs", outs)) if paths)
    for key in keys:
        node = document
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node.setdefault(last, None)
    header = "# gitexp: the command this trial runs (no dvc.yaml), its {{ name }} filled in from the keys below\n"
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=None, allow_unicode=True, width=1000)


def read_document(text: str | bytes | None) -> dict[str, Any]:
    """``gitexp.yaml`` as a mapping (empty when missing or unreadable)."""
    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def render_command(document: Mapping[str, Any]) -> list[str]:
    """The argument list the trial runs: the command with each ``{{ name }}`` replaced by its value."""
    words = document.get("command")
    if not isinstance(words, list) or not words or not all(isinstance(word, str) for word in words):
        raise UsageError(f"{COMMAND_FILE} names no command: queue the trial with gitexp queue -- COMMAND")
    missing = [name for name in placeholders(words) if _value(document, name) is _MISSING]
    if missing:
        raise UsageError(f"the command's {{{{ {missing[0]} }}}} has no value: give it one (a flag, --set {missing[0]}=..., or params/declarations)")
    return [PLACEHOLDER.sub(lambda match: _text(_value(document, match[1])), word) for word in words]


_MISSING = object()


def _value(document: Mapping[str, Any], name: str) -> Any:
    node: Any = document
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _text(value: Any) -> str:
    """A value as the command gets it: as Python (and Polyaxon's Jinja) prints it."""
    return value if isinstance(value, str) else str(value)


def display(argv: Sequence[str]) -> str:
    """An argument list as a line a user can paste into a shell."""
    return shlex.join(argv)
