"""The CI entry points: what the generated workflow's jobs run (``gitexp ci plan`` and ``gitexp ci run``).

- plan: pull the sweep named by the dispatch (GITEXP_SWEEP) or by the pushed
  trial branch (GITHUB_REF) from origin, and list its queued trials that no
  worker has claimed as the job matrices of ``ci.matrix.plan_document``, with
  the sweep's concurrency.
- run: in the job's own checkout of a trial branch, claim the trial on origin
  as a worker does (so no worker runs it meanwhile, and a dead runner's stale
  claim is taken over), run the pipeline like any executor
  (``execution.pipeline``: submodules checked out, DVC-tracked data restored
  from the cache or fetched), commit the result, and push it with a
  compare-and-swap on the queued tip, retrying while the trial is still queued
  on origin, once ``dvc push`` has sent the outputs when there is a DVC remote
  (``dvc_data.push_outputs``, as a worker does); then drop the claim.

Inside GitHub Actions the commands hand these functions a ``Git`` from
``sharing.with_actions_token``, so a checkout made without persisted
credentials can still fetch and push.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gitexp.ci.matrix import MATRIX_LIMIT, plan_document
from gitexp.errors import GitCommandError, NotFoundError, UsageError
from gitexp.execution.claims import Claims, Heartbeat, Runner, clone_id, default_worker_id
from gitexp.execution.pipeline import RunOutcome, commit_result, pipeline_command, run_pipeline, trial_env, where
from gitexp.execution.worktrees import update_submodules
from gitexp.project.model import load_project
from gitexp.project.outputs import push_outputs
from gitexp.sharing.sync import pull, staging_namespace
from gitexp.store.claim_records import claim_ref
from gitexp.store.git import ZERO_OID, Git, RefUpdate
from gitexp.store.layout import trial_log_path
from gitexp.store.naming import CLAIMS_NAMESPACE, TrialRef
from gitexp.store.records import (
    QUEUED,
    SUCCEEDED,
    T_STATUS,
    T_SWEEP,
    T_TRIAL,
    Ledger,
    Trial,
    parse_trailers,
    trial_from_record,
)
from gitexp.store.remote import RemoteRefs, fetch_claims, resolve_remote
from gitexp.sweep.spec import SweepSpec

CI_REMOTE = "origin"
PUSH_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between attempts to publish a result


# -- plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    document: dict[str, Any]
    notes: list[str]


def plan_ci_run(
    git: Git,
    sweep: str | None,
    ref: str | None,
    chunks: int,
    chunk_size: int = MATRIX_LIMIT,
    remote: str = CI_REMOTE,
) -> Plan:
    """The queued trials this CI run executes: a dispatched sweep's, or the pushed trial branch."""
    pushed = None
    if not sweep:
        pushed = branch_shape(ref or "")
        if pushed is None:
            return Plan(plan_document([], 1, chunks, chunk_size), [f"{ref or 'no ref'} is not a trial branch: nothing to run"])
        sweep = pushed.sweep
    try:
        pull(git, remote, [sweep], with_data=False)
    except NotFoundError:
        if pushed is None:
            raise
        note = f"{remote} has no sweep named {sweep!r}, so {pushed.branch} is not a trial: nothing to run"
        return Plan(plan_document([], 1, chunks, chunk_size), [note])
    record = Ledger(git).sweep(sweep)
    queued = [trial for trial in Ledger(git).trials([sweep]) if trial.status == QUEUED]
    if pushed is not None:
        queued = [trial for trial in queued if (trial.ref.prefix, trial.name) == (pushed.prefix, pushed.trial)]
    claimed = set(git.ls_remote(remote, [f"{CLAIMS_NAMESPACE}{sweep}/*"]))
    notes = [f"{trial.ref.key} is claimed by a worker: left to it" for trial in queued if claim_ref(trial.ref.key) in claimed]
    entries = [
        {"trial": trial.ref.branch, "sweep": trial.sweep, "name": trial.name}
        for trial in queued
        if claim_ref(trial.ref.key) not in claimed
    ]
    if not entries:
        notes.append(f"no queued trial to run in sweep {sweep}")
    concurrency = SweepSpec.from_json(record.spec).concurrency
    return Plan(plan_document(entries, concurrency, chunks, chunk_size), notes)


def branch_shape(ref: str) -> TrialRef | None:
    """``refs/heads/<prefix><sweep>/<trial>`` split as a trial ref would be (whatever the prefix)."""
    parts = ref.removeprefix("refs/heads/").split("/")
    if not ref.startswith("refs/heads/") or len(parts) < 3:
        return None
    return TrialRef("/".join(parts[:-2]) + "/", parts[-2], parts[-1])


# -- run -------------------------------------------------------------------------------

PUBLISHED, FINISHED_ELSEWHERE, NOT_QUEUED = "published", "finished elsewhere", "not queued"


@dataclass(frozen=True)
class CiRun:
    trial: Trial
    state: str  # PUBLISHED, FINISHED_ELSEWHERE or NOT_QUEUED
    outcome: RunOutcome | None = None
    log: str = ""
    note: str = ""


def run_trial_in_checkout(git: Git, branch: str, remote: str = CI_REMOTE) -> CiRun:
    """Run the trial checked out in ``git`` and publish its result on ``remote``.

    Refuses unless HEAD is the trial's queued tip and the checkout is clean (a
    result commit holds everything Git does not ignore). Skips a trial that is
    no longer queued on ``remote``.
    """
    trial = checked_out_trial(git, branch, remote)
    if trial.status != QUEUED:
        return CiRun(trial, NOT_QUEUED, note=f"{trial.ref.key} already has a result ({trial.status}): nothing to run")
    dirty = [entry[3:] for entry in git.status_porcelain()]
    if dirty:
        raise UsageError(
            f"the checkout has uncommitted changes ({', '.join(dirty[:3])}): ci run needs a clean checkout of the trial"
        )
    claims = ci_claims(git, remote)
    claim = claims.take(trial)
    if claim is None:
        there = git.ls_remote(remote, [trial.ref.ref]).get(trial.ref.ref)
        if there != trial.tip:
            return CiRun(trial, NOT_QUEUED, note=f"{trial.ref.branch} is no longer queued on {remote}: nothing to run")
        return CiRun(trial, NOT_QUEUED, note=f"{trial.ref.key} is claimed by another runner on {remote}: left to it")
    log_path = trial_log_path(git.common_dir(), trial.sweep, trial.name)
    heartbeat = Heartbeat(claims, claim)
    try:
        with heartbeat:
            update_submodules(git)
            outcome = run_pipeline(
                git.root,
                pipeline_command(None),
                log_path,
                load_project(git, trial.tip, trial.project),
                env=trial_env(git, trial),
            )
            pushed = outcome.status == SUCCEEDED and push_outputs(git.root / trial.project, git.env, trial.ref.key)
        log = log_path.read_text("utf-8", "replace") if log_path.exists() else ""
        result = commit_result(git, trial, outcome, where("ci"))
        state, note = publish_result(git, remote, trial, result)
    finally:
        claims.release(heartbeat.claim)
    if state == PUBLISHED and pushed:
        note = f"{note}; outputs pushed to the DVC remote"
    return CiRun(trial, state, outcome, log, note)


def ci_claims(git: Git, remote: str) -> Claims:
    """Claims on ``remote`` for this job, like a worker's: no worker runs the trial while the job does.

    The remote's claims are fetched first, so that a dead runner's stale claim can be taken over.
    """
    tracked = resolve_remote(git, remote)
    fetch_claims(git, tracked)
    runner = Runner(worker=f"ci-{default_worker_id()}", clone=clone_id(git.common_dir()))
    return Claims(git, RemoteRefs(git, tracked), runner)


def checked_out_trial(git: Git, branch: str, remote: str) -> Trial:
    """The trial of ``branch`` (local, else as fetched from ``remote``), which HEAD must be at."""
    branch = branch.removeprefix("refs/heads/")
    records = git.refs(f"refs/heads/{branch}") or git.refs(f"refs/remotes/{remote}/{branch}")
    shape = branch_shape(f"refs/heads/{branch}")
    record = next((record for record in records if record.name.endswith(f"/{branch}")), None)
    if record is None or shape is None:
        raise NotFoundError(f"no trial branch {branch!r} here: check it out first (git checkout {branch})")
    trailers = parse_trailers(record.message)
    if (trailers.get(T_SWEEP), trailers.get(T_TRIAL)) != (shape.sweep, shape.trial):
        raise UsageError(f"{branch} is not a gitexp trial branch (its tip has no Gitexp-Sweep/Gitexp-Trial of its name)")
    if git.rev_parse("HEAD") != record.oid:
        raise UsageError(f"HEAD is not at the tip of {branch}: check the trial out first (git checkout {branch})")
    return trial_from_record(shape, record.oid, record.message)


def publish_result(
    git: Git, remote: str, trial: Trial, result: str, delays: tuple[float, ...] = PUSH_RETRY_DELAYS
) -> tuple[str, str]:
    """Move the trial's branch on ``remote`` from its queued tip to ``result``, as a compare-and-swap.

    A refused or failed push is retried, after a pause, for as long as the
    remote still has the trial queued; once another runner has published a
    result there, this one is dropped (it stays in the checkout).
    """
    ref = trial.ref.ref
    refusals = []
    for delay in (*delays, None):
        try:
            rejected = git.push(remote, [RefUpdate(ref, result, trial.tip)], atomic=True)
        except GitCommandError as error:
            rejected = {ref: error.message}
        there = git.ls_remote(remote, [ref]).get(ref) if rejected else result
        if there == result:
            retried = f" after {len(refusals)} refused attempt(s): {refusals[-1]}" if refusals else ""
            return PUBLISHED, f"pushed to {remote}{retried}"
        if there != trial.tip:
            return FINISHED_ELSEWHERE, moved_note(git, remote, trial, there)
        refusals.append(rejected[ref])
        if delay is not None:
            time.sleep(delay)
    raise GitCommandError(
        f"could not push the result of {trial.ref.key} to {remote} in {len(refusals)} attempts "
        f"({refusals[-1]}); it stays in this checkout as {result[:10]}"
    )


def moved_note(git: Git, remote: str, trial: Trial, there: str | None) -> str:
    """Why the remote's branch is no longer the queued tip, after fetching it to read its status."""
    if there is None:
        return f"{trial.ref.branch} was removed from {remote} meanwhile: this result is not pushed"
    staged = f"{staging_namespace(remote)}ci/{trial.ref.branch}"
    git.fetch(remote, [f"+{trial.ref.ref}:{staged}"], prune=False)
    records = git.refs(staged)
    status = parse_trailers(records[0].message).get(T_STATUS, QUEUED) if records else QUEUED
    git.update_refs([RefUpdate(record.name, ZERO_OID, record.oid) for record in records])
    if status == QUEUED:
        return f"{trial.ref.branch} was queued again on {remote} meanwhile: this result is not pushed"
    return f"another runner published a result ({status}) on {remote} first: this result is not pushed"
