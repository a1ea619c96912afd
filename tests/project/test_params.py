"""Params files: values spliced in, every other byte left as it was."""

import difflib
import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gitexp.errors import UsageError
from gitexp.project.param_values import check_value_type
from gitexp.project.params import ParamsFile
from gitexp.project.yaml_text import render_yaml_value

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


# -- merge keys, anchors and aliases: the values dvc exp run -S writes, every other line kept ---------

MERGED_YAML = """\
# shared settings
defaults: &defaults
  lr: 0.1   # learning rate
  epochs: 3
  opt: {momentum: 0.9}
train:
  <<: *defaults
  batch: 32
eval:
  <<: *defaults
  epochs: 1
"""


def dvc_reads(text: str):
    """Values as DVC reads a params file (ruamel.yaml, merge keys resolved)."""
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(text)


def test_keys_reached_through_a_merge_key_are_read_and_hinted():
    params = ParamsFile("params.yaml", MERGED_YAML)
    assert params.get("train.lr") == 0.1 and params.get("eval.epochs") == 1 and params.get("train.opt.momentum") == 0.9
    assert {"train.lr", "train.epochs", "eval.lr", "eval.opt.momentum"} <= set(params.keys())
    with pytest.raises(UsageError, match=r"no key 'train.lrr': did you mean train.lr"):
        params.get("train.lrr")


def test_setting_a_merged_key_gives_the_merging_mapping_an_entry_of_its_own():
    out = ParamsFile("params.yaml", MERGED_YAML).render({"train.lr": 0.5})
    assert out == MERGED_YAML.replace("  batch: 32\n", "  batch: 32\n  lr: 0.5\n")
    assert dvc_reads(out)["train"]["lr"] == 0.5 and dvc_reads(out)["eval"]["lr"] == 0.1


def test_setting_the_anchored_key_leaves_the_mappings_that_merge_it_as_they_were():
    # dvc exp run -S defaults.lr=0.5 writes lr: 0.1 into train and eval: only defaults changes
    out = ParamsFile("params.yaml", MERGED_YAML).render({"defaults.lr": 0.5})
    assert out == MERGED_YAML.replace("lr: 0.1   #", "lr: 0.5   #").replace("  batch: 32\n", "  batch: 32\n  lr: 0.1\n").replace(
        "  epochs: 1\n", "  epochs: 1\n  lr: 0.1\n"
    )
    values = dvc_reads(out)
    assert (values["defaults"]["lr"], values["train"]["lr"], values["eval"]["lr"]) == (0.5, 0.1, 0.1)


def test_an_own_entry_next_to_a_merge_key_is_spliced():
    out = ParamsFile("params.yaml", MERGED_YAML).render({"eval.epochs": 2, "train.batch": 64})
    assert changed_lines(MERGED_YAML, out) == [("  batch: 32\n", "  batch: 64\n"), ("  epochs: 1\n", "  epochs: 2\n")]


def test_a_mapping_shared_through_merge_keys_changes_everywhere_from_its_last_path_only():
    # train.opt, eval.opt and defaults.opt are one mapping; DVC writes each path in turn, the last (eval) wins
    params = ParamsFile("params.yaml", MERGED_YAML)
    for key in ("defaults.opt.momentum", "train.opt.momentum"):
        with pytest.raises(UsageError, match=r"keeps only the value set under the last of them: set eval.opt.momentum") as info:
            params.render({key: 0.5})
        assert "\n" not in str(info.value)
    out = params.render({"eval.opt.momentum": 0.5})
    assert changed_lines(MERGED_YAML, out) == [("  opt: {momentum: 0.9}\n", "  opt: {momentum: 0.5}\n")]
    assert {dvc_reads(out)[name]["opt"]["momentum"] for name in ("defaults", "train", "eval")} == {0.5}


def test_flow_mapping_with_a_merge_key_gets_the_entry_inline():
    text = MERGED_YAML + "test: {<<: *defaults, batch: 8}   # inline\n"
    out = ParamsFile("params.yaml", text).render({"test.epochs": 9})
    assert out == text.replace("batch: 8}", "batch: 8, epochs: 9}")


def test_merge_list_first_mapping_wins_as_dvc_reads_it():
    text = "x: &x {lr: 0.1, k: 1}\ny: &y {lr: 0.2, j: 2}\nz:\n  <<: [*x, *y]\n  own: 3\n"
    params = ParamsFile("params.yaml", text)
    assert params.get("z.lr") == 0.1 == dvc_reads(text)["z"]["lr"]
    out = params.render({"x.lr": 0.5, "z.j": 7})
    assert out == "x: &x {lr: 0.5, k: 1}\ny: &y {lr: 0.2, j: 2}\nz:\n  <<: [*x, *y]\n  own: 3\n  j: 7\n  lr: 0.1\n"


def test_anchored_scalar_and_list_move_their_anchor_to_the_first_alias():
    text = "s: &s 5\nt: *s\nl: &l [1, 2]   # sizes\nm: *l\nn: *l\n"
    params = ParamsFile("params.yaml", text)
    assert params.render({"s": 6}) == "s: 6\nt: &s 5\nl: &l [1, 2]   # sizes\nm: *l\nn: *l\n"
    assert params.render({"t": 6}) == "s: &s 5\nt: 6\nl: &l [1, 2]   # sizes\nm: *l\nn: *l\n"
    assert params.render({"l.0": 9}) == "s: &s 5\nt: *s\nl: [9, 2]   # sizes\nm: &l [1, 2]\nn: *l\n"
    assert params.render({"n.1": 9}) == "s: &s 5\nt: *s\nl: &l [1, 2]   # sizes\nm: *l\nn: [1, 9]\n"


def test_anchor_without_aliases_is_kept_when_its_value_is_spliced():
    assert ParamsFile("params.yaml", "a: &a 1\nb: 2\n").render({"a": 3}) == "a: &a 3\nb: 2\n"


def test_several_keys_of_one_merge_at_once():
    out = ParamsFile("params.yaml", MERGED_YAML).render({"defaults.lr": 0.5, "train.lr": 0.7, "eval.epochs": 4})
    values = dvc_reads(out)
    assert (values["defaults"]["lr"], values["train"]["lr"], values["eval"]["lr"], values["eval"]["epochs"]) == (0.5, 0.7, 0.1, 4)
    assert [line for line in MERGED_YAML.splitlines() if line not in out.splitlines()] == ["  lr: 0.1   # learning rate", "  epochs: 1"]


@st.composite
def anchored_documents(draw):
    """A params.yaml with anchored mappings, mappings merging them (block and flow, one or a list),
    plain aliases of mappings, an anchored scalar and list with aliases, in a random order."""
    ints = st.integers(0, 99)
    lines, anchors = [], []
    for i in range(draw(st.integers(1, 2))):
        body = [f"  k{j}: {draw(ints)}" for j in range(draw(st.integers(1, 3)))]
        if draw(st.booleans()):
            body.append(f"  opt: {{m: {draw(ints)}}}" if draw(st.booleans()) else f"  opt:\n    m: {draw(ints)}")
        if draw(st.booleans()):
            body.append(f"  l: [{draw(ints)}, {draw(ints)}]")
        if anchors and draw(st.booleans()):
            body.insert(0, f"  <<: *{draw(st.sampled_from(anchors))}")
        lines.append(f"base{i}: &b{i}\n" + "\n".join(body))
        anchors.append(f"b{i}")
    lines.append(f"s: &s {draw(ints)}\nl: &l [{draw(ints)}, {draw(ints)}]")
    rest = []
    for i in range(draw(st.integers(1, 3))):
        merged = draw(st.lists(st.sampled_from(anchors), min_size=1, max_size=2, unique=True))
        merge = f"*{merged[0]}" if len(merged) == 1 else "[" + ", ".join(f"*{name}" for name in merged) + "]"
        own = [f"k{j}: {draw(ints)}" for j in draw(st.lists(st.integers(0, 3), max_size=2, unique=True))]
        if draw(st.booleans()):
            rest.append(f"sec{i}: {{" + ", ".join([f"<<: {merge}", *own]) + "}")
        else:
            rest.append(f"sec{i}:\n" + "\n".join(f"  {entry}" for entry in [f"<<: {merge}", *own]))
    rest += [f"alias{i}: *{name}" for i, name in enumerate(draw(st.lists(st.sampled_from(anchors), max_size=2)))]
    rest += draw(st.lists(st.sampled_from(["t: *s", "m: *l", "n: [*s, 3]"]), max_size=3, unique=True))
    return "\n".join(lines + draw(st.permutations(rest))) + "\n"


def dvc_sets(text: str, updates: dict) -> str:
    """What ``dvc exp run -S key=value ...`` writes into params.yaml (DVC's own function for -S)."""
    import tempfile

    from dvc.utils.hydra import apply_overrides

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/params.yaml"
        with open(path, "w") as out:
            out.write(text)
        apply_overrides(path, [f"{key}={value}" for key, value in updates.items()])
        with open(path) as written:
            return written.read()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_anchors_and_merge_keys_give_dvcs_values_and_keep_other_lines(data):
    text = data.draw(anchored_documents())
    params = ParamsFile("params.yaml", text)
    numbers = [key for key in params.keys() if isinstance(params.get(key), int)]
    keys = data.draw(st.lists(st.sampled_from(numbers), min_size=1, max_size=2, unique=True))
    updates = {key: params.get(key) + 100 + i for i, key in enumerate(keys)}
    expected = dvc_reads(dvc_sets(text, updates))
    try:
        out = params.render(updates)
    except UsageError as refused:  # only where DVC drops the change
        assert "keeps only the value set under the last" in str(refused)
        dropped = str(refused).split(": ")[1].split(" and ")[0]
        assert ParamsFile("params.yaml", dvc_sets(text, updates)).get(dropped) != updates[dropped]
        return
    assert dvc_reads(out) == expected == ParamsFile("params.yaml", out).data
    assert len(rewritten_lines(text, out)) <= 2 * len(updates)  # the values' lines and moved anchors


def rewritten_lines(before: str, after: str) -> list[str]:
    """Lines of ``before`` that ``after`` does not keep as they were (a flow mapping given one more entry is kept)."""
    old, new = before.splitlines(), after.splitlines()
    rewritten = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            extended = [line for line in old[i1:i2] if any(n.startswith(line[:-1] + ", ") and n.endswith("}") for n in new[j1:j2])]
            rewritten += [line for line in old[i1:i2] if line not in extended]
    return rewritten


def test_gitexp_queue_writes_the_values_dvc_exp_run_queues(project, run_gitexp):
    import subprocess
    import sys

    (project.root / "params.yaml").write_text(MERGED_YAML)
    dvc_yaml = project.root / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("params: [train]", "params: [train, eval, defaults]"))
    project.run("commit", "-qam", "params with a merge key")
    sets = ["defaults.lr=0.5", "train.epochs=5", "eval.opt.momentum=0.25"]
    dvc = [sys.executable, "-m", "dvc", "exp", "run", "--queue", *(arg for s in sets for arg in ("-S", s))]
    subprocess.run(dvc, cwd=project.root, check=True, capture_output=True)
    dvc_written = project.run("show", "refs/exps/celery/stash:params.yaml")

    assert run_gitexp(project.root, "queue", "--name", "m", *(arg for s in sets for arg in ("--set", s))).code == 0
    ours = project.run("show", "refs/heads/exp/m/t001:params.yaml")
    assert dvc_reads(ours) == dvc_reads(dvc_written)
    assert rewritten_lines(MERGED_YAML, ours) == ["  lr: 0.1   # learning rate", "  opt: {momentum: 0.9}"]


def test_queue_checks_value_types_of_merged_keys(project, run_gitexp, repo_state):
    (project.root / "params.yaml").write_text(MERGED_YAML)
    project.run("commit", "-qam", "params with a merge key")
    before = repo_state(project)
    result = run_gitexp(project.root, "queue", "--set", "train.lr=fast")
    assert result.code == 2 and "train.lr is a number in the params file" in result.err
    result = run_gitexp(project.root, "queue", "--set", "train.opt.momentum=0.5")
    assert result.code == 2 and "set eval.opt.momentum to change it in all 3 places" in result.err
    assert repo_state(project) == before


NUMBER_KEYS = ["model.depth", "model.dropout", "model.layers.0.units", "data.ratio", "model.hex", "model.decay"]
numbers = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(0, 10**6).map(lambda n: n / 1000),
)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_copies_of_one_shape_read_back_as_a_fresh_rendering_reads_them(data):
    """One ParamsFile writes copy after copy (as queue does), re-reading only a shape's first copy: each copy is
    byte-identical to the fully checked rendering of a fresh ParamsFile and reads back as the values asked for."""
    text = data.draw(st.sampled_from([RICH_YAML, data.draw(anchored_documents())]))
    shared = ParamsFile("params.yaml", text)
    keys = [key for key in NUMBER_KEYS if key in shared.keys()] or [k for k in shared.keys() if isinstance(shared.get(k), int)]
    chosen = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True))
    for values in data.draw(st.lists(st.tuples(*[numbers] * len(chosen)), min_size=2, max_size=6)):
        updates = dict(zip(chosen, values))
        try:
            fresh = ParamsFile("params.yaml", text).render(updates)
        except UsageError:
            continue
        out = shared.render(updates)
        assert out == fresh
        assert out == ParamsFile("params.yaml", text)._render_in_place(updates)[0]  # the splice is the planned copy, key by key
        read = ParamsFile("params.yaml", out)
        assert all(read.get(key) == value or value != value for key, value in updates.items())
        copied = shared.copy_values(out, updates)  # what show takes from a trial's record instead of parsing
        assert copied is None or json.dumps(copied) == json.dumps(read.data)


def test_a_queue_of_numbers_re_reads_its_params_file_once_per_shape(monkeypatch):
    params = ParamsFile("params.yaml", RICH_YAML)
    checks = []
    verify = ParamsFile._verify
    monkeypatch.setattr(ParamsFile, "_verify", lambda self, text, updates: checks.append(text) or verify(self, text, updates))
    copies = [params.render({"model.depth": depth, "model.dropout": depth / 8}) for depth in range(1, 101)]
    assert len(set(copies)) == 100 and ParamsFile("params.yaml", copies[-1]).get("model.dropout") == 12.5
    assert len(checks) == 1  # every copy splices an int and a plain decimal float into the same spans
    params.render({"model.depth": "deep"})  # no number token: checked on its own
    params.render({"model.dropout": 1e-30})  # an exponent is another shape
    assert len(checks) == 3


def test_values_of_a_copy_come_from_its_record_only_for_the_copy_render_writes():
    params = ParamsFile("params.yaml", RICH_YAML)
    out = params.render({"model.depth": 7, "data.ratio": 0.25})
    assert params.copy_values(out, {"model.depth": 7, "data.ratio": 0.25}) == ParamsFile("params.yaml", out).data
    assert params.copy_values(out.replace("# top comment", "# edited"), {"model.depth": 7, "data.ratio": 0.25}) is None
    assert params.copy_values(out, {"model.depth": 8, "data.ratio": 0.25}) is None
    assert params.copy_values(out, {"model.depth": 7}) is None  # the record names fewer values than the file has
    assert params.copy_values(params.render({"model.name": "x"}), {"model.name": "x"}) is None  # text: parsed
    assert params.copy_values(out, {"no.such": 1}) is None
    assert params.copy_values(RICH_YAML, {}) == params.data
