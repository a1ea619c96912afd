#!/usr/bin/env python
"""Start-up of two gitexp trees on one 10,000-finished-trial project: ``status``, ``status --json``, ``--help``.

Run by hand, never part of the test suite:

    .venv/bin/python benchmarks/startup_pair.py --before DIR --after DIR [--rounds 9] [--out FILE]

One project is built (queue 10,000 trials, finish them with ``scale.finish``), then the trees take turns on
each command: wall and CPU seconds (gitexp and its git children), and ``-X importtime``'s summed self-times
and module count. Both trees need their ``__pycache__`` (``python -m compileall DIR/gitexp``), or the tree
without it pays for compiling. Medians (imports: minima, which the machine's load inflates least) go to
``benchmarks/results-startup-pair.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import scale  # noqa: E402
import scale_pair  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
COMMANDS = (("status",), ("status", "--json"), ("--help",))


def imports(env, path: Path, *args: str) -> tuple[float, int]:
    """Summed self-times (seconds) and number of the modules ``gitexp ARGS`` imports."""
    proc = subprocess.run([scale.PY, "-X", "importtime", "-m", "gitexp", *args], cwd=path, env=env, capture_output=True, text=True)
    selfs = [int(found) for found in re.findall(r"^import time:\s+(\d+) \|", proc.stderr, re.M)]
    return sum(selfs) / 1e6, len(selfs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=REPO)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results-startup-pair.json")
    args = parser.parse_args()
    envs = {name: scale.gitexp_env(tree.resolve()) for name, tree in (("before", args.before), ("after", args.after))}
    found: dict[str, dict[str, list]] = {name: {} for name in envs}
    loads = []
    with tempfile.TemporaryDirectory(prefix="gitexp-startup-pair-") as tmp:
        path = bench.Projects(Path(tmp)).copy("tiny", "ten")
        scale.queue(envs["after"], path, 10_000, "ten")
        scale.finish(envs["after"], path, "ten")
        for _ in range(args.rounds):
            loads.append(os.getloadavg()[0])
            for command in COMMANDS:
                for name, env in envs.items():
                    key = " ".join(command)
                    found[name].setdefault(key, []).append((*scale_pair.timed(env, path, *command), *imports(env, path, *command)))
    summary = {
        name: {key: {"wall_s": round(statistics.median(run[0] for run in runs), 3),
                     "cpu_s": round(statistics.median(run[1] for run in runs), 3),
                     "import_self_s": round(min(run[2] for run in runs), 3), "modules": runs[0][3]}
               for key, runs in by_command.items()}
        for name, by_command in found.items()
    }  # fmt: skip
    out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rounds": args.rounds,
           "trees": {"before": str(args.before.resolve()), "after": str(args.after.resolve())},
           "load_average": [min(loads), max(loads)], "summary": summary, "runs": found}
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
