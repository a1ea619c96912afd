"""The recursive-descent parser of an EXPR (the grammar is in ``expr``): values, lists, mappings and calls
to a ``Dimension``, with Hydra's keyword arguments, ``sort`` and ``shuffle``; nothing is ever evaluated.

Separate from ``expr``, which reads whole flags (``[FILE:]KEY=EXPR``) and hands
the EXPR here; the tokens are ``expr_tokens``, the numeric functions
``expr_functions``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from gitexp.errors import SweepSyntaxError, UsageError
from gitexp.sweep.expr_functions import FUNCTIONS, ORDERINGS, SIGNATURES, draws_rng, make_dimension
from gitexp.sweep.expr_tokens import CLOSING, IDENTIFIER, Token, syntax_error, tokenize
from gitexp.sweep.scalars import resolve_scalar, surrogate_error
from gitexp.sweep.space import Choice, Dimension, DimensionError, PChoice, closest_hint


# Hydra's continuous interval: DVC's basic sweeper refuses it, gitexp names the distribution it means.
_INTERVAL_HINT = "interval(lo, hi) is Hydra's continuous range, which dvc exp run refuses too: write uniform(lo, hi) with --strategy random or bayes"
_KEYWORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)


@dataclass
class _Node:
    """A parsed value, with what error messages and quoting need to know about it."""

    value: Any
    position: int
    quoted: bool = False  # a quoted string
    items: list[_Node] | None = None  # a list's elements


class Parser:
    def __init__(self, text: str, start: int):
        self.text = text
        self.tokens = tokenize(text, start)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def error(self, message: str, position: int | None = None) -> SweepSyntaxError:
        return syntax_error(message, self.text, self.token.position if position is None else position)

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
            and IDENTIFIER.fullmatch(self.token.text) is not None
            and self.tokens[self.index + 1].kind == "("
        )

    def _describe(self, token: Token | None = None) -> str:
        token = token or self.token
        return "the end of the EXPR" if token.kind == "end" else repr(token.text)

    def _separated(self, closing: str, opening: Token | None, parse_item: Callable[[], Any]) -> list:
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

    def _no_separator(self, closing: str, opening: Token | None) -> SweepSyntaxError:
        token = self.token
        if token.kind in ("quoted", "plain", "[", "(", "{"):
            return self.error("missing ',' before this value (values are never joined): separate values with ','")
        if token.kind == "end":
            return self.error(f"unbalanced brackets: {opening.text!r} is never closed: add {closing!r}", opening.position)
        if token.kind in CLOSING.values():
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
            items = self._separated(CLOSING[token.kind], token, self._value)
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

    def _pvalues(self, args: list[_Node], name: Token) -> PChoice:
        if len(args) != 1 or args[0].items is None:
            raise self.error("pvalues takes one list of [value, probability] pairs, e.g. pvalues([[a, 0.2], [b, 0.8]])", name.position)
        pairs = args[0].items
        quoted = frozenset(i for i, pair in enumerate(pairs) if pair.items and pair.items[0].quoted)
        try:
            return PChoice.from_pairs([pair.value for pair in pairs], quoted)
        except DimensionError as error:
            culprit = pairs[error.argument] if error.argument is not None else args[0]
            raise self.error(error.message, culprit.position) from None

    def _by_position(self, name: Token, args: list[_Node]) -> list[_Node]:
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

    def _ordering(self, name: Token, seed: int, key: str) -> Choice:
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
            draws_rng(seed, key).shuffle(values)
        else:
            values = self._sorted(name, values, reverse)
        return Choice(tuple(value for value, _ in values), frozenset(i for i, (_, quoted) in enumerate(values) if quoted))

    def _close(self, opening: Token) -> list:
        if self.token.kind != ")":
            raise self._no_separator(")", opening)
        self.advance()
        return []

    @staticmethod
    def _is_reverse(node: _Node) -> bool:
        return not node.quoted and isinstance(node.value, str) and node.value.replace(" ", "").startswith("reverse=")

    def _reverse(self, name: Token, options: list[_Node]) -> bool:
        for node in options:
            if name.text != "sort" or not self._is_reverse(node):
                raise self.error(f"{name.text} takes only values{' and reverse=true' if name.text == 'sort' else ''}", node.position)
            value = resolve_scalar(node.value.split("=", 1)[1].strip())
            if not isinstance(value, bool):
                raise self.error("sort: reverse must be true or false", node.position)
            return value
        return False

    def _sorted(self, name: Token, values: list, reverse: bool) -> list:
        try:
            return sorted(values, key=lambda pair: pair[0], reverse=reverse)
        except TypeError:
            raise self.error("sort needs values of one kind (all numbers or all strings): sort them yourself", name.position) from None
