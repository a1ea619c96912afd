"""The ``gh`` CLI, for a pull request or a workflow run when there is no token: argument lists, no prompts, a timeout.

Separate from the REST client: ``gh`` holds its own login, so nothing here
sees a token, and what ``gh`` prints is redacted of any the environment holds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Mapping

from gitexp.errors import UsageError
from gitexp.github.repository import GitHubRepo
from gitexp.github.transport import TOKEN_VARIABLES, GitHubError
from gitexp.store.redaction import Redactor

GH_AUTH_TIMEOUT_SECONDS = 10.0
GH_CREATE_TIMEOUT_SECONDS = 120.0
_PULL_URL = re.compile(r"https?://\S+/pull/\d+")


def gh_available(env: Mapping[str, str] | None = None, host: str | None = None) -> bool:
    """Whether the ``gh`` CLI is on PATH and logged in (to ``host`` if given)."""
    env = os.environ if env is None else env
    gh = _gh_executable(env)
    if gh is None:
        return False
    command = [gh, "auth", "status"] + (["--hostname", host] if host else [])
    try:
        result = _run_gh(command, env, GH_AUTH_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def create_pull_request_with_gh(
    repo: GitHubRepo,
    head: str,
    base: str,
    title: str,
    body_file: str | os.PathLike[str],
    draft: bool = False,
    env: Mapping[str, str] | None = None,
) -> str:
    """Open a PR with ``gh pr create``; the URL of the new PR, or of the one already open."""
    env = os.environ if env is None else env
    gh = _gh_executable(env)
    if gh is None:
        raise UsageError("the GitHub CLI `gh` is not on PATH: install it and run `gh auth login`, or set GITHUB_TOKEN")
    command = [gh, "pr", "create", "--repo", _gh_repo(repo), "--head", head, "--base", base, "--title", title]
    command += ["--body-file", os.fspath(body_file)]
    if draft:
        command.append("--draft")
    try:
        result = _run_gh(command, env, GH_CREATE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise GitHubError(f"`gh pr create` did not finish within {GH_CREATE_TIMEOUT_SECONDS:.0f} s") from None
    if result.returncode == 0:
        return _last_line(result.stdout)  # gh prints the new PR's URL last
    existing = _PULL_URL.search(result.stderr) if "already exists" in result.stderr else None
    if existing:
        return existing.group(0)
    said = Redactor(env.get(name, "") for name in TOKEN_VARIABLES)(_last_line(result.stderr))
    raise GitHubError(f"`gh pr create` failed (exit status {result.returncode}): {said}")


def dispatch_workflow_with_gh(
    repo: GitHubRepo, workflow: str, ref: str, inputs: Mapping[str, str], env: Mapping[str, str] | None = None
) -> None:
    """``gh workflow run``: the same dispatch through a logged-in ``gh``."""
    env = os.environ if env is None else env
    gh = _gh_executable(env)
    if gh is None:
        raise UsageError("the GitHub CLI `gh` is not on PATH: install it and run `gh auth login`, or set GITHUB_TOKEN")
    command = [gh, "workflow", "run", workflow, "--repo", _gh_repo(repo), "--ref", ref]
    command += [part for name, value in inputs.items() for part in ("--raw-field", f"{name}={value}")]
    try:
        result = _run_gh(command, env, GH_CREATE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise GitHubError(f"`gh workflow run` did not finish within {GH_CREATE_TIMEOUT_SECONDS:.0f} s") from None
    if result.returncode != 0:
        said = Redactor(env.get(name, "") for name in TOKEN_VARIABLES)(_last_line(result.stderr))
        raise GitHubError(f"`gh workflow run` failed (exit status {result.returncode}): {said}")


def _gh_repo(repo: GitHubRepo) -> str:
    return repo.full_name if repo.host == "github.com" else f"{repo.host}/{repo.full_name}"


def _gh_executable(env: Mapping[str, str]) -> str | None:
    return shutil.which("gh", path=env.get("PATH", ""))


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[-1].strip()


def _run_gh(command: list[str], env: Mapping[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    # No prompts, no stdin: gitexp may run unattended (CI), where a prompt would hang.
    return subprocess.run(
        command,
        env={**env, "GH_PROMPT_DISABLED": "1"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
