"""What every executor promises, checked on each: the local runner, a worker on a clone, a CI job in a checkout.

Each adapter queues trials in the user's project, runs them through its executor from the command
line (as a user, or the generated workflow, does), and says where the results are read. Each runs
both ways a trial runs: a DVC pipeline (dvc repro), and a project without dvc.yaml whose trials run
a command (the same train.py, queued after ``--``).
"""

from __future__ import annotations

import json
from itertools import count
from pathlib import Path

import pytest

from gitexp.store.git import Git
from gitexp.store.records import T_STATUS, Ledger, Trial, failure_details

FAST = ["--heartbeat", "0.2", "--poll", "0.2"]


class DvcPipeline:
    """Trials run dvc repro: the result commit holds dvc.lock and the stage's metrics."""

    result_files = ["dvc.lock", "metrics.json"]
    failure = "dvc repro exited with status "

    def prepare(self, project: Git) -> None:
        pass

    def queue_args(self, sets: tuple[str, ...]) -> list[str]:
        return [arg for value in sets for arg in ("--set", value)]

    def check_result(self, results: Git, ref: str, trial: Trial) -> None:
        assert f"lr: {trial.params['train.lr']}" in results.read_blob(ref, "dvc.lock").decode()

    def check_failure_log(self, log: list[str]) -> None:
        assert any(line.endswith("python train.py, exited with 3") for line in log), log


class CommandPipeline(DvcPipeline):
    """No dvc.yaml: trials run ``python train.py`` as gitexp.yaml records it, and commit what it wrote."""

    result_files = ["metrics.json"]
    failure = "python exited with status "

    def prepare(self, project: Git) -> None:
        project.run("rm", "-q", "dvc.yaml")
        project.run("commit", "-qm", "no pipeline: trials run a command")

    def queue_args(self, sets: tuple[str, ...]) -> list[str]:
        flags = [arg for value in sets for arg in ("--set", f"params.yaml:{value}")]
        return [*flags, "--metrics", "metrics.json", "--", "python", "train.py"]

    def check_result(self, results: Git, ref: str, trial: Trial) -> None:
        assert "command: [python, train.py]" in results.read_blob(ref, "gitexp.yaml").decode()

    def check_failure_log(self, log: list[str]) -> None:
        pass  # the script's own output is the whole log


PIPELINES = {"dvc repro": DvcPipeline, "command": CommandPipeline}


class Executor:
    """Queues trials in the user's project and runs them; ``results`` is the repository they land in."""

    def __init__(self, project: Git, bare_remote: Path, run_gitexp, tmp_path: Path, pipeline: DvcPipeline):
        self.project, self.run_gitexp, self.tmp_path, self.pipeline = project, run_gitexp, tmp_path, pipeline
        pipeline.prepare(project)
        self.results = project
        self.workspaces = [project]  # the repositories the user ran gitexp in

    def queue(self, name: str, *sets: str) -> None:
        assert self.run_gitexp(self.project.root, "queue", "--name", name, *self.pipeline.queue_args(sets)).code == 0

    def run(self) -> int:
        """Run every queued trial; the exit status."""
        raise NotImplementedError


class LocalRun(Executor):
    def run(self) -> int:
        return self.run_gitexp(self.project.root, "run", "-j", "2").code


class RemoteExecutor(Executor):
    """The user pushes the queued trials to a bare ``origin``, where they are run and their results land."""

    def __init__(self, project: Git, bare_remote: Path, run_gitexp, tmp_path: Path, pipeline: DvcPipeline):
        super().__init__(project, bare_remote, run_gitexp, tmp_path, pipeline)
        project.run("remote", "add", "origin", str(bare_remote))
        project.run("push", "-q", "origin", "main")
        self.results = Git(bare_remote)

    def queue(self, name: str, *sets: str) -> None:
        super().queue(name, *sets)
        assert self.run_gitexp(self.project.root, "push", "--no-dvc").code == 0

    def clone(self, name: str) -> Git:
        path = self.tmp_path / name
        Git(self.tmp_path).run("clone", "-q", str(self.results.root), str(path))
        return Git(path)


class WorkerRun(RemoteExecutor):
    def __init__(self, *args):
        super().__init__(*args)
        self.worker = self.clone("worker")
        self.workspaces.append(self.worker)

    def run(self) -> int:
        return self.run_gitexp(self.worker.root, "worker", "--remote", "origin", "-j", "2", *FAST).code


class CheckoutRun(RemoteExecutor):
    """One CI job per trial branch on origin: a fresh checkout of the branch, then ``gitexp ci run`` in it."""

    def __init__(self, *args):
        super().__init__(*args)
        self.checkouts = count()

    def run(self) -> int:
        branches = self.results.run("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads/exp/").split()
        return max(self.job(branch) for branch in branches)

    def job(self, branch: str) -> int:
        checkout = self.clone(f"ci-{next(self.checkouts)}")
        checkout.run("checkout", "-q", "-B", branch, f"refs/remotes/origin/{branch}")
        env = {"GITHUB_ACTIONS": "true", "GITHUB_REF": f"refs/heads/{branch}", "GITHUB_TOKEN": ""}
        return self.run_gitexp(checkout.root, "ci", "run", "--trial", branch, env=env).code


EXECUTORS = {"local": LocalRun, "worker": WorkerRun, "ci checkout": CheckoutRun}


@pytest.fixture(params=[(kind, pipeline) for kind in EXECUTORS for pipeline in PIPELINES], ids="-".join)
def executor(request, project, bare_remote, run_gitexp, tmp_path) -> Executor:
    kind, pipeline = request.param
    return EXECUTORS[kind](project, bare_remote, run_gitexp, tmp_path, PIPELINES[pipeline]())


def queued(executor: Executor, *sweeps: str) -> dict[str, Trial]:
    """The queued trials of ``sweeps`` in the user's project, by branch ref."""
    return {trial.ref.ref: trial for trial in Ledger(executor.project).trials(list(sweeps))}


def statuses(git: Git, ref: str) -> list[str]:
    """The Gitexp-Status of every result commit on ``ref``, newest first."""
    return git.run("log", f"--format=%(trailers:key={T_STATUS},valueonly)", ref).split()


def parent(git: Git, ref: str) -> str:
    return git.run("rev-parse", f"{ref}^").strip()


def expected_score(trial: Trial) -> float:
    """What the fixture's train.py computes for the trial's params (n_est stays at 50)."""
    lr = next(value for key, value in trial.params.items() if key.endswith("train.lr"))  # params.yaml:train.lr for a command
    return round(1.0 - abs(lr - 0.1) - 50 / 10000.0, 6)


def workspace(snapshot: dict[str, str]) -> dict[str, str]:
    """HEAD, index and working tree of a ``repo_state`` snapshot (refs move; the ignored DVC cache may grow)."""
    status = "".join(line for line in snapshot["status"].splitlines(True) if "!! .dvc/cache/" not in line)
    return {**{key: value for key, value in snapshot.items() if key != "refs"}, "status": status}


def test_every_trial_gets_one_result_commit_on_its_trial_commit_holding_its_own_outputs(executor):
    executor.queue("s", "train.lr=[0.05, 0.2]")
    trials = queued(executor, "s")

    assert executor.run() == 0

    results = executor.results
    landed = {trial.ref.ref: trial for trial in Ledger(results).trials(["s"])}
    for ref, trial in trials.items():
        assert statuses(results, ref) == ["succeeded"] and parent(results, ref) == trial.tip
        assert results.run("diff", "--name-only", trial.tip, ref).split() == executor.pipeline.result_files
        score = expected_score(trial)
        assert json.loads(results.read_blob(ref, "metrics.json")) == {"score": score, "test": {"auc": round(score / 2, 6)}}
        executor.pipeline.check_result(results, ref, trial)
        assert landed[ref].metrics == {"score": score, "test.auc": round(score / 2, 6)}


def test_the_users_head_index_and_working_tree_are_untouched(executor, repo_state):
    executor.queue("s", "train.lr=[0.05, 0.2]")
    before = [workspace(repo_state(git)) for git in executor.workspaces]

    assert executor.run() == 0

    assert [workspace(repo_state(git)) for git in executor.workspaces] == before


def test_a_failing_trial_is_recorded_failed_with_its_log_and_the_others_still_succeed(executor):
    executor.queue("s", "train.lr=[0.05, 0.2]")
    executor.queue("bad", "train.fail=true")
    trials = queued(executor, "s", "bad")

    assert executor.run() == 1

    landed = {trial.ref.ref: trial for trial in Ledger(executor.results).trials()}
    assert {ref: trial.status for ref, trial in landed.items()} == {
        "refs/heads/exp/s/t001": "succeeded",
        "refs/heads/exp/s/t002": "succeeded",
        "refs/heads/exp/bad/t001": "failed",
    }
    assert all(parent(executor.results, ref) == trial.tip for ref, trial in trials.items())
    reason, log = failure_details(landed["refs/heads/exp/bad/t001"].message)
    assert reason.startswith(executor.pipeline.failure), reason
    assert "training diverged: loss is nan" in log, log
    executor.pipeline.check_failure_log(log)


def test_running_again_leaves_finished_trials_alone(executor):
    executor.queue("s", "train.lr=0.05")
    executor.queue("bad", "train.fail=true")
    assert executor.run() == 1
    finished = executor.results.run("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/exp/")

    assert executor.run() == 0

    assert executor.results.run("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/exp/") == finished
    assert [statuses(executor.results, ref) for ref in ("exp/s/t001", "exp/bad/t001")] == [["succeeded"], ["failed"]]


def test_no_claim_refs_remain_afterwards(executor):
    executor.queue("s", "train.lr=[0.05, 0.2]")
    executor.queue("bad", "train.fail=true")

    assert executor.run() == 1

    for git in (executor.results, *executor.workspaces):
        claims = [ref.name for ref in git.refs("refs/") if "claims" in ref.name]
        assert claims == [], (git.root, claims)
