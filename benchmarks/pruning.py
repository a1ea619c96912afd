"""The pruning loop's cost (issue 14): reading a running trial's new dvclive steps and asking the pruner.

Run by hand: ``.venv/bin/python benchmarks/pruning.py [--finished 200] [--steps 100] [--running 4] [--out FILE]``.

A real Git repository holds ``--finished`` result commits, each with a dvclive
step file of ``--steps`` rows; the study is rebuilt from them once (timed
apart), then ``--running`` trials grow their step files one row at a time, and
each new row is read (only the bytes added) and reported to the pruner, which is
asked at once. The target: at most 5 ms per step per running trial, for each of
Optuna's pruners. Writes the figures to ``benchmarks/results-pruning.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gitexp.execution.pruning import StepFile, SweepPruner, add_results
from gitexp.store.git import FastImportCommit, Git
from gitexp.store.naming import TrialRef
from gitexp.store.records import SUCCEEDED, Trial
from gitexp.sweep.pruner import parse_pruner

STEP_FILE = "dvclive/plots/metrics/train/loss.tsv"
PRUNERS = {
    "median": {"name": "median", "min_step": 5},
    "percentile": {"name": "percentile", "percentile": 25.0, "min_step": 5},
    "successive_halving": {"name": "successive_halving"},
    "hyperband": {"name": "hyperband", "max_resource": 100},
    "threshold": {"name": "threshold", "upper": 10.0},
    "patient": {"name": "patient", "patience": 3, "wrapped": "median"},
}
TARGET_MS = 5.0


def curve(rng: random.Random, steps: int) -> str:
    rate = rng.uniform(0.005, 0.3)
    rows = [f"{step}\t{(1 - rate) ** (step + 1):.6g}" for step in range(steps)]
    return "step\tloss\n" + "\n".join(rows) + "\n"


def finished_trials(git: Git, count: int, steps: int) -> list[Trial]:
    """``count`` result commits on an empty history, each holding one step file (one fast-import pack)."""
    rng = random.Random(0)
    commits = [FastImportCommit(None, f"result {index}\n", {STEP_FILE: ("100644", curve(rng, steps).encode())}) for index in range(count)]
    oids = git.fast_import(commits, "refs/bench/scratch")
    return [Trial(TrialRef("exp/", "b", f"t{index:04d}"), oid, SUCCEEDED, {}) for index, oid in enumerate(oids)]


def measure(name: str, git: Git, trials: list[Trial], steps: int, running: int, folder: Path) -> dict:
    pruner = SweepPruner(parse_pruner(PRUNERS[name]), "train.loss", "minimize", STEP_FILE)
    started = time.perf_counter()
    add_results(git, pruner, trials)
    rebuild = time.perf_counter() - started
    rng = random.Random(1)
    files = []
    for index in range(running):
        path = folder / name / f"r{index}" / "loss.tsv"
        path.parent.mkdir(parents=True)
        path.write_text("step\tloss\n")
        files.append((f"b/r{index}", path, StepFile(path, "train/loss"), rng.uniform(0.005, 0.3)))
        pruner.start(f"b/r{index}")
    costs, pruned = [], set()
    for step in range(steps):
        for key, path, steps_file, rate in files:
            if key in pruned:
                continue
            with path.open("a") as file:  # dvclive's write: not timed
                file.write(f"{step}\t{(1 - rate) ** (step + 1):.6g}\n")
            began = time.perf_counter()
            if pruner.report(key, steps_file.read()):
                pruned.add(key)
            costs.append(time.perf_counter() - began)
    per_step_ms = [cost * 1000 for cost in costs]
    return {
        "pruner": name,
        "rebuild_s": round(rebuild, 3),
        "steps_asked": len(costs),
        "pruned_running": len(pruned),
        "ms_per_step_mean": round(statistics.fmean(per_step_ms), 3),
        "ms_per_step_p99": round(sorted(per_step_ms)[int(0.99 * (len(per_step_ms) - 1))], 3),
        "ms_per_step_max": round(max(per_step_ms), 3),
        "within_target": statistics.fmean(per_step_ms) <= TARGET_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finished", type=int, default=200)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--running", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results-pruning.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "repo"
        root.mkdir()
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        git = Git(root)
        trials = finished_trials(git, args.finished, args.steps)
        results = [measure(name, git, trials, args.steps, args.running, Path(scratch)) for name in PRUNERS]
    report = {"finished": args.finished, "steps": args.steps, "running": args.running, "target_ms": TARGET_MS, "results": results}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for result in results:
        print(
            f"{result['pruner']:>18}: rebuild {result['rebuild_s']:.2f} s, {result['ms_per_step_mean']:.2f} ms per step "
            f"(p99 {result['ms_per_step_p99']:.2f}, max {result['ms_per_step_max']:.2f}){'' if result['within_target'] else '  OVER TARGET'}"
        )
    sys.exit(0 if all(result["within_target"] for result in results) else 1)


if __name__ == "__main__":
    main()
