"""One contract for every params format gitexp writes: YAML, JSON, TOML, and YAML with merge keys.

The same values in each format's own layout, with comments where the format
has them. Whatever the format, ``ParamsFile`` reads the values DVC reads, sets a
scalar, a nested key and a list item changing only the bytes of that value
(a key reached through a merge key gets an entry of its own, as with ``dvc exp
run -S``), writes a file the format's own reader reads back with the set
values, and refuses an unknown key (naming the closest ones) and a value of
the wrong type.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field

import pytest
import tomlkit
import yaml

from gitexp.errors import UsageError
from gitexp.project.param_values import check_value_type
from gitexp.project.params import ParamsFile

VALUES = {"seed": 7, "layers.1": 32, "train.lr": 0.1, "train.name": "base", "train.epochs": 3}
SETS = {"seed": 8, "train.lr": 0.5, "layers.1": 48}  # a scalar, a nested key, a list item


@dataclass(frozen=True)
class Format:
    name: str
    path: str
    text: str
    read: object  # the format's own reader: text -> values
    changes: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)  # key -> (lines removed, added)

    def __str__(self) -> str:
        return self.name


FORMATS = [
    Format(
        "yaml",
        "params.yaml",
        "# experiment settings\n"
        "seed: 7\n"
        "layers: [16, 32, 64]  # widths\n"
        "train:\n"
        "  lr: 0.1  # learning rate\n"
        "  name: base\n"
        "  epochs: 3\n",
        yaml.safe_load,
        {
            "seed": (["seed: 7"], ["seed: 8"]),
            "train.lr": (["  lr: 0.1  # learning rate"], ["  lr: 0.5  # learning rate"]),
            "layers.1": (["layers: [16, 32, 64]  # widths"], ["layers: [16, 48, 64]  # widths"]),
        },
    ),
    Format(
        "json",
        "params.json",
        '{\n  "seed": 7,\n  "layers": [16, 32, 64],\n  "train": {\n    "lr": 0.1,\n    "name": "base",\n    "epochs": 3\n  }\n}\n',
        json.loads,
        {
            "seed": (['  "seed": 7,'], ['  "seed": 8,']),
            "train.lr": (['    "lr": 0.1,'], ['    "lr": 0.5,']),
            "layers.1": (['  "layers": [16, 32, 64],'], ['  "layers": [16, 48, 64],']),
        },
    ),
    Format(
        "toml",
        "params.toml",
        "# experiment settings\n"
        "seed = 7\n"
        "layers = [16, 32, 64]  # widths\n"
        "\n"
        "[train]\n"
        "lr = 0.1  # learning rate\n"
        'name = "base"\n'
        "epochs = 3\n",
        lambda text: tomlkit.parse(text).unwrap(),
        {
            "seed": (["seed = 7"], ["seed = 8"]),
            "train.lr": (["lr = 0.1  # learning rate"], ["lr = 0.5  # learning rate"]),
            "layers.1": (["layers = [16, 32, 64]  # widths"], ["layers = [16, 48, 64]  # widths"]),
        },
    ),
    Format(
        "yaml-merge-keys",
        "params.yaml",
        "defaults: &defaults\n"
        "  lr: 0.1  # learning rate\n"
        "  name: base\n"
        "seed: 7\n"
        "layers:\n"
        "  - 16\n"
        "  - 32\n"
        "  - 64\n"
        "train:\n"
        "  <<: *defaults\n"
        "  epochs: 3\n",
        yaml.safe_load,
        {
            "seed": (["seed: 7"], ["seed: 8"]),
            "train.lr": ([], ["  lr: 0.5"]),  # the merging mapping's own entry; the anchored one stays
            "layers.1": (["  - 32"], ["  - 48"]),
        },
    ),
]


@pytest.fixture(params=FORMATS, ids=str)
def params_format(request) -> Format:
    return request.param


def line_changes(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines ``after`` lost and gained against ``before``."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [line[2:] for line in diff if line.startswith("- ")], [line[2:] for line in diff if line.startswith("+ ")]


def test_reads_the_values(params_format):
    params = ParamsFile(params_format.path, params_format.text)
    assert {key: params.get(key) for key in VALUES} == VALUES
    assert params.get("layers") == [16, 32, 64]
    assert params.get("train") == {"lr": 0.1, "name": "base", "epochs": 3}


@pytest.mark.parametrize("key", list(SETS))
def test_setting_one_value_changes_only_its_bytes(params_format, key):
    out = ParamsFile(params_format.path, params_format.text).render({key: SETS[key]})
    assert line_changes(params_format.text, out) == params_format.changes[key]
    assert ParamsFile(params_format.path, out).get(key) == SETS[key]


def test_the_written_file_reads_back_with_the_set_values(params_format):
    out = ParamsFile(params_format.path, params_format.text).render(SETS)
    read = params_format.read(out)
    assert (read["seed"], read["train"]["lr"], read["layers"]) == (8, 0.5, [16, 48, 64])
    assert (read["train"]["name"], read["train"]["epochs"]) == ("base", 3)  # the rest as it was
    params = ParamsFile(params_format.path, out)
    assert {key: params.get(key) for key in VALUES} == {**VALUES, **SETS}


def test_an_unknown_key_is_refused_with_the_closest_keys(params_format):
    params = ParamsFile(params_format.path, params_format.text)
    with pytest.raises(UsageError, match=r"has no key 'train\.lrr': did you mean train\.lr, "):
        params.get("train.lrr")
    with pytest.raises(UsageError, match=r"has no key 'layers\.3'"):
        params.get("layers.3")
    with pytest.raises(UsageError, match=r"has no key 'train\.lrr'"):  # writing refuses it too (TOML would add it)
        params.render({"train.lrr": 1})


def test_a_value_of_the_wrong_type_is_refused(params_format):
    params = ParamsFile(params_format.path, params_format.text)
    with pytest.raises(UsageError, match=r"train\.epochs is a number in the params file but 'many' is text"):
        check_value_type("train.epochs", params.get("train.epochs"), "many", explicit_string=False)
    with pytest.raises(UsageError, match=r"train is a mapping in the params file"):
        check_value_type("train", params.get("train"), 5, explicit_string=False)
    check_value_type("train.epochs", params.get("train.epochs"), 5, explicit_string=False)  # a number is fine

