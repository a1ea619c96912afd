"""Checking the options a named part of a sweep takes (a strategy's, a pruner's) against what it accepts."""

from __future__ import annotations

from typing import Any, Mapping

from gitexp.errors import UsageError
from gitexp.sweep.space import closest_hint


def check_options(options: Mapping[str, Any], known: Mapping[str, Any], owner: str, short: str, prefix: str = "") -> None:
    """Refuse an unknown option, a value its option does not accept, or a missing required one.

    ``known`` maps names to options with ``expected``, ``accepts`` and ``required``; ``owner`` names the part
    ("the median pruner"), ``short`` prefixes a bad value's message ("median pruner option ...")."""
    for key, value in options.items():
        option = known.get(key)
        if option is None:
            valid = f"its options are {', '.join(known)}" if known else "it takes no options"
            raise UsageError(f"{prefix}{owner} has no option {key!r}{closest_hint(str(key), known)}: {valid}")
        if not option.accepts(value):
            raise UsageError(f"{prefix}{short} option {key} must be {option.expected}, got {value!r}")
    for key, option in known.items():
        if option.required and key not in options:
            raise UsageError(f"{prefix}{owner} needs the option {key} ({option.expected})")
