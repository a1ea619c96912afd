"""The warm DVC server on its own: what it does once the gitexp that started it is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

# Starts a server, asks it for a repro at once (while it still imports DVC), then dies like kill -9.
ASK_AND_DIE = textwrap.dedent(
    """\
    import json, os, sys
    from gitexp.execution.repro_server import ReproServer
    server = ReproServer(os.environ)
    request = {"cwd": sys.argv[1], "args": ["repro"], "log": sys.argv[2], "env": {}, "timeout": None}
    server.proc.stdin.write(json.dumps(request) + "\\n")
    server.proc.stdin.flush()
    print(server.proc.pid, flush=True)
    os._exit(0)
    """
)


def test_a_server_whose_gitexp_died_runs_no_repro_it_was_asked_for(project, tmp_path):
    log = tmp_path / "trial.log"
    asker = subprocess.run(
        [sys.executable, "-c", ASK_AND_DIE, str(project.root), str(log)], capture_output=True, text=True, check=True
    )
    server = int(asker.stdout.split()[0])
    deadline = time.monotonic() + 60
    while os.path.exists(f"/proc/{server}") and _state(server) != "Z":
        assert time.monotonic() < deadline, "the orphaned server did not exit"
        time.sleep(0.05)
    assert not log.exists()  # the child that would have run the repro opens the log first
    assert not (project.root / ".dvc" / "tmp" / "rwlock").exists()


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_run_starts_no_more_warm_dvcs_than_trials_run(project, run_gitexp, monkeypatch):
    """``run -j 24`` of one trial started 24 DVC servers; now one per trial running, at most -j."""
    from gitexp.execution import repro_server
    from gitexp.store.records import Ledger

    started = []
    real_init = repro_server.ReproServer.__init__
    monkeypatch.setattr(repro_server.ReproServer, "__init__", lambda self, env: started.append(1) or real_init(self, env))
    assert run_gitexp(project.root, "queue", "--name", "one", "--set", "train.lr=0.1").code == 0

    began = time.monotonic()
    result = run_gitexp(project.root, "run", "-j", "24", "one")

    assert result.code == 0, result.err
    assert [trial.status for trial in Ledger(project).trials(["one"])] == ["succeeded"]
    assert len(started) == 1
    assert time.monotonic() - began < 30


def test_a_warm_dvc_resolves_a_project_as_this_process_would_and_says_why_dvc_refuses_one(project, tmp_path):
    from gitexp.errors import RepositoryError
    from gitexp.execution.repro_server import WarmDvcPool
    from gitexp.project.model import ProjectCache, load_project

    (project.root / "broken").mkdir()
    (project.root / "broken" / "dvc.yaml").write_text("stages:\n  train:\n    cmd: [1, 2\n")
    project.run("add", "broken")
    project.run("commit", "-qm", "a broken pipeline")
    here = load_project(project, "HEAD~1", "", ProjectCache(tmp_path / "here"))  # before: a folder's dvc.yaml is the root's too
    with pytest.raises(RepositoryError) as refused_here:
        load_project(project, "HEAD", "broken", ProjectCache(tmp_path / "here"))
    with WarmDvcPool(os.environ) as pool:
        asked = []
        resolver = lambda *args: asked.append(args) or pool.resolve(*args)  # noqa: E731
        there = load_project(project, "HEAD~1", "", ProjectCache(tmp_path / "there"), resolver)
        with pytest.raises(RepositoryError) as refused_there:
            load_project(project, "HEAD", "broken", ProjectCache(tmp_path / "there"), resolver)
    assert len(asked) == 2
    assert there == here and there.stages == ("train",)
    assert refused_there.value.message == refused_here.value.message
