"""Reading metrics files (DVC's and dvclive's) into flat ``name -> number`` maps."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .git import Git
from .project import DVCLIVE_METRICS, Project


def metrics_paths(project: Project) -> tuple[str, ...]:
    """The metrics files dvc.yaml declares, plus dvclive's default summary."""
    return tuple(dict.fromkeys([*project.metrics_files, DVCLIVE_METRICS]))


def parse_metrics(path: str, content: bytes) -> dict[str, Any]:
    """One metrics file as a flat map; unreadable files count as empty."""
    try:
        data = json.loads(content) if path.endswith(".json") else yaml.safe_load(content)
    except (ValueError, yaml.YAMLError):
        return {}
    return dict(flatten(data)) if isinstance(data, Mapping) else {}


def merge_metrics(files: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Several files' metrics in one map; a name two files share is prefixed with the file."""
    files = list(files)
    seen: dict[str, int] = {}
    for _, values in files:
        for name in values:
            seen[name] = seen.get(name, 0) + 1
    merged: dict[str, Any] = {}
    for path, values in files:
        for name, value in values.items():
            merged[f"{path}:{name}" if seen[name] > 1 else name] = value
    return merged


def read_workspace_metrics(directory: Path, project: Project) -> dict[str, Any]:
    """Metrics as they are on disk in ``directory`` (a worktree, possibly mid-run)."""
    found = []
    for path in metrics_paths(project):
        file = directory / path
        try:
            found.append((path, parse_metrics(path, file.read_bytes())))
        except OSError:
            continue
    return merge_metrics(found)


def read_commit_metrics(git: Git, rev: str, project: Project) -> dict[str, Any]:
    """Metrics as committed in ``rev``."""
    paths = metrics_paths(project)
    blobs = git.read_blobs([f"{rev}:{path}" for path in paths])
    return merge_metrics((path, parse_metrics(path, blob)) for path, blob in zip(paths, blobs) if blob is not None)


def flatten(data: Mapping[str, Any], prefix: str = ""):
    """``{"test": {"acc": 1}}`` as ``("test.acc", 1)``, keeping numbers, text and booleans."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, name + ".")
        elif isinstance(value, (int, float, str, bool)) or value is None:
            yield name, value
