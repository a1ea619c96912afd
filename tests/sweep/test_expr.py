import math
from fractions import Fraction

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitexp.errors import SweepSyntaxError, UsageError
from gitexp.sweep.expr import format_expr, parse_expr, parse_set
from gitexp.sweep.scalars import resolve_scalar
from gitexp.sweep.space import Choice, Distribution, ParamTarget, PChoice


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.01", 0.01),
        ("1e-3", 0.001),
        ("1E3", 1000.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1.", 1.0),
        ("50", 50),
        ("-3", -3),
        ("+5", 5),
        ("007", 7),
        ("0x1F", 31),
        ("0o17", 15),
        ("1_000", "1_000"),  # YAML 1.2 has no digit separators
        ("abc", "abc"),
        ("true", True),
        ("False", False),
        ("yes", "yes"),  # a YAML 1.1 boolean only
        ("null", None),
        ("~", None),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("1:10:2", "1:10:2"),  # never sexagesimal
        ("2024-01-01", "2024-01-01"),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text, expected):
    assert resolve_scalar(text) == expected
    assert type(resolve_scalar(text)) is type(expected)
    dimension = parse_expr(text)
    assert dimension == Choice((expected,))


def test_nan_is_a_float():
    assert math.isnan(parse_expr(".nan").values[0])


@pytest.mark.parametrize(
    "text, values, quoted",
    [
        ("'1'", ("1",), {0}),
        ('"1"', ("1",), {0}),
        ("'it''s'", ("it's",), {0}),
        ('"tab\\there \\u00e9"', ("tab\there \u00e9",), {0}),
        ("it's", ("it's",), set()),
        ("[1, 2, 3]", (1, 2, 3), set()),
        ("[50,100]", (50, 100), set()),
        ("['a', 'b']", ("a", "b"), {0, 1}),
        ("[a, 'b', 1]", ("a", "b", 1), {1}),
        ("1,2,3", (1, 2, 3), set()),
        ("  1 , 2 ", (1, 2), set()),
        ("choice(a,b,c)", ("a", "b", "c"), set()),
        ("choice('1', 2)", ("1", 2), {0}),
        ("[[1,2],[3]]", ([1, 2], [3]), set()),
        ("[[1, 2]]", ([1, 2],), set()),
        ("[1,2],[3]", ([1, 2], [3]), set()),
        ("[[]]", ([],), set()),
        ("[{a: 1, 'b c': [x, 2]}, {}]", ({"a": 1, "b c": ["x", 2]}, {}), set()),
        ("{lr: 0.1}", ({"lr": 0.1},), set()),
        ("(1, 2)", (1, 2), set()),
        ("[hello world, x]", ("hello world", "x"), set()),
        ("[http://host:8080/x, a:b]", ("http://host:8080/x", "a:b"), set()),
        ("[-1, -0.5, +2]", (-1, -0.5, 2), set()),
    ],
)
def test_values_and_lists(text, values, quoted):
    dimension = parse_expr(text)
    assert dimension == Choice(values, frozenset(quoted))
    assert [type(value) for value in dimension.values] == [type(value) for value in values]


@pytest.mark.parametrize(
    "text, values",
    [
        ("range(1, 10, 2)", (1, 3, 5, 7, 9)),
        ("range(0, 3)", (0, 1, 2)),
        ("range(3)", (0, 1, 2)),
        ("range(0.3)", (0.0,)),
        ("range(10, 0, -3)", (10, 7, 4, 1)),
        ("range(1, 1.5, 0.1)", (1.0, 1.1, 1.2, 1.3, 1.4)),
        ("range(0, 1, 0.1)", (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)),
        ("range(0.3, 0, -0.1)", (0.3, 0.2, 0.1)),
        ("range(0, 1.05, 0.35)", (0.0, 0.35, 0.7)),
    ],
)
def test_range_has_python_semantics_without_float_noise(text, values):
    dimension = parse_expr(text)
    assert dimension.values == values
    assert [type(value) for value in dimension.values] == [type(value) for value in values]


decimals = st.integers(-10_000, 10_000).flatmap(lambda n: st.sampled_from([n, n / 10, n / 100, n / 1000]))


@given(decimals, decimals, decimals.filter(lambda step: step != 0))
def test_range_values_are_exact_decimals(start, stop, step):
    length = math.ceil((Fraction(repr(stop)) - Fraction(repr(start))) / Fraction(repr(step)))
    if not 0 < length <= 1000:
        return
    values = parse_expr(f"range({start}, {stop}, {step})").values
    assert len(values) == length
    for index, value in enumerate(values):
        # the printed value is exactly start + index * step: no 1.3000000000000003
        assert Fraction(repr(value)) == Fraction(repr(start)) + index * Fraction(repr(step))


@given(decimals)
def test_range_of_one_argument_counts_from_zero(stop):
    if not 0 < stop <= 1000:
        return
    assert parse_expr(f"range({stop})").values == parse_expr(f"range(0, {stop})").values


def test_logspace_matches_the_polyaxon_example():
    values = parse_expr("logspace(0.01,0.1,5)").values
    assert values == (1.0232929922807541, 1.0777052536943219, 1.1350108156723151, 1.1953635256737185, 1.2589254117941673)


def test_spaces_match_numpy_examples():
    assert parse_expr("logspace(-4,-1,4)").values == (0.0001, 0.001, 0.01, 0.1)
    assert parse_expr("logspace(0, 3, 4, 2)").values == (1.0, 2.0, 4.0, 8.0)
    assert parse_expr("geomspace(1, 1000, 4)").values == (1.0, 10.0, 100.0, 1000.0)
    assert parse_expr("geomspace(-1, -1000, 4)").values == (-1.0, -10.0, -100.0, -1000.0)
    assert parse_expr("linspace(0, 1, 5)").values == (0.0, 0.25, 0.5, 0.75, 1.0)


bounds = st.floats(-50, 50, allow_nan=False)


@given(bounds, bounds, st.integers(1, 40))
def test_linspace_and_logspace_match_numpy_bit_for_bit(start, stop, num):
    assert parse_expr(f"linspace({start!r}, {stop!r}, {num})").values == tuple(numpy.linspace(start, stop, num).tolist())
    assert parse_expr(f"logspace({start!r}, {stop!r}, {num})").values == tuple(numpy.logspace(start, stop, num).tolist())


@given(st.floats(1e-6, 1e6), st.floats(1e-6, 1e6), st.integers(1, 40))
def test_geomspace_matches_numpy_bit_for_bit(start, stop, num):
    assert parse_expr(f"geomspace({start!r}, {stop!r}, {num})").values == tuple(numpy.geomspace(start, stop, num).tolist())


@pytest.mark.parametrize(
    "text",
    ["pvalues([[a, 0.2], [b, 0.8]])", "pvalues([(a, 0.2), (b, 0.8)])", "pvalues([[a, 0.2],[b,0.8]])"],
)
def test_pvalues(text):
    assert parse_expr(text) == PChoice(("a", "b"), (0.2, 0.8))


def test_pvalues_keep_quoting():
    assert parse_expr("pvalues([['1', 0.5], [2, 0.5]])") == PChoice(("1", 2), (0.5, 0.5), frozenset({0}))


@pytest.mark.parametrize(
    "text, kind, args",
    [
        ("uniform(0, 1)", "uniform", (0, 1)),
        ("quniform(0, 1, 0.1)", "quniform", (0, 1, 0.1)),
        ("loguniform(1e-5, 1e-1)", "loguniform", (1e-5, 0.1)),
        ("qloguniform(1, 1000, 1)", "qloguniform", (1, 1000, 1)),
        ("normal(0, 1)", "normal", (0, 1)),
        ("qnormal(0, 1, 0.5)", "qnormal", (0, 1, 0.5)),
        ("lognormal(0, 1)", "lognormal", (0, 1)),
        ("qlognormal(0, 1, 2)", "qlognormal", (0, 1, 2)),
        ("randint(1, 10)", "randint", (1, 10)),
        ("uniform (0,1)", "uniform", (0, 1)),
    ],
)
def test_distributions(text, kind, args):
    assert parse_expr(text) == Distribution(kind, args)


def test_a_distribution_with_a_count_is_drawn_once_as_a_list():
    draws = parse_expr("uniform(1e-5, 1e-1, 3)", seed=7, key="alpha")
    assert isinstance(draws, Choice) and draws.size == 3
    assert all(1e-5 <= value <= 1e-1 for value in draws.values)
    assert len(set(draws.values)) == 3
    assert parse_expr("uniform(1e-5, 1e-1, 3)", seed=7, key="alpha") == draws
    assert parse_expr("uniform(1e-5, 1e-1, 3)", seed=8, key="alpha") != draws
    assert parse_expr("uniform(1e-5, 1e-1, 3)", seed=7, key="beta") != draws


@given(st.integers(), st.text(max_size=20))
def test_counted_draws_depend_only_on_seed_and_key(seed, key):
    first = parse_expr("randint(0, 1000, 5)", seed=seed, key=key)
    assert first == parse_expr("randint(0, 1000, 5)", seed=seed, key=key)
    assert all(isinstance(value, int) and 0 <= value < 1000 for value in first.values)


@given(st.sampled_from([0.1, 0.25, 0.05, 1, 5, 0.001, 0.2]), st.integers(0, 2**32))
def test_counted_q_draws_are_multiples_of_q(q, seed):
    for value in parse_expr(f"quniform(0, 10, {q}, 20)", seed=seed).values:
        assert (Fraction(repr(value)) / Fraction(repr(q))).denominator == 1
        assert 0 <= value <= 10
        assert isinstance(value, int) == isinstance(q, int)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["1", "true", "null", "a, b", "[x]", "it's", "a: b", " pad ", "", "x'y", 'q"q', "f(x)"])
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)


@given(st.lists(values, min_size=1, max_size=5), st.data())
def test_format_expr_parses_back(items, data):
    quoted = {index for index, value in enumerate(items) if isinstance(value, str) and data.draw(st.booleans())}
    dimension = Choice(tuple(items), frozenset(quoted))
    parsed = parse_expr(format_expr(dimension))
    assert parsed.values == dimension.values
    assert dimension.quoted <= parsed.quoted  # a string that needs quotes reads back as explicitly quoted


@given(
    st.sampled_from(["uniform(0, 1)", "quniform(-1.5, 2, 0.5)", "lognormal(0.1, 2)", "randint(-3, 3)"])
    | st.just("pvalues([['1', 0.25], [b, 0.75]])")
)
def test_format_expr_parses_back_for_distributions_and_pvalues(text):
    dimension = parse_expr(text)
    assert parse_expr(format_expr(dimension)) == dimension


@pytest.mark.parametrize(
    "flag, target, values",
    [
        ("train.lr=0.1", ParamTarget(None, "train.lr"), (0.1,)),
        ("train.lr = [1, 2]", ParamTarget(None, "train.lr"), (1, 2)),
        ("model.layers.0.units=[32,64]", ParamTarget(None, "model.layers.0.units"), (32, 64)),
        ("params.yaml:train.lr=0.1", ParamTarget("params.yaml", "train.lr"), (0.1,)),
        ("conf/train.yml:opt=[adam, sgd]", ParamTarget("conf/train.yml", "opt"), ("adam", "sgd")),
        ("cfg.json:a=1", ParamTarget("cfg.json", "a"), (1,)),
        ("pyproject.toml:tool.x=1", ParamTarget("pyproject.toml", "tool.x"), (1,)),
        ("settings.py:LR=1", ParamTarget("settings.py", "LR"), (1,)),
        ("msg=a=b", ParamTarget(None, "msg"), ("a=b",)),
    ],
)
def test_parse_set(flag, target, values):
    axis = parse_set(flag)
    assert axis.target == target
    assert axis.dimension.values == values
    assert str(axis.target) == flag.split("=")[0].strip().replace(" ", "")


def test_parse_set_draws_with_the_key_as_seed():
    assert parse_set("a=uniform(0, 1, 4)", seed=1) == parse_set("a = uniform(0, 1, 4)", seed=1)
    assert parse_set("a=uniform(0, 1, 4)", seed=1).dimension != parse_set("b=uniform(0, 1, 4)", seed=1).dimension


@pytest.mark.parametrize(
    "flag, fragment",
    [
        ("train.lr", "has no '='"),
        ("=0.1", "empty"),
        ("  =0.1", "empty"),
        ("params.yaml:=1", "empty"),
        ("a..b=1", "empty part"),
        ("foo:bar=1", "FILE must end in"),
    ],
)
def test_parse_set_refuses_bad_flags_naming_them(refused, flag, fragment):
    message = refused(UsageError, parse_set, flag)
    assert fragment in message
    assert repr(flag) in message


@pytest.mark.parametrize(
    "text, fragment, column",
    [
        ("['a' 'b', 'c']", "missing ','", 6),
        ("['resnet18' 'transformer', 'resnet50']", "never joined", 13),
        ("[a 'b']", "missing ','", 4),
        ("[1 [2]]", "missing ','", 4),
        ("[]", "empty list", 1),
        ("[1, 2", "never closed", 1),
        ("[[1, 2]", "never closed", 1),
        ("[1, 2)", "does not close", 6),
        ("1, 2]", "closes nothing", 5),
        ("uniform(0, 1", "never closed", 8),
        ("{a: 1", "never closed", 1),
        ("{a 1}", "expected ': '", 5),
        ("unifrom(0, 1)", "did you mean 'uniform'", 1),
        ("foo(1)", "unknown function 'foo'", 1),
        ("uniform(0)", "takes 2 or 3 arguments", 1),
        ("uniform(0, 1, 2, 3)", "takes 2 or 3 arguments", 1),
        ("range()", "takes 1 to 3 arguments", 1),
        ("linspace(0, 1)", "takes 3 arguments", 1),
        ("uniform(a, 1)", "must be a number", 9),
        ("range(0, '5')", "must be a number", 10),
        ("range(0, true)", "must be a number", 10),
        ("uniform(1, 0)", "low must be below high", 12),
        ("uniform(1, 1)", "low must be below high", 12),
        ("randint(5, 1)", "low must be below high", 12),
        ("randint(1.5, 3)", "whole numbers", 1),
        ("loguniform(0, 1)", "must be positive", 12),
        ("qloguniform(-1, 1, 0.1)", "must be positive", 13),
        ("quniform(0, 1, 0)", "q must be positive", 16),
        ("qnormal(0, 1, -1)", "q must be positive", 15),
        ("normal(0, 0)", "scale", 11),
        ("quniform(0.01, 0.02, 0.1)", "no multiple of q", 22),
        ("uniform(0, 1, 0)", "at least 1", 15),
        ("uniform(0, 1, -3)", "at least 1", 15),
        ("uniform(0, 1, 2.5)", "whole number", 15),
        ("linspace(0, 1, 0)", "at least 1", 16),
        ("logspace(0, 1, 0)", "at least 1", 16),
        ("logspace(0, 1, 3, -2)", "base must be positive", 19),
        ("logspace(0, 400, 3)", "overflows", 1),
        ("geomspace(0, 1, 3)", "must not be zero", 11),
        ("geomspace(-1, 1, 3)", "same sign", 15),
        ("range(0, 1, 0)", "must not be zero", 13),
        ("range(5, 1)", "is empty", 1),
        ("range(1, 5, -1)", "is empty", 1),
        ("range(0, 1000000)", "more than", 1),
        ("pvalues([[a, 0.2], [b, 0.7]])", "sum to 0.9", 9),
        ("pvalues([[a, 0.2], [b, 0.9]])", "sum to 1.1", 9),
        ("pvalues([[a, 1.5], [b, -0.5]])", "between 0 and 1", 10),
        ("pvalues([[a, x], [b, 1]])", "between 0 and 1", 10),
        ("pvalues([[a, 0.5, 1]])", "not a [value, probability] pair", 10),
        ("pvalues([])", "at least one", 9),
        ("pvalues(a, b)", "one list", 1),
        ("choice()", "at least one value", 1),
        ("uniform(0, 1) x", "whole EXPR", 15),
        ("uniform(0, 1), 3", "whole EXPR", 14),
        ("[1, range(0, 2)]", "whole EXPR", 5),
        ("1, 2,", "expected a value", 6),
        ("[1,,2]", "expected a value", 4),
        ("a: b", "quote a value", 2),
        ("'abc", "unterminated string", 1),
        ('"abc', "unterminated string", 1),
        ('"a\\q"', "unknown escape", 3),
        ("  ", "empty EXPR", 3),
    ],
)
def test_syntax_errors_point_at_the_character(refused, text, fragment, column):
    message = refused(SweepSyntaxError, parse_expr, text)
    assert fragment in message
    assert f"at column {column} of" in message


def test_empty_expr_is_refused(refused):
    assert "empty EXPR" in refused(SweepSyntaxError, parse_expr, "")


def test_unknown_function_lists_the_known_ones(refused):
    message = refused(SweepSyntaxError, parse_expr, "logspce(0, 1, 3)")
    assert "did you mean 'logspace'" in message
    for name in ("choice", "range", "linspace", "geomspace", "pvalues", "randint", "qlognormal"):
        assert name in message


def test_errors_in_a_flag_point_into_the_flag(refused):
    message = refused(SweepSyntaxError, parse_set, "train.lr=uniform(1, 0)")
    assert "at column 21 of 'train.lr=uniform(1, 0)'" in message


def test_multi_line_text_gives_a_one_line_message(refused):
    refused(SweepSyntaxError, parse_set, "lr=[1,\n2")
    refused(SweepSyntaxError, parse_expr, "[1,\r\n 'a'\n 'b']")
