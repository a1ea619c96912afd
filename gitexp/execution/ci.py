"""The CI entry points: what the generated workflow's jobs run (``gitexp ci plan`` and ``gitexp ci run``).

- plan: pull the sweep named by the dispatch (GITEXP_SWEEP) or by its pushed
  branch ``sweeps/<sweep>`` (GITHUB_REF) from origin, let its driver plan an
  adaptive sweep's next trials on origin (or stop the sweep when a result meets
  an early-stopping rule), and list its queued trials that no worker has
  claimed as the job matrices of ``ci.matrix.plan_document``, with the sweep's
  concurrency. ``next_round`` tells the report job whether to dispatch the
  next round of an adaptive sweep.
- run: in the job's own checkout of a trial branch, claim the trial on origin
  as a worker does (so no worker runs it meanwhile, and a dead runner's stale
  claim is taken over), run the pipeline like any executor
  (``execution.pipeline``: submodules checked out, DVC-tracked data restored
  from the cache or fetched), commit the result, and publish it as every
  executor does (``claims.run_claimed``): one atomic push that moves the branch
  from its queued tip and drops the claim, retried while the trial is still
  queued on origin, once ``dvc push`` has sent the outputs when there is a DVC
  remote (``project.outputs.push_outputs``, as a worker does).

Inside GitHub Actions the commands hand these functions a ``Git`` from
``sharing.with_actions_token``, so a checkout made without persisted
credentials can still fetch and push.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitexp.ci.matrix import MATRIX_LIMIT, plan_document, validate_chunks
from gitexp.errors import GitCommandError, NotFoundError, UsageError
from gitexp.execution.claims import Claims, Runner, clone_id, default_worker_id, run_claimed
from gitexp.execution.driver import SweepDriver, early_stopping_reason
from gitexp.execution.pipeline import RunOutcome, commit_result, run_pipeline, trial_command, trial_env, where
from gitexp.execution.pruning import Prunings, TrialPruning
from gitexp.execution.worktrees import update_submodules
from gitexp.project.model import load_project
from gitexp.project.outputs import push_outputs
from gitexp.sharing.sync import pull
from gitexp.store.git import Git, RefUpdate
from gitexp.store.layout import stop_request_path, trial_log_path
from gitexp.store.naming import CLAIMS_NAMESPACE, TrialRef, sweep_of_branch
from gitexp.store.records import (
    QUEUED,
    SUCCEEDED,
    T_STATUS,
    T_SWEEP,
    T_TRIAL,
    WITH_OUTPUTS,
    Ledger,
    Trial,
    parse_trailers,
    trial_from_record,
)
from gitexp.store.remote import DEFAULT_REMOTE, RemoteRefs, fetch_experiments, fetch_sweeps_and_claims, resolve_remote

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
    remote: str = DEFAULT_REMOTE,
) -> Plan:
    """The queued trials this CI run executes: those of a dispatched sweep, or of the sweep whose branch
    (``sweeps/<sweep>``) was pushed; an adaptive sweep's next ones are planned first (``SweepDriver``)."""
    validate_chunks(chunks, chunk_size)
    pushed = None
    sweep = sweep or sweep_of_branch(ref or "")
    if not sweep:
        pushed = branch_shape(ref or "")
        if pushed is None:
            return Plan(plan_document([], 1, chunks, chunk_size), [f"{ref or 'no ref'} is neither a sweep's nor a trial's branch: nothing to run"])
        sweep = pushed.sweep
    try:
        pull(git, remote, [sweep], with_data=False)
    except NotFoundError:
        if pushed is None:
            raise
        note = f"{remote} has no sweep named {sweep!r}, so {pushed.branch} is not a trial: nothing to run"
        return Plan(plan_document([], 1, chunks, chunk_size), [note])
    driver = remote_driver(git, sweep, remote)
    if pushed is not None:
        trials = [trial for trial in driver.queued if (trial.ref.prefix, trial.name) == (pushed.prefix, pushed.trial)]
        held = [trial for trial in driver.elsewhere if (trial.ref.prefix, trial.name) == (pushed.prefix, pushed.trial)]
    else:
        trials, held = list(iter(driver.next_trial, None)), driver.elsewhere
    notes = [f"{trial.ref.key} is claimed by a worker: left to it" for trial in held]
    if driver.stop_reason:
        notes.append(f"sweep {sweep} is stopped ({driver.stop_reason})")
    if not trials:
        notes.append(f"no queued trial to run in sweep {sweep}")
    entries = [{"trial": trial.ref.branch, "sweep": trial.sweep, "name": trial.name} for trial in trials]
    return Plan(plan_document(entries, driver.spec.concurrency, chunks, chunk_size), notes)


def remote_driver(git: Git, sweep: str, remote: str, stop_when_met: bool = True) -> SweepDriver:
    """The sweep's driver on ``remote`` as it is now: new trials and stops are written there by compare-and-swap,
    trials a claim holds are left to their runner, and (``stop_when_met``) a finished trial that meets an
    early-stopping rule stops it."""
    tracked = resolve_remote(git, remote)
    record = Ledger(git).sweep(sweep)
    fetch_experiments(git, tracked, [record.prefix])
    store = RemoteRefs(git, tracked, refusals=[])
    ledger = Ledger(store.view)
    claimed = {claim.name.removeprefix(CLAIMS_NAMESPACE) for claim in store.view.refs(f"{CLAIMS_NAMESPACE}{sweep}/")}
    driver = SweepDriver(git, ledger.sweep(sweep), store=store, held=claimed, ledger=ledger)
    reason = None if driver.stop_reason or not stop_when_met else met_stopping_rule(driver)
    if reason:
        driver.stop(reason)
    return driver


def met_stopping_rule(driver: SweepDriver) -> str | None:
    """The early-stopping rule that a result of another job meets (a local run checks each result as it comes)."""
    reasons = (early_stopping_reason(driver.spec, trial.metrics) for trial in driver.completed if trial.status == SUCCEEDED)
    return next(filter(None, reasons), None)


def next_round(git: Git, sweep: str, remote: str = DEFAULT_REMOTE) -> str | None:
    """Why ``sweep`` needs no further CI run (None: it is adaptive and will grow, so dispatch the next round).

    A round that left trials queued (a job that died) is not repeated by itself: it could die the same way. A result
    that meets an early-stopping rule is left to the next round's plan, which records the stop and plans nothing.
    """
    pull(git, remote, [sweep], with_data=False)
    driver = remote_driver(git, sweep, remote, stop_when_met=False)  # the report job only reads: the next plan stops it
    if not driver.strategy.adaptive:
        return f"sweep {sweep} is not adaptive: its trials were all planned at once"
    if driver.stop_reason:
        return f"sweep {sweep} is stopped ({driver.stop_reason})"
    if driver.queued or driver.elsewhere:
        return f"sweep {sweep} still has {len(driver.queued) + len(driver.elsewhere)} queued trial(s) from this round: run it again by hand"
    if not driver.has_work():
        return f"sweep {sweep} is done"
    return None


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


def run_trial_in_checkout(git: Git, branch: str, remote: str = DEFAULT_REMOTE) -> CiRun:
    """Run the trial checked out in ``git`` and publish its result on ``remote``.

    Refuses unless HEAD is the trial's queued tip and the checkout is clean (a
    result commit holds everything Git does not ignore). Skips a trial that is
    no longer queued on ``remote``. Claim, run and publish are every executor's
    (``claims.run_claimed``), with the remote's refusals retried while the trial is queued there.
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
    checkout = CheckoutRun(git, Prunings(git, claims).watch(trial, fetch_results=True))
    ran = None
    try:
        ran = run_claimed(claims, trial, checkout.execute, checkout.pruning and checkout.pruning.progress)
    except GitCommandError as error:
        if not checkout.result:
            raise
        raise GitCommandError(f"{error.message}; the result stays in this checkout as {checkout.result[:10]}") from None
    finally:
        if checkout.pruning is not None:
            checkout.pruning.finish(ran[0].status if ran else None)
    if ran is None:
        there = claims.store.current([trial.ref.ref]).get(trial.ref.ref)
        if there != trial.tip:
            return CiRun(trial, NOT_QUEUED, note=f"{trial.ref.branch} is no longer queued on {remote}: nothing to run")
        return CiRun(trial, NOT_QUEUED, note=f"{trial.ref.key} is claimed by another runner on {remote}: left to it")
    outcome, published = ran
    state, note = publication(claims.store, trial, checkout.result, published)
    if state == PUBLISHED and checkout.outputs_pushed:
        note = f"{note}; outputs pushed to the DVC remote"
    return CiRun(trial, state, outcome, checkout.log, note)


class CheckoutRun:
    """A CI job's run of the trial checked out in ``git``: its pipeline, its outputs' ``dvc push``, its result commit."""

    def __init__(self, git: Git, pruning: TrialPruning | None = None):
        self.git = git
        self.pruning = pruning  # the sweep's pruner watching the run, when it has one
        self.result = ""
        self.log = ""
        self.outputs_pushed = False

    def execute(self, trial: Trial) -> tuple[RunOutcome, str]:
        git = self.git
        log_path = trial_log_path(git.common_dir(), trial.sweep, trial.name)
        update_submodules(git)
        project = load_project(git, trial.tip, trial.project)
        stop = stop_request_path(git.common_dir(), trial.sweep, trial.name)  # the heartbeat writes it on a stop request
        outcome = run_pipeline(git.root, trial_command(git.root, project, None), log_path, project, env=trial_env(git, trial), stop_request=stop, pruning=self.pruning)
        self.outputs_pushed = outcome.status in WITH_OUTPUTS and push_outputs(git.root / trial.project, git.env, trial.ref.key)
        self.log = log_path.read_text("utf-8", "replace") if log_path.exists() else ""
        self.result = commit_result(git, trial, outcome, where("ci"))
        return outcome, self.result


def ci_claims(git: Git, remote: str) -> Claims:
    """Claims on ``remote`` for this job, like a worker's: no worker runs the trial while the job does.

    The remote's claims are fetched first, so that a dead runner's stale claim
    can be taken over. A refused push is retried (the remote may refuse for a
    moment) rather than stop the job, and remembered for the job's note. The
    result is pushed alone, the claim dropped after it, as CI jobs always have:
    hooks on the remote see a result push that holds the trial branch only.
    """
    tracked = resolve_remote(git, remote)
    fetch_sweeps_and_claims(git, tracked)
    runner = Runner(worker=f"ci-{default_worker_id()}", clone=clone_id(git.common_dir()))
    return Claims(git, RemoteRefs(git, tracked, refusals=[]), runner, result_alone=True)


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


def publication(store: RemoteRefs, trial: Trial, result: str, published: bool) -> tuple[str, str]:
    """The state and note of a publish: pushed (after how many refusals), or why the remote has another tip."""
    remote = store.remote.shown
    if published:
        refused = [r.reason for r in store.refusals or () if RefUpdate(trial.ref.ref, result, trial.tip) in r.updates]
        retried = f" after {len(refused)} refused attempt(s): {refused[-1]}" if refused else ""
        return PUBLISHED, f"pushed to {remote}{retried}"
    there = store.current([trial.ref.ref]).get(trial.ref.ref)
    if there is None:
        return FINISHED_ELSEWHERE, f"{trial.ref.branch} was removed from {remote} meanwhile: this result is not pushed"
    store.mirror([trial.ref.ref])
    records = store.view.refs(trial.ref.ref)
    status = parse_trailers(records[0].message).get(T_STATUS, QUEUED) if records else QUEUED
    if status == QUEUED:
        return FINISHED_ELSEWHERE, f"{trial.ref.branch} was queued again on {remote} meanwhile: this result is not pushed"
    return FINISHED_ELSEWHERE, f"another runner published a result ({status}) on {remote} first: this result is not pushed"
