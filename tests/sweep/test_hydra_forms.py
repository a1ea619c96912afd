"""DVC's ``-S`` sweep forms (Hydra's override grammar) mean in gitexp what they mean in ``dvc exp run``.

DVC's own ``get_hydra_sweeps`` (what ``dvc exp run --queue -S`` expands) is the oracle.
"""

from __future__ import annotations

import math

import pytest

from gitexp.errors import SweepSyntaxError, UsageError
from gitexp.sweep.expr import parse_set

HYDRA_FORMS = [
    "lr=range(0.1,0.5,0.1)",  # Hydra: 0.1, 0.2, 0.30000000000000004, 0.4; gitexp: 0.3 (exact decimals)
    "lr=range(1,10,2)",  # Grid.ai's example: end excluded in Hydra too
    "lr=range(5,1,-1)",
    "lr=range(1,2,0.25)",
    "lr=range(start=1,stop=4)",
    "lr=range(5)",  # Python's and Hydra's range(stop): 0, 1, 2, 3, 4
    "lr=range(2.5)",
    "lr=range(start=3)",  # Hydra's one argument is named start, yet is the stop
    "lr=range(1, step=2, stop=9)",
    "loss=choice(log,hinge)",
    "loss=choice([1,2],[3])",
    "lr=0.1,0.2",
    "lr=sort(3,1,2)",
    "lr=sort(3,1,2,reverse=true)",
    "lr=sort(range(1,4), reverse=true)",
]


def hydra_values(flag: str) -> list:
    import yaml
    from dvc.utils.hydra import get_hydra_sweeps

    return [yaml.safe_load(sweep["params.yaml"][0].split("=", 1)[1]) for sweep in get_hydra_sweeps({"params.yaml": [flag]})]


def same(ours, theirs) -> bool:
    if isinstance(ours, float) and isinstance(theirs, float):
        return math.isclose(ours, theirs, rel_tol=1e-12)
    return ours == theirs and type(ours) is type(theirs)


@pytest.mark.parametrize("flag", HYDRA_FORMS)
def test_hydra_forms_give_dvcs_values_in_dvcs_order(flag):
    ours = list(parse_set(flag).dimension.values)
    theirs = hydra_values(flag)
    assert len(ours) == len(theirs) and all(map(same, ours, theirs)), (ours, theirs)


def test_shuffle_gives_the_same_values_in_a_seeded_order():
    values = parse_set("lr=shuffle(range(0,20))", seed=3).dimension.values
    assert sorted(values) == hydra_values("lr=range(0,20)")
    assert values == parse_set("lr=shuffle(range(0,20))", seed=3).dimension.values  # Hydra's is unseeded
    assert values != tuple(range(20))


@pytest.mark.parametrize(
    "flag, fragment, column",
    [
        ("lr=interval(0,1)", "write uniform(lo, hi)", 4),
        ("lr=range()", "write range(start, stop[, step]) or range(stop)", 4),
        ("lr=range(1,foo=2)", "no argument 'foo'", 12),
        ("lr=range(stop=3, 1)", "positional argument after a keyword", 18),
        ("lr=range(1, step=2)", "stop is not given", 4),
        ("lr=sort(1,a)", "one kind", 4),
        ("lr=sort(uniform(0,1))", "not a distribution", 4),
        ("lr=shuffle(1,2,reverse=true)", "takes only values", 16),
        ("lr=sort(3,1,reverse=maybe)", "true or false", 13),
    ],
)
def test_hydra_forms_dvc_or_gitexp_refuse_point_at_the_problem(flag, fragment, column):
    with pytest.raises(SweepSyntaxError) as raised:
        parse_set(flag)
    assert fragment in raised.value.message
    assert raised.value.message.count("\n") == 0
    assert f"column {column} " in raised.value.message


def test_queue_takes_dvcs_spelling_as_dvc_exp_run_queue_would(project, run_gitexp):
    flags = ["-S", "train.lr=range(0.1,0.5,0.1)", "-S", "train.loss=choice(log,hinge)"]
    result = run_gitexp(project.root, "queue", "--name", "hy", *flags)
    assert result.code == 0, result.err
    lines = [line.split(None, 1) for line in result.out.splitlines() if line.startswith("  exp/hy/")]
    expected = [(lr, loss) for lr in (0.1, 0.2, 0.3, 0.4) for loss in ("log", "hinge")]
    assert [params for _, params in lines] == [f"train.lr={lr} train.loss={loss}" for lr, loss in expected]
    assert len(lines) == len(hydra_values("train.lr=range(0.1,0.5,0.1)")) * len(hydra_values("train.loss=choice(log,hinge)"))
    assert "lr: 0.3   # learning rate" in project.run("show", "exp/hy/t005:params.yaml")


def test_hydras_force_prefix_sets_an_existing_key_and_add_or_delete_are_refused():
    assert parse_set("++train.lr=[1,2]") == parse_set("train.lr=[1,2]")
    for flag, words in (("+train.x=1", "adds a key"), ("~train.lr", "deletes a key")):
        with pytest.raises(UsageError) as raised:
            parse_set(flag)
        assert words in raised.value.message and "and commit" in raised.value.message
