"""``gitexp apply``: a trial's params and results into the working tree, with its DVC outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitexp.errors import GitCommandError, GitexpError, RepositoryError, UsageError, some_of
from gitexp.project.dvc import dvc_remote_configured, run_dvc, workspace_busy
from gitexp.project.model import DVC_LOCK
from gitexp.sharing.sync import missing_trial_outputs
from gitexp.store.git import Git
from gitexp.store.records import Ledger, Trial


@dataclass(frozen=True)
class AppliedTrial:
    trial: Trial
    paths: list[str]
    data: str


def apply_trial(git: Git, name: str) -> AppliedTrial:
    """Bring the files a trial changed (params and results) into the working tree and index.

    Like ``git checkout TRIAL -- <paths the trial changed since its baseline>``,
    then ``dvc checkout`` of the outputs the new dvc.lock names. All or nothing:
    everything that can refuse is checked first (DVC busy in the workspace,
    uncommitted changes, so nothing of the user's is lost, and outputs of the trial
    that neither the cache nor a ``dvc fetch`` has, so that an applied trial is
    never one without its model); when a step fails after that, the files written
    are put back as HEAD has them.
    """
    ledger = Ledger(git)
    trial = ledger.resolve_trial(name)
    project_root = git.root / trial.project
    require_idle_dvc(project_root, trial)
    status = git.status_porcelain()
    dirty = [entry[3:] for entry in status if not entry.startswith("??")]
    if dirty:
        raise UsageError(
            f"uncommitted changes to {some_of(dirty)}: commit or stash them before gitexp apply {trial.ref.key}"
        )
    baseline = ledger.sweep(trial.sweep).baseline
    changed = git.changed_files(baseline, trial.tip)  # path -> status letter
    untracked = [entry[3:] for entry in status if entry.startswith("??") and entry[3:] in changed]
    if untracked:
        raise UsageError(f"untracked {some_of(untracked)} would be overwritten: move them away, then apply again")
    with_outputs = (project_root / ".dvc").is_dir() and any(path.endswith(DVC_LOCK) for path in changed)
    if with_outputs:
        require_outputs(git, trial)
    in_head = git.tracked_files(sorted(changed))  # the index is HEAD's: nothing is staged
    try:
        git.checkout_files(trial.tip, [path for path, letter in changed.items() if letter != "D"])
        git.remove_files([path for path, letter in changed.items() if letter == "D"])
        if with_outputs:
            run_dvc(project_root, git.env, "checkout", "--allow-missing")
    except GitexpError as error:
        put_back(git, sorted(changed), in_head)
        require_idle_dvc(project_root, trial)  # DVC's lock was taken meanwhile, so DVC wrote nothing
        undone = outputs_put_back(git, project_root) if with_outputs else "nothing was applied"
        raise GitCommandError(f"{error.message}; {undone}") from None
    data = "DVC outputs checked out from the cache (those it holds)" if with_outputs else "no DVC outputs changed"
    return AppliedTrial(trial, sorted(changed), data)


def require_idle_dvc(project_root: Path, trial: Trial) -> None:
    busy = workspace_busy(project_root) if (project_root / ".dvc").is_dir() else None
    if busy:
        raise RepositoryError(
            f"the DVC project is busy: {busy}; nothing was applied: let it finish, then gitexp apply {trial.ref.key} again"
        )


def put_back(git: Git, paths: list[str], in_head: list[str]) -> None:
    """``paths`` as HEAD has them again; those HEAD lacks removed."""
    git.checkout_files("HEAD", in_head)
    git.remove_files([path for path in paths if path not in set(in_head)], force=True)


def outputs_put_back(git: Git, project_root: Path) -> str:
    """After a failed ``dvc checkout``: HEAD's outputs checked out again, and what the user is left with."""
    try:
        run_dvc(project_root, git.env, "checkout", "--allow-missing")
    except GitexpError:
        return "the files are back as HEAD has them, the DVC outputs may not be: run dvc checkout"
    return "nothing was applied"


def require_outputs(git: Git, trial: Trial) -> None:
    """Refuse ``trial`` when the cache lacks some of its outputs, after a ``dvc fetch`` when there is a DVC remote."""
    missing = missing_trial_outputs(git, trial)
    if not missing:
        return
    project_root = git.root / trial.project
    if not dvc_remote_configured(project_root, git.env):
        where, fix = "and no DVC remote is configured", "add the one they were pushed to (dvc remote add -d NAME URL)"
    else:
        try:
            run_dvc(project_root, git.env, "fetch", "--all-branches", silence=git.network_timeout())
            where, fix = "nor on the DVC remote", "gitexp push them from the clone that ran the trial"
        except GitCommandError as error:
            where, fix = f"and could not be fetched ({error.message})", "fix the DVC remote (dvc remote list)"
        missing = missing_trial_outputs(git, trial)
        if not missing:
            return
    raise RepositoryError(
        f"outputs of {trial.ref.key} are not in the DVC cache {where}: {some_of(missing)}; nothing was applied: "
        f"{fix}, then gitexp apply {trial.ref.key} again"
    )
