"""``gitexp ui`` served from a real project (the real CLI in a subprocess), and headless Chromium to look at it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 20_000  # ms: 2-core CI machines shared by parallel workers


@dataclass
class Served:
    url: str  # with the token
    base: str  # http://127.0.0.1:PORT
    token: str
    process: subprocess.Popen

    def request(self, path: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None,
                token: bool = True) -> tuple[int, bytes]:
        """``path`` as a client sends it (the cookie when ``token``); (status, body), a refusal included."""
        sent = {"Cookie": f"gitexp_ui_token={self.token}"} if token else {}
        sent.update(headers or {})
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def serve(root: Path, *argv: str) -> Served:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "gitexp", "ui", "--port", "0", *argv], cwd=root, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise AssertionError(f"gitexp ui did not start: {line}{process.stderr.read()}")
    url = line.split(" at ", 1)[1].strip()
    parts = urlsplit(url)
    return Served(url, f"{parts.scheme}://{parts.netloc}", parts.query.removeprefix("token="), process)


def stop(served: Served) -> None:
    served.process.terminate()
    try:
        served.process.wait(10)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()


@contextlib.contextmanager
def serving(root: Path, *argv: str):
    served = serve(root, *argv)
    try:
        yield served
    finally:
        stop(served)


@pytest.fixture
def ui_server():
    """``ui_server(project_root, *extra_argv) -> Served``; every server started is stopped after the test."""
    started: list[Served] = []

    def start(root: Path, *argv: str) -> Served:
        started.append(serve(root, *argv))
        return started[-1]

    yield start
    for served in started:
        stop(served)


def screenshot(page, name: str) -> Path:
    """Save the whole page as ``ui-<name>.png``, a name that stays the same from run to run (the issue's closing
    note lists them), under $GITEXP_ARTIFACTS when set (as CI uploads it), else under the temporary folder's
    ``gitexp-ui-screenshots``."""
    folder = Path(os.environ.get("GITEXP_ARTIFACTS") or Path(tempfile.gettempdir(), "gitexp-ui-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ui-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def system_chromium():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: make test installs it (scripts/install-browser.sh)")
        pytest.skip("chromium is missing: run make browser")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(system_chromium, tmp_path, request):
    """``open_page(served) -> page`` with the table drawn; each page's last state is saved as a screenshot,
    ``<test>-<n>.png`` under tmp_path/screenshots (and under $GITEXP_ARTIFACTS when set, as CI uploads it)."""
    contexts = []

    def opened(served: Served):
        context = system_chromium.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(TIMEOUT)
        contexts.append(context)
        page = context.new_page()
        page.goto(served.url)
        page.wait_for_selector("body[data-ready='1']")
        return page

    yield opened
    save_screenshots([page for context in contexts for page in context.pages], tmp_path, request.node.name)
    for context in contexts:
        context.close()


@pytest.fixture
def open_file(system_chromium, tmp_path, request):
    """``open_file(path, fragment="") -> page``: a page the HTML report wrote, opened by file:// with the table drawn;
    ``page.refused`` lists every request not for a file (all refused), ``page.errors`` the console's errors;
    screenshots kept as open_page keeps them."""
    contexts = []

    def opened(path: Path, fragment: str = ""):
        context = system_chromium.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(TIMEOUT)
        contexts.append(context)
        refused, errors = [], []
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else (refused.append(route.request.url), route.abort()))
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.as_uri() + fragment)
        page.wait_for_selector("body[data-ready='1']")
        page.refused, page.errors = refused, errors
        return page

    yield opened
    save_screenshots([page for context in contexts for page in context.pages], tmp_path, request.node.name)
    for context in contexts:
        context.close()


def save_screenshots(pages, tmp_path: Path, name: str) -> None:
    """``<name>-<n>.png`` of each page under tmp_path/screenshots, and under $GITEXP_ARTIFACTS when set (CI uploads it)."""
    folders = [tmp_path / "screenshots", *([Path(os.environ["GITEXP_ARTIFACTS"])] if os.environ.get("GITEXP_ARTIFACTS") else [])]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        for number, page in enumerate(pages):
            page.screenshot(path=str(folder / f"{name}-{number}.png"))
