#!/usr/bin/env python
"""Where does ``gitexp run``'s per-trial time go? Wall time per git subcommand and per pipeline run.

    .venv/bin/python benchmarks/profile_run.py PROJECT [run args...]   (e.g. -j 1)

Runs ``gitexp run`` in-process in PROJECT (a DVC project with queued trials) with
``Git.run_bytes`` and ``run_pipeline`` wrapped by timers, then prints a breakdown
per trial. Timers are wall clock, so with -j > 1 they overlap; use -j 1.
"""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path


def main() -> int:
    project = Path(sys.argv[1]).resolve()
    args = sys.argv[2:] or ["-j", "1"]
    import gitexp.execution.local as local
    import gitexp.store.git as gitmod
    from gitexp.cli.environment import Environment
    from gitexp.cli.main import main as cli_main

    spent: dict[str, float] = collections.defaultdict(float)
    calls: dict[str, int] = collections.Counter()
    original = gitmod.Git.run_bytes

    def timed_run_bytes(self, *a, **kw):
        started = time.perf_counter()
        try:
            return original(self, *a, **kw)
        finally:
            key = "git " + a[0]
            spent[key] += time.perf_counter() - started
            calls[key] += 1

    gitmod.Git.run_bytes = timed_run_bytes
    original_pipeline = local.run_pipeline

    def timed_pipeline(*a, **kw):
        started = time.perf_counter()
        try:
            return original_pipeline(*a, **kw)
        finally:
            spent["run_pipeline (dvc repro + metrics)"] += time.perf_counter() - started
            calls["run_pipeline (dvc repro + metrics)"] += 1

    local.run_pipeline = timed_pipeline
    started = time.perf_counter()
    code = cli_main(["run", *args], Environment(cwd=project))
    total = time.perf_counter() - started
    trials = calls["run_pipeline (dvc repro + metrics)"] or 1
    print(f"gitexp run {' '.join(args)}: exit {code}, {total:.2f}s wall, {trials} trials, {total / trials:.3f}s/trial")
    print(f"{'what':40} {'calls':>6} {'total s':>8} {'s/trial':>8}")
    for key, secs in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"{key:40} {calls[key]:6d} {secs:8.2f} {secs / trials:8.3f}")
    accounted = sum(spent.values())
    print(f"{'(python, not in the above)':40} {'':6} {total - accounted:8.2f} {(total - accounted) / trials:8.3f}")
    processes = sum(count for key, count in calls.items() if key.startswith("git "))
    print(f"git processes: {processes} in all, {processes / trials:.1f} per trial")
    return code


if __name__ == "__main__":
    sys.exit(main())
