"""An adaptive (bayes) sweep on CI, round after round, as the generated workflow runs it.

Each round is one workflow run: the plan job's script (``gitexp ci plan``: the driver writes the next trials to
origin by compare-and-swap), each planned trial's run-job script in its own checkout, then the report job's
"next round" script, which dispatches the workflow again through the checking fake GitHub while the sweep grows.
The loop goes on for as long as that fake received dispatches, as GitHub would start runs.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from ruamel.yaml import YAML

from gitexp.store.git import Git
from gitexp.store.records import parse_trailers
from tests.cli.test_ci import run_step, workflow_step
from tests.fake_github import TOKEN, shows_token

GITHUB_URL = "https://github.com/octo/lab.git"
BAYES = textwrap.dedent(
    """\
    matrix:
      train.lr: uniform(0.0, 0.5)
    strategy: {name: bayes, n_initial_trials: 2}
    max_trials: 6
    objective: {metric: score, goal: maximize}
    seed: 1
    concurrency: 2
    """
)


def ci_clone(bare: Path, path: Path, branch: str) -> Path:
    """What actions/checkout leaves: a full clone with ``branch`` checked out, origin on GitHub's URL."""
    Git(path.parent).run("clone", "-q", str(bare), str(path))
    git = Git(path)
    git.run("checkout", "-q", "-B", branch, f"refs/remotes/origin/{branch}")
    git.run("remote", "set-url", "origin", GITHUB_URL)
    git.run("config", f"url.{bare}.insteadOf", GITHUB_URL)
    return path


def plan_output(output: Path) -> dict:
    return json.loads(output.read_text().split("plan<<GITEXP_PLAN\n", 1)[1].split("\nGITEXP_PLAN", 1)[0])


def test_a_bayes_sweep_of_6_trials_at_concurrency_2_runs_in_3_rounds_with_one_result_each(project, tmp_path, github, run_gitexp):
    bare = tmp_path / "github.git"
    project.run("init", "-q", "--bare", str(bare))
    assert run_gitexp(project.root, "ci", "init").code == 0
    project.run("add", "-A")
    project.run("commit", "-qm", "gitexp's workflow")
    project.run("remote", "add", "origin", GITHUB_URL)
    project.run("config", f"url.{bare}.insteadOf", GITHUB_URL)
    project.run("push", "-q", "origin", "main")
    (tmp_path / "bayes.yaml").write_text(BAYES)
    assert run_gitexp(project.root, "queue", "--sweep", str(tmp_path / "bayes.yaml"), "--name", "b").code == 0
    api = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url}
    started = run_gitexp(project.root, "push", "origin", "b", "--run", "--no-dvc", env=api)
    assert started.code == 0, started.err
    document = YAML(typ="safe").load((project.root / ".github/workflows/gitexp.yml").read_text())
    steps = {job: workflow_step(document, job, name) for job, name in
             (("plan", "List the trials"), ("run-0", "Run the trial"), ("report", "Start the next round"))}  # fmt: skip

    rounds, said = [], ""
    while len(rounds) < len(github.dispatches) <= 5:
        dispatch = github.dispatches[len(rounds)]
        folder = tmp_path / f"round-{len(rounds) + 1}"
        folder.mkdir()
        runner = {"GITHUB_OUTPUT": str(folder / "output"), "RUNNER_TEMP": str(folder), "GITHUB_REF_NAME": dispatch["ref"]}
        planned = run_step(steps["plan"], ci_clone(bare, folder / "plan", "main"),
                           {**runner, **api, "GITEXP_SWEEP": dispatch["inputs"]["sweep"], "GITHUB_REF": "refs/heads/main"})  # fmt: skip
        assert planned.returncode == 0, planned.stderr
        plan = plan_output(folder / "output")
        entries = [entry for chunk in plan["chunks"] for entry in chunk["include"]]
        rounds.append([entry["name"] for entry in entries])
        for entry in entries:
            ran = run_step(steps["run-0"], ci_clone(bare, folder / entry["name"], entry["trial"]), {**runner, "TRIAL": entry["trial"]})
            assert ran.returncode == 0, ran.stderr + ran.stdout
        following = run_step(steps["report"], ci_clone(bare, folder / "report", "main"), {**runner, **api, "SWEEPS": "b"})
        assert following.returncode == 0, following.stderr
        said = following.stdout
        assert not shows_token(planned.stdout + planned.stderr + following.stdout + following.stderr)

    assert rounds == [["t001", "t002"], ["t003", "t004"], ["t005", "t006"]]
    assert [d["inputs"] for d in github.dispatches] == [{"sweep": "b"}] * 3 and plan["concurrency"] == 2
    assert said == "No next round: sweep b is done\n"
    origin = Git(bare)
    baseline = project.rev_parse("main")
    for name in ("t001", "t002", "t003", "t004", "t005", "t006"):
        branch = f"refs/heads/exp/b/{name}"
        assert origin.run("rev-list", "--count", f"{baseline}..{branch}").strip() == "2"  # the trial, one result
        assert parse_trailers(origin.run("log", "-1", "--format=%B", branch))["Gitexp-Status"] == "succeeded"
    assert origin.run("for-each-ref", "refs/heads/exp/b/").count("\n") == 6
    assert origin.run("for-each-ref", "refs/gitexp/claims/").strip() == ""


def test_a_result_that_meets_an_early_stopping_rule_stops_the_sweep_at_the_next_plan(project, bare_remote, tmp_path, run_gitexp):
    (tmp_path / "grid.yaml").write_text(
        "matrix:\n  train.lr: [0.1, 0.2, 0.3]\nearly_stopping:\n  - {metric: score, value: 0.9, goal: maximize}\n"
    )
    project.run("remote", "add", "origin", str(bare_remote))
    project.run("push", "-q", "origin", "main")
    assert run_gitexp(project.root, "queue", "--sweep", str(tmp_path / "grid.yaml"), "--name", "g").code == 0
    assert run_gitexp(project.root, "push", "--no-dvc").code == 0
    trailers = 'Gitexp-Sweep: g\nGitexp-Trial: t001\nGitexp-Status: succeeded\nGitexp-Metrics: {"score":0.95}'
    result = project.run("commit-tree", "exp/g/t001^{tree}", "-p", "exp/g/t001", "-m", "result", "-m", trailers).strip()
    project.run("push", "-q", "origin", f"{result}:refs/heads/exp/g/t001")
    checkout = tmp_path / "ci"
    Git(tmp_path).run("clone", "-q", str(bare_remote), str(checkout))

    planned = run_gitexp(checkout, "ci", "plan", env={"GITEXP_SWEEP": "g"})

    assert planned.code == 0, planned.err
    assert json.loads(planned.out)["any"] is False
    assert "sweep g is stopped (early stopping: score = 0.95 >= 0.9)" in planned.err
    origin = Git(bare_remote)
    for name in ("t002", "t003"):
        assert parse_trailers(origin.run("log", "-1", "--format=%B", f"refs/heads/exp/g/{name}"))["Gitexp-Status"] == "cancelled"
