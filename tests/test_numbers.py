"""The one number predicate: bools are never numbers; NaN and the infinities are numbers, finite or not, orderable or not."""

import math

import pytest

from gitexp.numbers import finite, is_number, orderable

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("value", "number", "as_finite", "as_orderable"),
    [
        (3, True, 3.0, 3.0),
        (0.5, True, 0.5, 0.5),
        (True, False, None, None),
        (NAN, True, None, None),
        (INF, True, None, INF),
        (-INF, True, None, -INF),
        ("1", False, None, None),
        (None, False, None, None),
    ],
)
def test_number_questions(value, number, as_finite, as_orderable):
    assert is_number(value) is number
    assert finite(value) == as_finite
    assert orderable(value) == as_orderable
