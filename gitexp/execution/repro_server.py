"""A warm DVC: one process that imports DVC once and forks a child per ``dvc repro``.

Starting Python and importing DVC costs most of a second, paid again for every
trial by a plain ``dvc repro``. The server pays it once per parallel slot, while
the executor prepares its first trials; each request forks the already-loaded
interpreter, so a trial pays only for DVC's own work (``restore.run_dvc``: the
trial's data checked out of the cache, then the command). DVC imports most of its
modules lazily: the server imports the ones every repro needs and builds DVC's
argument parser up front, and the first child that succeeds reports the rest,
which the server imports after replying, so that from then on nothing is
imported at all. The server is single-threaded (so forking is safe) and serves
one request at a time over JSON lines on stdin/stdout.

The server is DVC's own process, so it imports DVC itself (the one exception,
with ``restore``, to DVC being started only by ``project.dvc``).

Protocol, one JSON object per line:
  request  {"cwd": str, "args": [str], "log": str, "env": {str: str}, "timeout": float | null, "restore": bool,
            "cgroup": str | null}
  response {"code": int | null, "timed_out": bool, "lingering": bool, "session": int}
or, to resolve a project as ``project.model.load_project`` does (so that the executor need not import DVC too):
  request  {"resolve": {"root": str, "rev": str, "files": ProjectFiles as JSON}, "out": str}
  response {"code": int}, with the project's JSON (or {"error": its one line}) written to "out"

The child enters the request's cgroup (``processes``) before anything else.
"""

from __future__ import annotations

import contextlib
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
from typing import IO

from gitexp.execution.processes import enter_cgroup
from gitexp.execution.restore import run_dvc
from gitexp.project.model import ProjectFiles

# Imported before the first request: the biggest of what every ``dvc repro`` loads (one that
# is missing or renamed in some DVC version is simply left to the children).
REPRO_MODULES = (
    "dvc.repo",
    "dvc.repo.checkout",
    "dvc.repo.reproduce",
    "dvc.repo.index",
    "dvc.repo.graph",
    "dvc.repo.stage",
    "dvc.stage",
    "dvc.stage.cache",
    "dvc.output",
    "dvc.dependency",
    "dvc.scm",
    "dvc.rwlock",
    "dvc.lock",
    "dvc.utils.strictyaml",
    "networkx",
    "scmrepo.git",
    "ruamel.yaml",
)


@dataclass(frozen=True)
class ReproResult:
    code: int | None  # None when killed by the timeout
    timed_out: bool = False
    lingering: bool = False  # processes of the run's process group outlived it
    session: int | None = None  # the session the run was started in (its first process's pid)


class ReproServer:
    """The client side: a server process owned by one executor slot."""

    def __init__(self, env: Mapping[str, str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(env),
            text=True,
        )

    def repro(
        self,
        cwd: Path,
        args: Sequence[str],
        log: Path,
        env: Mapping[str, str],
        timeout: float | None,
        restore: bool,
        cgroup: str | None = None,
    ) -> ReproResult | None:
        """Run ``dvc <args>`` in ``cwd`` (data restored first with ``restore``), in ``cgroup`` when given.

        None when the server is gone (the caller falls back).
        """
        request = {
            "cwd": str(cwd), "args": list(args), "log": str(log), "env": dict(env), "timeout": timeout,
            "restore": restore, "cgroup": cgroup,
        }
        reply = self._ask(request)
        if reply is None:
            return None
        return ReproResult(reply["code"], reply["timed_out"], reply["lingering"], reply["session"])

    def resolve(self, root: Path, rev: str, files: ProjectFiles) -> dict | None:
        """The project ``files`` of ``rev`` make, as DVC resolves it (``Project`` JSON, or ``{"error": line}``);
        None when the server could not say (the caller resolves it itself)."""
        with tempfile.TemporaryDirectory(prefix="gitexp-project-") as folder:
            out = Path(folder, "project.json")
            request = {"resolve": {"root": str(root), "rev": rev, "files": files.to_json()}, "out": str(out)}
            reply = self._ask(request)
            if reply is None or reply.get("code") != 0 or not out.is_file():
                return None
            return json.loads(out.read_text())

    def _ask(self, request: dict) -> dict | None:
        """Send ``request``, wait for its reply; None when the server is gone."""
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            return None
        return json.loads(line) if line else None

    def close(self) -> None:
        """Stop the server, idle by now, without waiting for one that is still loading DVC (it keeps no state)."""
        self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


class WarmDvcPool:
    """One server per executor thread, closed with the pool.

    ``size`` servers start at once and ``warm`` starts more as trials begin, so
    that DVC loads while the executor prepares them; a thread takes one on first
    use. No more start than trials run (``-j 24`` with one trial starts one).
    """

    def __init__(self, env: Mapping[str, str], size: int = 1):
        self.env = dict(env)
        self.local = threading.local()
        self.servers: list[ReproServer] = []
        self.idle = [self._start() for _ in range(size)]
        self.lock = threading.Lock()

    def repro(
        self,
        cwd: Path,
        args: Sequence[str],
        log: Path,
        env: Mapping[str, str],
        timeout: float | None,
        restore: bool,
        cgroup: str | None = None,
    ) -> ReproResult | None:
        server = self._own()
        result = server.repro(cwd, args, log, env, timeout, restore, cgroup)
        if result is None:  # the server died: the next trial of this thread starts a new one
            self.local.server = None
        return result

    def resolve(self, root: Path, rev: str, files: ProjectFiles) -> dict | None:
        """``ReproServer.resolve`` in this thread's server (which then runs the trial, loaded already)."""
        server = self._own()
        found = server.resolve(root, rev, files)
        if found is None and server.proc.poll() is not None:
            self.local.server = None
        return found

    def _own(self) -> ReproServer:
        """This thread's server: an idle one on first use, else a new one."""
        server = getattr(self.local, "server", None)
        if server is None:
            with self.lock:
                server = self.local.server = self.idle.pop() if self.idle else self._start()
        return server

    def warm(self, running: int) -> None:
        """Start servers until there are as many as ``running`` trials (taken or idle)."""
        with self.lock:
            self.idle += [self._start() for _ in range(running - len(self.servers))]

    def _start(self) -> ReproServer:
        server = ReproServer(self.env)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            server.close()

    def __enter__(self) -> "WarmDvcPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve(client: int) -> None:
    # Ctrl-C is for gitexp: running trials finish, as they do as plain dvc processes in sessions of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import dvc.cli  # noqa: F401 - the import this process exists to pay once

    import_modules(REPRO_MODULES)
    with contextlib.suppress(Exception):
        from dvc.cli.parser import get_main_parser

        get_main_parser()  # DVC caches it: children parse their arguments with this one instead of building it
    modules = tempfile.TemporaryFile("w+")  # nameless: a killed server leaves nothing behind
    for line in sys.stdin:
        if os.getppid() != client:  # gitexp was killed after asking: nobody would publish this trial's result
            break
        request = json.loads(line)
        reply = _resolve_in_child(request) if "resolve" in request else _fork_and_wait(request, modules)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if modules is not None:  # after replying: the trial need not wait for it
            modules.seek(0)
            if names := modules.read().split():
                import_modules(names)
                modules = None


def import_modules(names) -> None:
    """Import ``names`` here, so that the children start with them loaded."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that will not import here is simply left lazy
            pass


def _resolve_in_child(request: dict) -> dict:
    """Resolve the request's project in a forked child, which writes the answer to ``request["out"]``."""
    pid = os.fork()
    if pid == 0:
        code = 255
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)  # the server's replies go there: nothing of DVC's may
            from gitexp.errors import GitexpError
            from gitexp.project.dvc import resolve_project

            asked = request["resolve"]
            files = ProjectFiles.from_json(asked["files"])
            try:
                answer = resolve_project(Path(asked["root"]), asked["rev"], files).to_json()
            except GitexpError as error:
                answer = {"error": error.message}
            Path(request["out"]).write_text(json.dumps(answer))
            code = 0
        except BaseException:  # noqa: BLE001 - as in _fork_and_wait: never return into the server loop
            pass
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return {"code": os.waitstatus_to_exitcode(status)}


def _fork_and_wait(request: dict, modules: IO[str] | None) -> dict:
    """Run the request in a forked child; a child that succeeds lists what it imported in ``modules``."""
    pid = os.fork()
    if pid == 0:  # the child: become the trial's dvc process
        try:
            enter_cgroup(request["cgroup"])  # first: whatever the child starts is born inside
            os.setsid()
            signal.signal(signal.SIGINT, signal.default_int_handler)  # not passed on ignored to the stage
            os.chdir(request["cwd"])
            os.environ.update(request["env"])
            log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            code = run_dvc(request["args"], request["restore"])
            sys.stdout.flush()
            sys.stderr.flush()
            if modules is not None and code == 0:  # a failed repro may have stopped before loading much
                modules.write("\n".join(name for name in sys.modules if name != "__main__"))
                modules.flush()
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not return into the server loop
            code = 255
        os._exit(code or 0)
    deadline = None if request["timeout"] is None else time.monotonic() + request["timeout"]
    while True:
        done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)  # without a timeout: just wait
        if done:
            return {"code": os.waitstatus_to_exitcode(status), "timed_out": False, "lingering": group_alive(pid), "session": pid}
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"code": None, "timed_out": True, "lingering": group_alive(pid), "session": pid}
        time.sleep(0.01)


def group_alive(pgid: int) -> bool:
    """Whether a process of the process group ``pgid`` still exists (one its leader left behind)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


if __name__ == "__main__":
    _serve(client=int(sys.argv[1]))
    os._exit(0)  # an orphaned server skips tearing down its thousand modules, as the children do
