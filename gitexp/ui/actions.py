"""The run form's two requests: check a sweep as you type, and queue it (then run it here or push it).

Each goes through the calls the CLI makes (``build_spec``, ``preview_sweep``,
``queue_sweep``, ``push``, ``gitexp run`` as an argument list), so the page
refuses what the CLI refuses, with the CLI's message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitexp.errors import GitexpError, UsageError
from gitexp.planning.check import preview_sweep
from gitexp.planning.queue import QueueRequest, queue_sweep
from gitexp.sharing.remotes import with_actions_token
from gitexp.sharing.sync import push
from gitexp.store.git import Git
from gitexp.store.layout import gitexp_dir
from gitexp.sweep.build import build_spec
from gitexp.ui.data import safe

ACTIONS = ("queue", "run", "push")
PREVIEW_TRIALS = 20


def check(git: Git, project: str, form: dict[str, Any]) -> dict[str, Any]:
    """Each field's problem (the CLI's line, caret included) or None, then the whole sweep's, and its first trials."""
    rev = _text(form.get("rev") or "HEAD")
    fields = {key: _field_problem(git, project, rev, key, value) for key, value in _sets(form).items()}
    if any(fields.values()):
        return {"fields": fields, "error": None, "trials": []}
    try:
        preview = preview_sweep(_spec(form), git, project, rev=rev)
    except GitexpError as error:
        return {"fields": fields, "error": str(error), "trials": []}
    return safe({"fields": fields, "error": None, "trials": preview.trials[:PREVIEW_TRIALS], "warnings": preview.warnings})


def queue(git: Git, project: str, form: dict[str, Any], runs: BackgroundRuns) -> dict[str, Any]:
    """Queue the form's sweep on its base commit; ``action`` run also starts ``gitexp run -j N`` (one of
    ``runs``), push pushes it."""
    action = form.get("action", "queue")
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    jobs = _jobs(form.get("jobs", 1))
    name, message = _text(form.get("name") or "") or None, _text(form.get("message") or "") or None
    queued = queue_sweep(git, QueueRequest(_spec(form), name, _text(form.get("rev") or "HEAD"), project=project, message=message))
    name = queued.sweep.name
    found: dict[str, Any] = {"sweep": name, "branches": [trial.ref.branch for trial in queued.trials]}
    if action == "run":
        found["pid"] = runs.start(git, name, jobs).pid
    elif action == "push":
        remote = _text(form.get("remote") or "origin")
        report = push(with_actions_token(git, os.environ, remote), remote, [name])
        found["pushed"] = report.lines("Pushed to")
    return found


@dataclass
class BackgroundRun:
    """A ``gitexp run`` the page started: running until its process ends, then its exit status and,
    when it failed, the last line it wrote."""

    sweep: str
    pid: int
    log: Path
    exit_code: int | None = None
    last_line: str = ""

    def to_json(self) -> dict[str, Any]:
        state = "running" if self.exit_code is None else "finished" if self.exit_code == 0 else "failed"
        return {"sweep": self.sweep, "pid": self.pid, "state": state, "exit_code": self.exit_code, "line": self.last_line}


@dataclass
class BackgroundRuns:
    """The runs "Queue and run here" started, each waited for by a thread of its own (so none is left a
    zombie); ``on_end`` is called from that thread once a run's end is recorded."""

    on_end: Callable[[], None] = lambda: None
    runs: list[BackgroundRun] = field(default_factory=list)

    def start(self, git: Git, sweep: str, jobs: int) -> BackgroundRun:
        process, log = start_run(git, sweep, jobs)
        run = BackgroundRun(sweep, process.pid, log)
        self.runs.append(run)
        threading.Thread(target=self._wait, args=(process, run), name=f"wait-{process.pid}", daemon=True).start()
        return run

    def _wait(self, process: subprocess.Popen, run: BackgroundRun) -> None:
        code = process.wait()
        run.last_line = "" if code == 0 else last_line(run.log)
        run.exit_code = code  # last: a reader that sees the end sees its line too
        self.on_end()

    def to_json(self) -> list[dict[str, Any]]:
        return [run.to_json() for run in self.runs]


def start_run(git: Git, sweep: str, jobs: int) -> tuple[subprocess.Popen, Path]:
    """``gitexp run -j N SWEEP`` in the background (an argument list); its output goes beside the trials' logs."""
    log = gitexp_dir(git.common_dir()) / "logs" / f"ui-run-{sweep}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "gitexp", "run", "-j", str(jobs), sweep]
    with log.open("ab") as out:
        process = subprocess.Popen(argv, cwd=git.root, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return process, log


def last_line(path: Path, tail_bytes: int = 4096) -> str:
    """The last non-empty line of ``path`` ("" when there is none)."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - tail_bytes))
            lines = file.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def _field_problem(git: Git, project: str, rev: str, key: str, value: str) -> str | None:
    try:
        preview_sweep(build_spec([f"{key}={value}"]), git, project, rev=rev)
    except GitexpError as error:
        return str(error)
    return None


def _spec(form: dict[str, Any]):
    sets = [f"{key}={value}" for key, value in _sets(form).items()]
    strategy = _text(form.get("strategy") or "") or None
    num_trials = form.get("num_trials") or None
    if num_trials is not None and (not isinstance(num_trials, int) or isinstance(num_trials, bool)):
        raise UsageError("the number of trials must be a whole number")
    return build_spec(sets, strategy=strategy, num_trials=num_trials, seed=form.get("seed") if isinstance(form.get("seed"), int) else None)


def _sets(form: dict[str, Any]) -> dict[str, str]:
    sets = form.get("sets") or {}
    if not isinstance(sets, dict):
        raise UsageError("sets must map params keys to values")
    return {_text(key): _text(value) for key, value in sets.items()}


def _jobs(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError("the number of parallel trials (-j) must be a whole number of at least 1")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise UsageError("a form field must be text")
    return value
