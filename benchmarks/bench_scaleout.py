"""Scale-out benchmark (issue 13): 40 trials of a 0.5 s stage through 4 workers, against the ideal.

    .venv/bin/python benchmarks/bench_scaleout.py [--trials 40] [--workers 4] [--stage 0.5] [--no-slurm] [--no-local] [--out FILE]

Three figures, each on a fresh copy of one project and a local bare remote:

- *local workers*: 4 ``gitexp worker --remote origin --idle-exit 0`` processes, each in its own clone,
  started together; wall time from their start until the last exits, against the ideal
  (stage time x trials / workers). Target: within 20 %. Also what load on a shared machine does not skew:
  git processes per trial (every git the workers start, and those git starts, counted by Git's trace2
  events) and CPU seconds per trial (the workers and all they started).
- *Slurm array*: ``gitexp slurm init --workers 4`` and ``gitexp slurm submit``, on the single-node
  cluster of tests/slurm_cluster.py (started here, or the one ``$SLURM_CONF`` names); wall time from
  submit until squeue lists no task, against the same ideal. And where each task's time goes (seconds
  after submit started, median over the tasks, from slurmctld's log and the tasks' trace2 events):
  ``submitted`` (sbatch answered), ``allocated`` (slurmctld started the task), ``cloned``, ``worker_git``
  (the worker's first git: Python and gitexp are up), ``first_claim``, ``first_result``, ``last_result``, ``worker_exit``
  (its last git), ``completed`` (slurmctld saw the task end).
- *claims per second*: one process takes the 40 trials' claims on the bare remote in turn (each an
  atomic push with leases, as workers do), timed. Target: at least 10 per second.

And two references on the same 40 trials, which say what the ideal leaves out (``--no-reference`` skips them):

- *DVC alone*: 4 processes, each in its own clone, import DVC once and run their 10 trials as a forked
  ``dvc repro`` each (gitexp's warm DVC), writing params.yaml between them: no Git, no claims, no result
  commits, trials split evenly in advance. What any runner built on ``dvc repro`` needs at least on this
  machine; also the stage command alone, timed.
- *dvc exp*: ``dvc exp run --queue -S train.seed=range(1,41)``, then ``dvc exp run --run-all -j 4``
  (DVC's own parallel runner, on one machine).

Writes benchmarks/results-scaleout.json. Every command is an argument list, never a shell string.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAGE = textwrap.dedent(
    """\
    import json, time
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    time.sleep(p["sleep"])
    json.dump({"score": p["seed"]}, open("metrics.json", "w"))
    """
)
DVC_YAML = "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n    params: [train]\n    metrics:\n      - metrics.json:\n          cache: false\n"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com", "DVC_NO_ANALYTICS": "1",
}


def env() -> dict[str, str]:
    return {**os.environ, **IDENTITY, "PYTHONPATH": str(ROOT)}


def run(argv, cwd, extra=None) -> str:
    done = subprocess.run(list(argv), cwd=cwd, env={**env(), **(extra or {})}, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(map(str, argv))} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


def gitexp(*argv) -> list[str]:
    return [sys.executable, "-m", "gitexp", *argv]


def make_project(folder: Path, trials: int, stage: float, queue: bool = True) -> tuple[Path, Path]:
    """A project whose sweep ``bench`` (``trials`` trials, unless not ``queue``) is on a bare remote; answers
    (project, remote)."""
    project, remote = folder / "project", folder / "remote.git"
    project.mkdir(parents=True)
    (project / "params.yaml").write_text(f"train:\n  seed: 0\n  sleep: {stage}\n")
    (project / "train.py").write_text(STAGE)
    (project / "dvc.yaml").write_text(DVC_YAML)
    run(["git", "init", "-q", "-b", "main"], project)
    run([sys.executable, "-m", "dvc", "init", "-q"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "baseline"], project)
    run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], folder)
    run(["git", "remote", "add", "origin", str(remote)], project)
    run(["git", "push", "-q", "origin", "main"], project)
    if not queue:
        return project, remote
    run(gitexp("queue", "--name", "bench", "--set", f"train.seed=range(1,{trials + 1})"), project)
    run(gitexp("push", "origin", "bench"), project)
    return project, remote


def results_on(remote: Path) -> int:
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/heads/exp/bench/"], remote).split()
    return sum(1 for ref in refs if "Gitexp-Status" in run(["git", "log", "-1", "--format=%B", ref], remote))


def local_workers(folder: Path, trials: int, workers: int, stage: float) -> dict:
    _, remote = make_project(folder, trials, stage)
    clones = []
    for index in range(workers):
        clone = folder / f"worker-{index}"
        run(["git", "clone", "-q", str(remote), str(clone)], folder)
        clones.append(clone)
    trace = folder / "trace2"  # a folder: git writes one file of events per process into it
    trace.mkdir()
    started, cpu = time.monotonic(), children_cpu()
    processes = [
        subprocess.Popen(gitexp("worker", "--remote", "origin", "--idle-exit", "0"), cwd=clone,
                         env={**env(), "GIT_TRACE2_EVENT": str(trace)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for clone in clones
    ]
    for process in processes:
        process.wait()
    wall, cpu = time.monotonic() - started, children_cpu() - cpu
    return {**figures(wall, trials, workers, stage, results_on(remote)),
            **{f"{name}_per_trial": round(count / trials, 2) for name, count in git_processes(trace).items()},
            "cpu_seconds_per_trial": round(cpu / trials, 3)}


def children_cpu() -> float:
    """CPU seconds of the finished children of this process and theirs (user and system)."""
    times = os.times()
    return times.children_user + times.children_system


def git_processes(trace: Path) -> dict[str, int]:
    """How many git processes wrote trace2 events into ``trace`` (one ``start`` event each), and how many of them
    were pushes and pushes the remote applied (receive-pack starts ``gc --auto`` after each that updated refs)."""
    starts = [json.loads(line)["argv"] for events in trace.iterdir() for line in events.read_text().splitlines()
              if '"event":"start"' in line]
    return {"git_processes": len(starts), "pushes": sum("push" in argv for argv in starts),
            "pushes_applied": sum(argv[1:3] == ["gc", "--auto"] for argv in starts)}


def slurm_array(folder: Path, trials: int, workers: int, stage: float) -> dict:
    from tests.slurm_cluster import SlurmCluster, missing_programs

    cluster = None
    if not os.environ.get("SLURM_CONF"):
        if missing_programs():
            return {"skipped": f"Slurm is not installed ({', '.join(missing_programs())})"}
        cluster = SlurmCluster(folder / "slurm")
        cluster.start()
        os.environ.update(cluster.env)
    try:
        project, remote = make_project(folder, trials, stage)
        run(gitexp("slurm", "init", "--workers", str(workers)), project)
        trace = folder / "trace2"  # the tasks inherit it with the rest of submit's environment
        trace.mkdir()
        started, started_at = time.monotonic(), time.time()
        said = run(gitexp("slurm", "submit", "bench", "--remote", "origin", "--idle-exit", "0"), project,
                   {"GIT_TRACE2_EVENT": str(trace)})
        submitted = time.monotonic() - started
        job = said.split("Submitted Slurm array job ")[1].split()[0]
        while run(["squeue", "-h", "-r", "-j", job, "-o", "%T"], project).split():
            time.sleep(0.1)
        wall = time.monotonic() - started
    finally:
        if cluster is not None:
            cluster.stop()
    phases = {"submitted": round(submitted, 2)}
    if cluster is not None:
        phases.update(task_phases(cluster.root / "log" / "slurmctld.log", trace, job, started_at))
    counts = {f"{name}_per_trial": round(count / trials, 2) for name, count in git_processes(trace).items()}
    return {**figures(wall, trials, workers, stage, results_on(remote)), **counts, "phases": phases}


def task_phases(log: Path, trace: Path, job: str, started_at: float) -> dict:
    """Each phase of the array's tasks, in seconds after ``started_at`` (the median over the tasks)."""
    import re
    import statistics
    from datetime import datetime, timezone

    def stamp(text: str) -> float:  # slurmctld's local time and trace2's UTC both, on a machine in UTC
        return datetime.fromisoformat(text.rstrip("Z")).replace(tzinfo=timezone.utc).timestamp() - started_at

    tasks: dict[str, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        found = re.match(rf"\[(\S+)\] (sched: Allocate|_job_complete:) JobId={job}_\d+\((\d+)\)( NodeList| done)", line)
        if found:
            tasks.setdefault(found[3], {})["allocated" if "Allocate" in found[2] else "completed"] = stamp(found[1])
    for events in trace.iterdir():
        process = [json.loads(line) for line in events.read_text().splitlines()]
        if not process or "/" in process[0]["sid"]:
            continue  # a git that git started
        text = events.read_text()
        task = next((id for id in tasks if f"/gitexp-{id}." in text), None)
        argv = next((event["argv"] for event in process if event["event"] == "start"), [])
        if task is None or not argv:
            continue
        begun, ended = stamp(process[0]["time"]), stamp(process[-1]["time"])
        phases = tasks[task]
        if "clone" in argv:
            phases["cloned"] = ended
            continue
        phases["worker_git"] = min(phases.get("worker_git", ended), begun)
        phases["worker_exit"] = max(phases.get("worker_exit", ended), ended)
        if "push" in argv and any(":refs/gitexp/claims/" in arg for arg in argv):
            phases["first_claim"] = min(phases.get("first_claim", ended), ended)
        if "push" in argv and moves_a_branch(argv):
            phases["first_result"] = min(phases.get("first_result", ended), ended)
            phases["last_result"] = max(phases.get("last_result", ended), ended)
    order = ("allocated", "cloned", "worker_git", "first_claim", "first_result", "last_result", "worker_exit", "completed")
    return {name: round(statistics.median(t[name] for t in tasks.values() if name in t), 2)
            for name in order if any(name in t for t in tasks.values())} | {"tasks": len(tasks)}


def claims_per_second(folder: Path, trials: int) -> dict:
    from gitexp.execution.claims import Claims, Runner, clone_id
    from gitexp.store.git import Git
    from gitexp.store.records import Ledger
    from gitexp.store.remote import RemoteRefs, fetch_experiments, resolve_remote

    project, _ = make_project(folder, trials, 0.0)
    git = Git(project, {**env()})
    remote = resolve_remote(git, "origin")
    fetch_experiments(git, remote, [Ledger(git).prefix])
    store = RemoteRefs(git, remote)
    claims = Claims(git, store, Runner(worker="bench", clone=clone_id(git.common_dir())))
    queued = Ledger(store.view).trials(["bench"])
    started = time.monotonic()
    taken = [claims.take(trial) for trial in queued]
    elapsed = time.monotonic() - started
    return {"claims": sum(1 for claim in taken if claim), "seconds": round(elapsed, 3),
            "per_second": round(len(queued) / elapsed, 1), "target": 10, "passed": len(queued) / elapsed >= 10}


# One process of "DVC alone": DVC imported and warmed as gitexp's warm DVC is (repro_server), then a forked
# `dvc repro` per seed read from argv, timed from the line on stdin that says go; prints its CPU seconds.
DVC_LOOP = textwrap.dedent(
    """\
    import os, resource, sys
    from pathlib import Path
    from gitexp.execution.repro_server import REPRO_MODULES, import_modules
    from gitexp.execution.restore import run_dvc
    import_modules(REPRO_MODULES)
    seeds, sleep = sys.argv[1].split(","), sys.argv[2]
    loaded = Path("loaded-modules")

    def cpu():
        return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
                   for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))

    print("ready", flush=True)
    sys.stdin.readline()
    started = cpu()
    for index, seed in enumerate(seeds):
        Path("params.yaml").write_text(f"train:\\n  seed: {seed}\\n  sleep: {sleep}\\n")
        pid = os.fork()
        if pid == 0:
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            code = run_dvc(["repro"], False)
            if index == 0:
                loaded.write_text("\\n".join(name for name in sys.modules if name != "__main__"))
            os._exit(code or 0)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status):
            sys.exit(f"dvc repro of seed {seed} failed")
        if index == 0:
            import_modules(loaded.read_text().split())
    print(cpu() - started, flush=True)
    """
)


def dvc_alone(folder: Path, trials: int, workers: int, stage: float) -> dict:
    """The trials as ``workers`` loops of warm ``dvc repro`` in clones of their own, started together."""
    from gitexp.project.dvc import tool_env

    project, remote = make_project(folder, trials, stage, queue=False)
    seeds = [list(range(1, trials + 1))[index::workers] for index in range(workers)]
    loops = []
    for index, share in enumerate(seeds):
        clone = folder / f"loop-{index}"
        run(["git", "clone", "-q", str(remote), str(clone)], folder)
        loops.append(subprocess.Popen([sys.executable, "-c", DVC_LOOP, ",".join(map(str, share)), str(stage)], cwd=clone,
                                      env=tool_env(env()), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for loop in loops:
        if loop.stdout.readline().strip() != "ready":
            raise SystemExit("a DVC loop did not start")
    started = time.monotonic()
    for loop in loops:
        loop.stdin.write("go\n")
        loop.stdin.flush()
    cpu = [float(loop.stdout.readline() or "nan") for loop in loops]
    for loop in loops:
        if loop.wait():
            raise SystemExit("a DVC loop failed")
    wall = time.monotonic() - started
    return {"wall": round(wall, 2), "ratio": round(wall / ideal(trials, workers, stage), 2), "cpu_seconds_per_trial": round(sum(cpu) / trials, 3),
            "stage_alone": stage_alone(project)}


def stage_alone(project: Path) -> float:
    """Seconds the stage's command takes by itself (the median of 3): Python's start, its imports and the sleep."""
    import statistics

    from gitexp.project.dvc import tool_env

    def once() -> float:
        started = time.monotonic()
        subprocess.run(["python", "train.py"], cwd=project, env=tool_env(env()), check=True)
        return time.monotonic() - started

    return round(statistics.median(once() for _ in range(3)), 3)


def dvc_exp(folder: Path, trials: int, workers: int, stage: float) -> dict:
    """``dvc exp run --run-all -j workers`` of the trials, queued with one ``dvc exp run --queue -S``."""
    from bench import dvc_run_all, dvc_stop, exp_refs

    from gitexp.project.dvc import tool_env

    project, _ = make_project(folder, trials, stage, queue=False)
    run([sys.executable, "-m", "dvc", "exp", "run", "--queue", "-S", f"train.seed=range(1,{trials + 1})"], project)
    wall, hung = dvc_run_all(project, trials, workers, tool_env(env()), folder / "dvc-exp.log")  # its workers start `dvc`
    dvc_stop(project)
    return {"wall": round(wall, 2), "ratio": round(wall / ideal(trials, workers, stage), 2), "results": exp_refs(project),
            "run_all_hung": hung}


def moves_a_branch(argv: list[str]) -> bool:
    """Whether a push (gitexp's: leases, then ``new:ref`` refspecs) moves a branch: a result. A claim's push leases
    the trial's branch at its tip and pushes it unchanged."""
    leased = dict(arg.removeprefix("--force-with-lease=").split(":", 1) for arg in argv if arg.startswith("--force-with-lease="))
    pushed = [arg.lstrip("+").split(":", 1) for arg in argv if ":refs/heads/" in arg and not arg.startswith("-")]
    return any(leased.get(ref) != new for new, ref in pushed)


def ideal(trials: int, workers: int, stage: float) -> float:
    """Seconds the trials take if each worker ran its share of stages back to back, nothing else."""
    return stage * trials / workers


def figures(wall: float, trials: int, workers: int, stage: float, results: int) -> dict:
    best = ideal(trials, workers, stage)
    return {"wall": round(wall, 2), "ideal": round(best, 2), "ratio": round(wall / best, 2),
            "trials_per_second": round(trials / wall, 2), "results": results,
            "target_ratio": 1.2, "passed": wall <= 1.2 * best and results == trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--stage", type=float, default=0.5)
    parser.add_argument("--no-slurm", action="store_true")
    parser.add_argument("--no-local", action="store_true", help="Skip the claims and local-worker figures.")
    parser.add_argument("--no-reference", action="store_true", help="Skip the DVC-alone and dvc exp figures.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results-scaleout.json")
    args = parser.parse_args()
    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "host": platform.node()},
              "trials": args.trials, "workers": args.workers, "stage": args.stage}
    # gitexp's modules compiled once, as an install does: with $PYTHONDONTWRITEBYTECODE set, each worker, task
    # and submit would compile every module it imports again
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "gitexp")], check=True)
    with tempfile.TemporaryDirectory(prefix="gitexp-scaleout-", ignore_cleanup_errors=True) as scratch:  # dvc exp's stopped queue may still write
        base = Path(scratch)
        if not args.no_local:
            report["claims"] = claims_per_second(base / "claims", args.trials)
            print("claims", report["claims"], flush=True)
            report["local_workers"] = local_workers(base / "local", args.trials, args.workers, args.stage)
            print("local workers", report["local_workers"], flush=True)
        if not args.no_reference:
            report["dvc_alone"] = dvc_alone(base / "dvc-alone", args.trials, args.workers, args.stage)
            print("dvc alone", report["dvc_alone"], flush=True)
            report["dvc_exp"] = dvc_exp(base / "dvc-exp", args.trials, args.workers, args.stage)
            print("dvc exp", report["dvc_exp"], flush=True)
        if not args.no_slurm:
            report["slurm_array"] = slurm_array(base / "slurm", args.trials, args.workers, args.stage)
            print("slurm array", report["slurm_array"], flush=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
