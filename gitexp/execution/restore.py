"""A trial's DVC process: restore the DVC-tracked data of the checkout, then run the DVC command.

``dvc exp run`` checks its executor's workspace out from the cache (with force,
allowing missing data) before it reproduces; a trial of a project with cached
outputs does the same, in the warm DVC's forked child (``repro_server``) or,
without one, in a process of its own (``python -m gitexp.execution.restore
repro ...``), so that no extra interpreter starts for it. ``git clean`` empties
a reused slot between trials, so every trial checks its data out afresh: with
a hardlink, symlink or reflink cache that is one link per file. The cache is the
slot's configured one (the main project's, see ``worktrees.share_dvc_cache``)
and its ``cache.type`` decides whether files are linked or copied.

What ``dvc repro`` cannot make again, the data of ``dvc add`` and ``dvc
import`` and the outputs of frozen stages, must be there; persistent outputs
should be. When the cache lacks them they are fetched (from the DVC remote, or
an import's source); data that is nowhere fails the trial with one line, the
last of its log, and the exit status ``MISSING_DATA``.

This module runs inside DVC's own process, so it imports DVC itself (the one
exception, with ``repro_server``, to DVC being started only by ``project.dvc``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from gitexp.errors import some_of
from gitexp.store.redaction import redacted

MISSING_DATA = 66  # sysexits' EX_NOINPUT: DVC itself never exits with it


def run_dvc(args: Sequence[str], restore: bool) -> int:
    """``dvc ARGS`` (a repro) in the current directory, with ``restore`` its data restored first."""
    from dvc.cli import main as dvc_main

    if restore:
        reason = restore_workspace(repro_targets(args))
        if reason:
            print(reason, file=sys.stderr, flush=True)
            return MISSING_DATA
    return dvc_main(list(args))


def repro_targets(args: Sequence[str]) -> list[str]:
    """The stages of ``repro [-- STAGE...]``, as the executor writes it."""
    return list(args[args.index("--") + 1 :]) if "--" in args else []


def restore_workspace(targets: Sequence[str]) -> str | None:
    """Check the DVC-tracked data of the workspace out of the cache; why the trial cannot run, if it cannot.

    With targets, only theirs and their upstream stages' (as ``dvc exp run`` does).
    A project DVC cannot load is left to the DVC command, which reports it.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo() as repo:
            missing = _checkout(repo, targets, with_deps=bool(targets))
            if not missing:
                return None
            required, wanted = _unrecoverable(repo, missing)
            if not wanted:
                return None
            _fetch(repo, wanted)
            still = set(_checkout(repo, wanted, with_deps=False))
            lost = [path for path in required if path in still]
            return missing_data_reason(lost, repo.config["core"].get("remote")) if lost else None
    except DvcException:
        return None


def _checkout(repo, targets: Sequence[str], with_deps: bool) -> list[str]:
    """Check ``targets`` (all when empty) out with force; the output paths the cache lacks."""
    from dvc.exceptions import CheckoutError

    try:
        repo.checkout(targets=list(targets) or None, with_deps=with_deps, force=True)
    except CheckoutError as error:
        return [str(path) for path in error.target_infos]
    return []


def _unrecoverable(repo, missing: Sequence[str]) -> tuple[list[str], list[str]]:
    """Of the ``missing`` outputs: those ``dvc repro`` only verifies (required), and those plus the persistent ones (wanted)."""
    missing = set(missing)
    required, wanted = [], []
    for stage in repo.index.stages:
        for out in stage.outs:
            path = os.path.relpath(out.fs_path)
            if path not in missing:
                continue
            if stage.frozen or stage.is_data_source:
                required.append(path)
            if stage.frozen or stage.is_data_source or out.persist:
                wanted.append(path)
    return required, wanted


def _fetch(repo, paths: Sequence[str]) -> None:
    """Fetch ``paths`` into the cache from wherever DVC finds them; what it cannot find stays missing."""
    from dvc.exceptions import DvcException

    print(f"gitexp: fetching {len(paths)} missing output(s) into the DVC cache", file=sys.stderr, flush=True)
    try:
        repo.fetch(targets=list(paths))
    except DvcException as error:
        print(f"gitexp: {redacted(str(error))}", file=sys.stderr, flush=True)  # the trial's log lands in its result commit


def missing_data_reason(paths: Sequence[str], remote: str | None) -> str:
    """One line: which data is missing, and how to get it there."""
    named = some_of(list(paths))
    if remote:
        return (
            f"missing data {named}: in neither the DVC cache nor the DVC remote {remote!r}: "
            "dvc push it from a clone that has it, or dvc remote add -d a remote that has it"
        )
    return (
        f"missing data {named}: not in the DVC cache, and the project has no DVC remote: "
        "dvc remote add -d NAME URL for a remote that has it, then dvc pull"
    )


if __name__ == "__main__":
    sys.exit(run_dvc(sys.argv[1:], restore=True))
