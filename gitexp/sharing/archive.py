"""Archive and restore: finished trials out of the branch list and back.

``gitexp archive SWEEP`` moves each finished trial's branch ``refs/heads/<prefix><sweep>/<trial>``
to ``refs/gitexp/archive/<sweep>/<trial>`` at the same commit, so ``git branch`` and a
hosting UI list only live work while every result stays reachable and ``git log`` of the
archive ref still explains the trial. The move is one ref transaction of deletions and
creations (one packed-refs rename, ``store.packed_refs``), so a kill -9 leaves every trial
archived or live, never both or neither. ``gitexp restore`` is the same move backwards.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gitexp.errors import ConcurrentChange, GitCommandError, GitexpError, NotFoundError, UsageError, some_of
from gitexp.numbers import orderable
from gitexp.store.git import ZERO_OID, FastImportCommit, Git, RefUpdate
from gitexp.store.journal import SCRATCH_NAMESPACE, recover
from gitexp.store.live import LiveClaims
from gitexp.store.naming import ARCHIVE_NAMESPACE, sweep_ref
from gitexp.store.records import (
    ARCHIVED_TRIALS,
    RUNNING,
    Ledger,
    Sweep,
    Trial,
    sweep_record_files,
    sweep_record_message,
)
from gitexp.store.refstore import LocalRefs
from gitexp.sweep.spec import SweepSpec

_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])\Z")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """Seconds from ``30d``, ``12h``, ``2w``, ``90m`` or ``45s`` (``--older-than``)."""
    match = _AGE.match(text.strip().lower())
    if not match:
        raise UsageError(f"--older-than {text!r} is not an age: write a number and a unit (s, m, h, d, w), such as 30d or 12h")
    return float(match.group(1)) * _AGE_UNITS[match.group(2)]


@dataclass
class Moved:
    """What an archive or restore moved, and the trials it left where they were, with why."""

    trials: list[Trial] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # sweep/trial -> why it stays

    def lines(self, verb: str) -> list[str]:
        sweeps = sorted({trial.sweep for trial in self.trials})
        lines = [f"{verb} {len(self.trials)} trial(s)" + (f" of {', '.join(sweeps)}" if sweeps else "")]
        reasons: dict[str, list[str]] = {}
        for key, why in self.kept.items():
            reasons.setdefault(why, []).append(key)
        lines += [f"  kept {len(keys)} live ({why}): {some_of(keys)}" for why, keys in reasons.items()]
        return lines


@dataclass(frozen=True)
class ArchiveRequest:
    sweeps: tuple[str, ...]
    older_than: float | None = None  # seconds since the trial's result
    keep_best: int | None = None  # trials of each sweep left live, best by its objective
    force: bool = False  # archive the finished trials of a sweep that still has running ones


def archive(git: Git, request: ArchiveRequest) -> Moved:
    """Move the finished trials of ``request.sweeps`` to the archive, all in one transaction; validated first."""
    ledger = Ledger(git)
    sweeps = [ledger.sweep(name) for name in dict.fromkeys(request.sweeps)]
    if request.keep_best is not None:
        if request.keep_best < 0:
            raise UsageError(f"--keep-best {request.keep_best}: give a number of trials, 0 or more")
        for sweep in sweeps:
            objective_of(sweep)
    trials = ledger.trials([sweep.name for sweep in sweeps])
    claims = LiveClaims.read(git)
    running = [trial.ref.key for trial in trials if claims.status(trial) == RUNNING]
    if running and not request.force:
        raise UsageError(
            f"{len(running)} trial(s) still run ({some_of(running)}): wait until they finish, or pass --force "
            "to archive the finished trials now and leave the running ones as branches"
        )
    moved = Moved()
    chosen = choose(git, sweeps, trials, request, moved)
    if chosen:
        recover(git, ledger.prefixes())
        updates = [u for trial in chosen for u in (RefUpdate(trial.ref.ref, ZERO_OID, trial.tip), RefUpdate(trial.ref.archived_ref, trial.tip, ZERO_OID))]
        records, scratch = counted_records(git, sweeps, Counter(trial.sweep for trial in chosen))
        if not LocalRefs(git).swap([*updates, *records], scratch, f"gitexp: archive {', '.join(s.name for s in sweeps)}"):
            raise ConcurrentChange("trial branches changed while they were being archived (another gitexp at work?): try again")
    moved.trials = chosen
    return moved


def counted_records(git: Git, sweeps: Sequence[Sweep], change: Mapping[str, int]) -> tuple[list[RefUpdate], list[str]]:
    """New records of ``sweeps`` whose count of archived trials changes by ``change`` (sweep -> +n or -n), and
    the scratch ref that keeps them until the transaction lands. Drivers grow no sweep with archived trials
    (``ARCHIVED_TRIALS``): a runner that sees no branch of an archived trial must not make it again."""
    changed = []
    for sweep in sweeps:
        count = max(0, int(sweep.state.get(ARCHIVED_TRIALS, 0) or 0) + change.get(sweep.name, 0))
        state = {key: value for key, value in sweep.state.items() if key != ARCHIVED_TRIALS}
        if change.get(sweep.name):
            changed.append(dataclasses.replace(sweep, state={**state, **({ARCHIVED_TRIALS: count} if count else {})}))
    if not changed:
        return [], []
    scratch = f"{SCRATCH_NAMESPACE}archive-{os.getpid()}-{os.urandom(4).hex()}"
    commits = [FastImportCommit(sweep.commit, sweep_record_message(sweep), sweep_record_files(sweep)) for sweep in changed]
    oids = git.fast_import(commits, scratch)
    return [RefUpdate(sweep_ref(sweep.name), oid, sweep.commit) for sweep, oid in zip(changed, oids)], [scratch]


def choose(git: Git, sweeps: Sequence[Sweep], trials: Sequence[Trial], request: ArchiveRequest, moved: Moved) -> list[Trial]:
    """The trials to archive; each one left live is noted in ``moved.kept`` with why."""
    checked_out = git.current_branch()
    finished = []
    for trial in trials:
        if not trial.finished:
            moved.kept[trial.ref.key] = "not finished"
        elif trial.ref.ref == checked_out:
            moved.kept[trial.ref.key] = "checked out here"
        else:
            finished.append(trial)
    if request.older_than is not None:
        times = git.commit_times([trial.tip for trial in finished])
        cutoff = time.time() - request.older_than
        young = {trial.ref.key for trial in finished if times.get(trial.tip, 0) > cutoff}
        moved.kept.update((key, "younger than --older-than") for key in young)
        finished = [trial for trial in finished if trial.ref.key not in young]
    if request.keep_best:
        best = {trial.ref.key for sweep in sweeps for trial in best_of(sweep, finished, request.keep_best)}
        moved.kept.update((key, "among the best") for key in best)
        finished = [trial for trial in finished if trial.ref.key not in best]
    return finished


def objective_of(sweep: Sweep) -> tuple[str, str]:
    objective = SweepSpec.from_json(sweep.spec).objective
    if objective is None:
        raise UsageError(
            f"--keep-best ranks by the sweep's objective, and sweep {sweep.name} has none: "
            "archive it without --keep-best, or queue it with an objective (objective: in the sweep file)"
        )
    return objective.metric, objective.goal


def best_of(sweep: Sweep, trials: Sequence[Trial], count: int) -> list[Trial]:
    """The ``count`` trials of ``sweep`` with the best objective value (trials without one rank last)."""
    metric, goal = objective_of(sweep)
    sign = -1 if goal == "maximize" else 1
    scored = [(orderable(trial.metrics.get(metric)), trial) for trial in trials if trial.sweep == sweep.name]
    ranked = sorted(scored, key=lambda pair: (pair[0] is None, sign * pair[0] if pair[0] is not None else 0))
    return [trial for _, trial in ranked[:count]]


def archived_trial(git: Git, name: str) -> Trial | None:
    """The archived trial ``name`` (``SWEEP/TRIAL`` or its branch names), when it has no branch."""
    name = name.removeprefix("refs/heads/")
    found = [t for t in Ledger(git).trials(archived=True) if name in (t.ref.key, t.ref.branch)]
    return found[0] if found and all(trial.archived for trial in found) else None


def _not_archived_here(git: Git, name: str) -> GitexpError:
    """Why nothing archived here is ``name``: a remote has it archived (``gitexp pull`` brings it), or none does."""
    pattern = f"{ARCHIVE_NAMESPACE}{name}" + ("" if "/" in name else "/*")
    for remote in git.remote_names():
        try:
            there = git.ls_remote(remote, [pattern])
        except GitCommandError:
            continue  # unreachable: the line below is still true here
        if any(ref == pattern or ref.startswith(pattern.removesuffix("*")) for ref in there):
            sweep = name.partition("/")[0]
            return UsageError(f"{name} is archived on {remote}, not here: gitexp pull {remote} {sweep}, then gitexp restore {name}")
    return NotFoundError(f"nothing archived is named {name!r}: gitexp show --archived lists archived trials as SWEEP/TRIAL")


def restore(git: Git, names: Sequence[str]) -> Moved:
    """Bring archived trials (``SWEEP`` or ``SWEEP/TRIAL``) back as branches; refused when a branch name is taken."""
    ledger = Ledger(git)
    archived = [trial for trial in ledger.trials(archived=True) if trial.archived]
    chosen = {}
    for name in dict.fromkeys(names):
        matches = [trial for trial in archived if name in (trial.sweep, trial.ref.key)]
        if not matches:
            raise _not_archived_here(git, name)
        chosen.update((trial.ref.key, trial) for trial in matches)
    folders = {trial.ref.ref.rpartition("/")[0] + "/" for trial in chosen.values()}
    taken = {record.name for record in git.refs(*folders)}
    clash = next((trial for trial in chosen.values() if trial.ref.ref in taken), None)
    if clash:
        raise UsageError(
            f"the branch {clash.ref.branch} exists again, so {clash.ref.key} cannot be restored over it: "
            f"rename it (git branch -m {clash.ref.branch} NEW-NAME) or delete it, then restore"
        )
    trials = list(chosen.values())
    recover(git, ledger.prefixes())
    updates = [u for trial in trials for u in (RefUpdate(trial.ref.archived_ref, ZERO_OID, trial.tip), RefUpdate(trial.ref.ref, trial.tip, ZERO_OID))]
    back = Counter(trial.sweep for trial in trials)
    records, scratch = counted_records(git, [ledger.sweep(name) for name in back], {name: -count for name, count in back.items()})
    if updates and not LocalRefs(git).swap([*updates, *records], scratch, "gitexp: restore"):
        raise ConcurrentChange("archived trials changed while they were being restored (another gitexp at work?): try again")
    return Moved([dataclasses.replace(trial, archived=False) for trial in trials])
