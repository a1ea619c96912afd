"""What every ref store promises the claim protocol and the queue, checked on each: this repository and a bare remote."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gitexp.store.git import ZERO_OID, Git, RefUpdate
from gitexp.store.refstore import LocalRefs, RefStore
from gitexp.store.remote import RemoteRefs, resolve_remote

REF = "refs/gitexp/claims/s/t001"
OTHER = "refs/heads/exp/s/t001"


@dataclass
class Kit:
    store: RefStore
    writer: Git  # the clone that makes objects and writes through the store
    place: Git  # where the store's refs are: the repository itself, or the bare remote
    commits: list[str]

    def refs(self) -> dict[str, str]:
        return {record.name: record.oid for record in self.place.refs("refs/")}


def make_commits(git: Git, count: int) -> list[str]:
    tree = git.empty_tree()
    return [git.commit_tree(tree, f"commit {i}\n") for i in range(count)]


@pytest.fixture(params=["local", "local-update-ref", "remote"])
def kit(request, tmp_path: Path) -> Kit:
    clone = tmp_path / "clone"
    Git(tmp_path).run("init", "-q", "-b", "main", str(clone))
    git = Git(clone)
    commits = make_commits(git, 3)
    if request.param.startswith("local"):
        if request.param == "local-update-ref":  # every reflog asked for: Git's own transactions, not packed-refs
            git.run("config", "core.logAllRefUpdates", "always")
        return Kit(LocalRefs(git), git, git, commits)
    bare = tmp_path / "remote.git"
    Git(tmp_path).run("init", "-q", "--bare", str(bare))
    git.run("remote", "add", "origin", str(bare))
    return Kit(RemoteRefs(git, resolve_remote(git, "origin")), git, Git(bare), commits)


def test_a_ref_is_created_only_if_absent(kit: Kit):
    a, b, _ = kit.commits

    assert kit.store.swap([RefUpdate(REF, a, ZERO_OID)])
    assert not kit.store.swap([RefUpdate(REF, b, ZERO_OID)])

    assert kit.refs()[REF] == a and kit.store.current([REF]) == {REF: a}


def test_a_swap_moves_a_ref_from_the_value_it_names(kit: Kit):
    a, b, _ = kit.commits
    assert kit.store.swap([RefUpdate(REF, a, ZERO_OID)])

    assert kit.store.swap([RefUpdate(REF, b, a)])

    assert kit.refs()[REF] == b


def test_a_lost_race_answers_false_and_changes_nothing(kit: Kit):
    a, b, c = kit.commits
    assert kit.store.swap([RefUpdate(REF, a, ZERO_OID), RefUpdate(OTHER, a, ZERO_OID)])
    before = kit.refs()

    won = kit.store.swap([RefUpdate(OTHER, b, a), RefUpdate(REF, c, b)])  # REF is at a, not b: the whole swap loses

    assert won is False and kit.refs() == before


def test_an_unchanged_ref_can_be_asserted_without_writing_it(kit: Kit):
    a, b, _ = kit.commits
    assert kit.store.swap([RefUpdate(OTHER, a, ZERO_OID)])

    assert kit.store.swap([RefUpdate(OTHER, a, a), RefUpdate(REF, b, ZERO_OID)])
    assert not kit.store.swap([RefUpdate(OTHER, b, b), RefUpdate(REF, a, b)])

    assert kit.refs() == {OTHER: a, REF: b}


def test_an_absent_ref_can_be_asserted_with_a_move_of_another(kit: Kit):
    a, b, _ = kit.commits  # a cancel: the trial's branch moves only while its claim is absent
    assert kit.store.swap([RefUpdate(OTHER, a, ZERO_OID)])

    assert kit.store.swap([RefUpdate(OTHER, b, a), RefUpdate(REF, ZERO_OID, ZERO_OID)])
    assert kit.store.swap([RefUpdate(REF, a, ZERO_OID)])
    assert not kit.store.swap([RefUpdate(OTHER, a, b), RefUpdate(REF, ZERO_OID, ZERO_OID)])

    assert kit.refs() == {OTHER: b, REF: a}


def test_a_ref_is_deleted_only_from_the_value_it_names(kit: Kit):
    a, b, _ = kit.commits
    assert kit.store.swap([RefUpdate(REF, a, ZERO_OID)])

    assert not kit.store.swap([RefUpdate(REF, ZERO_OID, b)])
    assert kit.store.swap([RefUpdate(REF, ZERO_OID, a)])

    assert REF not in kit.refs() and kit.store.current([REF]) == {}


def test_the_view_reads_what_landed(kit: Kit):
    a, b, _ = kit.commits

    assert kit.store.swap([RefUpdate(REF, a, ZERO_OID), RefUpdate(OTHER, b, ZERO_OID)])
    assert kit.store.swap([RefUpdate(OTHER, ZERO_OID, b)])

    assert {record.name: record.oid for record in kit.store.view.refs("refs/")} == {REF: a}
    assert kit.store.view.rev_parse(REF) == a


def test_scratch_refs_are_dropped_whether_the_swap_lands_or_not(kit: Kit):
    a, b, c = kit.commits
    kit.writer.update_refs([RefUpdate("refs/gitexp/tmp/x", a), RefUpdate("refs/gitexp/tmp/y", b)])

    assert kit.store.swap([RefUpdate(REF, a, ZERO_OID)], ["refs/gitexp/tmp/x"])
    assert not kit.store.swap([RefUpdate(REF, c, ZERO_OID)], ["refs/gitexp/tmp/y"])

    assert kit.writer.refs("refs/gitexp/tmp/") == [] and kit.refs()[REF] == a
