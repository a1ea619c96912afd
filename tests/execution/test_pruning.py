"""Pruning while trials run: Optuna's pruners on dvclive steps, through real runs of ``steps_project``.

The stage logs ``train/loss`` over 30 steps (0.05 s each); learning rates above
0.5 diverge, and the best trial is the one with the largest lr up to 0.5.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from gitexp.execution.pruning import StepFile, SweepPruner, heartbeat_steps
from gitexp.review.report import build_sweep_report, render_markdown, report_plots
from gitexp.store.claim_records import Claim
from gitexp.store.git import Git
from gitexp.store.records import PRUNED, SUCCEEDED, Ledger, Trial, failure_details
from gitexp.sweep.pruner import parse_pruner

LRS = "[0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.45, 0.8, 1.5]"
SWEEP = f"""\
matrix:
  train.lr: {LRS}
strategy: random
max_trials: 12
seed: 5  # 0.4 and 0.45 come first: every later trial loses to them from its first steps
objective: {{metric: train.loss, goal: minimize}}
"""
MEDIAN = "pruner: {name: median, min_step: 5, n_startup_trials: 2}\n"
STEPS_FILE = "dvclive/plots/metrics/train/loss.tsv"


def curve(git: Git, trial: Trial) -> list[float]:
    """The trial's train/loss values, step by step, as its result commit holds them."""
    rows = (git.read_blob(trial.tip, STEPS_FILE) or b"").decode().splitlines()[1:]
    return [float(row.split("\t")[-1]) for row in rows]


def run_sweep(run_gitexp, git: Git, text: str, *argv: str) -> list[Trial]:
    sweep = git.root.parent / f"sweep-{git.root.name}.yaml"
    sweep.write_text(text)
    result = run_gitexp(git.root, "run", "--sweep", str(sweep), "--name", "s", "-j", "2", *argv)
    assert result.code == 0, result.err
    return Ledger(git).trials(["s"])


def best(git: Git, trials: list[Trial]) -> tuple[float, float]:
    """(lr, final loss) of the trial with the lowest final loss among those that ran all 30 steps."""
    finished = [(curve(git, trial)[-1], trial.params["train.lr"]) for trial in trials if trial.status == SUCCEEDED]
    loss, lr = min(finished)
    return lr, loss


def test_the_median_pruner_runs_far_fewer_steps_and_finds_the_same_best_trial(steps_project, tmp_path, run_gitexp):
    unpruned_project = Git(Path(shutil.copytree(steps_project.root, tmp_path / "unpruned", symlinks=True)))
    pruned = run_sweep(run_gitexp, steps_project, SWEEP + MEDIAN)
    unpruned = run_sweep(run_gitexp, unpruned_project, SWEEP)

    assert {trial.status for trial in unpruned} == {SUCCEEDED}
    steps_unpruned = sum(len(curve(unpruned_project, trial)) for trial in unpruned)
    steps_pruned = sum(len(curve(steps_project, trial)) for trial in pruned)
    assert steps_unpruned == 12 * 30
    assert steps_pruned <= 0.6 * steps_unpruned, (steps_pruned, [t.status for t in pruned])
    assert best(steps_project, pruned) == best(unpruned_project, unpruned) == (0.45, pytest.approx(0.55**30))
    stopped = [trial for trial in pruned if trial.status == PRUNED]
    assert stopped
    for trial in stopped:  # each with a result commit holding its partial curve, the step it reached and why
        values = curve(steps_project, trial)
        assert 5 <= trial.step < 29 and trial.step < len(values) < 30
        assert values == curve(unpruned_project, next(t for t in unpruned if t.params == trial.params))[: len(values)]
        reason, _ = failure_details(trial.message)
        assert reason.startswith(f"pruned at step {trial.step} by the median pruner: train.loss was ")
    print(f"steps: {steps_pruned} pruned against {steps_unpruned} unpruned; {len(stopped)} trials pruned")

    shown = run_gitexp(steps_project.root, "show", "--best", "--json")
    [progress] = json.loads(shown.out)
    assert progress["best"]["trial"] == next(f"s/{t.name}" for t in pruned if t.params["train.lr"] == 0.45)
    assert progress["steps_run"] + progress["steps_saved"] == 360  # each pruned trial would have run all 30 steps
    assert abs(progress["steps_run"] - steps_pruned) <= len(stopped) and progress["seconds_saved"] > 0
    values = [point["value"] for point in progress["best_so_far"]]
    assert values == sorted(values, reverse=True) and values[-1] == pytest.approx(0.55**30)
    report = build_sweep_report(steps_project, "s")
    assert report.counts[PRUNED] == len(stopped) and PRUNED not in {row.status for row in report.ranked}
    titles = [plot.title for plot in report_plots(steps_project, report)]
    assert "best train.loss so far" in titles and "train/loss by step" in titles
    assert f"pruning stopped {len(stopped)} trial(s), saving {progress['steps_saved']} steps" in render_markdown(steps_project, report)


def test_steps_are_read_as_the_file_grows_and_the_checkout_s_old_curve_is_not_the_run_s(tmp_path):
    path = tmp_path / "loss.tsv"
    path.write_text("step\tloss\n0\t9\n1\t8\n")  # the baseline's curve, committed
    steps = StepFile(path, "train/loss")
    assert steps.read() == {}
    path.unlink()
    path.write_text("timestamp\tstep\tloss\n1\t0\t0.5\n2\t1\t0.")  # dvclive writes anew; the last row is half written
    assert steps.read() == {0: 0.5}
    with path.open("a") as file:
        file.write("25\n3\t2\t0.125\n")
    assert steps.read() == {1: 0.25, 2: 0.125}
    assert steps.read() == {}


def test_successive_halving_prunes_against_a_peer_seen_only_through_its_heartbeat():
    spec = parse_pruner({"name": "successive_halving", "min_resource": 1, "reduction_factor": 2})
    pruner = SweepPruner(spec, "train.loss", "minimize", STEPS_FILE)
    peer = Claim("refs/gitexp/claims/s/t001", "0" * 40, steps='{"train.loss": [[0, 0.5], [1, 0.25], [2, 0.1], [3, 0.05]]}')
    pruner.peer(peer.key, heartbeat_steps(peer, "train.loss"))
    pruner.start("s/t002")
    assert pruner.report("s/t002", {0: 0.9, 1: 0.8})  # at the first rung (step 1), worse than the peer that passed it
    alone = SweepPruner(spec, "train.loss", "minimize", STEPS_FILE)
    alone.start("s/t002")
    assert not alone.report("s/t002", {0: 0.9, 1: 0.8})  # without the peer it is the rung's best


def test_kill_9_of_a_run_while_it_prunes_then_run_again_leaves_one_result_per_trial(kit, steps_project, tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP + MEDIAN)
    kit.gitexp(steps_project.root, "queue", "--sweep", str(sweep), "--name", "s").wait()
    run = kit.gitexp(steps_project.root, "run", "s", "-j", "2", start_new_session=False)
    deadline = time.monotonic() + 60
    while not any(t.status == PRUNED for t in Ledger(steps_project).trials(["s"])) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    again = kit.gitexp(steps_project.root, "run", "s", "-j", "2")
    assert again.wait() == 0, again.stderr.read()
    assert set(kit.result_counts(steps_project).values()) == {1}
    trials = Ledger(steps_project).trials(["s"])
    assert len(trials) == 12 and PRUNED in {trial.status for trial in trials}
    assert {trial.status for trial in trials} <= {SUCCEEDED, PRUNED}


def test_a_trial_on_one_worker_is_pruned_against_the_other_worker_s_running_trial(kit, steps_project, tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "matrix: {train.lr: [0.45, 0.005]}\nparams: {train.sleep: 0.3}\nobjective: {metric: train.loss, goal: minimize}\n"
        "pruner: {name: successive_halving, min_resource: 1, reduction_factor: 2, min_step: 1}\n"
    )
    assert kit.gitexp(steps_project.root, "queue", "--sweep", str(sweep), "--name", "s").wait() == 0
    remote = kit.make_remote(steps_project, tmp_path / "remote.git")
    first, second = (kit.clone(remote.root, tmp_path / name) for name in ("first", "second"))
    for clone in (first, second):
        clone.run("config", "gitexp.pruneInterval", "0.1")
    fast = ["--heartbeat", "0.2", "--poll", "0.2", "--idle-exit", "1"]
    holder = remote_claims(first, "holder")  # keeps the bad trial from the first worker
    bad = next(trial for trial in remote_trials(first).values() if trial.name == "t002")
    held = holder.take(bad)
    good_worker = kit.gitexp(first.root, "worker", "--remote", "origin", "--worker-id", "good", *fast)
    wait_for(lambda: '"train.loss": [[' in remote.run("log", "-1", "--format=%B", "refs/gitexp/claims/s/t001", check=False))
    holder.release(held)
    bad_worker = kit.gitexp(second.root, "worker", "--remote", "origin", "--worker-id", "bad", *fast)
    wait_for(lambda: "Gitexp-Status" in remote.run("log", "-1", "--format=%B", "exp/s/t002"))
    good_running = remote.run("for-each-ref", "refs/gitexp/claims/s/t001")  # still running when the bad one was pruned
    assert bad_worker.wait(timeout=60) == 0, bad_worker.stderr.read()
    assert good_worker.wait(timeout=60) == 0, good_worker.stderr.read()
    trials = {trial.name: trial for trial in Ledger(remote).trials(["s"])}
    assert trials["t001"].status == SUCCEEDED
    assert trials["t002"].status == PRUNED, trials["t002"].message
    assert good_running and trials["t002"].host == "worker:bad"
    assert len(curve(remote, trials["t002"])) < 30 and set(kit.result_counts(remote).values()) == {1}


def remote_claims(git: Git, worker: str):
    from gitexp.execution.claims import Claims, Runner
    from gitexp.store.remote import RemoteRefs, resolve_remote

    return Claims(git, RemoteRefs(git, resolve_remote(git, "origin")), Runner(worker, clone=f"clone-{worker}"))


def remote_trials(git: Git) -> dict[str, Trial]:
    from gitexp.store.remote import TrackingView, fetch_experiments, resolve_remote

    remote = resolve_remote(git, "origin")
    fetch_experiments(git, remote, ["exp/"])
    return {trial.ref.key: trial for trial in Ledger(TrackingView(git, remote)).trials()}


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_ci_run_prunes_its_trial_against_the_finished_trials_on_origin(steps_project, bare_remote, tmp_path, run_gitexp):
    steps_project.run("remote", "add", "origin", str(bare_remote))
    steps_project.run("push", "-q", "origin", "main")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "matrix: {train.lr: [0.45, 0.005]}\nobjective: {metric: train.loss, goal: minimize}\n"
        "pruner: {name: median, n_startup_trials: 1, min_step: 2}\n"
    )
    assert run_gitexp(steps_project.root, "queue", "--sweep", str(sweep), "--name", "s").code == 0
    assert run_gitexp(steps_project.root, "run", "s/t001").code == 0
    assert run_gitexp(steps_project.root, "push", "--no-dvc").code == 0
    ci = Git(tmp_path)
    ci.run("clone", "-q", str(bare_remote), str(tmp_path / "ci"))
    ci = Git(tmp_path / "ci")
    ci.run("checkout", "-q", "-B", "exp/s/t002", "refs/remotes/origin/exp/s/t002")
    ci.run("config", "gitexp.pruneInterval", "0.1")

    result = run_gitexp(ci.root, "ci", "run", "--trial", "exp/s/t002")

    assert result.code == 0, result.err
    pushed = Ledger(Git(bare_remote)).trials(["s"])
    assert [trial.status for trial in pushed] == [SUCCEEDED, PRUNED]
    assert 2 <= pushed[1].step < 29 and pushed[1].host.startswith("ci:")
    assert 0 < len(curve(Git(bare_remote), pushed[1])) < 30
