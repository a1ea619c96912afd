"""A commit's DVC project as DVC itself resolves it (the only module that imports DVC).

DVC reads the commit through its Git file system, so nothing is checked out
and nothing is written into the user's workspace; ``vars``, ``${...}``,
``foreach`` and ``matrix`` come out as DVC expands them, and a dvc.yaml DVC
rejects is refused with DVC's own message.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path

from gitexp.errors import RepositoryError
from gitexp.project.model import DEFAULT_PARAMS_FILE, Output, Project, ProjectFiles, repo_path


def resolve_project(git_root: Path, rev: str, files: ProjectFiles) -> Project:
    from dvc.exceptions import DvcException
    from dvc.fs import GitFileSystem
    from dvc.repo import Repo
    from dvc.scm import SCM

    scm = SCM(str(git_root))
    try:
        repo = Repo(root_dir="/" + files.directory, fs=GitFileSystem(scm=scm, rev=rev), scm=scm)
        with repo:
            return _project_of(repo, files)
    except DvcException as exc:
        raise RepositoryError(f"{_dvc_message(exc)}: fix the file and commit it") from None
    finally:
        scm.close()


def _project_of(repo, files: ProjectFiles) -> Project:
    from dvc.dvcfile import load_file

    stages = list(repo.index.stages)
    outputs = [
        Output(_repo_path(out.fs_path), _stage_name(stage), out.use_cache, out.persist, _kind(out))
        for stage in stages
        for out in stage.outs
    ]
    params, metrics, plots = [], [], []
    default_params = repo_path(files.directory, DEFAULT_PARAMS_FILE)
    if default_params in files.blobs:  # DVC reads params.yaml whether a stage lists it or not
        params.append(default_params)
    params += [_repo_path(dep.fs_path) for stage in stages for dep in stage.deps if hasattr(dep, "params")]
    for stage in stages:
        params += [_repo_path(name) for name in getattr(stage, "tracked_vars", {})]  # Git-file-system paths
    for path in files.dvc_files:  # the top-level sections, as DVC resolves them
        folder, dvcfile = posixpath.dirname(path), load_file(repo, "/" + path)
        params += [repo_path(folder, name) for name in dvcfile.params]
        metrics += [repo_path(folder, name) for name in dvcfile.metrics]
        plots += [repo_path(folder, name) for name in _plot_files(dvcfile.plots)]
    metrics += [out.path for out in outputs if out.kind == "metrics"]
    plots += [out.path for out in outputs if out.kind == "plots"]
    return Project(
        params_files=_ordered(params),
        metrics_files=_ordered(metrics),
        plots_paths=_ordered(plots),
        stages=tuple(dict.fromkeys(stage.name for stage in stages if hasattr(stage, "name"))),
        directory=files.directory,
        outputs=tuple(outputs),
        dvc_files=files.dvc_files,
    )


def _stage_name(stage) -> str:
    """A dvc.yaml stage's name; a ``.dvc`` file's stage (dvc add, dvc import) has none, only its file."""
    return getattr(stage, "name", stage.addressing)


def _plot_files(entries: Iterable) -> list[str]:
    """The data files of top-level plots: a path, or a plot id whose ``x``/``y`` name files."""
    paths: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            paths.append(entry)
            continue
        for plot_id, props in entry.items() if isinstance(entry, dict) else ():
            axes = [props.get(axis) for axis in ("x", "y")] if isinstance(props, dict) else []
            named = [name for axis in axes if isinstance(axis, dict) for name in axis]
            paths += named or [plot_id]
    return paths


def _kind(out) -> str:
    return "metrics" if out.metric else "plots" if out.plot else "outs"


def _repo_path(fs_path: str) -> str:
    """DVC's Git file system roots paths at ``/``, the repository's top."""
    return posixpath.normpath(str(fs_path).lstrip("/"))


def _ordered(paths: Iterable[str]) -> tuple[str, ...]:
    """Sorted, with each folder's params.yaml first (DVC reads it first), repeats dropped."""
    unique = set(paths)
    return tuple(sorted(unique, key=lambda path: (posixpath.basename(path) != DEFAULT_PARAMS_FILE, path)))


def _dvc_message(exc: BaseException) -> str:
    """DVC's message, with where its YAML parser stopped when that was the cause.

    "unable to read: 'dvc.yaml', YAML file structure is corrupted (while
    parsing a flow sequence, line 1)"
    """
    message = " ".join(str(exc).split())
    cause = exc.__cause__
    problem, mark = getattr(cause, "context", None), getattr(cause, "context_mark", None)
    if not problem:
        problem, mark = getattr(cause, "problem", None), getattr(cause, "problem_mark", None)
    if problem:
        message += f" ({problem}" + (f", line {mark.line + 1}" if mark is not None else "") + ")"
    return message
