"""What a DVC project declares: its stages, params files, metrics, plots and outputs.

The project is the DVC root (the folder with ``.dvc/``) that contains the
current directory, or the one ``--project`` names; in a monorepo it sits in a
subfolder of the Git repository, and every ``dvc.yaml`` inside it counts, as
for DVC. Paths are repo-relative, so they read as ``<rev>:<path>`` and as
``<worktree>/<path>`` alike.

DVC's own parser resolves the pipeline (``vars``, ``${...}``, ``foreach``,
``matrix``; see ``dvc_index``), and what it resolves is cached in
``.git/gitexp/cache`` by the content of the files it read, so commands that
only look at Git (status, show) import no DVC once a baseline was queued.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import posixpath
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitexp.errors import RepositoryError, UsageError
from gitexp.project.command import COMMAND_FILE, read_document
from gitexp.store.git import Git
from gitexp.store.layout import project_cache_dir
from gitexp.yaml_size import refuse_explosive_yaml

DEFAULT_PARAMS_FILE = "params.yaml"
DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
DVCLIVE_METRICS = "dvclive/metrics.json"
DVCLIVE_STEPS = "dvclive/plots/metrics"  # one TSV per metric, a row per step
CACHE_VERSION = "1"  # bump when what ``dvc_index`` records changes


@dataclass(frozen=True)
class Output:
    """One ``outs``/``metrics``/``plots`` entry of a stage, as DVC resolved it."""

    path: str
    stage: str
    cache: bool = True
    persist: bool = False
    kind: str = "outs"  # outs | metrics | plots


@dataclass(frozen=True)
class Project:
    """The parts of a DVC project gitexp needs; every path is repo-relative (posix)."""

    params_files: tuple[str, ...]
    metrics_files: tuple[str, ...]
    plots_paths: tuple[str, ...]
    stages: tuple[str, ...] = field(default=())
    directory: str = ""
    outputs: tuple[Output, ...] = field(default=())
    dvc_files: tuple[str, ...] = field(default=())

    @property
    def runs_command(self) -> bool:
        """A project without dvc.yaml: its trials run the command gitexp.yaml records (project/command.py)."""
        return not self.dvc_files

    @property
    def default_params_file(self) -> str:
        """The file a parameter named without FILE: goes to."""
        return COMMAND_FILE if self.runs_command else DEFAULT_PARAMS_FILE

    @functools.cached_property  # asked for each of 10,000 commits a show reads
    def lock_files(self) -> tuple[str, ...]:
        return tuple(posixpath.join(posixpath.dirname(path), DVC_LOCK) for path in self.dvc_files)

    def path(self, name: str) -> str:
        """A project-relative path (as users and DVC write it) as a repo-relative one."""
        return repo_path(self.directory, name)

    def display(self, path: str) -> str:
        """A repo-relative path as users and DVC write it: relative to the project."""
        return posixpath.relpath(path, self.directory) if self.directory else path

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Project":
        fields = {key: tuple(value) for key, value in data.items() if key not in ("directory", "outputs")}
        return cls(**fields, directory=data["directory"], outputs=tuple(Output(**item) for item in data["outputs"]))


def repo_path(directory: str, name: str) -> str:
    return posixpath.normpath(posixpath.join(directory, name)) if directory else posixpath.normpath(name)


# -- finding the project ---------------------------------------------------------


def find_project_dir(git: Git, cwd: Path, chosen: Path | None = None) -> str:
    """The DVC project's folder, relative to the Git root: ``chosen``'s, or the one containing ``cwd``.

    Without ``--project``, the nearest folder at or above ``cwd`` with a
    ``.dvc`` directory is the project, as DVC finds its root; a repository
    with none has its project at the root (where gitexp then finds no dvc.yaml).
    """
    root = git.root.resolve()
    if chosen is not None:
        folder = check_project_option(cwd, chosen)
        if not _inside(folder, root):
            raise UsageError(f"--project {chosen}: the folder is outside this Git repository ({root}): give one inside it")
        return _relative(folder, root)
    folder = cwd.resolve()
    while _inside(folder, root):
        if (folder / ".dvc").is_dir():
            return _relative(folder, root)
        if folder == root:
            break
        folder = folder.parent
    return ""


def check_project_option(cwd: Path, chosen: Path) -> Path:
    """The folder ``--project`` names, refused unless it is a DVC project."""
    folder = (cwd / chosen).resolve()
    if not (folder / ".dvc").is_dir():
        raise UsageError(
            f"--project {chosen}: not a DVC project (no .dvc folder in {folder}): give the folder where dvc init ran"
        )
    return folder


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _relative(path: Path, root: Path) -> str:
    return "" if path == root else path.relative_to(root).as_posix()


# -- loading ---------------------------------------------------------------------


def load_project(
    git: Git, rev: str, directory: str = "", cache: "ProjectCache | None" = None, resolver: Resolver | None = None
) -> Project:
    """The project in ``directory`` as committed in ``rev``, resolved by DVC (or read from the cache).

    A project with no dvc.yaml runs a command instead (``command_project``);
    a dvc.yaml DVC rejects is refused with DVC's message. ``resolver``: a
    process with DVC loaded that resolves it instead of this one (an executor's
    warm DVC), answering the project's JSON, ``{"error": line}``, or None when it cannot.
    """
    files = project_files(git, rev, directory)
    if not files.dvc_files or repo_path(directory, COMMAND_FILE) in files.blobs:  # the dvc.yaml of a command is dvclive's
        return command_project(git, rev, directory)
    texts = _refuse_explosive_yaml(git, files)
    cache = cache or ProjectCache(git.common_dir())
    key = files.cache_key(git, rev, texts)
    found = cache.get(key)
    if found is None:
        from gitexp.project.dvc import resolve_project

        default_params = repo_path(directory, DEFAULT_PARAMS_FILE)
        if default_params in files.blobs and git.through_links(rev, default_params) is None:
            raise RepositoryError(broken_link(DEFAULT_PARAMS_FILE))
        found = _resolved_by(resolver, git.root, rev, files)
        if found is None:
            with _RESOLVING:
                found = resolve_project(git.root, rev, files)
        cache.put(key, found)
    return found


def _resolved_by(resolver: Resolver | None, root: Path, rev: str, files: ProjectFiles) -> Project | None:
    answer = resolver(root, rev, files) if resolver is not None else None
    if answer is not None and "error" in answer:
        raise RepositoryError(answer["error"])
    return Project.from_json(answer) if answer is not None else None


def broken_link(name: str) -> str:
    return (
        f"{name} is a symlink that leads outside the repository or round in a loop, so trials cannot change it: "
        "commit the file itself, or link to a file inside the repository"
    )


def _refuse_explosive_yaml(git: Git, files: ProjectFiles) -> list[bytes | None]:
    """Refuse a dvc.yaml, or a YAML file it takes values from (params.yaml, vars), whose aliases explode: DVC reads them whole.

    Answers the texts of the dvc.yaml files, for ``ProjectFiles.cache_key``.
    """
    fix = "write the values out (fewer aliases of aliases) and commit the file"
    texts = dict(zip(files.dvc_files, git.read_blobs([files.blobs[path] for path in files.dvc_files])))
    for path, text in texts.items():
        refuse_explosive_yaml(text or b"", path, fix)
    sources = {name for path, text in texts.items() for name in _template_sources(path, text or b"")}
    found = sorted(name for name in sources if name in files.blobs and name.endswith((".yaml", ".yml")))
    for path, text in zip(found, git.read_blobs([files.blobs[path] for path in found])):
        refuse_explosive_yaml(text or b"", path, fix)
    return list(texts.values())


Resolver = Callable[[Path, str, "ProjectFiles"], "dict[str, Any] | None"]  # see load_project
_RESOLVING = threading.Lock()  # executor threads share one imported DVC, which is not made for threads


def command_project(git: Git, rev: str, directory: str) -> Project:
    """A project without dvc.yaml, as its ``gitexp.yaml`` at ``rev`` describes it (a baseline has none yet)."""
    document = read_document(git.read_blob(rev, repo_path(directory, COMMAND_FILE)))
    listed = lambda name: [repo_path(directory, path) for path in document.get(name) or () if isinstance(path, str)]  # noqa: E731
    outputs = tuple(Output(path, "", kind="outs") for path in listed("outs"))
    return Project((repo_path(directory, COMMAND_FILE),), tuple(listed("metrics")), (), (), directory, outputs)


def no_dvc_yaml(directory: str) -> str:
    where = f"in {directory}/" if directory else "at the root of the repository"
    return (
        f"no dvc.yaml {where}: gitexp runs DVC pipelines; create one with dvc stage add (and commit it), "
        "run gitexp from the DVC project's folder (or name it with --project), "
        "or give the command trials run after --, e.g. gitexp queue -- python train.py --lr '[0.01, 0.1]'"
    )


@dataclass(frozen=True)
class ProjectFiles:
    """The files of a commit that decide how DVC resolves the project, by blob id."""

    directory: str
    dvc_files: tuple[str, ...]
    blobs: dict[str, str]  # path -> blob id, for every file of the project folder
    data_files: tuple[str, ...] = ()  # the .dvc files (dvc add, dvc import)

    def cache_key(self, git: Git, rev: str, texts: Sequence[bytes | None] | None = None) -> str:
        """The blob ids DVC's answer depends on: dvc.yaml and .dvc files, and the values templated dvc.yaml read
        (``texts``: the dvc.yaml files' contents, when the caller has read them)."""
        inputs = {path: self.blobs[path] for path in (*self.dvc_files, *self.data_files)}
        inputs["params.yaml exists"] = str(repo_path(self.directory, DEFAULT_PARAMS_FILE) in self.blobs)
        texts = texts if texts is not None else git.read_blobs([self.blobs[path] for path in self.dvc_files])
        for path, text in zip(self.dvc_files, texts):
            if text is not None and b"${" in text:
                for name in _template_sources(path, text):
                    inputs[name] = self.blobs.get(name, "")
        digest = hashlib.sha256(json.dumps([CACHE_VERSION, self.directory, inputs], sort_keys=True).encode())
        return digest.hexdigest()

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ProjectFiles":
        return cls(data["directory"], tuple(data["dvc_files"]), data["blobs"], tuple(data["data_files"]))


def project_files(git: Git, rev: str, directory: str) -> ProjectFiles:
    """Every file of the project folder in ``rev`` (one ``ls-tree``), and its dvc.yaml files.

    A folder with a ``.dvc`` directory of its own below the project is another
    project (a monorepo's), so its dvc.yaml files are not this project's.
    """
    blobs = git.list_tree(rev, directory)
    nested = {
        posixpath.dirname(posixpath.dirname(path))
        for path in blobs
        if path.endswith("/.dvc/config") and posixpath.dirname(posixpath.dirname(path)) != directory
    }
    own = [path for path in blobs if not any(path.startswith(f"{other}/") for other in nested)]
    dvc_files = sorted(path for path in own if posixpath.basename(path) == DVC_YAML)
    data_files = sorted(path for path in own if path.endswith(".dvc"))
    return ProjectFiles(directory, tuple(dvc_files), blobs, tuple(data_files))


def _template_sources(dvc_file: str, text: bytes) -> list[str]:
    """The files a templated dvc.yaml takes values from: params.yaml beside it and its ``vars`` files."""
    folder = posixpath.dirname(dvc_file)
    names = [DEFAULT_PARAMS_FILE]
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return [posixpath.join(folder, DEFAULT_PARAMS_FILE)]
    sections = [document.get("vars") or []] if isinstance(document, dict) else []
    stages = document.get("stages") if isinstance(document, dict) else None
    for definition in stages.values() if isinstance(stages, dict) else ():
        if isinstance(definition, dict):
            sections.append(definition.get("vars") or [])
            body = definition.get("do")
            if isinstance(body, dict):
                sections.append(body.get("vars") or [])
    for section in sections:
        names += [entry.split(":")[0] for entry in section if isinstance(entry, str)] if isinstance(section, list) else []
    return [posixpath.normpath(posixpath.join(folder, name)) for name in dict.fromkeys(names)]


class ProjectCache:
    """Resolved projects by content key, as JSON files under ``.git/gitexp/cache/projects``.

    ``deferred`` keeps new entries in memory until ``save()``, for commands
    that must leave ``.git/gitexp`` as it was when they are refused.
    """

    def __init__(self, common_dir: Path, deferred: bool = False):
        self.folder = project_cache_dir(common_dir)
        self.deferred = deferred
        self.pending: dict[str, Project] = {}

    def get(self, key: str) -> Project | None:
        if key in self.pending:
            return self.pending[key]
        path = self.folder / f"{key}.json"
        try:
            written = path.stat().st_mtime_ns  # in the key: a file written since a miss is read (a miss is no answer for ever)
        except OSError:
            return None
        return _read_cached(path, written)

    def put(self, key: str, project: Project) -> None:
        self.pending[key] = project
        if not self.deferred:
            self.save()

    def save(self) -> None:
        for key, project in self.pending.items():
            self.folder.mkdir(parents=True, exist_ok=True)
            scratch = self.folder / f".{key}.{os.getpid()}.tmp"
            scratch.write_text(json.dumps(project.to_json()))
            os.replace(scratch, self.folder / f"{key}.json")  # readers see all of it or nothing
        self.pending.clear()


@functools.lru_cache(maxsize=64)
def _read_cached(path: Path, written: int) -> Project | None:
    try:
        return Project.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def declared_top_level_paths(document: Any, folder: str) -> list[str]:
    """The paths a plain (untemplated) dvc.yaml declares at its top level: metrics, plots, params.

    For a dvc.yaml that appeared while a trial ran (dvclive writes one), whose
    files belong in the result commit as DVC would commit them.
    """
    if not isinstance(document, dict):
        return []
    paths = []
    for section in ("metrics", "plots", "params"):
        for entry in document.get(section) or []:
            if isinstance(entry, str):
                paths.append(entry)
            elif isinstance(entry, dict):
                paths += [name for name in entry if isinstance(name, str)]
    return [posixpath.normpath(posixpath.join(folder, path)) for path in paths if "${" not in path]
