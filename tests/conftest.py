"""Fixtures: real Git repositories with real DVC projects in tmp_path.

A template project is built once per session (git init, dvc init, commit) and
copied for each test, which keeps tests isolated and quick.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitexp.store.git import Git

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "DVC_NO_ANALYTICS": "1",
}

PARAMS_YAML = textwrap.dedent(
    """\
    # Training parameters (comments must survive)
    train:
      lr: 0.01   # learning rate
      n_est: 50
      loss: 'log'
      fail: false
      layers: [32, 64]
    seed: 7
    """
)

TRAIN_PY = textwrap.dedent(
    """\
    import json, sys, time
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    if p["fail"]:
        print("training diverged: loss is nan")
        sys.exit(3)
    time.sleep(float(p.get("sleep", 0)))
    score = 1.0 - abs(p["lr"] - 0.1) - p["n_est"] / 10000.0
    json.dump({"score": round(score, 6), "test": {"auc": round(score / 2, 6)}}, open("metrics.json", "w"))
    """
)

DVC_YAML = textwrap.dedent(
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


@pytest.fixture(autouse=True, scope="session")
def git_identity():
    patch = pytest.MonkeyPatch()
    for key, value in GIT_IDENTITY.items():
        patch.setenv(key, value)
    yield
    patch.undo()


def build_project(directory: Path, files: dict[str, str]) -> Git:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(content)
    git = Git(directory)
    git.run("init", "-q", "-b", "main")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=directory, check=True)
    git.run("add", "-A")
    git.run("commit", "-q", "-m", "baseline")
    return git


@pytest.fixture(scope="session")
def template_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("template") / "project"
    build_project(root, {"params.yaml": PARAMS_YAML, "train.py": TRAIN_PY, "dvc.yaml": DVC_YAML})
    return root


def fresh_copy(template: Path, tmp_path: Path) -> Git:
    """A copy of a template project at ``tmp_path / "project"``."""
    root = tmp_path / "project"
    shutil.copytree(template, root, symlinks=True)
    return Git(root)


@pytest.fixture
def project(template_project, tmp_path) -> Git:
    """A fresh copy of the template DVC project: one stage, params.yaml, metrics.json."""
    return fresh_copy(template_project, tmp_path)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run_gitexp():
    """Run the CLI in-process in a directory: run_gitexp(cwd, "queue", "--set", ...).

    ``env=`` adds variables to the process environment the command sees (e.g. GITHUB_*).
    """

    from gitexp.cli.environment import Environment
    from gitexp.cli.main import main

    def invoke(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        environment = Environment(cwd=Path(cwd), env={**os.environ, **(env or {})}, stdout=out, stderr=err)
        code = main(list(argv), environment)
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture
def repo_state():
    """A function returning what a refused command must leave exactly as it was."""
    return snapshot


def snapshot(git: Git) -> dict[str, str]:
    """Refs, HEAD, index, stash, working tree and ``.git/gitexp``, to prove a command changed nothing."""
    return {
        "refs": git.run("for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git.run("rev-parse", "HEAD"),
        "symbolic": git.run("symbolic-ref", "-q", "HEAD", check=False),
        "index": git.run("ls-files", "-s"),
        "stash": git.run("stash", "list"),
        "status": git.run("status", "--porcelain", "--untracked-files=all", "--ignored"),
        "diff": git.run("diff"),
        "worktrees": git.run("worktree", "list", "--porcelain"),
        "gitexp": gitexp_files(git),
    }


def gitexp_files(git: Git) -> str:
    """Every file under ``.git/gitexp`` with its content's hash."""
    root = Path(git.run("rev-parse", "--git-common-dir"))
    root = (root if root.is_absolute() else git.root / root) / "gitexp"
    files = sorted(path for path in root.rglob("*") if path.is_file())
    return "\n".join(f"{path.relative_to(root)} {hashlib.sha1(path.read_bytes()).hexdigest()}" for path in files)


# -- sharing and review: a finished sweep, bare remotes, git daemon ---------------------

REVIEW_TRAIN_PY = textwrap.dedent(
    """\
    import json, os, sys
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    if p["lr"] >= 0.5:
        print("epoch 1 | loss 0.9")
        print("loss is nan <b>diverged</b> | *stop*")
        sys.exit(3)
    score = 1.0 - abs(p["lr"] - 0.1) - p["n_est"] / 10000.0
    json.dump({"score": round(score, 6), "test": {"auc": round(score / 2, 6)}}, open("metrics.json", "w"))
    os.makedirs("dvclive/plots/metrics", exist_ok=True)
    with open("dvclive/plots/metrics/loss.tsv", "w") as curve:
        curve.write("step\\tloss\\n")
        for step in range(5):
            curve.write(f"{step}\\t{1.0 / (1 + step * p['lr'] * 10)}\\n")
    """
)

REVIEW_SWEEP_FILE = textwrap.dedent(
    """\
    matrix:
      train.lr: [0.01, 0.1, 0.5]
      train.n_est: [10, 20]
    objective: {metric: score, goal: maximize}
    concurrency: 2
    """
)


@pytest.fixture(scope="session")
def reviewed_template(template_project, tmp_path_factory) -> Path:
    """The template project with sweep ``s`` run: 6 trials, the two with lr 0.5 failed."""
    from gitexp.cli.environment import Environment
    from gitexp.cli.main import main

    root = tmp_path_factory.mktemp("reviewed") / "project"
    shutil.copytree(template_project, root, symlinks=True)
    (root / "train.py").write_text(REVIEW_TRAIN_PY)
    (root / "dvc.yaml").write_text(DVC_YAML + "plots:\n  - dvclive/plots/metrics:\n      x: step\n")
    git = Git(root)
    git.run("commit", "-q", "-am", "train.py writes a loss curve, dvc.yaml declares it")
    (root.parent / "sweep.yaml").write_text(REVIEW_SWEEP_FILE)
    quiet = Environment(cwd=root, stdout=io.StringIO(), stderr=io.StringIO())
    assert main(["queue", "--name", "s", "--sweep", str(root.parent / "sweep.yaml")], quiet) == 0
    assert main(["run", "-j", "2"], quiet) == 1  # the two lr=0.5 trials fail
    return root


@pytest.fixture
def reviewed_project(reviewed_template, tmp_path) -> Git:
    """A fresh copy of ``reviewed_template``."""
    return fresh_copy(reviewed_template, tmp_path)


# -- a project shaped like iterative/example-get-started -------------------------------

GET_STARTED_PARAMS = textwrap.dedent(
    """\
    prepare:
      split: 0.2
      seed: 20170428
    train:
      seed: 20170428
      n_est: 50
      min_split: 0.01
    """
)

GET_STARTED_DVC_YAML = textwrap.dedent(
    """\
    stages:
      prepare:
        cmd: python src/prepare.py
        deps: [data/data.csv, src/prepare.py]
        params: [prepare.split, prepare.seed]
        outs: [data/prepared]
      train:
        cmd: python src/train.py
        deps: [data/prepared, src/train.py]
        params: [train.seed, train.n_est, train.min_split]
        outs: [model.pkl]
      evaluate:
        cmd: python src/evaluate.py
        deps: [model.pkl, src/evaluate.py]
        outs: [eval]
    metrics:
    - eval/metrics.json
    """
)

GET_STARTED_SOURCES = {
    "src/prepare.py": textwrap.dedent(
        """\
        import os, yaml
        p = yaml.safe_load(open("params.yaml"))["prepare"]
        rows = open("data/data.csv").read().splitlines()
        n = int(len(rows) * p["split"])
        os.makedirs("data/prepared", exist_ok=True)
        open("data/prepared/test.csv", "w").write("\\n".join(rows[:n]) + "\\n")
        open("data/prepared/train.csv", "w").write("\\n".join(rows[n:]) + "\\n")
        """
    ),
    "src/train.py": textwrap.dedent(
        """\
        import json, yaml
        p = yaml.safe_load(open("params.yaml"))["train"]
        rows = open("data/prepared/train.csv").read().splitlines()
        json.dump({"n_est": p["n_est"], "rows": len(rows)}, open("model.pkl", "w"))
        """
    ),
    "src/evaluate.py": textwrap.dedent(
        """\
        import json, os
        model = json.load(open("model.pkl"))
        os.makedirs("eval/plots", exist_ok=True)
        scores = {"train": model["n_est"] / 100, "test": model["n_est"] / 200}
        json.dump({"avg_prec": scores, "roc_auc": {"test": model["rows"] / 1000}}, open("eval/metrics.json", "w"))
        open("eval/plots/curve.csv", "w").write("x,y\\n0,0\\n1,1\\n")
        """
    ),
}


@pytest.fixture(scope="session")
def get_started_template(tmp_path_factory) -> Path:
    """example-get-started's layout: data from ``dvc add``, three stages, metrics inside the cached ``eval/``.

    The baseline is reproduced and committed; sweep ``gs`` (train.n_est 10 and 30) has run.
    """
    from gitexp.cli.environment import Environment
    from gitexp.cli.main import main

    root = tmp_path_factory.mktemp("get-started") / "project"
    git = build_project(root, {"params.yaml": GET_STARTED_PARAMS, "dvc.yaml": GET_STARTED_DVC_YAML, **GET_STARTED_SOURCES})
    (root / "data").mkdir()
    (root / "data" / "data.csv").write_text("".join(f"{i / 250:.4f},{i % 2}\n" for i in range(250)))
    for argv in (["add", "-q", "data/data.csv"], ["repro", "-q"]):
        subprocess.run([sys.executable, "-m", "dvc", *argv], cwd=root, check=True)
        git.run("add", "-A")
        git.run("commit", "-q", "-m", f"dvc {argv[0]}")
    quiet = Environment(cwd=root, stdout=io.StringIO(), stderr=io.StringIO())
    assert main(["queue", "--name", "gs", "--set", "train.n_est=[10, 30]", "--objective", "avg_prec.test"], quiet) == 0
    assert main(["run", "-j", "2"], quiet) == 0, quiet.stderr.getvalue()
    return root


@pytest.fixture
def get_started(get_started_template, tmp_path) -> Git:
    """A fresh copy of ``get_started_template`` (its DVC cache with it)."""
    return fresh_copy(get_started_template, tmp_path)


@pytest.fixture
def bare_remote(tmp_path) -> Path:
    """An empty bare repository to use as a remote."""
    path = tmp_path / "remote.git"
    Git(tmp_path).run("init", "-q", "--bare", "--initial-branch=main", str(path))
    return path


MODEL_DVC_YAML = textwrap.dedent(
    """\
    stages:
      train:
        cmd: python train.py
        deps: [train.py]
        params: [train]
        outs: [model.pkl]
        metrics:
          - metrics.json:
              cache: false
    """
)
MODEL_TRAIN_PY = textwrap.dedent(
    """\
    import json, yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    open("model.pkl", "wb").write(f"weights for lr={p['lr']}\\n".encode())
    json.dump({"score": p["lr"]}, open("metrics.json", "w"))
    """
)


@pytest.fixture
def model_project(project, bare_remote, tmp_path) -> Git:
    """The project with a DVC-cached output (model.pkl, ``weights for lr=LR``), a local-directory
    DVC remote (``tmp_path / "storage"``, in the committed .dvc/config) and ``origin`` holding main."""
    (project.root / "dvc.yaml").write_text(MODEL_DVC_YAML)
    (project.root / "train.py").write_text(MODEL_TRAIN_PY)
    dvc_args = ["remote", "add", "-d", "storage", str(tmp_path / "storage")]
    subprocess.run([sys.executable, "-m", "dvc", *dvc_args], cwd=project.root, check=True, capture_output=True)
    project.run("add", "-A")
    project.run("commit", "-q", "-m", "a cached model output and a DVC remote")
    project.run("remote", "add", "origin", str(bare_remote))
    project.run("push", "-q", "origin", "main")
    return project


@pytest.fixture
def git_daemon(tmp_path):
    """``git daemon`` on 127.0.0.1 serving (and accepting pushes to) bare repositories under a folder.

    Yields ``(base, url)``: create ``base / "name.git"`` and reach it at ``url + "/name.git"``.
    """
    import socket
    import time

    base = tmp_path / "served"
    base.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = subprocess.Popen(
        ["git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr", "--listen=127.0.0.1",
         f"--port={port}", f"--base-path={base}", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert daemon.poll() is None and time.monotonic() < deadline, "git daemon did not start"
                time.sleep(0.05)
        yield base, f"git://127.0.0.1:{port}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch):
    """A GitHub-like REST server on 127.0.0.1 that checks every request (tests/fake_github.py).

    The test fails if any request was wrong (``problems``), whatever it asserted.
    """
    from tests.fake_github import serve

    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)  # 127.0.0.1 must be reached directly
    with serve() as fake:
        yield fake
    assert fake.problems == []


# -- hostile text in params, metrics and logs (inert output) -----------------------------

OSC8_LINK = "\x1b]8;;http://e\x07click\x1b]8;;\x07"  # a terminal hyperlink
HOSTILE_TEXT = [
    "[x](http://e) ![i](http://e/i.png) <img src=x onerror=alert(1)> https://evil.example www.evil.example a@evil.example",
    '=HYPERLINK("http://e")',
    f"{OSC8_LINK} \x1b[2J\x1b[31mred cr\rsplit \x08 \u202eevil",
]  # no C1 control here: params files cannot hold them yet (issue 12, item 6); the metric names have one
HOSTILE_EXPR = "[" + ", ".join(json.dumps(text) for text in HOSTILE_TEXT) + "]"  # JSON strings are YAML flow scalars
HOSTILE_TRAIN_PY = textwrap.dedent(
    """\
    import json, sys, yaml
    value = yaml.safe_load(open("params.yaml"))["train"]["loss"]
    if value.startswith("="):
        print("failed on " + value + " \\x1b]8;;http://e\\x07link\\x1b]8;;\\x07 \\x1b[2J")
        sys.exit(3)
    names = ["[m](http://e)", "<b>m</b>", '=HYPERLINK("http://e")', "\\x1b]8;;http://e\\x07m\\x1b]8;;\\x07", "c\\rm", "csi\\x9b6n", "https://evil.example"]
    metrics = {"score": len(value) / 1000, "note": value, **{name: float(i) for i, name in enumerate(names)}}
    json.dump(metrics, open("metrics.json", "w"))
    """
)


@pytest.fixture(scope="session")
def hostile_template(template_project, tmp_path_factory) -> Path:
    """The template project with sweep ``h``: one trial per ``HOSTILE_TEXT`` as train.loss; its metric names
    and string metric ``note`` are hostile too; the ``=HYPERLINK`` trial (t002) fails, printing a hostile log."""
    from gitexp.cli.environment import Environment
    from gitexp.cli.main import main

    root = tmp_path_factory.mktemp("hostile") / "project"
    shutil.copytree(template_project, root, symlinks=True)
    (root / "train.py").write_text(HOSTILE_TRAIN_PY)
    Git(root).run("commit", "-q", "-am", "train.py records hostile metrics")
    quiet = Environment(cwd=root, stdout=io.StringIO(), stderr=io.StringIO())
    assert main(["queue", "--name", "h", "--set", f"train.loss={HOSTILE_EXPR}"], quiet) == 0
    assert main(["run", "-j", "2"], quiet) == 1, quiet.stderr.getvalue()
    return root


@pytest.fixture
def hostile_project(hostile_template, tmp_path) -> Git:
    return fresh_copy(hostile_template, tmp_path)


# -- after kill -9 ----------------------------------------------------------------------


def wait_for_orphans(project: Path, timeout: float = 60) -> None:
    """Wait until no process that a killed command left (a pipeline, a git still committing) works inside ``project``.

    Orphaned pipelines work in slots under ``.git``; a warm DVC server, and a
    child it has just forked before changing into a slot, sit at the project's root.
    """
    deadline = time.monotonic() + timeout
    while any(process_cwd(pid).startswith(str(project)) for pid in os.listdir("/proc") if pid.isdigit()):
        assert time.monotonic() < deadline, "processes the killed command left did not end"
        time.sleep(0.1)


def process_cwd(pid: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def markdown_tables(text: str) -> list[list[str]]:
    """The tables in Markdown ``text``, each a list of its lines."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


# max_iter 3, eta 3 on the template project: bracket 1 runs 3 configs at n_est 1 and promotes 1 to
# n_est 3; bracket 0 runs 2 at 3 (6 trials)
HYPERBAND_SWEEP = """\
matrix:
  train.lr: uniform(0.0, 0.2)
strategy: {name: hyperband, resource: train.n_est, max_iter: 3, eta: 3}
objective: {metric: score, goal: maximize}
seed: 3
concurrency: 2
"""


# A stage that trains over 30 dvclive steps: loss *= 1 - lr, so a larger lr learns faster, up to 0.5;
# above it the loss grows by 1 + lr each step (it diverges). The best trial has the largest lr up to 0.5.
STEPS_PARAMS_YAML = "train:\n  lr: 0.1\n  steps: 30\n  sleep: 0.05\n"
STEPS_TRAIN_PY = textwrap.dedent(
    """\
    import time
    import yaml
    from dvclive import Live
    p = yaml.safe_load(open("params.yaml"))["train"]
    loss = 1.0
    with Live(save_dvc_exp=False, dvcyaml=None) as live:
        for step in range(p["steps"]):
            loss *= (1 + p["lr"]) if p["lr"] > 0.5 else (1 - p["lr"])
            live.log_metric("train/loss", loss)
            live.next_step()
            time.sleep(p["sleep"])
    """
)
STEPS_DVC_YAML = textwrap.dedent(
    """\
    stages:
      train:
        cmd: python train.py
        deps: [train.py]
        params: [train]
        metrics:
          - dvclive/metrics.json:
              cache: false
        plots:
          - dvclive/plots/metrics:
              x: step
              cache: false
    """
)


@pytest.fixture(scope="session")
def steps_template(tmp_path_factory) -> Path:
    """A project whose stage logs ``train/loss`` over 30 dvclive steps; its baseline ran (its curve is committed)."""
    root = tmp_path_factory.mktemp("steps") / "project"
    git = build_project(root, {"params.yaml": STEPS_PARAMS_YAML.replace("0.05", "0"), "train.py": STEPS_TRAIN_PY, "dvc.yaml": STEPS_DVC_YAML})
    subprocess.run([sys.executable, "train.py"], cwd=root, check=True, capture_output=True)
    (root / "params.yaml").write_text(STEPS_PARAMS_YAML)
    git.run("add", "-A")
    git.run("commit", "-q", "-m", "baseline ran: its dvclive curve")
    return root


@pytest.fixture
def steps_project(steps_template, tmp_path) -> Git:
    """A fresh copy of ``steps_template``, looking at a running trial's steps ten times a second."""
    git = fresh_copy(steps_template, tmp_path)
    git.run("config", "gitexp.pruneInterval", "0.1")
    return git


# -- the demo project (gitexp demo): six finished trials, dvclive step curves, a confusion matrix, images --


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """``gitexp demo`` built once per session (its six trials run)."""
    from gitexp.cli.environment import Environment
    from gitexp.cli.main import main

    root = tmp_path_factory.mktemp("demo") / "project"
    quiet = Environment(cwd=root.parent, stdout=io.StringIO(), stderr=io.StringIO())
    assert main(["demo", str(root)], quiet) == 0
    return root


@pytest.fixture
def demo(demo_template, tmp_path) -> Git:
    """A fresh copy of ``demo_template``."""
    return fresh_copy(demo_template, tmp_path)
