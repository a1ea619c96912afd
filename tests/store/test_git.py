"""The Git seam against real repositories: batch writes, atomic ref transactions, batch reads."""

import pytest

from gitexp.errors import GitCommandError, RepositoryError
from gitexp.store.git import ZERO_OID, FastImportCommit, Git, RefUpdate


def test_discover_refuses_a_plain_folder(tmp_path):
    with pytest.raises(RepositoryError, match="not inside a Git repository"):
        Git.discover(tmp_path)


def test_fast_import_writes_commits_without_visible_refs(project):
    head = project.rev_parse("HEAD")
    commits = [
        FastImportCommit(head, f"trial {i}\n", {"params.yaml": ("100644", f"x: {i}\n".encode())}) for i in range(3)
    ]
    commits.append(FastImportCommit(None, "record\n", {"a b/sweep.json": ("100644", b"{}\n")}))
    oids = project.fast_import(commits, "refs/gitexp/tmp/test")
    assert len(set(oids)) == 4
    assert project.read_blob(oids[1], "params.yaml") == b"x: 1\n"
    assert project.read_blob(oids[1], "train.py") == project.read_blob(head, "train.py")
    assert project.run("rev-parse", f"{oids[0]}^").strip() == head
    assert project.read_blob(oids[3], "a b/sweep.json") == b"{}\n"
    assert project.run("rev-list", "--count", oids[3]).strip() == "1"


def test_ref_transaction_is_all_or_nothing(project):
    head = project.rev_parse("HEAD")
    project.update_refs([RefUpdate("refs/heads/exp/s/t1", head, ZERO_OID)])
    before = project.run("for-each-ref")
    ok = project.try_update_refs(
        [RefUpdate("refs/heads/exp/s/t2", head, ZERO_OID), RefUpdate("refs/heads/exp/s/t1", head, ZERO_OID)]
    )
    assert not ok
    assert project.run("for-each-ref") == before
    with pytest.raises(GitCommandError):
        project.update_refs([RefUpdate("refs/heads/exp/s/t1", head, "1" * 40)])


def test_refs_and_blobs_in_batch(project):
    head = project.rev_parse("HEAD")
    project.update_refs([RefUpdate("refs/heads/exp/s/t1", head, ZERO_OID)])
    records = project.refs("refs/heads/exp/")
    assert [(r.name, r.oid, r.message) for r in records] == [("refs/heads/exp/s/t1", head, "baseline\n")]
    blobs = project.read_blobs([f"{head}:params.yaml", f"{head}:missing file", f"{head}:train.py"])
    assert blobs[0].startswith(b"# Training") and blobs[1] is None and blobs[2].startswith(b"import json")


def test_a_failure_is_told_by_its_meaningful_line():
    """Not git's closing advice ("and the repository exists."), but what went wrong."""
    import subprocess

    from gitexp.store.git import failure_reason

    ssh = (
        b"ssh: connect to host example.com port 22: Connection refused\r\n"
        b"fatal: Could not read from remote repository.\n\n"
        b"Please make sure you have the correct access rights\nand the repository exists.\n"
    )
    rejected = b"To ../r.git\n ! [rejected] main -> main (fetch first)\nerror: failed to push some refs to '../r.git'\nhint: Updates were rejected\n"
    reasons = [failure_reason(subprocess.CompletedProcess([], 128, b"", stderr)) for stderr in (ssh, rejected, b"")]
    assert reasons == [
        "ssh: connect to host example.com port 22: Connection refused",
        "error: failed to push some refs to '../r.git'",
        "exit status 128",
    ]


def test_tree_with_file_adds_one_file_to_a_commits_tree_and_touches_no_index(project):
    status = project.run("status", "--porcelain")

    tree = project.tree_with_file("HEAD", "notes/summary.md", "# hello\n".encode())

    assert project.run("ls-tree", "-r", "--name-only", tree).split() == sorted(
        [*project.run("ls-tree", "-r", "--name-only", "HEAD").split(), "notes/summary.md"]
    )
    assert project.run("cat-file", "-p", f"{tree}:notes/summary.md") == "# hello\n"
    assert project.run("status", "--porcelain") == status
