"""DVC outputs and the DVC remote: pushing a trial's outputs, and finding outputs the cache lacks.

DVC itself moves data (``dvc push``, started by ``project.dvc``), and when it
fails, its own words are what gitexp reports.
Which outputs a commit records, and whether the cache holds them, is read
without DVC (``dvc_lock``): each ``dvc.lock`` names the hash of every output,
and DVC's cache keeps an object under each hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gitexp.errors import GitCommandError
from gitexp.project.dvc import dvc_remote_configured, run_dvc
from gitexp.project.lock import DvcCache, pipeline_record
from gitexp.project.model import Project
from gitexp.store.git import Git


def push_outputs(directory: Path, env: Mapping[str, str], trial_key: str) -> bool:
    """``dvc push`` of the outputs a trial's workspace at ``directory`` holds, when its project has a DVC remote.

    Runs before the trial's result is published (by a worker or a CI job), so
    that a result others can pull has its outputs on the DVC remote. True when
    pushed; a failure is DVC's error, and the result is not to be published.
    """
    if not dvc_remote_configured(directory, env):
        return False
    try:
        run_dvc(directory, env, "push", silence=Git(directory, env).network_timeout())
    except GitCommandError as error:
        raise GitCommandError(
            f"{error.message}; the result of {trial_key} is not published (its outputs would be missing for "
            "everyone who pulls it): fix the DVC remote (dvc remote list), then run the trial again"
        ) from None
    return True


# -- what the cache lacks -----------------------------------------------------------


def missing_outputs(git: Git, rev: str, project: Project, cache_dir: Path) -> list[str]:
    """The cached outputs the ``dvc.lock`` files of ``rev`` record that the cache at ``cache_dir`` lacks (repo paths)."""
    paths = [*project.dvc_files, *project.lock_files]
    record = pipeline_record(project, dict(zip(paths, git.read_blobs([f"{rev}:{path}" for path in paths]))))
    cache = DvcCache(cache_dir)
    return [out.path for out in record.outs.values() if out.use_cache and out.hash and not cache.holds(out)]
