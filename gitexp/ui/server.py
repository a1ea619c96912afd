"""``gitexp ui``: a Starlette app on uvicorn serving the experiments page, its JSON API and live updates.

Everything the API answers comes from ``gitexp.ui.data`` (the library ``show``,
``report`` and ``check`` use) and everything it writes goes through the calls
``queue``, ``run`` and ``push`` make. A watcher polls what a change touches (the
refs, the trial locks, the slots' metrics files) twice a second; on a change it
rebuilds the table once and tells every open page over server-sent events.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gitexp.errors import GitexpError, UsageError
from gitexp.store.git import Git
from gitexp.store.layout import gitexp_dir
from gitexp.ui import actions, data, plots
from gitexp.ui.security import WILDCARDS, Guard

STATIC = Path(__file__).parent / "static"
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8080
    rev: str = "HEAD"
    count: int = 10


@dataclass
class State:
    """The table as last built, its version, and the fingerprint of what it was built from."""

    view: data.View
    runs: actions.BackgroundRuns = field(default_factory=actions.BackgroundRuns)
    version: int = 0
    body: bytes = b""
    fingerprint: str = ""
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    stopping: Callable[[], bool] = lambda: False  # the server is shutting down: open event streams end

    def rebuild(self) -> None:
        table = data.experiments(self.view)
        table["runs"] = self.runs.to_json()
        table["version"] = self.version + 1
        self.body = json.dumps(table, ensure_ascii=False, allow_nan=False).encode()
        self.version += 1

    def current_fingerprint(self) -> str:
        """What a ref change or a new dvclive step changes: every ref's target, lock and metrics files' mtimes."""
        git = self.view.git
        digest = hashlib.sha256()
        for record in git.refs("refs/heads", "refs/gitexp"):
            digest.update(f"{record.name} {record.oid}\n".encode())
        locks = gitexp_dir(git.common_dir()) / "locks"
        files = [*locks.rglob("*"), *data.watched_files(git, self.view.project)] if locks.is_dir() else []
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            digest.update(f"{path} {stat.st_mtime_ns} {stat.st_size}\n".encode())
        return digest.hexdigest()


def create_app(git: Git, project: str, options: Options, token: str | None = None) -> Guard:
    state = State(data.View(git, project, options.rev, options.count))

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def experiments(request: Request) -> Response:
        if not state.body:
            await asyncio.to_thread(state.rebuild)
        return Response(state.body, media_type="application/json", headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> Response:
        async def stream():
            seen, idle = -1, 0.0
            while not state.stopping() and not await request.is_disconnected():
                async with state.changed:
                    if seen == state.version:
                        try:
                            await asyncio.wait_for(state.changed.wait(), POLL_SECONDS)
                        except asyncio.TimeoutError:
                            idle += POLL_SECONDS
                    if seen == state.version:
                        if idle >= KEEPALIVE_SECONDS:
                            idle = 0.0
                            yield ": keepalive\n\n"
                        continue
                    seen = state.version
                yield f"event: update\ndata: {seen}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    async def trial(request: Request) -> Response:
        name = request.query_params.get("id", "")
        return await answer(lambda: data.trial_detail(git, name))

    async def params(request: Request) -> Response:
        rev = request.query_params.get("rev", "HEAD")
        return await answer(lambda: data.commit_params(git, rev, project))

    async def trial_plots(request: Request) -> Response:
        ids = [name for name in request.query_params.get("ids", "").split(",") if name]
        return await answer(lambda: plots.trial_plots(git, project, ids))

    async def sweep_plots(request: Request) -> Response:
        sweep = request.query_params.get("sweep", "")
        return await answer(lambda: plots.sweep_plots(git, sweep))

    async def check(request: Request) -> Response:
        body = await request.json()
        return await answer(lambda: actions.check(git, project, body))

    async def queue(request: Request) -> Response:
        body = await request.json()
        found = await answer(lambda: actions.queue(git, project, body, state.runs))
        await refresh(state)
        return found

    async def watch() -> None:
        while True:
            try:
                fingerprint = await asyncio.to_thread(state.current_fingerprint)
                if fingerprint != state.fingerprint:
                    state.fingerprint = fingerprint
                    await refresh(state)
            except GitexpError:
                pass  # a ref being rewritten mid-read: the next poll sees it settled
            await asyncio.sleep(POLL_SECONDS)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        loop = asyncio.get_running_loop()
        state.runs.on_end = lambda: refresh_soon(state, loop)
        task = asyncio.create_task(watch())
        yield
        task.cancel()

    routes = [
        Route("/", index),
        Route("/api/experiments", experiments),
        Route("/api/events", events),
        Route("/api/trial", trial),
        Route("/api/params", params),
        Route("/api/plots", trial_plots),
        Route("/api/sweep-plots", sweep_plots),
        Route("/api/check", check, methods=["POST"]),
        Route("/api/queue", queue, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ui = state
    guard = Guard(app, options.host, options.port)
    if token:
        guard.token = token
    return guard


async def refresh(state: State) -> None:
    await asyncio.to_thread(state.rebuild)
    async with state.changed:
        state.changed.notify_all()


def refresh_soon(state: State, loop: asyncio.AbstractEventLoop) -> None:
    """``refresh`` from another thread (a background run's waiter), unless the server has stopped meanwhile."""
    with contextlib.suppress(RuntimeError):
        asyncio.run_coroutine_threadsafe(refresh(state), loop)


async def answer(work) -> Response:
    """``work()``'s result as JSON; a refusal as the CLI's one line with status 400."""
    try:
        return JSONResponse(await asyncio.to_thread(work))
    except GitexpError as error:
        return JSONResponse({"error": str(error)}, status_code=400)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else so a busy port or a foreign address is one clear line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UsageError(f"--host {host} cannot be bound ({error.strerror}): give an address of this machine, such as 127.0.0.1")
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is in use: pick another with --port, e.g. --port {port + 1}")
        raise UsageError(f"--host {host} cannot be bound ({error.strerror}): give an address of this machine, such as 127.0.0.1")
    sock.listen(128)
    return sock


def url(guard: Guard, sock: socket.socket) -> str:
    host = socket.gethostname() if guard.host in WILDCARDS else guard.host
    host = host if ":" not in host else f"[{host}]"
    return f"http://{host}:{sock.getsockname()[1]}/?token={guard.token}"


def serve(guard: Guard, sock: socket.socket) -> None:
    """Serve until Ctrl-C (uvicorn's own signal handling)."""
    config = uvicorn.Config(guard, log_level="warning", timeout_graceful_shutdown=1, lifespan="on")
    server = uvicorn.Server(config)
    guard.app.state.ui.stopping = lambda: server.should_exit
    server.run(sockets=[sock])


def page_data(git: Git, project: str, options: Options) -> dict[str, Any]:
    """The table as the page gets it (benchmarks time this)."""
    return data.experiments(data.View(git, project, options.rev, options.count))
