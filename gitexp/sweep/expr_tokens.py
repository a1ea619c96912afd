"""The tokens of an EXPR: punctuation, mapping colons, plain and quoted scalars with their escapes.

Separate from the parser: this knows characters and quotes, the parser knows
what values and calls are. Every error carries the position it points at
(``SweepSyntaxError`` marks that column in the text, on one line).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from gitexp.errors import SweepSyntaxError


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PUNCTUATION = "[](){},"
CLOSING = {"[": "]", "(": ")", "{": "}"}
_ESCAPES = {
    "0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
    "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\",
    "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029",
}
_HEX_ESCAPE_DIGITS = {"x": 2, "u": 4, "U": 8}


@dataclass
class Token:
    kind: str  # a punctuation character, ":", "quoted", "plain" or "end"
    text: str  # a scalar's value, or the character itself
    position: int


def _one_line(text: str) -> str:
    """The text with line breaks and tabs as spaces (same length, so positions hold)."""
    return "".join(" " if char.isspace() else char for char in text)


def syntax_error(message: str, text: str, position: int) -> SweepSyntaxError:
    return SweepSyntaxError(message, _one_line(text), position)


def _is_mapping_colon(text: str, index: int) -> bool:
    """A ':' that separates a key from its value (followed by a space or punctuation), as in YAML."""
    after = text[index + 1 : index + 2]
    return text[index] == ":" and (not after or after.isspace() or after in _PUNCTUATION)


def tokenize(text: str, start: int) -> list[Token]:
    tokens = []
    index = start
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in _PUNCTUATION or _is_mapping_colon(text, index):
            tokens.append(Token(char, char, index))
            index += 1
        elif char in "'\"":
            value, end = _read_quoted(text, index)
            tokens.append(Token("quoted", value, index))
            index = end
        else:
            end = _plain_end(text, index)
            tokens.append(Token("plain", text[index:end].rstrip(), index))
            index = end
    tokens.append(Token("end", "", len(text)))
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
    raise syntax_error(f"unterminated string: close it with {quote}", text, start)


def _read_escape(text: str, backslash: int) -> tuple[str, int]:
    code = text[backslash + 1 : backslash + 2]
    if code in _ESCAPES:
        return _ESCAPES[code], backslash + 2
    digits = _HEX_ESCAPE_DIGITS.get(code, 0)
    hex_text = text[backslash + 2 : backslash + 2 + digits]
    if digits and len(hex_text) == digits and all(c in string.hexdigits for c in hex_text) and int(hex_text, 16) <= 0x10FFFF:
        if 0xD800 <= int(hex_text, 16) <= 0xDFFF:
            raise syntax_error(
                f"\\{code}{hex_text} is a lone surrogate, not a character: write the character itself, or \\U and its 8 hex digits",
                text,
                backslash,
            )
        return chr(int(hex_text, 16)), backslash + 2 + digits
    raise syntax_error(
        f"unknown escape \\{code} in a double-quoted string: write \\\\ for a backslash, or use single quotes",
        text,
        backslash,
    )
