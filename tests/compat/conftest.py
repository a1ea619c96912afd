"""Fixtures of the compatibility suite (the harness itself is tests/compat/harness.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.compat.harness")  # its asserts explain themselves like a test's

from tests.compat.harness import Comparison, Feature, assert_same, compare


@pytest.fixture(autouse=True)
def stages_use_this_python(monkeypatch):
    """``python`` in a stage's cmd is the interpreter running the tests (it has dvclive), for both tools alike."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture
def same_as_dvc(tmp_path, run_gitexp):
    """``same_as_dvc(feature)``: run it through ``dvc exp run`` and gitexp; assert equal outcomes; return both."""

    def check(feature: Feature) -> Comparison:
        result = compare(feature, tmp_path, run_gitexp)
        assert_same(feature, result)
        return result

    return check


@pytest.fixture
def both_tools(tmp_path, run_gitexp):
    """``both_tools(feature)``: both tools' outcomes, for tests that assert more than equality."""
    return lambda feature: compare(feature, tmp_path, run_gitexp)
