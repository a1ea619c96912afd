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
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import string
from dataclasses import dataclass
from typing import Any, Callable

from gitexp.errors import SweepSyntaxError, UsageError
from gitexp.numbers import finite
from gitexp.sweep.space import (
    DISTRIBUTION_ARGUMENTS,
    Axis,
    Choice,
    DataTarget,
    Dimension,
    DimensionError,
    Distribution,
    ParamTarget,
    PChoice,
    closest_hint,
    exact,
)

# A list longer than this is a typo or a job for randint with random search:
# every grid point becomes a Git branch.
MAX_AXIS_VALUES = 100_000

# Required and optional arguments of the functions that take numbers.
SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "range": (("start", "stop"), ("step",)),
    "linspace": (("start", "stop", "num"), ()),
    "logspace": (("start", "stop", "num"), ("base",)),
    "geomspace": (("start", "stop", "num"), ()),
    **{kind: (names, ("size",)) for kind, names in DISTRIBUTION_ARGUMENTS.items()},
}
# Python's and Hydra's range(stop): one argument, counted from 0 (range(5) is 0, 1, 2, 3, 4).
_FEWEST_ARGUMENTS = {"range": 1}
# Hydra's sweep functions that reorder the values of a list or of another call (DVC's ``-S``).
ORDERINGS = ("sort", "shuffle")
FUNCTIONS = ("choice", "pvalues", *ORDERINGS, *SIGNATURES)
# Hydra's continuous interval: DVC's basic sweeper refuses it, gitexp names the distribution it means.
_INTERVAL_HINT = "interval(lo, hi) is Hydra's continuous range, which dvc exp run refuses too: write uniform(lo, hi) with --strategy random or bayes"
_KEYWORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)

PARAMS_FILE_SUFFIXES = (".yaml", ".yml", ".json", ".toml", ".py")
_FILE_AND_KEY = re.compile(f"(.+?(?:{'|'.join(map(re.escape, PARAMS_FILE_SUFFIXES))})):(.*)", re.DOTALL)

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"null|Null|NULL|~|")
_BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_DECIMAL = re.compile(r"[-+]?[0-9]+")
_OCTAL = re.compile(r"0o[0-7]+")
_HEXADECIMAL = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INFINITY = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NOT_A_NUMBER = re.compile(r"\.(nan|NaN|NAN)")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PUNCTUATION = "[](){},"
_CLOSING = {"[": "]", "(": ")", "{": "}"}
_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
    "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}
_HEX_ESCAPE_DIGITS = {"x": 2, "u": 4, "U": 8}
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


def surrogate_error(text: str) -> str | None:
    """Why ``text`` cannot be written into a UTF-8 file (a lone surrogate, e.g. from bytes that are not UTF-8), or None."""
    bad = next((char for char in text if 0xD800 <= ord(char) <= 0xDFFF), None)
    if bad is None:
        return None
    return (
        f"{text!r} holds U+{ord(bad):04X}, a lone surrogate that no UTF-8 file can hold (bytes that are not UTF-8, "
        "or a \\ud800-style escape): give valid text"
    )


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
    return Axis(target, _Parser(flag, equals + 1).parse(seed=seed, key=str(target)))


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
    return _Parser(text, start).parse(seed=seed, key=key)


def parse_data(flag: str) -> Axis:
    """One ``--data TARGET=SOURCE`` flag, or ``TARGET='[a.xml, b.xml]'``: the sources as an axis."""
    target, equals, sources = flag.partition("=")
    if surrogate_error(flag):
        raise UsageError(f"--data {surrogate_error(flag)}")
    if not equals or not target.strip():
        raise UsageError(f"--data {flag!r} has no '=': write TARGET=SOURCE, e.g. --data data/data.xml=/data/other.xml")
    return data_axis(DataTarget(target.strip()), _Parser(flag, len(target) + 1).parse(seed=0, key=target), f"--data {flag!r}")


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
    return _Parser(text, 0).parse(seed=seed, key=key)


def make_dimension(name: str, args: list, *, seed: int = 0, key: str = "") -> Dimension:
    """The dimension of a numeric function (see SIGNATURES) called with positional args.

    Raises DimensionError whose ``argument`` is the index of the offending argument.
    """
    required, optional = SIGNATURES[name]
    fewest, most = _FEWEST_ARGUMENTS.get(name, len(required)), len(required) + len(optional)
    if not fewest <= len(args) <= most:
        counts = f"{fewest} or {most}" if fewest + 1 == most else f"{fewest} to {most}" if optional else str(most)
        usage = f"{name}({', '.join(required)}{''.join(f'[, {extra}]' for extra in optional)})"
        also = f" or {name}({required[-1]})" if fewest < len(required) else ""
        raise DimensionError(f"{name} takes {counts} arguments, got {len(args)}: write {usage}{also}")
    for index, (parameter, value) in enumerate(zip(required + optional, args)):
        if finite(value) is None:
            raise DimensionError(f"{name}: {parameter} must be a number, got {value!r}", index)
    if name not in DISTRIBUTION_ARGUMENTS:
        return Choice(_GENERATORS[name](*args))
    distribution = Distribution(name, tuple(args[: len(required)]))
    if len(args) == len(required):
        return distribution
    count = _count(name, "size", args[-1], len(required))
    rng = _draws_rng(seed, key)
    return Choice(tuple(distribution.sample(rng) for _ in range(count)))


def format_expr(dimension: Dimension) -> str:
    """An EXPR that parses back to the dimension (a resolved list shows its values)."""
    if isinstance(dimension, Distribution):
        return str(dimension)
    values = [format_literal(value, index in dimension.quoted) for index, value in enumerate(dimension.values)]
    if isinstance(dimension, PChoice):
        pairs = ", ".join(f"[{value}, {format_literal(p)}]" for value, p in zip(values, dimension.probabilities))
        return f"pvalues([{pairs}])"
    return f"[{', '.join(values)}]"


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


def _draws_rng(seed: int, key: str) -> random.Random:
    """A generator seeded by (seed, key) alone, so a flag draws the same values on any machine."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _count(name: str, parameter: str, value, index: int) -> int:
    if not isinstance(value, int) or value < 1:
        raise DimensionError(f"{name}: {parameter} must be a whole number of at least 1, got {value!r}", index)
    _check_axis_length(name, value, index)
    return value


def _check_axis_length(name: str, length: int, index: int | None = None):
    if length > MAX_AXIS_VALUES:
        raise DimensionError(
            f"{name} gives {length} values, more than {MAX_AXIS_VALUES} (each grid point is a Git branch): "
            f"use fewer, or randint with --strategy random",
            index,
        )


def _range(start, stop=None, step=1) -> tuple:
    """Python's range, for floats too: value i is start + i*step in exact decimals; ``range(stop)`` starts at 0."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise DimensionError("range step must not be zero, e.g. range(0, 1, 0.1)", 2)
    exact_start, exact_step = exact(start), exact(step)
    length = math.ceil((exact(stop) - exact_start) / exact_step)
    if length <= 0:
        direction = "above" if step > 0 else "below"
        raise DimensionError(f"range({start}, {stop}, {step}) is empty: stop must lie {direction} start, or flip the step's sign")
    _check_axis_length("range", length)
    if all(isinstance(number, int) for number in (start, stop, step)):
        return tuple(range(start, stop, step))
    return tuple(float(exact_start + index * exact_step) for index in range(length))


def _numpy_values(name: str, compute: Callable) -> tuple:
    """Values computed by numpy, so they match numpy's bit for bit; overflow is refused."""
    import numpy  # imported here: a second of start-up that most commands never need

    with numpy.errstate(over="ignore"):
        values = tuple(compute(numpy).tolist())
    if not all(math.isfinite(value) for value in values):
        raise DimensionError(f"{name} overflows to infinity: use smaller bounds")
    return values


def _linspace(start, stop, num) -> tuple:
    count = _count("linspace", "num", num, 2)
    return _numpy_values("linspace", lambda np: np.linspace(start, stop, count))


def _logspace(start, stop, num, base=10.0) -> tuple:
    if base <= 0:
        raise DimensionError(f"logspace: base must be positive, got {base!r}", 3)
    count = _count("logspace", "num", num, 2)
    return _numpy_values("logspace", lambda np: np.logspace(start, stop, count, base=base))


def _geomspace(start, stop, num) -> tuple:
    for index, bound in enumerate((start, stop)):
        if bound == 0:
            raise DimensionError("geomspace bounds must not be zero: a geometric sequence never reaches 0", index)
    if (start < 0) != (stop < 0):
        raise DimensionError("geomspace bounds must have the same sign", 1)
    count = _count("geomspace", "num", num, 2)
    return _numpy_values("geomspace", lambda np: np.geomspace(start, stop, count))


_GENERATORS: dict[str, Callable[..., tuple]] = {
    "range": _range,
    "linspace": _linspace,
    "logspace": _logspace,
    "geomspace": _geomspace,
}


@dataclass
class _Token:
    kind: str  # a punctuation character, ":", "quoted", "plain" or "end"
    text: str  # a scalar's value, or the character itself
    position: int


@dataclass
class _Node:
    """A parsed value, with what error messages and quoting need to know about it."""

    value: Any
    position: int
    quoted: bool = False  # a quoted string
    items: list[_Node] | None = None  # a list's elements


def _one_line(text: str) -> str:
    """The text with line breaks and tabs as spaces (same length, so positions hold)."""
    return "".join(" " if char.isspace() else char for char in text)


def _syntax_error(message: str, text: str, position: int) -> SweepSyntaxError:
    return SweepSyntaxError(message, _one_line(text), position)


def _is_mapping_colon(text: str, index: int) -> bool:
    """A ':' that separates a key from its value (followed by a space or punctuation), as in YAML."""
    after = text[index + 1 : index + 2]
    return text[index] == ":" and (not after or after.isspace() or after in _PUNCTUATION)


def _tokenize(text: str, start: int) -> list[_Token]:
    tokens = []
    index = start
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in _PUNCTUATION or _is_mapping_colon(text, index):
            tokens.append(_Token(char, char, index))
            index += 1
        elif char in "'\"":
            value, end = _read_quoted(text, index)
            tokens.append(_Token("quoted", value, index))
            index = end
        else:
            end = _plain_end(text, index)
            tokens.append(_Token("plain", text[index:end].rstrip(), index))
            index = end
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _plain_end(text: str, index: int) -> int:
    """Where an unquoted scalar starting at index ends; it may hold spaces, as in YAML."""
    while index < len(text) and text[index] not in _PUNCTUATION and not _is_mapping_colon(text, index):
        if text[index] in "'\"" and text[index - 1].isspace():
            break  # a quote after a space opens the next value: `'a' 'b'` is two values, never one
        index += 1
    return index


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """The string quoted at start, and the index after its closing quote."""
    quote = text[start]
    chars = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == quote and quote == "'" and text[index + 1 : index + 2] == "'":
            chars.append("'")
            index += 2
        elif char == quote:
            return "".join(chars), index + 1
        elif char == "\\" and quote == '"':
            escaped, index = _read_escape(text, index)
            chars.append(escaped)
        else:
            chars.append(char)
            index += 1
    raise _syntax_error(f"unterminated string: close it with {quote}", text, start)


def _read_escape(text: str, backslash: int) -> tuple[str, int]:
    code = text[backslash + 1 : backslash + 2]
    if code in _ESCAPES:
        return _ESCAPES[code], backslash + 2
    digits = _HEX_ESCAPE_DIGITS.get(code, 0)
    hex_text = text[backslash + 2 : backslash + 2 + digits]
    if digits and len(hex_text) == digits and all(c in string.hexdigits for c in hex_text) and int(hex_text, 16) <= 0x10FFFF:
        if 0xD800 <= int(hex_text, 16) <= 0xDFFF:
            raise _syntax_error(
                f"\\{code}{hex_text} is a lone surrogate, not a character: write the character itself, or \\U and its 8 hex digits",
                text,
                backslash,
            )
        return chr(int(hex_text, 16)), backslash + 2 + digits
    raise _syntax_error(
        f"unknown escape \\{code} in a double-quoted string: write \\\\ for a backslash, or use single quotes",
        text,
        backslash,
    )


class _Parser:
    def __init__(self, text: str, start: int):
        self.text = text
        self.tokens = _tokenize(text, start)
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def error(self, message: str, position: int | None = None) -> SweepSyntaxError:
        return _syntax_error(message, self.text, self.token.position if position is None else position)

    def parse(self, *, seed: int, key: str) -> Dimension:
        problem = surrogate_error(self.text) or next(filter(None, (surrogate_error(t.text) for t in self.tokens)), None)
        if problem:
            raise UsageError(problem)
        if self.token.kind == "end":
            raise self.error("empty EXPR: give a value, a list like [1, 2] or a function like range(1, 5)")
        if self._at_call():
            dimension = self._call(seed, key)
            if self.token.kind != "end":
                raise self.error(f"unexpected {self._describe()} after the call: a function call must be the whole EXPR")
            return dimension
        nodes = self._separated("end", None, self._value)
        if len(nodes) == 1 and nodes[0].items is not None:  # one list: its elements are the values
            if not nodes[0].items:
                raise self.error("empty list: give at least one value, e.g. [1, 2]", nodes[0].position)
            nodes = nodes[0].items
        return Choice(tuple(node.value for node in nodes), frozenset(i for i, node in enumerate(nodes) if node.quoted))

    def _at_call(self) -> bool:
        return (
            self.token.kind == "plain"
            and _IDENTIFIER.fullmatch(self.token.text) is not None
            and self.tokens[self.index + 1].kind == "("
        )

    def _describe(self, token: _Token | None = None) -> str:
        token = token or self.token
        return "the end of the EXPR" if token.kind == "end" else repr(token.text)

    def _separated(self, closing: str, opening: _Token | None, parse_item: Callable[[], Any]) -> list:
        """Items separated by ',' up to the closing token (consumed); none if it comes first."""
        items = []
        if self.token.kind == closing and opening is not None:
            self.advance()
            return items
        while True:
            items.append(parse_item())
            if self.token.kind == closing:
                self.advance()
                return items
            if self.token.kind != ",":
                raise self._no_separator(closing, opening)
            self.advance()

    def _no_separator(self, closing: str, opening: _Token | None) -> SweepSyntaxError:
        token = self.token
        if token.kind in ("quoted", "plain", "[", "(", "{"):
            return self.error("missing ',' before this value (values are never joined): separate values with ','")
        if token.kind == "end":
            return self.error(f"unbalanced brackets: {opening.text!r} is never closed: add {closing!r}", opening.position)
        if token.kind in _CLOSING.values():
            if opening is None:
                return self.error(f"unbalanced brackets: {token.text!r} closes nothing: remove it or add its opening bracket")
            return self.error(f"unbalanced brackets: {token.text!r} does not close {opening.text!r}: write {closing!r}")
        return self.error(f"unexpected {self._describe()}: quote a value that holds ': ', or write a mapping as {{key: value}}")

    def _value(self) -> _Node:
        token = self.token
        if token.kind == "quoted":
            self.advance()
            return _Node(token.text, token.position, quoted=True)
        if token.kind == "plain":
            if self._at_call():
                raise self.error(
                    f"{token.text}(...) inside a value: a function call must be the whole EXPR, "
                    f"and a string holding '(' must be quoted"
                )
            self.advance()
            try:
                return _Node(resolve_scalar(token.text), token.position)
            except UsageError as error:
                raise self.error(error.message, token.position) from None
        if token.kind in ("[", "("):
            self.advance()
            items = self._separated(_CLOSING[token.kind], token, self._value)
            return _Node([item.value for item in items], token.position, items=items)
        if token.kind == "{":
            self.advance()
            return _Node(dict(self._separated("}", token, self._pair)), token.position)
        raise self.error(f"expected a value, found {self._describe()}")

    def _pair(self) -> tuple[str, Any]:
        key = self.token
        if key.kind not in ("quoted", "plain"):
            raise self.error(f"expected a key, found {self._describe()}: write {{key: value}}")
        self.advance()
        if self.token.kind != ":":
            raise self.error(f"expected ': ' after the key {key.text!r}, found {self._describe()}")
        self.advance()
        return key.text, self._value().value

    def _call(self, seed: int, key: str) -> Dimension:
        name = self.advance()
        if name.text == "interval":
            raise self.error(_INTERVAL_HINT, name.position)
        if name.text in ORDERINGS:
            return self._ordering(name, seed, key)
        if name.text not in FUNCTIONS:
            raise self.error(
                f"unknown function {name.text!r}{closest_hint(name.text, FUNCTIONS)}: use one of "
                f"{', '.join(FUNCTIONS)}, or quote a string that holds '('",
                name.position,
            )
        args = self._separated(")", self.advance(), self._value)
        try:
            if name.text == "choice":
                return Choice(tuple(arg.value for arg in args), frozenset(i for i, arg in enumerate(args) if arg.quoted))
            if name.text == "pvalues":
                return self._pvalues(args, name)
            args = self._by_position(name, args)
            return make_dimension(name.text, [arg.value for arg in args], seed=seed, key=key)
        except DimensionError as error:
            culprit = args[error.argument] if error.argument is not None and error.argument < len(args) else name
            raise self.error(error.message, culprit.position) from None

    def _pvalues(self, args: list[_Node], name: _Token) -> PChoice:
        if len(args) != 1 or args[0].items is None:
            raise self.error("pvalues takes one list of [value, probability] pairs, e.g. pvalues([[a, 0.2], [b, 0.8]])", name.position)
        pairs = args[0].items
        quoted = frozenset(i for i, pair in enumerate(pairs) if pair.items and pair.items[0].quoted)
        try:
            return PChoice.from_pairs([pair.value for pair in pairs], quoted)
        except DimensionError as error:
            culprit = pairs[error.argument] if error.argument is not None else args[0]
            raise self.error(error.message, culprit.position) from None

    def _by_position(self, name: _Token, args: list[_Node]) -> list[_Node]:
        """Arguments in signature order; Hydra's keyword form ``range(start=1, stop=5)`` included."""
        parameters = [*SIGNATURES[name.text][0], *SIGNATURES[name.text][1]]
        positional, named = [], {}
        for arg in args:
            keyword = None if arg.quoted or not isinstance(arg.value, str) else _KEYWORD.fullmatch(arg.value)
            if keyword is None and named:
                raise self.error(f"{name.text}: a positional argument after a keyword one: put it first", arg.position)
            if keyword is None:
                positional.append(arg)
                continue
            parameter, text = keyword.groups()
            if parameter not in parameters[len(positional) :] or parameter in named:
                raise self.error(f"{name.text} has no argument {parameter!r} left to set: write {name.text}({', '.join(parameters)})", arg.position)
            offset = len(parameter) + 1 + len(text) - len(text.lstrip())
            named[parameter] = _Node(resolve_scalar(text.strip()), arg.position + offset)
        missing = [p for p in parameters[len(positional) : len(positional) + len(named)] if p not in named]
        if missing:
            raise self.error(f"{name.text}: {missing[0]} is not given: name it too, e.g. {missing[0]}=1", name.position)
        return positional + [named[p] for p in parameters if p in named]

    def _ordering(self, name: _Token, seed: int, key: str) -> Choice:
        """Hydra's ``sort(...)`` and ``shuffle(...)`` of values or of one call: the same values, reordered."""
        opening = self.advance()
        if self._at_call():
            inner = self._call(seed, key)
            if not isinstance(inner, Choice) or isinstance(inner, PChoice):
                raise self.error(f"{name.text} reorders a list of values, not a distribution: drop {name.text}(...)", name.position)
            options = self._separated(")", opening, self._value) if self.token.kind == "," and self.advance() else self._close(opening)
            values = list(zip(inner.values, (i in inner.quoted for i in range(inner.size))))
        else:
            nodes = self._separated(")", opening, self._value)
            options = [node for node in nodes if self._is_reverse(node)]
            values = [(node.value, node.quoted) for node in nodes if not self._is_reverse(node)]
        reverse = self._reverse(name, options)
        if not values:
            raise self.error(f"{name.text}() has no values: give some, e.g. {name.text}(3, 1, 2)", name.position)
        if name.text == "shuffle":  # seeded by the sweep, so the order is the same on every machine
            _draws_rng(seed, key).shuffle(values)
        else:
            values = self._sorted(name, values, reverse)
        return Choice(tuple(value for value, _ in values), frozenset(i for i, (_, quoted) in enumerate(values) if quoted))

    def _close(self, opening: _Token) -> list:
        if self.token.kind != ")":
            raise self._no_separator(")", opening)
        self.advance()
        return []

    @staticmethod
    def _is_reverse(node: _Node) -> bool:
        return not node.quoted and isinstance(node.value, str) and node.value.replace(" ", "").startswith("reverse=")

    def _reverse(self, name: _Token, options: list[_Node]) -> bool:
        for node in options:
            if name.text != "sort" or not self._is_reverse(node):
                raise self.error(f"{name.text} takes only values{' and reverse=true' if name.text == 'sort' else ''}", node.position)
            value = resolve_scalar(node.value.split("=", 1)[1].strip())
            if not isinstance(value, bool):
                raise self.error("sort: reverse must be true or false", node.position)
            return value
        return False

    def _sorted(self, name: _Token, values: list, reverse: bool) -> list:
        try:
            return sorted(values, key=lambda pair: pair[0], reverse=reverse)
        except TypeError:
            raise self.error("sort needs values of one kind (all numbers or all strings): sort them yourself", name.position) from None
