"""The records contract: each message kind's exact bytes, as queue, run and cancel write them into Git."""

import dataclasses

from gitexp.execution.driver import cancel_trials
from gitexp.execution.pipeline import RunOutcome, commit_result
from gitexp.planning.queue import QueueRequest, queue_sweep
from gitexp.store.git import Git
from gitexp.store.records import Ledger, failure_details, trial_message
from gitexp.sweep.spec import spec_from_flags


def message(git: Git, commit: str) -> str:
    return git.run("cat-file", "commit", commit).split("\n\n", 1)[1]


def queued(git: Git, project: str = ""):
    request = QueueRequest(spec_from_flags(["train.lr=[0.5]", "seed=8"]), "s", project=project)
    return queue_sweep(git, request)


def test_trial_and_sweep_record_messages(project):
    baseline = project.rev_parse("HEAD")
    sweep = queued(project)
    assert message(project, sweep.trials[0].tip) == (
        "gitexp: s/t001 train.lr=0.5 seed=8\n\n"
        "Gitexp-Sweep: s\n"
        "Gitexp-Trial: t001\n"
        'Gitexp-Params: {"train.lr": 0.5, "seed": 8}\n'
        f"Gitexp-Baseline: {baseline}\n"
    )
    assert message(project, sweep.sweep.commit) == f"gitexp: sweep s\n\nGitexp-Sweep: s\nGitexp-Baseline: {baseline}\n"


def test_result_messages_succeeded_and_failed(project):
    trial = queued(project).trials[0]
    succeeded = RunOutcome("succeeded", 1.234, {"acc": 0.9, "name": "x", "flag": True, "n": 3})
    assert message(project, commit_result(project, trial, succeeded, "local:h")) == (
        "gitexp: s/t001 succeeded in 1.2s\n\n"
        "Gitexp-Sweep: s\n"
        "Gitexp-Trial: t001\n"
        "Gitexp-Status: succeeded\n"
        "Gitexp-Duration: 1.23\n"
        "Gitexp-Host: local:h\n"
        'Gitexp-Params: {"train.lr": 0.5, "seed": 8}\n'
        'Gitexp-Metrics: {"acc": 0.9, "n": 3}\n'
    )
    failed = RunOutcome("failed", 2.0, {}, "python exited with status 3", "first\n\nlast")
    written = message(project, commit_result(project, trial, failed, "ci:h"))
    assert written == (
        "gitexp: s/t001 failed in 2.0s\n\n"
        "python exited with status 3\n\n"
        "Last lines of the log:\n\n"
        "    first\n    \n    last\n\n"
        "Gitexp-Sweep: s\n"
        "Gitexp-Trial: t001\n"
        "Gitexp-Status: failed\n"
        "Gitexp-Duration: 2.00\n"
        "Gitexp-Host: ci:h\n"
        'Gitexp-Params: {"train.lr": 0.5, "seed": 8}\n'
        "Gitexp-Metrics: {}\n"
    )
    assert failure_details(written) == ("python exited with status 3", ["first", "", "last"])
    timed_out = RunOutcome("failed", 5.0, {}, "timed out after 5 s")
    assert message(project, commit_result(project, trial, timed_out, "h")).startswith(
        "gitexp: s/t001 failed in 5.0s\n\ntimed out after 5 s\n\nGitexp-Sweep: s\n"
    )


def test_a_failed_result_commits_no_credentials_its_log_echoed(project):
    trial = queued(project).trials[0]
    token = "ghp_" + "S3cr3tT0k3n" * 3
    log = f"pulling https://user:{token}@dvc.example.com/store\nauth {token} refused"
    failed = RunOutcome("failed", 1.0, {}, f"dvc pull failed at https://x-access-token:{token}@h/r", log)

    written = message(project, commit_result(project, trial, failed, "h"))

    assert token not in written and "S3cr3t" not in written
    assert failure_details(written) == (
        "dvc pull failed at https://***@h/r", ["pulling https://***@dvc.example.com/store", "auth *** refused"]
    )


def test_cancel_message(project):
    trial = queued(project).trials[0]
    cancel_trials(project, [trial], "early stopping: acc = 0.9 >= 0.8")
    tip = project.rev_parse(trial.ref.ref)
    assert message(project, tip) == (
        "gitexp: s/t001 cancelled\n\n"
        "early stopping: acc = 0.9 >= 0.8\n\n"
        "Gitexp-Sweep: s\n"
        "Gitexp-Trial: t001\n"
        "Gitexp-Status: cancelled\n"
        'Gitexp-Params: {"train.lr": 0.5, "seed": 8}\n'
    )
    assert Ledger(project).resolve_trial("s/t001").status == "cancelled"


def test_tags_and_project_trailers_follow_the_params(project):
    sweep = queued(project)
    trial = dataclasses.replace(sweep.trials[0], tags={"rung": 1}, project="sub")
    record = dataclasses.replace(sweep.sweep, project="sub")
    assert trial_message(record, trial.ref, trial.params, trial.tags) == (
        "gitexp: s/t001 train.lr=0.5 seed=8\n\n"
        "Gitexp-Sweep: s\n"
        "Gitexp-Trial: t001\n"
        'Gitexp-Params: {"train.lr": 0.5, "seed": 8}\n'
        f"Gitexp-Baseline: {record.baseline}\n"
        'Gitexp-Tags: {"rung": 1}\n'
        "Gitexp-Project: sub\n"
    )
    result = message(project, commit_result(project, trial, RunOutcome("succeeded", 1.0), "h"))
    assert result.endswith('Gitexp-Metrics: {}\nGitexp-Tags: {"rung": 1}\nGitexp-Project: sub\n')
    cancel_trials(project, [trial], "stopped")
    cancelled = message(project, project.rev_parse(trial.ref.ref))
    assert cancelled.endswith(
        'Gitexp-Params: {"train.lr": 0.5, "seed": 8}\nGitexp-Tags: {"rung": 1}\nGitexp-Project: sub\n'
    )


def test_failure_details_read_what_commit_result_wrote():
    message = (
        "gitexp: s/t005 failed in 1.0s\n\npython exited with status 3\n\nLast lines of the log:\n\n"
        "    first\n    \n    last\n\nGitexp-Sweep: s\nGitexp-Status: failed\n"
    )
    assert failure_details(message) == ("python exited with status 3", ["first", "", "last"])
    assert failure_details("gitexp: s/t1 failed\n\ntimed out after 5 s\n\nGitexp-Sweep: s\n") == ("timed out after 5 s", [])


def test_brief_trials_are_the_trials_without_their_json_trailers(project):
    queue_sweep(project, QueueRequest(spec_from_flags(["train.lr=[0.5, 0.25]"]), "s"))
    cancel_trials(project, Ledger(project).trials(["s"])[:1], "stopped")

    full, brief = Ledger(project).trials(["s"]), Ledger(project).trials(["s"], brief=True)
    assert [(t.ref, t.tip, t.status) for t in brief] == [(t.ref, t.tip, t.status) for t in full]
    assert [t.status for t in brief] == ["cancelled", "queued"] and full[1].params == {"train.lr": 0.25}
    assert all(t.params == t.metrics == t.tags == t.data == {} for t in brief)
