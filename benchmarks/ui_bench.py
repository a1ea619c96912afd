"""gitexp ui against issue 16's figures (run by hand; writes benchmarks/results-ui.json):

- the table's data for 1,000 finished trials in at most 300 ms of server time, 10,000 in at most 3 s
  (``data.experiments``, what the server builds once per change, and the API's answer from it);
- the page's first paint with the table in headless Chromium: at most 1.5 s for 1,000 trials, 3 s for 10,000;
- a dvclive step written in a running trial's slot reaches the open page within 2 s.

    PYTHONPATH=. .venv/bin/python benchmarks/ui_bench.py [--sizes 1000,10000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench  # noqa: E402  (the project builders and synthetic results of the other scenarios)

from gitexp.store.git import Git  # noqa: E402
from gitexp.ui import data  # noqa: E402
from tests.ui.conftest import CHROMIUM, CHROMIUM_FLAGS, serve, stop  # noqa: E402

OUT = Path(__file__).resolve().parent / "results-ui.json"
LIVE_TRAIN = textwrap.dedent(
    """\
    import json, time
    for step in range(60):
        json.dump({"step": step, "written": time.time()}, open("metrics.json", "w"))
        time.sleep(0.5)
    """
)


def gitexp_wrapper(folder: Path) -> str:
    """bench.py runs ``GITEXP`` as a program: this one is the gitexp of this checkout."""
    path = folder / "gitexp"
    path.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})\n"
                    "from gitexp.cli.main import main\nraise SystemExit(main())\n")
    path.chmod(0o755)
    return str(path)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def table_figures(path: Path, size: int, browser) -> dict:
    git = Git(path, bench.ENV)
    view = data.View(git, "")
    built = [timed(lambda: data.experiments(view)) for _ in range(3)]
    rows = sum(1 for row in data.experiments(view)["rows"] if row["kind"] == "trial")
    assert rows == size, rows
    served = serve(path)
    try:
        answers = [timed(lambda: served.request("/api/experiments")) for _ in range(5)]
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        started = time.perf_counter()
        page.goto(served.url)
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        paint = time.perf_counter() - started
        page.close()
    finally:
        stop(served)
    return {"trials": size, "build_s": median(built), "api_s": median(answers[1:]), "first_paint_s": paint}


def live_figure(root: Path, browser) -> dict:
    path = root / "live"
    shutil.copytree(bench.Projects(root / "p").template("tiny"), path, symlinks=True)
    (path / "train.py").write_text(LIVE_TRAIN)
    bench.run(["git", "commit", "-qam", "a training that logs a step every 0.5 s"], cwd=path)
    bench.run([bench.GITEXP, "queue", "--set", "train.lr=[0.2]", "--name", "live"], cwd=path)
    served = serve(path)
    run = subprocess.Popen([bench.GITEXP, "run", "live"], cwd=path, env=bench.ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    delays = []
    try:
        page = browser.new_page()
        page.goto(served.url)
        page.wait_for_selector("body[data-ready='1']")
        seen = -1
        for _ in range(10):
            handle = page.wait_for_function(
                """above => { const c = document.querySelector("tr[data-id='live/t001'] td[data-column=step]");
                   const w = document.querySelector("tr[data-id='live/t001'] td[data-column='m:written']");
                   return c && w && c.textContent !== '' && Number(c.textContent) > above ? [Number(c.textContent), Date.now() / 1000] : null; }""",
                arg=seen, timeout=60_000, polling=20,
            )
            seen, at = handle.json_value()
            slot = next(entry for entry in (path / ".git/gitexp/worktrees").iterdir() if entry.is_dir())
            written = json.loads((slot / "metrics.json").read_text())
            if written["step"] == seen:  # the step the page shows is still the newest one written
                delays.append(at - written["written"])
    finally:
        run.terminate()
        run.wait(30)
        stop(served)
    return {"steps": len(delays), "median_s": median(delays), "max_s": max(delays)}


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="gitexp-ui-bench-"))
    bench.GITEXP = gitexp_wrapper(root)
    results: dict = {"tables": []}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            projects = bench.Projects(root)
            for size in map(int, options.sizes.split(",")):
                path = projects.copy("tiny", f"ui{size}")
                bench.make_finished_trials(path, "done", size)
                results["tables"].append(table_figures(path, size, browser))
                print(json.dumps(results["tables"][-1]), flush=True)
            results["live_step"] = live_figure(root, browser)
            print(json.dumps(results["live_step"]), flush=True)
            browser.close()
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
