"""Bad input, case by case, through the real command line.

Every case must exit with status 2, print exactly one line on stderr that
names the problem and the fix, and leave the repository's refs, HEAD, index
and working tree exactly as they were. Cases that fail because of code
outside this file's reach are marked xfail(strict=True) with where to fix them.
"""

from __future__ import annotations

import time
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
    env: dict[str, str] = field(default_factory=dict)  # variables the command sees besides the test's


def queue(*sets: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    return ("queue", *(part for value in sets for part in ("--set", value)), *extra)


# -- setups: each changes the project (committed, so that only the command under test could leave a trace) --


def commit_file(name: str, text: str | bytes | None, *more: tuple[str, str]) -> Callable[[Git, Path], Path]:
    """Commit ``text`` as ``name`` (None deletes it), and any more (name, text) pairs."""

    def setup(git: Git, tmp_path: Path) -> Path:
        for each, content in ((name, text), *more):
            path = git.root / each
            path.parent.mkdir(parents=True, exist_ok=True)
            if content is None:
                path.unlink()
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
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


def then(*setups: Callable[[Git, Path], Path]) -> Callable[[Git, Path], Path]:
    """Several setups in turn; the last one's directory is where the command runs."""

    def setup(git: Git, tmp_path: Path) -> Path:
        return [each(git, tmp_path) for each in setups][-1]

    return setup


def branch(name: str) -> Callable[[Git, Path], Path]:
    def setup(git: Git, tmp_path: Path) -> Path:
        git.run("branch", name)
        return git.root

    return setup


def deleted_directory(git: Git, tmp_path: Path) -> Path:
    return git.root / "was-here"


def with_json_params(text: str) -> Callable[[Git, Path], Path]:
    """params.json, listed whole in dvc.yaml beside params.yaml's train section."""
    dvc_yaml = "stages:\n  train:\n    cmd: python train.py\n    params:\n      - train\n      - params.json:\n"
    return commit_file("params.json", text, ("dvc.yaml", dvc_yaml))


def with_metrics(git: Git, tmp_path: Path) -> Path:
    """The baseline has its metrics committed, so they tell which metric names exist."""
    return commit_file("metrics.json", '{"score": 0.5, "test": {"auc": 0.25}}\n')(git, tmp_path)


def dvc_yaml(text: str) -> Callable[[Git, Path], Path]:
    return commit_file("dvc.yaml", text)


def sweep_case(text: str, problem: str, fix: str) -> Case:
    return Case(("queue", "--sweep", "../sweep.yaml"), problem, fix, sweep_file(text))


def remote_case(*options: str, problem: str, fix: str) -> Case:
    return Case(("worker", "--remote", "origin", *options), problem, fix)


STAGE = "stages:\n  train:\n    cmd: python train.py\n"


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
    # -- issue 12: the sweep language --
    "integer beyond Python's 4,300 digits": Case(queue("train.lr=1" + "0" * 5000), "5001 digits, more than can be read", "write it as a float"),
    "integer beyond 4,300 digits in a list": Case(queue("train.lr=[1, " + "9" * 4400 + "]"), "4400 digits", "quote it to keep it as text"),
    "lognormal that overflows": Case(queue("train.lr=lognormal(1000, 1, 3)"), "draws values beyond the largest float", "use a smaller loc or scale"),
    "normal that overflows": Case(queue("train.lr=normal(1e308, 1e308, 20)"), "beyond the largest float", "use a smaller loc or scale"),
    "overflowing draw of a random sweep": Case(
        queue("train.lr=qlognormal(1000, 1, 1)", extra=("--strategy", "random", "--num-trials", "2")), "beyond the largest float", "smaller loc"
    ),
    "lone surrogate escape": Case(queue('train.loss="\\ud800"'), "lone surrogate", "write the character itself"),
    "low surrogate escape": Case(queue('train.loss="a\\udfff"'), "lone surrogate", "write the character itself"),
    "bytes that are not UTF-8 on the command line": Case(queue("train.loss=\udcff"), "lone surrogate", "give valid text"),
    "key with bytes that are not UTF-8": Case(queue("train.\udcff=1"), "lone surrogate", "give valid text"),
    "unterminated string": Case(queue("train.loss='abc"), "unterminated string", "close it with '"),
    "unknown escape": Case(queue('train.loss="a\\qb"'), "unknown escape \\q", "use single quotes"),
    "escape beyond Unicode": Case(queue('train.loss="\\UFFFFFFFF"'), "unknown escape \\U", "use single quotes"),
    "values not separated": Case(queue("train.loss=[a 'b']"), "missing ','", "separate values with ','"),
    "bracket closed by another": Case(queue("train.lr=[1, 2)"), "')' does not close '['", "write ']'"),
    "bracket that closes nothing": Case(queue("train.lr=1]"), "']' closes nothing", "remove it"),
    "call inside a list": Case(queue("train.lr=[range(1, 3)]"), "inside a value", "must be the whole EXPR"),
    "value after a call": Case(queue("train.lr=range(1, 3) 4"), "after the call", "must be the whole EXPR"),
    "empty EXPR": Case(queue("train.lr="), "empty EXPR", "give a value"),
    "range step zero": Case(queue("train.lr=range(0, 1, 0)"), "step must not be zero", "range(0, 1, 0.1)"),
    "empty range": Case(queue("train.lr=range(5, 1)"), "is empty", "flip the step's sign"),
    "range of text": Case(queue("train.lr=range(a, 3)"), "start must be a number", "got 'a'"),
    "range with too many arguments": Case(queue("train.lr=range(1, 2, 3, 4)"), "range takes 1 to 3 arguments", "write range(start, stop"),
    "linspace of no values": Case(queue("train.lr=linspace(0, 1, 0)"), "num must be a whole number of at least 1", "got 0"),
    "linspace of a fractional count": Case(queue("train.lr=linspace(0, 1, 2.5)"), "num must be a whole number", "got 2.5"),
    "huge linspace": Case(queue("train.lr=linspace(0, 1, 1000000)"), "more than 100000", "use fewer"),
    "logspace that overflows": Case(queue("train.lr=logspace(1, 400, 3)"), "overflows to infinity", "use smaller bounds"),
    "logspace with a negative base": Case(queue("train.lr=logspace(1, 2, 3, -1)"), "base must be positive", "got -1"),
    "geomspace from zero": Case(queue("train.lr=geomspace(0, 1, 3)"), "must not be zero", "never reaches 0"),
    "geomspace across zero": Case(queue("train.lr=geomspace(-1, 1, 3)"), "same sign", "geomspace"),
    "NaN bound": Case(queue("train.lr=uniform(.nan, 1, 3)"), "low must be a number", "got nan"),
    "infinite bound": Case(queue("train.lr=uniform(0, .inf, 3)"), "high must be a number", "got inf"),
    "log-uniform from zero": Case(queue("train.lr=loguniform(0, 1, 3)"), "log-uniform bounds must be positive", "low=1e-05"),
    "normal without spread": Case(queue("train.lr=normal(0, 0, 3)"), "scale (the standard deviation) must be positive", "got 0"),
    "quantum that is zero": Case(queue("train.lr=quniform(0, 1, 0, 3)"), "q must be positive", "got 0"),
    "no multiple of the quantum": Case(queue("train.lr=quniform(0.1, 0.2, 1, 3)"), "no multiple of q", "lower q or widen"),
    "randint of fractions": Case(queue("train.n_est=randint(0.5, 3)"), "randint bounds must be whole numbers", "randint(1, 10)"),
    "distribution drawn no times": Case(queue("train.lr=uniform(0, 1, 0)"), "size must be a whole number of at least 1", "got 0"),
    "pvalues that do not add up": Case(queue("train.loss=pvalues([[a, 0.5], [b, 0.6]])"), "sum", "pvalues"),
    "pvalues without pairs": Case(queue("train.loss=pvalues(a)"), "pvalues takes one list", "pvalues([[a, 0.2], [b, 0.8]])"),
    "mapping without a colon": Case(queue("train.lr={a 1}"), "expected ': ' after the key", "train.lr={a 1}"),
    "misspelt function": Case(queue("train.lr=lnspace(0, 1, 3)"), "did you mean 'linspace'", "use one of"),
    "file that is no params file": Case(queue("notes.txt:a=1"), "is not KEY or FILE:KEY", "params.yaml:train.lr"),
    "key with an empty part": Case(queue("train..lr=1"), "empty or has an empty part", "write a dotted path"),
    # -- issue 12: keys and types --
    "list index that is a non-ASCII digit": Case(queue("train.layers.²=1"), "no key 'train.layers.²'", "did you mean train.layers.1"),
    "list index in Arabic-Indic digits": Case(queue("train.layers.١=1"), "no key 'train.layers.١'", "did you mean"),
    "zero-padded list index": Case(queue("train.layers.01=1"), "no key 'train.layers.01'", "did you mean train.layers.1"),
    "one list item under two names": Case(queue("train.layers.1=[1, 2]", "train.layers.01=[3]"), "no key 'train.layers.01'", "did you mean"),
    "negative list index": Case(queue("train.layers.-1=1"), "no key 'train.layers.-1'", "did you mean"),
    "list index of a thousand digits": Case(queue("train.layers." + "1" * 1000 + "=1"), "has no key", "its keys are"),
    "key below a list item": Case(queue("train.layers.0.x=1"), "no key 'train.layers.0.x'", "did you mean"),
    "mapping over a number": Case(queue("train.lr={a: 1}"), "train.lr is a number in the params file but {'a': 1} is a mapping", "give a number"),
    "list over a number": Case(queue("train.lr=[[1, 2]]"), "but [1, 2] is a list", "give a number"),
    "list over text": Case(queue("train.loss=[[a, b]]"), "train.loss is text in the params file but ['a', 'b'] is a list", "give text"),
    "mapping over true/false": Case(queue("train.fail={a: 1}"), "train.fail is true/false in the params file", "give true/false"),
    "list over a number, as a constant": Case(
        ("queue", "--sweep", "../sweep.yaml"), "is a list", "give a number", sweep_file("params:\n  train.lr: [1, 2]\nmatrix:\n  seed: [1]\n")
    ),
    "text for true/false": Case(queue("train.fail=maybe"), "train.fail is true/false in the params file but 'maybe' is not", "give true/false"),
    "number for true/false": Case(queue("train.fail=1"), "train.fail is true/false", "give true/false"),
    "true/false for text": Case(queue("train.loss=true"), "train.loss is text in the params file but True is not", "quote a text value"),
    "unknown constant key": Case(
        ("queue", "--sweep", "../sweep.yaml"), "no key 'train.nokey'", "did you mean", sweep_file("params:\n  train.nokey: 1\nmatrix:\n  seed: [1]\n")
    ),
    # -- issue 12: params files --
    "params file that is not UTF-8": Case(
        queue("train.lr=1"), "is not valid utf-8", "fix the file and commit it", commit_file("params.yaml", b"train:\n  lr: 0.01\n  loss: \xff\xfe\n")
    ),
    "JSON params file that is not UTF-8": Case(
        queue("params.json:lr=1"), "params.json is not UTF-8 text (byte 0xff on line 2)", "save it as UTF-8", with_json_params(b'{"lr": 1,\n "a": "\xff"}')
    ),
    "TOML null": Case(
        queue("params.toml:lr=1"), "params.toml cannot be parsed", "fix the file and commit it",
        commit_file("params.toml", "lr = 0.1\nx = null\n", ("dvc.yaml", STAGE + "    params:\n      - params.toml:\n")),
    ),
    "TOML that does not parse": Case(
        queue("params.toml:lr=1"), "params.toml", "fix the file and commit it",
        commit_file("params.toml", "lr = = 1\n", ("dvc.yaml", STAGE + "    params:\n      - params.toml:\n")),
    ),
    "JSON with a trailing comma": Case(queue("params.json:lr=1"), "params.json is not valid JSON", "fix it and commit it", with_json_params('{"lr": 0.1,}')),
    "JSON with NaN": Case(queue("params.json:lr=1"), "params.json holds NaN, which is not JSON", "write null or a string", with_json_params('{"lr": NaN}')),
    "JSON with Infinity": Case(queue("params.json:lr=1"), "holds -Infinity", "write null or a string", with_json_params('{"lr": -Infinity}')),
    "JSON with a key twice": Case(
        queue("params.json:b=2"), "params.json has the key 'lr' twice in one object", "keep one", with_json_params('{"lr": 0.1, "lr": 0.2, "b": 1}')
    ),
    "JSON in single quotes": Case(queue("params.json:lr=1"), "is not valid JSON", "fix it and commit it", with_json_params("{'lr': 0.1}")),
    "YAML key twice": Case(
        queue("train.lr=1"), "while constructing a mapping", "fix the file and commit it", commit_file("params.yaml", "train:\n  lr: 0.01\n  lr: 0.02\n")
    ),
    "YAML merge key twice": Case(
        queue("train.lr=1"), "YAML file structure is corrupted", "fix the file and commit it",
        commit_file("params.yaml", "base: &b\n  lr: 0.01\ntrain:\n  <<: *b\n  <<: *b\n"),
    ),
    "YAML merge of a number": Case(
        queue("train.lr=1"), "params.yaml", "fix the file and commit it", commit_file("params.yaml", "train:\n  lr: 0.01\n  <<: 5\n")
    ),
    "YAML with U+0085 in a plain value": Case(
        queue("train.lr=2"), "params.yaml", "fix the file and commit it", commit_file("params.yaml", "train:\n  lr: 0.01\n  loss: a\x85b\n")
    ),
    "YAML with a tab for indentation": Case(
        queue("train.lr=2"), "YAML file structure is corrupted", "fix the file and commit it", commit_file("params.yaml", "train:\n\tlr: 0.01\n")
    ),
    "params file that is a list": Case(queue("train.lr=1"), "params.yaml", "fix the file and commit it", commit_file("params.yaml", "- 1\n- 2\n")),
    "params file symlinked out of the repository": Case(
        queue("train.lr=1"), "leads outside the repository", "commit the file itself", lambda git, tmp: _link_params(git, "../../outside.yaml")
    ),
    "params file symlinked in a loop": Case(
        queue("train.lr=1"), "round in a loop", "link to a file inside the repository", lambda git, tmp: _link_params(git, "params.yaml")
    ),
    # -- issue 12: dvc.yaml --
    "wdir that is a number": Case(queue("train.lr=1"), "expected str in stages -> train -> wdir", "fix the file and commit it", dvc_yaml(STAGE + "    wdir: 5\n")),
    "stage params that are a number": Case(
        queue("train.lr=1"), "expected a list in stages -> train -> params", "fix the file and commit it", dvc_yaml(STAGE + "    params: 5\n")
    ),
    "top-level params that are a number": Case(queue("train.lr=1"), "expected a list in params", "fix the file", dvc_yaml("params: 5\n" + STAGE)),
    "stages that are a list": Case(queue("train.lr=1"), "expected a dictionary in stages", "fix the file", dvc_yaml("stages: [1]\n")),
    "stage without a command": Case(
        queue("train.lr=1"), "required key not provided in stages -> train -> cmd", "fix the file", dvc_yaml("stages:\n  train:\n    deps: [a]\n")
    ),
    "deps that are a mapping": Case(queue("train.lr=1"), "in stages -> train -> deps", "fix the file", dvc_yaml(STAGE + "    deps: {a: 1}\n")),
    "unknown stage key": Case(queue("train.lr=1"), "stages -> train -> bogus", "fix the file", dvc_yaml(STAGE + "    bogus: 1\n")),
    "metrics that are a number": Case(queue("train.lr=1"), "stages -> train -> metrics", "fix the file", dvc_yaml(STAGE + "    metrics: 5\n")),
    # -- issue 12: options --
    "NaN timeout": Case(("run", "--timeout", "nan"), "--timeout nan", "give a number of seconds above 0"),
    "infinite timeout": Case(("run", "--timeout", "inf"), "--timeout inf", "give a number of seconds above 0"),
    "negative timeout": Case(("run", "--timeout", "-5"), "--timeout -5", "above 0"),
    "timeout that is not a number": Case(("run", "--timeout", "soon"), "'soon' is not a valid float", "see gitexp run --help"),
    "negative parallel slots": Case(("run", "-j", "-1"), "-j -1", "must be 1 or more"),
    "--more without a sweep": Case(("run", "--more", "3"), "--more extends one sweep", "gitexp run my-sweep --more 10"),
    "copy path that does not exist": Case(("run", "-C", "missing.bin"), "missing.bin", "", queued_sweep),
    "NaN idle exit": remote_case("--idle-exit", "nan", problem="--idle-exit nan", fix="0 or more"),
    "infinite idle exit": remote_case("--idle-exit", "inf", problem="--idle-exit inf", fix="0 or more"),
    "NaN heartbeat": remote_case("--heartbeat", "nan", problem="heartbeat and poll intervals", fix="above 0 seconds"),
    "zero poll": remote_case("--poll", "0", problem="heartbeat and poll intervals", fix="above 0 seconds"),
    "NaN stale-after": remote_case("--stale-after", "nan", problem="is not a duration", fix="such as 90s"),
    "worker without slots": remote_case("-j", "0", problem="-j 0", fix="must be 1 or more"),
    "worker with a NaN timeout": remote_case("--timeout", "nan", problem="--timeout nan", fix="above 0"),
    "concurrency 0": Case(queue("train.lr=1", extra=("--concurrency", "0")), "concurrency must be a whole number of at least 1", "got 0"),
    "negative concurrency": Case(queue("train.lr=1", extra=("--concurrency", "-3")), "concurrency must be a whole number of at least 1", "got -3"),
    "negative trial count": Case(queue("train.lr=1", extra=("--num-trials", "-1")), "max_trials -1", "write e.g. 20"),
    "goal without objective": Case(queue("train.lr=1", extra=("--goal", "minimize")), "--goal needs --objective", "name the metric"),
    "goal that is no goal": Case(queue("train.lr=1", extra=("--goal", "up")), "'up' is not one of", "see gitexp queue --help"),
    "empty objective": Case(queue("train.lr=1", extra=("--objective", " ")), "needs a metric name", "name one such as"),
    "objective the metrics files lack": Case(
        queue("train.lr=1", extra=("--objective", "nope")), "no metrics file of the project has 'nope'", "name one of them", with_metrics
    ),
    "objective misspelt": Case(queue("train.lr=1", extra=("--objective", "scor")), "did you mean 'score'", "name one of them", with_metrics),
    "objective of a project without metrics": Case(
        queue("train.lr=1", extra=("--objective", "score")), "declares no metrics files", "add metrics: to a stage",
        dvc_yaml(STAGE + "    params: [train]\n"),
    ),
    "early-stopping metric the metrics files lack": Case(
        ("queue", "--sweep", "../sweep.yaml"), "no metrics file of the project has 'los'", "name one of them",
        then(with_metrics, sweep_file("matrix:\n  train.lr: [1]\nearly_stopping: [{metric: los, value: 1, goal: min}]\n")),
    ),
    "bayes without a count": Case(queue("train.lr=uniform(0, 1)", extra=("--strategy", "bayes", "--objective", "score")), "needs a number of trials", "--num-trials N"),
    "hyperband without its options": Case(queue("train.lr=[1, 2]", extra=("--strategy", "hyperband")), "needs the option resource", "train.epochs"),
    "random without a count on a continuous space": Case(queue("train.lr=uniform(0, 1)", extra=("--strategy", "random")), "needs a number of trials", "--num-trials"),
    "--rev that names a tree": Case(queue("train.lr=1", extra=("--rev", "HEAD^{tree}")), "names no commit", "give a branch"),
    "sweep file that is a folder": Case(("queue", "--sweep", "."), "is a directory", "see gitexp queue --help"),
    "two output formats": Case(("show", "--json", "--csv"), "choose one of --json, --csv and --md", "choose one"),
    "sort order that is none": Case(("show", "--sort-order", "up"), "'up' is not one of", "see gitexp show --help"),
    "report below a file": Case(("report", "-o", "params.yaml/dir/x.html"), "params.yaml is a file, not a folder", "write the report elsewhere", queued_sweep),
    "report below a file, markdown": Case(("report", "s", "-o", "dvc.yaml/x.md"), "dvc.yaml is a file, not a folder", "write the report elsewhere", queued_sweep),
    "report in an unknown format": Case(("report", "s", "--format", "pdf"), "--format 'pdf'", "use md or html", queued_sweep),
    "report of a sweep that does not exist": Case(("report", "nope"), "no sweep named 'nope'", "see gitexp status", queued_sweep),
    "apply of a trial that does not exist": Case(("apply", "s/t999"), "no trial named 's/t999'", "gitexp show lists", queued_sweep),
    "remove of a trial that does not exist": Case(("remove", "s/t999"), "s/t999", "gitexp show", queued_sweep),
    "check of a file that does not exist": Case(("check", "missing.yaml"), "does not exist", "check the path"),
    "check of a bad flag": Case(("check", "--set", "train.lr=[1"), "is never closed", "add ']'"),
    "--project that is no DVC project": Case(("--project", "sub", "status"), "not a DVC project", "give the folder where dvc init ran"),
    "empty sweep name": Case(queue("train.lr=1", extra=("--name", "")), "the sweep name is empty", "give a name such as"),
    "empty worker id": remote_case("--worker-id", "", problem="worker id '' is not allowed", fix="use up to"),
    "--more of no trials": Case(("run", "s", "--more", "0"), "--more 0", "of 1 or more", queued_sweep),
    "report listing negative trials": Case(("report", "s", "--top", "-1"), "--top -1", "or 0 for all of them", queued_sweep),
    "report against a baseline that names nothing": Case(("report", "s", "--baseline", "nope"), "--baseline 'nope' names no commit", "give a branch", queued_sweep),
    "pull from a remote that does not exist": Case(("pull",), "no Git remote named 'origin'", "git remote add origin URL"),
    "ci plan with no run jobs": Case(("ci", "plan", "--chunks", "0"), "the number of run jobs is 0", "give --chunks 1 or more"),
    "ci plan with chunks beyond GitHub's matrix": Case(("ci", "plan", "--chunk-size", "300"), "chunk size 300 is out of range", "give --chunk-size 1 to 256"),
    "ci init with a zero timeout": Case(("ci", "init", "--timeout-minutes", "0"), "--timeout-minutes 0 is out of range", "give 1 to 360"),
    "ci init with an unknown runner": Case(("ci", "init", "--runner", "nope"), "unknown runner 'nope'", "use --runner github or --runner cml"),
    "ci init of cml without a cloud": Case(("ci", "init", "--runner", "cml"), "--runner cml needs a cloud", "add --cloud aws"),
    "ci init with a NaN idle timeout": Case(
        ("ci", "init", "--runner", "cml", "--cloud", "aws", "--idle-timeout", "nan"), "--idle-timeout 'nan' is not a duration", "such as 5min"
    ),
    "ci init with a negative disk": Case(("ci", "init", "--runner", "cml", "--cloud", "aws", "--cloud-hdd-size", "-1"), "is not a disk size", "give GB"),
    "ci init with a region of two lines": Case(
        ("ci", "init", "--runner", "cml", "--cloud", "aws", "--cloud-region", "a\nb"), "--cloud-region 'a\\nb' is not valid", "use letters, digits"
    ),
    "ci init with an empty Python": Case(("ci", "init", "--python", ""), "is not a Python version", "give 3.10 or newer"),
    "ci run of a trial that is not here": Case(("ci", "run", "--trial", "nope"), "no trial branch 'nope' here", "git checkout nope"),
    "copy path outside the repository": Case(("run", "-C", "/etc/passwd"), "not inside the repository", "name a file or folder of the project"),
    # -- issue 12: the repository --
    "repository of another user": Case(
        ("status",), "belongs to another user", "git config --global --add safe.directory", env={"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"}
    ),
    "working directory that was deleted": Case(("status",), "does not exist (any more)", "cd into your project again", deleted_directory),
    "branch 'exp' blocking the trials": Case(queue("train.lr=1"), "the branch 'exp' keeps Git from creating the trial branches", "git config gitexp.prefix", branch("exp")),
    "branch 'exp/s' blocking a sweep s": Case(
        queue("train.lr=1", extra=("--name", "s")), "the branch 'exp/s' keeps Git", "git branch -m exp/s NEW-NAME", branch("exp/s")
    ),
    "ci init where .github/workflows is a file": Case(
        ("ci", "init"), ".github/workflows is a file", "move or remove it", commit_file(".github/workflows", "not a folder\n")
    ),
    "ci init where .github is a file": Case(("ci", "init"), ".github is a file", "move or remove it", commit_file(".github", "not a folder\n")),
    "ci init over an existing workflow": Case(
        ("ci", "init"), "already exists", "pass --force", commit_file(".github/workflows/gitexp.yml", "on: push\n")
    ),
    # -- issue 12: sweep files --
    "lone surrogate in a sweep file": sweep_case('matrix:\n  train.loss: ["\\ud800"]\n', "lone surrogate", "give valid text"),
    "lone surrogate in a sweep file's EXPR": sweep_case('matrix:\n  train.loss: "\\ud800"\n', "lone surrogate", "give valid text"),
    "lone surrogate in a sweep file's key": sweep_case('matrix:\n  "train.\\udc00": [1]\n', "lone surrogate", "give valid text"),
    "lone surrogate in a sweep file's constant": sweep_case('params:\n  train.loss: "\\ud800"\nmatrix:\n  seed: [1]\n', "lone surrogate", "give valid text"),
    "huge integer in a sweep file": sweep_case("matrix:\n  train.lr: [1" + "0" * 5000 + "]\n", "5001 digits", "write it as a float"),
    "NaN early-stopping value": sweep_case(
        "matrix:\n  train.lr: [1]\nearly_stopping: [{metric: score, value: .nan, goal: max}]\n", "value must be a number, a finite one", "got nan"
    ),
    "infinite early-stopping value": sweep_case(
        "matrix:\n  train.lr: [1]\nearly_stopping: [{metric: score, value: .inf, goal: max}]\n", "value must be a number, a finite one", "got inf"
    ),
    "early stopping that is not a list": sweep_case("matrix:\n  train.lr: [1]\nearly_stopping: {metric: score}\n", "expected a list of rules", "optimization: minimize"),
    "early stopping without a direction": sweep_case(
        "matrix:\n  train.lr: [1]\nearly_stopping: [{metric: score, value: 1}]\n", "give the direction once", "optimization: maximize"
    ),
    "objective with an unknown goal": sweep_case("matrix:\n  train.lr: [1]\nobjective: {metric: score, goal: up}\n", "goal 'up'", "write one of them"),
    "objective without a goal": sweep_case("matrix:\n  train.lr: [1]\nobjective: {metric: score}\n", "goal is missing", "add it"),
    "strategy mapping without a name": sweep_case("matrix:\n  train.lr: [1]\nstrategy: {max_iter: 3}\n", "needs its name", "{name: hyperband"),
    "hyperband with an unknown option": sweep_case(
        "matrix:\n  train.lr: [1]\nstrategy: {name: hyperband, resource: train.n_est, max_iter: 9, speed: 2}\nobjective: {metric: score, goal: max}\n",
        "has no option 'speed'", "its options are",
    ),
    "hyperband of no budget": sweep_case(
        "matrix:\n  train.lr: [1]\nstrategy: {name: hyperband, resource: train.n_est, max_iter: 0}\nobjective: {metric: score, goal: max}\n",
        "max_iter must be a whole number of at least 1", "got 0",
    ),
    "bayes without an objective": sweep_case("matrix:\n  train.lr: {uniform: [0, 1]}\nstrategy: bayes\nmax_trials: 3\n", "needs an objective", "objective: {metric: loss"),
    "matrix entry with two kinds": sweep_case("matrix:\n  train.lr: {values: [1], range: [1, 3]}\n", "a matrix mapping has one key", "values, range or uniform"),
    "unknown matrix kind": sweep_case("matrix:\n  train.lr: {valuez: [1]}\n", "unknown matrix kind 'valuez'", "did you mean 'values'"),
    "values that are not a list": sweep_case("matrix:\n  train.lr: {values: 1}\n", "values takes a list", "values: [1, 2]"),
    "seed that is text": sweep_case("matrix:\n  train.lr: [1]\nseed: abc\n", "seed must be a whole number", "got 'abc'"),
    "max_trials above one as a fraction": sweep_case("matrix:\n  train.lr: [1]\nmax_trials: 1.5\n", "max_trials 1.5", "write e.g. 20 or 0.25"),
    "concurrency 0 in a sweep file": sweep_case("matrix:\n  train.lr: [1]\nconcurrency: 0\n", "concurrency must be a whole number of at least 1", "got 0"),
    "kind that is no sweep": sweep_case("kind: job\nmatrix:\n  train.lr: [1]\n", "kind 'job' is not a sweep", "kind: group"),
    "key both constant and swept": sweep_case("params:\n  train.lr: 1\nmatrix:\n  train.lr: [1, 2]\n", "both a constant and swept", "not both"),
    "matrix key that is a number": sweep_case("matrix:\n  1: [1]\n", "key 1 is not text", "quote it"),
    "empty sweep file": sweep_case("", "the file is empty", "add a matrix"),
    "sweep file that is a number": sweep_case("5\n", "expected a mapping", "sweep.yaml"),
    "key twice in a sweep file": sweep_case("matrix:\n  train.lr: [1]\n  train.lr: [2]\n", "found the key 'train.lr' twice", "keep one of them"),
    "matrix given twice": sweep_case("matrix:\n  train.lr: [1]\nhptuning:\n  matrix:\n    seed: [1]\n", "also given by matrix", "keep one"),
    "sweep file with a Python tag": sweep_case("matrix: !!python/object:os.system {}\n", "invalid YAML", "fix the syntax"),
    "sweep file with a date": sweep_case("matrix:\n  seed: [!!timestamp 2020-01-01]\n", "is not supported", "write a string, number"),
    "sweep file that is not UTF-8": Case(("queue", "--sweep", "../bad.yaml"), "cannot read sweep file", "give a readable UTF-8 YAML file", lambda git, tmp: _write_bytes(tmp / "bad.yaml", b"matrix: \xff\n", git)),
    "function arguments missing one": sweep_case("matrix:\n  train.lr: {uniform: {low: 0}}\n", "high is missing", "add it"),
    "Polyaxon bo with no initial trials": sweep_case(
        "hptuning:\n  matrix:\n    train.lr: {uniform: [0, 1]}\n  bo:\n    n_initial_trials: 0\n    n_iterations: 3\n    metric: {name: score, optimization: maximize}\n",
        "n_initial_trials and n_iterations must be whole numbers of at least 1", "got [0, 3]",
    ),
}


def _link_params(git: Git, target: str) -> Path:
    """params.yaml committed as a symlink to ``target``."""
    params = git.root / "params.yaml"
    params.unlink(missing_ok=True)
    params.symlink_to(target)
    git.run("add", "-A")
    git.run("commit", "-qm", "params.yaml is a link")
    return git.root


def _write_bytes(path: Path, data: bytes, git: Git) -> Path:
    path.write_bytes(data)
    return git.root


def params(cases: dict[str, Case]):
    for name, case in cases.items():
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        yield pytest.param(case, id=name, marks=marks)


def test_the_catalog_is_large_enough():
    assert len(CASES) >= 150


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
    result = run_gitexp(cwd, *case.argv, env=case.env)
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


def test_symlinked_params_file_is_written_through_its_link(project, run_gitexp):
    """As dvc exp run -S writes through a symlinked params.yaml: the link stays, the file it names changes."""
    (project.root / "conf").mkdir()
    project.run("mv", "params.yaml", "conf/params.yaml")
    _link_params(project, "conf/params.yaml")
    assert run_gitexp(project.root, "queue", "--name", "ln", "--set", "train.lr=[0.1, 0.2]").code == 0
    changed = project.run("diff-tree", "-r", "--no-commit-id", "--name-only", "HEAD", "exp/ln/t001").split()
    assert changed == ["conf/params.yaml"]
    assert project.run("ls-tree", "exp/ln/t001", "params.yaml").split()[0] == "120000"
    assert "lr: 0.1   # learning rate" in project.run("show", "exp/ln/t001:conf/params.yaml")
    assert run_gitexp(project.root, "run", "ln").code == 0
    trials = Ledger(project).trials(["ln"])
    assert [trial.status for trial in trials] == ["succeeded"] * 2
    assert [trial.metrics["score"] for trial in trials] == [0.995, 0.895]


def test_report_into_a_missing_folder_makes_it(project, run_gitexp):
    """``report -o missing/dir/x.html`` made a traceback; the folder is made, as the plots' folder beside Markdown is."""
    queued_sweep(project, project.root)
    result = run_gitexp(project.root, "report", "-o", "missing/dir/x.html", "--format", "html")
    assert result.code == 0, result.err
    assert (project.root / "missing/dir/x.html").read_text().lstrip().lower().startswith("<!doctype html")


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


# -- timeouts: input that explodes (aliases, schedules, counts) is refused at once --------------


def alias_bomb(top: str, levels: int = 8) -> str:
    """About 300 bytes of YAML whose aliases of aliases stand for 10**(levels + 1) values, under ``top``."""
    names = "abcdefghij"
    lines = [f"{top}:", f"  {names[0]}: &{names[0]} [1,1,1,1,1,1,1,1,1,1]"]
    lines += [f"  {names[i]}: &{names[i]} [{','.join([f'*{names[i - 1]}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


PARAMS_BOMB = "train:\n  lr: 0.01\n  n_est: 50\n  loss: 'log'\n  fail: false\n  layers: [32, 64]\nseed: 7\n" + alias_bomb("blob", 7)
HYPERBAND = (
    "matrix:\n  train.lr: uniform(0, 1)\n"
    "hptuning:\n  hyperband:\n    resource: {name: train.n_est, type: int}\n"
    "    metric: {name: score, optimization: maximize}\n"
)
ADAPTIVE = "matrix:\n  train.lr: uniform(0, 1)\nstrategy: bayes\nmax_trials: {trials}\nconcurrency: {concurrency}\nobjective: {{metric: score, goal: maximize}}\n"
SWEEP_FILE = ("queue", "--sweep", "../sweep.yaml")
EXPLOSIVE = ("explosive",)

CASES.update({
    "YAML alias bomb in a sweep file": Case(
        SWEEP_FILE, "aliases expand to 123,456,799 YAML values, more than 100,000", "write the values out",
        sweep_file(alias_bomb("declarations")), tags=EXPLOSIVE,
    ),
    "YAML alias inside its own anchor in a sweep file": Case(
        SWEEP_FILE, "an alias inside its own anchor makes a value that holds itself", "write the values out",
        sweep_file("matrix:\n  train.lr: &a [1, *a]\n"), tags=EXPLOSIVE,
    ),
    "YAML alias bomb in params.yaml": Case(
        queue("train.lr=[1, 2]"), "params.yaml: its aliases expand to", "and commit the file",
        commit_file("params.yaml", PARAMS_BOMB), tags=EXPLOSIVE,
    ),
    "hyperband with eta close to 1": Case(
        SWEEP_FILE, "hyperband with max_iter 81 and eta 1.0001 makes more than 100 brackets", "raise eta",
        sweep_file(HYPERBAND + "    max_iter: 81\n    eta: 1.0001\n"), tags=EXPLOSIVE,
    ),
    "hyperband with max_iter 10**400": Case(
        SWEEP_FILE, "hyperband with max_iter about 10^400 and eta 3 makes more than 100 brackets", "lower max_iter",
        sweep_file(HYPERBAND + f"    max_iter: {10**400}\n"), tags=EXPLOSIVE,
    ),
    "hyperband planning a million trials": Case(
        SWEEP_FILE, "plans 1250962 trials, more than 100,000", "cap them with max_trials",
        sweep_file(HYPERBAND + "    max_iter: 1000000\n"), tags=EXPLOSIVE,
    ),
    "adaptive sweep with concurrency 200000": Case(
        SWEEP_FILE, "concurrency 200000 is more than 1000 trials at once", "give at most 1000",
        sweep_file(ADAPTIVE.format(trials=300000, concurrency=200000)), tags=EXPLOSIVE,
    ),
    "--concurrency 200000 for bayes": Case(
        queue("train.lr=uniform(0,1)", extra=("--strategy", "bayes", "--num-trials", "10", "--concurrency", "200000")),
        "concurrency 200000 is more than 1000", "give at most 1000", tags=EXPLOSIVE,
    ),
    "bayes with a billion trials": Case(
        SWEEP_FILE, "the sweep makes 1000000000 trials, more than 100000", "limit it with --num-trials",
        sweep_file(ADAPTIVE.format(trials=10**9, concurrency=4)), tags=EXPLOSIVE,
    ),
    "random search with a billion trials": Case(
        queue("train.lr=uniform(0,1)", extra=("--strategy", "random", "--num-trials", "1000000000")),
        "the sweep makes 1000000000 trials", "limit it with --num-trials", tags=EXPLOSIVE,
    ),
    "linspace with a billion points": Case(
        queue("train.lr=linspace(0,1,1000000000)"), "linspace gives 1000000000 values", "use fewer", tags=EXPLOSIVE,
    ),
    "range with a tiny step": Case(
        queue("train.lr=range(0,1,0.000000001)"), "range gives 1000000000 values", "use fewer", tags=EXPLOSIVE,
    ),
    "a billion draws of a distribution": Case(
        queue("train.lr=uniform(0,1,1000000000)"), "uniform gives 1000000000 values", "use fewer", tags=EXPLOSIVE,
    ),
    "run --more a billion trials": Case(
        ("run", "s", "--more", "1000000000"), "--more 1000000000", "of 1 or more (at most 100000)", queued_sweep, tags=EXPLOSIVE,
    ),
    "ci plan with a hundred million run jobs": Case(
        ("ci", "plan", "--sweep", "s", "--chunks", "100000000"), "the number of run jobs is 100000000", "give --chunks 1 or more (at most 64",
        with_remote, tags=EXPLOSIVE,
    ),
})

EXPLOSIVE_REFUSAL_SECONDS = 5.0  # generous for a loaded machine: each takes a fraction of a second alone


@pytest.mark.parametrize("case", list(params({name: case for name, case in CASES.items() if "explosive" in case.tags})))
def test_explosive_input_is_refused_at_once(project, tmp_path, run_gitexp, case):
    cwd = case.setup(project, tmp_path) if case.setup else project.root

    started = time.monotonic()
    result = run_gitexp(cwd, *case.argv)
    elapsed = time.monotonic() - started

    assert result.code == 2 and case.problem in result.err, result.err
    assert elapsed < EXPLOSIVE_REFUSAL_SECONDS, f"{elapsed:.1f} s"


# -- followups: a worker's --stage is refused before it fetches or claims anything --

CASES.update({
    "worker with a stage no sweep defines": Case(
        ("worker", "--remote", "origin", "--stage", "nope"), "no stage 'nope' (stages: train)", "name one of them with --stage", with_remote
    ),
    "worker of one sweep with a stage it does not define": Case(
        ("worker", "--remote", "origin", "--sweep", "s", "--stage", "nope"), "no stage 'nope'", "name one of them with --stage", with_remote
    ),
})


# -- lead: a sweep file's constants keep their quoting --

CASES.update({
    "unquoted text constant over a number in a sweep file": Case(
        ("queue", "--sweep", "../sweep.yaml"), "train.lr is a number in the params file but 'abc' is text", "quote it",
        sweep_file("params:\n  train.lr: abc\nmatrix:\n  train.n_est: [1, 2]\n"),
    ),
})


# -- watch: status --json/--watch, show --watch --

CASES.update({
    "status --watch outside a terminal without --interval": Case(
        ("status", "--watch"), "--watch outside a terminal prints a block per interval", "--watch --interval 5", queued_sweep
    ),
    "show --watch outside a terminal without --interval": Case(
        ("show", "--watch"), "--watch outside a terminal", "--watch --interval 5", queued_sweep
    ),
    "status --watch --interval 0": Case(("status", "--watch", "--interval", "0"), "--interval 0", "above 0, such as 2", queued_sweep),
    "status --watch with a negative interval": Case(("status", "--watch", "--interval", "-1"), "--interval -1", "above 0", queued_sweep),
    "status --watch --interval nan": Case(("status", "--watch", "--interval", "nan"), "--interval nan", "above 0", queued_sweep),
    "show --watch --interval inf": Case(("show", "--watch", "--interval", "inf"), "--interval inf", "above 0", queued_sweep),
    "--interval without --watch": Case(("status", "--interval", "2"), "--interval goes with --watch", "add --watch", queued_sweep),
    "status --watch --json": Case(("status", "--watch", "--json"), "leave out --json", "or drop --watch", queued_sweep),
    "show --watch --csv": Case(("show", "--watch", "--interval", "1", "--csv"), "leave out --csv", "or drop --watch", queued_sweep),
    "status of a sweep that does not exist": Case(("status", "nope", "--json"), "no sweep named 'nope' (sweeps: s)", "see gitexp status", queued_sweep),
    "show --watch of a sweep that does not exist": Case(("show", "nope", "--watch", "--interval", "1"), "no sweep named 'nope'", "", queued_sweep),
})


# -- control: stop of what is not running, logs -f of what does not exist --

CASES.update({
    "stop of a queued trial nobody runs": Case(
        ("stop", "s/t001"), "s/t001 is not running (it is queued)", "gitexp status shows what runs", queued_sweep
    ),
    "stop of a trial that does not exist": Case(
        ("stop", "s/t009"), "no trial named 's/t009'", "gitexp show lists the trials", queued_sweep
    ),
    "stop of a queued trial on a remote where nobody runs it": Case(
        ("stop", "s/t001", "--remote", "origin"), "s/t001 is not running on origin (it is queued)", "gitexp status", with_remote
    ),
    "logs -f of a trial that does not exist": Case(
        ("logs", "-f", "s/t009"), "no trial named 's/t009'", "gitexp show lists the trials", queued_sweep
    ),
})


# -- stopgaps: stop of a trial that has finished --


def ran_sweep(git: Git, tmp_path: Path) -> Path:
    """Sweep ``s`` queued and run: both trials succeeded."""
    from gitexp.execution.local import RunOptions
    from gitexp.execution.shared import plan_run

    queued_sweep(git, tmp_path)
    plan_run(git, ["s"], RunOptions()).run(lambda event: None)
    return git.root


CASES.update({
    "stop of a trial that has finished": Case(
        ("stop", "s/t001"), "s/t001 is not running (it is succeeded)", "gitexp status shows what runs", ran_sweep
    ),
})


# -- k8s: gitexp k8s init and submit --

K8S_INIT = ("k8s", "init", "--image", "ghcr.io/team/project:1")

CASES.update({
    "k8s init without an image": Case(("k8s", "init"), "gitexp k8s init needs --image", "such as ghcr.io/you/project:1"),
    "k8s init with an image that is no reference": Case(
        ("k8s", "init", "--image", "Team/Project:latest tag"), "is not an image reference", "ghcr.io/you/project:1"
    ),
    "k8s init with more parallel than workers": Case(
        (*K8S_INIT, "--workers", "2", "--parallel", "3"), "--parallel 3 must be between 1 and --workers (2)", "raise --workers"
    ),
    "k8s init with no workers": Case((*K8S_INIT, "--workers", "0"), "--workers 0 is out of range", "give 1 to"),
    "k8s init with a namespace that is no DNS label": Case(
        (*K8S_INIT, "--namespace", "Research_Team"), "--namespace 'Research_Team' is not a namespace", "lowercase letters, digits"
    ),
    "k8s init with a secret name that is no DNS subdomain": Case(
        (*K8S_INIT, "--secret", "git creds"), "--secret 'git creds' is not a Secret name", "such as git-credentials"
    ),
    "k8s init with a job name too long": Case((*K8S_INIT, "--name", "w" * 60), "is not a Job name", "up to 52"),
    "k8s init with zero gpus per worker": Case(
        (*K8S_INIT, "--gpus-per-worker", "0"), "--gpus-per-worker 0 is not a positive number", "give 1 or more"
    ),
    "k8s init with gpus per worker not a number": Case(
        (*K8S_INIT, "--gpus-per-worker", "two"), "'two' is not a valid integer", "gitexp k8s init --help"
    ),
    "k8s init with a cpu that is no quantity": Case((*K8S_INIT, "--cpu", "2 cores"), "--cpu '2 cores' is not a Kubernetes quantity", "500m"),
    "k8s init with zero memory": Case((*K8S_INIT, "--memory", "0Gi"), "--memory '0Gi' is not a Kubernetes quantity above 0", "4Gi"),
    "k8s init with a sweep name git refuses": Case((*K8S_INIT, "--sweep", "a..b"), "the sweep name 'a..b' is not allowed", "letters, digits"),
    "k8s init without the remote": Case(K8S_INIT, "'origin' is neither a remote of this repository", "git remote add NAME URL"),
    "k8s init with a remote whose URL carries a token": Case(
        (*K8S_INIT, "--remote", "https://user:ghp_abcdefghijklmnopqrstuvwxyz0123456789@git.example.com/p.git"),
        "carries credentials", "give the token through a secret",
    ),
    "k8s init over an existing manifest": Case(
        (*K8S_INIT, "--remote", "https://git.example.com/p.git"), "gitexp.k8s.yaml already exists", "pass --force",
        commit_file("gitexp.k8s.yaml", "# mine\n"),
    ),
    "k8s submit before k8s init": Case(("k8s", "submit"), "gitexp.k8s.yaml does not exist", "write it with gitexp k8s init"),
    "k8s submit of a file that does not exist": Case(("k8s", "submit", "--file", "nope.yaml"), "nope.yaml does not exist", "name the file"),
})


# -- sweepci: starting a sweep's CI run (ci start, push --run) is checked before anything is pushed --

GITHUB_REMOTE = "https://github.com/octo/lab.git"
NO_DISPATCHER = {"GITHUB_TOKEN": "", "GH_TOKEN": "", "GH_CONFIG_DIR": "/nonexistent/gitexp-no-gh"}
A_TOKEN = {"GITHUB_TOKEN": "ghp_unusedTokenOfTheCatalog0123456789", "GITHUB_API_URL": "http://127.0.0.1:9"}


def github_remote(workflow: str | None = "init", push_main: bool = True) -> Callable[[Git, Path], Path]:
    """origin is GitHub's URL for octo/lab, served by a bare repository (url.insteadOf); main holds ``workflow``
    ("init": the one gitexp ci init writes) and is pushed there unless not ``push_main``; sweep ``s`` is queued."""

    def setup(git: Git, tmp_path: Path) -> Path:
        from gitexp.ci.workflow import WorkflowOptions, render_workflow

        text = render_workflow(WorkflowOptions()) if workflow == "init" else workflow
        if text is not None:
            commit_file(".github/workflows/gitexp.yml", text)(git, tmp_path)
        remote = tmp_path / "github.git"
        git.run("init", "-q", "--bare", str(remote))
        git.run("remote", "add", "origin", GITHUB_REMOTE)
        git.run("config", f"url.{remote}.insteadOf", GITHUB_REMOTE)
        if push_main:
            git.run("push", "-q", "origin", "main")
        return queued_sweep(git, tmp_path)

    return setup


OLDER_WORKFLOW = "# Written by `gitexp ci init`: change its options and run `gitexp ci init --force` to rewrite it.\nname: gitexp\n"

CASES.update({
    "push --run without a token and without gh": Case(
        ("push", "origin", "s", "--run", "--no-dvc"), "no GITHUB_TOKEN (or GH_TOKEN) and no logged-in gh to dispatch sweep s's run",
        "start it by hand with \"Run workflow\" (sweep: s) at https://github.com/octo/lab/actions/workflows/gitexp.yml",
        github_remote(), env=NO_DISPATCHER,
    ),
    "ci start without a token names the trigger branch": Case(
        ("ci", "start", "s"), "no GITHUB_TOKEN (or GH_TOKEN) and no logged-in gh", "push its trigger branch sweeps/s with `gitexp ci start s --push`",
        github_remote(), env=NO_DISPATCHER,
    ),
    "push --run of a sweep whose baseline branch is not on the remote": Case(
        ("push", "origin", "s", "--run", "--no-dvc"), "origin has no branch main, the baseline branch of sweep s", "git push origin main",
        github_remote(push_main=False), env=A_TOKEN,
    ),
    "push --run with a workflow gitexp ci init did not write": Case(
        ("push", "origin", "s", "--run", "--no-dvc"), ".github/workflows/gitexp.yml on origin's main was not written by gitexp ci init",
        "run `gitexp ci init --force`, commit .github/workflows/gitexp.yml and push it to origin's main",
        github_remote("name: mine\non: push\n"), env=A_TOKEN,
    ),
    "push --run with a workflow of an older gitexp ci init": Case(
        ("push", "origin", "s", "--run", "--no-dvc"), "was written by an older gitexp ci init (a run per trial branch)",
        "run `gitexp ci init --force`", github_remote(OLDER_WORKFLOW), env=A_TOKEN,
    ),
    "ci start without any workflow file": Case(
        ("ci", "start", "s"), "origin's main has no .github/workflows/gitexp.yml", "run `gitexp ci init`, commit",
        github_remote(None), env=A_TOKEN,
    ),
    "pr of a sweep whose baseline branch is not on the remote": Case(
        ("pr", "s"), "origin has no branch main, the baseline branch of sweep s", "git push origin main",
        github_remote(push_main=False), env=A_TOKEN,
    ),
    "pr of a sweep with --replace": Case(
        ("pr", "s", "--replace", "s"), "--replace turns a sweep's review into a trial's pull request", "gitexp pr s/TRIAL --replace s",
        github_remote(), env=A_TOKEN,
    ),
    "ci start of a sweep that is not on the remote": Case(
        ("ci", "start", "s"), "origin has no sweep s", "gitexp push origin s --run", github_remote(), env=A_TOKEN,
    ),
    "push --run without a sweep named": Case(
        ("push", "origin", "--run"), "--run starts the runs of the sweeps named", "gitexp push origin SWEEP --run", github_remote(), env=A_TOKEN,
    ),
    "push --pr without --run": Case(
        ("push", "origin", "s", "--pr"), "--pr goes with --run", "gitexp push origin SWEEP --run --pr", github_remote(), env=A_TOKEN,
    ),
    "pr --replace of a trial of another sweep": Case(
        ("pr", "s/t001", "--replace", "other"), "s/t001 is a trial of sweep s, not of other", "give --replace s", github_remote(), env=A_TOKEN,
    ),
    "ci init with trials inside sweeps/": Case(
        ("ci", "init"), "the trial branch prefix 'sweeps/x/' is inside sweeps/", "git config gitexp.prefix exp/",
        lambda git, tmp_path: (git.run("config", "gitexp.prefix", "sweeps/x/"), git.root)[1],
    ),
})


# -- wandb: multi-objective sweeps and W&B sweep files --

WANDB_PARAMETERS = "parameters:\n  train.lr: {values: [0.01, 0.1]}\n"
WANDB_TERMINATED = "method: grid\nmetric: {name: score, goal: maximize}\n" + WANDB_PARAMETERS

CASES.update({
    "objective list with a metric twice": sweep_case(
        "matrix: {train.lr: [0.1]}\nobjective:\n  - {metric: score, goal: maximize}\n  - {metric: score, goal: minimize}\n",
        "lists score twice", "give each metric once",
    ),
    "constraint that does not parse": sweep_case(
        "matrix: {train.lr: [0.1]}\nobjective: {metric: score, goal: maximize}\nconstraints: ['score < 5']\n",
        "constraint 'score < 5' does not parse", "write METRIC <= NUMBER or METRIC >= NUMBER",
    ),
    "constraint with a bound that is not a number": sweep_case(
        "matrix: {train.lr: [0.1]}\nconstraints: ['latency_ms <= fast']\n", "does not parse", "latency_ms <= 50"
    ),
    "constraints that are not a list": sweep_case(
        "matrix: {train.lr: [0.1]}\nconstraints: latency_ms <= 50\n", "constraints: expected a list", '["latency_ms <= 50"]'
    ),
    "hyperband with two objectives": sweep_case(
        "matrix: {train.lr: [0.1]}\nstrategy: {name: hyperband, resource: train.n_est, max_iter: 9}\n"
        "objective: [{metric: score, goal: maximize}, {metric: test.auc, goal: maximize}]\n",
        "hyperband promotes by one objective", "use the bayes strategy",
    ),
    "W&B field of the wrong type": sweep_case(
        "method: random\nrun_cap: 2\nparameters:\n  train.lr: {distribution: uniform, min: low, max: 0.1}\n",
        "parameters.train.lr.min: must be a number, got 'low'", "write a number there",
    ),
    "W&B run_cap that is not a count": sweep_case(
        "method: grid\nrun_cap: '10'\n" + WANDB_PARAMETERS, "run_cap: must be a whole number of at least 1", "write a whole number"
    ),
    "W&B unknown distribution": sweep_case(
        "method: random\nrun_cap: 2\nparameters:\n  train.lr: {distribution: log_uniform_value, min: 0.001, max: 0.1}\n",
        "unknown distribution 'log_uniform_value' (did you mean 'log_uniform_values'?)", "use one of constant",
    ),
    "W&B unknown method": sweep_case("method: hyperopt\n" + WANDB_PARAMETERS, "unknown method 'hyperopt'", "grid, random, bayes"),
    "W&B early_terminate without min_iter or max_iter": sweep_case(
        WANDB_TERMINATED + "early_terminate: {type: hyperband, eta: 3}\n", "hyperband needs min_iter or max_iter", "add e.g. min_iter: 3"
    ),
    "W&B early_terminate with max_iter but no s": sweep_case(
        WANDB_TERMINATED + "early_terminate: {type: hyperband, max_iter: 27}\n", "max_iter needs s", "add e.g. s: 2"
    ),
    "W&B command macro of no parameter": sweep_case(
        "method: grid\nprogram: train.py\ncommand: [python, '${program}', '--seed=${seed}']\n" + WANDB_PARAMETERS,
        "gitexp cannot fill ${seed}", "name a parameter of the sweep",
    ),
    "W&B bayes without run_cap": sweep_case(
        "method: bayes\nmetric: {name: score, goal: maximize}\nparameters:\n  train.lr: {min: 0.01, max: 0.5}\n",
        "needs a number of trials", "run_cap in a W&B one",
    ),
})


# -- prune: pruners, their options and the dvclive steps they steer by --

STEPS_DVC = (
    "stages:\n  train:\n    cmd: python train.py\n    deps: [train.py]\n    params: [train]\n"
    "    metrics:\n      - dvclive/metrics.json:\n          cache: false\n"
    "    plots:\n      - dvclive/plots/metrics:\n          x: step\n          cache: false\n"
)
with_dvclive_steps = commit_file(  # a baseline that ran: dvclive logged train/loss step by step
    "dvc.yaml", STEPS_DVC,
    ("dvclive/plots/metrics/train/loss.tsv", "step\tloss\n0\t0.5\n1\t0.25\n"),
    ("dvclive/metrics.json", '{"train": {"loss": 0.25}, "step": 1}'),
)
PRUNED_QUEUE = queue("train.lr=[0.1, 0.2]", extra=("--objective", "score", "--goal", "maximize"))

CASES.update({
    "an unknown pruner": Case(
        (*PRUNED_QUEUE, "--pruner", "medain"), "unknown pruner 'medain' (did you mean 'median'?)", "use one of median, percentile"
    ),
    "an unknown pruner option in a sweep file": Case(
        ("queue", "--sweep", "../sweep.yaml"), "the median pruner has no option 'warmup'", "its options are n_startup_trials",
        sweep_file("matrix: {train.lr: [0.1, 0.2]}\nobjective: {metric: score, goal: maximize}\npruner: {name: median, warmup: 3}\n"),
    ),
    "a pruner option Optuna refuses": Case(
        ("queue", "--sweep", "../sweep.yaml"), "percentile pruner option percentile must be a number from 0 to 100", "got 150",
        sweep_file("matrix: {train.lr: [0.1, 0.2]}\nobjective: {metric: score, goal: maximize}\npruner: {name: percentile, percentile: 150}\n"),
    ),
    "--prune-metric without a pruner": Case(
        (*PRUNED_QUEUE, "--prune-metric", "score"), "--prune-metric and --prune-min-step need a pruner", "give --pruner NAME"
    ),
    "a pruner without a metric to steer by": Case(
        (*queue("train.lr=[0.1, 0.2]"), "--pruner", "median"), "the pruner needs a metric to steer by", "give --prune-metric METRIC"
    ),
    "pruning in a project without dvclive step outputs": Case(
        (*PRUNED_QUEUE, "--pruner", "median"), "dvc.yaml declares no dvclive step plots", "add them to plots:, or drop the pruner"
    ),
    "a prune metric no dvclive output declares, refused when the run starts": Case(
        ("run", "--set", "train.lr=[0.1, 0.2]", "--objective", "train.loss", "--goal", "minimize", "--pruner", "median", "--prune-metric", "train.acc"),
        "no dvclive step file has 'train.acc'", "name one with --prune-metric", with_dvclive_steps,
    ),
})


# -- slurm: GPUs per trial, Slurm submit and init --


def with_slurm_script(git: Git, tmp_path: Path) -> Path:
    """``with_remote``, plus a committed gitexp.sbatch."""
    from gitexp.launchers.slurm import SlurmLauncher, SlurmOptions

    with_remote(git, tmp_path)
    SlurmLauncher().init(git.root, SlurmOptions())
    git.run("add", "gitexp.sbatch")
    git.run("commit", "-qm", "the Slurm script")
    return git.root




def git_only_path() -> dict[str, str]:
    """A PATH with git and nothing of Slurm (Debian puts sbatch beside git in /usr/bin)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="gitexp-no-slurm-"))
    (folder / "git").symlink_to(shutil.which("git"))
    return {"PATH": str(folder)}


def dead_controller_conf() -> dict[str, str]:
    """A slurm.conf naming a controller on a port nobody listens on (scontrol ping answers DOWN at once)."""
    import socket
    import tempfile

    conf = Path(tempfile.mkdtemp(prefix="gitexp-dead-slurm-")) / "slurm.conf"
    host = socket.gethostname().split(".")[0]
    conf.write_text(f"ClusterName=dead\nSlurmctldHost={host}(127.0.0.1)\nSlurmctldPort=9\nNodeName=n1 CPUs=1\nPartitionName=p Nodes=n1\n")
    return {"SLURM_CONF": str(conf)}


CASES.update({
    "run --gpus naming a GPU that does not exist": Case(
        ("run", "s", "--gpus", "0,7"), "there is no GPU '7' here", "name GPUs this machine has", queued_sweep,
        env={"CUDA_VISIBLE_DEVICES": "0,1"},
    ),
    "worker --gpus-per-trial larger than the GPUs given": Case(
        ("worker", "--remote", "origin", "--gpus", "0,1", "--gpus-per-trial", "3"),
        "--gpus-per-trial 3 is more than the 2 GPU(s) given", "give at most 2", with_remote,
    ),
    "run -j above the GPU groups": Case(
        ("run", "s", "--gpus", "0,1", "--gpus-per-trial", "2", "-j", "2"), "-j 2 is more than the 1 GPU group(s)", "give -j 1 or less", queued_sweep
    ),
    "slurm init --parallel above --workers": Case(
        ("slurm", "init", "--workers", "2", "--parallel", "3"), "--parallel 3 must be between 1 and --workers (2)", "lower it", with_remote
    ),
    "slurm init --partition with shell code": Case(
        ("slurm", "init", "--partition", "$(reboot)"), "--partition '$(reboot)' is not a Slurm value", "see sbatch --help", with_remote
    ),
    "slurm init --sbatch-arg with a line break": Case(
        ("slurm", "init", "--sbatch-arg", "--qos=a\nrm -rf ~"), "is not one sbatch option", "--sbatch-arg=--qos=long", with_remote
    ),
    "slurm submit of a sweep on no remote, without --remote": Case(
        ("slurm", "submit", "s"), "sweep s is on no remote", "pass --remote origin", queued_sweep
    ),
    "slurm submit where sbatch is not installed": Case(
        ("slurm", "submit", "s", "--remote", "origin"), "sbatch and scontrol are not installed here", "on a Slurm login node",
        with_slurm_script, env=git_only_path(),
    ),
    "slurm submit when the controller does not answer": Case(
        ("slurm", "submit", "s", "--remote", "origin"), "the Slurm controller does not answer", "check scontrol ping",
        with_slurm_script, env=dead_controller_conf(),
    ),
})


# -- scale: archive of running trials, restore over a branch, an age that does not parse --


def running_sweep(git: Git, tmp_path: Path) -> Path:
    """Sweep ``s`` run, then a third trial queued that a runner here holds (its flock taken for the test's length)."""
    from gitexp.planning.queue import QueueRequest, queue_sweep
    from gitexp.store.layout import trial_lock_path
    from gitexp.store.locks import TrialLock
    from gitexp.sweep.spec import spec_from_flags

    ran_sweep(git, tmp_path)
    queue_sweep(git, QueueRequest(spec_from_flags(["train.lr=[0.3]"]), "r"))
    RUNNING_LOCKS.append(TrialLock(trial_lock_path(git.common_dir(), "r", "t001")))
    assert RUNNING_LOCKS[-1].acquire(git.root)
    return git.root


RUNNING_LOCKS: list = []  # held until the test process ends: the trial counts as running


def archived_with_branch_back(git: Git, tmp_path: Path) -> Path:
    """Sweep ``s`` run and archived, then a branch made under the name of its trial t001."""
    from gitexp.sharing.archive import ArchiveRequest, archive

    ran_sweep(git, tmp_path)
    archive(git, ArchiveRequest(("s",)))
    git.run("branch", "exp/s/t001", "HEAD")
    return git.root


CASES.update({
    "archive of a sweep with a running trial": Case(
        ("archive", "r"), "1 trial(s) still run (r/t001)", "wait until they finish, or pass --force", running_sweep
    ),
    "restore of a trial whose branch name exists again": Case(
        ("restore", "s/t001"), "the branch exp/s/t001 exists again", "git branch -m exp/s/t001 NEW-NAME", archived_with_branch_back
    ),
    "archive --older-than that does not parse": Case(
        ("archive", "s", "--older-than", "a month"), "--older-than 'a month' is not an age", "such as 30d or 12h", ran_sweep
    ),
    "archive --keep-best of a sweep without an objective": Case(
        ("archive", "s", "--keep-best", "2"), "sweep s has none", "archive it without --keep-best", ran_sweep
    ),
})


# -- datadiff: DVC's -S spellings, --data, diff --

CASES.update({
    "-S with a Hydra form that does not parse points at it": Case(
        ("queue", "-S", "train.lr=range(0.1,0.5"), "'(' is never closed", "at column 15"
    ),
    "-S with Hydra's interval, which dvc exp run refuses too": Case(
        ("queue", "-S", "train.lr=interval(0,1)"), "interval(lo, hi)", "write uniform(lo, hi)"
    ),
    "-S with a keyword range does not know": Case(
        ("queue", "-S", "train.n_est=range(1, 9, steps=2)"), "no argument 'steps'", "range(start, stop, step)"
    ),
})

CASES.update({
    "diff of a trial with no result yet": Case(
        ("diff", "s/t001"), "s/t001 has no result yet (it is queued)", "gitexp diff --params-only", queued_sweep
    ),
    "diff of a queued trial with a finished one": Case(
        ("diff", "main", "s/t002", "--md"), "s/t002 has no result yet", "gitexp run runs it", queued_sweep
    ),
    "diff of a name that is no trial, sweep or commit": Case(
        ("diff", "s/t009"), "'s/t009' is no trial, sweep or commit", "gitexp show lists trials", queued_sweep
    ),
    "diff of a root commit alone": Case(("diff", "main"), "main has no parent commit", "gitexp diff main REV"),
    "diff with two output formats": Case(("diff", "main", "main", "--json", "--csv"), "choose one of", "--json, --md and --csv"),
    "diff --plots into a file": Case(
        ("diff", "main", "main", "--plots", "params.yaml"), "--plots", "name a folder"
    ),
})


def dvc_added_data(git: Git, tmp_path: Path) -> Path:
    """``data/d.csv`` added with dvc add and committed; ``tmp_path / "source.csv"`` a dataset outside the repository."""
    import subprocess
    import sys

    (git.root / "data").mkdir()
    (git.root / "data" / "d.csv").write_text("1,0\n")
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "data/d.csv"], cwd=git.root, check=True)
    git.run("add", "-A")
    git.run("commit", "-qm", "dvc add data/d.csv")
    (tmp_path / "source.csv").write_text("2,1\n")
    return git.root


CASES.update({
    "--data of a path DVC does not track": Case(
        ("queue", "--data", "data/other.csv=../source.csv"), "DVC does not track data/other.csv", "dvc add", dvc_added_data
    ),
    "--data of a path Git tracks": Case(
        ("queue", "--data", "train.py=../source.csv"), "Git tracks train.py, not DVC", "dvc add train.py", dvc_added_data
    ),
    "--data whose source is missing": Case(
        ("queue", "--data", "data/d.csv=../missing.csv"), "missing.csv does not exist", "name an existing file", dvc_added_data
    ),
    "--data whose source Git tracks": Case(
        ("queue", "--data", "data/d.csv=[../source.csv, train.py]"), "Git tracks train.py", "from outside Git", dvc_added_data
    ),
    "--data with a distribution": Case(
        ("queue", "--data", "data/d.csv=uniform(0, 1)"), "a dataset takes a path or a list of paths", "'[a.xml, b.xml]'", dvc_added_data
    ),
    "--data without a source": Case(("queue", "--data", "data/d.csv"), "has no '='", "TARGET=SOURCE", dvc_added_data),
    "--data that leaves the project": Case(("queue", "--data", "../x=../source.csv"), "name a path of the DVC project", "relative to it"),
})

CASES.update({
    "--data with a list that does not parse points at it": Case(
        ("queue", "--data", "data/d.csv=[../source.csv"), "'[' is never closed", "at column 12", dvc_added_data
    ),
    "check --data whose source is missing": Case(
        ("check", "--data", "data/d.csv=../missing.csv"), "missing.csv does not exist", "name an existing file", dvc_added_data
    ),
})

CASES.update({
    "-S with Hydra's +KEY, which adds a key": Case(("queue", "-S", "+train.new=1"), "Hydra's +train.new adds a key", "add train.new to the params file"),
    "-S with Hydra's ~KEY, which deletes a key": Case(("queue", "-S", "~train.lr"), "Hydra's ~train.lr deletes a key", "delete it in the params file"),
})


# -- prplots: the plots of the PR comment, the trials of the project's plots --

CASES.update({
    "ci init with an unknown --report-plots": Case(
        ("ci", "init", "--report-plots", "svg"), "--report-plots 'svg'", "use mermaid, images or both"
    ),
    "ci comment with an unknown --report-plots": Case(
        ("ci", "comment", "--sweep", "s", "--report-plots", "png"), "--report-plots 'png'", "use mermaid, images or both", queued_sweep
    ),
    "report --trials of a trial the sweep lacks": Case(
        ("report", "s", "--trials", "t001,t009"), "sweep s has no trial 't009'", "give trial names such as t001", queued_sweep
    ),
})

# -- nodvc: projects without dvc.yaml (a command after --, Polyaxon's run.cmd) --

NO_PIPELINE = commit_file("dvc.yaml", None)  # the project keeps DVC (and train.py) but has no pipeline


def without_dvc(git: Git, tmp_path: Path) -> Path:
    """A plain Git repository: train.py and params.yaml, no DVC at all."""
    git.run("rm", "-rq", ".dvc", ".dvcignore", "dvc.yaml")
    git.run("commit", "-qm", "no DVC")
    return git.root


# -- ui: gitexp ui's address, and where it is started --

UI_BUSY_PORT = 48731
_held_sockets = []  # the sockets holding ports busy, kept open until the session ends


def busy_port(git: Git, tmp_path: Path) -> Path:
    import socket

    held = socket.socket()
    held.bind(("127.0.0.1", UI_BUSY_PORT))
    held.listen(1)
    _held_sockets.append(held)
    return git.root


def without_dvc_folder(git: Git, tmp_path: Path) -> Path:
    """dvc.yaml kept, but no .dvc folder: not a DVC project."""
    import shutil

    git.run("rm", "-rq", ".dvc")
    git.run("commit", "-qm", "no DVC")
    shutil.rmtree(git.root / ".dvc")  # its untracked files too (tmp, config.local)
    return git.root


CASES.update({
    "a command after -- in a project with a pipeline, which would never run": Case(
        ("queue", "--", "python3", "train.py", "--lr", "[0.1, 0.2]"), "runs its DVC pipeline (dvc.yaml)", "--set KEY=VALUES"
    ),
    "a command whose program is not found": Case(
        ("queue", "--", "pyhton3", "train.py", "--lr", "[0.1, 0.2]"), "'pyhton3' is not found on PATH", "install it, or give its path", NO_PIPELINE
    ),
    "a command whose script the baseline lacks": Case(
        ("queue", "--", "python3", "trian.py", "--lr", "[0.1, 0.2]"), "runs trian.py, which the baseline does not hold", "commit it", NO_PIPELINE
    ),
    "a run.cmd placeholder with no value": Case(
        ("queue", "--sweep", "../sweep.yaml"),
        "{{ epochs }} has no value",
        "declare it",
        then(NO_PIPELINE, sweep_file("matrix: {lr: [0.1]}\nrun:\n  cmd: python3 train.py --lr={{ lr }} --epochs={{ epochs }}\n")),
    ),
    "a command flag whose sweep does not parse points at it": Case(
        ("queue", "--", "python3", "train.py", "--lr", "uniform(0.1, 0.5"), "'(' is never closed", "--lr uniform>>>(0.1, 0.5", NO_PIPELINE
    ),
    "a command flag written with = whose sweep does not parse": Case(
        ("queue", "--", "python3", "train.py", "--lr=[0.1, 0.2"), "'[' is never closed", "--lr=>>>[0.1", NO_PIPELINE
    ),
    "a command flag named as gitexp.yaml's own keys": Case(
        ("queue", "--", "python3", "train.py", "--command", "[a, b]"), "'command' is a name gitexp.yaml keeps", "rename the flag", NO_PIPELINE
    ),
    "--strategy none without a command": Case(
        queue("train.lr=1", extra=("--strategy", "none")), "--strategy none passes a command's flags as written", "give the command after --"
    ),
    "--metrics without a command": Case(
        queue("train.lr=1", extra=("--metrics", "m.json")), "--metrics and --outs name what a command writes", "give the command after --"
    ),
    "--outs in a project without DVC": Case(
        ("queue", "--outs", "model.pt", "--", "python3", "train.py", "--lr", "[0.1]"), "this project has no DVC", "run dvc init", without_dvc
    ),
    "no command after --": Case(("queue", "--"), "nothing to sweep", "or a command after --", NO_PIPELINE),


    "ui on a port in use": Case(("ui", "--port", str(UI_BUSY_PORT)), f"port {UI_BUSY_PORT} on 127.0.0.1 is in use", "--port", busy_port),
    "ui on an address of another machine": Case(("ui", "--host", "203.0.113.7"), "--host 203.0.113.7 cannot be bound", "such as 127.0.0.1"),
    "ui on a host name that does not resolve": Case(("ui", "--host", "no-such-host.invalid"), "cannot be bound", "such as 127.0.0.1"),
    "ui outside a repository": Case(("ui",), "not inside a Git repository", "run gitexp from a Git checkout", outside_any_repository),
    "ui in a repository without a DVC project": Case(("ui",), "no DVC project at or above", "run dvc init", without_dvc_folder),
    "ui of a revision that does not exist": Case(("ui", "--rev", "nope"), "--rev nope: no such commit", "git log"),
})

# -- s6uiviews: queue -m --
CASES.update({
    "queue -m with an empty message": Case(queue("train.lr=[0.2]", extra=("-m", "  ")), "the commit message (-m) is empty", "leave -m out"),
})


# -- s6leftovers: remove's sweep branch, stop --remote, restore of a remote's archive, range() --


def on_sweep_branch(git: Git, tmp_path: Path) -> Path:
    """Sweep ``s`` queued, its branch ``sweeps/s`` checked out."""
    queued_sweep(git, tmp_path)
    git.run("checkout", "-q", "-b", "sweeps/s")
    return git.root


def with_empty_remote(git: Git, tmp_path: Path) -> Path:
    """Sweep ``s`` queued here, and a bare remote ``origin`` that holds only main."""
    queued_sweep(git, tmp_path)
    remote = tmp_path / "remote.git"
    git.run("init", "-q", "--bare", str(remote))
    git.run("push", "-q", str(remote), "main")
    git.run("remote", "add", "origin", str(remote))
    return git.root


def archived_on_remote(git: Git, tmp_path: Path) -> Path:
    """Sweep ``s`` queued here; on ``origin`` its trial t001 archived (as a push of another clone's archive leaves it)."""
    with_empty_remote(git, tmp_path)
    git.run("push", "-q", "origin", "refs/heads/exp/s/t001:refs/gitexp/archive/s/t001")
    return git.root


CASES.update({
    "remove of a sweep whose branch is checked out": Case(
        ("remove", "s"), "sweeps/s is checked out", "switch to another branch, then remove sweep s", on_sweep_branch
    ),
    "stop --remote of a remote without the sweep": Case(
        ("stop", "s", "--remote", "origin"), "origin has no sweep s", "gitexp push origin s first, or stop it without --remote", with_empty_remote
    ),
    "restore of a trial archived only on a remote": Case(
        ("restore", "s/t001"), "s/t001 is archived on origin, not here", "gitexp pull origin s, then gitexp restore s/t001", archived_on_remote
    ),
    "range with no argument": Case(queue("train.lr=range()"), "range takes 1 to 3 arguments", "write range(start, stop[, step]) or range(stop)"),
})

# -- s7locks: run --sweep -m --
CASES.update({
    "run --sweep -m with an empty message": Case(
        ("run", "--sweep", "../sweep.yaml", "-m", " \n "), "the commit message (-m) is empty", "leave -m out",
        sweep_file("matrix:\n  train.lr: [0.1, 0.2]\n"),
    ),
    "run -m without a new sweep": Case(
        ("run", "s", "-m", "Try lr"), "-m is the commit message of a new sweep's trials", "add --sweep FILE", queued_sweep
    ),
})
