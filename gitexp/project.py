"""What a DVC project declares, read from ``dvc.yaml`` (a commit's, or a checkout's).

gitexp reads dvc.yaml itself (it is plain YAML) rather than importing DVC, so
that commands which only look at Git (status, show, queue) start fast.
"""

from __future__ import annotations

import functools
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import RepositoryError
from .git import Git

DEFAULT_PARAMS_FILE = "params.yaml"
DVCLIVE_METRICS = "dvclive/metrics.json"


@dataclass(frozen=True)
class Project:
    """The parts of dvc.yaml gitexp needs: params files, metrics and plots paths, stages."""

    params_files: tuple[str, ...]
    metrics_files: tuple[str, ...]
    plots_paths: tuple[str, ...]
    stages: tuple[str, ...] = field(default=())


def load_project(git: Git, rev: str) -> Project:
    """The project as committed in ``rev``; refuses when there is no dvc.yaml."""
    return project_from_dvc_yaml(git.read_blob(rev, "dvc.yaml"))


def load_workspace_project(directory: Path) -> Project:
    """The project as checked out in ``directory``, which is what DVC runs there; refuses when there is no dvc.yaml."""
    try:
        blob = (directory / "dvc.yaml").read_bytes()
    except FileNotFoundError:
        blob = None
    return project_from_dvc_yaml(blob)


@functools.lru_cache(maxsize=16)  # trials of a sweep share their dvc.yaml
def project_from_dvc_yaml(blob: bytes | None) -> Project:
    """The project a dvc.yaml's content declares; refuses a missing (None) or broken one."""
    if blob is None:
        raise RepositoryError(
            "no dvc.yaml at the root of the repository: gitexp runs DVC pipelines; "
            "create one with dvc stage add (and commit it), or run gitexp from the project root"
        )
    try:
        document = yaml.safe_load(blob) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise RepositoryError(f"dvc.yaml is not valid YAML{where}: fix it, commit, and try again") from None
    if not isinstance(document, dict):
        raise RepositoryError("dvc.yaml must be a mapping with a stages: section: fix it and commit")
    return parse_dvc_yaml(document)


def parse_dvc_yaml(document: dict) -> Project:
    """Pure: collect params files, metrics and plots from a parsed dvc.yaml."""
    params: list[str] = []
    metrics: list[str] = []
    plots: list[str] = []
    stages = document.get("stages") or {}
    for definition in stages.values() if isinstance(stages, dict) else ():
        if not isinstance(definition, dict):
            continue
        body = definition.get("do", definition)  # foreach/do stages
        wdir = body.get("wdir", ".") or "."
        params += [_join(wdir, path) for path in _params_files(body.get("params") or [])]
        metrics += [_join(wdir, path) for path in _output_paths(body.get("metrics") or [])]
        plots += [_join(wdir, path) for path in _output_paths(body.get("plots") or [])]
    params += [path for path in document.get("params") or [] if isinstance(path, str)]
    metrics += _output_paths(document.get("metrics") or [])
    plots += _output_paths(document.get("plots") or [])
    return Project(
        params_files=_unique(p for p in params if "${" not in p),
        metrics_files=_unique(p for p in metrics if "${" not in p),
        plots_paths=_unique(p for p in plots if "${" not in p),
        stages=tuple(stages) if isinstance(stages, dict) else (),
    )


def _params_files(entries: list) -> list[str]:
    """A bare key in a stage's params comes from params.yaml; a mapping names its files."""
    return _declared_paths(entries, plain_entry=DEFAULT_PARAMS_FILE)


def _output_paths(entries: list) -> list[str]:
    return _declared_paths(entries)


def _declared_paths(entries: list, plain_entry: str | None = None) -> list[str]:
    """Paths a dvc.yaml list declares: plain strings, or the keys of ``{path: options}`` items."""
    paths = []
    for entry in entries:
        if isinstance(entry, str):
            paths.append(plain_entry or entry)
        elif isinstance(entry, dict):
            paths += [name for name in entry if isinstance(name, str)]
    return paths


def _join(wdir: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(wdir, path))


def _unique(items) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
