"""The claim protocol against a remote whose push lands but whose answer never comes back.

A real fault through real git: the bare remote's ``post-receive`` hook blocks
the first push of one kind (a result's publish, a heartbeat) until the test
lets it go. The remote has updated its refs by then, but the client hears
nothing and is killed at the network timeout, as after a cut connection.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from gitexp.execution.local import RunOptions
from gitexp.execution.worker import Worker, WorkerOptions
from gitexp.store.git import ZERO_OID, Git
from gitexp.store.remote import resolve_remote

NETWORK_TIMEOUT = "3"  # seconds: the client gives up this long after the remote went silent

# post-receive gets "old new ref" lines: each landed push is logged (one JSON line), and the first matching one
# blocks (FIRED) until the test is done (RELEASE).
HOOK = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys, time
    ZERO = "0" * 40
    lines = [line.split() for line in sys.stdin]
    with open({log!r}, "a") as log:
        log.write(json.dumps(lines) + "\\n")
    def publish(old, new, ref):  # a trial branch moved from its queued tip to a result
        return ref.startswith("refs/heads/exp/") and old != ZERO and new != ZERO
    def heartbeat(old, new, ref):  # a claim replaced by a fresh one
        return ref.startswith("refs/gitexp/claims/") and old != ZERO and new != ZERO
    if any({kind}(*line) for line in lines):
        try:
            os.mkdir({fired!r})
        except FileExistsError:
            sys.exit(0)
        deadline = time.monotonic() + 60
        while not os.path.exists({release!r}) and time.monotonic() < deadline:
            time.sleep(0.05)
    """
)


def block_first(remote: Git, kind: str, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Make the remote's first ``kind`` push (``publish`` or ``heartbeat``) land and then hang; where it says it
    fired, the file that lets it go, and the log of every push that landed."""
    fired, release, log = tmp_path / "fired", tmp_path / "release", tmp_path / "pushes.log"
    hook = remote.root / "hooks" / "post-receive"
    hook.write_text(HOOK.format(python=sys.executable, kind=kind, fired=str(fired), release=str(release), log=str(log)))
    hook.chmod(0o755)
    return fired, release, log


def pushes_of(log: Path, ref: str) -> list[tuple[str, str]]:
    """``(old, new)`` of ``ref`` in each push that landed, in order."""
    pushes = [json.loads(line) for line in log.read_text().splitlines()]
    return [(old, new) for push in pushes for old, new, name in push if name == ref]


@pytest.mark.parametrize("kind", ["publish", "heartbeat"])
def test_a_push_that_lands_but_times_out_leaves_no_claim_and_the_worker_goes_on(
    kit, logging_project, runs_log, tmp_path, monkeypatch, kind
):
    """The publish of t001 (which takes t002's claim in the same push) or a heartbeat of t001's claim lands and
    then hangs: the worker finds out what landed, and acts on it, instead of leaving a claim until it goes stale."""
    kit.queue(logging_project, "s", "train.lr=[0.01, 0.02]", "train.sleep=1")
    remote = kit.make_remote(logging_project, tmp_path / "remote.git")
    fired, release, log = block_first(remote, kind, tmp_path)
    monkeypatch.setenv("GITEXP_NETWORK_TIMEOUT", NETWORK_TIMEOUT)
    here = kit.clone(remote.root, tmp_path / "here")
    heartbeat = 0.3 if kind == "heartbeat" else 30  # a publish: no beats, so each claim is pushed twice, made and dropped
    worker = Worker(here, resolve_remote(here, "origin"), WorkerOptions(RunOptions(jobs=1), heartbeat=heartbeat, poll=0.2))
    worker.connect()
    try:
        summary = worker.run()
    finally:
        release.touch()

    assert fired.is_dir()  # the fault happened: a push landed, and its client timed out
    assert sorted(trial.ref.key for trial, _ in summary.finished) == ["s/t001", "s/t002"] and summary.skipped == []
    assert kit.runs(runs_log) == {"s/t001": 1, "s/t002": 1}
    assert kit.result_counts(remote) == {"refs/heads/exp/s/t001": 1, "refs/heads/exp/s/t002": 1}
    assert remote.run("for-each-ref", "refs/gitexp/claims/") == ""  # no claim left behind
    for trial, outcome in summary.finished:
        assert outcome.status == "succeeded"
        assert remote.run("log", "-1", "--format=%(trailers:key=Gitexp-Status,valueonly)", trial.ref.ref).strip() == "succeeded"
    if kind == "publish":  # t002 ran under the claim that t001's result push took, not under one taken over after it
        claim = pushes_of(log, "refs/gitexp/claims/s/t002")
        assert claim == [(ZERO_OID, claim[0][1]), (claim[0][1], ZERO_OID)]
