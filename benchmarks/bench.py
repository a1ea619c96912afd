#!/usr/bin/env python
"""Benchmarks: gitexp against ``dvc exp`` on the same work (issue 7).

Run by hand, never part of the test suite:

    .venv/bin/python benchmarks/bench.py [--scenarios a,b] [--repeat N] [--quick] [--keep] [--gitexp-only]

Scenarios (``--scenarios`` takes a comma-separated subset):

  overhead  per-trial overhead, tiny stage (~0.15 s of Python), 20 trials, 1 worker:
            (wall of the run phase - sum of stage times) / trials
  queue     queueing 1,000 trials in one command (--quick: DVC on 1 and 50, extrapolated)
  cpu       8-trial CPU-bound sweep, 3-stage pipeline (2 unchanged upstream stages),
            ~4 s in the last stage, 2 workers; vs DVC and vs ideal = sum(stage times) / 2
  getstarted  example-get-started-like: a few MB of dvc-added data, prepare -> featurize -> train,
            8 trials over train.seed at -j 2: gitexp's wall against the ideal (sum of stage times / 2)
            and DVC's; plus the restore cost: per trial, what 100 MB of dvc-added data on a
            reflink/hardlink cache adds to a gitexp trial (-j 1)
  show      gitexp show --json / gitexp status with 1,000 finished trials
            (result commits written with git fast-import, mimicking commit_result)
  growth    repository growth (git count-objects -v) after 200 trials (--quick: 20)
  memory    peak RSS of gitexp run and gitexp show with 1,000 trials
  imports   python -X importtime of gitexp --help and gitexp status: is dvc/optuna/matplotlib imported?

Both tools get identical projects (git init, dvc init, commit) built in temp
folders; the tools alternate within each repetition. gitexp is always called as
a subprocess (``.venv/bin/gitexp``) with argument lists, DVC as ``python -m dvc``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(PY).parent
GITEXP = str(BIN / "gitexp")
DVC = [PY, "-m", "dvc"]
TIME_V = "/usr/bin/time" if Path("/usr/bin/time").exists() else None

ENV = {
    **os.environ,
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "DVC_NO_ANALYTICS": "1",
    "CI": "true",
}

# --------------------------------------------------------------------------- projects

STAGE_HEADER = """\
import os, time
_T0 = time.perf_counter()
"""

STAGE_FOOTER = """\
def _log(stage):
    path = os.environ.get("BENCH_TIMES")
    if path:
        with open(path, "a") as fh:
            fh.write(f"{stage} {time.perf_counter() - _T0:.4f}\\n")
"""

TINY_TRAIN = STAGE_HEADER + STAGE_FOOTER + textwrap.dedent(
    """\
    import json, yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    x, s = 0, p["seed"]
    for i in range(ITERS):
        x += (i * s) % 7
    json.dump({"score": round(1.0 - abs(p["lr"] - 0.1), 6), "x": x % 1000}, open("metrics.json", "w"))
    _log("train")
    """
)

TINY_PARAMS = "train:\n  lr: 0.01\n  seed: 1\n"

TINY_DVC = textwrap.dedent(
    """\
    stages:
      train:
        cmd: python train.py
        deps: [train.py]
        params: [train]
        metrics:
          - metrics.json:
              cache: false
    """
)

CPU_PREPARE = STAGE_HEADER + STAGE_FOOTER + textwrap.dedent(
    """\
    os.makedirs("data", exist_ok=True)
    x = 0
    for i in range(ITERS):
        x += i % 7
    open("data/raw.txt", "w").write("\\n".join(str(i * x % 97) for i in range(20000)))
    _log("prepare")
    """
)

CPU_FEATURIZE = STAGE_HEADER + STAGE_FOOTER + textwrap.dedent(
    """\
    x = 0
    for i in range(ITERS):
        x += i % 5
    rows = open("data/raw.txt").read().split()
    open("data/features.txt", "w").write("\\n".join(str(int(r) * 2 + x % 3) for r in rows))
    _log("featurize")
    """
)

CPU_TRAIN = STAGE_HEADER + STAGE_FOOTER + textwrap.dedent(
    """\
    import json, yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    feats = [int(v) for v in open("data/features.txt").read().split()]
    x, s = 0, p["seed"]
    for i in range(ITERS):
        x += (i * s) % 7
    json.dump({"score": round(1.0 - abs(p["lr"] - 0.1), 6), "n": len(feats), "x": x % 1000}, open("metrics.json", "w"))
    _log("train")
    """
)

CPU_DVC = textwrap.dedent(
    """\
    stages:
      prepare:
        cmd: python prepare.py
        deps: [prepare.py]
        outs: [data/raw.txt]
      featurize:
        cmd: python featurize.py
        deps: [featurize.py, data/raw.txt]
        outs: [data/features.txt]
      train:
        cmd: python train.py
        deps: [train.py, data/features.txt]
        params: [train]
        metrics:
          - metrics.json:
              cache: false
    """
)


GS_PREPARE = STAGE_HEADER + STAGE_FOOTER + textwrap.dedent(
    """\
    import zlib
    os.makedirs("data/prepared", exist_ok=True)
    x = 0
    for i in range(ITERS):
        x += i % 7
    with open("data/prepared/train.tsv", "w") as train, open("data/prepared/test.tsv", "w") as test:
        for line in open("data/data.xml"):
            (test if zlib.crc32(line.encode()) % 5 == 0 else train).write(line)
    _log("prepare")
    """
)

GS_FEATURIZE = STAGE_HEADER + STAGE_FOOTER + textwrap.dedent(
    """\
    import json, zlib
    os.makedirs("data/features", exist_ok=True)
    x = 0
    for i in range(ITERS):
        x += i % 5
    for split in ("train", "test"):
        rows = [[zlib.crc32(word.encode()) % 200 for word in line.split()[:20]] for line in open(f"data/prepared/{split}.tsv")]
        json.dump(rows, open(f"data/features/{split}.json", "w"))
    _log("featurize")
    """
)

GS_TRAIN = STAGE_HEADER + STAGE_FOOTER + textwrap.dedent(
    """\
    import json, pickle, yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    rows = json.load(open("data/features/train.json"))
    x, s = 0, p["seed"]
    for i in range(ITERS):
        x += (i * s) % 7
    weights = [0] * 200
    for row in rows:
        for feature in row:
            weights[feature] += 1
    pickle.dump({"weights": weights, "seed": s}, open("model.pkl", "wb"))
    json.dump({"score": round(1.0 - abs(p["lr"] - 0.1), 6), "n": len(rows), "x": x % 1000}, open("metrics.json", "w"))
    _log("train")
    """
)

GS_DVC = textwrap.dedent(
    """\
    stages:
      prepare:
        cmd: python src/prepare.py
        deps: [data/data.xml, src/prepare.py]
        outs: [data/prepared]
      featurize:
        cmd: python src/featurize.py
        deps: [data/prepared, src/featurize.py]
        outs: [data/features]
      train:
        cmd: python src/train.py
        deps: [data/features, src/train.py]
        params: [train]
        outs: [model.pkl]
        metrics:
          - metrics.json:
              cache: false
    """
)

LINKED_CACHE = "reflink,hardlink"  # what the restore figure is about: data linked into slots, not copied


def xml_rows(megabytes: float) -> bytes:
    """StackOverflow-like ``<row .../>`` lines, deterministic, about ``megabytes`` long."""
    words = "plot data frame ggplot python pandas regression model vector list loop apply merge join".split()
    lines, size, number = [], 0, 0
    while size < megabytes * 1_000_000:
        number += 1
        body = " ".join(words[(number * k + k * k) % len(words)] for k in range(40))
        line = f'<row Id="{number}" Tags="&lt;r&gt;" Title="post {number}" Body="{body}" />\n'
        lines.append(line)
        size += len(line)
    return "".join(lines).encode()


def blob_files(megabytes: int) -> dict[str, bytes]:
    """``megabytes`` files of 1 MB of seeded random bytes under data/blob."""
    import random

    draw = random.Random(1)
    return {f"data/blob/part-{i:03d}.bin": draw.randbytes(1_000_000) for i in range(megabytes)}


def calibrate(seconds: float) -> int:
    """Loop iterations of the stages' busy loop that take ``seconds`` on an idle core (roughly)."""
    code = "import time\nt=time.perf_counter()\nx=0\nfor i in range(2000000):\n    x += (i * 3) % 7\nprint(time.perf_counter()-t)"
    samples = [float(subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout) for _ in range(3)]
    per_iter = min(samples) / 2_000_000
    return max(1000, int(seconds / per_iter))


def run(argv, cwd=None, env=None, check=True, log=None, input=None):
    """Run ``argv`` (a list, never a shell string); return (seconds, CompletedProcess)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env or ENV, input=input, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if log is not None:
        with open(log, "a") as fh:
            fh.write(f"$ {' '.join(map(str, argv))}  ({elapsed:.2f}s, rc={proc.returncode})\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}\n")
    if check and proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed ({proc.returncode}) in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, proc


def build_project(directory: Path, files: dict[str, str], repro: bool = False, data: dict[str, bytes] | None = None,
                  cache_type: str | None = None) -> Path:
    """git init, dvc init, (dvc add DATA), (dvc repro), commit: the same project for both tools.

    ``data`` files are tracked with ``dvc add`` (one .dvc file per top folder); ``cache_type``
    is the project's ``cache.type``.
    """
    directory.mkdir(parents=True)
    for name, content in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(content)
    for name, content in (data or {}).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(content)
    run(["git", "init", "-q", "-b", "main"], cwd=directory)
    run([*DVC, "init", "-q"], cwd=directory)
    if cache_type:
        run([*DVC, "config", "cache.type", cache_type], cwd=directory)
    tracked = sorted({"/".join(Path(name).parts[:2]) for name in data or {}})
    if tracked:
        run([*DVC, "add", "-q", *tracked], cwd=directory)
    if repro:
        env = {k: v for k, v in ENV.items() if k != "BENCH_TIMES"}
        run([*DVC, "repro", "-q"], cwd=directory, env=env)
    run(["git", "add", "-A"], cwd=directory)
    run(["git", "commit", "-q", "-m", "baseline"], cwd=directory)
    return directory


class Projects:
    """Template projects built once, copied per run."""

    def __init__(self, root: Path):
        self.root = root
        self.templates: dict[str, Path] = {}
        self.iters: dict[str, int] = {}
        self.counter = 0

    def template(self, kind: str) -> Path:
        if kind in self.templates:
            return self.templates[kind]
        path = self.root / "templates" / kind
        if kind == "tiny":
            n = calibrate(0.12)
            files = {"train.py": TINY_TRAIN.replace("ITERS", str(n)), "params.yaml": TINY_PARAMS, "dvc.yaml": TINY_DVC}
            build_project(path, files)
        elif kind == "cpu":
            per_sec = calibrate(1.0)
            files = {
                "prepare.py": CPU_PREPARE.replace("ITERS", str(per_sec)),
                "featurize.py": CPU_FEATURIZE.replace("ITERS", str(per_sec)),
                "train.py": CPU_TRAIN.replace("ITERS", str(int(per_sec * 3.9))),
                "params.yaml": TINY_PARAMS,
                "dvc.yaml": CPU_DVC,
            }
            build_project(path, files, repro=True)
        elif kind == "getstarted":
            per_sec = calibrate(1.0)
            files = {
                "src/prepare.py": GS_PREPARE.replace("ITERS", str(per_sec)),
                "src/featurize.py": GS_FEATURIZE.replace("ITERS", str(per_sec)),
                "src/train.py": GS_TRAIN.replace("ITERS", str(int(per_sec * 2.9))),
                "params.yaml": TINY_PARAMS,
                "dvc.yaml": GS_DVC,
            }
            build_project(path, files, repro=True, data={"data/data.xml": xml_rows(4)}, cache_type=LINKED_CACHE)
        elif kind == "data100":  # the tiny project plus 100 MB of dvc-added data on a linked cache
            tiny = self.template("tiny")
            files = {name: (tiny / name).read_text() for name in ("train.py", "params.yaml", "dvc.yaml")}
            build_project(path, files, data=blob_files(100), cache_type=LINKED_CACHE)
        else:
            raise ValueError(kind)
        self.templates[kind] = path
        return path

    def copy(self, kind: str, label: str) -> Path:
        self.counter += 1
        dest = self.root / "runs" / f"{self.counter:03d}-{kind}-{label}"
        shutil.copytree(self.template(kind), dest, symlinks=True)
        return dest


# --------------------------------------------------------------------------- measuring helpers


def read_times(path: Path) -> list[tuple[str, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        stage, secs = line.split()
        out.append((stage, float(secs)))
    return out


def python_startup() -> float:
    """Median wall of ``python -c 'import yaml'``: what a stage costs before its first line runs."""
    samples = [run([PY, "-c", "import os, time, json, yaml"])[0] for _ in range(5)]
    return statistics.median(samples)


def count_objects(path: Path) -> dict[str, int]:
    _, proc = run(["git", "count-objects", "-v"], cwd=path)
    values = dict(line.split(": ") for line in proc.stdout.splitlines())
    refs = len(run(["git", "for-each-ref"], cwd=path)[1].stdout.splitlines())
    packs = len(list((path / ".git" / "objects" / "pack").glob("*.pack")))
    return {**{k: int(v) for k, v in values.items()}, "refs": refs, "pack_files": packs}


def maxrss_tree(argv, cwd) -> tuple[float, int]:
    """(seconds, max RSS in KB over the process tree) with GNU time -v."""
    if not TIME_V:
        return run(argv, cwd=cwd)[0], -1
    elapsed, proc = run([TIME_V, "-v", *argv], cwd=cwd)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return elapsed, int(match.group(1)) if match else -1


SELF_RSS = (
    "import resource, sys\n"
    "from gitexp.cli.main import main\n"
    "rc = main(sys.argv[1:])\n"
    "sys.stderr.write('BENCH_MAXRSS %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "sys.exit(rc)\n"
)


def maxrss_gitexp_self(args, cwd) -> int:
    """Max RSS (KB) of the gitexp process itself, children (dvc repro, git) excluded."""
    _, proc = run([PY, "-c", SELF_RSS, *args], cwd=cwd)
    return int(re.search(r"BENCH_MAXRSS (\d+)", proc.stderr).group(1))


def dvc_queue_counts(path: Path) -> dict[str, int]:
    _, proc = run([*DVC, "queue", "status"], cwd=path, check=False)
    counts: dict[str, int] = {}
    for line in proc.stdout.splitlines()[1:]:
        for state in ("Queued", "Running", "Success", "Failed"):
            if f" {state} " in f" {line} ":
                counts[state] = counts.get(state, 0) + 1
    return counts


def dvc_stop(path: Path) -> None:
    run([*DVC, "queue", "stop"], cwd=path, check=False)


# --------------------------------------------------------------------------- tools


@dataclass
class Ctx:
    projects: Projects
    repeat: int
    quick: bool
    log: Path
    startup: float = 0.0
    tools: tuple[str, ...] = ("dvc", "gitexp")
    results: list[dict] = field(default_factory=list)
    raw: dict = field(default_factory=dict)


def sweep_values(n: int) -> str:
    # Seeds from 100: none equals the baseline's seed (1), so every trial really runs its stage.
    return f"range(100,{100 + n})"


def gitexp_sweep(ctx: Ctx, path: Path, n: int, jobs: int) -> dict:
    times = path.parent / (path.name + ".times")
    env = {**ENV, "BENCH_TIMES": str(times)}
    q, _ = run([GITEXP, "queue", "--set", f"train.seed={sweep_values(n)}", "--name", "bench"], cwd=path, env=env, log=ctx.log)
    r, proc = run([GITEXP, "run", "-j", str(jobs)], cwd=path, env=env, log=ctx.log)
    if f"{n} succeeded" not in proc.stdout:
        raise RuntimeError(f"gitexp run did not succeed on all {n}: {proc.stdout[-500:]}")
    return {"queue": q, "run": r, "stages": read_times(times)}


def dvc_sweep(ctx: Ctx, path: Path, n: int, jobs: int) -> dict:
    times = path.parent / (path.name + ".times")
    env = {**ENV, "BENCH_TIMES": str(times)}
    q, _ = run([*DVC, "exp", "run", "--queue", "-S", f"train.seed={sweep_values(n)}"], cwd=path, env=env, log=ctx.log)
    r, hung = dvc_run_all(path, n, jobs, env, ctx.log)
    counts = dvc_queue_counts(path)
    dvc_stop(path)
    if counts.get("Success", 0) != n:
        raise RuntimeError(f"dvc exp run --run-all: {counts} of {n}")
    return {"queue": q, "run": r, "stages": read_times(times), "counts": counts, "run_all_hung": hung}


def exp_refs(path: Path) -> int:
    out = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps/"], cwd=path, env=ENV,
                         capture_output=True, text=True).stdout
    # refs/exps/<2 hex>/<38 hex>/<name>; refs/exps/stash and refs/exps/celery/* are not experiments
    return sum(1 for line in out.splitlines() if line.count("/") >= 4 and not line.startswith("refs/exps/celery/"))


def dvc_run_all(path: Path, n: int, jobs: int, env, log, grace: float = 15.0) -> tuple[float, bool]:
    """``dvc exp run --run-all -j J``, timed until it exits or, if it hangs, until all N exp refs exist.

    DVC 3.67's --run-all was seen hanging after every queued experiment had succeeded
    (queue status: all Success, worker idle). So a watchdog polls ``git for-each-ref
    refs/exps`` (cheap, no DVC import); once N experiment refs exist and the command has
    not exited within ``grace`` seconds, it is killed and the time the refs appeared is used.
    """
    started = time.perf_counter()
    with open(log, "a") as fh:
        fh.write(f"$ dvc exp run --run-all -j {jobs} in {path}\n")
        proc = subprocess.Popen([*DVC, "exp", "run", "--run-all", "-j", str(jobs)], cwd=path, env=env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        done_at = None
        while proc.poll() is None:
            time.sleep(0.5)
            if done_at is None and exp_refs(path) >= n:
                done_at = time.perf_counter()
            if done_at is not None and time.perf_counter() - done_at > grace:
                os.killpg(proc.pid, 9)
                proc.wait()
                fh.write(f"bench: --run-all hung {grace}s after all {n} exp refs appeared: killed\n")
                print(f"  ! dvc exp run --run-all hung after all {n} experiments finished; timed to the last exp ref",
                      flush=True)
                return done_at - started, True
    if proc.returncode != 0:
        raise RuntimeError(f"dvc exp run --run-all exited {proc.returncode} in {path}")
    return time.perf_counter() - started, False


def tools_in_order(ctx: Ctx, rep: int):
    order = [("dvc", dvc_sweep), ("gitexp", gitexp_sweep)] if rep % 2 == 0 else [("gitexp", gitexp_sweep), ("dvc", dvc_sweep)]
    return [(tool, fn) for tool, fn in order if tool in ctx.tools]


def add(ctx: Ctx, scenario, dvc, gitexp, target, passed, unit="s", note=""):
    ratio = (gitexp / dvc) if isinstance(dvc, (int, float)) and isinstance(gitexp, (int, float)) and dvc else None
    row = {"scenario": scenario, "dvc": dvc, "gitexp": gitexp, "ratio": ratio, "target": target,
           "pass": passed, "unit": unit, "note": note}
    ctx.results.append(row)
    print("  ->", fmt_row(row), flush=True)


def med(values):
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------- scenarios


def scenario_overhead(ctx: Ctx) -> None:
    n = 20
    per = {"dvc": [], "gitexp": []}
    detail = []
    for rep in range(ctx.repeat):
        for tool, fn in tools_in_order(ctx, rep):
            path = ctx.projects.copy("tiny", tool)
            out = fn(ctx, path, n, 1)
            stage_sum = sum(secs for _, secs in out["stages"]) + ctx.startup * len(out["stages"])
            if len(out["stages"]) != n:
                print(f"  ! {tool}: {len(out['stages'])} stage timings for {n} trials", flush=True)
            overhead = (out["run"] - stage_sum) / n
            per[tool].append(overhead)
            detail.append({"tool": tool, "rep": rep, "queue": out["queue"], "run": out["run"], "stage_sum": stage_sum, "overhead": overhead})
            print(f"  overhead rep {rep} {tool}: run {out['run']:.2f}s, stages {stage_sum:.2f}s, "
                  f"queue {out['queue']:.2f}s -> {overhead:.3f} s/trial", flush=True)
            ctx.raw.setdefault("overhead_last_dvc" if tool == "dvc" else "overhead_last_gitexp", str(path))
    ctx.raw["overhead"] = detail
    g, d = med(per["gitexp"]), med(per["dvc"])
    add(ctx, "per-trial overhead (20 trials, -j1)", d, g, "gitexp <= 0.2 s", g <= 0.2, "s/trial")
    qg = med([x["queue"] for x in detail if x["tool"] == "gitexp"])
    qd = med([x["queue"] for x in detail if x["tool"] == "dvc"])
    add(ctx, "queue 20 trials (one command)", qd, qg, "(report)", None)


def scenario_queue(ctx: Ctx) -> None:
    n = 1000
    dvc_n = 50 if ctx.quick else n
    g_times, d_times, d_one = [], [], []
    for rep in range(ctx.repeat):
        order = ["dvc", "gitexp"] if rep % 2 == 0 else ["gitexp", "dvc"]
        for tool in order:
            if tool == "dvc" and not ctx.quick and rep > 0:
                continue  # DVC on 1,000 takes over a minute: one repetition; gitexp keeps repeating
            path = ctx.projects.copy("tiny", "q" + tool)
            if tool == "gitexp":
                t, proc = run([GITEXP, "queue", "--set", f"train.seed={sweep_values(n)}", "--name", "big"], cwd=path)
                assert f"{n} trials" in proc.stdout.splitlines()[0], proc.stdout[:200]
                g_times.append(t)
                print(f"  queue rep {rep} gitexp: {n} trials in {t:.2f}s", flush=True)
            else:
                t1, _ = run([*DVC, "exp", "run", "--queue", "-S", "train.seed=12345"], cwd=path)
                t, _ = run([*DVC, "exp", "run", "--queue", "-S", f"train.seed={sweep_values(dvc_n)}"], cwd=path)
                d_one.append(t1)
                d_times.append(t)
                print(f"  queue rep {rep} dvc: 1 trial {t1:.2f}s, {dvc_n} trials {t:.2f}s", flush=True)
    ctx.raw["queue"] = {"gitexp": g_times, "dvc": d_times, "dvc_one": d_one, "dvc_n": dvc_n}
    one = med(d_one)
    if dvc_n == n:
        d = med(d_times)
        note = ""
    else:
        per_trial = (med(d_times) - one) / (dvc_n - 1)
        d = one + per_trial * (n - 1)
        note = f"DVC extrapolated from 1 and {dvc_n} trials ({med(d_times):.1f}s for {dvc_n})"
    g = med(g_times)
    add(ctx, "queue 1,000 trials (one command)", d, g, "gitexp <= 3 s", g <= 3.0, note=note)
    add(ctx, "queue 1 trial (separate command)", one, None, "(DVC 1.2-1.6 s)", None)


def sweep_against_ideal(ctx: Ctx, template: str, n: int, jobs: int) -> tuple[dict, dict]:
    """Both tools' walls for ``n`` trials of ``template`` at ``jobs``, and each wall over the ideal (sum of stage times / jobs)."""
    walls = {"dvc": [], "gitexp": []}
    ideal_ratio = {"dvc": [], "gitexp": []}
    detail = []
    for rep in range(ctx.repeat):
        for tool, fn in tools_in_order(ctx, rep):
            path = ctx.projects.copy(template, tool)
            out = fn(ctx, path, n, jobs)
            stages = out["stages"]
            stage_sum = sum(secs for _, secs in stages) + ctx.startup * len(stages)
            ideal = stage_sum / jobs
            walls[tool].append(out["run"])
            ideal_ratio[tool].append(out["run"] / ideal)
            reran = sorted({s for s, _ in stages if s != "train"})
            detail.append({"tool": tool, "rep": rep, "run": out["run"], "queue": out["queue"], "stage_sum": stage_sum,
                           "ideal": ideal, "stages_run": len(stages), "upstream_rerun": reran})
            print(f"  {template} rep {rep} {tool}: run {out['run']:.2f}s, ideal {ideal:.2f}s ({len(stages)} stage runs"
                  f"{', upstream re-ran: ' + ','.join(reran) if reran else ''})", flush=True)
    ctx.raw[template] = detail
    return walls, ideal_ratio


def scenario_cpu(ctx: Ctx) -> None:
    walls, ideal_ratio = sweep_against_ideal(ctx, "cpu", n=8, jobs=2)
    g, d = med(walls["gitexp"]), med(walls["dvc"])
    add(ctx, "CPU sweep 8x~4s, -j2: wall", d, g, "ratio <= 0.6", g / d <= 0.6 if walls["dvc"] else None)
    gi, di = med(ideal_ratio["gitexp"]), med(ideal_ratio["dvc"])
    add(ctx, "CPU sweep: wall / ideal (sum/2)", di, gi, "gitexp <= 1.15", gi <= 1.15, unit="x")


def scenario_getstarted(ctx: Ctx) -> None:
    """example-get-started's shape: 8 trials of train over dvc-added data at -j 2; then the restore cost of 100 MB."""
    walls, ideal_ratio = sweep_against_ideal(ctx, "getstarted", n=8, jobs=2)
    g, d = med(walls["gitexp"]), med(walls["dvc"])
    add(ctx, "get-started 8 trials, 4 MB dvc-added data, -j2: wall", d, g, "(report)", None)
    gi, di = med(ideal_ratio["gitexp"]), med(ideal_ratio["dvc"])
    add(ctx, "get-started: wall / ideal (sum/2)", di, gi, "gitexp <= 1.10", gi <= 1.10, unit="x")
    restore_cost(ctx)


def restore_cost(ctx: Ctx) -> None:
    """What 100 MB of dvc-added data on a linked cache adds to a gitexp trial, from 8 trials at -j 1 on each project.

    *data100* and *tiny* differ only by the data, so the difference of their median trial
    times, each less its median stage time, is restoring the data into the trial's workspace
    (and DVC seeing it unchanged). A trial's time is its ``Gitexp-Duration`` (the pipeline
    run, restore included); medians over trials keep a busy machine's hiccups out, which the
    difference of two walls does not.
    """
    n = 8
    per = []
    for rep in range(ctx.repeat):
        pipeline = {}
        for kind in ("data100", "tiny"):
            path = ctx.projects.copy(kind, "restore")
            stages = gitexp_sweep(ctx, path, n, 1)["stages"]
            pipeline[kind] = med(trial_durations(path)) - med([secs for _, secs in stages])
        per.append(pipeline["data100"] - pipeline["tiny"])
        print(f"  restore rep {rep}: trial beyond its stage, with 100 MB {pipeline['data100']:.3f}s, "
              f"without {pipeline['tiny']:.3f}s -> {per[-1]:.3f} s/trial", flush=True)
    ctx.raw["restore"] = per
    g = med(per)
    add(ctx, "restore 100 MB dvc-added data per trial (linked cache)", None, g, "gitexp <= 0.1 s", g <= 0.1, "s/trial",
        note=f"cache.type {LINKED_CACHE} on {filesystem(ctx.projects.root)}")


def trial_durations(path: Path) -> list[float]:
    """The ``Gitexp-Duration`` of every trial's result commit."""
    _, proc = run(["git", "for-each-ref", "--format=%(trailers:key=Gitexp-Duration,valueonly)", "refs/heads/exp/"], cwd=path)
    return [float(value) for value in proc.stdout.split()]


def filesystem(path: Path) -> str:
    proc = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown filesystem"


def make_finished_trials(path: Path, sweep: str, n: int) -> None:
    """Queue ``n`` trials with gitexp, then write one result commit per trial with fast-import.

    Mimics gitexp.execution.pipeline.commit_result: a commit on top of the trial
    tip that adds metrics.json and carries the Gitexp-* trailers (Status, Duration,
    Host, Params, Metrics); the branch is moved to it in one update-ref transaction.
    """
    sys.path.insert(0, str(REPO))
    from gitexp.store.git import FastImportCommit, Git, RefUpdate
    from gitexp.store.records import (
        T_DURATION,
        T_HOST,
        T_METRICS,
        T_PARAMS,
        T_STATUS,
        T_SWEEP,
        T_TRIAL,
        Ledger,
        dumps_compact,
        format_message,
    )

    run([GITEXP, "queue", "--set", f"train.seed={sweep_values(n)}", "--set", "train.lr=0.05", "--name", sweep], cwd=path)
    git = Git(path, ENV)
    trials = [t for t in Ledger(git).trials([sweep])]
    assert len(trials) == n, len(trials)
    commits = []
    host = f"local:{socket.gethostname()}"
    for i, trial in enumerate(trials):
        metrics = {"score": round(0.5 + (i % 97) / 200, 6), "x": i % 1000}
        trailers = {
            T_SWEEP: trial.sweep, T_TRIAL: trial.name, T_STATUS: "succeeded", T_DURATION: f"{0.5 + i % 7 / 10:.2f}",
            T_HOST: host, T_PARAMS: dumps_compact(trial.params), T_METRICS: dumps_compact(metrics),
        }
        message = format_message(f"gitexp: {trial.ref.key} succeeded in 0.6s", trailers)
        content = (json.dumps(metrics) + "\n").encode()
        commits.append(FastImportCommit(trial.tip, message, {"metrics.json": ("100644", content)}))
    scratch = "refs/bench/tmp"
    oids = git.fast_import(commits, scratch)
    updates = [RefUpdate(t.ref.ref, oid, t.tip) for t, oid in zip(trials, oids)] + [RefUpdate(scratch, "0" * 40)]
    git.update_refs(updates, "bench: synthetic results")


def scenario_show(ctx: Ctx) -> None:
    n = 1000
    path = ctx.projects.copy("tiny", "show")
    t0 = time.perf_counter()
    make_finished_trials(path, "done", n)
    print(f"  made {n} finished trials in {time.perf_counter() - t0:.1f}s", flush=True)
    ctx.raw["show_project"] = str(path)
    reps = max(5, ctx.repeat)
    show = [run([GITEXP, "show", "--json"], cwd=path)[0] for _ in range(reps)]
    out = json.loads(run([GITEXP, "show", "--json"], cwd=path)[1].stdout)
    assert sum(1 for r in out["trials"] if r["status"] == "succeeded") == n
    status = [run([GITEXP, "status"], cwd=path)[0] for _ in range(reps)]
    table = [run([GITEXP, "show"], cwd=path)[0] for _ in range(3)]
    ctx.raw["show"] = {"show_json": show, "status": status, "show_table": table}
    # DVC reference: its exp show --json on the projects that ran real experiments.
    dvc_show = None
    note = "DVC column: dvc exp show --json on a project with 20 finished exps"
    dvc_path = ctx.raw.get("overhead_last_dvc") or ctx.raw.get("growth_dvc")
    if dvc_path:
        dvc_show = med([run([*DVC, "exp", "show", "--json"], cwd=dvc_path)[0] for _ in range(3)])
        if dvc_path == ctx.raw.get("growth_dvc"):
            note = f"DVC column: dvc exp show --json with {ctx.raw.get('growth_n')} finished exps"
    else:
        note = "no DVC project with finished exps in this run (run overhead or growth first)"
    g = med(show)
    add(ctx, "show --json, 1,000 finished", dvc_show, g, "gitexp <= 1 s", g <= 1.0, note=note)
    s = med(status)
    add(ctx, "status, 1,000 finished", None, s, "gitexp <= 0.5 s", s <= 0.5)
    add(ctx, "show (table), 1,000 finished", None, med(table), "(report)", None)


def scenario_growth(ctx: Ctx) -> None:
    n = 20 if ctx.quick else 200
    jobs = 2
    found = {}
    for tool, fn in tools_in_order(ctx, 0):
        path = ctx.projects.copy("tiny", "g" + tool)
        before = count_objects(path)
        out = fn(ctx, path, n, jobs)
        after = count_objects(path)
        found[tool] = {"before": before, "after": after, "run": out["run"], "queue": out["queue"],
                       "stage_sum": sum(s for _, s in out["stages"]) + ctx.startup * len(out["stages"])}
        delta = {k: after[k] - before[k] for k in after}
        found[tool]["delta"] = delta
        print(f"  growth {tool}: {n} trials, run {out['run']:.1f}s; delta {delta}", flush=True)
        if tool == "dvc":
            ctx.raw["growth_dvc"] = str(path)
            ctx.raw["growth_n"] = n
        else:
            ctx.raw["growth_gitexp"] = str(path)
    ctx.raw["growth"] = found
    d, g = found["dvc"]["delta"], found["gitexp"]["delta"]
    add(ctx, f"growth after {n} trials: pack files", d["pack_files"], g["pack_files"], "< DVC (1 pack/trial)",
        g["pack_files"] < max(1, d["pack_files"]), unit="packs")
    add(ctx, f"growth after {n} trials: objects", d["count"] + d["in-pack"], g["count"] + g["in-pack"], "(report)", None,
        unit="objects")
    add(ctx, f"growth after {n} trials: KB on disk", d["size"] + d["size-pack"], g["size"] + g["size-pack"], "(report)",
        None, unit="KB")
    # With 2 workers the stages overlap: what each trial costs beyond the ideal (sum of stage times / 2).
    per = {t: (found[t]["run"] - found[t]["stage_sum"] / jobs) / n for t in found}
    add(ctx, f"wall beyond the ideal per trial ({n} trials, -j2)", per["dvc"], per["gitexp"], "(report)", None,
        unit="s/trial")


def scenario_memory(ctx: Ctx) -> None:
    path = Path(ctx.raw["show_project"]) if "show_project" in ctx.raw else None
    if path is None:
        path = ctx.projects.copy("tiny", "mem")
        make_finished_trials(path, "done", 1000)
    _, show_tree = maxrss_tree([GITEXP, "show", "--json"], path)
    show_self = maxrss_gitexp_self(["show", "--json"], path)
    # gitexp run with 1,000 trials in the ledger: a second sweep of 2 queued trials.
    run([GITEXP, "queue", "--set", "train.seed=[7,8]", "--name", "more"], cwd=path)
    times = path.parent / (path.name + ".memtimes")
    env = {**ENV, "BENCH_TIMES": str(times)}
    _, proc = run([TIME_V, "-v", PY, "-c", SELF_RSS, "run", "-j", "2"] if TIME_V else [PY, "-c", SELF_RSS, "run", "-j", "2"],
                  cwd=path, env=env)
    run_self = int(re.search(r"BENCH_MAXRSS (\d+)", proc.stderr).group(1))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    run_tree = int(m.group(1)) if m else -1
    dvc_show = None
    if ctx.raw.get("growth_dvc") or ctx.raw.get("overhead_last_dvc"):
        _, dvc_show = maxrss_tree([*DVC, "exp", "show", "--json"], ctx.raw.get("growth_dvc") or ctx.raw["overhead_last_dvc"])
    ctx.raw["memory"] = {"show_tree_kb": show_tree, "show_self_kb": show_self, "run_self_kb": run_self,
                         "run_tree_kb": run_tree, "dvc_exp_show_kb": dvc_show}
    mb = lambda kb: None if kb in (None, -1) else round(kb / 1024, 1)
    add(ctx, "peak RSS gitexp show --json (1,000)", mb(dvc_show), mb(show_self), "< 300 MB", mb(show_self) < 300, unit="MB",
        note="DVC column: dvc exp show --json (fewer exps, see growth)")
    add(ctx, "peak RSS gitexp run (1,002 in ledger)", None, mb(run_self), "< 300 MB", mb(run_self) < 300, unit="MB",
        note=f"gitexp process alone; with children (dvc repro) {mb(run_tree)} MB")


WATCH = ("dvc", "optuna", "matplotlib", "numpy", "scipy", "git", "dulwich", "jinja2", "ruamel", "rich", "yaml", "sqlalchemy")


def importtime(args, cwd) -> dict:
    code = "import sys\nfrom gitexp.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    _, proc = run([PY, "-X", "importtime", "-c", code, *args], cwd=cwd, check=False)
    per_package: dict[str, int] = {}  # self time summed per top-level package, at any depth
    total = 0
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        top = m.group(4).split(".")[0]
        total += int(m.group(1))
        per_package[top] = per_package.get(top, 0) + int(m.group(1))
    present = {w: round(per_package[w] / 1000, 1) for w in WATCH if w in per_package}
    heavy = sorted(per_package.items(), key=lambda kv: -kv[1])[:10]
    return {"total_ms": round(total / 1000, 1), "watched_ms": present, "top": [(k, round(v / 1000, 1)) for k, v in heavy],
            "packages": sorted(per_package)}


def scenario_imports(ctx: Ctx) -> None:
    path = Path(ctx.raw["show_project"]) if "show_project" in ctx.raw else ctx.projects.copy("tiny", "imp")
    res = {"help": importtime(["--help"], path), "status": importtime(["status"], path),
           "show": importtime(["show", "--json"], path)}
    walls = {"help": med([run([GITEXP, "--help"], cwd=path)[0] for _ in range(5)]),
             "version": med([run([GITEXP, "--version"], cwd=path)[0] for _ in range(5)])}
    bare = med([run([PY, "-c", "pass"])[0] for _ in range(5)])
    ctx.raw["imports"] = {**res, "walls": walls, "python_bare": bare}
    for name, r in res.items():
        print(f"  importtime {name}: {r['total_ms']} ms; watched {r['watched_ms']}; top {r['top']}", flush=True)
    bad = [w for w in ("dvc", "optuna", "matplotlib") if w in res["help"]["watched_ms"] or w in res["status"]["watched_ms"]]
    add(ctx, "gitexp --help wall", None, walls["help"], "no dvc/optuna/matplotlib", not bad,
        note=f"imports in help/status: {', '.join(bad) or 'none of dvc/optuna/matplotlib'}; python -c pass {bare:.3f}s")


SCENARIOS = {
    "overhead": scenario_overhead,
    "queue": scenario_queue,
    "cpu": scenario_cpu,
    "getstarted": scenario_getstarted,
    "growth": scenario_growth,
    "show": scenario_show,
    "memory": scenario_memory,
    "imports": scenario_imports,
}


# --------------------------------------------------------------------------- output


def fmt_num(value, unit="s"):
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def fmt_row(row) -> str:
    verdict = {True: "PASS", False: "FAIL", None: "-"}[row["pass"]]
    ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
    return (f"| {row['scenario']} | {fmt_num(row['dvc'])} | {fmt_num(row['gitexp'])} | {ratio} | {row['unit']} "
            f"| {row['target']} | {verdict} |" + (f" {row['note']}" if row["note"] else ""))


def print_table(results) -> str:
    lines = ["| scenario | DVC median | gitexp median | ratio | unit | target | result | notes",
             "|---|---:|---:|---:|---|---|---|---"]
    lines += [fmt_row(r) for r in results]
    text = "\n".join(lines)
    print(text)
    return text


def machine() -> dict:
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) // 1024} MB"
    except OSError:
        pass
    dvc_version = run([*DVC, "--version"])[1].stdout.strip()
    git_version = run(["git", "--version"])[1].stdout.strip()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(), "memory": mem, "python": platform.python_version(), "git": git_version,
        "dvc": dvc_version, "platform": platform.platform(), "loadavg_start": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated: " + ",".join(SCENARIOS))
    parser.add_argument("--repeat", type=int, help="repetitions per scenario (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true", help="one repetition, DVC queue on 50 (extrapolated), growth on 20")
    parser.add_argument("--keep", action="store_true", help="keep the temp projects")
    parser.add_argument("--gitexp-only", action="store_true", help="overhead, cpu and getstarted without DVC's runs (quicker while tuning gitexp)")
    parser.add_argument("--out", type=Path, help="write results JSON here")
    args = parser.parse_args()
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}: choose from {', '.join(SCENARIOS)}")
    # Scenarios that reuse projects of others run after them.
    names = sorted(names, key=list(SCENARIOS).index)
    repeat = args.repeat or (1 if args.quick else 3)
    root = Path(tempfile.mkdtemp(prefix="gitexp-bench-"))
    info = machine()
    print(f"# gitexp vs DVC benchmarks, {info['date']}, {info['nproc']} cores, load {info['loadavg_start']}, in {root}", flush=True)
    ctx = Ctx(Projects(root), repeat, args.quick, root / "commands.log")
    if args.gitexp_only:
        ctx.tools = ("gitexp",)
    ctx.startup = python_startup()
    print(f"# python+yaml startup (added to each stage's own time): {ctx.startup:.3f}s", flush=True)
    started = time.perf_counter()
    try:
        for name in names:
            t = time.perf_counter()
            print(f"## {name}", flush=True)
            try:
                SCENARIOS[name](ctx)
            except Exception as exc:  # keep going: one broken scenario should not lose the others
                print(f"  !! {name} failed: {exc}", flush=True)
                ctx.results.append({"scenario": name, "dvc": None, "gitexp": None, "ratio": None, "target": "",
                                    "pass": False, "unit": "", "note": f"error: {str(exc)[:200]}"})
            print(f"  ({time.perf_counter() - t:.0f}s)", flush=True)
    finally:
        info["loadavg_end"] = os.getloadavg()
        info["seconds"] = round(time.perf_counter() - started)
        print()
        table = print_table(ctx.results)
        out = args.out or (REPO / "benchmarks" / f"results-{'quick' if args.quick else 'full'}.json")
        out.write_text(json.dumps({"machine": info, "args": vars(args) | {"out": str(out)}, "repeat": repeat,
                                   "results": ctx.results, "raw": ctx.raw, "table": table}, indent=2, default=str))
        print(f"\nresults: {out}; load average at end {info['loadavg_end']}; {info['seconds']}s")
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"projects kept in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
