#!/usr/bin/env python
"""Two gitexp trees measured back to back on the scale scenarios (issue 17's speed table), wall and CPU seconds.

Run by hand, never part of the test suite:

    .venv/bin/python benchmarks/scale_pair.py --before DIR --after DIR [--rounds 3] [--out FILE]

Each round builds, for each tree in turn (before, then after), a fresh copy of the tiny project, queues
10,000 trials, finishes them with synthetic result commits (``scale.finish``), then times ``status``,
``show --json`` and ``archive``. On a machine shared with other jobs wall times move with the load; the
CPU seconds (the command and its children: git) move less. Medians over rounds go to
``benchmarks/results-scale-pair.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import scale  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def timed(env, path: Path, *args: str) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of gitexp and every process it started) of one gitexp command."""
    before = os.times()
    wall, _ = scale.gitexp(env, *args, cwd=path)
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def one_round(env, projects, tag: str) -> dict[str, tuple[float, float]]:
    path = projects.copy("tiny", tag)
    found = {"queue_10k": timed(env, path, "queue", "--set", "train.seed=range(100,10100)", "--name", "ten")}
    scale.finish(env, path, "ten")
    found["status_10k"] = timed(env, path, "status")
    found["show_json_10k"] = timed(env, path, "show", "--json")
    found["archive_10k"] = timed(env, path, "archive", "ten", "--force")
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=REPO)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results-scale-pair.json")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    loads = []
    with tempfile.TemporaryDirectory(prefix="gitexp-scale-pair-") as tmp:
        projects = bench.Projects(Path(tmp))
        for index in range(args.rounds):
            for name, tree in trees.items():
                loads.append(os.getloadavg()[0])
                runs[name].append(one_round(scale.gitexp_env(tree), projects, f"{name}{index}"))
                print(name, index, json.dumps(runs[name][-1]), flush=True)
    medians = {
        name: {f"{key}_{kind}": round(statistics.median(run[key][i] for run in found), 2)
               for key in found[0] for i, kind in enumerate(("s", "cpu_s"))}
        for name, found in runs.items()
    }  # fmt: skip
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "trees": {k: str(v) for k, v in trees.items()},
           "load_average": [min(loads), max(loads)], "medians": medians, "runs": runs}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(medians, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
