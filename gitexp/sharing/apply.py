"""``gitexp apply``: a trial's params and results into the working tree, with its DVC outputs."""

from __future__ import annotations

from dataclasses import dataclass

from gitexp.errors import GitCommandError, RepositoryError, UsageError, some_of
from gitexp.project.dvc import dvc_remote_configured, run_dvc
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
    then ``dvc checkout`` of the outputs the new dvc.lock names. Refuses over
    uncommitted changes, so nothing of the user's is lost, and when the cache
    lacks outputs of the trial that a ``dvc fetch`` cannot bring, so that an
    applied trial is never one without its model.
    """
    ledger = Ledger(git)
    trial = ledger.resolve_trial(name)
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
    project_root = git.root / trial.project
    with_outputs = (project_root / ".dvc").is_dir() and any(path.endswith(DVC_LOCK) for path in changed)
    if with_outputs:
        require_outputs(git, trial)
    kept = [path for path, letter in changed.items() if letter != "D"]
    removed = [path for path, letter in changed.items() if letter == "D"]
    git.checkout_files(trial.tip, kept)
    git.remove_files(removed)
    data = "no DVC outputs changed"
    if with_outputs:
        run_dvc(project_root, git.env, "checkout", "--allow-missing")
        data = "DVC outputs checked out from the cache (those it holds)"
    return AppliedTrial(trial, sorted(changed), data)


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
            run_dvc(project_root, git.env, "fetch", "--all-branches")
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
