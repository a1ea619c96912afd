#!/usr/bin/env python
"""Scale benchmarks (issue 17): 10,000 and 100,000 trials in one repository.

Run by hand, never part of the test suite:

    .venv/bin/python benchmarks/scale.py [--source DIR] [--scenarios queue,big,show,archive,poll] [--out FILE]

``--source`` is the gitexp source tree to measure (default: this one), put on
PYTHONPATH of every gitexp it starts, so one script measures before and after.

  queue    queue 10,000 trials: wall, .git growth (du), loose ref files, reflogs
  big      queue 100,000 trials
  show     10,000 finished trials: status, show --json, show table (in a pseudo-terminal:
           until its first screen is written; and in a pipe: all of it)
  archive  gitexp archive of the 10,000-trial sweep (its finished trials: run show before it, or none is archived)

Each of queue, big and archive also gives the CPU seconds (user + system of gitexp and its gits), which a
machine loaded by other work inflates far less than the wall.
  poll     a worker's poll against a remote with 10,000 finished trials (another sweep) and 10 queued
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the tiny project and the synthetic results)

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


def gitexp_env(source: Path) -> dict:
    return {**bench.ENV, "PYTHONPATH": str(source), "GITEXP_NETWORK_TIMEOUT": "600"}


def gitexp(env, *args, cwd):
    return bench.run([PY, "-m", "gitexp", *args], cwd=cwd, env=env)


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sB1", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def loose_refs(path: Path) -> int:
    return sum(1 for p in (path / ".git" / "refs").rglob("*") if p.is_file())


def reflogs(path: Path) -> int:
    logs = path / ".git" / "logs" / "refs"
    return sum(1 for p in logs.rglob("*") if p.is_file()) if logs.is_dir() else 0


def children_cpu() -> float:
    """User + system seconds of the finished processes this one started (and theirs): what a loaded machine does not inflate."""
    times = os.times()
    return times.children_user + times.children_system


def queue(env, path: Path, n: int, name: str) -> float:
    seconds, _ = gitexp(env, "queue", "--set", f"train.seed=range(100,{100 + n})", "--name", name, cwd=path)
    return seconds


def finish(env, path: Path, sweep: str) -> None:
    """Synthetic result commits on every trial of ``sweep``, moved by the measured tree's own ``LocalRefs``."""
    code = f"""
import json, sys
from pathlib import Path
from gitexp.store.git import FastImportCommit, Git, RefUpdate
from gitexp.store.records import Ledger, format_message, dumps_compact, T_SWEEP, T_TRIAL, T_STATUS, T_DURATION, T_HOST, T_PARAMS, T_METRICS
from gitexp.store.refstore import LocalRefs
git = Git(Path({str(path)!r}))
trials = Ledger(git).trials([{sweep!r}])
commits = []
for i, t in enumerate(trials):
    metrics = {{"score": round(0.5 + (i % 97) / 200, 6), "x": i % 1000}}
    trailers = {{T_SWEEP: t.sweep, T_TRIAL: t.name, T_STATUS: "succeeded", T_DURATION: "0.6", T_HOST: "local:bench",
                T_PARAMS: dumps_compact(t.params), T_METRICS: dumps_compact(metrics)}}
    message = format_message(f"gitexp: {{t.ref.key}} succeeded in 0.6s", trailers)
    commits.append(FastImportCommit(t.tip, message, {{"metrics.json": ("100644", (json.dumps(metrics) + "\\n").encode())}}))
oids = git.fast_import(commits, "refs/gitexp/tmp/bench")
assert LocalRefs(git).swap([RefUpdate(t.ref.ref, o, t.tip) for t, o in zip(trials, oids)], ["refs/gitexp/tmp/bench"], "bench")
"""
    bench.run([PY, "-c", code], env=env)


def first_screen(env, path: Path, *args: str) -> tuple[float, int]:
    """Seconds until a gitexp in a 50-line pseudo-terminal has written its first screen (or ended), and the lines it wrote."""
    master, slave = pty.openpty()
    started = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "gitexp", *args], cwd=path, env={**{k: v for k, v in env.items() if k != "CI"}, "LINES": "50", "COLUMNS": "200"},
                            stdout=slave, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.close(slave)
    data = b""
    while data.count(b"\n") < 45:
        ready, _, _ = select.select([master], [], [], 30)
        try:
            chunk = os.read(master, 65536) if ready else b""
        except OSError:
            chunk = b""
        if not chunk:
            break
        data += chunk
    elapsed = time.perf_counter() - started
    proc.kill()
    proc.wait()
    os.close(master)
    return elapsed, data.count(b"\n")


def best(values):
    return min(values)


def scenario_queue(env, projects, out):
    path = projects.copy("tiny", "queue10k")
    bench.run(["git", "gc", "-q"], cwd=path)
    before, cpu = du(path / ".git"), children_cpu()
    seconds = queue(env, path, 10_000, "ten")
    out["queue_10k_s"] = round(seconds, 2)
    out["queue_10k_cpu_s"] = round(children_cpu() - cpu, 2)
    out["git_growth_10k_mb"] = round((du(path / ".git") - before) / 1e6, 2)
    out["loose_refs_10k"] = loose_refs(path)
    out["reflogs_10k"] = reflogs(path)
    return path


def scenario_big(env, projects, out):
    path = projects.copy("tiny", "queue100k")
    cpu = children_cpu()
    out["queue_100k_s"] = round(queue(env, path, 100_000, "hundred"), 2)
    out["queue_100k_cpu_s"] = round(children_cpu() - cpu, 2)


def scenario_show(env, path, out):
    finish(env, path, "ten")
    out["loose_refs_10k_finished"] = loose_refs(path)
    out["status_10k_s"] = round(best([gitexp(env, "status", cwd=path)[0] for _ in range(3)]), 2)
    cpu = children_cpu()
    out["show_json_10k_first_s"] = round(gitexp(env, "show", "--json", cwd=path)[0], 2)  # the first after the results landed
    out["show_json_10k_first_cpu_s"] = round(children_cpu() - cpu, 2)
    out["show_json_10k_s"] = round(best([gitexp(env, "show", "--json", cwd=path)[0] for _ in range(3)]), 2)
    out["show_table_pipe_10k_s"] = round(gitexp(env, "show", cwd=path)[0], 2)
    screens = [first_screen(env, path, "show") for _ in range(3)]
    out["show_table_first_screen_10k_s"] = round(best(s for s, _ in screens), 2)
    sorted_screens = [first_screen(env, path, "show", "--sort-by", "score") for _ in range(3)]
    out["show_sorted_first_screen_10k_s"] = round(best(s for s, _ in sorted_screens), 2)


def scenario_archive(env, path, out):
    cpu = children_cpu()
    seconds, proc = gitexp(env, "archive", "ten", "--force", cwd=path)
    out["archive_10k_s"] = round(seconds, 2)
    out["archive_10k_cpu_s"] = round(children_cpu() - cpu, 2)
    out["archived_10k"] = int(proc.stdout.split()[1]) if proc.stdout.startswith("Archived") else 0  # none unless show finished them
    out["loose_refs_after_archive"] = loose_refs(path)


def scenario_poll(env, projects, out):
    """A bare remote holding a finished 10,000-trial sweep and a 10-trial queued one; one worker poll, timed."""
    path = projects.copy("tiny", "poll")
    queue(env, path, 10_000, "done")
    finish(env, path, "done")
    queue(env, path, 10, "todo")
    remote = path.parent / (path.name + ".git")
    bench.run(["git", "init", "-q", "--bare", str(remote)])
    bench.run(["git", "remote", "add", "origin", str(remote)], cwd=path)
    gitexp(env, "push", "origin", "done", "todo", cwd=path)
    worker = path.parent / (path.name + "-worker")
    bench.run(["git", "clone", "-q", str(remote), str(worker)])
    code = f"""
import time
from pathlib import Path
from gitexp.execution.claims import Claims, Runner
from gitexp.execution.worker import RemoteQueue, WorkerOptions
from gitexp.store.git import Git
from gitexp.store.remote import RemoteRefs, resolve_remote
git = Git(Path({str(worker)!r}))
remote = resolve_remote(git, "origin")
claims = Claims(git, RemoteRefs(git, remote), Runner(worker="bench", clone="bench"), 600, 30)
queue = RemoteQueue(git, remote, claims, WorkerOptions())
queue.refresh()
times = []
for _ in range(5):
    started = time.perf_counter(); queue.refresh(); times.append(time.perf_counter() - started)
print(min(times))
"""
    _, proc = bench.run([PY, "-c", code], env=env)
    out["worker_poll_10k_finished_s"] = round(float(proc.stdout.split()[-1]), 3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=REPO)
    parser.add_argument("--scenarios", default="queue,big,show,archive,poll")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results-scale.json")
    args = parser.parse_args()
    env = gitexp_env(args.source.resolve())
    wanted = args.scenarios.split(",")
    out: dict = {"source": str(args.source), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with tempfile.TemporaryDirectory(prefix="gitexp-scale-") as tmp:
        projects = bench.Projects(Path(tmp))
        path = None
        for name in wanted:
            started = time.perf_counter()
            if name == "queue":
                path = scenario_queue(env, projects, out)
            elif name == "big":
                scenario_big(env, projects, out)
            elif name == "show":
                scenario_show(env, path, out)
            elif name == "archive":
                scenario_archive(env, path, out)
            elif name == "poll":
                scenario_poll(env, projects, out)
            print(f"{name}: {time.perf_counter() - started:.1f}s {json.dumps(out)}", flush=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
