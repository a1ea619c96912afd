"""The Git seam against real repositories: batch writes, atomic ref transactions, batch reads."""

import threading
import time

import pytest

from gitexp.errors import GitCommandError, RepositoryError
from gitexp.store.git import ZERO_OID, FastImportCommit, Git, RefUpdate
from gitexp.store.layout import worktrees_lock_path
from gitexp.store.locks import file_lock


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


def tree_of_every_kind(git: Git) -> str:
    """A commit whose tree holds a file, nested folders, a symlink and a submodule, made with mktree."""
    def blob(content: bytes) -> str:
        return git.run("hash-object", "-w", "--stdin", input=content).strip()

    def tree(entries: list[tuple[str, str, str, str]]) -> str:
        return git.run("mktree", input="".join(f"{mode} {kind} {oid}\t{name}\n" for mode, kind, oid, name in entries)).strip()

    inner = tree([("100644", "blob", blob(b"c\n"), "c.json")])
    folder = tree([("100644", "blob", blob(b"b\n"), "b.yaml"), ("040000", "tree", inner, "sub"), ("100644", "blob", blob(b"a\n"), "same")])
    head = git.rev_parse("HEAD")
    root = tree([
        ("100644", "blob", blob(b"a\n"), "a"),
        ("040000", "tree", folder, "dir"),
        ("120000", "blob", blob(b"dir/b.yaml"), "link"),
        ("160000", "commit", head, "module"),
        ("100755", "blob", blob(b"#!/bin/sh\n"), "run me.sh"),
    ])
    return git.run("commit-tree", root, "-m", "every kind", env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}).strip()


PATHS = ["a", "dir/b.yaml", "dir/sub/c.json", "dir/same", "dir", "dir/sub", "link", "link/b.yaml", "module", "module/x",
         "missing", "dir/missing", "a/b", "dir/sub/c.json/x", "run me.sh", ""]


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_files_read_through_trees_are_what_rev_path_reads(tmp_path, object_format):
    """``read_files`` walks trees itself (each once) but answers as ``cat-file`` answers ``rev:path``."""
    import subprocess

    subprocess.run(["git", "init", "-q", f"--object-format={object_format}", str(tmp_path)], check=True)
    git = Git(tmp_path)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "root"], cwd=tmp_path, check=True)
    commit = tree_of_every_kind(git)
    absent = "1" * len(commit)
    files = [(rev, path) for rev in (commit, "HEAD", absent) for path in PATHS]
    assert git.read_files(files) == git.read_blobs([f"{rev}:{path}" for rev, path in files])
    found = dict(zip(files, git.read_files(files)))
    assert found[commit, "dir/sub/c.json"] == b"c\n" and found[commit, "link"] == b"dir/b.yaml" and found[commit, "module"] is None
    assert found[commit, "a"] == found[commit, "dir/same"] == b"a\n"


def test_reading_files_reads_each_tree_and_each_distinct_blob_once(project, monkeypatch):
    commit = tree_of_every_kind(project)
    asked: list[list[str]] = []
    cat_file = Git._cat_file
    monkeypatch.setattr(Git, "_cat_file", lambda self, names: asked.append(list(names)) or cat_file(self, names))
    project.read_files([(commit, path) for path in ["a", "dir/same", "dir/b.yaml", "dir/sub/c.json", "a"]])
    roots, folders, subfolders, blobs = [names for names in asked if names]  # one cat-file each
    assert roots == [f"{commit}^{{tree}}"] and len(folders) == 1 and len(subfolders) == 1
    assert len(blobs) == 3  # a and dir/same hold one blob


def test_a_tree_the_caller_knows_is_read_without_asking_git_for_the_commits_tree(project, monkeypatch):
    commit = tree_of_every_kind(project)
    project.update_refs([RefUpdate("refs/heads/every-kind", commit, ZERO_OID)])
    [record] = project.refs("refs/heads/every-kind")  # for-each-ref names each tip's tree and time
    assert record.tree == project.run("rev-parse", f"{commit}^{{tree}}").strip()
    assert record.committed == int(project.run("log", "-1", "--format=%ct", commit).strip())
    asked: list[str] = []
    cat_file = Git._cat_file
    monkeypatch.setattr(Git, "_cat_file", lambda self, names: asked.extend(names) or cat_file(self, names))
    files = [(commit, path) for path in PATHS]
    assert project.read_files(files, {commit: record.tree}) == project.read_blobs([f"{commit}:{path}" for path in PATHS])
    assert not [name for name in asked if name.endswith("^{tree}")]


def test_a_fetch_here_and_a_push_into_this_clone_wait_while_a_worktree_add_holds_the_lock(tmp_path):
    """Both read every worktree record of this clone; one that an add has half written fails them
    ('bad object worktrees/<slot>/HEAD'). The add holds the worktree lock exclusively: they wait for it."""
    root = Git(tmp_path)
    root.run("init", "-q", "--bare", str(tmp_path / "remote.git"))
    for name in ("clone", "other"):
        root.run("init", "-q", str(tmp_path / name))
        Git(tmp_path / name).run("commit", "-q", "--allow-empty", "-m", name)
    clone, other = Git(tmp_path / "clone"), Git(tmp_path / "other")
    other.run("push", "-q", str(tmp_path / "remote.git"), "HEAD:refs/heads/main")
    other.run("remote", "add", "into-clone", str(clone.root))  # a configured name: its URL read from git config
    commit = clone.rev_parse("HEAD")
    record, slot = clone.common_dir() / "worktrees" / "slot", tmp_path / "slot"
    record.mkdir(parents=True)
    slot.mkdir()
    (slot / ".git").write_text(f"gitdir: {record}\n")
    (record / "gitdir").write_text(f"{slot / '.git'}\n")
    (record / "locked").write_text("initializing\n")
    (record / "commondir").write_text("../..\n")
    (record / "HEAD").write_text(ZERO_OID + "\n")  # as git worktree add writes it before it checks out
    errors, pushed = [], {}

    def recording(work) -> threading.Thread:
        def body() -> None:
            try:
                work()
            except GitCommandError as error:
                errors.append(str(error))
        return threading.Thread(target=body)

    fetch = recording(lambda: clone.fetch(str(tmp_path / "remote.git"), ["+refs/heads/main:refs/fetched/main"]))
    push = recording(lambda: pushed.update(other.push("into-clone", [RefUpdate("refs/gitexp/pushed", other.rev_parse("HEAD"), ZERO_OID)])))
    with file_lock(worktrees_lock_path(clone.common_dir())):  # as execution/worktrees.py holds it around an add
        fetch.start()
        push.start()
        time.sleep(0.5)
        assert errors == [] and pushed == {} and fetch.is_alive() and push.is_alive()
        (record / "HEAD").write_text(commit + "\n")  # the add is done
    fetch.join(timeout=30)
    push.join(timeout=30)
    assert errors == [] and pushed == {}
    assert clone.rev_parse("refs/fetched/main") == clone.rev_parse("refs/gitexp/pushed") == other.rev_parse("HEAD")


def test_a_push_into_a_clone_where_gitexp_never_ran_makes_no_file_there(tmp_path):
    """It may be another user's clone: its worktree lock is held only where it exists already."""
    root = Git(tmp_path)
    for name in ("clone", "other"):
        root.run("init", "-q", str(tmp_path / name))
        Git(tmp_path / name).run("commit", "-q", "--allow-empty", "-m", name)
    clone, other = Git(tmp_path / "clone"), Git(tmp_path / "other")
    assert other.push(str(clone.root), [RefUpdate("refs/gitexp/pushed", other.rev_parse("HEAD"), ZERO_OID)]) == {}
    assert clone.rev_parse("refs/gitexp/pushed") == other.rev_parse("HEAD")
    assert not (clone.common_dir() / "gitexp").exists()
