"""Review on GitHub: a draft pull request per sweep, a pull request per trial, one updatable report comment per sweep.

Both go through the REST API (``gitexp.github.client``) when GITHUB_TOKEN (or GH_TOKEN)
is set, honouring GITHUB_API_URL; else, for a pull request, the ``gh`` CLI
(``gitexp.github.gh``) when it is installed and logged in; else the compare URL to open by hand, with the
body written to a file to paste.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from gitexp.errors import UsageError
from gitexp.github.client import GitHubClient
from gitexp.github.gh import create_pull_request_with_gh, gh_available
from gitexp.github.repository import GitHubRepo, compare_url
from gitexp.github.runs import baseline_branch, checked_remote_branch, push_sweep_branch, summary_of
from gitexp.github.transport import GitHubAuthError
from gitexp.review.comment import REPORT_ARTIFACT, render_comment
from gitexp.review.report import DEFAULT_TOP, build_sweep_report, project_plots, render_trial_markdown, report_plots
from gitexp.review.tables import format_value
from gitexp.sharing.archive import archived_trial, restore
from gitexp.sharing.reports import publish_report_files
from gitexp.sharing.sync import SyncReport, push, push_refs
from gitexp.store.git import Git
from gitexp.store.layout import pull_request_body_path
from gitexp.store.naming import sweep_branch, sweep_ref
from gitexp.store.records import Ledger, Trial
from gitexp.store.remote import DEFAULT_REMOTE, remote_url

MAX_TITLE_LENGTH = 120
# GitHub refuses comment bodies over 65536 characters; leave room for the marker.
MAX_COMMENT_LENGTH = 65_000
_RELATIVE_IMAGE = re.compile(r"!\[([^\]]*)\]\((?![a-z]+:)[^)]*\)")
_PULL_REF = re.compile(r"refs/pull/(\d+)/")
_SERVER = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]+)?")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class PullRequestOutcome:
    """Where the pull request is, or, when none could be opened, what to open and the body to paste;
    and the sweep's review pull request it closed (``--replace``)."""

    trial: Trial
    pushed: SyncReport
    url: str | None = None
    created: bool = False
    compare_url: str | None = None
    body_file: Path | None = None
    note: str = ""
    replaced: str | None = None


def open_trial_pull_request(
    git: Git,
    env: Mapping[str, str],
    trial_name: str,
    base: str | None = None,
    title: str | None = None,
    remote: str = DEFAULT_REMOTE,
    top: int = DEFAULT_TOP,
    replaces: str | None = None,
) -> PullRequestOutcome:
    """Push the trial's branch (and its sweep record) to ``remote``, then open a pull request into ``base``
    (default: main; with ``replaces``, the sweep's baseline branch), and close the sweep's draft one it replaces."""
    trial = archived_trial(git, trial_name) or Ledger(git).resolve_trial(trial_name)
    sweep = Ledger(git).sweep(trial.sweep)
    if replaces is not None and replaces != trial.sweep:
        raise UsageError(f"{trial.ref.key} is a trial of sweep {trial.sweep}, not of {replaces}: give --replace {trial.sweep}")
    base = base or (baseline_branch(git, sweep) if replaces else "main")
    repo = GitHubRepo.from_remote_url(remote_url(git, remote))
    client = GitHubClient.from_environment(env, repo)  # before the push: a host the token may not go to is refused
    report = build_sweep_report(git, trial.sweep, top=top)
    row = next(row for row in report.trials if row.name == trial.name)
    body = render_trial_markdown(git, report, row)
    title = title or default_title(trial)
    if trial.archived:  # a pull request needs the branch: restored once nothing can refuse any more
        restore(git, [trial.ref.key])
        sweep = Ledger(git).sweep(trial.sweep)  # its record now counts one archived trial less
    pushed = push_refs(git, remote, {trial.ref.ref: trial.tip, sweep_ref(sweep.name): sweep.commit}, restoring=True)
    body_path = pull_request_body_path(git.common_dir(), trial.sweep, trial.name)
    opened = open_pull_request(env, repo, client, PullRequestDraft(trial.ref.branch, base, title, body, body_path))
    replaced = replace_sweep_pull_request(client, repo, replaces, opened["url"]) if replaces and opened.get("url") else None
    return PullRequestOutcome(trial, pushed, **opened, replaced=replaced)


@dataclass(frozen=True)
class PullRequestDraft:
    """What to open: head into base, its title and body, and where the body goes when it must be pasted by hand."""

    head: str
    base: str
    title: str
    body: str
    body_path: Path
    draft: bool = False


def open_pull_request(
    env: Mapping[str, str], repo: GitHubRepo, client: GitHubClient | None, draft: PullRequestDraft
) -> dict[str, Any]:
    """Open ``draft`` with the token's client, else with a logged-in gh, else say where to open it by hand
    (the fields of a ``PullRequestOutcome``)."""
    note = ""
    if client is not None:
        try:
            pull = client.create_pull_request(repo, draft.head, draft.base, draft.title, draft.body, draft=draft.draft)
        except GitHubAuthError as error:
            note = error.message
        else:
            return {"url": pull.html_url, "created": pull.created}
    body_file = write_body(draft.body_path, draft.body)
    if client is None and gh_available(env, repo.host):
        url = create_pull_request_with_gh(repo, draft.head, draft.base, draft.title, body_file, draft=draft.draft, env=env)
        return {"url": url, "body_file": body_file}
    note = note or "no GITHUB_TOKEN (or GH_TOKEN) and no logged-in gh: open the pull request in the browser"
    return {"compare_url": compare_url(repo, draft.base, draft.head), "body_file": body_file, "note": note}


def default_title(trial: Trial) -> str:
    params = ", ".join(f"{key}={format_value(value)}" for key, value in trial.params.items())
    title = f"gitexp {trial.ref.key}" + (f": {params}" if params else "")
    return title if len(title) <= MAX_TITLE_LENGTH else title[: MAX_TITLE_LENGTH - 3] + "..."


def write_body(path: Path, body: str) -> Path:
    """The pull request's body in ``.git/gitexp/pr/`` (outside the working tree), to paste by hand."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


# -- the sweep's pull request ------------------------------------------------------------


@dataclass(frozen=True)
class SweepPullRequestOutcome:
    """The sweep's draft pull request (or what to open by hand), and what went to the remote for it."""

    sweep: str
    pushed: SyncReport
    branch: str
    url: str | None = None
    created: bool = False
    compare_url: str | None = None
    body_file: Path | None = None
    note: str = ""


def open_sweep_pull_request(
    git: Git,
    env: Mapping[str, str],
    sweep_name: str,
    base: str | None = None,
    remote: str = DEFAULT_REMOTE,
    top: int = DEFAULT_TOP,
) -> SweepPullRequestOutcome:
    """Push the sweep and its branch ``sweeps/<sweep>`` (its summary on the baseline, which starts the sweep's
    CI run), then open a draft pull request of that branch into the baseline branch, for the team to review."""
    sweep = Ledger(git).sweep(sweep_name)
    repo = GitHubRepo.from_remote_url(remote_url(git, remote))
    client = GitHubClient.from_environment(env, repo)
    base = base or baseline_branch(git, sweep)
    checked_remote_branch(git, sweep, remote, base)  # before anything is pushed
    summary = summary_of(git, sweep, top)
    pushed = push(git, remote, [sweep.name], with_data=False)
    branch = push_sweep_branch(git, sweep, remote, summary)
    body = comment_body(summary + sweep_instructions(sweep.name))
    body_path = pull_request_body_path(git.common_dir(), sweep.name)
    draft = PullRequestDraft(branch, base, f"gitexp sweep {sweep.name}", body, body_path, draft=True)
    return SweepPullRequestOutcome(sweep.name, pushed, branch, **open_pull_request(env, repo, client, draft))


def sweep_instructions(sweep: str) -> str:
    return (
        f"\n\n---\nThis draft reviews sweep `{sweep}`; merging it is not the point. To merge a trial, run "
        f"`gitexp pr {sweep}/TRIAL --replace {sweep}`: it opens the trial's pull request and closes this one "
        "(the trials stay).\n"
    )


def replace_sweep_pull_request(client: GitHubClient | None, repo: GitHubRepo, sweep: str, replaced_by: str) -> str | None:
    """Close the sweep's open pull request with a comment naming the trial's one (the sweep's branch and trials
    stay); its URL, or None when none is open or there is no token to close it with."""
    pull = client.find_pull_request(repo, sweep_branch(sweep)) if client is not None else None
    if client is None or pull is None:
        return None
    client.upsert_comment(repo, pull.number, f"replaced:{sweep}", f"Replaced by {replaced_by}, the trial chosen from this sweep.")
    client.close_pull_request(repo, pull.number)
    return pull.html_url


# -- the sweep comment in CI ------------------------------------------------------------


@dataclass(frozen=True)
class CommentOutcome:
    url: str | None  # the comment's URL; None when nothing was posted
    created: bool = False
    note: str = ""


@dataclass(frozen=True)
class CommentTarget:
    """The pull request the sweep's comment goes on; without one (``client`` None), ``note`` says why."""

    client: GitHubClient | None
    repo: GitHubRepo | None = None
    number: int = 0
    note: str = ""


def comment_target(git: Git, env: Mapping[str, str], sweep: str) -> CommentTarget:
    """The sweep's pull request (from ``sweeps/<sweep>``), else the pull request of the current branch.

    Found before the comment is made, so that its images are pushed only when a comment will link them.
    """
    if GitHubClient.from_environment(env) is None:
        return CommentTarget(None, note="no GITHUB_TOKEN (or GH_TOKEN): the report was not posted")
    repo = repository_from_environment(git, env)
    client = GitHubClient.from_environment(env, repo)
    number = pull_request_number(env)
    if number is None:
        branch = current_branch(git, env)
        # the sweep's own pull request first (gitexp pr SWEEP), else the one of the branch this run is about
        pull = client.find_pull_request(repo, sweep_branch(sweep)) or (client.find_pull_request(repo, branch) if branch else None)
        if pull is None:
            return CommentTarget(None, note=f"no open pull request for branch {sweep_branch(sweep)} or {branch or '(detached HEAD)'}: nothing to comment on")
        number = pull.number
    return CommentTarget(client, repo, number)


def post_sweep_comment(target: CommentTarget, sweep: str, body: str) -> CommentOutcome:
    """Create or update the one comment of ``sweep`` on ``target``.

    Without a target (no token, no open pull request), nothing is posted and the
    outcome says why: a report job must not fail for want of a place to post.
    """
    if target.client is None or target.repo is None:
        return CommentOutcome(None, note=target.note)
    comment = target.client.upsert_comment(target.repo, target.number, f"sweep:{sweep}", comment_body(body))
    return CommentOutcome(comment.html_url, comment.created)


def repository_from_environment(git: Git, env: Mapping[str, str]) -> GitHubRepo:
    """GITHUB_REPOSITORY on GITHUB_SERVER_URL's host, as Actions sets them; else origin's URL."""
    owner, _, name = env.get("GITHUB_REPOSITORY", "").partition("/")
    if owner and name:
        host = urllib.parse.urlsplit(env.get("GITHUB_SERVER_URL") or "https://github.com").hostname or "github.com"
        return GitHubRepo(owner, name, host)
    return GitHubRepo.from_remote_url(remote_url(git, DEFAULT_REMOTE))


def pull_request_number(env: Mapping[str, str]) -> int | None:
    """The pull request a ``pull_request`` event runs for (GITHUB_REF is refs/pull/N/merge)."""
    match = _PULL_REF.match(env.get("GITHUB_REF", ""))
    return int(match.group(1)) if match else None


def current_branch(git: Git, env: Mapping[str, str]) -> str | None:
    """The branch this run is about: GITHUB_HEAD_REF, GITHUB_REF's branch, else the checked-out one."""
    if env.get("GITHUB_HEAD_REF"):
        return env["GITHUB_HEAD_REF"]
    if env.get("GITHUB_REF", "").startswith("refs/heads/"):
        return env["GITHUB_REF"].removeprefix("refs/heads/")
    checked_out = git.current_branch()
    return checked_out.removeprefix("refs/heads/") if checked_out else None


def sweep_comment(
    git: Git, env: Mapping[str, str], sweep: str, mode: str, remote: str = DEFAULT_REMOTE, linked: bool = True
) -> str:
    """The comment of ``sweep``: its ranking, Mermaid charts and/or links to its plot images, which
    ``mode`` "images" or "both" first pushes to the remote's reports ref (``sharing.reports``) when
    the comment is ``linked`` from a pull request (else the plots are only named)."""
    report = build_sweep_report(git, sweep, top=0)
    plots, declared = report_plots(git, report), project_plots(git, report)
    urls: dict[str, str] = {}
    files = {plot.file_name: plot.png for plot in [*plots, *declared] if plot.png}
    if mode in ("images", "both") and files and linked:
        repo = repository_from_environment(git, env)
        published = publish_report_files(git, remote, report.sweep.name, files)
        urls = {name: image_url(repo, published.commit, path) for name, path in published.paths.items()}
    return render_comment(report, plots, declared, mode, urls, full_report_location(env))


def image_url(repo: GitHubRepo, commit: str, path: str) -> str:
    """Where GitHub shows a file of ``commit`` to whoever can read the repository, private ones included."""
    return f"{repo.web_url}/blob/{commit}/{urllib.parse.quote(path)}?raw=true"


def full_report_location(env: Mapping[str, str]) -> Markup | None:
    """A link to the workflow run whose artifact holds the full report, when this runs in GitHub Actions
    (the variables Actions sets, checked for their shape, so that the link is only ever that)."""
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    repository, run = env.get("GITHUB_REPOSITORY") or "", env.get("GITHUB_RUN_ID") or ""
    if not (_SERVER.fullmatch(server) and _REPOSITORY.fullmatch(repository) and run.isdigit()):
        return None
    return Markup(f"the {REPORT_ARTIFACT} artifact of [workflow run {run}]({server}/{repository}/actions/runs/{run})")


def comment_body(report_markdown: str) -> str:
    """A report fit for a comment: relative image links (files a comment cannot show) become their titles."""
    body = _RELATIVE_IMAGE.sub(lambda match: f"*{match.group(1)}* (plot in the workflow run's files)", report_markdown)
    if len(body) > MAX_COMMENT_LENGTH:
        body = body[:MAX_COMMENT_LENGTH] + "\n\n*(cut: the full report is in the workflow run's summary)*\n"
    return body
