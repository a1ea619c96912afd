"""Every pinned action is the commit its release tag points to.

The table below is the reviewed truth, checked offline: when a pin is bumped, look the tag up
(`git ls-remote https://github.com/OWNER/REPO 'refs/tags/TAG^{}'`, the peeled line for an
annotated tag) and update both the pin and this table in the same commit.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitexp.ci.workflow import ACTIONS

REVIEWED_TAGS = {
    # repository, tag: the commit the tag points to (peeled)
    ("actions/checkout", "v4.2.2"): "11bd71901bbe5b1630ceea73d27597364c9af683",
    ("actions/setup-python", "v5.6.0"): "a26af69be951a213d495a4c3e4e4022e16d87065",
    ("actions/upload-artifact", "v4.6.2"): "ea165f8d65b6e75b540449e92b4886f43607fa02",
    # a lightweight tag: the commit "Merge pull request #1655 from actions/Link-/prepare-4.3.0" (2025-09-24)
    ("actions/cache", "v4.3.0"): "0057852bfaa89a56745cba8c7296529d2fc39830",
    # v2.0.1 is an annotated tag object (16869ca…); the v2 branch points at the same commit
    ("iterative/setup-cml", "v2.0.1"): "f12ea7685438c1fc438d50f77519b3860cf5fa98",
}

USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})\s*#\s*(\S+)")
OWN_WORKFLOWS = sorted((Path(__file__).parents[2] / ".github" / "workflows").glob("*.yml"))


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_a_generated_workflows_pin_is_its_tags_commit(name):
    pin = ACTIONS[name]
    assert REVIEWED_TAGS.get((pin.repository, pin.version)) == pin.commit, (
        f"{pin} disagrees with the reviewed table; look the tag up and update both"
    )


@pytest.mark.parametrize("workflow", OWN_WORKFLOWS, ids=lambda path: path.name)
def test_this_repositorys_own_workflows_pin_the_tags_commit(workflow):
    text = workflow.read_text()
    pins = USES.findall(text)
    assert pins and len(pins) == text.count("uses:"), "every action is pinned to a commit with its tag in a comment"
    for repository, commit, tag in pins:
        assert REVIEWED_TAGS.get((repository, tag)) == commit, f"{repository}@{commit} # {tag}"

