"""Datasets as trial inputs (``--data TARGET=SOURCE``): a DVC-tracked path whose data each trial replaces.

TARGET is a path of the DVC project that a ``.dvc`` file tracks (``dvc add``),
or an output of a frozen stage in ``dvc.lock`` (one ``dvc repro`` verifies and
never makes again). SOURCE is a file or folder outside Git. Each distinct
source goes into the DVC cache once, by content, through DVC's own hashing
(``project.dvc.cache_data``); a trial's commit holds the ``.dvc`` file or
``dvc.lock`` with the new hash, so ``dvc checkout``, ``dvc push`` and ``dvc
pull`` of that commit move its data like any other.
"""

from __future__ import annotations

import io
import math
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from gitexp.errors import UsageError
from gitexp.project.dvc import cache_data
from gitexp.project.lock import Locked, data_file_outs, stage_outs
from gitexp.project.model import Project
from gitexp.store.git import Git

DATA_KEYS = ("md5", "size", "nfiles")  # what a .dvc file or dvc.lock entry records of the data


@dataclass(frozen=True)
class Tracking:
    """The file that records a TARGET's hash at the baseline: a ``.dvc`` file, or a ``dvc.lock`` and its stage."""

    target: str  # repo path
    file: str  # repo path of the .dvc file or dvc.lock
    stage: str | None  # the dvc.lock stage (None for a .dvc file)
    content: bytes
    mode: str
    current: dict[str, Any]  # md5, size, nfiles at the baseline


def find_tracking(git: Git, baseline: str, project: Project, target: str) -> Tracking:
    """What tracks ``target`` (project-relative) at ``baseline``; refuses a path DVC does not track as data."""
    path = project.path(target)
    blobs = git.list_tree(baseline, project.directory)
    for dvc_file in sorted(name for name in blobs if name.endswith(".dvc")):
        content = git.read_blob(baseline, dvc_file) or b""
        out = data_file_outs(dvc_file, content).get(path)
        if out is not None:
            return Tracking(path, dvc_file, None, content, _mode(git, baseline, dvc_file), _recorded(out))
    found = _frozen_output(git, baseline, project, path)
    if found is not None:
        return found
    if path in blobs:
        raise UsageError(f"--data {target}: Git tracks {target}, not DVC: dvc add {target} (and commit) so trials can replace its data")
    raise UsageError(
        f"--data {target}: DVC does not track {target} at the baseline: name a path that dvc add tracks "
        f"(a .dvc file) or a frozen stage's output (dvc freeze STAGE)"
    )


def _frozen_output(git: Git, baseline: str, project: Project, path: str) -> Tracking | None:
    """``path`` as an output in a ``dvc.lock``; refused unless its stage is frozen (dvc repro would make it again)."""
    for dvc_yaml, lock in zip(project.dvc_files, project.lock_files):
        content, definition = git.read_blob(baseline, lock), git.read_blob(baseline, dvc_yaml)
        for name, outs in stage_outs(dvc_yaml, definition, content).items():
            out = outs.get(path)
            if out is None:
                continue
            if not _frozen(definition, name):
                shown = project.display(path)
                raise UsageError(
                    f"--data {shown}: stage {name} makes {shown}, and dvc repro would make it again: "
                    f"freeze it (dvc freeze {name}, and commit), or dvc add the data instead"
                )
            return Tracking(path, lock, name, content, _mode(git, baseline, lock), _recorded(out))
    return None


def _frozen(dvc_yaml: bytes | None, stage: str) -> bool:
    stages = (_yaml().load(dvc_yaml or b"") or {}).get("stages") or {}
    return bool((stages.get(stage) or {}).get("frozen"))


def _recorded(out: Locked) -> dict[str, Any]:
    return {"md5": out.hash, "size": out.size, "nfiles": out.nfiles}


def _mode(git: Git, rev: str, path: str) -> str:
    return git.through_links(rev, path)[1]


def check_source(git: Git, cwd: Path, target: str, source: str) -> Path:
    """The SOURCE of ``--data`` as an absolute path; refuses one that is missing or that Git tracks."""
    path = Path(os.path.abspath(cwd / os.path.expanduser(source)))
    if not path.exists():
        raise UsageError(f"--data {target}={source}: {path} does not exist: name an existing file or folder")
    if not (path.is_file() or path.is_dir()):
        raise UsageError(f"--data {target}={source}: {path} is neither a file nor a folder: name one")
    inside = _inside(git.root, path)
    if inside is not None and git.tracked_files([inside or "."]):
        raise UsageError(
            f"--data {target}={source}: Git tracks {source}: datasets come from outside Git (move it out, or git rm --cached it)"
        )
    return path


def _inside(root: Path, path: Path) -> str | None:
    """``path`` relative to the repository root, or None when it lies outside."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def add_sources(project_dir: Path, sources: Mapping[str, Path]) -> dict[str, dict[str, Any]]:
    """Each source's entry (md5, size, nfiles, source): its data in the project's DVC cache, once by content."""
    return {value: {**cache_data(project_dir, path), "source": str(path)} for value, path in sources.items()}


def render(tracking: Tracking, entry: Mapping[str, Any]) -> bytes:
    """The ``.dvc`` file or ``dvc.lock`` of ``tracking`` with the target's entry changed to ``entry``'s data.

    A round trip through ruamel.yaml, which DVC writes these files with, so the rest stays as it was.
    """
    yaml = _yaml()
    document = yaml.load(tracking.content)
    for item in _outs(document, tracking):
        for key in DATA_KEYS:
            if entry.get(key) is not None:
                item[key] = entry[key]
            elif key in item:
                del item[key]
    out = io.BytesIO()
    yaml.dump(document, out)
    return out.getvalue()


def _outs(document, tracking: Tracking) -> list:
    """The outs entries of ``tracking``'s file that are its target."""
    folder = posixpath.dirname(tracking.file)
    if tracking.stage is None:
        outs = document.get("outs") or []
        wdir = posixpath.normpath(posixpath.join(folder, str(document.get("wdir") or ".")))
    else:
        outs = document["stages"][tracking.stage].get("outs") or []
        wdir = folder  # a stage with a wdir of its own: lock paths are relative to it (_frozen_output found it so)
    return [item for item in outs if posixpath.normpath(posixpath.join(wdir, str(item.get("path")))) == tracking.target] or outs[:1]


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def label(entry: Mapping[str, Any] | None, name: str = "") -> str:
    """A dataset as show and the reports name it: ``name (1.2 kB, 3f2a9c1)``."""
    if not entry:
        return name or "-"
    size = entry.get("size")
    files = f", {entry['nfiles']} files" if entry.get("nfiles") else ""
    digest = str(entry.get("md5") or "")[:7]
    return f"{name or posixpath.basename(str(entry.get('source', '')))} ({human_size(size)}{files}, {digest})"


def human_size(size: Any) -> str:
    """Bytes in decimal units, as ``du --si`` and DVC's progress bars count them."""
    if not isinstance(size, int):
        return "size unknown"
    if size < 1000:
        return f"{size} B"
    units = ("kB", "MB", "GB", "TB")
    power = min(len(units), int(math.log(size, 1000)))
    return f"{size / 1000 ** power:.1f} {units[power - 1]}"
