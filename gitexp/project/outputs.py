"""DVC outputs and the DVC remote: pushing a trial's outputs, and finding outputs the cache lacks.

DVC itself moves data (``dvc push``, ``dvc fetch``, ``dvc checkout`` as
separate processes), and when it fails, its own words are what gitexp reports.
Which outputs a commit records, and whether the cache holds them, is read
without DVC (``dvc_lock``): each ``dvc.lock`` names the hash of every output,
and DVC's cache keeps an object under each hash.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from gitexp.errors import GitCommandError
from gitexp.project.dvc_cli import dvc_argv, tool_env
from gitexp.project.lock import DvcCache, pipeline_record
from gitexp.project.model import Project
from gitexp.store.git import Git

_DVC_SIGN_OFF = "Having any troubles?"  # the line DVC ends every error with


# -- running DVC -------------------------------------------------------------------


def dvc_remote_configured(directory: Path, env: Mapping[str, str]) -> bool:
    """Whether the DVC project at ``directory`` has a remote to push outputs to (``dvc remote list``)."""
    if not (directory / ".dvc").is_dir():
        return False
    proc = subprocess.run(
        dvc_argv("remote", "list"), cwd=directory, env=tool_env(env), capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and bool(proc.stdout.strip())


def run_dvc(directory: Path, env: Mapping[str, str], *args: str) -> None:
    """Run ``dvc ARGS`` in ``directory``; a failure is one line: ``dvc COMMAND failed:`` and DVC's error."""
    proc = subprocess.run(dvc_argv(*args), cwd=directory, env=tool_env(env), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GitCommandError(f"dvc {args[0]} failed: {dvc_error(proc.stderr + proc.stdout, proc.returncode)}")


def dvc_error(output: str, code: int) -> str:
    """DVC's own error from its output: its ``ERROR:`` lines (without --quiet DVC prints them), else its last words."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR:").strip() for line in lines if line.startswith("ERROR:")]
    if errors:
        return "; ".join(errors)
    said = [line for line in lines if not line.startswith(_DVC_SIGN_OFF)]
    return said[-1] if said else f"exit status {code}"


def push_outputs(directory: Path, env: Mapping[str, str], trial_key: str) -> bool:
    """``dvc push`` of the outputs a trial's workspace at ``directory`` holds, when its project has a DVC remote.

    Runs before the trial's result is published (by a worker or a CI job), so
    that a result others can pull has its outputs on the DVC remote. True when
    pushed; a failure is DVC's error, and the result is not to be published.
    """
    if not dvc_remote_configured(directory, env):
        return False
    try:
        run_dvc(directory, env, "push")
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
