"""WorkflowOptions.validate() and write_workflow(): bad options refused in one line, files written whole."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from gitexp.ci.workflow import WORKFLOW_PATH, WorkflowOptions, render_workflow, write_workflow
from gitexp.errors import UsageError

CML = WorkflowOptions(runner="cml", cloud="aws")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (WorkflowOptions(runner="gitlab"), "unknown runner 'gitlab': use --runner github or --runner cml"),
        (WorkflowOptions(runner="cml"), "--runner cml needs a cloud: add --cloud aws"),
        (replace(CML, cloud="ibm"), "unknown cloud 'ibm'"),
        (WorkflowOptions(cloud="aws"), "--cloud only apply to CML cloud runners: add --runner cml"),
        (
            WorkflowOptions(cloud_region="us-west", labels=("gpu",), reuse_idle=True),
            "--cloud-region, --labels, --reuse-idle only apply to CML cloud runners",
        ),
        (WorkflowOptions(cloud_hdd_size=0), "--cloud-hdd-size only apply"),
        (WorkflowOptions(idle_timeout=0), "--idle-timeout only apply"),
        (WorkflowOptions(python="2.7"), "--python '2.7' is not a Python version gitexp runs on"),
        (WorkflowOptions(python="3.9"), "give 3.10 or newer"),
        (WorkflowOptions(python="3.11.x"), "--python"),
        (WorkflowOptions(python="latest"), "--python"),
        (replace(CML, labels=("bad label",)), "--labels 'bad label' is not a runner label"),
        (replace(CML, labels=("a,b",)), "--labels 'a,b' is not a runner label"),
        (replace(CML, labels=("-x",)), "is not a runner label"),
        (replace(CML, labels=("self-hosted",)), "'self-hosted' is GitHub's own"),
        (replace(CML, cloud_type="t2 micro"), "--cloud-type 't2 micro' is not valid"),
        (replace(CML, cloud_region="us-west;rm -rf ~"), "--cloud-region"),
        (replace(CML, cloud_gpu="$(id)"), "--cloud-gpu"),
        (replace(CML, cloud_hdd_size=0), "--cloud-hdd-size 0 is not a disk size"),
        (replace(CML, idle_timeout="soon"), "--idle-timeout 'soon' is not a duration"),
        (replace(CML, idle_timeout="-1"), "--idle-timeout"),
        (replace(CML, idle_timeout="5 parsecs"), "--idle-timeout"),
        (replace(CML, single=True, reuse_idle=True), "--single and --reuse-idle exclude each other"),
        (WorkflowOptions(chunks=0), "--chunks 0 is out of range: give 1 to 64"),
        (WorkflowOptions(chunks=65), "--chunks 65 is out of range"),
        (WorkflowOptions(timeout_minutes=0), "--timeout-minutes 0 is out of range"),
        (WorkflowOptions(timeout_minutes=361), "give 1 to 360 for github runners"),
        (replace(CML, timeout_minutes=7201), "give 1 to 7200 for cml runners"),
        (WorkflowOptions(install_spec=""), "--install-spec '' is not one pip requirement"),
        (WorkflowOptions(install_spec="gitexp\nrm -rf ~"), "--install-spec"),
        (WorkflowOptions(branch_prefix="bad prefix/"), "trial branch prefix"),
        (WorkflowOptions(branch_prefix="exp/*/"), "trial branch prefix"),
        (WorkflowOptions(secrets=("AWS KEY",)), "--secret 'AWS KEY' is not a secret name GitHub allows"),
        (WorkflowOptions(secrets=("1KEY",)), "not starting with a digit or GITHUB_"),
        (WorkflowOptions(secrets=("github_token",)), "--secret 'github_token'"),
        (WorkflowOptions(secrets=("X }}${{ github.token",)), "--secret"),
    ],
)
def test_validate_refuses_bad_options_in_one_line(options: WorkflowOptions, message: str) -> None:
    with pytest.raises(UsageError) as refused:
        options.validate()

    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "options",
    [
        WorkflowOptions(),
        WorkflowOptions(python="3.10", branch_prefix="trials", chunks=64, timeout_minutes=360),
        replace(CML, idle_timeout=300),
        replace(CML, idle_timeout="300"),
        replace(CML, idle_timeout="5min"),
        replace(CML, idle_timeout="1h30m"),
        replace(CML, idle_timeout="5 minutes"),
        replace(CML, idle_timeout="never"),
        replace(CML, cloud="kubernetes", cloud_type="xl", cloud_gpu="nvidia-tesla-t4", timeout_minutes=7200),
        replace(CML, cloud="azure", cloud_region="westeurope", cloud_type="Standard_NC6", labels=("gpu", "a.b_c-d")),
        replace(CML, single=True),
    ],
)
def test_validate_accepts_good_options(options: WorkflowOptions) -> None:
    options.validate()


def test_write_workflow_writes_the_rendered_file(tmp_path: Path) -> None:
    options = WorkflowOptions(chunks=2)

    path = write_workflow(tmp_path, options, force=False)

    assert path == tmp_path / WORKFLOW_PATH
    assert path.read_text(encoding="utf-8") == render_workflow(options)
    assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(entry.name for entry in path.parent.iterdir()) == ["gitexp.yml"]


def test_write_workflow_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / WORKFLOW_PATH
    path.parent.mkdir(parents=True)
    path.write_text("# the user's own workflow\n", encoding="utf-8")

    with pytest.raises(UsageError, match="already exists: pass --force to overwrite"):
        write_workflow(tmp_path, WorkflowOptions(), force=False)

    assert path.read_text(encoding="utf-8") == "# the user's own workflow\n"


def test_write_workflow_overwrites_with_force(tmp_path: Path) -> None:
    write_workflow(tmp_path, WorkflowOptions(), force=False)

    path = write_workflow(tmp_path, CML, force=True)

    assert path.read_text(encoding="utf-8") == render_workflow(CML)


def test_write_workflow_writes_nothing_for_bad_options(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        write_workflow(tmp_path, WorkflowOptions(runner="cml"), force=True)

    assert list(tmp_path.iterdir()) == []


def test_write_workflow_keeps_the_old_file_when_the_rename_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_workflow(tmp_path, WorkflowOptions(), force=False)
    before = path.read_text(encoding="utf-8")

    def failing_replace(source: str, destination: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_workflow(tmp_path, CML, force=True)

    assert path.read_text(encoding="utf-8") == before
    assert sorted(entry.name for entry in path.parent.iterdir()) == ["gitexp.yml"]
