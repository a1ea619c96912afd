"""The ``--set`` value language: ``[FILE:]KEY=EXPR`` to an axis of the search space.

A hand-written tokenizer and recursive-descent parser; nothing is ever evaluated.

    expr   := call | values               (one list of values, or values separated by ',')
    call   := NAME '(' [value (',' value)*] ')'
    value  := scalar | '[' [values] ']' | '(' [values] ')' | '{' [pair (',' pair)*] '}'
    values := value (',' value)*
    pair   := scalar ':' value

Scalars follow the YAML 1.2 core schema, as in a params file: ``0.01``, ``1e-3``,
``.5`` are floats, ``-3``, ``0x1F``, ``0o17`` ints, ``true``/``false`` bools,
``null``/``~`` None, anything else a string; ``1_000`` is the string "1_000"
(YAML 1.2 has no digit separators). Quoted scalars (``'1'``, ``"1"``) are always
strings; single quotes escape a quote by doubling it, double quotes take
backslash escapes. Mapping keys stay the text written. A call must be the whole
EXPR: ``choice``, ``pvalues``, ``range``, ``linspace``, ``logspace``,
``geomspace`` and the distributions of ``space.DISTRIBUTION_ARGUMENTS``; a
distribution with one extra argument, a count, is drawn that many times (seeded
by the sweep seed and the key) and used as a list, as on Grid.ai. Hydra's forms
that ``dvc exp run -S`` expands mean what they mean there: ``range(stop)`` from 0 (as
in Python), keyword arguments (``range(start=1, stop=5)``), ``sort(...)`` and
``shuffle(...)`` of values or of a call.

The tokens are in ``expr_tokens``, the parser in ``expr_parser``, the numeric
functions in ``expr_functions`` and scalars in ``scalars``; this module reads
whole flags.
"""

from __future__ import annotations

import re

from gitexp.errors import UsageError
from gitexp.sweep.expr_functions import FUNCTIONS
from gitexp.sweep.expr_parser import Parser
from gitexp.sweep.scalars import format_literal, surrogate_error
from gitexp.sweep.space import Axis, Choice, DataTarget, Dimension, Distribution, ParamTarget, PChoice


PARAMS_FILE_SUFFIXES = (".yaml", ".yml", ".json", ".toml", ".py")
_FILE_AND_KEY = re.compile(f"(.+?(?:{'|'.join(map(re.escape, PARAMS_FILE_SUFFIXES))})):(.*)", re.DOTALL)


def parse_target(text: str) -> ParamTarget:
    """``[FILE:]KEY``: FILE is a path ending in a params-file suffix, KEY a dotted path."""
    with_file = _FILE_AND_KEY.fullmatch(text.strip())
    file, key = (with_file[1].strip(), with_file[2].strip()) if with_file else (None, text.strip())
    if ":" in key:
        raise UsageError(
            f"{text.strip()!r} is not KEY or FILE:KEY: FILE must end in {', '.join(PARAMS_FILE_SUFFIXES)}, "
            f"e.g. params.yaml:train.lr"
        )
    return ParamTarget(file, key)


def parse_set(flag: str, *, seed: int = 0) -> Axis:
    """One ``--set [FILE:]KEY=EXPR`` flag; syntax errors point into the whole flag.

    Hydra's ``++KEY=EXPR`` (set, adding the key if missing) sets an existing key like ``KEY=EXPR``;
    its ``+KEY`` (add) and ``~KEY`` (delete) change the file's shape, which a trial never does.
    """
    if surrogate_error(flag):
        raise UsageError(f"--set {surrogate_error(flag)}")
    _refuse_shape_changes(flag)
    if flag.startswith("++"):
        return parse_set(flag[2:], seed=seed)
    equals = flag.find("=")
    if equals < 0:
        raise UsageError(f"--set {flag!r} has no '=': write KEY=EXPR, e.g. --set train.lr=0.01")
    try:
        target = parse_target(flag[:equals])
    except UsageError as error:
        raise UsageError(f"--set {flag!r}: {error.message}") from None
    return Axis(target, Parser(flag, equals + 1).parse(seed=seed, key=str(target)))


def _refuse_shape_changes(flag: str) -> None:
    key = flag.split("=", 1)[0]
    if flag.startswith("~"):
        raise UsageError(f"--set {flag!r}: Hydra's ~{key[1:]} deletes a key, and trials only change values: delete it in the params file and commit")
    if flag.startswith("+") and not flag.startswith("++"):
        raise UsageError(f"--set {flag!r}: Hydra's +{key[1:]} adds a key, and trials only change values: add {key[1:]} to the params file and commit")


_SWEEP_VALUE = re.compile(r"\s*(?:\[|(?P<name>[A-Za-z_]\w*)\s*\()")


def parse_flag_value(text: str, start: int, *, seed: int = 0, key: str = "") -> Dimension | None:
    """The sweep in a script flag's value ``text[start:]`` (a list, or a call like ``uniform(1e-5, 1e-1, 3)``),
    or None when it is a plain value, passed on as written; syntax errors point into ``text``."""
    match = _SWEEP_VALUE.match(text, start)
    if match is None or (match["name"] is not None and match["name"] not in FUNCTIONS):
        return None
    return Parser(text, start).parse(seed=seed, key=key)


def parse_data(flag: str) -> Axis:
    """One ``--data TARGET=SOURCE`` flag, or ``TARGET='[a.xml, b.xml]'``: the sources as an axis."""
    target, equals, sources = flag.partition("=")
    if surrogate_error(flag):
        raise UsageError(f"--data {surrogate_error(flag)}")
    if not equals or not target.strip():
        raise UsageError(f"--data {flag!r} has no '=': write TARGET=SOURCE, e.g. --data data/data.xml=/data/other.xml")
    return data_axis(DataTarget(target.strip()), Parser(flag, len(target) + 1).parse(seed=0, key=target), f"--data {flag!r}")


def data_axis(target: DataTarget, dimension: Dimension, where: str) -> Axis:
    """A dataset axis: its values must be paths (files or folders), listed, not drawn."""
    if not isinstance(dimension, Choice) or isinstance(dimension, PChoice):
        raise UsageError(f"{where}: a dataset takes a path or a list of paths, e.g. '[a.xml, b.xml]', not {format_expr(dimension)}")
    for value in dimension.values:
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"{where}: {format_literal(value)} is no path: name a file or folder, e.g. '[a.xml, b.xml]'")
    return Axis(target, dimension)


def parse_expr(text: str, *, seed: int = 0, key: str = "") -> Dimension:
    """An EXPR; ``seed`` and ``key`` seed the draws of a distribution with a count."""
    return Parser(text, 0).parse(seed=seed, key=key)


def format_expr(dimension: Dimension) -> str:
    """An EXPR that parses back to the dimension (a resolved list shows its values)."""
    if isinstance(dimension, Distribution):
        return str(dimension)
    values = [format_literal(value, index in dimension.quoted) for index, value in enumerate(dimension.values)]
    if isinstance(dimension, PChoice):
        pairs = ", ".join(f"[{value}, {format_literal(p)}]" for value, p in zip(values, dimension.probabilities))
        return f"pvalues([{pairs}])"
    return f"[{', '.join(values)}]"
