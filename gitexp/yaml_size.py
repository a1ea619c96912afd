"""How many values a YAML document holds once its aliases are expanded, counted without expanding them.

An alias is the very node its anchor names, so a few hundred bytes of aliases
of aliases stand for billions of values, and every reader that walks the
values (gitexp's, DVC's) takes minutes or runs out of memory. Counted once per
distinct node of the composed document, the size is known in linear time.
"""

from __future__ import annotations

import yaml

from gitexp.errors import UsageError

MAX_YAML_NODES = 100_000  # values, lists and mappings a sweep or params file may hold, aliases expanded


def refuse_explosive_yaml(text: bytes, where: str, fix: str) -> None:
    """Refuse ``text`` when its aliases hold themselves or expand beyond ``MAX_YAML_NODES`` (invalid YAML is left to its reader)."""
    if b"*" not in text:
        return  # no alias: as many values as it spells out
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
        return
    refuse_explosive_node(root, where, fix)


def refuse_explosive_node(root: yaml.Node | None, where: str, fix: str = "write the values out") -> None:
    """``refuse_explosive_yaml`` for a document already composed; ``where`` names the file, ``fix`` the way out."""
    sizes: dict[int, int] = {}
    started: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)] if root is not None else []
    while stack:
        node, finished = stack.pop()
        children = _children(node)
        if finished:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
        elif id(node) in started and id(node) not in sizes:
            mark = node.start_mark
            raise UsageError(
                f"{where}:{mark.line + 1}:{mark.column + 1}: an alias inside its own anchor makes a value that holds "
                f"itself: {fix}"
            )
        elif id(node) not in sizes:
            started.add(id(node))
            stack += [(node, True), *((child, False) for child in children)]
    if root is not None and sizes[id(root)] > MAX_YAML_NODES:
        raise UsageError(f"{where}: its aliases expand to {sizes[id(root)]:,} YAML values, more than {MAX_YAML_NODES:,}: {fix}")


def _children(node: yaml.Node) -> list[yaml.Node]:
    """A sequence's items, a mapping's keys and values (a scalar has none)."""
    if isinstance(node, yaml.ScalarNode):
        return []
    return [child for item in node.value for child in (item if isinstance(item, tuple) else (item,))]
