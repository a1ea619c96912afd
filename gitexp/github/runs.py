"""A sweep's CI run: one ``workflow_dispatch`` per sweep, or a push of the sweep's own branch.

``prepare_run`` checks everything before anything is pushed: a way to dispatch
(GITHUB_TOKEN/GH_TOKEN through the bounded client, else a logged-in ``gh``), the
branch the run starts on (the sweep's baseline branch) being on the remote and
holding the baseline, and that branch's workflow file being one that
``gitexp ci init`` wrote. ``push_sweep_branch`` writes ``sweeps/<sweep>``: a
commit on the baseline whose tree adds the sweep's summary; the workflow runs
the sweep when that branch is pushed, and the sweep's pull request comes from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitexp.ci.workflow import WORKFLOW_PATH, check_workflow_text
from gitexp.errors import UsageError
from gitexp.github.client import GitHubClient
from gitexp.github.gh import dispatch_workflow_with_gh, gh_available
from gitexp.github.repository import GitHubRepo, actions_page_url
from gitexp.review.report import DEFAULT_TOP, build_sweep_report, render_markdown
from gitexp.sharing.sync import push
from gitexp.store.git import ZERO_OID, Git, RefUpdate
from gitexp.store.naming import sweep_branch, sweep_ref
from gitexp.store.records import T_SWEEP, Sweep, format_message
from gitexp.store.remote import RemoteRefs, fetch_objects, remote_url, resolve_remote

WORKFLOW_FILE = WORKFLOW_PATH.name
SUMMARY_FOLDER = ".gitexp/sweeps"


@dataclass(frozen=True)
class RunStart:
    """A checked dispatch of ``sweep``'s run on branch ``ref`` of ``repo``; through ``client``, else ``gh``."""

    repo: GitHubRepo
    sweep: str
    ref: str
    client: GitHubClient | None

    @property
    def page(self) -> str:
        return actions_page_url(self.repo, WORKFLOW_FILE)


def prepare_run(git: Git, env: Mapping[str, str], sweep: Sweep, remote: str, ref: str | None = None) -> RunStart:
    """Everything a dispatch needs, checked; refuses (``UsageError``) without writing anything."""
    repo = GitHubRepo.from_remote_url(remote_url(git, remote))
    client = GitHubClient.from_environment(env, repo)
    if client is None and not gh_available(env, repo.host):
        page = actions_page_url(repo, WORKFLOW_FILE)
        raise UsageError(
            f"no GITHUB_TOKEN (or GH_TOKEN) and no logged-in gh to dispatch sweep {sweep.name}'s run: set one, "
            f"or start it by hand with \"Run workflow\" (sweep: {sweep.name}) at {page}, "
            f"or push its trigger branch {sweep_branch(sweep.name)} with `gitexp ci start {sweep.name} --push`"
        )
    branch = ref or baseline_branch(git, sweep)
    tip = checked_remote_branch(git, sweep, remote, branch)
    check_workflow_text(_text(git.read_blob(tip, WORKFLOW_PATH.as_posix())), f"{remote}'s {branch}")
    return RunStart(repo, sweep.name, branch, client)


def dispatch(start: RunStart, env: Mapping[str, str]) -> None:
    """``workflow_dispatch`` of the workflow with the sweep's name as its input."""
    inputs = {"sweep": start.sweep}
    if start.client is not None:
        start.client.dispatch_workflow(start.repo, WORKFLOW_FILE, start.ref, inputs)
    else:
        dispatch_workflow_with_gh(start.repo, WORKFLOW_FILE, start.ref, inputs, env)


def baseline_branch(git: Git, sweep: Sweep) -> str:
    """The branch here that holds the sweep's baseline: the current one, else main or master."""
    current = (git.current_branch() or "").removeprefix("refs/heads/")
    for name in dict.fromkeys(name for name in (current, "main", "master") if name):
        tip = git.rev_parse(f"refs/heads/{name}")
        if tip is not None and git.is_ancestor(sweep.baseline, tip):
            return name
    raise UsageError(
        f"no branch here (of {current or 'a detached HEAD'}, main, master) holds the baseline {sweep.baseline[:10]} "
        f"of sweep {sweep.name}: name the sweep's baseline branch with --ref (or --base) BRANCH"
    )


def checked_remote_branch(git: Git, sweep: Sweep, remote: str, branch: str) -> str:
    """The tip of ``branch`` on ``remote`` (its objects here), refused unless it holds the sweep's baseline."""
    tip = git.ls_remote(remote, [f"refs/heads/{branch}"]).get(f"refs/heads/{branch}")
    if tip is None:
        raise UsageError(
            f"{remote} has no branch {branch}, the baseline branch of sweep {sweep.name}: "
            f"push it first (git push {remote} {branch}), or name another with --ref BRANCH"
        )
    fetch_objects(git, resolve_remote(git, remote, urls=False), [tip])
    if not git.is_ancestor(sweep.baseline, tip):
        raise UsageError(
            f"{remote}'s {branch} does not hold the baseline {sweep.baseline[:10]} of sweep {sweep.name}: "
            f"push it first (git push {remote} {branch}), or name the sweep's branch with --ref BRANCH"
        )
    return tip


def push_sweep_branch(git: Git, sweep: Sweep, remote: str, summary: str) -> str:
    """Push ``sweeps/<sweep>``: a commit with the sweep's summary on the remote's last one (else on the
    baseline), by compare-and-swap. Answers the branch's name; the push starts the sweep's run."""
    branch = sweep_branch(sweep.name)
    ref = f"refs/heads/{branch}"
    store = RemoteRefs(git, resolve_remote(git, remote, urls=False), mirror=False)
    there = store.current([ref]).get(ref)
    if there is not None:
        fetch_objects(git, store.remote, [there])
    parent = there if there is not None and git.is_ancestor(sweep.baseline, there) else sweep.baseline
    tree = git.tree_with_file(parent, f"{SUMMARY_FOLDER}/{sweep.name}.md", summary.encode("utf-8"))
    message = format_message(f"gitexp: review sweep {sweep.name}", {T_SWEEP: sweep.name})
    commit = git.commit_tree(tree, message, [parent])
    if not store.swap([RefUpdate(ref, commit, there or ZERO_OID)], message="gitexp: sweep branch"):
        raise UsageError(f"{branch} changed on {remote} meanwhile: run the command again")
    return branch


def _text(blob: bytes | None) -> str | None:
    return None if blob is None else blob.decode("utf-8", "replace")


def require_sweep_on_remote(git: Git, sweep: str, remote: str) -> None:
    """Refuse to start a run for a sweep that the remote does not have (its plan would find nothing)."""
    if not git.ls_remote(remote, [sweep_ref(sweep)]):
        raise UsageError(f"{remote} has no sweep {sweep}: push it and start its run with `gitexp push {remote} {sweep} --run`")


def push_sweep_by_hand(git: Git, sweep: Sweep, remote: str) -> str:
    """Start the sweep's run without a token: push the sweep, then its branch with a summary, which the workflow runs on."""
    check_workflow_text(_text(git.read_blob(sweep.baseline, WORKFLOW_PATH.as_posix())), f"the baseline of sweep {sweep.name}")
    push(git, remote, [sweep.name], with_data=False)
    return push_sweep_branch(git, sweep, remote, summary_of(git, sweep))


def summary_of(git: Git, sweep: Sweep, top: int = DEFAULT_TOP) -> str:
    """What the sweep's branch holds: its report as it is now."""
    return render_markdown(git, build_sweep_report(git, sweep.name, top=top))
