"""Params files: look values up and write changed copies that differ only where asked.

YAML and JSON files are composed into a node graph (``yaml_graph``) that knows
where every value starts and ends in the text and which values are reached
through anchors, aliases and merge keys; a trial's copy splices the new values'
text into those spans, so comments, key order, quoting and number formats of
every untouched line stay byte-identical, and writing a thousand copies costs
little. A key set through a merge key gets an entry of its own in the mapping
that merges, and the values DVC would leave as they were stay so, as with
``dvc exp run -S``. Values that replace a block collection fall back to a
ruamel.yaml round-trip of the whole document. TOML goes through tomlkit, which
keeps formatting on its own. Every rendered copy is re-read and compared with
the values DVC would write before it is used.

Reading alone is ``params_read``; a value's text is ``yaml_text``; plain values
by dotted key (set, copy, compare, check a user's value) are ``param_values``.
"""

from __future__ import annotations

import difflib
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, ScalarNode

from gitexp.errors import UsageError
from gitexp.project.param_values import (
    assign,
    first_difference,
    flatten_keys,
    key_order,
    plain_copy,
    refuse_unwritable,
    same,
    shown,
    with_item,
)
from gitexp.project.params_read import LOADER, first_line, kind_of, read_values
from gitexp.project.yaml_graph import (
    Alias,
    Edit,
    Entry,
    Graph,
    RecursiveDocument,
    Step,
    apply_edits,
    list_index,
    node_of,
)
from gitexp.project.yaml_text import escaped_json, number_token, quoted_where_unprintable, render_yaml_value


@dataclass(frozen=True)
class _Plan:
    """How one key is written: ``edits``, the (mapping, key) they set, and the entries that keep old values."""

    edits: list[Edit]
    slot: tuple[int, str]
    kept: list[tuple[tuple[int, str], Edit]]


def _per_key(method):
    """A method of (self, key) computed once per file and key: each trial's copy asks again."""

    @functools.wraps(method)
    def cached(self, key):
        memo = self.__dict__.setdefault("_memo_" + method.__name__, {})
        if key not in memo:
            memo[key] = method(self, key)
        return memo[key]

    return cached


class ParamsFile:
    """One params file's text and values, addressed by dotted keys (``train.lr``, ``layers.0``)."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self.kind = kind_of(path)
        self.data = read_values(path, text)
        if not isinstance(self.data, Mapping):
            raise UsageError(
                f"{path} holds {type(self.data).__name__} {shown(self.data)} at its top, where params files hold a mapping "
                "of keys to values (as DVC reads them): write it as key: value lines"
            )

    @cached_property
    def _graph(self) -> Graph:
        """The file's nodes and their spans, composed only when a copy is written."""
        try:
            return Graph(self.text)
        except Exception as exc:  # ruamel.yaml's own error types
            raise UsageError(f"{self.path} cannot be parsed ({first_line(exc)}): fix the file and commit it") from None

    # -- reading -------------------------------------------------------------

    def keys(self) -> list[str]:
        return list(flatten_keys(self.data))

    def get(self, key: str) -> Any:
        """The value at ``key``, merge keys resolved; an unknown key is refused with the closest existing ones."""
        node = self.data
        for part in key.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and list_index(part, len(node)) is not None:
                node = node[int(part)]
            else:
                raise UsageError(self._unknown_key_message(key))
        return node

    def _unknown_key_message(self, key: str) -> str:
        close = difflib.get_close_matches(key, self.keys(), n=3, cutoff=0.5)
        names = ", ".join(name if name.isprintable() else repr(name) for name in (close or self.keys()[:8]))
        hint = f"did you mean {names}?" if close else f"its keys are {names or 'none'}"
        return f"{self.path} has no key {key!r}: {hint}"

    # -- writing -------------------------------------------------------------

    def render(self, updates: Mapping[str, Any]) -> str:
        """The file's text with ``updates`` applied as ``dvc exp run -S`` applies them, nothing else changed."""
        if not updates:
            return self.text
        spliced = self._number_splice(updates)
        if spliced is not None:
            text, shape = spliced
        else:
            for key, value in updates.items():  # an unknown key is refused in every format, as dvc exp run -S refuses it
                self.get(key)
                refuse_unwritable(key, value)
            if self.kind == "toml":
                text = self._render_toml(updates)
                self._verify(text, updates)
                return text
            text, shape = self._render_in_place(updates)
        verified = self.__dict__.setdefault("_verified_shapes", set())
        if shape is None or shape not in verified:
            self._verify(text, updates)
            if shape is not None:
                verified.add(shape)
        return text

    def _render_in_place(self, updates: Mapping[str, Any]) -> tuple[str, tuple | None]:
        """The copy's text, and its shape when every value is one number token spliced into the file.

        Two copies of one shape differ only in tokens that read back as the number each
        spells wherever they stand (see ``number_token``), so once one copy of a shape
        has been re-read and compared, the others need not be: a queue of 100,000
        trials re-reads its file once per shape instead of once per trial.
        """
        plans = [self._plan(key, value) for key, value in updates.items()]
        if any(plan is None for plan in plans):
            return self._render_roundtrip(updates), None
        written = {plan.slot for plan in plans}
        kept = {slot: edit for plan in plans for slot, edit in plan.kept if slot not in written}
        edits = [edit for plan in plans for edit in plan.edits] + list(kept.values())
        text = apply_edits(self.text, edits)
        shape = _shape(updates, plans, edits)
        if text is None or len(written) < len(plans):  # two keys write one value: one key at a time
            text = self.text
            for key, value in updates.items():
                text = ParamsFile(self.path, text)._render_in_place({key: value})[0]
            shape = None
        return text, shape

    def _plan(self, key: str, value: Any) -> _Plan | None:
        """The text edits that set ``key``; None where a block collection must be replaced (by a round-trip).

        DVC replaces the first value on the key's way down that is not a mapping
        (the "slot", a scalar or a list) in the mapping that holds it, and every
        other mapping keeps its own copy of what it merged. So a slot reached
        through a merge key becomes an entry of the merging mapping, and the
        mappings that merged the slot's old value get that value as an entry.
        """
        steps = self._steps(key)
        slot = _slot_index(steps)
        if slot is None:
            return None
        self._keys_dvc_changes(key)  # refuses a change DVC would drop
        parts = key.split(".")
        old = self.get(".".join(parts[: slot + 1]))
        new = value if slot == len(parts) - 1 else with_item(old, parts[slot + 1 :], value)
        edits = self._slot_edits(steps, slot, new, value)
        if edits is None:
            return None
        step = steps[slot]
        if step.entry is None:
            return _Plan(edits, (id(step.parent), parts[slot]), [])
        kept_text = self._value_text(old, node_of(step.entry.value))
        inheritors = self._graph.inheritors(step.parent, step.entry.key)
        kept = [((id(m), step.entry.key), self._graph.insertion(m, self._key_text(step.entry), kept_text)) for m in inheritors]
        return _Plan(edits, (id(step.parent), step.entry.key), kept)

    def _slot_edits(self, steps: list[Step], slot: int, new: Any, value: Any) -> list[Edit] | None:
        graph, step = self._graph, steps[slot]
        node = node_of(step.value)
        if step.entry is not None and step.entry.owner is not step.parent:  # reached through a merge key
            return [graph.insertion(step.parent, self._key_text(step.entry), self._render_value(new, node))]
        if isinstance(step.value, Alias):
            return [Edit(step.value.start, step.value.end, self._render_value(new, node))]
        aliases = graph.aliases_of(node)
        if aliases:  # the places naming this value keep it: its anchor moves to the first of them
            if not _spliceable(node):
                return None
            moved = Edit(aliases[0].start, aliases[0].end, graph.source(node))
            return [Edit(node.start_mark.index, node.end_mark.index, self._render_value(new, node)), moved]
        if any(_names_shared_value(graph, inner) for inner in steps[slot + 1 :]):
            target, rendered = node, self._render_value(new, node)
        else:
            target = node_of(steps[-1].value)
            rendered = self._render_value(value, target)
        if not _spliceable(target):
            return None
        return [Edit(graph.value_start(target), target.end_mark.index, rendered)]

    @_per_key
    def _keys_dvc_changes(self, key: str) -> list[str]:
        """The keys ``dvc exp run -S key=...`` changes: ``key``, and the same key under every other path to
        the mapping holding its slot when aliases share that mapping. DVC writes each path in turn and the
        last one wins, so a change under another path would be dropped: that is refused instead."""
        if self.kind == "toml":
            return [key]
        steps = self._steps(key)
        slot = _slot_index(steps)
        if slot is None or not isinstance(steps[slot].parent, MappingNode):
            return [key]
        parts = key.split(".")
        paths = self._graph.paths_to(steps[slot].parent)
        changed = [".".join((*path, *parts[slot:])) for path in paths]
        if paths[-1] != tuple(parts[:slot]):
            raise UsageError(
                f"{self.path}: {key} and {changed[-1]} are the same mapping in the YAML (an anchor used again "
                f"through an alias or merge key), and dvc exp run -S keeps only the value set under the last of "
                f"them: set {changed[-1]} to change it in all {len(changed)} places, or give "
                f"{'.'.join(parts[:slot])} a mapping of its own"
            )
        return changed

    @_per_key
    def _steps(self, key: str) -> list[Step]:
        try:
            steps = self._graph.walk(key.split("."))
        except RecursiveDocument as exc:
            raise UsageError(f"{self.path} has an alias inside itself at {exc}: replace it with the values") from None
        if steps is None:
            raise UsageError(self._unknown_key_message(key))
        return steps

    def _key_text(self, entry: Entry) -> str:
        text = self._graph.source(entry.key_node)
        return text if not entry.key_node.anchor and "\n" not in text else render_yaml_value(entry.key)

    def _value_text(self, value: Any, node: Any) -> str:
        """A value as the file writes it (when that is one plain line), else rendered."""
        text = self._graph.source(node)
        if _spliceable(node) and not node.anchor and "\n" not in text:
            return text
        return self._render_value(value, node)

    def _render_value(self, value: Any, old: Any) -> str:
        if self.kind == "json":
            return escaped_json(value)
        style = old.style if isinstance(old, ScalarNode) else None
        return render_yaml_value(value, style)

    def _render_roundtrip(self, updates: Mapping[str, Any]) -> str:
        rt = YAML()
        rt.preserve_quotes = True
        rt.width = 4096
        document = rt.load(self.text)
        for key, value in updates.items():
            assign(document, key, quoted_where_unprintable(value))
        out = io.StringIO()
        rt.dump(document, out)
        return out.getvalue()

    def _render_toml(self, updates: Mapping[str, Any]) -> str:
        import tomlkit

        document = tomlkit.parse(self.text)
        try:  # tomlkit's own failures: None, or a value where an array of tables holds only tables
            for key, value in updates.items():
                assign(document, key, value)
            return tomlkit.dumps(document)
        except Exception:
            asked = ", ".join(f"{key!r} = {shown(value)}" for key, value in updates.items())
            raise UsageError(
                f"{self.path}: TOML cannot hold {asked} (TOML has no null, and an array of tables holds only tables): "
                "give a number, text, true/false, a list or a table"
            ) from None

    def copy_values(self, text: str, updates: Mapping[str, Any]) -> Any | None:
        """The values of ``text`` without parsing it, when it is the copy ``render(updates)`` writes with number
        tokens only, of a shape whose first copy read back as these values in this order; else None (read it).

        A show of 10,000 trials then parses each params file once per shape instead of once per trial.
        """
        spliced = self._number_splice(updates)
        if spliced is None or spliced[0] != text:
            return None
        shape = spliced[1]
        expected = self._expected(updates)
        checked = self.__dict__.setdefault("_read_shapes", {})
        if shape not in checked:
            actual = read_values(self.path, text)
            checked[shape] = same(actual, expected) and key_order(actual) == key_order(expected)
        return expected if checked[shape] else None

    def _number_splice(self, updates: Mapping[str, Any]) -> tuple[str, tuple] | None:
        """The copy with ``updates`` and its shape, when every value is a number token spliced into its key's span
        (found once per key), else None. The copy is the one ``_render_in_place`` makes, without planning each
        key again for each trial: 10,000 trials of one key cost a splice each."""
        if self.kind == "toml" or any(type(value) not in (int, float) for value in updates.values()):
            return None
        spliced = []
        for key, value in updates.items():
            span, token = self._number_span(key, value), self._render_value(value, None)
            kind = number_token(token, value)
            if span is None or kind is None:
                return None
            spliced.append((*span, key, kind, token))
        spliced.sort()
        if any(one[1] > other[0] for one, other in zip(spliced, spliced[1:])):
            return None
        pieces, at = [], 0
        for start, end, _, _, token in spliced:
            pieces += [self.text[at:start], token]
            at = end
        shape = tuple((key, start, end, kind) for start, end, key, kind, _ in spliced)
        return "".join(pieces) + self.text[at:], shape

    def _number_span(self, key: str, value: Any) -> tuple[int, int] | None:
        """Where a number set at ``key`` goes: the span of the one token its copy replaces (None when setting
        it edits more, e.g. through a merge key or an anchor); found once per key, with the first value asked."""
        spans = self.__dict__.setdefault("_number_spans", {})
        if key not in spans:
            try:
                plan = self._plan(key, value)
            except UsageError:
                plan = None
            simple = plan is not None and len(plan.edits) == 1 and not plan.kept
            edit = plan.edits[0] if simple else None
            spans[key] = (edit.start, edit.end) if edit and edit.start < edit.end and edit.text == self._render_value(value, None) else None
        return spans[key]

    def _expected(self, updates: Mapping[str, Any]) -> Any:
        """The values DVC's copy with ``updates`` holds: those asked for, every other value as it was."""
        expected = plain_copy(self.data)
        for key, value in updates.items():
            for changed in self._keys_dvc_changes(key):
                assign(expected, changed, value)
        return expected

    def _verify(self, text: str, updates: Mapping[str, Any]) -> None:
        """The copy must read back as DVC's would: the values asked for, every other value as it was."""
        expected = self._expected(updates)
        try:
            actual = ParamsFile(self.path, text).data if self.kind == "toml" else yaml.load(text, Loader=LOADER)
        except yaml.YAMLError:
            actual = None
        if not same(actual, expected):
            raise self._cannot_write(updates, first_difference(expected, actual))

    def _cannot_write(self, updates: Mapping[str, Any], difference: tuple[str, Any, Any]) -> UsageError:
        where, wanted, found = difference
        return UsageError(
            f"cannot write {', '.join(updates)} into {self.path} as DVC would: {where or 'the file'} would read "
            f"{shown(found)} instead of {shown(wanted)} (the YAML writer changes how the file spells it): "
            f"write {where or 'that value'} more plainly in {self.path} (fewer digits, no special characters), or set it by hand"
        )


def _slot_index(steps: list[Step]) -> int | None:
    """The first step whose value is not a mapping: what DVC replaces as a whole (None: a mapping is set)."""
    return next((i for i, step in enumerate(steps) if not isinstance(node_of(step.value), MappingNode)), None)


def _names_shared_value(graph: Graph, step: Step) -> bool:
    """Whether a step goes through a value that other places name too (an alias, a merge key, an anchor)."""
    merged = step.entry is not None and step.entry.owner is not step.parent
    return isinstance(step.value, Alias) or merged or bool(graph.aliases_of(node_of(step.value)))


def _shape(updates: Mapping[str, Any], plans: list[_Plan], edits: list[Edit]) -> tuple | None:
    """What two copies share when they differ only in number tokens: keys, spans and each token's kind;
    None unless every key writes one number token and keeps no old value elsewhere."""
    if any(len(plan.edits) != 1 or plan.kept for plan in plans) or len(edits) != len(plans):
        return None
    kinds = [number_token(plan.edits[0].text, value) for plan, value in zip(plans, updates.values())]
    if None in kinds:
        return None
    return tuple((key, plan.edits[0].start, plan.edits[0].end, kind) for key, plan, kind in zip(updates, plans, kinds))


def _spliceable(node: Any) -> bool:
    if isinstance(node, ScalarNode):  # an empty null (``key:``) has no text to replace: its place is the next line
        return node.style in ("'", '"') or (node.style is None and node.value != "")
    return bool(getattr(node, "flow_style", False))
