"""Fixtures for the generated workflow: every variant rendered once per session,
and a local stand-in for a GitHub runner that executes a job's ``run:`` scripts.

Tests that take ``variant`` (or ``workflow``) run once for each entry of ``VARIANTS``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gitexp.ci.workflow import CLOUDS, WorkflowOptions, render_workflow

VARIANTS = {
    "github": WorkflowOptions(),
    "github-custom": WorkflowOptions(
        python="3.12",
        branch_prefix="trials/ci",
        install_spec="gitexp==0.1.0",
        chunks=1,
        timeout_minutes=90,
        secrets=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        report_plots="mermaid",
    ),
    **{f"cml-{cloud}": WorkflowOptions(runner="cml", cloud=cloud) for cloud in CLOUDS},
    "cml-all-flags": WorkflowOptions(
        runner="cml",
        cloud="aws",
        cloud_region="us-east-1",
        cloud_type="m+k80",
        cloud_gpu="v100",
        cloud_spot=True,
        cloud_hdd_size=100,
        idle_timeout="5 minutes",
        labels=("gpu", "team.ml"),
        reuse_idle=True,
        chunks=2,
        timeout_minutes=1440,
        secrets=("GDRIVE_CREDENTIALS_DATA",),
    ),
    "cml-single": WorkflowOptions(runner="cml", cloud="gcp", cloud_type="n1-standard-4", single=True, idle_timeout=300),
}

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass(frozen=True)
class RenderedWorkflow:
    options: WorkflowOptions
    text: str
    document: dict[str, Any]

    @property
    def jobs(self) -> dict[str, Any]:
        return self.document["jobs"]

    @property
    def run_job_ids(self) -> list[str]:
        return [f"run-{index}" for index in range(self.options.chunks)]


@pytest.fixture(params=list(VARIANTS))
def variant(request: pytest.FixtureRequest) -> str:
    """The name of a variant: every one of them, unless a test parametrizes ``variant`` itself."""
    return request.param


@pytest.fixture(scope="session")
def workflows_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like a repository's, holding one rendered workflow per variant."""
    root = tmp_path_factory.mktemp("workflows")
    directory = root / ".github" / "workflows"
    directory.mkdir(parents=True)
    for name, options in VARIANTS.items():
        (directory / f"{name}.yml").write_text(render_workflow(options), encoding="utf-8")
    return directory


@pytest.fixture
def workflow(variant: str, workflows_dir: Path) -> RenderedWorkflow:
    path = workflows_dir / f"{variant}.yml"
    text = path.read_text(encoding="utf-8")
    return RenderedWorkflow(VARIANTS[variant], text, YAML(typ="safe").load(text))


def substitute_expressions(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``${{ expression }}`` replaced by ``values[expression]`` (all must be known)."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        assert expression in values, f"the test gives no value for ${{{{ {expression} }}}}"
        return values[expression]

    return EXPRESSION.sub(value, text)


FAKE_COMMAND = textwrap.dedent(
    """\
    import json, os, sys
    name = os.path.basename(sys.argv[0])
    arguments = sys.argv[1:]
    seen_env = {key: os.environ.get(key) for key in ("GITEXP_SWEEP", "GITHUB_REF", "GITHUB_TOKEN", "REPO_TOKEN")}
    with open(os.environ["FAKE_CALLS"], "a", encoding="utf-8") as calls:
        calls.write(json.dumps({"argv": [name, *arguments], "env": seen_env}) + "\\n")
    if name == "gitexp" and arguments[:2] == ["ci", "plan"]:
        print(os.environ["FAKE_PLAN"])
    elif name == "gitexp" and arguments[:2] == ["ci", "run"]:
        print("trial ran")
    elif name == "gitexp" and arguments[:1] == ["report"]:
        path = arguments[arguments.index("-o") + 1]
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as report:
            report.write(f"# Report of {arguments[1]}\\n")
    elif name == "gitexp" and arguments[:2] == ["ci", "comment"] and "--output" in arguments:
        with open(arguments[arguments.index("--output") + 1], "w", encoding="utf-8") as comment:
            comment.write(f"# Comment of {arguments[arguments.index('--sweep') + 1]}\\n")
    elif name == "dvc" and arguments == ["remote", "list"]:
        print(os.environ.get("FAKE_DVC_REMOTES", ""), end="")
    """
)
FAKE_COMMAND_NAMES = ("gitexp", "python", "dvc", "cml")


@dataclass
class FakeRunner:
    """Runs ``run:`` scripts as GitHub's ``shell: bash`` does, with fake commands first on PATH."""

    workspace: Path
    home: Path
    calls_file: Path
    output_file: Path
    summary_file: Path
    temp_dir: Path
    plan_json: str = "{}"
    dvc_remotes: str = ""

    def run_step(self, step: dict[str, Any], expressions: dict[str, str], github_ref: str) -> None:
        script_file = self.home / "step.sh"
        script_file.write_text(step["run"], encoding="utf-8")
        step_env = {name: substitute_expressions(str(value), expressions) for name, value in step.get("env", {}).items()}
        subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            cwd=self.workspace,
            env={**self._runner_env(github_ref), **step_env},
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def run_job(self, job: dict[str, Any], expressions: dict[str, str], github_ref: str) -> None:
        for step in job["steps"]:
            if "run" in step:
                self.run_step(step, expressions, github_ref)

    def calls(self) -> list[dict[str, Any]]:
        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text(encoding="utf-8").splitlines()]

    def argvs(self) -> list[list[str]]:
        return [call["argv"] for call in self.calls()]

    def outputs(self) -> dict[str, str]:
        return parse_github_output(self.output_file.read_text(encoding="utf-8"))

    def _runner_env(self, github_ref: str) -> dict[str, str]:
        return {
            "PATH": f"{self.home / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.home),
            "GITHUB_ACTIONS": "true",
            "GITHUB_REF": github_ref,
            "GITHUB_REF_NAME": github_ref.removeprefix("refs/heads/"),
            "GITHUB_OUTPUT": str(self.output_file),
            "GITHUB_STEP_SUMMARY": str(self.summary_file),
            "RUNNER_TEMP": str(self.temp_dir),
            "FAKE_CALLS": str(self.calls_file),
            "FAKE_PLAN": self.plan_json,
            "FAKE_DVC_REMOTES": self.dvc_remotes,
            "GIT_CONFIG_NOSYSTEM": "1",
        }


HEREDOC_START = re.compile(r"([\w-]+)<<(.+)\Z")


def parse_github_output(text: str) -> dict[str, str]:
    """The outputs in a ``$GITHUB_OUTPUT`` file: ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        heredoc = HEREDOC_START.match(line)
        if not heredoc:
            name, value = line.split("=", 1)
            outputs[name] = value
            continue
        name, delimiter = heredoc.groups()
        value_lines = []
        for value_line in lines:
            if value_line == delimiter:
                break
            value_lines.append(value_line)
        else:
            raise AssertionError(f"the output {name!r} is not closed by {delimiter!r}")
        outputs[name] = "\n".join(value_lines)
    return outputs


@pytest.fixture
def fake_runner(tmp_path: Path) -> FakeRunner:
    """A workspace that is a Git repository, and fake gitexp, python, dvc and cml that record their calls."""
    home = tmp_path / "home"
    bin_dir = home / "bin"
    bin_dir.mkdir(parents=True)
    for name in FAKE_COMMAND_NAMES:
        command = bin_dir / name
        command.write_text(f"#!{sys.executable}\n{FAKE_COMMAND}", encoding="utf-8")
        command.chmod(0o755)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    subprocess.run(["git", "init", "--quiet", str(workspace)], check=True)
    temp_dir = tmp_path / "runner-temp"
    temp_dir.mkdir()
    return FakeRunner(
        workspace=workspace,
        home=home,
        calls_file=tmp_path / "calls.jsonl",
        output_file=tmp_path / "github-output",
        summary_file=tmp_path / "step-summary.md",
        temp_dir=temp_dir,
    )
