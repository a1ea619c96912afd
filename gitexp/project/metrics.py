"""Reading metrics files (DVC's and dvclive's) into flat ``name -> value`` maps.

From a checkout, metrics are the files on disk. From a commit, they are the
files Git holds, and a metrics file Git does not hold (an output DVC caches,
or a file inside a cached output directory, as example-get-started's
``eval/metrics.json``) is read from the DVC cache by the hash that dvc.lock
(or a .dvc file) records for it, as ``dvc exp show`` reads it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitexp.errors import UsageError
from gitexp.project.config import dvc_cache_dir
from gitexp.project.lock import DvcCache, PipelineRecord, pipeline_record
from gitexp.project.model import DVCLIVE_METRICS, DVCLIVE_STEPS, Project
from gitexp.project.params_read import read_values
from gitexp.store.git import Git

SCALARS = (int, float, str, bool)


@functools.lru_cache(maxsize=64)  # asked twice for each of a show's 10,000 commits
def metrics_paths(project: Project) -> tuple[str, ...]:
    """The metrics files dvc.yaml declares, plus dvclive's default summary."""
    return tuple(dict.fromkeys([*project.metrics_files, project.path(DVCLIVE_METRICS)]))


def load_metrics(path: str, content: bytes) -> dict[str, Any] | None:
    """One metrics file's values as nested in the file; None when it is no readable mapping."""
    try:
        if path.endswith(".csv"):
            return _csv_metrics(content)
        data = json.loads(content) if path.endswith(".json") else read_values(path, content.decode("utf-8", "replace"))
    except (ValueError, UsageError):
        return None
    return data if isinstance(data, Mapping) else None


def _csv_metrics(content: bytes) -> dict[str, Any] | None:
    """A CSV metrics file (``--metrics``): a header, then rows; the last row holds the values (the final step)."""
    rows = list(csv.reader(io.StringIO(content.decode("utf-8", "replace"))))
    if len(rows) < 2 or len(rows[-1]) != len(rows[0]):
        return None
    return {name: resolve_number(value) for name, value in zip(rows[0], rows[-1])}


def resolve_number(text: str) -> Any:
    """A CSV cell as a number when it reads as one (as dvc plots reads CSV), else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def parse_metrics(path: str, content: bytes) -> dict[str, Any]:
    """One metrics file as a flat map; unreadable files count as empty."""
    return flat_metrics(load_metrics(path, content) or {})


def flat_metrics(data: Mapping[str, Any]) -> dict[str, Any]:
    """Nested metrics as ``name -> value``: numbers, text, booleans and nulls (lists are no metrics)."""
    return {name: value for name, value in flatten(data) if value is None or isinstance(value, SCALARS)}


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


def merge_metrics_files(files: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Metrics files' nested values (by path) as one flat map."""
    return merge_metrics((path, flat_metrics(data)) for path, data in files.items())


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
    """Metrics as committed in ``rev`` (cached ones from this repository's DVC cache)."""
    reader = CommitReader(git)
    reader.add(rev, project, dvc_file_paths(git, rev, project))
    reader.read()
    return merge_metrics_files(reader.metrics_files(rev))


def dvc_file_paths(git: Git, rev: str, project: Project) -> tuple[str, ...]:
    """The ``.dvc`` files (``dvc add``, ``dvc import``) of the project's folder in ``rev``."""
    return tuple(path for path in git.list_tree(rev, project.directory) if path.endswith(".dvc"))


class CommitReader:
    """The files of many commits' results, read with one ``cat-file --batch``.

    ``add`` each commit (with the project it belongs to and its .dvc files, plus
    any other files wanted from it), ``read`` once, then ask. dvc.lock and the
    .dvc files are parsed only when asked for, or when a metrics file is missing
    from Git and must be found in the DVC cache.
    """

    def __init__(self, git: Git):
        self.git = git
        self.commits: dict[str, tuple[Project, tuple[str, ...]]] = {}
        self.trees: dict[str, str] = {}  # rev -> its tree, where the caller knows it
        self.wanted: dict[tuple[str, str], None] = {}
        self.blobs: dict[tuple[str, str], bytes | None] = {}
        self.records: dict[str, PipelineRecord] = {}
        self.shared: dict[tuple, PipelineRecord] = {}  # by project and files: read only, as every record
        self.caches: dict[str, DvcCache] = {}  # by project folder: each DVC project has its cache

    def add(self, rev: str, project: Project, dvc_files: Sequence[str] = (), also: Sequence[str] = (), tree: str = "") -> None:
        """Ask for ``rev``'s metrics, dvc.yaml, lock and .dvc files, and the files ``also`` names (``tree``: its tree, if known)."""
        self.commits[rev] = (project, tuple(dvc_files))
        self.want(rev, [*metrics_paths(project), *project.dvc_files, *project.lock_files, *dvc_files, *also], tree)

    def want(self, rev: str, paths: Iterable[str], tree: str = "") -> None:
        """Ask for files of ``rev`` alone (a commit with no results, such as a queued trial's)."""
        self.wanted.update(((rev, path), None) for path in paths)
        if tree:
            self.trees[rev] = tree

    def read(self) -> None:
        files = list(self.wanted)
        self.blobs = dict(zip(files, self.git.read_files(files, self.trees)))

    def blob(self, rev: str, path: str) -> bytes | None:
        return self.blobs.get((rev, path))

    def pipeline(self, rev: str) -> PipelineRecord:
        """What ``rev``'s lock files and .dvc files record."""
        if rev not in self.records:
            project, dvc_files = self.commits[rev]
            files = {path: self.blob(rev, path) for path in (*project.dvc_files, *project.lock_files, *dvc_files)}
            same = (project, dvc_files, *files.values())  # commits without a lock of their own share one record
            if same not in self.shared:
                self.shared[same] = pipeline_record(project, files, dvc_files)
            self.records[rev] = self.shared[same]
        return self.records[rev]

    def metrics_files(self, rev: str) -> dict[str, dict[str, Any]]:
        """Each metrics file of ``rev`` that it has, in Git or in the DVC cache, by path."""
        project = self.commits[rev][0]
        found = {}
        for path in metrics_paths(project):
            content = self.blob(rev, path)
            if content is None and path in project.metrics_files:  # dvclive's default summary counts when in Git
                content = self._cached(rev, path)
            data = load_metrics(path, content) if content is not None else None
            if data is not None:
                found[path] = dict(data)
        return found

    def _cached(self, rev: str, path: str) -> bytes | None:
        holder = self.pipeline(rev).holding(path)
        return self.cache(self.commits[rev][0]).read(*holder) if holder else None

    def cache(self, project: Project) -> DvcCache:
        if project.directory not in self.caches:
            self.caches[project.directory] = DvcCache(dvc_cache_dir(self.git.root / project.directory))
        return self.caches[project.directory]


def flatten(data: Mapping[str, Any], prefix: str = ""):
    """``{"test": {"acc": 1}}`` as ``("test.acc", 1)``: every value that is not a mapping."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, name + ".")
        else:
            yield name, value


def step_folder(project: Project) -> str | None:
    """The folder of dvclive's per-step TSV files (repo-relative), when dvc.yaml declares it among the plots."""
    folder = project.path(DVCLIVE_STEPS)
    declared = any(folder == path.rstrip("/") or folder.startswith(path.rstrip("/") + "/") for path in project.plots_paths)
    return folder if declared else None


def step_file(folder: str, metric: str) -> str:
    """The TSV file in which dvclive logs ``metric`` step by step: ``train.loss`` (as gitexp names the
    metric of dvclive's ``log_metric("train/loss")``) or ``train/loss`` is ``train/loss.tsv``."""
    return posixpath.join(folder, metric.replace(".", "/") + ".tsv")


def step_metrics(git: Git, rev: str, folder: str) -> list[str]:
    """The metrics with a step file in ``folder`` at ``rev``, named as gitexp names metrics (``train.loss``)."""
    paths = [path for path in git.list_tree(rev, folder + "/") if path.endswith(".tsv")]
    return [posixpath.relpath(path, folder).removesuffix(".tsv").replace("/", ".") for path in paths]


def parse_step_tsv(content: bytes, column: str) -> list[tuple[float, float]]:
    """``(step, value)`` pairs of a dvclive TSV (columns ``step``, the metric, maybe ``timestamp``)."""
    reader = csv.DictReader(io.StringIO(content.decode("utf-8", "replace")), delimiter="\t")
    fields = [name for name in reader.fieldnames or () if name not in ("step", "timestamp")]
    value_column = column if column in fields else (fields[-1] if fields else None)
    if value_column is None or "step" not in (reader.fieldnames or ()):
        return []
    points = []
    for record in reader:
        try:
            points.append((float(record["step"]), float(record[value_column])))
        except (TypeError, ValueError):
            continue
    return points
