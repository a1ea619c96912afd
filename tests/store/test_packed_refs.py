"""Ref transactions written into packed-refs: what Git reads back, Git's locks and folder rules, reflogs, fallbacks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gitexp.store.git import ZERO_OID, Git, RefUpdate
from gitexp.store.journal import recover
from gitexp.store.layout import writes_dir
from gitexp.store.refstore import LocalRefs


@pytest.fixture
def repo(tmp_path: Path) -> Git:
    (tmp_path / "repo").mkdir()
    git = Git.init(tmp_path / "repo")
    git.run("commit", "-q", "--allow-empty", "-m", "base")
    return git


def commits(git: Git, count: int) -> list[str]:
    tree = git.empty_tree()
    return [git.commit_tree(tree, f"c{i}\n") for i in range(count)]


def loose_files(git: Git) -> list[str]:
    root = git.root / ".git"
    return sorted(str(p.relative_to(root)) for p in (root / "refs").rglob("*") if p.is_file())


def refs(git: Git) -> dict[str, str]:
    return dict(line.split(" ")[::-1] for line in git.run("show-ref").splitlines())


def test_many_new_refs_land_in_packed_refs_with_no_loose_file_or_reflog(repo: Git):
    oids = commits(repo, 3)
    created = [RefUpdate(f"refs/heads/exp/s/t{i:04d}", oids[i % 3], ZERO_OID) for i in range(2000)]

    assert LocalRefs(repo).swap(created, message="gitexp: queue s")

    assert loose_files(repo) == ["refs/heads/main"]  # only the user's own branch, as git left it
    assert not (repo.root / ".git/logs/refs/heads/exp").exists()
    assert not list((repo.root / ".git").rglob("*.lock"))
    text = (repo.root / ".git/packed-refs").read_text()
    assert text.startswith("# pack-refs with: peeled fully-peeled sorted \n")
    names = [line.split(" ")[1] for line in text.splitlines()[1:]]
    assert names == sorted(names) and len(names) == 2000
    assert {ref: oid for ref, oid in refs(repo).items() if "/exp/" in ref} == {u.ref: u.new for u in created}
    assert repo.run_process("fsck", "--no-progress").returncode == 0
    repo.run("pack-refs", "--all")  # git reads and rewrites what we wrote
    assert len(refs(repo)) == 2001


def test_loose_and_packed_refs_merge_and_peeled_tags_keep_their_peel(repo: Git):
    a, b, c = commits(repo, 3)
    repo.run("tag", "-a", "-m", "release", "v1")
    repo.run("pack-refs", "--all")
    repo.run("branch", "loose-one", a)  # loose, beside packed ones
    repo.run("update-ref", "refs/heads/exp/s/t001", a)  # a trial branch that git wrote loose, with a reflog
    peeled = repo.run("show-ref", "-d", "v1")

    store = LocalRefs(repo)
    assert store.swap([RefUpdate("refs/heads/exp/s/t001", b, a), RefUpdate("refs/heads/exp/s/t002", c, ZERO_OID)])

    assert repo.run("show-ref", "-d", "v1") == peeled
    assert refs(repo)["refs/heads/loose-one"] == a
    assert refs(repo)["refs/heads/exp/s/t001"] == b and refs(repo)["refs/heads/exp/s/t002"] == c
    assert "refs/heads/exp/s/t001" not in loose_files(repo)  # folded into packed-refs
    log = (repo.root / ".git/logs/refs/heads/exp/s/t001").read_text().splitlines()
    assert log[-1].startswith(f"{a} {b} ")  # an existing reflog goes on
    assert not (repo.root / ".git/logs/refs/heads/exp/s/t002").exists()
    assert store.swap([RefUpdate("refs/heads/exp/s/t001", ZERO_OID, b)])
    assert not (repo.root / ".git/logs/refs/heads/exp/s/t001").exists()  # deleted with its ref, as git does


def test_a_held_ref_lock_or_packed_refs_lock_loses_and_writes_nothing(repo: Git):
    a, b, _ = commits(repo, 3)
    store = LocalRefs(repo)
    assert store.swap([RefUpdate("refs/heads/exp/s/t001", a, ZERO_OID)])
    before = (repo.root / ".git/packed-refs").read_bytes()
    lock = repo.root / ".git/refs/heads/exp/s/t002.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")  # a git update-ref in flight
    assert not store.swap([RefUpdate("refs/heads/exp/s/t001", b, a), RefUpdate("refs/heads/exp/s/t002", b, ZERO_OID)])
    lock.unlink()
    (repo.root / ".git/packed-refs.lock").write_text("")  # a git pack-refs in flight
    assert not store.swap([RefUpdate("refs/heads/exp/s/t001", b, a)])
    (repo.root / ".git/packed-refs.lock").unlink()
    assert (repo.root / ".git/packed-refs").read_bytes() == before
    assert list((repo.root / ".git").rglob("*.lock")) == []


def test_compare_and_swap_and_gits_folder_rule_are_kept(repo: Git):
    a, b, _ = commits(repo, 3)
    store = LocalRefs(repo)
    assert store.swap([RefUpdate("refs/heads/exp/s", a, ZERO_OID)])
    assert not store.swap([RefUpdate("refs/heads/exp/s/t001", a, ZERO_OID)])  # exp/s is a branch
    assert not store.swap([RefUpdate("refs/heads/exp", a, ZERO_OID)])  # exp/ holds branches
    assert not store.swap([RefUpdate("refs/heads/exp/s", b, ZERO_OID)])  # exists
    assert not store.swap([RefUpdate("refs/heads/exp/s", b, b)])  # not at b
    repo.run("branch", "user/x", a)
    assert not store.swap([RefUpdate("refs/heads/user", a, ZERO_OID)])  # a loose branch below it
    assert store.swap([RefUpdate("refs/heads/exp/s", ZERO_OID, a), RefUpdate("refs/heads/exp/s/t001", b, ZERO_OID)])
    assert refs(repo)["refs/heads/exp/s/t001"] == b and "refs/heads/exp/s" not in refs(repo)


def test_every_reflog_asked_for_or_a_reftable_means_update_ref(repo: Git):
    a, _, _ = commits(repo, 3)
    repo.run("config", "core.logAllRefUpdates", "always")
    assert LocalRefs(repo).packed() is None
    assert LocalRefs(repo).swap([RefUpdate("refs/gitexp/sweeps/s", a, ZERO_OID)])
    assert (repo.root / ".git/logs/refs/gitexp/sweeps/s").is_file()
    repo.run("config", "core.logAllRefUpdates", "true")
    assert LocalRefs(repo).packed() is not None
    repo.run("config", "extensions.refStorage", "reftable")
    assert LocalRefs(repo).packed() is None


def test_transient_refs_stay_loose(repo: Git):
    a, _, _ = commits(repo, 3)
    assert LocalRefs(repo).swap([RefUpdate("refs/gitexp/claims/s/t001", a, ZERO_OID)])
    assert "refs/gitexp/claims/s/t001" in loose_files(repo)


def test_a_claim_taken_beside_a_branch_check_or_a_result_stays_loose(repo: Git):
    """A claim is taken with its trial's branch checked (an update to the value it has) and, by a worker, with the
    last result: in packed-refs it would make its deletion rewrite packed-refs, which a full disk refuses."""
    a, b, c = commits(repo, 3)
    store = LocalRefs(repo)
    assert store.swap([RefUpdate("refs/heads/exp/s/t001", a, ZERO_OID), RefUpdate("refs/heads/exp/s/t002", b, ZERO_OID)])
    assert store.swap([RefUpdate("refs/heads/exp/s/t001", a, a), RefUpdate("refs/gitexp/claims/s/t001", c, ZERO_OID)])
    result = [RefUpdate("refs/heads/exp/s/t001", b, a), RefUpdate("refs/gitexp/claims/s/t001", ZERO_OID, c)]
    assert store.swap([*result, RefUpdate("refs/heads/exp/s/t002", b, b), RefUpdate("refs/gitexp/claims/s/t002", c, ZERO_OID)])
    packed = (repo.common_dir() / "packed-refs").read_text()
    assert "refs/gitexp/claims/" not in packed and "refs/gitexp/claims/s/t002" in loose_files(repo)
    assert refs(repo)["refs/heads/exp/s/t001"] == b and "refs/gitexp/claims/s/t001" not in refs(repo)


def test_recover_removes_the_locks_a_killed_write_held_at_once(repo: Git):
    """A write killed inside its transaction: its journal entry names its locks, so the next writer needs no minute's wait."""
    common = repo.common_dir()
    (common / "refs/heads/exp/s").mkdir(parents=True)
    (common / "refs/heads/exp/s/t001.lock").write_text("")
    (common / "packed-refs.lock").write_text("")
    entry = {"locks": ["refs/heads/exp/s/t001"], "packed_lock": os.stat(common / "packed-refs.lock").st_ino}
    writes_dir(common).mkdir(parents=True)
    (writes_dir(common) / "99-dead.json").write_text(json.dumps(entry))

    recover(repo, ["exp/"])

    assert list(common.rglob("*.lock")) == []
    a, _, _ = commits(repo, 3)
    assert LocalRefs(repo).swap([RefUpdate("refs/heads/exp/s/t001", a, ZERO_OID)])


def test_another_writers_packed_refs_lock_is_not_removed(repo: Git):
    common = repo.common_dir()
    (common / "packed-refs.lock").write_text("")
    writes_dir(common).mkdir(parents=True)
    (writes_dir(common) / "99-dead.json").write_text(json.dumps({"locks": [], "packed_lock": 1}))
    recover(repo, ["exp/"])
    assert (common / "packed-refs.lock").exists()


def test_a_writer_between_folding_loose_refs_and_the_update_keeps_its_update(repo: Git, monkeypatch):
    """Folding loose refs releases packed-refs.lock for a moment; whoever commits then must not be overwritten
    (seen as a result of gitexp run -j 2 that went back to its queued trial commit)."""
    from gitexp.store import packed_refs

    old, new, other = commits(repo, 3)
    repo.run("update-ref", "refs/heads/exp/s/t001", old)  # loose: the first transaction folds it in
    assert LocalRefs(repo).swap([RefUpdate("refs/heads/exp/s/t002", old, ZERO_OID)], message="queue")
    take = packed_refs.FileLock.take
    between = []

    def take_after_another_writer(lock):
        if lock.path.name == "packed-refs.lock" and hasattr(lock, "inode") and not between:
            between.append(packed_refs.PackedRefs(lock.path.parent, lambda: "t <t@t> 0 +0000").transact(
                [RefUpdate("refs/heads/exp/s/t002", other, old)], "result t002"))
        take(lock)

    monkeypatch.setattr(packed_refs.FileLock, "take", take_after_another_writer)
    assert LocalRefs(repo).swap([RefUpdate("refs/heads/exp/s/t001", new, old)], message="result t001")

    assert between == [True]
    assert refs(repo)["refs/heads/exp/s/t001"] == new
    assert refs(repo)["refs/heads/exp/s/t002"] == other  # the other writer's result, not undone


def _transact_checking(repo: Git, updates: list[RefUpdate], check) -> bool:
    """A packed transaction that calls ``check()`` once it holds every lock, just before it commits."""
    from gitexp.store.packed_refs import PackedRefs

    def on_locked(refs, packed_lock):
        if packed_lock is not None and len(refs) == len(updates):
            check()

    return PackedRefs(repo.common_dir(), repo.committer_ident).transact(updates, "queue", on_locked)


def test_git_cannot_write_a_ref_the_transaction_holds_and_its_locks_are_one_file(repo: Git):
    """The ref locks are hard links of one file (a new inode per lock costs ext4 ten times as much): each still
    keeps git's update-ref off its ref, as an O_EXCL file does."""
    a, b, _ = commits(repo, 3)
    created = [RefUpdate(f"refs/heads/exp/s/t{i:03d}", a, ZERO_OID) for i in range(300)]
    seen = {}

    def git_writes_meanwhile():
        locks = sorted((repo.common_dir() / "refs/heads/exp/s").glob("*.lock"))
        seen["inodes"] = {path.stat().st_ino for path in locks}
        seen["locks"] = len(locks)
        seen["git"] = repo.run_process("update-ref", "refs/heads/exp/s/t123", b, "")

    assert _transact_checking(repo, created, git_writes_meanwhile)

    assert seen["locks"] == 300 and len(seen["inodes"]) == 1
    assert seen["git"].returncode != 0 and b"File exists" in seen["git"].stderr
    assert refs(repo)["refs/heads/exp/s/t123"] == a
    assert not list((repo.root / ".git").rglob("*.lock"))


def test_a_file_system_without_hard_links_gets_a_lock_file_per_ref(repo: Git, monkeypatch):
    """Where link() fails (no hard links, or EMLINK: as many links as one inode takes), each lock is a file of its own."""
    import errno

    a, _, _ = commits(repo, 3)
    calls = []

    def link(source, target):
        calls.append(target)
        raise OSError(errno.EMLINK if len(calls) % 2 else errno.EPERM, "no more links")

    monkeypatch.setattr(os, "link", link)
    created = [RefUpdate(f"refs/heads/exp/s/t{i:03d}", a, ZERO_OID) for i in range(5)]
    inodes = set()
    assert _transact_checking(repo, created, lambda: inodes.update(p.stat().st_ino for p in (repo.common_dir() / "refs/heads/exp/s").glob("*.lock")))
    assert len(calls) == 4 and len(inodes) == 5
    assert {ref: oid for ref, oid in refs(repo).items() if "/exp/" in ref} == {u.ref: a for u in created}
    assert not list((repo.root / ".git").rglob("*.lock"))


def test_a_lock_whose_first_lock_file_went_meanwhile_is_a_file_of_its_own(repo: Git, monkeypatch):
    a, _, _ = commits(repo, 3)
    link = os.link

    def link_after_the_first_went(source, target):
        os.unlink(source)  # as a recover by another process that took this write for dead would
        return link(source, target)

    monkeypatch.setattr(os, "link", link_after_the_first_went)
    created = [RefUpdate(f"refs/heads/exp/s/t{i:03d}", a, ZERO_OID) for i in range(3)]
    assert LocalRefs(repo).swap(created)
    assert {ref: oid for ref, oid in refs(repo).items() if "/exp/" in ref} == {u.ref: a for u in created}
    assert not list((repo.root / ".git").rglob("*.lock"))
