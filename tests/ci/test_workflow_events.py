"""What GitHub would do with the rendered workflow when a 50-trial sweep is pushed and run, without GitHub.

The triggers are matched as GitHub matches branch filters (``*`` within a path
component, ``**`` across them); the concurrency group is evaluated as GitHub's
``&&``/``||`` do; the plan is the real ``gitexp ci plan`` in a CI checkout of a
bare origin; the jobs that run are those whose ``if`` holds for that plan and,
for a run job, one per entry of its matrix. Before this workflow, the same push
started 50 runs of 3 jobs each (150 jobs); now it starts 1 run of at most 52.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gitexp.ci.workflow import WorkflowOptions, render_workflow
from gitexp.store.git import Git

TRIALS = 50


def branch_filter(pattern: str) -> re.Pattern[str]:
    """A GitHub branch filter as a regular expression: ``**`` any characters, ``*`` any but ``/``."""
    parts = re.split(r"(\*\*|\*)", pattern)
    return re.compile("".join({"**": ".*", "*": "[^/]*"}.get(part, re.escape(part)) for part in parts) + r"\Z")


def started_runs(document: dict, pushed_refs: list[str]) -> list[str]:
    """The pushed refs that start a run: GitHub makes one push event per branch (up to 5,000 refs a push)."""
    filters = [branch_filter(pattern) for pattern in document["on"]["push"]["branches"]]
    branches = [ref.removeprefix("refs/heads/") for ref in pushed_refs if ref.startswith("refs/heads/")]
    return [branch for branch in branches if any(f.match(branch) for f in filters)]


def concurrency_group(event: str, sweep_input: str, ref_name: str) -> str:
    """The workflow's group as GitHub evaluates it (``a && b || c`` is b when a is truthy, else c)."""
    inputs_sweep = sweep_input if event == "workflow_dispatch" else ""
    return "gitexp-" + ((inputs_sweep and f"sweeps/{inputs_sweep}") or ref_name)


def jobs_that_run(document: dict, plan: dict) -> dict[str, int]:
    """Job id -> how many jobs it makes in a run with ``plan``: a run job one per matrix entry, if its chunk has any."""
    counts = {"plan": 1}
    for job_id, job in document["jobs"].items():
        chunk = re.search(r"chunks\[(\d+)\]\.include\[0\] != null", str(job.get("if", "")))
        if chunk:
            entries = len(plan["chunks"][int(chunk.group(1))]["include"])
            counts[job_id] = entries
        elif job_id != "plan" and "needs.plan.outputs.any == 'true'" in str(job.get("if", "")):
            counts[job_id] = int(plan["any"])
    return {job_id: count for job_id, count in counts.items() if count}


@pytest.fixture(scope="module")
def document() -> dict:
    return YAML(typ="safe").load(render_workflow(WorkflowOptions()))


def test_a_push_of_a_sweep_starts_one_run_and_trial_branches_none(document):
    trials = [f"refs/heads/exp/s/t{i:03d}" for i in range(1, TRIALS + 1)]

    assert started_runs(document, [*trials, "refs/gitexp/sweeps/s"]) == []  # gitexp push origin s
    assert started_runs(document, [*trials, "refs/gitexp/sweeps/s", "refs/heads/sweeps/s"]) == ["sweeps/s"]
    assert started_runs(document, ["refs/heads/main", "refs/tags/v1", "refs/heads/sweepsx/s"]) == []


def test_a_dispatch_and_a_push_of_one_sweep_share_a_group_and_other_sweeps_do_not():
    dispatched = concurrency_group("workflow_dispatch", "s", "main")

    assert dispatched == concurrency_group("push", "", "sweeps/s") == "gitexp-sweeps/s"
    assert concurrency_group("workflow_dispatch", "other", "main") != dispatched


def queue_and_push(project: Git, bare_remote: Path, run_gitexp) -> None:
    project.run("remote", "add", "origin", str(bare_remote))
    project.run("push", "-q", "origin", "main")
    queued = run_gitexp(project.root, "queue", "--name", "s", "--concurrency", "4", "--set", f"train.lr=linspace(0.01, 0.5, {TRIALS})")
    assert queued.code == 0, queued.err
    assert run_gitexp(project.root, "push", "--no-dvc").code == 0


def finish_all_on_origin(project: Git) -> None:
    """A succeeded result commit on every trial, pushed as ``ci run`` would."""
    refspecs = []
    for i in range(1, TRIALS + 1):
        branch = f"exp/s/t{i:03d}"
        trailers = f"Gitexp-Sweep: s\nGitexp-Trial: t{i:03d}\nGitexp-Status: succeeded"
        result = project.run("commit-tree", f"{branch}^{{tree}}", "-p", branch, "-m", "result", "-m", trailers).strip()
        refspecs.append(f"{result}:refs/heads/{branch}")
    project.run("push", "-q", "origin", *refspecs)


def test_one_run_of_a_50_trial_sweep_costs_52_jobs_and_a_second_run_plans_none(project, bare_remote, tmp_path, run_gitexp, document):
    queue_and_push(project, bare_remote, run_gitexp)
    checkout = tmp_path / "ci"
    Git(tmp_path).run("clone", "-q", str(bare_remote), str(checkout))
    env = {"GITHUB_REF": "refs/heads/sweeps/s", "GITEXP_SWEEP": ""}  # the run a push of sweeps/s started

    first = run_gitexp(checkout, "ci", "plan", env=env)
    finish_all_on_origin(project)
    second = run_gitexp(checkout, "ci", "plan", env=env)

    assert first.code == 0 and second.code == 0, first.err + second.err
    plan, again = json.loads(first.out), json.loads(second.out)
    assert [len(chunk["include"]) for chunk in plan["chunks"]] == [TRIALS, 0, 0, 0]
    assert plan["concurrency"] == 4  # max-parallel of every run job
    jobs = jobs_that_run(document, plan)
    assert jobs == {"plan": 1, "run-0": TRIALS, "report": 1} and sum(jobs.values()) == TRIALS + 2
    assert again["any"] is False and jobs_that_run(document, again) == {"plan": 1}
