"""A warm DVC: one process that imports DVC once and forks a child per ``dvc repro``.

Starting Python and importing DVC costs most of a second, paid again for every
trial by a plain ``dvc repro``. The server pays it once per parallel slot; each
request forks the already-loaded interpreter, so a trial pays only for DVC's
own work. DVC imports most of its modules lazily, so the first child reports
which modules a repro loaded and the server imports them too: from the second
trial on, nothing is imported at all. The server is single-threaded (so
forking is safe) and serves one request at a time over JSON lines on
stdin/stdout.

Protocol, one JSON object per line:
  request  {"cwd": str, "args": [str], "log": str, "env": {str: str}, "timeout": float | null}
  response {"code": int | null, "timed_out": bool}
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReproResult:
    code: int | None  # None when killed by the timeout
    timed_out: bool = False


class ReproServer:
    """The client side: a server process owned by one executor slot."""

    def __init__(self, env: Mapping[str, str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(env),
            text=True,
        )

    def repro(
        self, cwd: Path, args: Sequence[str], log: Path, env: Mapping[str, str], timeout: float | None
    ) -> ReproResult | None:
        """Run ``dvc <args>`` in ``cwd``; None when the server is gone (the caller falls back)."""
        request = {"cwd": str(cwd), "args": list(args), "log": str(log), "env": dict(env), "timeout": timeout}
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            return None
        if not line:
            return None
        reply = json.loads(line)
        return ReproResult(reply["code"], reply["timed_out"])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class WarmDvcPool:
    """One server per executor thread, started on first use and closed with the pool."""

    def __init__(self, env: Mapping[str, str]):
        self.env = dict(env)
        self.local = threading.local()
        self.servers: list[ReproServer] = []
        self.lock = threading.Lock()

    def repro(
        self, cwd: Path, args: Sequence[str], log: Path, env: Mapping[str, str], timeout: float | None
    ) -> ReproResult | None:
        server = getattr(self.local, "server", None)
        if server is None:
            server = self.local.server = ReproServer(self.env)
            with self.lock:
                self.servers.append(server)
        result = server.repro(cwd, args, log, env, timeout)
        if result is None:  # the server died: the next trial of this thread starts a new one
            self.local.server = None
        return result

    def close(self) -> None:
        for server in self.servers:
            server.close()

    def __enter__(self) -> "WarmDvcPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve() -> None:
    from dvc.cli import main as dvc_main  # the import this process exists to pay once

    with tempfile.TemporaryDirectory(prefix="gitexp-repro-") as scratch:
        modules_file = Path(scratch) / "modules"
        for line in sys.stdin:
            request = json.loads(line)
            learn = not modules_file.exists()
            reply = _fork_and_wait(dvc_main, request, modules_file if learn else None)
            if learn:
                _preload(modules_file)
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()


def _preload(modules_file: Path) -> None:
    """Import what a repro child imported, so the next children start warm."""
    try:
        names = modules_file.read_text().split()
    except OSError:
        names = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that will not import here is simply left lazy
            pass
    modules_file.touch()


def _fork_and_wait(dvc_main, request: dict, modules_file: Path | None) -> dict:
    pid = os.fork()
    if pid == 0:  # the child: become the trial's dvc process
        try:
            os.setsid()
            os.chdir(request["cwd"])
            os.environ.update(request["env"])
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            code = dvc_main(request["args"])
            sys.stdout.flush()
            sys.stderr.flush()
            if modules_file is not None:
                modules_file.write_text("\n".join(name for name in sys.modules if name != "__main__"))
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not return into the server loop
            code = 255
        os._exit(code or 0)
    deadline = None if request["timeout"] is None else time.monotonic() + request["timeout"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return {"code": os.waitstatus_to_exitcode(status), "timed_out": False}
        if deadline is not None and time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"code": None, "timed_out": True}
        time.sleep(0.01)


if __name__ == "__main__":
    _serve()
