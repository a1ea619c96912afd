"""Credentials kept out of what gitexp shows, logs or commits.

Two kinds of secret reach text that people read: credentials riding in a URL
(``https://user:TOKEN@host/repo.git``, which CI remotes often are, and which
git, DVC and servers may echo back) and tokens gitexp holds itself (a
GitHub token), which a server may send back in any shape. ``without_credentials``
makes one URL fit to show; ``Redactor`` masks both kinds in any text, whatever
form a token came back in: another letter case, split by whitespace or line
breaks, percent-encoded or JSON-escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"

# scheme://userinfo@ (userinfo up to the authority's last '@', as URL parsers read it)
_URL_USER_INFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s'\"<>]*@")
# user:password@host:path, a scp-like remote that someone gave a password
_SCP_PASSWORD = re.compile(r"(?P<user>[^\s/@:]+):[^\s/@]*@")
# the shapes of GitHub's tokens (classic, fine-grained, app, OAuth, refresh): masked even when gitexp was not told them
_GITHUB_TOKEN_SHAPE = re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b")
# what may stand between a token's characters once echoed: whitespace, JSON escapes, encoded whitespace, '+'
_GAP = r"(?:\s|\\[nrt]|%(?:0[9ad]|20)|\+)*"


def without_credentials(url: str) -> str:
    """``url`` fit to be shown: the user info of a URL (or the password of a scp-like remote) becomes ``***``."""
    if "://" in url:
        return _URL_USER_INFO.sub(rf"\g<scheme>{MASK}@", url)
    return _SCP_PASSWORD.sub(rf"\g<user>:{MASK}@", url, count=1) if _SCP_PASSWORD.match(url) else url


class Redactor:
    """Masks URL credentials, GitHub-shaped tokens and each of ``secrets`` in text, in any form it was echoed."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets = [_echoed_forms(secret) for secret in {s.strip() for s in secrets} if secret]

    def __call__(self, text: str) -> str:
        for pattern in self._secrets:
            text = pattern.sub(MASK, text)
        text = _GITHUB_TOKEN_SHAPE.sub(MASK, text)
        return _URL_USER_INFO.sub(rf"\g<scheme>{MASK}@", text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secret(s))"


def redacted(text: str) -> str:
    """``text`` without URL credentials or GitHub-shaped tokens (for git's, DVC's and servers' own words)."""
    return _PLAIN(text)


def _echoed_forms(secret: str) -> re.Pattern[str]:
    """A pattern for ``secret`` in any letter case, with gaps between its characters, each maybe escaped."""
    return re.compile(_GAP.join(_character_forms(character) for character in secret), re.IGNORECASE)


def _character_forms(character: str) -> str:
    encoded = character.encode("utf-8")
    percent = "".join(f"%{byte:02x}" for byte in encoded)
    forms = [re.escape(character), re.escape(percent)]
    if len(encoded) == 1:
        forms.append(re.escape(f"\\u{ord(character):04x}"))
    return "(?:" + "|".join(forms) + ")"


_PLAIN = Redactor()
