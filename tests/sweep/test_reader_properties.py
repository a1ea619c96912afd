"""Sweep input of any content: the expression parser and the sweep-file reader work or refuse with a GitexpError.

Random strings (from the language's own alphabet and from all of Unicode)
into ``parse_set``/``parse_expr``, and random bytes, random YAML documents and
spliced YAML text into ``load_sweep_file``; whatever parses is then
validated and formatted back, as queue and check do.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitexp.errors import GitexpError
from gitexp.sweep.expr import format_expr, parse_expr, parse_set
from gitexp.sweep.expr_functions import FUNCTIONS
from gitexp.sweep.files import load_sweep_file
from gitexp.sweep.spec import SweepSpec

PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LANGUAGE = st.one_of(
    st.sampled_from([*FUNCTIONS, "[", "]", "(", ")", "{", "}", ",", ": ", "'", '"', "\\", "\\u", "\\ud800", "=",
                     "1", "-3", "0x1F", ".5", "1e400", "9" * 30, ".nan", ".inf", "null", "true", " ", "a", "²", "\x85"]),
    st.text(max_size=3),
)
EXPRESSIONS = st.lists(LANGUAGE, max_size=12).map("".join)


def _refused_cleanly(error: GitexpError) -> None:
    assert error.message.strip() and "\n" not in error.message, error.message


@PROPERTIES
@given(text=EXPRESSIONS, seed=st.integers(min_value=0, max_value=2**63))
def test_random_expressions_parse_or_are_refused(text, seed):
    try:
        dimension = parse_expr(text, seed=seed, key="k")
    except GitexpError as error:
        _refused_cleanly(error)
        return
    assert parse_expr(format_expr(dimension), seed=seed, key="k") is not None


@PROPERTIES
@given(flag=st.text(max_size=40))
def test_random_flags_parse_or_are_refused(flag):
    try:
        parse_set(flag)
    except GitexpError as error:
        _refused_cleanly(error)


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), EXPRESSIONS)
SECTIONS = st.sampled_from([
    "matrix", "params", "strategy", "max_trials", "seed", "concurrency", "objective", "early_stopping", "command",
    "hptuning", "settings", "run", "kind", "values", "uniform", "range", "pvalues", "name", "metric", "goal",
    "value", "optimization", "hyperband", "bo", "max_iter", "eta", "resource", "train.lr", "n_experiments",
])
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(SECTIONS, st.text(max_size=6)), inner, max_size=4)),
    max_leaves=16,
)
_FOLDER = Path(tempfile.mkdtemp(prefix="gitexp-sweep-properties-"))


def _load(data: bytes) -> None:
    path = _FOLDER / "sweep.yaml"
    path.write_bytes(data)
    try:
        spec = load_sweep_file(path)
        SweepSpec.from_json(spec.to_json()).validate()
    except GitexpError as error:
        _refused_cleanly(error)


@PROPERTIES
@given(data=st.binary(max_size=300))
def test_random_bytes_load_or_are_refused(data):
    _load(data)


@PROPERTIES
@given(document=st.dictionaries(SECTIONS, DOCUMENTS, max_size=5))
def test_random_documents_load_or_are_refused(document):
    _load(yaml.safe_dump(document, allow_unicode=True).encode("utf-8", "surrogatepass"))


@PROPERTIES
@given(
    document=st.dictionaries(SECTIONS, DOCUMENTS, max_size=4),
    cut=st.integers(min_value=0, max_value=300),
    insert=st.text(alphabet=st.sampled_from(list("{}[]:,&*<>!|'\"#-? \n\t\x85\\0a.")), max_size=6),
)
def test_spliced_documents_load_or_are_refused(document, cut, insert):
    text = yaml.safe_dump(document, allow_unicode=True)
    cut = min(cut, len(text))
    _load((text[:cut] + insert + text[cut:]).encode("utf-8", "surrogatepass"))
