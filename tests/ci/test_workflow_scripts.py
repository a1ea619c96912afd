"""The ``run:`` scripts of the generated workflow, executed in a local bash as a runner would.

A fake ``gitexp`` (and ``python``, ``dvc``, ``cml``) first on PATH records its
arguments and prints a fixed plan, so these tests check what the scripts call
and write; the real ``gitexp ci plan``/``ci run`` are tested end to end elsewhere.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gitexp.ci.matrix import plan_document
from gitexp.ci.workflow import CLOUD_SECRETS, CLOUDS

# Text that would run commands if a script ever let the shell parse it.
HOSTILE = """$(touch pwned) "double" 'single' `touch pwned-too`; touch pwned-three && echo $HOME"""
HOSTILE_TRIAL = f"exp/lr/{HOSTILE}"
HOSTILE_REF = "refs/heads/exp/lr/$(touch${IFS}pwned)"  # a valid Git branch name
PLAN = plan_document(
    [
        {"trial": "exp/lr/t001", "sweep": "lr", "name": "t001"},
        {"trial": "exp/bs/t001", "sweep": "bs", "name": "t001"},
    ],
    concurrency=2,
    chunks=4,
)
TOKEN = "token-for-tests"


def no_file_named_pwned(*folders: Path) -> bool:
    return not any(path.name.startswith("pwned") for folder in folders for path in folder.rglob("*"))


@pytest.fixture
def runner(fake_runner):
    fake_runner.plan_json = json.dumps(PLAN)
    return fake_runner


@pytest.mark.parametrize("variant", ["github", "github-custom", "cml-aws"])
@pytest.mark.parametrize(
    ("event_sweep", "github_ref"),
    [("", "refs/heads/exp/lr/t001"), ("lr", "refs/heads/main"), (HOSTILE, HOSTILE_REF)],
)
def test_plan_job_installs_gitexp_and_writes_the_plan_output(
    workflow, runner, tmp_path, event_sweep, github_ref
) -> None:
    runner.run_job(workflow.jobs["plan"], {"inputs.sweep": event_sweep, "github.token": TOKEN}, github_ref)

    assert runner.argvs() == [
        ["python", "-m", "pip", "install", workflow.options.install_spec],
        ["gitexp", "ci", "plan", "--chunks", str(workflow.options.chunks), "--chunk-size", "256"],
    ]
    assert runner.calls()[-1]["env"] == {
        "GITEXP_SWEEP": event_sweep,
        "GITHUB_REF": github_ref,
        "GITHUB_TOKEN": TOKEN,
        "REPO_TOKEN": None,
    }
    assert json.loads(runner.outputs()["plan"]) == PLAN
    assert no_file_named_pwned(tmp_path)


@pytest.mark.parametrize("variant", ["github"])
def test_plan_output_survives_a_plan_printed_on_several_lines(workflow, runner) -> None:
    runner.plan_json = json.dumps(PLAN, indent=2)

    runner.run_job(workflow.jobs["plan"], {"inputs.sweep": "", "github.token": TOKEN}, "refs/heads/exp/lr/t001")

    assert json.loads(runner.outputs()["plan"]) == PLAN


@pytest.mark.parametrize("variant", ["github", "cml-gcp"])
@pytest.mark.parametrize("has_requirements", [True, False])
@pytest.mark.parametrize("dvc_remotes", ["", "storage\ts3://bucket/cache"])
def test_run_job_runs_the_trial_named_in_its_env_without_the_shell_parsing_it(
    workflow, runner, tmp_path, has_requirements, dvc_remotes
) -> None:
    if has_requirements:
        (runner.workspace / "requirements.txt").write_text("scikit-learn\n", encoding="utf-8")
    (runner.workspace / ".dvc").mkdir()
    runner.dvc_remotes = dvc_remotes

    runner.run_job(workflow.jobs["run-0"], {"matrix.trial": HOSTILE_TRIAL}, "refs/heads/exp/lr/t001")

    requirements = [["python", "-m", "pip", "install", "-r", "requirements.txt"]] if has_requirements else []
    pull = [["dvc", "pull", "--allow-missing"]] if dvc_remotes else []
    assert runner.argvs() == [
        *requirements,
        ["python", "-m", "pip", "install", workflow.options.install_spec],
        ["dvc", "remote", "list"],
        *pull,
        ["gitexp", "ci", "run", "--trial", HOSTILE_TRIAL],
    ]
    assert (runner.temp_dir / "gitexp-trial.log").read_text(encoding="utf-8") == "trial ran\n"
    assert no_file_named_pwned(tmp_path)


@pytest.mark.parametrize("variant", ["github"])
def test_run_job_configures_the_bot_identity_for_the_result_commit(workflow, runner) -> None:
    runner.run_job(workflow.jobs["run-0"], {"matrix.trial": "exp/lr/t001"}, "refs/heads/exp/lr/t001")

    def git_config(key: str) -> str:
        return subprocess.run(
            ["git", "config", key], cwd=runner.workspace, capture_output=True, text=True, check=True
        ).stdout.strip()

    assert git_config("user.name") == "github-actions[bot]"
    assert git_config("user.email") == "41898282+github-actions[bot]@users.noreply.github.com"


@pytest.mark.parametrize("variant", ["github"])
def test_run_job_skips_the_dvc_pull_outside_a_dvc_project(workflow, runner) -> None:
    runner.dvc_remotes = "storage\ts3://bucket/cache"

    runner.run_job(workflow.jobs["run-0"], {"matrix.trial": "exp/lr/t001"}, "refs/heads/exp/lr/t001")

    assert not [argv for argv in runner.argvs() if argv[0] == "dvc"]


@pytest.mark.parametrize("variant", ["github", "github-custom"])
def test_report_job_reports_and_comments_once_per_sweep(workflow, runner) -> None:
    expressions = {"join(fromJSON(needs.plan.outputs.plan).sweeps, ' ')": " ".join(PLAN["sweeps"]), "github.token": TOKEN}

    runner.run_job(workflow.jobs["report"], expressions, "refs/heads/exp/lr/t001")

    plots = workflow.options.report_plots
    comment = str(runner.temp_dir / "comment.md")
    assert runner.argvs() == [
        ["python", "-m", "pip", "install", workflow.options.install_spec],
        *[
            argv
            for sweep in ("lr", "bs")
            for argv in (
                ["gitexp", "pull", "origin", sweep, "--no-dvc"],
                ["gitexp", "report", sweep, "--top", "0", "-o", f"gitexp-report/{sweep}/report.md"],
                ["gitexp", "report", sweep, "--top", "0", "--format", "html", "-o", f"gitexp-report/{sweep}/report.html"],
            )
        ],
        ["gitexp", "ci", "comment", "--sweep", "lr", "--report-plots", plots, "--output", comment],
        ["gitexp", "ci", "comment", "--sweep", "bs", "--report-plots", plots, "--output", comment],
        ["gitexp", "ci", "start", "lr", "--next", "--ref", "exp/lr/t001"],
        ["gitexp", "ci", "start", "bs", "--next", "--ref", "exp/lr/t001"],
    ]
    assert runner.calls()[-1]["env"]["GITHUB_TOKEN"] == TOKEN
    assert runner.summary_file.read_text(encoding="utf-8") == "# Comment of lr\n# Comment of bs\n"
    assert sorted(path.name for path in (runner.workspace / "gitexp-report" / "lr").iterdir()) == ["report.html", "report.md"]
    steps = workflow.jobs["report"]["steps"]
    [upload] = [index for index, step in enumerate(steps) if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert steps[upload]["if"] == "${{ always() }}" and steps[upload]["with"] == {
        "name": "gitexp-report", "path": "gitexp-report/", "if-no-files-found": "ignore",
    }  # fmt: skip
    assert "gitexp report" in steps[upload - 1]["run"] and "gitexp ci comment" in steps[upload + 1]["run"]  # the comment names it


EXPECTED_LAUNCH_ARGUMENTS = {
    "cml-all-flags": [
        "--cloud=aws",
        "--cloud-region=us-east-1",
        "--cloud-type=m+k80",
        "--cloud-gpu=v100",
        "--cloud-hdd-size=100",
        "--idle-timeout=5 minutes",
        "--cloud-spot",
        "--reuse-idle",
        "--labels=cml-gitexp,gpu,team.ml",
    ],
    "cml-single": [
        "--cloud=gcp",
        "--cloud-type=n1-standard-4",
        "--idle-timeout=300",
        "--single",
        "--labels=cml-gitexp-4242",
    ],
    **{f"cml-{cloud}": [f"--cloud={cloud}", "--labels=cml-gitexp-4242"] for cloud in CLOUDS},
}


@pytest.mark.parametrize("variant", list(EXPECTED_LAUNCH_ARGUMENTS))
def test_deploy_runner_launches_cml_with_only_the_flags_given_and_the_runs_label(variant, workflow, runner) -> None:
    launch = workflow.jobs["deploy-runner"]["steps"][-1]
    secret_names = ("PERSONAL_ACCESS_TOKEN", *CLOUD_SECRETS[workflow.options.cloud])
    expressions = {f"secrets.{name}": f"secret-{name}" for name in secret_names} | {"github.run_id": "4242"}

    runner.run_step(launch, expressions, "refs/heads/exp/lr/t001")

    [call] = runner.calls()
    assert call["argv"] == ["cml", "runner", "launch", *EXPECTED_LAUNCH_ARGUMENTS[variant]]
    assert call["env"]["REPO_TOKEN"] == "secret-PERSONAL_ACCESS_TOKEN"
