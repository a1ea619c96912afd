"""Sweeps' progress as ``gitexp status`` shows it: trials counted by state, and where the running ones run.

Read from the trials' refs and claims alone (no commit's files, no DVC project),
so that ``status`` stays quick with 100,000 trials and imports none of ``results``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gitexp.store.claim_records import T_NODE, T_SLURM_ARRAY, T_SLURM_JOB, Claim, read_claim
from gitexp.store.git import Git
from gitexp.store.live import LiveClaims
from gitexp.store.naming import CLAIMS_NAMESPACE
from gitexp.store.records import QUEUED, RUNNING, STATES, T_STATUS, Ledger, Sweep, Trial, trial_from_record, without_json
from gitexp.store.remote import tracked_claims_by_remote
from gitexp.strategies import strategy_for
from gitexp.sweep.spec import SweepSpec


@dataclass(frozen=True)
class RunningTrial:
    """A running trial and where it runs: ``local`` (a run of this clone holds its lock) or ``remote`` (a live
    claim on a remote, as this clone last fetched it), with the claim's worker and the age of its heartbeat."""

    key: str  # sweep/trial
    where: str
    worker: str | None = None
    host: str | None = None
    pid: int | None = None
    remote: str | None = None
    heartbeat_age: float | None = None  # seconds; None when no claim says
    job: dict[str, str] | None = None  # the scheduler task holding the claim: node, slurm_job, slurm_array

    def to_json(self) -> dict[str, Any]:
        age = None if self.heartbeat_age is None else round(self.heartbeat_age, 1)
        found = {
            "trial": self.key,
            "where": self.where,
            "worker": self.worker,
            "host": self.host,
            "pid": self.pid,
            "remote": self.remote,
            "heartbeat_age": age,
        }
        if self.job:
            found["job"] = self.job
        return found


@dataclass(frozen=True)
class SweepStatus:
    sweep: Sweep
    counts: dict[str, int]
    budget: int | None = None  # the most trials it will have; None when its strategy decides as it goes
    running: tuple[RunningTrial, ...] = ()
    adaptive: bool = False  # its strategy creates trials as results come in, up to the budget

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def strategy(self) -> str:
        return self.sweep.spec.get("strategy", "grid")

    @property
    def active(self) -> bool:
        """Whether it has trials queued or running."""
        return bool(self.counts[QUEUED] or self.counts[RUNNING])

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.sweep.name,
            "strategy": self.strategy,
            "budget": self.budget,
            "total": self.total,
            "counts": dict(self.counts),
            "stopped": self.sweep.state.get("stopped"),
            "running": [trial.to_json() for trial in self.running],
        }


STATUS_SCHEMA_VERSION = 1


def statuses_to_json(statuses: list[SweepStatus]) -> dict[str, Any]:
    """``gitexp status --json``: the schema README documents and tests/review/status.schema.json checks."""
    counts = {state: sum(entry.counts.get(state, 0) for entry in statuses) for state in STATES}
    return {
        "version": STATUS_SCHEMA_VERSION,
        "sweeps": [entry.to_json() for entry in statuses],
        "totals": {"sweeps": len(statuses), "trials": sum(counts.values()), "counts": counts},
    }


def sweep_statuses(git: Git, names: list[str] | None = None) -> list[SweepStatus]:
    """The sweeps ``names`` names (every sweep when None) with their trials counted by state and their running
    trials found by their claims; refuses a name that is no sweep."""
    ledger = Ledger(git)
    sweeps = [ledger.sweep(name) for name in dict.fromkeys(names)] if names else ledger.sweeps()
    live = LiveClaims.read(git)
    wanted = [sweep.name for sweep in sweeps]
    counts = {name: dict.fromkeys(STATES, 0) for name in wanted}
    held: list[tuple[Trial, dict]] = []
    for ref, record, trailers in ledger.trial_records(wanted):
        status = trailers.get(T_STATUS, QUEUED)
        if status == QUEUED:  # a runner may hold it (then it runs): only such a trial is read whole
            trial = trial_from_record(ref, record.oid, record.message, without_json(trailers))
            holder = live.holder(trial)
            if holder is not None:
                status = RUNNING
                held.append((trial, holder))
        counts[ref.sweep][status] = counts[ref.sweep].get(status, 0) + 1
    claims = _claims_by_key(git) if held else {}  # who and where, read only when something runs
    running: dict[str, list[RunningTrial]] = {name: [] for name in wanted}
    for trial, holder in sorted(held, key=lambda found: found[0].name):
        running[trial.sweep].append(_running(trial, holder, claims.get(trial.ref.key)))
    return [_status(sweep, counts[sweep.name], tuple(running[sweep.name])) for sweep in sweeps]


def _claims_by_key(git: Git) -> dict[str, tuple[str | None, Claim]]:
    """Every claim this clone knows, by trial key, with the remote it is on (None: here); a claim here wins."""
    claims = [(remote, read_claim(record)) for remote, record in tracked_claims_by_remote(git)]
    claims += [(None, read_claim(record)) for record in git.refs(CLAIMS_NAMESPACE)]
    return {claim.key: (remote, claim) for remote, claim in claims}


def _running(trial: Trial, holder: dict, claim: tuple[str | None, Claim] | None) -> RunningTrial:
    """Where ``trial`` runs: here when a run of this clone holds its lock (``holder`` names it), else on a remote."""
    remote, found = claim or (None, Claim("", ""))
    return RunningTrial(
        trial.ref.key,
        "local" if holder else "remote",
        worker=holder.get("worker") or found.worker or None,  # the lock names it before the claim is written
        host=holder.get("host") or found.host or None,
        pid=holder.get("pid") or found.pid,
        remote=remote,
        heartbeat_age=time.time() - found.heartbeat if found.heartbeat else None,
        job=scheduler_job(found),
    )


def scheduler_job(claim: Claim) -> dict[str, str] | None:
    """The scheduler task that holds ``claim`` (its node and Slurm's ids), None when no scheduler's task does."""
    names = {T_NODE: "node", T_SLURM_JOB: "slurm_job", T_SLURM_ARRAY: "slurm_array"}
    return {names[key]: value for key, value in claim.job} or None


def _status(sweep: Sweep, counts: dict[str, int], running: tuple[RunningTrial, ...]) -> SweepStatus:
    """With the sweep's budget: the most trials its strategy will make (hyperband's schedule, ``max_trials``)."""
    strategy = strategy_for(SweepSpec.from_json(sweep.spec))
    return SweepStatus(sweep, counts, strategy.planned_trials(), running, strategy.adaptive)
