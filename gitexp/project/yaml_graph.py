"""A YAML document as a graph of nodes with anchors, aliases and merge keys, for edits in place.

ruamel.yaml's composer gives every node its span in the text but hands an alias
back as the anchored node itself, so ``b: *a`` looks like a second copy of
``a``. The composer here keeps each alias as an occurrence of its own, with its
span, so an edit can tell the one place a value is written from the places that
refer to it, and a mapping that merges others (``<<: *defaults``) can be read
the way YAML resolves it: its own keys first, then each merged mapping's, the
first one listed winning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Union

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, eq=False)
class Alias:
    """Where ``*name`` stands in the text, and the node it names."""

    node: Node
    start: int
    end: int


Occurrence = Union[Node, Alias]


def node_of(occurrence: Occurrence) -> Node:
    return occurrence.node if isinstance(occurrence, Alias) else occurrence


def end_of(occurrence: Occurrence) -> int:
    return occurrence.end if isinstance(occurrence, Alias) else occurrence.end_mark.index


@dataclass(frozen=True, eq=False)
class Entry:
    """A key as a mapping resolves it: written in ``owner``, the mapping itself or one it merges."""

    key: str
    key_node: ScalarNode
    value: Occurrence
    owner: MappingNode


@dataclass(frozen=True, eq=False)
class Step:
    """One part of a dotted key: from ``parent`` to ``value``, through ``entry`` (None in a sequence)."""

    parent: Node
    value: Occurrence
    entry: Entry | None


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` with ``text`` (an insertion when start == end)."""

    start: int
    end: int
    text: str


class RecursiveDocument(ValueError):
    """An alias inside the node it names."""


class _AliasKeepingComposer(Composer):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.parser.check_event(AliasEvent):
            event = self.parser.peek_event()
            return Alias(super().compose_node(parent, index), event.start_mark.index, event.end_mark.index)
        return super().compose_node(parent, index)


_LIST_INDEX = re.compile(r"0|[1-9][0-9]*")


def list_index(part: str, length: int) -> int | None:
    """A key part as an index into a list of ``length`` items: ASCII digits as Python writes an int (``1``, never
    ``01`` or ``¹``), below the length; else None."""
    return int(part) if _LIST_INDEX.fullmatch(part) and len(part) <= len(str(length)) and int(part) < length else None


class Graph:
    """The node graph of one YAML (or JSON) text."""

    def __init__(self, text: str):
        yaml = YAML()
        yaml.Composer = _AliasKeepingComposer
        self.text = text
        self.root = yaml.compose(text)
        self._entries: dict[int, dict[str, Entry]] = {}
        self._paths: dict[int, list[tuple[str, ...]]] = {}

    # -- reading ---------------------------------------------------------------

    def entries(self, mapping: MappingNode) -> dict[str, Entry]:
        """Every key of ``mapping`` as YAML resolves it, in the order ruamel.yaml (and so DVC) iterates them."""
        if id(mapping) not in self._entries:
            own = {
                key.value: Entry(key.value, key, value, mapping)
                for key, value in mapping.value
                if isinstance(key, ScalarNode) and key.tag != MERGE_TAG
            }
            merged: dict[str, Entry] = {}
            for source in merge_sources(mapping):
                for name, entry in self.entries(source).items():
                    merged.setdefault(name, entry)
            self._entries[id(mapping)] = {**own, **{k: e for k, e in merged.items() if k not in own}}
        return self._entries[id(mapping)]

    def walk(self, parts: list[str]) -> list[Step] | None:
        """The steps down to a dotted key, or None if the document has no such key."""
        steps, node = [], self.root
        for part in parts:
            if isinstance(node, MappingNode) and part in self.entries(node):
                entry = self.entries(node)[part]
                steps.append(Step(node, entry.value, entry))
            elif isinstance(node, SequenceNode) and list_index(part, len(node.value)) is not None:
                steps.append(Step(node, node.value[int(part)], None))
            else:
                return None
            node = node_of(steps[-1].value)
        return steps

    def paths_to(self, target: MappingNode) -> list[tuple[str, ...]]:
        """Every way down from the root through mappings to ``target``, in the order DVC visits them."""
        if id(target) not in self._paths:
            self._paths[id(target)] = [path for node, path in self._mapping_paths(self.root, (), ()) if node is target]
        return self._paths[id(target)]

    def _mapping_paths(self, node: Node, path: tuple[str, ...], above: tuple[int, ...]) -> Iterator[tuple[Node, tuple]]:
        if id(node) in above:
            raise RecursiveDocument(".".join(path))
        yield node, path
        if isinstance(node, MappingNode):
            for name, entry in self.entries(node).items():
                yield from self._mapping_paths(node_of(entry.value), (*path, name), (*above, id(node)))

    def inheritors(self, mapping: MappingNode, key: str) -> list[MappingNode]:
        """The mappings that take ``key`` from ``mapping`` through a merge key, not setting it themselves."""
        found = []
        for other in self._mappings:
            entry = self.entries(other).get(key)
            if entry is not None and entry.owner is not other:
                provider = next(source for source in merge_sources(other) if key in self.entries(source))
                if provider is mapping:
                    found.append(other)
        return found

    def aliases_of(self, node: Node) -> list[Alias]:
        """The aliases that name ``node``, in document order."""
        return self._aliases.get(id(node), [])

    @cached_property
    def _mappings(self) -> list[MappingNode]:
        return [node for node in self._nodes if isinstance(node, MappingNode)]

    @cached_property
    def _aliases(self) -> dict[int, list[Alias]]:
        found: dict[int, list[Alias]] = {}
        for occurrence in self._occurrences(self.root):
            if isinstance(occurrence, Alias):
                found.setdefault(id(occurrence.node), []).append(occurrence)
        return {key: sorted(aliases, key=lambda alias: alias.start) for key, aliases in found.items()}

    @cached_property
    def _nodes(self) -> list[Node]:
        return [occurrence for occurrence in self._occurrences(self.root) if not isinstance(occurrence, Alias)]

    def _occurrences(self, occurrence: Occurrence) -> Iterator[Occurrence]:
        """Every node once and every alias, in document order (an alias's node is not entered again)."""
        yield occurrence
        if isinstance(occurrence, Alias):
            return
        if isinstance(occurrence, MappingNode):
            for key, value in occurrence.value:
                yield from self._occurrences(key)
                yield from self._occurrences(value)
        elif isinstance(occurrence, SequenceNode):
            for item in occurrence.value:
                yield from self._occurrences(item)

    # -- editing ---------------------------------------------------------------

    def source(self, node: Node) -> str:
        return self.text[node.start_mark.index : node.end_mark.index]

    def value_start(self, node: Node) -> int:
        """Where a node's value starts, after its own anchor (``&name``) if it has one."""
        start = node.start_mark.index
        if node.anchor and self.text.startswith("&" + node.anchor, start):
            start += 1 + len(node.anchor)
            while self.text[start] in " \t":
                start += 1
        return start

    def insertion(self, mapping: MappingNode, key_text: str, value_text: str) -> Edit:
        """A new last entry ``key: value`` of ``mapping``, written in the mapping's style."""
        *_, (_, last) = mapping.value
        end = end_of(last)
        if mapping.flow_style:
            return Edit(end, end, f", {key_text}: {value_text}")
        line = " " * mapping.value[0][0].start_mark.column + f"{key_text}: {value_text}\n"
        if self.text[end - 1] != "\n":
            newline = self.text.find("\n", end)
            if newline < 0:
                return Edit(len(self.text), len(self.text), "\n" + line)
            end = newline + 1
        return Edit(end, end, line)


def merge_sources(mapping: MappingNode) -> list[MappingNode]:
    """The mappings ``mapping`` merges (``<<: *a`` or ``<<: [*a, *b]``), first one winning."""
    sources = []
    for key, value in mapping.value:
        if isinstance(key, ScalarNode) and key.tag == MERGE_TAG:
            merged = node_of(value)
            items = merged.value if isinstance(merged, SequenceNode) else [merged]
            sources += [node_of(item) for item in items if isinstance(node_of(item), MappingNode)]
    return sources


def apply_edits(text: str, edits: list[Edit]) -> str | None:
    """``text`` with every edit made, or None when two of them overlap."""
    ordered = sorted(enumerate(edits), key=lambda item: (item[1].start, item[0]))
    for (_, a), (_, b) in zip(ordered, ordered[1:]):
        if b.start < a.end:
            return None
    for _, edit in reversed(ordered):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text
