"""The rendered workflow of every variant: GitHub's schema, zizmor's audits, and its structure.

check-jsonschema (with its vendored copy of GitHub's workflow schema) and zizmor
run offline on the whole folder of rendered variants, once per session.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from gitexp.ci.workflow import ACTIONS, CLOUD_SECRETS

SHA_PINNED_USES = re.compile(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}\Z")
USES_LINE = re.compile(r"^\s*(?:- )?uses: (\S+)(.*)$", re.MULTILINE)
SEVERITIES_TO_REFUSE = {"medium", "high"}


def tool(name: str) -> str:
    """A command-line tool of the test extra, from this interpreter's environment first."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    assert found, f"{name} is missing: install the test extra (pip install -e '.[test]')"
    return found


def run_zizmor(workflows: Path, persona: str = "regular") -> list[dict[str, Any]]:
    """zizmor's findings on a workflow file or a ``.github/workflows`` folder."""
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-config", "--persona", persona, "--format", "json", "--no-exit-codes", str(workflows)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def serious(findings: list[dict[str, Any]]) -> list[str]:
    """The findings of medium severity or above, one line each."""
    return [
        f"{finding['ident']} ({finding['determinations']['severity']}): {finding['desc']}"
        for finding in findings
        if finding["determinations"]["severity"].lower() in SEVERITIES_TO_REFUSE
    ]


def check_workflow_schema(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_variant_matches_githubs_workflow_schema(workflows_dir: Path) -> None:
    result = check_workflow_schema(*sorted(workflows_dir.glob("*.yml")))

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_would_catch_a_bad_permission(workflows_dir: Path, tmp_path: Path) -> None:
    text = (workflows_dir / "github.yml").read_text(encoding="utf-8")
    spoiled_file = tmp_path / "spoiled.yml"
    spoiled_file.write_text(text.replace("contents: write", "contents: wrote", 1), encoding="utf-8")  # no job asks to read only now

    assert check_workflow_schema(spoiled_file).returncode != 0


def test_zizmor_finds_nothing_of_medium_severity_or_above(workflows_dir: Path) -> None:
    assert serious(run_zizmor(workflows_dir)) == []


def test_zizmor_pedantic_finds_nothing_at_all(workflows_dir: Path) -> None:
    findings = run_zizmor(workflows_dir, persona="pedantic")

    assert [f"{finding['ident']}: {finding['desc']}" for finding in findings] == []


def test_zizmor_would_catch_an_injection_and_an_unpinned_action(workflows_dir: Path, tmp_path: Path) -> None:
    text = (workflows_dir / "github.yml").read_text(encoding="utf-8")
    spoiled = text.replace(str(ACTIONS["checkout"]), "actions/checkout@v4").replace(
        'run: python -m pip install "$GITEXP_INSTALL_SPEC"', 'run: echo "${{ github.event.head_commit.message }}"'
    )
    spoiled_file = tmp_path / "spoiled.yml"
    spoiled_file.write_text(spoiled, encoding="utf-8")

    found = serious(run_zizmor(spoiled_file))

    assert any(line.startswith("template-injection") for line in found)
    assert any(line.startswith("unpinned-uses") for line in found)


def test_triggers_are_a_sweep_branch_push_and_manual_dispatch(workflow) -> None:
    triggers = workflow.document["on"]

    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["sweeps/**"]}  # trial branches (exp/**) start nothing
    assert triggers["workflow_dispatch"]["inputs"]["sweep"]["type"] == "string"
    assert "pull_request_target" not in workflow.text


def test_job_graph(workflow) -> None:
    cml = workflow.options.runner == "cml"
    run_jobs = workflow.run_job_ids
    deploy = ["deploy-runner"] if cml else []

    assert list(workflow.jobs) == ["plan", *deploy, *run_jobs, "report"]
    assert "needs" not in workflow.jobs["plan"]
    if cml:
        assert workflow.jobs["deploy-runner"]["needs"] == ["plan"]
    for index, job_id in enumerate(run_jobs):
        previous = [run_jobs[index - 1]] if index else []
        assert workflow.jobs[job_id]["needs"] == ["plan", *deploy, *previous]
    assert workflow.jobs["report"]["needs"] == ["plan", *run_jobs]


def test_permissions_are_empty_at_the_top_and_minimal_per_job(workflow) -> None:
    expected = {
        "plan": {"contents": "write"},  # an adaptive sweep's next trials
        "deploy-runner": {},
        # the next round's dispatch; the comment's plot images pushed unless they are Mermaid charts only
        "report": {"contents": "read" if workflow.options.report_plots == "mermaid" else "write", "pull-requests": "write", "actions": "write"},
        **{job_id: {"contents": "write"} for job_id in workflow.run_job_ids},
    }

    assert workflow.document["permissions"] == {}
    assert {job_id: job["permissions"] for job_id, job in workflow.jobs.items()} == {
        job_id: expected[job_id] for job_id in workflow.jobs
    }


def test_every_job_has_a_timeout(workflow) -> None:
    timeouts = {job_id: job.get("timeout-minutes") for job_id, job in workflow.jobs.items()}

    assert all(isinstance(minutes, int) and minutes > 0 for minutes in timeouts.values()), timeouts
    assert {timeouts[job_id] for job_id in workflow.run_job_ids} == {workflow.options.timeout_minutes}


def test_no_expression_inside_any_run_script(workflow) -> None:
    scripts = [step["run"] for job in workflow.jobs.values() for step in job["steps"] if "run" in step]

    assert scripts
    assert [script for script in scripts if "${{" in script] == []


def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment(workflow) -> None:
    uses = [step["uses"] for job in workflow.jobs.values() for step in job["steps"] if "uses" in step]
    known = {f"{pin.repository}@{pin.commit}": pin.version for pin in ACTIONS.values()}

    assert uses and all(SHA_PINNED_USES.match(reference) for reference in uses), uses
    for reference, comment in USES_LINE.findall(workflow.text):
        assert comment == f" # {known[reference]}"


def test_only_the_checkouts_that_push_keep_credentials(workflow) -> None:
    for job_id, job in workflow.jobs.items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["fetch-depth"] == 0
                assert step["with"]["persist-credentials"] is job_id.startswith("run-")


def test_runs_are_grouped_per_sweep_and_never_check_the_actor(workflow) -> None:
    group = "gitexp-${{ inputs.sweep && format('sweeps/{0}', inputs.sweep) || github.ref_name }}"

    assert workflow.document["concurrency"] == {"group": group, "cancel-in-progress": False}
    assert "github.actor" not in workflow.text and "triggering_actor" not in workflow.text


def test_plan_job_hands_the_plan_to_the_other_jobs(workflow) -> None:
    plan_job = workflow.jobs["plan"]
    plan_step = next(step for step in plan_job["steps"] if step.get("id") == "plan")

    assert plan_job["outputs"] == {
        "plan": "${{ steps.plan.outputs.plan }}",
        "any": "${{ fromJSON(steps.plan.outputs.plan).any }}",
    }
    assert f"gitexp ci plan --chunks {workflow.options.chunks} --chunk-size 256" in plan_step["run"]
    assert plan_step["env"]["GITEXP_SWEEP"] == "${{ inputs.sweep }}"


def test_run_jobs_take_one_matrix_each_and_skip_empty_ones(workflow) -> None:
    runner_label = workflow.options.runner_label
    expected_runs_on = ["self-hosted", runner_label] if workflow.options.runner == "cml" else "ubuntu-latest"
    for index, job_id in enumerate(workflow.run_job_ids):
        job = workflow.jobs[job_id]

        assert job["strategy"] == {
            "fail-fast": False,
            "max-parallel": "${{ fromJSON(needs.plan.outputs.plan).concurrency }}",
            "matrix": f"${{{{ fromJSON(needs.plan.outputs.plan).chunks[{index}] }}}}",
        }
        assert job["if"].startswith("${{ !cancelled() && needs.plan.result == 'success'")
        assert f"chunks[{index}].include[0] != null }}}}" in job["if"]
        assert job["runs-on"] == expected_runs_on
        assert job["steps"][0]["with"]["ref"] == "${{ matrix.trial }}"


def test_secrets_given_reach_only_the_steps_that_use_dvc_and_only_through_env(workflow) -> None:
    given = {name: f"${{{{ secrets.{name} }}}}" for name in workflow.options.secrets}
    for job_id, job in workflow.jobs.items():
        for step in job["steps"]:
            env = step.get("env", {})
            wants_dvc = job_id in workflow.run_job_ids and step["name"] in ("Pull the DVC data", "Run the trial")
            assert {k: v for k, v in env.items() if k in given} == (given if wants_dvc else {}), (job_id, step["name"])


def test_report_job_runs_after_all_trials_when_there_were_any(workflow) -> None:
    report = workflow.jobs["report"]

    comment = next(step for step in report["steps"] if step["name"].startswith("Write the reports"))

    assert report["if"] == "${{ always() && needs.plan.outputs.any == 'true' }}"
    assert "gitexp ci comment --sweep" in comment["run"]
    assert report["steps"][-1]["name"] == "Start the next round of an adaptive sweep"
    assert report["steps"][-1]["if"] == "${{ !cancelled() }}"


def test_cml_runner_gets_the_token_and_the_clouds_secrets_through_env(workflow) -> None:
    options = workflow.options
    if options.runner != "cml":
        assert "deploy-runner" not in workflow.jobs and "cml runner" not in workflow.text
        return
    deploy = workflow.jobs["deploy-runner"]
    launch = deploy["steps"][-1]

    assert deploy["if"] == "${{ needs.plan.outputs.any == 'true' }}"
    assert deploy["steps"][0]["uses"].startswith(ACTIONS["setup_cml"].repository + "@")
    assert launch["env"] == {
        "REPO_TOKEN": "${{ secrets.PERSONAL_ACCESS_TOKEN }}",
        **{name: f"${{{{ secrets.{name} }}}}" for name in CLOUD_SECRETS[options.cloud]},
        "RUNNER_LABEL": options.runner_label,
    }


def test_the_runner_label_is_unique_to_the_run_unless_idle_runners_are_reused(workflow) -> None:
    if workflow.options.runner != "cml":
        return
    expected = "cml-gitexp" if workflow.options.reuse_idle else "cml-gitexp-${{ github.run_id }}"

    assert workflow.jobs["deploy-runner"]["steps"][-1]["env"]["RUNNER_LABEL"] == expected


def steps_named(job: dict[str, Any], start: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("name", "").startswith(start)]


def test_every_job_with_gitexp_installs_it_once_and_caches_pips_downloads(workflow) -> None:
    options = workflow.options
    key = f"gitexp-pip-${{{{ runner.os }}}}-py{options.python}-${{{{ hashFiles('**/requirements*.txt') }}}}"
    for job_id in ["plan", *workflow.run_job_ids, "report"]:
        job = workflow.jobs[job_id]
        installs = [step for step in job["steps"] if 'pip install "$GITEXP_INSTALL_SPEC"' in step.get("run", "")]
        [cache] = steps_named(job, "Cache pip's downloads")

        assert len(installs) == 1, job_id
        assert job["steps"].index(cache) < job["steps"].index(installs[0])
        assert cache["uses"] == str(ACTIONS["cache"]).split(" #")[0]
        assert cache["with"] == {"path": "~/.cache/pip", "key": key, "restore-keys": f"gitexp-pip-${{{{ runner.os }}}}-py{options.python}-\n"}


def test_run_jobs_cache_the_dvc_cache_keyed_by_dvc_lock(workflow) -> None:
    for job_id in workflow.run_job_ids:
        job = workflow.jobs[job_id]
        [cache] = steps_named(job, "Cache the DVC cache")
        [pull] = steps_named(job, "Pull the DVC data")

        assert cache["with"]["key"] == "gitexp-dvc-${{ runner.os }}-${{ hashFiles('**/dvc.lock', '**/*.dvc') }}"
        assert cache["with"]["path"].split() == [".dvc/cache", "*/.dvc/cache"]
        assert job["steps"].index(cache) < job["steps"].index(pull)
    assert "Cache the DVC cache" not in str(workflow.jobs["plan"]) + str(workflow.jobs["report"])  # light jobs


def test_the_first_line_marks_the_workflow_as_gitexps_of_this_generation(workflow) -> None:
    from gitexp.ci.workflow import check_workflow_text

    assert workflow.text.startswith("# Written by `gitexp ci init` (gitexp workflow 2)")
    check_workflow_text(workflow.text, "here")
