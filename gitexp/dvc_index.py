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

from .errors import RepositoryError
from .project import DEFAULT_PARAMS_FILE, Output, Project


def resolve_project(git_root: Path, rev: str, directory: str, dvc_files: Iterable[str]) -> Project:
    from dvc.exceptions import DvcException
    from dvc.fs import GitFileSystem
    from dvc.repo import Repo
    from dvc.scm import SCM

    scm = SCM(str(git_root))
    try:
        repo = Repo(root_dir="/" + directory, fs=GitFileSystem(scm=scm, rev=rev), scm=scm)
        with repo:
            return _project_of(repo, directory, dvc_files)
    except DvcException as exc:
        raise RepositoryError(f"{_dvc_message(exc)}: fix the file and commit it") from None
    finally:
        scm.close()


def _project_of(repo, directory: str, dvc_files: Iterable[str]) -> Project:
    index = repo.index
    stages = list(index.stages)
    outputs = [
        Output(_repo_path(out.fs_path), stage.name, out.use_cache, out.persist, _kind(out))
        for stage in stages
        for out in stage.outs
    ]
    params = [_repo_path(dep.fs_path) for stage in stages for dep in stage.deps if hasattr(dep, "params")]
    params += [posixpath.join(directory, *key) for key in index.param_keys.get("repo", ())]
    params += [_vars_path(repo, name) for stage in stages for name in getattr(stage, "tracked_vars", {})]
    return Project(
        params_files=_ordered(params),
        metrics_files=_ordered(posixpath.join(directory, *key) for key in index.metric_keys.get("repo", ())),
        plots_paths=_ordered(posixpath.join(directory, *key) for key in index.plot_keys.get("repo", ())),
        stages=tuple(dict.fromkeys(stage.name for stage in stages)),
        directory=directory,
        outputs=tuple(outputs),
        dvc_files=tuple(dvc_files),
    )


def _kind(out) -> str:
    return "metrics" if out.metric else "plots" if out.plot else "outs"


def _repo_path(fs_path: str) -> str:
    """DVC's Git file system roots paths at ``/``, the repository's top."""
    return posixpath.normpath(str(fs_path).lstrip("/"))


def _vars_path(repo, name: str) -> str:
    return _repo_path(repo.fs.join(repo.root_dir, name) if not name.startswith("/") else name)


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
