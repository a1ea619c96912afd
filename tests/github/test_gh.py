"""gitexp.github.gh against a fake ``gh`` on PATH that logs every call."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from gitexp.errors import UsageError
from gitexp.github.gh import create_pull_request_with_gh, gh_available
from gitexp.github.repository import GitHubRepo
from gitexp.github.transport import GitHubError

REPO = GitHubRepo("octo", "lab")

FAKE_GH = """#!{python}
import json, os, sys
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "prompt_disabled": os.environ.get("GH_PROMPT_DISABLED")}}) + "\\n")
mode = os.environ.get("FAKE_GH_MODE", "ok")
if sys.argv[1:3] == ["auth", "status"]:
    sys.exit(0 if mode != "logged-out" else 1)
if mode == "exists":
    sys.stderr.write('a pull request for branch "x" into branch "main" already exists:\\n')
    sys.stderr.write("https://github.com/octo/lab/pull/9\\n")
    sys.exit(1)
if mode == "fails":
    sys.stderr.write("pull request create failed: GraphQL: Head sha can't be blank\\n")
    sys.exit(1)
print("Creating pull request for exp/s/t-1 into main in octo/lab\\n")
print("https://github.com/octo/lab/pull/12")
"""


@pytest.fixture
def fake_gh(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH starts with a fake ``gh`` that logs its argv to FAKE_GH_LOG."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "gh"
    script.write_text(FAKE_GH.format(python=sys.executable))
    script.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "FAKE_GH_LOG": str(tmp_path / "gh.log")}


def _gh_calls(env: dict[str, str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(env["FAKE_GH_LOG"]).read_text().splitlines()]


def test_gh_available_when_logged_in(fake_gh: dict[str, str]):
    assert gh_available(fake_gh)
    assert _gh_calls(fake_gh) == [{"argv": ["auth", "status"], "prompt_disabled": "1"}]


def test_gh_not_available_when_logged_out_or_missing(fake_gh: dict[str, str], tmp_path: Path):
    assert not gh_available({**fake_gh, "FAKE_GH_MODE": "logged-out"})
    assert not gh_available({"PATH": str(tmp_path / "empty")})


def test_create_pull_request_with_gh_passes_an_argument_list(fake_gh: dict[str, str], tmp_path: Path):
    body_file = tmp_path / "report.md"
    body_file.write_text("# Report")

    url = create_pull_request_with_gh(REPO, "exp/s/t-1", "main", "Trial t-1; rm -rf / $(x)", body_file, env=fake_gh)

    assert url == "https://github.com/octo/lab/pull/12"
    assert _gh_calls(fake_gh)[0]["argv"] == [
        "pr", "create", "--repo", "octo/lab", "--head", "exp/s/t-1", "--base", "main",
        "--title", "Trial t-1; rm -rf / $(x)", "--body-file", str(body_file),
    ]  # fmt: skip


def test_create_pull_request_with_gh_on_enterprise_as_draft(fake_gh: dict[str, str]):
    enterprise = GitHubRepo("team", "lab", "github.corp.com")
    create_pull_request_with_gh(enterprise, "h", "b", "t", "body.md", draft=True, env=fake_gh)

    argv = _gh_calls(fake_gh)[0]["argv"]
    assert argv[2:4] == ["--repo", "github.corp.com/team/lab"] and argv[-1] == "--draft"


def test_create_pull_request_with_gh_returns_the_existing_pr(fake_gh: dict[str, str]):
    url = create_pull_request_with_gh(REPO, "x", "main", "t", "body.md", env={**fake_gh, "FAKE_GH_MODE": "exists"})

    assert url == "https://github.com/octo/lab/pull/9"


def test_create_pull_request_with_gh_failure_is_one_line(fake_gh: dict[str, str]):
    with pytest.raises(GitHubError) as caught:
        create_pull_request_with_gh(REPO, "x", "main", "t", "body.md", env={**fake_gh, "FAKE_GH_MODE": "fails"})

    assert str(caught.value) == (
        "`gh pr create` failed (exit status 1): pull request create failed: GraphQL: Head sha can't be blank"
    )


def test_create_pull_request_with_gh_missing(tmp_path: Path):
    with pytest.raises(UsageError, match="`gh` is not on PATH"):
        create_pull_request_with_gh(REPO, "x", "main", "t", "body.md", env={"PATH": str(tmp_path)})
