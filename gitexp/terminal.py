"""Text from users and projects made inert for a terminal.

Param values, metric names, trial names and logs come from commits that anyone
who can push to the remote wrote, so nothing of them may drive the terminal of
whoever reads gitexp's output: no colour, cursor move, title change, OSC 8
hyperlink, bell or text reordered by bidi overrides. Every line the CLI prints
goes through ``terminal_text`` (``cli.environment.Environment`` and the tables
of ``review.tables``); JSON through ``json_text``, which keeps it the same data.
"""

from __future__ import annotations

import re

# Tab and newline stay: they only move the cursor. The rest of C0 (ESC, BEL,
# backspace, CR), DEL, C1 (CSI, OSC) and the marks and overrides that reorder
# text (Trojan Source) do not.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """``text`` with every control but tab and newline in its visible form (``\\x1b``, ``\\u202e``); CRLF is a newline."""
    return _CONTROLS.sub(lambda match: _visible(match.group(0)), text.replace("\r\n", "\n"))


def json_text(text: str) -> str:
    """JSON as ``json.dumps(..., ensure_ascii=False)`` writes it, with what JSON leaves raw of those controls
    (DEL, C1, bidi) as ``\\u`` escapes: the same data, inert on a terminal."""
    if text.isascii() and "\x7f" not in text:  # JSON escapes C0 itself; the rest is DEL or beyond ASCII
        return text
    return _CONTROLS.sub(lambda match: f"\\u{ord(match.group(0)):04x}", text)


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
