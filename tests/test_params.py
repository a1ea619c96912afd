"""Params files: values spliced in, every other byte left as it was."""

import pytest
import yaml

from gitexp.errors import UsageError
from gitexp.params import ParamsFile, check_value_type, render_yaml_value

RICH_YAML = """\
# top comment
model:   # trailing comment on a mapping
  name: "resnet"      # double quoted
  alias: 'r50'
  depth: 50
  dropout: 0.50
  decay: 1.0e-4
  hex: 0x1F
  flags: [a, b, 'c']
  layers:
    - units: 128
      act: relu
    - units: 64
      act: tanh
  notes: |
    block text
    kept
data:
  path: data/train.csv   # plain string
  ratio: .8
empty: ~
"""


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b) if x != y]


def test_untouched_lines_stay_byte_identical():
    params = ParamsFile("params.yaml", RICH_YAML)
    out = params.render({"model.depth": 101, "model.layers.1.units": 32, "data.ratio": 0.75})
    assert changed_lines(RICH_YAML, out) == [
        ("  depth: 50\n", "  depth: 101\n"),
        ("    - units: 64\n", "    - units: 32\n"),
        ("  ratio: .8\n", "  ratio: 0.75\n"),
    ]


def test_quoting_style_of_replaced_strings_is_kept():
    params = ParamsFile("params.yaml", RICH_YAML)
    out = params.render({"model.name": "vit", "model.alias": "v1", "data.path": "data/other.csv"})
    assert changed_lines(RICH_YAML, out) == [
        ('  name: "resnet"      # double quoted\n', '  name: "vit"      # double quoted\n'),
        ("  alias: 'r50'\n", "  alias: 'v1'\n"),
        ("  path: data/train.csv   # plain string\n", "  path: data/other.csv   # plain string\n"),
    ]


@pytest.mark.parametrize(
    "value",
    [1e-05, 1e20, 0.1, -3, True, None, "yes", "1.5", "a: b", "it's", "x\ny", "$(rm -rf /)", "${{ github.token }}", [1, "a"]],
)
def test_values_read_back_identically_by_yaml_readers(value):
    params = ParamsFile("params.yaml", RICH_YAML)
    out = params.render({"data.path": value})
    assert yaml.safe_load(out)["data"]["path"] == value  # PyYAML: YAML 1.1, as most training scripts read it
    assert ParamsFile("params.yaml", out).get("data.path") == value


def test_block_collection_is_replaced_by_round_trip():
    params = ParamsFile("params.yaml", RICH_YAML)
    out = params.render({"model.layers": [1, 2]})
    assert ParamsFile("params.yaml", out).get("model.layers") == [1, 2]
    assert "# top comment" in out and 'name: "resnet"      # double quoted' in out


def test_json_params_file_keeps_layout():
    text = '{\n  "train": {\n    "lr": 0.1,\n    "name": "a"\n  }\n}\n'
    out = ParamsFile("params.json", text).render({"train.lr": 0.5, "train.name": "b\"c"})
    assert out == '{\n  "train": {\n    "lr": 0.5,\n    "name": "b\\"c"\n  }\n}\n'


def test_toml_params_file():
    text = "# comment\n[train]\nlr = 0.1 # rate\nepochs = 3\n"
    out = ParamsFile("params.toml", text).render({"train.epochs": 5})
    assert out == "# comment\n[train]\nlr = 0.1 # rate\nepochs = 5\n"


def test_unknown_key_names_the_closest():
    with pytest.raises(UsageError, match=r"no key 'model.dept'.*model.depth"):
        ParamsFile("params.yaml", RICH_YAML).get("model.dept")


def test_unparseable_file_is_one_line_error():
    with pytest.raises(UsageError) as info:
        ParamsFile("params.yaml", "a: [1, 2\nb: 3\n")
    assert "\n" not in str(info.value)


def test_text_where_file_has_number_needs_explicit_quotes():
    with pytest.raises(UsageError, match="is a number"):
        check_value_type("train.lr", 0.1, "fast", explicit_string=False)
    check_value_type("train.lr", 0.1, "fast", explicit_string=True)
    check_value_type("train.lr", 0.1, 5, explicit_string=False)


def test_float_rendering_is_yaml11_and_yaml12_compatible():
    assert render_yaml_value(1e-05) == "1.0e-05"
    assert render_yaml_value(2e20) == "2.0e+20"
    assert render_yaml_value(float("inf")) == ".inf"
