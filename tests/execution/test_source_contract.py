"""What every trial source promises an executor, checked on each: a list, a sweep's driver, several combined, a worker's queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest

from gitexp.execution.claims import Claims, Runner
from gitexp.execution.driver import CombinedSource, SweepDriver
from gitexp.execution.local import StaticTrials, TrialSource
from gitexp.execution.pipeline import RunOutcome
from gitexp.execution.worker import RemoteQueue, WorkerOptions
from gitexp.store.git import Git, RefUpdate
from gitexp.store.records import SUCCEEDED, Ledger, Trial
from gitexp.store.refstore import LocalRefs, RefStore
from gitexp.store.remote import RemoteRefs, resolve_remote


@dataclass
class Kit:
    source: TrialSource
    store: RefStore  # where a result lands, for the source to see it
    expected: set[str]  # the trial keys the source hands out


def local_kit(project: Git, make: Callable[[Ledger], TrialSource], sweeps: list[str]) -> Kit:
    ledger = Ledger(project)
    return Kit(make(ledger), LocalRefs(project), {t.ref.key for t in ledger.trials(sweeps)})


def queue_kit(project: Git, bare_remote) -> Kit:
    project.run("remote", "add", "origin", str(bare_remote))
    project.run("push", "-q", "origin", "main", "refs/gitexp/sweeps/*:refs/gitexp/sweeps/*", "refs/heads/exp/*:refs/heads/exp/*")
    store = RemoteRefs(project, resolve_remote(project, "origin"))
    claims = Claims(project, store, Runner("w1", "contract"))
    queue = RemoteQueue(project, store.remote, claims, WorkerOptions())
    return Kit(queue, store, {t.ref.key for t in Ledger(project).trials(["q", "r"])})


SOURCES = {
    "static": lambda project, _: local_kit(project, lambda ledger: StaticTrials(ledger.trials(["q"])), ["q"]),
    "driver": lambda project, _: local_kit(project, lambda ledger: SweepDriver(project, ledger.sweep("q")), ["q"]),
    "combined": lambda project, _: local_kit(
        project, lambda ledger: CombinedSource([SweepDriver(project, ledger.sweep("q")), StaticTrials(ledger.trials(["r"]))]), ["q", "r"]
    ),
    "worker queue": queue_kit,
}


@pytest.fixture(params=list(SOURCES))
def kit(request, project, bare_remote, run_gitexp) -> Kit:
    assert run_gitexp(project.root, "queue", "--name", "q", "--set", "train.lr=[0.05, 0.1, 0.2]").code == 0
    assert run_gitexp(project.root, "queue", "--name", "r", "--set", "train.lr=[0.3, 0.4]").code == 0
    return SOURCES[request.param](project, bare_remote)


def publish(git: Git, store: RefStore, trial: Trial) -> None:
    """A succeeded result on the trial's branch, as an executor lands it."""
    message = f"result\n\nGitexp-Sweep: {trial.sweep}\nGitexp-Trial: {trial.name}\nGitexp-Status: succeeded\n"
    result = git.commit_tree(git.run("rev-parse", f"{trial.tip}^{{tree}}").strip(), message, [trial.tip])
    assert store.swap([RefUpdate(trial.ref.ref, result, trial.tip)])


def test_every_trial_is_handed_out_once_then_none(kit: Kit, project):
    handed = []
    while (trial := kit.source.next_trial()) is not None:
        handed.append(trial.ref.key)
        publish(project, kit.store, trial)
        kit.source.finished(trial, RunOutcome(SUCCEEDED, 0.1, {"score": 0.5}))

    assert sorted(handed) == sorted(kit.expected) and len(handed) == len(set(handed))
    assert kit.source.next_trial() is None


def test_a_trial_finished_elsewhere_is_accepted_and_not_handed_out_again(kit: Kit, project):
    first = kit.source.next_trial()
    publish(project, kit.store, first)

    kit.source.finished(first, None)  # claimed or finished by another runner

    rest = []
    while (trial := kit.source.next_trial()) is not None:
        rest.append(trial.ref.key)
        publish(project, kit.store, trial)
        kit.source.finished(trial, RunOutcome(SUCCEEDED, 0.1, {"score": 0.5}))
    assert first.ref.key not in rest and sorted([first.ref.key, *rest]) == sorted(kit.expected)
