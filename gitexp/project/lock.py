"""What ``dvc.lock`` and ``.dvc`` files record about a commit, and the DVC cache their hashes point into.

Read as the plain YAML and JSON they are, never through DVC (which takes a
second to import): ``show`` and ``report`` read a thousand commits. Paths come
out repo-relative and posix, like every path of ``Project``; a lock file's
paths are relative to its stage's ``wdir``, which only ``dvc.yaml`` says.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitexp.project.model import Project

HASH_NAMES = ("md5", "etag", "checksum")  # what DVC records a file's hash as, local files first
ENTRY_KEYS = ("deps", "outs")  # what a lock's stages say that gitexp reads (not cmd, nor the params)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Locked:
    """A dependency or output as DVC recorded it."""

    path: str
    hash: str | None
    size: int | None
    nfiles: int | None

    def to_json(self) -> dict[str, Any]:
        return {"hash": self.hash, "size": self.size, "nfiles": self.nfiles}


@dataclass(frozen=True)
class LockedOutput(Locked):
    use_cache: bool = True
    is_data_source: bool = False  # from ``dvc add`` or ``dvc import`` rather than a stage
    kind: str = "outs"  # or "metrics" or "plots", as dvc.yaml declares it

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "use_cache": self.use_cache, "is_data_source": self.is_data_source}


@dataclass(frozen=True)
class PipelineRecord:
    """Every dependency and output that a commit's lock and .dvc files record, by path."""

    deps: dict[str, Locked]
    outs: dict[str, LockedOutput]

    def holding(self, path: str) -> tuple[LockedOutput, str] | None:
        """The cached output that is ``path`` or a directory holding it, with ``path`` relative to it."""
        for out in self.outs.values():
            if out.use_cache and out.hash and (path == out.path or path.startswith(out.path + "/")):
                return out, path[len(out.path) + 1 :]
        return None


def pipeline_record(project: Project, files: Mapping[str, bytes | None], dvc_files: Sequence[str] = ()) -> PipelineRecord:
    """What a commit's lock files (beside each of the project's dvc.yaml) and ``dvc_files`` (.dvc) record.

    ``files`` holds the commit's dvc.yaml, dvc.lock and .dvc files by path;
    whether an output is cached, or a metric or plot, is what DVC resolved for
    the project.
    """
    declared = {output.path: output for output in project.outputs}
    deps: dict[str, Locked] = {}
    outs: dict[str, LockedOutput] = {}
    for dvc_yaml, lock in zip(project.dvc_files, project.lock_files):
        wdirs = _stage_dirs(dvc_yaml, files.get(dvc_yaml))
        for name, stage in _lock_stages(files.get(lock), ENTRY_KEYS).items():
            wdir = wdirs.get(str(name).split("@")[0], posixpath.dirname(dvc_yaml))
            deps.update(_entries(stage.get("deps"), wdir, Locked))
            for out in _entries(stage.get("outs"), wdir, Locked).values():
                output = declared.get(out.path)
                use_cache, kind = (output.cache, output.kind) if output else (True, "outs")
                outs[out.path] = LockedOutput(out.path, out.hash, out.size, out.nfiles, use_cache, False, kind)
    for path in dvc_files:
        deps_found, outs_found = _dvc_file(path, files.get(path))
        deps.update(deps_found)
        outs.update(outs_found)
    return PipelineRecord(deps, outs)


def data_file_outs(path: str, content: bytes | None) -> dict[str, LockedOutput]:
    """The outputs a ``.dvc`` file records, by repo path."""
    return _dvc_file(path, content)[1]


def stage_outs(dvc_yaml: str, dvc_yaml_content: bytes | None, lock: bytes | None) -> dict[str, dict[str, Locked]]:
    """Each stage of a ``dvc.lock`` (beside ``dvc_yaml``) with the outputs it records, by repo path."""
    wdirs = _stage_dirs(dvc_yaml, dvc_yaml_content)
    return {
        str(name): _entries(stage.get("outs"), wdirs.get(str(name).split("@")[0], posixpath.dirname(dvc_yaml)), Locked)
        for name, stage in _lock_stages(lock, ENTRY_KEYS).items()
    }


def _lock_stages(content: bytes | None, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A lock file's stages, each stage's lines parsed once for every commit that has them; with ``keys``,
    each stage holds only those keys (``deps``, ``outs``), and only their lines are parsed.

    The commits of a sweep differ in the stages their params reach; the others'
    text repeats. DVC writes the lock in block style, so a stage runs from its
    name at two spaces' indent to the next, and each of its keys from four spaces'
    indent to the next (the ``params`` a trial changes are lines no reader here
    needs); any other layout is parsed whole.
    """
    start = _STAGES_KEY.search(content or b"")
    if start is None:
        return _keeping(_mapping(_load_text_yaml(content).get("stages")), keys)
    stages: dict[str, Any] = {}
    for block in filter(None, _STAGE_START.split(content[start.end() :])):
        stage = (_stage_keys(block, keys) if keys is not None else None) or _keeping(_load_text_yaml(block), keys)
        if len(stage) != 1:  # not one stage: some other layout
            return _keeping(_mapping(_load_text_yaml(content).get("stages")), keys)
        stages.update(stage)
    return stages


def _stage_keys(block: bytes, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """``{name: {key: value}}`` of a stage's block for ``keys``, from those keys' lines alone; None when the
    block is not DVC's layout (its name's line, then keys at four spaces' indent)."""
    head, *sections = _STAGE_KEY.split(block)
    name = _load_text_yaml(head)
    if head.count(b"\n") != 1 or len(name) != 1 or next(iter(name.values())) != "":
        return None
    body: dict[str, Any] = {}
    for section in sections:
        key = section[4:].split(b":", 1)[0].decode("utf-8", "replace")
        if key in keys:
            entries = _plain_entries(section)
            found = {key: entries} if entries is not None else _load_text_yaml(section)
            if len(found) != 1:
                return None
            body.update(found)
    return {next(iter(name)): body}


@functools.lru_cache(maxsize=4096)  # the deps of a sweep's trials repeat; callers only read what it returns
def _plain_entries(section: bytes) -> list[dict[str, str]] | None:
    """A lock stage's ``deps:`` or ``outs:`` lines as DVC writes them, read without YAML (a trial's outs
    differ from the next one's: a YAML parse each, the most of what show spends on 10,000 locks):
    items of ``key: value`` lines whose values are plain text; None for anything else (YAML reads it)."""
    header, *lines = section.rstrip(b"\n").split(b"\n")
    items: list[dict[str, str]] = []
    for line in lines:
        found = _ENTRY_LINE.fullmatch(line)
        if found is None or b": " in found[3] or b" #" in found[3] or (not items and found[1] != b"- "):
            return None
        if found[1] == b"- ":
            items.append({})
        items[-1][found[2].decode()] = found[3].decode("utf-8", "replace")
    return items if items and header.rstrip() == header and header.endswith(b":") else None


def _keeping(stages: dict[str, Any], keys: tuple[str, ...] | None) -> dict[str, Any]:
    """``stages`` (name -> body) with only ``keys`` in each body; all of them when ``keys`` is None."""
    if keys is None:
        return stages
    return {name: {key: value for key, value in _mapping(body).items() if key in keys} for name, body in stages.items()}


@functools.lru_cache(maxsize=4096)  # callers only read what it returns
def _load_text_yaml(content: bytes | None) -> dict[str, Any]:
    """A YAML mapping with every scalar as text, built from the C parser's events: three times
    faster than PyYAML's constructor, and a lock file's hashes, paths and sizes need no more.
    Anything but plain mappings, sequences and scalars (an alias) goes to the full loader."""
    try:
        events = yaml.parse(content, Loader=_LOADER) if content else ()
        stack: list[Any] = [[]]
        keys: list[Any] = [None]
        for event in events:
            if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                value = event.value if isinstance(event, yaml.ScalarEvent) else {} if isinstance(event, yaml.MappingStartEvent) else []
                _add(stack[-1], keys, value)
                if not isinstance(event, yaml.ScalarEvent):
                    stack.append(value)
                    keys.append(None)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
                keys.pop()
            elif isinstance(event, yaml.AliasEvent):
                return _load_yaml(content)
    except yaml.YAMLError:
        return {}
    document = stack[0][0] if stack and stack[0] else None
    return document if isinstance(document, dict) else {}


def _add(container: Any, keys: list[Any], value: Any) -> None:
    """Put ``value`` into the list, or into the mapping as the key or the value of the pending key."""
    if isinstance(container, list):
        container.append(value)
    elif keys[-1] is None:
        keys[-1] = value if isinstance(value, str) else str(value)
    else:
        container[keys[-1]] = value
        keys[-1] = None


def _entries(items: Any, wdir: str, kind: type[Locked]) -> dict[str, Any]:
    """A lock list of deps or outs by repo path; params and other repositories are no files here."""
    found = {}
    for item in _list(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("path"), str) or "repo" in item:
            continue
        path = _join(wdir, item["path"])
        name = item.get("hash") if item.get("hash") in item else next((n for n in HASH_NAMES if n in item), None)
        found[path] = kind(path, _text(item.get(name)), _int(item.get("size")), _int(item.get("nfiles")))
    return found


@functools.lru_cache(maxsize=64)  # a sweep's commits share their .dvc files
def _dvc_file(path: str, content: bytes | None) -> tuple[dict[str, Locked], dict[str, LockedOutput]]:
    """A .dvc file's deps (``import-url``) and outs, which are data sources unless it has a command."""
    document = _load_yaml(content)
    wdir = _join(posixpath.dirname(path), str(document.get("wdir") or "."))
    source = document.get("cmd") is None
    outs = {}
    for item in _list(document.get("outs")):
        for out in _entries([item], wdir, Locked).values():
            outs[out.path] = LockedOutput(out.path, out.hash, out.size, out.nfiles, item.get("cache", True) is not False, source)
    return _entries(document.get("deps"), wdir, Locked), outs


@functools.lru_cache(maxsize=16)  # trials share their dvc.yaml
def _stage_dirs(dvc_yaml_path: str, content: bytes | None) -> dict[str, str]:
    """Each stage's working directory, repo-relative: what its lock paths are relative to."""
    base = posixpath.dirname(dvc_yaml_path)
    dirs = {}
    for name, definition in _mapping(_load_yaml(content).get("stages")).items():
        body = _mapping(definition.get("do", definition) if isinstance(definition, Mapping) else None)
        wdir = str(body.get("wdir") or ".")
        dirs[str(name)] = _join(base, "." if "${" in wdir else wdir)  # a templated one: DVC's index does not say
    return dirs


class DvcCache:
    """A local DVC cache, read by content hash (DVC 3's ``files/md5/`` layout, or DVC 2's)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._manifests: dict[str, dict[str, str]] = {}

    def read(self, out: LockedOutput, inner: str) -> bytes | None:
        """The file ``inner`` of a cached directory output (or, with ``inner`` "", the output itself)."""
        digest = out.hash or ""
        if inner:
            digest = self._manifest(digest).get(inner, "") if digest.endswith(".dir") else ""
        return self._object(digest) if digest and not digest.endswith(".dir") else None

    def _manifest(self, digest: str) -> dict[str, str]:
        """A ``.dir`` object: the directory's files by relative path, with their md5."""
        if digest not in self._manifests:
            try:
                entries = json.loads(self._object(digest) or b"[]")
            except ValueError:
                entries = []
            self._manifests[digest] = {
                entry["relpath"]: entry["md5"] for entry in entries if isinstance(entry, dict) and {"relpath", "md5"} <= entry.keys()
            }
        return self._manifests[digest]

    def holds(self, out: LockedOutput) -> bool:
        """Whether the cache has all of an output's data: its object, and for a directory every file's."""
        digest = out.hash or ""
        if not digest.endswith(".dir"):
            return bool(digest) and self._find(digest) is not None
        return self._find(digest) is not None and all(self._find(inner) for inner in self._manifest(digest).values())

    def _object(self, digest: str) -> bytes | None:
        path = self._find(digest)
        try:
            return path.read_bytes() if path else None
        except OSError:
            return None

    def _find(self, digest: str) -> Path | None:
        for root in (self.directory / "files" / "md5", self.directory):
            if (root / digest[:2] / digest[2:]).is_file():
                return root / digest[:2] / digest[2:]
        return None


_STAGES_KEY = re.compile(rb"^stages:[ \t]*\n", re.MULTILINE)
_STAGE_START = re.compile(rb"^(?=  \S)", re.MULTILINE)
_STAGE_KEY = re.compile(rb"^(?=    [^\s#-])", re.MULTILINE)  # a stage's key (a list's items stand at its indent)
# An item's line in a lock's deps or outs: ``    - path: data.csv`` opens one, ``      md5: 3f2a`` goes on; the value
# plain text (no quote, flow, anchor, tag, block or comment mark first, nothing after it but its characters).
_ENTRY_LINE = re.compile(rb"    (- |  )([A-Za-z_][A-Za-z0-9_.-]*): ([^\s'\"\[\]{}&*!|>%@`#,?:-](?:[^\t\r]*[^\s:])?)")


@functools.lru_cache(maxsize=4096)  # callers only read what it returns
def _load_yaml(content: bytes | None) -> dict[str, Any]:
    try:
        document = yaml.load(content, Loader=_LOADER) if content else None
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, dict) else {}


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


@functools.lru_cache(maxsize=4096)  # the same deps and outs in every commit of a sweep
def _join(wdir: str, path: str) -> str:
    joined = posixpath.normpath(posixpath.join(wdir, path))
    return "" if joined == "." else joined


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
