"""The compatibility harness (fixtures in conftest.py): gitexp against ``dvc exp run`` on one small real project per DVC feature.

A ``Feature`` is the files of a git+DVC project, what makes its baseline (``dvc add``, ``dvc import``,
``dvc freeze`` ... then ``dvc repro`` and a commit) and the param sets to run. The baseline is built
once, then copied for each tool, so both start from the same commit and the same DVC cache:

- DVC: ``dvc exp run --temp -n pN -S ...`` for each param set in turn, then ``dvc exp show --json``;
- gitexp: ``gitexp queue --name pN --set ...`` for each set, one ``gitexp run -j 2``, ``gitexp show --json``.

Each side gives one ``Outcome`` per param set: the metrics its ``show --json`` reports, every
``dvc.lock`` of the result commit, and the paths that commit holds. The test asserts they are equal.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gitexp.store.git import Git

BASELINE = "baseline"  # the name both sides' show gives the baseline's row here

# A deterministic stage: values from params files (--param FILE:KEY) and the command line (--value),
# the bytes of its inputs (files or folders), to one output line and a metrics file. No time, no randomness.
STEP_PY = textwrap.dedent(
    """\
    import argparse, hashlib, json, os, pathlib, tomllib
    import yaml

    parser = argparse.ArgumentParser()
    parser.add_argument("--param", action="append", default=[])
    parser.add_argument("--value", action="append", default=[])
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--out")
    parser.add_argument("--append", action="store_true", help="add a line to --out (a persisted output)")
    parser.add_argument("--metrics")
    parser.add_argument("--wide", action="store_true", help="80 numeric and 2 text metrics more")
    parser.add_argument("--scratch", help="also write this file, which dvc.yaml does not declare")
    args = parser.parse_args()

    def load(path):
        text = pathlib.Path(path).read_text()
        if path.endswith(".json"):
            return json.loads(text)
        if path.endswith(".toml"):
            return tomllib.loads(text)
        return yaml.safe_load(text)

    def param(spec):
        path, key = spec.split(":")
        value = load(path)
        for part in key.split("."):
            value = value[part]
        return value

    def files(path):
        if os.path.isdir(path):
            return sorted(str(p) for p in pathlib.Path(path).rglob("*") if p.is_file())
        return [path]

    values = [param(spec) for spec in args.param] + [yaml.safe_load(v) for v in args.value]
    digest = hashlib.sha256(repr(values).encode())
    for path in args.input:
        for name in files(path):
            digest.update(pathlib.Path(name).read_bytes())
    lines = 0
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "a" if args.append else "w") as out:
            out.write(f"{values} {digest.hexdigest()[:16]}\\n")
        lines = len(open(args.out).read().splitlines())
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    score = round(sum(numbers) * 0.5 + int(digest.hexdigest()[:4], 16) / 65536, 6)
    metrics = {"score": score, "digest": int(digest.hexdigest()[:8], 16), "lines": lines}
    if args.wide:
        metrics.update({f"m{i:02d}": round(score + i / 100, 6) for i in range(80)})
        metrics.update({"model": "tree-" + digest.hexdigest()[:6], "note": f"{len(numbers)} numbers"})
    if args.metrics:
        os.makedirs(os.path.dirname(args.metrics) or ".", exist_ok=True)
        with open(args.metrics, "w") as out:
            if args.metrics.endswith(".json"):
                json.dump(metrics, out, sort_keys=True)
            else:
                yaml.safe_dump(metrics, out)
    if args.scratch:
        pathlib.Path(args.scratch).write_bytes(digest.digest() * 64)
    """
)


@dataclass(frozen=True)
class Feature:
    """A DVC project to build and the param sets (``[FILE:]KEY=VALUE`` flags) to run on it."""

    files: dict[str, str]
    param_sets: tuple[tuple[str, ...], ...]
    directory: str = ""  # the DVC project both tools run in, relative to the Git root
    projects: tuple[str, ...] | None = None  # every DVC project of the repository (default: directory)
    before_repro: Callable[[Path], None] | None = None  # gets the Git root, after dvc init
    after_repro: Callable[[Path], None] | None = None
    dvc_mode: tuple[str, ...] = ("--temp",)  # () runs DVC's experiments in the workspace
    uncommitted: tuple[str, ...] = ()  # what the baseline's repro writes that the user leaves untracked

    @property
    def dvc_projects(self) -> tuple[str, ...]:
        return self.projects if self.projects is not None else (self.directory,)


@dataclass(frozen=True)
class Outcome:
    """What one tool produced for one param set."""

    error: str = ""  # why the run failed (one line); empty when it succeeded
    metrics: tuple = ()  # (name, value) pairs, the name without its file, sorted
    locks: dict = field(default_factory=dict)  # path -> parsed dvc.lock of the result commit
    files: tuple[str, ...] = ()  # every path in the result commit

    def __str__(self) -> str:
        if self.error:
            return f"failed: {self.error}"
        return f"metrics {dict(self.metrics)}; files {list(self.files)}; locks {self.locks}"


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m dvc ARGS`` in ``cwd``."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(f"dvc {' '.join(args)} failed in {cwd}:\n{proc.stdout}{proc.stderr}")
    return proc


def git_in(cwd: Path, *args: str) -> str:
    return Git(cwd).run(*args)


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def build(feature: Feature, root: Path) -> Path:
    """The feature's baseline at ``root``: files, git init, dvc init, its steps, dvc repro, one commit."""
    write_files(root, feature.files)
    git_in(root, "init", "-q", "-b", "main")
    for project in feature.dvc_projects:
        dvc(root / project, "init", *(["--subdir"] if project else []))
    if feature.before_repro:
        feature.before_repro(root)
    for project in feature.dvc_projects:
        dvc(root / project, "repro")
    if feature.after_repro:
        feature.after_repro(root)
    git_in(root, "add", "-A", "--", ".", *[f":!{path}" for path in feature.uncommitted])
    git_in(root, "commit", "-q", "-m", "baseline")
    return root


def metric_pairs(values: dict) -> tuple:
    """``(name, value)`` pairs of flat metrics, sorted; names without a ``FILE:`` prefix (tools name files differently)."""
    return tuple(sorted(((name.rsplit(":", 1)[-1], value) for name, value in values.items()), key=repr))


def _leaves(data: dict, prefix: str = ""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def commit_outcome(root: Path, commit: str, metrics: dict) -> Outcome:
    """The outcome recorded in ``commit`` (its lock files and paths) with the metrics a tool showed for it."""
    files = tuple(git_in(root, "ls-tree", "-r", "--name-only", commit).splitlines())
    locks = {path: yaml.safe_load(git_in(root, "show", f"{commit}:{path}")) for path in files if path.endswith("dvc.lock")}
    return Outcome(metrics=metric_pairs(metrics), locks=locks, files=files)


def run_dvc(feature: Feature, root: Path) -> tuple[tuple, list[Outcome]]:
    """Each param set through ``dvc exp run`` in turn; the baseline's metrics and the outcomes, as ``dvc exp show --json`` reports them."""
    cwd = root / feature.directory
    errors: dict[str, str] = {}
    names = sweep_names(feature)
    for name, flags in zip(names, feature.param_sets):
        proc = dvc(cwd, "exp", "run", *feature.dvc_mode, "-n", name, *[f"-S{flag}" for flag in flags], check=False)
        if proc.returncode:
            errors[name] = last_error_line(proc.stdout + proc.stderr)
        elif not feature.dvc_mode:  # back to the baseline before the next experiment in the workspace
            git_in(root, "checkout", "-q", "--", ".")
            dvc(cwd, "checkout", "--force")
    shown = dvc_experiments(cwd)
    outcomes = [Outcome(error=errors[name]) if name in errors else commit_outcome(root, *shown[name]) for name in names]
    return metric_pairs(shown[BASELINE][1]), outcomes


def sweep_names(feature: Feature) -> list[str]:
    """What each param set is called on both sides: p1, p2, ... (the DVC experiment's and the gitexp sweep's name)."""
    return [f"p{number}" for number in range(1, len(feature.param_sets) + 1)]


def dvc_experiments(cwd: Path) -> dict[str, tuple[str, dict]]:
    """Experiment name (and ``BASELINE``) -> (commit, flat ``FILE:NAME`` metrics) from ``dvc exp show --json``."""
    found = {}
    for entry in json.loads(dvc(cwd, "exp", "show", "--json").stdout):
        if entry.get("experiments") is None:
            continue  # the workspace, or a commit without experiments
        found[BASELINE] = (entry["rev"], dvc_metrics(entry["data"]))
        for experiment in entry["experiments"]:
            data = experiment["revs"][0]["data"]
            found[experiment["name"]] = (data["rev"], dvc_metrics(data))
    return found


def dvc_metrics(data: dict) -> dict:
    return {
        f"{path}:{name}": value
        for path, entry in (data.get("metrics") or {}).items()
        for name, value in _leaves(entry.get("data") or {})
    }


def run_gitexp_sweeps(feature: Feature, root: Path, run_gitexp) -> tuple[tuple, list[Outcome]]:
    """Each param set queued as its own sweep, all run by one ``gitexp run -j 2``; the baseline's metrics and the outcomes from ``gitexp show --json``."""
    cwd = root / feature.directory
    names = sweep_names(feature)
    errors: dict[str, str] = {}
    for name, flags in zip(names, feature.param_sets):
        queued = run_gitexp(cwd, "queue", "--name", name, *[part for flag in flags for part in ("--set", flag)])
        if queued.code:
            errors[name] = "gitexp queue: " + queued.err.strip()
    said = ""
    if len(errors) < len(names):
        ran = run_gitexp(cwd, "run", "-j", "2")
        said = ran.err.strip()
        if ran.code not in (0, 1):  # 1: some trial failed, which its result commit says
            return (), [Outcome(error=errors.get(name) or "gitexp run: " + said) for name in names]
    shown = run_gitexp(cwd, "show", "--json")
    if shown.code:
        return (), [Outcome(error=errors.get(name) or "gitexp show: " + shown.err.strip()) for name in names]
    rows = json.loads(shown.out)["trials"]
    baseline = next((row["metrics"] for row in rows if row["trial"] == BASELINE), {})
    trials = {row["sweep"]: row for row in rows if row["trial"] != BASELINE}
    outcomes = [Outcome(error=errors[name]) if name in errors else trial_outcome(root, trials[name], said) for name in names]
    return metric_pairs(baseline), outcomes


def trial_outcome(root: Path, row: dict, run_said: str) -> Outcome:
    """A trial's outcome from its ``show --json`` row; for one that did not run, what ``gitexp run`` said."""
    if row["status"] in ("queued", "running"):
        return Outcome(error=f"trial {row['status']} after gitexp run, which said: {run_said}")
    if row["status"] != "succeeded":
        reason = git_in(root, "log", "-1", "--format=%b", row["commit"])
        return Outcome(error=f"trial {row['status']}: {last_error_line(reason)}")
    return commit_outcome(root, row["commit"], row["metrics"])


def last_error_line(text: str) -> str:
    """The line that says why: DVC's last ``ERROR:`` line, else the first non-empty one."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line]
    return (errors or lines or ["(no output)"])[-1 if errors else 0]


@dataclass(frozen=True)
class Comparison:
    dvc: list[Outcome]
    gitexp: list[Outcome]
    dvc_baseline: tuple = ()  # the baseline's metrics as each tool shows them
    gitexp_baseline: tuple = ()


def compare(feature: Feature, tmp_path: Path, run_gitexp) -> Comparison:
    """Build the feature's baseline, copy it for each tool, run every param set through both."""
    baseline = build(feature, tmp_path / "baseline" / "repo")
    copies = {tool: tmp_path / tool / "repo" for tool in ("dvc", "gitexp")}
    for copy in copies.values():
        shutil.copytree(baseline, copy, symlinks=True)
    dvc_baseline, dvc_outcomes = run_dvc(feature, copies["dvc"])
    gitexp_baseline, gitexp_outcomes = run_gitexp_sweeps(feature, copies["gitexp"], run_gitexp)
    return Comparison(dvc_outcomes, gitexp_outcomes, dvc_baseline, gitexp_baseline)


def assert_same(feature: Feature, result: Comparison) -> None:
    """DVC ran every param set and they differ (the harness works); gitexp's outcomes equal DVC's."""
    assert all(not outcome.error for outcome in result.dvc), f"the harness: DVC failed: {result.dvc}"
    assert len({str(outcome) for outcome in result.dvc}) == len(result.dvc), "the harness: param sets gave equal results"
    for flags, reference, ours in zip(feature.param_sets, result.dvc, result.gitexp):
        assert not ours.error, f"{flags}: gitexp {ours}"
        assert ours.metrics == reference.metrics, f"{flags}: metrics"
        assert ours.locks == reference.locks, f"{flags}: dvc.lock"
        assert ours.files == reference.files, f"{flags}: files in the result commit"
    assert result.gitexp_baseline == result.dvc_baseline, "the baseline's metrics"
