"""``gitexp remove``: a sweep's or trial's refs (branches, record, claims, stop requests; a sweep's archived
trials, its own branch ``sweeps/<sweep>`` and its report images) deleted here and, when asked, on a remote."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from gitexp.errors import GitCommandError, UsageError
from gitexp.sharing.sync import remote_store, swap_on_remote
from gitexp.store.claim_records import claim_ref
from gitexp.store.git import ZERO_OID, Git, RefUpdate
from gitexp.store.journal import recover
from gitexp.store.layout import stop_request_path, trial_log_path
from gitexp.store.live import LiveClaims
from gitexp.store.naming import ARCHIVE_NAMESPACE, CLAIMS_NAMESPACE, STOPS_NAMESPACE, reports_ref, sweep_branch, sweep_ref
from gitexp.store.records import Ledger, Sweep, Trial
from gitexp.store.refstore import LocalRefs
from gitexp.store.stops import stop_ref


@dataclass
class Removal:
    """The refs that removing some trials and sweeps deletes, here and on a remote."""

    trials: list[Trial] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)
    local: dict[str, str] = field(default_factory=dict)  # ref -> oid
    remote: dict[str, str] = field(default_factory=dict)

    def lines(self, remote: str | None) -> list[str]:
        what = [f"sweep {sweep.name}" for sweep in self.sweeps]
        whole = {sweep.name for sweep in self.sweeps}
        loose = [trial.ref.key for trial in self.trials if trial.sweep not in whole]
        counts = f"{len(self.trials)} trial branch(es)" + (f" and {', '.join(what)}" if what else "")
        lines = [f"Removed {counts}" + (f": {', '.join(loose)}" if loose else "")]
        if remote is not None:
            lines.append(f"Removed {len(self.remote)} ref(s) from {remote}")
            lines += [
                f"Deleted branch {sweep_branch(sweep.name)} on {remote}: GitHub closes its pull request if one was open"
                for sweep in self.sweeps
                if _sweep_branch_ref(sweep.name) in self.remote
            ]
        return lines


def remove(git: Git, names: list[str], remote: str | None = None) -> Removal:
    """Delete trials and sweeps (their branches, records, claims and stop requests), on ``remote`` first, then here.

    Each side changes in one atomic step that checks every ref is still where
    it was seen, so a result pushed meanwhile is never deleted unseen.
    """
    store = remote_store(git, remote) if remote is not None else None
    removal = plan_removal(git, names)
    recover(git, Ledger(git).prefixes())
    if store is not None:
        removal.remote = remote_refs_to_remove(git, remote, removal)
        swap_on_remote(store, [RefUpdate(ref, ZERO_OID, oid) for ref, oid in removal.remote.items()])
        mirrored = {store.remote.tracking(ref) for ref in removal.remote}  # what this clone saw there is gone too
        removal.local.update((r.name, r.oid) for r in git.refs(store.remote.namespace) if r.name in mirrored)
    updates = [RefUpdate(ref, ZERO_OID, oid) for ref, oid in removal.local.items()]
    if not LocalRefs(git).swap(updates, message="gitexp: remove"):
        raise GitCommandError("refs changed while removing (another gitexp at work?): run gitexp remove again")
    common_dir = git.common_dir()
    for trial in removal.trials:
        for where in (trial_log_path, stop_request_path):
            path = where(common_dir, trial.sweep, trial.name)
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # once the sweep's last file there is gone
    return removal


def plan_removal(git: Git, names: list[str]) -> Removal:
    """What ``names`` (sweeps or trials) remove locally; refuses running or checked-out trials."""
    ledger = Ledger(git)
    sweeps = set(ledger.sweep_names())
    removal = Removal()
    for name in dict.fromkeys(names):
        if name in sweeps:
            sweep = ledger.sweep(name)
            removal.sweeps.append(sweep)
            removal.trials += ledger.trials([name], archived=True)
            removal.local[sweep_ref(name)] = sweep.commit
            own = _own_refs(name)
            removal.local.update((record.name, record.oid) for record in git.refs(*own) if record.name in own)
            for namespace in (CLAIMS_NAMESPACE, STOPS_NAMESPACE):
                removal.local.update((record.name, record.oid) for record in git.refs(f"{namespace}{name}/"))
        else:
            removal.trials.append(ledger.resolve_trial(name))
    checked_out = git.current_branch()
    for sweep in removal.sweeps:
        if _sweep_branch_ref(sweep.name) == checked_out:
            raise UsageError(f"{sweep_branch(sweep.name)} is checked out: switch to another branch, then remove sweep {sweep.name}")
    running_here = LiveClaims.read(git, remotes=False)  # a remote's runner publishes by compare-and-swap
    claims_and_stops = {record.name: record.oid for record in git.refs(CLAIMS_NAMESPACE, STOPS_NAMESPACE)}
    for trial in removal.trials:
        if running_here.holder(trial) is not None:
            raise UsageError(f"{trial.ref.key} is running: wait until it finishes, then remove it")
        if trial.ref.ref == checked_out:
            raise UsageError(f"{trial.ref.branch} is checked out: switch to another branch, then remove it")
        removal.local[trial.where] = trial.tip
        for ref in _claim_and_stop(trial):
            if ref in claims_and_stops:
                removal.local[ref] = claims_and_stops[ref]
    return removal


def remote_refs_to_remove(git: Git, remote: str, removal: Removal) -> dict[str, str]:
    """The remote's refs of the removed trials and sweeps, including trials only the remote has."""
    patterns = {ref for ref in removal.local} | {ref for trial in removal.trials for ref in _claim_and_stop(trial)}
    for sweep in removal.sweeps:
        patterns |= {f"{namespace}{sweep.name}/*" for namespace in _sweep_namespaces(sweep)} | set(_own_refs(sweep.name))
    advertised = git.ls_remote(remote, sorted(patterns))
    return {ref: oid for ref, oid in sorted(advertised.items()) if _is_removed(ref, removal)}


def _is_removed(ref: str, removal: Removal) -> bool:
    """``ls-remote`` patterns match ref name tails: keep only the refs removal really means."""
    if ref in removal.local or ref in {ref for trial in removal.trials for ref in _claim_and_stop(trial)}:
        return True
    if any(ref in _own_refs(sweep.name) for sweep in removal.sweeps):
        return True
    return any(
        ref.startswith(tuple(f"{namespace}{sweep.name}/" for namespace in _sweep_namespaces(sweep)))
        for sweep in removal.sweeps
    )


def _claim_and_stop(trial: Trial) -> tuple[str, str]:
    """A trial's claim ref and stop request ref."""
    return claim_ref(trial.ref.key), stop_ref(trial.ref.key)


def _sweep_namespaces(sweep: Sweep) -> tuple[str, ...]:
    """Where a sweep's refs live, each followed by ``<sweep>/``: its trial branches, archived trials, claims and stop requests."""
    return f"refs/heads/{sweep.prefix}", ARCHIVE_NAMESPACE, CLAIMS_NAMESPACE, STOPS_NAMESPACE


def _own_refs(sweep: str) -> tuple[str, ...]:
    """A sweep's refs besides its trials': its record, its branch (its pull request's head) and its report images."""
    return sweep_ref(sweep), _sweep_branch_ref(sweep), reports_ref(sweep)


def _sweep_branch_ref(sweep: str) -> str:
    return f"refs/heads/{sweep_branch(sweep)}"
