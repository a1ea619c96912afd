"""Params files of any content: every reader and writer either works or refuses with a GitexpError, one line.

Random bytes, and random YAML, JSON and TOML documents (also cut or spliced
with random text), through what queue does with a baseline's params file:
decode it, read it, look keys up, render a trial's copy. A file gitexp cannot
edit is the user's to fix, so "report this" (gitexp's own failure) must never
be the answer.
"""

from __future__ import annotations

import json

import tomlkit
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitexp.errors import GitexpError
from gitexp.project.params import ParamsFile
from gitexp.project.params_read import decode_params
from gitexp.sweep.expr import parse_target

PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.one_of(st.text(max_size=8), st.sampled_from(["train", "lr", "0", "<<", "a.b", "~", "null", "1e3"]))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["\x85", "\u2028", "NaN", ".nan", "0o17", "1_000", "*a", "&a x", "<<", "'", '"', "\ud800"]),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=4), SCALARS, max_size=2))


def _render(document, kind: str) -> str | None:
    try:
        if kind == "yaml":
            return yaml.safe_dump(document, allow_unicode=True, default_flow_style=None)
        if kind == "json":
            return json.dumps(document, ensure_ascii=False)
        return tomlkit.dumps(document if isinstance(document, dict) else {"value": document})
    except Exception:  # a document this format cannot hold: nothing to test
        return None


def _addressable(key: str) -> bool:
    """Whether --set or a sweep file can name this key (queue refuses the others before any file is read)."""
    try:
        parse_target(key)
    except GitexpError:
        return False
    return True


def _exercise(path: str, text: str, key: str, value) -> None:
    """What queue does with a params file; only GitexpError may come out."""
    try:
        params = ParamsFile(path, text)
        keys = params.keys()
        for candidate in [key, *keys[:6]]:
            if not _addressable(candidate):
                continue
            try:
                params.get(candidate)
                params.render({candidate: value})
            except GitexpError as error:
                assert error.message and "\n" not in error.message and "report this" not in error.message, error.message
    except GitexpError as error:
        assert error.message and "\n" not in error.message, error.message


@PROPERTIES
@given(data=st.binary(max_size=300), kind=st.sampled_from(["params.yaml", "params.json", "params.toml"]))
def test_random_bytes_are_read_or_refused(data, kind):
    try:
        text = decode_params(kind, data)
    except GitexpError as error:
        assert "\n" not in error.message
        return
    _exercise(kind, text, "train.lr", 1)


@PROPERTIES
@given(
    document=DOCUMENTS,
    kind=st.sampled_from(["yaml", "json", "toml"]),
    key=st.one_of(KEYS, st.sampled_from(["train.lr", "0", "a.0.b", "train.layers.01", "x.²"])),
    value=VALUES,
)
def test_random_documents_are_read_or_refused(document, kind, key, value):
    text = _render(document, kind)
    if text is not None:
        _exercise(f"params.{kind}", text, key, value)


@PROPERTIES
@given(
    document=DOCUMENTS,
    kind=st.sampled_from(["yaml", "json", "toml"]),
    cut=st.integers(min_value=0, max_value=400),
    insert=st.text(alphabet=st.sampled_from(list("{}[]:,&*<>!|'\"#-? \n\t\x85\ufeff0a.")), max_size=6),
    value=VALUES,
)
def test_spliced_documents_are_read_or_refused(document, kind, cut, insert, value):
    text = _render(document, kind)
    if text is not None:
        cut = min(cut, len(text))
        _exercise(f"params.{kind}", text[:cut] + insert + text[cut:], "train.lr", value)


@PROPERTIES
@given(text=st.text(alphabet=st.sampled_from(list("ab01:{}[],&*<!- \n'\"\\.#~\x85")), max_size=60))
def test_yaml_like_text_is_read_or_refused(text):
    _exercise("params.yaml", text, "a", [1])
