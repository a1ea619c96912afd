"""The PR comment's images on the remote: a commit per report on refs/gitexp/reports/<sweep>, history kept."""

from __future__ import annotations

import pytest

from gitexp.errors import GitCommandError
from gitexp.sharing.reports import publish_report_files
from gitexp.store.git import Git


def test_each_report_adds_a_commit_so_older_links_keep_resolving(project, bare_remote):
    git = project
    git.run("remote", "add", "origin", str(bare_remote))
    remote = Git(bare_remote)

    first = publish_report_files(git, "origin", "s", {"a.png": b"one", "b.png": b"two"})
    second = publish_report_files(git, "origin", "s", {"a.png": b"three"})
    other = publish_report_files(git, "origin", "t", {"a.png": b"other sweep"})

    assert first.paths == {"a.png": "s/a.png", "b.png": "s/b.png"}
    assert remote.rev_parse("refs/gitexp/reports/s") == second.commit
    assert remote.run("rev-parse", f"{second.commit}^").strip() == first.commit
    assert remote.read_blob(first.commit, "s/a.png") == b"one" and remote.read_blob(second.commit, "s/a.png") == b"three"
    assert remote.read_blob(second.commit, "s/b.png") == b"two"  # kept from the report before
    assert remote.read_blob(other.commit, "t/a.png") == b"other sweep" and remote.read_blob(other.commit, "s/a.png") is None
    assert git.refs("refs/gitexp/tmp/") == [] and git.rev_parse("refs/gitexp/reports/s") is None  # nothing left here


def test_a_remote_that_refuses_the_ref_is_named_with_its_reason(project, bare_remote):
    git = project
    git.run("remote", "add", "origin", str(bare_remote))
    hook = bare_remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'reports are read-only here' >&2\nexit 1\n")
    hook.chmod(0o755)

    with pytest.raises(GitCommandError, match=r"refused refs/gitexp/reports/s: .*allow gitexp to push there"):
        publish_report_files(git, "origin", "s", {"a.png": b"one"})
