"""A script's command line as a sweep (Grid.ai's flags): which flags are axes, and what passes as written."""

from __future__ import annotations

import shlex

import pytest

from gitexp.errors import UsageError
from gitexp.sweep.script import script_sweep


def axes(argv):
    line, found = script_sweep(argv)
    return shlex.split(line), {str(axis.target): axis.dimension.values for axis in found}


def test_lists_and_functions_are_axes_and_plain_values_pass_as_written():
    words, found = axes(["python", "main.py", "--layers", "range(1, 10, 2)", "--model", "bert", "--lr", "-1e-2", "--opt=[adam, sgd]"])

    assert words == ["python", "main.py", "--layers", "{{ layers }}", "--model", "bert", "--lr", "-1e-2", "--opt={{ opt }}"]
    assert found == {"layers": (1, 3, 5, 7, 9), "opt": ("adam", "sgd")}


def test_a_toggle_flag_does_not_take_the_next_flag_as_its_value():
    words, found = axes(["python", "main.py", "--verbose", "--bar", "[True, False]", "--batch-size", "[32, 64]"])

    assert words == ["python", "main.py", "--verbose", "--bar", "{{ bar }}", "--batch-size", "{{ batch_size }}"]
    assert found == {"bar": (True, False), "batch_size": (32, 64)}


def test_a_call_of_no_sweep_function_and_comma_separated_text_pass_as_written():
    words, found = axes(["python", "main.py", "--fn", "relu(x)", "--ids", "1,2", "--path", "data/[a].csv"])

    assert words == ["python", "main.py", "--fn", "relu(x)", "--ids", "1,2", "--path", "data/[a].csv"] and found == {}


def test_strategy_none_evaluates_nothing():
    line, found = script_sweep(["python", "main.py", "--alpha", "uniform(1e-5, 1e-1, 3)"], evaluate=False)

    assert shlex.split(line) == ["python", "main.py", "--alpha", "uniform(1e-5, 1e-1, 3)"] and found == []


def test_a_flag_sweep_that_does_not_parse_is_pointed_at_within_the_flag():
    with pytest.raises(UsageError) as raised:
        script_sweep(["python", "main.py", "--beta", "[1, 2"])

    assert raised.value.message.startswith("the command's --beta: unbalanced brackets: '[' is never closed")
    assert raised.value.message.endswith("at column 8 of '--beta [1, 2': --beta >>>[1, 2")


def test_a_flag_swept_twice_is_refused():
    with pytest.raises(UsageError, match="swept twice"):
        script_sweep(["python", "main.py", "--a", "[1, 2]", "--a=[3]"])
