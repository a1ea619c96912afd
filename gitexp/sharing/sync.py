"""Sharing trials through a Git remote: push, pull, apply, remove.

What travels is what the data model holds (docs/architecture.md): trial branches (their
trial and result commits) and sweep records under ``refs/gitexp/sweeps/``, named
by explicit refspecs, never by a configured default. Both directions move a ref
only forward: a ref the other side has moved past, or that has diverged, is left
alone and reported, so neither push nor pull loses a result.

- push: ``ls-remote`` of those refs, then one atomic push in which every ref
  carries a lease on the value just seen, so a ref that moved on the remote
  meanwhile makes the whole push fail rather than be overwritten.
- pull: a fetch of every sweep record, then of the wanted sweeps' trial
  branches, into a staging namespace; then one local ref transaction that
  creates or fast-forwards the branches, and one for the sweep records that
  also empties the staging namespace (records last: see ``Staging.take``).

DVC outputs follow with ``dvc push`` / ``dvc fetch`` of every branch when the
project has a DVC remote; a pull names the pulled trials' outputs that are
neither in the cache nor on that remote, and apply refuses a trial whose
outputs the cache lacks rather than leave them out of the workspace.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from gitexp.errors import GitCommandError, NotFoundError, RepositoryError, UsageError, some_of
from gitexp.project.config import dvc_cache_dir
from gitexp.project.dvc import dvc_remote_configured, run_dvc
from gitexp.project.model import load_project
from gitexp.project.outputs import missing_outputs
from gitexp.store.git import ZERO_OID, Git, RefRecord, RefUpdate
from gitexp.store.journal import recover
from gitexp.store.layout import trial_lock_path
from gitexp.store.locks import held_by
from gitexp.store.naming import ARCHIVE_NAMESPACE, CLAIMS_NAMESPACE, SWEEPS_NAMESPACE, TrialRef, sweep_ref
from gitexp.store.records import SUCCEEDED, SWEEP_FILE, T_SWEEP, T_TRIAL, Ledger, Sweep, Trial, parse_trailers
from gitexp.store.refstore import LocalRefs
from gitexp.store.remote import Remote, RemoteRefs, Staging, fetch_sweeps_and_claims, resolve_remote

# How the tips of one ref compare between here and there.
SAME = "same"
ONLY_HERE = "only here"
ONLY_THERE = "only there"
HERE_AHEAD = "ahead here"
THERE_AHEAD = "ahead there"
DIVERGED = "diverged"
UNSEEN_THERE = "unseen there"  # the remote's tip is a commit this repository has never fetched


# -- comparing tips ------------------------------------------------------------------


def compare_tips(git: Git, tips: Mapping[str, tuple[str | None, str | None]]) -> dict[str, str]:
    """For each ref, how its tips ``(here, there)`` compare (None: the side lacks the ref).

    A commit whose parent is the other tip (a result on its trial, the usual
    case) is decided from one batched ``rev-list``; other pairs ask ``merge-base``.
    """
    present = git.existing_commits(oid for pair in tips.values() for oid in pair if oid)
    parents = git.commit_parents(present)

    def descends(child: str, ancestor: str) -> bool:
        if ancestor in parents[child]:
            return True
        return git.is_ancestor(ancestor, child)

    relations = {}
    for ref, (here, there) in tips.items():
        if here == there:
            relations[ref] = SAME
        elif there is None:
            relations[ref] = ONLY_HERE
        elif here is None:
            relations[ref] = ONLY_THERE
        elif there not in present:
            relations[ref] = UNSEEN_THERE
        elif descends(here, there):
            relations[ref] = HERE_AHEAD
        elif descends(there, here):
            relations[ref] = THERE_AHEAD
        else:
            relations[ref] = DIVERGED
    return relations


# -- what a push or pull did -----------------------------------------------------------

PUSH_LEFT_REASONS = {
    THERE_AHEAD: "newer on the remote: gitexp pull first",
    UNSEEN_THERE: "the remote has commits this clone has not fetched: gitexp pull first",
    DIVERGED: "diverged from the remote: compare the two with git log, then keep one",
}
PULL_LEFT_REASONS = {
    HERE_AHEAD: "newer here: gitexp push shares it",
    DIVERGED: "diverged from the remote: compare the two with git log, then keep one",
}


@dataclass
class SyncReport:
    """What a push or pull did, ref by ref, and what happened to the DVC data."""

    remote: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    left: dict[str, str] = field(default_factory=dict)  # ref -> why it was left as it is
    data: str = ""
    missing: str = ""  # the pulled trials' outputs that neither the cache nor the DVC remote has

    @property
    def moved(self) -> int:
        return len(self.created) + len(self.updated)

    @property
    def counts(self) -> str:
        return f"{len(self.created)} new, {len(self.updated)} updated, {len(self.current)} up to date"

    def lines(self, verb: str) -> list[str]:
        """A summary for people: counts, then each ref left alone with the reason, then the DVC data."""
        lines = [f"{verb} {self.remote}: {self.counts}"]
        lines += [f"  left {display_ref(ref)}: {why}" for ref, why in self.left.items()]
        lines += [line for line in (self.data, self.missing) if line]
        return lines


def display_ref(ref: str) -> str:
    """``exp/s/t001`` for a branch, ``sweep s`` for a sweep record."""
    if ref.startswith(SWEEPS_NAMESPACE):
        return f"sweep {ref[len(SWEEPS_NAMESPACE):]}"
    if ref.startswith(ARCHIVE_NAMESPACE):
        return f"archived {ref[len(ARCHIVE_NAMESPACE):]}"
    return ref.removeprefix("refs/heads/")


# -- push ------------------------------------------------------------------------------

def shareable_refs(git: Git, sweep_names: list[str]) -> dict[str, str]:
    """``ref -> oid`` of the named sweeps (every sweep when none is named), their trial branches and archived trials."""
    ledger = Ledger(git)
    sweeps = [ledger.sweep(name) for name in sweep_names] if sweep_names else ledger.sweeps()
    if not sweeps:
        return {}
    refs = {sweep_ref(sweep.name): sweep.commit for sweep in sweeps}
    refs.update((trial.where, trial.tip) for trial in ledger.trials([sweep.name for sweep in sweeps], archived=True))
    return refs


def counterpart(ref: str, prefixes: set[str]) -> str | None:
    """The other place of a trial's ref: its archive ref for a branch, its branch for an archive ref."""
    if ref.startswith(ARCHIVE_NAMESPACE):
        sweep, _, trial = ref[len(ARCHIVE_NAMESPACE) :].partition("/")
        return next((f"refs/heads/{prefix}{sweep}/{trial}" for prefix in sorted(prefixes)), None)
    for prefix in prefixes:
        found = TrialRef.from_ref(ref, prefix)
        if found:
            return found.archived_ref
    return None


def archive_moves(
    git: Git, ours: Mapping[str, str], theirs: Mapping[str, str], prefixes: set[str], restoring: bool = False
) -> tuple[list[RefUpdate], dict[str, str]]:
    """Where one side archived a trial that the other holds as a branch (or back): the other side's ref to delete
    with it, and the refs to leave alone with why. An archive wins over a branch at the same or an older commit
    (unless ``restoring``: a trial restored here for a pull request); a branch that went on past the archived
    commit (a trial run again) wins over the archive."""
    moves, left = [], {}
    for ref, oid in ours.items():
        other = counterpart(ref, prefixes)
        if other is None or other not in theirs:
            continue
        relation = compare_tips(git, {other: (oid, theirs[other])})[other]
        if relation == HERE_AHEAD or (relation == SAME and (restoring or ref.startswith(ARCHIVE_NAMESPACE))):
            moves.append(RefUpdate(other, ZERO_OID, theirs[other]))
        else:
            left[ref] = "archived on the other side" if other.startswith(ARCHIVE_NAMESPACE) else "live on the other side, with newer work"
    return moves, left


def push(git: Git, remote: str, sweep_names: list[str], with_data: bool = True) -> SyncReport:
    """Push the sweeps' records and trial branches that are new or ahead here; then their DVC data.

    A failed ``dvc push`` comes after the Git refs have landed: its error says so, with DVC's own words.
    """
    resolve_remote(git, remote, urls=False)
    report = push_refs(git, remote, shareable_refs(git, sweep_names))
    if with_data:
        try:
            report.data = transfer_data(git, "push", project_dirs(git, sweep_names))
        except GitCommandError as error:
            raise GitCommandError(
                f"{error.message}; the Git refs were pushed to {remote} ({report.counts}) but not the DVC outputs: "
                "fix the DVC remote (dvc remote list), then gitexp push again"
            ) from None
    return report


def push_refs(git: Git, remote: str, here: Mapping[str, str], restoring: bool = False) -> SyncReport:
    """Push those of ``here`` (ref -> oid) that the remote lacks or has an ancestor of, in one atomic push;
    a trial archived on one side moves to the other side's place too (``archive_moves``)."""
    store = remote_store(git, remote)
    prefixes = Ledger(git).prefixes()
    partners = {other for ref in here if (other := counterpart(ref, prefixes))}
    there = store.current(list(dict.fromkeys([*here, *partners]))) if here else {}
    moves, blocked = archive_moves(git, here, there, prefixes, restoring)
    report = SyncReport(remote, left={ref: f"{why} ({remote}): gitexp pull first" for ref, why in blocked.items()})
    here = {ref: oid for ref, oid in here.items() if ref not in blocked}
    relations = compare_tips(git, {ref: (oid, there.get(ref)) for ref, oid in here.items()})
    updates = list(moves)
    for ref, relation in relations.items():
        if relation == SAME:
            report.current.append(ref)
        elif relation in (ONLY_HERE, HERE_AHEAD):
            updates.append(RefUpdate(ref, here[ref], there.get(ref, ZERO_OID)))
            (report.created if relation == ONLY_HERE else report.updated).append(ref)
        else:
            report.left[ref] = PUSH_LEFT_REASONS[relation]
    sweeps = {ref: oid for ref, oid in here.items() if ref.startswith(SWEEPS_NAMESPACE)}
    # Noted before looking for trials a run here claims in this clone: such a run looks at the note
    # once it holds a trial's lock, and leaves the sweep's trials to the remote from then on.
    undo = note_shared_sweeps(git, store.remote, sweeps)
    try:
        refuse_running_here(git, here)
        swap_on_remote(store, updates)
    except BaseException:
        LocalRefs(git).swap(undo, message="gitexp: push")
        raise
    return report


def remote_store(git: Git, remote: str) -> RemoteRefs:
    """The configured ``remote`` as a ref store for the user's own refs: every refusal kept, nothing mirrored here
    (but the sweep records a push leaves there, see ``note_shared_sweeps``)."""
    return RemoteRefs(git, resolve_remote(git, remote, urls=False), refusals=[], mirror=False)


def note_shared_sweeps(git: Git, remote: Remote, records: Mapping[str, str]) -> list[RefUpdate]:
    """Note in this clone's mirror of ``remote`` that it holds these sweep records (ref -> oid): ``gitexp run``
    claims a shared sweep's trials there (``execution.shared``). Answers the updates that undo the note."""
    if not records:
        return []
    mirrored = [remote.tracking(ref) for ref in records]
    before = {record.name: record.oid for record in git.refs(*mirrored) if record.name in mirrored}
    LocalRefs(git).swap([RefUpdate(remote.tracking(ref), oid) for ref, oid in records.items()], message="gitexp: push")
    return [RefUpdate(ref, before.get(ref, ZERO_OID)) for ref in mirrored]


def refuse_running_here(git: Git, refs: Mapping[str, str]) -> None:
    """Refuse to share a trial that a ``gitexp run`` here runs with claims in this clone: workers would run it again."""
    common_dir = git.common_dir()
    for claim in git.refs(CLAIMS_NAMESPACE):
        sweep, _, trial = claim.name[len(CLAIMS_NAMESPACE) :].partition("/")
        running = held_by(trial_lock_path(common_dir, sweep, trial)) is not None
        if running and any(ref.endswith(f"/{sweep}/{trial}") and ref.startswith("refs/heads/") for ref in refs):
            raise UsageError(
                f"{sweep}/{trial} is running in a gitexp run here that claims its trials in this clone, "
                f"and workers would run them again: gitexp push {sweep} once that run ends"
            )


def swap_on_remote(store: RemoteRefs, updates: list[RefUpdate]) -> None:
    """One atomic push in which each ref must still be where it was seen: all land, or none."""
    if not updates or store.swap(updates):
        return
    refusal = store.refusals[-1]
    remote = store.remote.shown
    raise GitCommandError(
        f"{remote} refused {display_ref(refusal.ref)} {refusal.reason}, so nothing was changed there (the push is atomic): "
        f"if it moved meanwhile, gitexp pull {remote} and try again"
    )


# -- pull ------------------------------------------------------------------------------


def pull(git: Git, remote: str, sweep_names: list[str], with_data: bool = True) -> SyncReport:
    """Create or fast-forward the local sweep records and trial branches from ``remote``.

    Two fetches into a staging namespace: every sweep record (small), then the
    trial branches under each wanted sweep's ``<prefix><sweep>/``; and the
    remote's claims, mirrored as they are.
    """
    source = resolve_remote(git, remote, urls=False)
    recover(git, Ledger(git).prefixes())
    staging = Staging(git, source)
    staging.fetch([SWEEPS_NAMESPACE])
    remote_sweeps = staged_sweeps(staging.view)
    missing = [name for name in sweep_names if name not in remote_sweeps]
    if missing:
        staging.clear()
        known = ", ".join(sorted(remote_sweeps)[:10]) or "none"
        raise NotFoundError(
            f"{remote} has no sweep named {missing[0]!r} (sweeps there: {known}): "
            "gitexp push it from the clone that has it"
        )
    wanted = [remote_sweeps[name] for name in sweep_names] if sweep_names else list(remote_sweeps.values())
    namespaces = [ns for sweep in wanted for ns in (f"refs/heads/{sweep.prefix}{sweep.name}/", f"{ARCHIVE_NAMESPACE}{sweep.name}/")]
    if namespaces:
        staging.fetch(namespaces)
    staged = {record.name: record for record in staging.view.refs()}
    report = SyncReport(remote)
    reconcile(git, staging, accepted_refs(staged, wanted), report)
    fetch_sweeps_and_claims(git, source)  # status and show tell which queued trials run elsewhere; run claims there
    if with_data:
        report.data = transfer_data(git, "fetch", sorted({sweep.project for sweep in wanted}) or [""])
        pulled = {*report.created, *report.updated}
        trials = [t for t in Ledger(git).trials([s.name for s in wanted]) if t.ref.ref in pulled and t.status == SUCCEEDED]
        report.missing = missing_note(git, trials, wanted, report.data)
    return report


def staged_sweeps(staged: Git) -> dict[str, Sweep]:
    """The sweep records fetched into a staging area (read through its view), by name."""
    records = staged.refs(SWEEPS_NAMESPACE)
    blobs = staged.read_blobs([f"{record.oid}:{SWEEP_FILE}" for record in records])
    sweeps = (Sweep.from_json(record.oid, json.loads(blob)) for record, blob in zip(records, blobs) if blob)
    return {sweep.name: sweep for sweep in sweeps}


def accepted_refs(staged: Mapping[str, RefRecord], sweeps: list[Sweep]) -> dict[str, str]:
    """The wanted sweep records, and the staged branches whose tips' trailers say they are their trials."""
    accepted = {}
    for sweep in sweeps:
        accepted[sweep_ref(sweep.name)] = sweep.commit
        for ref, record in staged.items():
            branch = TrialRef.from_ref(ref, sweep.prefix) or archived_trial(ref, sweep)
            if branch is None or branch.sweep != sweep.name:
                continue
            trailers = parse_trailers(record.message)
            if (trailers.get(T_SWEEP), trailers.get(T_TRIAL)) == (branch.sweep, branch.trial):
                accepted[ref] = record.oid
    return accepted


def archived_trial(ref: str, sweep: Sweep) -> TrialRef | None:
    """The trial of ``sweep`` that an archive ref ``refs/gitexp/archive/<sweep>/<trial>`` holds."""
    head = f"{ARCHIVE_NAMESPACE}{sweep.name}/"
    trial = ref[len(head) :] if ref.startswith(head) else ""
    return TrialRef(sweep.prefix, sweep.name, trial) if trial and "/" not in trial else None


def reconcile(git: Git, staging: Staging, theirs: Mapping[str, str], report: SyncReport) -> None:
    """Create or fast-forward local refs to ``theirs`` and empty the staging area (``Staging.take``);
    a trial archived on one side and a branch on the other follows ``archive_moves``."""
    here = {record.name: record.oid for record in git.refs(SWEEPS_NAMESPACE, "refs/heads/", ARCHIVE_NAMESPACE)}
    remote = staging.area.shown
    checked_out = git.current_branch()
    prefixes = Ledger(git).prefixes()
    moves, blocked = archive_moves(git, theirs, here, prefixes)
    report.left.update((ref, f"{why} (here): gitexp push shares it") for ref, why in blocked.items())
    if checked_out in {move.ref for move in moves}:  # its archive waits until another branch is checked out
        moves = [move for move in moves if move.ref != checked_out]
        blocked[counterpart(checked_out, prefixes) or ""] = report.left[checked_out] = "checked out here: check out another branch, then pull"
    theirs = {ref: oid for ref, oid in theirs.items() if ref not in blocked}
    relations = compare_tips(git, {ref: (here.get(ref), oid) for ref, oid in theirs.items()})
    updates = list(moves)
    for ref, relation in relations.items():
        if relation == SAME:
            report.current.append(ref)
        elif relation == ONLY_THERE:
            updates.append(RefUpdate(ref, theirs[ref], ZERO_OID))
            report.created.append(ref)
        elif relation == THERE_AHEAD and ref == checked_out:
            report.left[ref] = f"checked out here: git merge --ff-only {remote}/{display_ref(ref)} brings it"
        elif relation == THERE_AHEAD:
            updates.append(RefUpdate(ref, theirs[ref], here[ref]))
            report.updated.append(ref)
        else:
            report.left[ref] = PULL_LEFT_REASONS[relation]
    if not staging.take(updates, f"gitexp: pull {remote}"):
        raise GitCommandError("local refs changed while pulling (another gitexp at work?): run gitexp pull again")


# -- DVC data --------------------------------------------------------------------------


def project_dirs(git: Git, sweep_names: list[str]) -> list[str]:
    """The DVC project folders of the named sweeps (of every sweep when none is named)."""
    ledger = Ledger(git)
    sweeps = [ledger.sweep(name) for name in sweep_names] if sweep_names else ledger.sweeps()
    return sorted({sweep.project for sweep in sweeps}) or [""]


def transfer_data(git: Git, direction: str, projects: list[str]) -> str:
    """``dvc push`` (or ``dvc fetch``) of the outputs of every branch, in each DVC project that has a DVC remote.

    A failed push is an error (the data is not shared); a failed fetch is only
    reported, since the Git side is complete and apply refuses what the cache lacks.
    """
    with_remote = [folder for folder in projects if dvc_remote_configured(git.root / folder, git.env)]
    if not with_remote:
        return "DVC data: no DVC remote configured, nothing to transfer"
    try:
        for folder in with_remote:
            run_dvc(git.root / folder, git.env, direction, "--all-branches", silence=git.network_timeout())
    except GitCommandError as error:
        if direction == "push":
            raise
        return f"DVC data: {error.message} (the Git refs were pulled)"
    done = "pushed to" if direction == "push" else "fetched into the cache from"
    return f"DVC data: outputs of every branch {done} the DVC remote"


def missing_trial_outputs(git: Git, trial: Trial, rev: str | None = None) -> list[str]:
    """The outputs of ``trial``'s commit that the local DVC cache lacks, as the project names them.

    The outputs are those the project at ``rev`` (the trial's tip by default) declares.
    """
    try:
        project = load_project(git, rev or trial.tip, trial.project)
    except RepositoryError:
        return []  # no DVC pipeline (or one DVC refuses): no outputs to look for
    cache = dvc_cache_dir(git.root / trial.project)
    return [project.display(path) for path in missing_outputs(git, trial.tip, project, cache)]


def missing_note(git: Git, trials: list[Trial], sweeps: list[Sweep], fetched: str) -> str:
    """A line naming the trials' outputs that the cache lacks after a pull ("" when none)."""
    baselines = {sweep.name: sweep.baseline for sweep in sweeps}  # one project per sweep: its trials change only params
    missing = [f"{t.ref.key} {path}" for t in trials for path in missing_trial_outputs(git, t, baselines[t.sweep])]
    if not missing:
        return ""
    named = some_of(missing)
    if "no DVC remote configured" in fetched:
        return (
            f"DVC data: {len(missing)} output(s) of pulled trials are not in the DVC cache ({named}) and no DVC remote "
            "is configured: add the one the trials' outputs were pushed to (dvc remote add -d NAME URL), then gitexp pull"
        )
    if fetched.endswith("the DVC remote"):
        return (
            f"DVC data: {len(missing)} output(s) of pulled trials are neither on the DVC remote nor in the cache "
            f"({named}): gitexp push them from the clone that ran those trials"
        )
    return f"DVC data: {len(missing)} output(s) of pulled trials are not in the DVC cache ({named}): gitexp pull again"
