"""ci init, ci plan, ci run and ci comment as a CI job runs them: in a clone of a bare remote, with GITHUB_* set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gitexp.execution.ci import FINISHED_ELSEWHERE, checked_out_trial, ci_claims, publication
from gitexp.execution.claims import Claims, Runner
from gitexp.sharing.remotes import with_actions_token
from gitexp.store.git import Git
from gitexp.store.records import Ledger, parse_trailers
from gitexp.store.remote import RemoteRefs, resolve_remote
from tests.fake_github import TOKEN

QUEUED_TRIALS = [{"trial": f"exp/q/t00{i}", "sweep": "q", "name": f"t00{i}"} for i in (1, 2, 3)]


@pytest.fixture
def queued(project, bare_remote, run_gitexp):
    """Sweep ``q`` (3 queued trials, concurrency 2) pushed to a bare origin, and a CI clone of it."""
    project.run("remote", "add", "origin", str(bare_remote))
    project.run("push", "-q", "origin", "main")
    assert run_gitexp(project.root, "queue", "--name", "q", "--concurrency", "2", "--set", "train.lr=[0.05, 0.1, 0.2]").code == 0
    assert run_gitexp(project.root, "queue", "--name", "bad", "--set", "train.fail=true").code == 0
    assert run_gitexp(project.root, "push", "--no-dvc").code == 0
    return project


@pytest.fixture
def checkout(queued, bare_remote, tmp_path):
    """What actions/checkout leaves for ``ref``: a full clone with the branch checked out."""

    def make(branch: str) -> Git:
        path = tmp_path / f"ci-{branch.replace('/', '-')}"
        Git(tmp_path).run("clone", "-q", str(bare_remote), str(path))
        git = Git(path)
        git.run("checkout", "-q", "-B", branch, f"refs/remotes/origin/{branch}")
        return git

    return make


def plan(run_gitexp, cwd: Path, env: dict[str, str], *argv: str) -> dict:
    result = run_gitexp(cwd, "ci", "plan", *argv, env=env)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_plan_of_a_pushed_trial_branch_is_that_trial(checkout, run_gitexp):
    git = checkout("exp/q/t001")

    document = plan(run_gitexp, git.root, {"GITHUB_REF": "refs/heads/exp/q/t001", "GITEXP_SWEEP": ""})

    assert document == {
        "concurrency": 2,
        "chunks": [{"include": QUEUED_TRIALS[:1]}, {"include": []}, {"include": []}, {"include": []}],
        "sweeps": ["q"],
        "any": True,
    }


def test_plan_of_a_dispatched_sweep_splits_its_queued_trials_into_chunks(checkout, run_gitexp):
    git = checkout("main")

    document = plan(run_gitexp, git.root, {"GITHUB_REF": "refs/heads/main", "GITEXP_SWEEP": "q"}, "--chunks", "2", "--chunk-size", "2")

    assert document["chunks"] == [{"include": QUEUED_TRIALS[:2]}, {"include": QUEUED_TRIALS[2:]}]
    assert document["concurrency"] == 2 and document["sweeps"] == ["q"]


def test_plan_leaves_out_finished_and_claimed_trials(checkout, queued, run_gitexp):
    git = checkout("main")
    result_tip = queued.run("commit-tree", "exp/q/t002^{tree}", "-p", "exp/q/t002", "-m", "r",
                            "-m", "Gitexp-Sweep: q\nGitexp-Trial: t002\nGitexp-Status: succeeded").strip()  # fmt: skip
    queued.run("push", "-q", "origin", f"{result_tip}:refs/heads/exp/q/t002", "exp/q/t001:refs/gitexp/claims/q/t001")

    result = run_gitexp(git.root, "ci", "plan", env={"GITEXP_SWEEP": "q"})

    assert result.code == 0 and json.loads(result.out)["chunks"][0]["include"] == QUEUED_TRIALS[2:]
    assert result.err == "gitexp: q/t001 is claimed by a worker: left to it\n"


@pytest.mark.parametrize("ref", ["refs/heads/main", "refs/heads/exp/elsewhere/x", "refs/tags/v1"])
def test_plan_of_a_ref_that_is_no_trial_is_empty(checkout, ref, run_gitexp):
    git = checkout("main")

    document = plan(run_gitexp, git.root, {"GITHUB_REF": ref, "GITEXP_SWEEP": ""})

    assert document["any"] is False and document["sweeps"] == []


def test_plan_of_an_unknown_sweep_is_refused(checkout, run_gitexp):
    git = checkout("main")

    result = run_gitexp(git.root, "ci", "plan", env={"GITEXP_SWEEP": "nope"})

    assert result.code == 2 and result.out == ""
    assert result.err == "gitexp: error: origin has no sweep named 'nope' (sweeps there: bad, q): gitexp push it from the clone that has it\n"


def remote_tip(bare_remote: Path, branch: str) -> dict[str, str]:
    message = Git(bare_remote).run("log", "-1", "--format=%B", f"refs/heads/{branch}")
    return parse_trailers(message)


def test_run_runs_the_checked_out_trial_and_pushes_its_result(checkout, bare_remote, run_gitexp, tmp_path):
    git = checkout("exp/q/t001")
    storage = tmp_path / "dvc-storage"
    subprocess.run([sys.executable, "-m", "dvc", "remote", "add", "--local", "-d", "storage", str(storage)],
                   cwd=git.root, check=True, capture_output=True)  # fmt: skip

    result = run_gitexp(git.root, "ci", "run", "--trial", "exp/q/t001", env={"GITHUB_REF": "refs/heads/exp/q/t001"})

    assert result.code == 0, result.err
    assert result.out.splitlines()[-1].startswith("q/t001 succeeded in ")
    assert result.out.endswith(": pushed to origin; outputs pushed to the DVC remote\n")
    trailers = remote_tip(bare_remote, "exp/q/t001")
    assert trailers["Gitexp-Status"] == "succeeded" and trailers["Gitexp-Host"].startswith("ci:")
    assert json.loads(trailers["Gitexp-Metrics"])["score"] == 0.945
    assert Git(bare_remote).run("show", "exp/q/t001:metrics.json").startswith('{"score": 0.945')


def test_run_of_a_failing_trial_pushes_its_failed_result_and_exits_1(checkout, bare_remote, run_gitexp):
    git = checkout("exp/bad/t001")

    result = run_gitexp(git.root, "ci", "run", "--trial", "exp/bad/t001")

    assert result.code == 1 and "training diverged: loss is nan" in result.out
    assert result.err.startswith("gitexp: error: bad/t001 failed (") and result.err.endswith("); its result commit says why\n")
    assert remote_tip(bare_remote, "exp/bad/t001")["Gitexp-Status"] == "failed"


def test_run_retries_a_refused_push_while_the_trial_is_still_queued(checkout, bare_remote, run_gitexp):
    hook = bare_remote / "hooks" / "pre-receive"
    hook.write_text(  # refuses the first push of a result (the job's claim goes through)
        "#!/bin/sh\ngrep -q ' refs/heads/' || exit 0\n"
        f"if [ ! -e {bare_remote}/refused-once ]; then touch {bare_remote}/refused-once; exit 1; fi\n"
    )
    hook.chmod(0o755)
    git = checkout("exp/q/t002")

    result = run_gitexp(git.root, "ci", "run", "--trial", "exp/q/t002")

    assert result.code == 0, result.err
    assert "pushed to origin after 1 refused attempt(s)" in result.out
    assert remote_tip(bare_remote, "exp/q/t002")["Gitexp-Status"] == "succeeded"


def test_run_claims_the_trial_while_it_runs_and_drops_the_claim_after(checkout, bare_remote, run_gitexp):
    hook = bare_remote / "hooks" / "pre-receive"  # records every ref the job writes on origin
    hook.write_text(f"#!/bin/sh\ncat >> {bare_remote}/updates\n")
    hook.chmod(0o755)
    git = checkout("exp/q/t001")

    result = run_gitexp(git.root, "ci", "run", "--trial", "exp/q/t001")

    assert result.code == 0, result.err
    written = [line.split()[2] for line in (bare_remote / "updates").read_text().splitlines()]
    assert written == ["refs/gitexp/claims/q/t001", "refs/heads/exp/q/t001", "refs/gitexp/claims/q/t001"]
    assert Git(bare_remote).run("for-each-ref", "refs/gitexp/claims/") == ""


def test_run_leaves_a_trial_a_live_worker_claimed_to_it(checkout, queued, bare_remote, run_gitexp):
    git = checkout("exp/q/t002")
    worker = Claims(queued, RemoteRefs(queued, resolve_remote(queued, "origin")), Runner("w1", "elsewhere"))
    assert worker.take(next(t for t in Ledger(queued).trials(["q"]) if t.name == "t002")) is not None

    result = run_gitexp(git.root, "ci", "run", "--trial", "exp/q/t002")

    assert result.code == 0 and result.out == "q/t002 is claimed by another runner on origin: left to it\n"
    assert "Gitexp-Status" not in remote_tip(bare_remote, "exp/q/t002")


def test_run_takes_over_a_claim_whose_runner_died(checkout, queued, bare_remote, run_gitexp):
    git = checkout("exp/q/t003")
    an_hour_ago = lambda: time.time() - 3600  # noqa: E731
    dead = Claims(queued, RemoteRefs(queued, resolve_remote(queued, "origin")), Runner("w1", "elsewhere"), clock=an_hour_ago)
    assert dead.take(next(t for t in Ledger(queued).trials(["q"]) if t.name == "t003")) is not None

    result = run_gitexp(git.root, "ci", "run", "--trial", "exp/q/t003")

    assert result.code == 0, result.err
    assert remote_tip(bare_remote, "exp/q/t003")["Gitexp-Status"] == "succeeded"
    assert Git(bare_remote).run("for-each-ref", "refs/gitexp/claims/") == ""


def test_run_skips_a_trial_finished_on_origin_meanwhile(checkout, queued, run_gitexp):
    git = checkout("exp/q/t001")
    result = queued.run("commit-tree", "exp/q/t001^{tree}", "-p", "exp/q/t001", "-m", "r",
                        "-m", "Gitexp-Sweep: q\nGitexp-Trial: t001\nGitexp-Status: failed").strip()  # fmt: skip
    queued.run("push", "-q", "origin", f"{result}:refs/heads/exp/q/t001")

    result = run_gitexp(git.root, "ci", "run", "--trial", "exp/q/t001")

    assert result.code == 0 and result.out == "exp/q/t001 is no longer queued on origin: nothing to run\n"
    assert git.run("log", "-1", "--format=%H").strip() == git.rev_parse("refs/remotes/origin/exp/q/t001")


def test_publishing_after_another_runner_did_drops_this_result(checkout, queued):
    git = checkout("exp/q/t001")
    trial = checked_out_trial(git, "exp/q/t001", "origin")  # a CI checkout has the branch, not the sweep record
    claims = ci_claims(git, "origin")
    claim = claims.take(trial)
    theirs = queued.run("commit-tree", "exp/q/t001^{tree}", "-p", "exp/q/t001", "-m", "theirs",
                        "-m", "Gitexp-Sweep: q\nGitexp-Trial: t001\nGitexp-Status: succeeded").strip()  # fmt: skip
    queued.run("push", "-q", "origin", f"{theirs}:refs/heads/exp/q/t001")
    ours = git.run("commit-tree", "HEAD^{tree}", "-p", "HEAD", "-m", "ours").strip()

    state, note = publication(claims.store, trial, ours, claims.publish(trial, ours, claim))

    assert state == FINISHED_ELSEWHERE
    assert note == "another runner published a result (succeeded) on origin first: this result is not pushed"
    assert Git(queued.root).run("ls-remote", "origin", "refs/heads/exp/q/t001").split()[0] == theirs
    assert git.refs("refs/gitexp/incoming/") == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ci", "run", "--trial", "exp/q/t002"], "HEAD is not at the tip of exp/q/t002: check the trial out first"),
        (["ci", "run", "--trial", "exp/q/t009"], "no trial branch 'exp/q/t009' here: check it out first"),
        (["ci", "run", "--trial", "main"], "no trial branch 'main' here"),
    ],
)
def test_run_refuses_what_is_not_the_checked_out_trial(checkout, argv, message, run_gitexp):
    git = checkout("exp/q/t001")

    result = run_gitexp(git.root, *argv)

    assert result.code == 2 and result.out == "" and message in result.err and result.err.count("\n") == 1


def test_run_refuses_a_dirty_checkout(checkout, run_gitexp):
    git = checkout("exp/q/t001")
    (git.root / "stray.txt").write_text("not part of the trial")

    result = run_gitexp(git.root, "ci", "run", "--trial", "exp/q/t001")

    assert result.code == 2
    assert result.err == "gitexp: error: the checkout has uncommitted changes (stray.txt): ci run needs a clean checkout of the trial\n"


def test_in_actions_the_token_authenticates_git_for_the_server_only(project):
    project.run("remote", "add", "origin", "https://github.com/octo/lab.git")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "tok", "GITHUB_SERVER_URL": "https://github.com"}

    authenticated = with_actions_token(project, {**os.environ, **env}, "origin")

    header = authenticated.run("config", "--get-urlmatch", "http.extraheader", "https://github.com/octo/lab.git")
    assert header.strip() == "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46dG9r"  # x-access-token:tok
    assert "tok" not in project.run("config", "--list")  # nothing written to .git/config
    assert with_actions_token(project, {**os.environ, **env, "GITHUB_ACTIONS": ""}, "origin") is project
    assert with_actions_token(project, {**os.environ, **env, "GITHUB_SERVER_URL": "https://ghe.corp"}, "origin") is project


# -- the generated workflow's own scripts, with the real gitexp ------------------------------------


def workflow_step(document: dict, job: str, name_start: str) -> dict:
    return next(step for step in document["jobs"][job]["steps"] if step.get("name", "").startswith(name_start))


def run_step(step: dict, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A ``run:`` script as GitHub's ``shell: bash`` runs it; ``env:`` values are given as a runner would resolve them."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=cwd,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_workflows_plan_and_run_steps_do_what_they_say(checkout, bare_remote, tmp_path, run_gitexp):
    main_checkout = checkout("main")
    assert run_gitexp(main_checkout.root, "ci", "init").code == 0
    document = YAML(typ="safe").load((main_checkout.root / ".github/workflows/gitexp.yml").read_text())
    output = tmp_path / "github-output"
    runner = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "RUNNER_TEMP": str(tmp_path)}

    planned = run_step(workflow_step(document, "plan", "List the trials"), main_checkout.root,
                       {**runner, "GITHUB_REF": "refs/heads/main", "GITEXP_SWEEP": "q", "GITHUB_TOKEN": ""})  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    plan_json = output.read_text().split("plan<<GITEXP_PLAN\n", 1)[1].split("\nGITEXP_PLAN", 1)[0]
    first = json.loads(plan_json)["chunks"][0]["include"][0]
    trial_checkout = checkout(first["trial"])
    ran = run_step(workflow_step(document, "run-0", "Run the trial"), trial_checkout.root, {**runner, "TRIAL": first["trial"]})

    assert ran.returncode == 0, ran.stderr + ran.stdout
    assert json.loads(plan_json)["chunks"][0]["include"] == QUEUED_TRIALS
    assert remote_tip(bare_remote, first["trial"])["Gitexp-Status"] == "succeeded"
    assert "q/t001 succeeded" in (tmp_path / "gitexp-trial.log").read_text()


def test_the_workflows_report_step_reports_a_sweep_from_a_fresh_checkout(checkout, tmp_path, run_gitexp):
    report_checkout = checkout("main")
    assert run_gitexp(report_checkout.root, "ci", "init").code == 0
    document = YAML(typ="safe").load((report_checkout.root / ".github/workflows/gitexp.yml").read_text())
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "SWEEPS": "q", "GITHUB_TOKEN": "",
           "GITHUB_REPOSITORY": "octo/lab", "GITHUB_REF": "refs/heads/main"}  # fmt: skip

    env["RUNNER_TEMP"] = str(tmp_path)
    # the job's steps in order: the first pulls the sweep into the fresh checkout, the second comments on it
    written = run_step(workflow_step(document, "report", "Write the full reports"), report_checkout.root, env)
    reported = run_step(workflow_step(document, "report", "Write the reports to the pull request"), report_checkout.root, env)

    assert written.returncode == 0, written.stderr
    assert reported.returncode == 0, reported.stderr
    assert "## gitexp sweep q" in (report_checkout.root / "gitexp-report/q/report.md").read_text()
    assert summary.read_text().startswith("## gitexp sweep q\n")


# -- ci init -------------------------------------------------------------------------------------


def test_init_writes_the_workflow_and_refuses_to_overwrite_it(project, run_gitexp, repo_state):
    written = run_gitexp(project.root, "ci", "init", "--runner", "cml", "--cloud", "aws", "--cloud-spot", "--labels", "gpu")
    before = repo_state(project)

    again = run_gitexp(project.root, "ci", "init")

    assert written.code == 0, written.err
    text = (project.root / ".github/workflows/gitexp.yml").read_text()
    assert "cml runner launch" in text and "--cloud-spot" in text and "gpu" in text
    assert "AWS_ACCESS_KEY_ID" in written.out
    assert again.code == 2
    assert again.err == "gitexp: error: .github/workflows/gitexp.yml already exists: pass --force to overwrite it\n"
    assert repo_state(project) == before
    assert run_gitexp(project.root, "ci", "init", "--force").code == 0
    assert "cml runner launch" not in (project.root / ".github/workflows/gitexp.yml").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--runner", "cml"], "--runner cml needs a cloud: add --cloud aws, gcp, azure or kubernetes"),
        (["--cloud", "aws"], "--cloud only apply to CML cloud runners"),
        (["--runner", "cml", "--cloud", "aws", "--labels", "bad label"], "is not a runner label"),
    ],
)
def test_init_refuses_bad_options(project, run_gitexp, repo_state, argv, message):
    before = repo_state(project)

    result = run_gitexp(project.root, "ci", "init", *argv)

    assert result.code == 2 and message in result.err and result.err.count("\n") == 1
    assert repo_state(project) == before


# -- ci comment ----------------------------------------------------------------------------------


def test_comment_posts_one_comment_per_sweep_and_updates_it(reviewed_project, github, tmp_path, run_gitexp):
    reviewed_project.run("remote", "add", "origin", "https://github.com/octo/lab.git")
    github.pulls.append({"number": 7, "state": "open", "head": {"ref": "exp/s/t003", "label": "octo:exp/s/t003"},
                         "base": {"ref": "main"}, "url": "u", "html_url": "https://github.com/octo/lab/pull/7"})  # fmt: skip
    report = tmp_path / "report.md"
    report.write_text("## gitexp sweep s\n\n![score against train.lr](report-plots/score-vs-train.lr.png)\n")
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "octo/lab",
           "GITHUB_REF": "refs/heads/exp/s/t003"}  # fmt: skip

    first = run_gitexp(reviewed_project.root, "ci", "comment", "--sweep", "s", "--file", str(report), env=env)
    report.write_text("## gitexp sweep s, later\n")
    second = run_gitexp(reviewed_project.root, "ci", "comment", "--sweep", "s", "--file", str(report), env=env)

    assert first.code == 0 and first.out.startswith("Posted https://github.com/octo/lab/pull/7#issuecomment-"), first
    assert second.code == 0 and second.out.startswith("Updated ")
    [comment] = github.comments[7]
    assert comment["body"] == "<!-- gitexp:sweep:s -->\n## gitexp sweep s, later\n"
    first_body = next(r.payload["body"] for r in github.requests if r.method == "POST")
    assert "*score against train.lr* (plot in the workflow run's files)" in first_body and "](report-plots" not in first_body


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"GITHUB_TOKEN": "", "GH_TOKEN": ""}, "Not posted: no GITHUB_TOKEN (or GH_TOKEN): the report was not posted\n"),
        ({"GITHUB_TOKEN": TOKEN, "GITHUB_REF": "refs/heads/exp/s/t001"},
         "Not posted: no open pull request for branch sweeps/s or exp/s/t001: nothing to comment on\n"),
    ],
)  # fmt: skip
def test_comment_without_a_token_or_a_pull_request_says_so_and_succeeds(reviewed_project, github, tmp_path, env, said, run_gitexp):
    report = tmp_path / "report.md"
    report.write_text("## report\n")
    base = {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "octo/lab"}

    result = run_gitexp(reviewed_project.root, "ci", "comment", "--sweep", "s", "--file", str(report), env={**base, **env})

    assert result.code == 0 and result.out == said
    assert github.comments == {}
