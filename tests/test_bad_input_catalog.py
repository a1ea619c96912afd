"""Bad input, case by case, through the real command line.

Every case must exit with status 2, print exactly one line on stderr that
names the problem and the fix, and leave the repository's refs, HEAD, index
and working tree exactly as they were. Cases that fail because of code
outside this file's reach are marked xfail(strict=True) with where to fix them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitexp.store.git import Git
from gitexp.store.records import Ledger


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    problem: str  # the error line names the problem...
    fix: str  # ...and the fix
    setup: Callable[[Git, Path], Path] | None = None  # prepares the project; answers the directory to run in
    xfail: str = ""
    tags: tuple[str, ...] = field(default=())


def queue(*sets: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    return ("queue", *(part for value in sets for part in ("--set", value)), *extra)


# -- setups: each changes the project (committed, so that only the command under test could leave a trace) --


def commit_file(name: str, text: str | None) -> Callable[[Git, Path], Path]:
    def setup(git: Git, tmp_path: Path) -> Path:
        path = git.root / name
        if text is None:
            path.unlink()
        else:
            path.write_text(text)
        git.run("add", "-A")
        git.run("commit", "-qm", f"change {name}")
        return git.root

    return setup


def sweep_file(text: str) -> Callable[[Git, Path], Path]:
    """A sweep file outside the repository (so it is not untracked work inside it)."""

    def setup(git: Git, tmp_path: Path) -> Path:
        (tmp_path / "sweep.yaml").write_text(text)
        return git.root

    return setup


def uncommitted_change(git: Git, tmp_path: Path) -> Path:
    params = git.root / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.01", "lr: 0.02"))
    return git.root


def queued_sweep(git: Git, tmp_path: Path) -> Path:
    from gitexp.planning.queue import QueueRequest, queue_sweep
    from gitexp.sweep.spec import spec_from_flags

    queue_sweep(git, QueueRequest(spec_from_flags(["train.lr=[0.1, 0.2]"]), "s"))
    return git.root


def outside_any_repository(git: Git, tmp_path: Path) -> Path:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return elsewhere


def repository_without_commits(git: Git, tmp_path: Path) -> Path:
    empty = tmp_path / "empty"
    git.run("init", "-q", str(empty))
    return empty


def shallow_clone(git: Git, tmp_path: Path) -> Path:
    git.run("commit", "-q", "--allow-empty", "-m", "second")
    shallow = tmp_path / "shallow"
    git.run("clone", "-q", "--depth", "1", f"file://{git.root}", str(shallow))
    return shallow


def with_remote(git: Git, tmp_path: Path) -> Path:
    """A bare remote ``origin`` holding the project and its sweep ``s``."""
    queued_sweep(git, tmp_path)
    remote = tmp_path / "remote.git"
    git.run("init", "-q", "--bare", str(remote))
    git.run("push", "-q", str(remote), "main", "refs/heads/exp/*:refs/heads/exp/*", "refs/gitexp/sweeps/*:refs/gitexp/sweeps/*")
    git.run("remote", "add", "origin", str(remote))
    return git.root


CASES = {
    # the sweep language
    "unclosed list": Case(queue("train.lr=[0.1"), "'[' is never closed", "add ']'"),
    "missing argument": Case(queue("train.lr=range(1,)"), "expected a value", "range(1,>>>)"),
    "wrong number of arguments": Case(queue("train.lr=logspace(1,2)"), "logspace takes 3 or 4 arguments", "write logspace(start, stop, num"),
    "bounds the wrong way round": Case(queue("train.lr=uniform(1,0,3)"), "low must be below high", "swap or widen"),
    "unknown function": Case(queue("train.lr=foo(1)"), "unknown function 'foo'", "use one of choice"),
    "no '='": Case(queue("train.lr"), "has no '='", "write KEY=EXPR"),
    "empty key": Case(queue("=1"), "is empty", "write a dotted path"),
    "key set twice": Case(queue("seed=[1,2]", "seed=[3]"), "seed is set twice", "give each key once"),
    "continuous axis in a grid": Case(queue("train.lr=uniform(0,1)"), "continuous distribution", "give it a count"),
    "empty list": Case(queue("train.lr=[]"), "empty list", "give at least one value"),
    "nothing to sweep": Case(("queue",), "nothing to sweep", "give --set KEY=VALUES"),
    "unknown strategy": Case(queue("train.lr=1", extra=("--strategy", "nope")), "unknown strategy 'nope'", "use one of grid"),
    "zero trials": Case(queue("train.lr=1", extra=("--num-trials", "0")), "max_trials 0", "write e.g. 20"),
    "seed that is not a number": Case(queue("train.lr=1", extra=("--seed", "abc")), "'abc' is not a valid integer", "see gitexp queue --help"),
    # keys and types
    "unknown key": Case(queue("train.nokey=1"), "no key 'train.nokey'", "did you mean"),
    "key below a number": Case(queue("train.lr.x=1"), "no key 'train.lr.x'", "did you mean train.lr"),
    "list index out of range": Case(queue("train.layers.5=1"), "no key 'train.layers.5'", "did you mean"),
    "number for a mapping": Case(queue("train=1"), "train is a mapping", "set its keys"),
    "text for a number": Case(queue("train.lr=abc"), "is a number in the params file but 'abc' is text", "quote it"),
    "text among numbers": Case(queue("train.lr=[1, abc]"), "but 'abc' is text", "quote it"),
    "boolean for a number": Case(
        queue("train.n_est=true"),
        "train.n_est is a number",
        "give a number",
    ),
    "params file dvc.yaml does not list": Case(queue("other.yaml:a=1"), "dvc.yaml lists no params from other.yaml", "add them to a stage's params"),
    # files
    "invalid YAML in the params file": Case(
        queue("train.lr=1"), "unable to read: 'params.yaml', YAML file structure is corrupted (while parsing a flow sequence, line 1)", "fix the file and commit it", commit_file("params.yaml", "train: [unclosed\n")
    ),
    "invalid YAML in a sweep file": Case(
        ("queue", "--sweep", "../sweep.yaml"), "invalid YAML", "fix the syntax", sweep_file("matrix:\n  train.lr: [1, 2\n")
    ),
    "sweep file that is a list": Case(("queue", "--sweep", "../sweep.yaml"), "expected a mapping", "sweep.yaml", sweep_file("- a\n- b\n")),
    "unknown key in a sweep file": Case(
        ("queue", "--sweep", "../sweep.yaml"), "unknown key 'bogus'", "valid keys are", sweep_file("matrix:\n  train.lr: [1]\nbogus: 1\n")
    ),
    "empty list in a sweep file": Case(
        ("queue", "--sweep", "../sweep.yaml"), "an empty list of values", "give at least one value", sweep_file("matrix:\n  train.lr: []\n")
    ),
    "missing sweep file": Case(("queue", "--sweep", "missing.yaml"), "does not exist", "check the path"),
    "missing dvc.yaml": Case(queue("train.lr=1"), "no dvc.yaml", "create one with dvc stage add", commit_file("dvc.yaml", None)),
    "invalid dvc.yaml": Case(queue("train.lr=1"), "unable to read: 'dvc.yaml', YAML file structure is corrupted", "fix the file and commit it", commit_file("dvc.yaml", "stages: [oops\n")),
    "uncommitted params": Case(queue("train.lr=2"), "uncommitted changes to params.yaml", "--include-uncommitted", uncommitted_change),
    # the repository
    "not a repository": Case(("status",), "not inside a Git repository", "run gitexp from a Git checkout", outside_any_repository),
    "repository without commits": Case(queue("train.lr=1"), "no commits yet", "commit your DVC project", repository_without_commits),
    "--rev that names nothing": Case(queue("train.lr=1", extra=("--rev", "nope")), "--rev 'nope' names no commit", "give a branch"),
    "shallow clone, baseline beyond its history": Case(
        queue("train.lr=1", extra=("--rev", "HEAD~1")),
        "shallow",
        "git fetch --unshallow",
        shallow_clone,
    ),
    # names
    "sweep name with a space": Case(queue("train.lr=1", extra=("--name", "bad name")), "'bad name' is not allowed", "use letters, digits"),
    "sweep name with '..'": Case(queue("train.lr=1", extra=("--name", "a..b")), "'a..b' is not allowed", "no '..'"),
    "sweep name with a control character": Case(queue("train.lr=1", extra=("--name", "a\x1b[31mb")), "is not allowed", "use letters, digits"),
    "sweep name with a newline": Case(queue("train.lr=1", extra=("--name", "a\nb")), "is not allowed", "use letters, digits"),
    "sweep name over 200 characters": Case(queue("train.lr=1", extra=("--name", "a" * 201)), "201 characters long", "use at most"),
    "sweep name ending in .lock": Case(queue("train.lr=1", extra=("--name", "x.lock")), "'x.lock' is not allowed", "not ending in '.lock'"),
    "sweep name that exists": Case(queue("train.lr=1", extra=("--name", "s")), "a sweep named 's' exists already", "choose another --name", queued_sweep),
    # sizes
    "huge range": Case(queue("train.lr=range(0,10000000)"), "range gives 10000000 values", "use fewer"),
    "huge grid": Case(
        queue("train.lr=range(0,1000)", "train.n_est=range(0,1000)", "seed=range(0,10)"), "makes 10000000 trials", "limit it with --num-trials"
    ),
    "more trials than the space holds": Case(
        queue("train.lr=[1,2]", extra=("--strategy", "random", "--num-trials", "5")),
        "only 2",
        "--num-trials",
    ),
    # running
    "trial that does not exist": Case(("run", "nope/t001"), "no trial named 'nope/t001'", "gitexp show lists the trials"),
    "logs of a trial that does not exist": Case(("logs", "s/t999"), "no trial named 's/t999'", "gitexp show lists", queued_sweep),
    "trial name with '..'": Case(("run", "../t001"), "no trial named '../t001'", "gitexp show lists"),
    "sweep that does not exist": Case(("show", "missing"), "no sweep named 'missing'", "see gitexp status"),
    "metric that does not exist": Case(("show", "--sort-by", "nope"), "no metric named 'nope'", "pick one of them"),
    "no parallel slots": Case(("run", "-j", "0"), "-j 0", "must be 1 or more"),
    "zero timeout": Case(("run", "--timeout", "0"), "--timeout 0", "above 0"),
    "stage that does not exist": Case(("run", "--stage", "nope"), "no stage 'nope'", "name one of them with --stage", queued_sweep),
    # the remote worker
    "remote that does not exist": Case(("worker", "--remote", "nope"), "'nope' is neither a remote", "git remote add NAME URL"),
    "remote path that does not exist": Case(("worker", "--remote", "/nonexistent/x.git"), "neither a remote", "pass its URL"),
    "remote that looks like an option": Case(("worker", "--remote", "-x"), "is not a remote name or URL", "such as origin"),
    "remote that cannot be reached": Case(("worker", "--remote", "https://127.0.0.1:1/x.git"), "cannot reach", "check the remote's URL"),
    "sweep the remote does not have": Case(("worker", "--remote", "origin", "--sweep", "nope"), "has no sweep named 'nope'", "push the sweep", with_remote),
    "duration that is not one": Case(("worker", "--remote", "origin", "--stale-after", "10x"), "is not a duration", "such as 90s, 10m or 1h"),
    "stale-after shorter than heartbeats": Case(("worker", "--remote", "origin", "--stale-after", "30s"), "too short", "--stale-after 10m"),
    "negative idle exit": Case(("worker", "--remote", "origin", "--idle-exit", "-1"), "--idle-exit -1", "0 or more"),
    "worker id with a space": Case(("worker", "--remote", "origin", "--worker-id", "bad id"), "worker id 'bad id' is not allowed", "use up to"),
}


def params(cases: dict[str, Case]):
    for name, case in cases.items():
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        yield pytest.param(case, id=name, marks=marks)


def test_the_catalog_is_large_enough():
    assert len(CASES) >= 30


def pytest_generate_tests(metafunc):
    """The table is read once the whole module has run, so the CASES.update blocks below count too."""
    if metafunc.function.__name__ == "test_bad_input":
        metafunc.parametrize("case", list(params(CASES)))


def test_bad_input(project, tmp_path, run_gitexp, repo_state, case):
    cwd = case.setup(project, tmp_path) if case.setup else project.root
    repository = Git(cwd) if (cwd / ".git").exists() else project

    def state():  # a repository without commits has no HEAD to show, only (no) refs and files
        return repo_state(repository) if repository.rev_parse("HEAD") else repository.run("status", "--porcelain")

    before = state()
    result = run_gitexp(cwd, *case.argv)
    assert result.code == 2, result
    assert result.err.startswith("gitexp: error: ") and result.err.count("\n") == 1, result.err
    assert case.problem in result.err and case.fix in result.err, result.err
    assert state() == before


# -- input that looks odd but is fine ------------------------------------------------------


def test_detached_head_queues_and_runs_and_stays_detached(project, run_gitexp):
    project.run("checkout", "-q", "--detach")
    head = project.run("rev-parse", "HEAD")
    assert run_gitexp(project.root, "queue", "--name", "d", "--set", "train.lr=[0.1, 0.2]").code == 0
    assert run_gitexp(project.root, "run", "d").code == 0
    assert project.run("rev-parse", "HEAD") == head
    assert project.run("symbolic-ref", "-q", "HEAD", check=False) == ""  # still detached
    assert project.run("status", "--porcelain") == ""
    assert [trial.status for trial in Ledger(project).trials(["d"])] == ["succeeded"] * 2


def test_shallow_clone_queues_and_runs(project, tmp_path, run_gitexp):
    shallow = Git(shallow_clone(project, tmp_path))
    assert run_gitexp(shallow.root, "queue", "--name", "sh", "--set", "train.lr=0.1").code == 0
    assert run_gitexp(shallow.root, "run", "sh").code == 0
    assert "succeeded" in run_gitexp(shallow.root, "status").out


# -- secrets: a remote's credentials never appear in the line --
CASES.update({
    "worker-remote-url-with-token-and-control-character": Case(
        ("worker", "--remote", "https://x-access-token:ghp_S3cr3tT0k3nS3cr3tT0k3nS3cr3tT0k3n@h/r.git\x01"),
        "--remote 'https://***@h/r.git\\x01' is not a remote name or URL", "give one such as origin",
    ),
    "worker-remote-scp-like-with-password": Case(
        ("worker", "--remote", "user:hunter2-S3cr3t@nowhere:team/repo.git"),
        "'user:***@nowhere:team/repo.git' is neither a remote of this repository", "git remote add NAME URL",
    ),
})


# -- atomic: validate first, write after (run queues, extends or locks nothing before it refuses) --


def with_metrics_then(*setups: Callable[[Git, Path], Path]) -> Callable[[Git, Path], Path]:
    """The baseline holds metrics.json (so a metric it lacks is known to be missing), then ``setups``."""

    def setup(git: Git, tmp_path: Path) -> Path:
        commit_file("metrics.json", '{"score": 0.5}\n')(git, tmp_path)
        for more in setups:
            more(git, tmp_path)
        return git.root

    return setup


ATOMIC_CASES = {
    "run --set steering by a metric the project lacks": Case(
        ("run", "--set", "train.lr=[0.1, 0.2]", "--objective", "nope"), "has 'nope'", "metrics: score", with_metrics_then()
    ),
    "run --sweep steering by a metric the project lacks": Case(
        ("run", "--sweep", "../sweep.yaml"),
        "has 'nope'",
        "metrics: score",
        with_metrics_then(sweep_file("matrix:\n  train.lr: [0.1, 0.2]\nobjective: {metric: nope, goal: maximize}\n")),
    ),
    "run --set with a stage that does not exist": Case(
        ("run", "--set", "train.lr=[0.1, 0.2]", "--stage", "nope"), "no stage 'nope'", "name one of them with --stage"
    ),
    "run of a named trial with a stage that does not exist": Case(
        ("run", "s/t001", "--stage", "nope"), "no stage 'nope'", "name one of them with --stage", queued_sweep
    ),
    "run --more on a grid that has run every point": Case(
        ("run", "s", "--more", "2"), "0 untried point(s) of its 2", "queue a new sweep", queued_sweep
    ),
}
CASES.update(ATOMIC_CASES)
