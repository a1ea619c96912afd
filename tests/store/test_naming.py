"""Names and refs: gitexp's rules agree with git check-ref-format and refuse unsafe names."""

import subprocess

import pytest

from gitexp.errors import UsageError
from gitexp.store.naming import TrialRef, check_ref_format, generate_sweep_name, validate_name, validate_prefix

REFS = [
    "refs/heads/exp/a/t001",
    "refs/heads/exp/a..b/t1",
    "refs/heads/exp/.hidden/t1",
    "refs/heads/exp/a.lock/t1",
    "refs/heads/exp/a b/t1",
    "refs/heads/exp/a~1/t1",
    "refs/heads/exp/a^/t1",
    "refs/heads/exp/a:b/t1",
    "refs/heads/exp/a?/t1",
    "refs/heads/exp/a*/t1",
    "refs/heads/exp/a[/t1",
    "refs/heads/exp/a\\b/t1",
    "refs/heads/exp/a@{1}/t1",
    "refs/heads/exp//t1",
    "refs/heads/exp/t1.",
    "refs/heads/exp/t1/",
    "refs/heads/exp/\x01/t1",
    "refs/heads/exp/ünï/t1",
]


@pytest.mark.parametrize("ref", REFS)
def test_check_ref_format_agrees_with_git(ref):
    git = subprocess.run(["git", "check-ref-format", ref], capture_output=True).returncode == 0
    assert check_ref_format(ref) == git


@pytest.mark.parametrize("name", ["lr-sweep", "a", "v1.2_b", "x" * 100])
def test_valid_names(name):
    assert validate_name(name, "sweep") == name


@pytest.mark.parametrize("name", ["", "a b", "..", "a..b", "-x", ".x", "a/b", "x.lock", "x" * 101, "a\nb", "a$b", "ü"])
def test_invalid_names_are_refused_in_one_line(name):
    with pytest.raises(UsageError) as info:
        validate_name(name, "sweep")
    assert "\n" not in str(info.value)


def test_prefix_validation():
    assert validate_prefix("runs") == "runs/"
    assert validate_prefix("team/exp/") == "team/exp/"
    with pytest.raises(UsageError):
        validate_prefix("bad prefix/")


def test_generated_names_avoid_taken_ones():
    taken = set()
    for _ in range(50):
        name = generate_sweep_name(taken)
        assert name not in taken and validate_name(name, "sweep")
        taken.add(name)


def test_trial_ref_round_trip():
    ref = TrialRef("exp/", "s1", "t001")
    assert ref.ref == "refs/heads/exp/s1/t001"
    assert TrialRef.from_ref(ref.ref, "exp/") == ref
    assert TrialRef.from_ref("refs/heads/exp/s1/t001/extra", "exp/") is None
