"""Names of sweeps, trials and the refs that hold them.

Every ref gitexp creates passes ``check_ref_format`` (Git's own rules) and, on
top of that, sweep and trial names keep to a conservative alphabet so they are
safe in branch lists, CI job names and file paths alike.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from gitexp.errors import UsageError

DEFAULT_PREFIX = "exp/"
SWEEPS_NAMESPACE = "refs/gitexp/sweeps/"
CLAIMS_NAMESPACE = "refs/gitexp/claims/"
STOPS_NAMESPACE = "refs/gitexp/stop/"
REPORTS_NAMESPACE = "refs/gitexp/reports/"  # a sweep's report images, linked from its pull-request comment
ARCHIVE_NAMESPACE = "refs/gitexp/archive/"  # finished trials moved out of the branch list: <sweep>/<trial>
MAX_NAME_LENGTH = 100
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")

_ADJECTIVES = (
    "amber azure bold brave brisk calm clear cool crisp deft eager early fair fast fine "
    "fond glad grand green keen kind lively lucid merry mild neat nimble noble plain "
    "proud quick quiet rapid ready sharp shy sleek smart snug solid spry stark steady "
    "still sunny swift tidy warm wise young"
).split()
_NOUNS = (
    "acorn alder aspen badger birch brook cedar comet coral crane delta dune ember "
    "falcon fern finch fjord gecko glade heron ibis iris jay kelp lark lynx maple marsh "
    "moss newt oak orca otter owl pine plover quail raven reed robin sage seal sparrow "
    "spruce stork swan tern thrush trout wren yak"
).split()


_REF_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f ~^:?*\[\\]")  # what check-ref-format refuses anywhere in a name


def check_ref_format(ref: str) -> bool:
    """Git's check-ref-format rules for a full ref name (``refs/...``)."""
    if not ref or ref.endswith(("/", ".")) or ref.startswith("/") or "//" in ref:
        return False
    if _REF_FORBIDDEN.search(ref):
        return False
    if ".." in ref or "@{" in ref or ref == "@":
        return False
    for component in ref.split("/"):
        if component.startswith(".") or component.endswith(".lock"):
            return False
    return True


def validate_name(name: str, what: str) -> str:
    """A sweep or trial name: refused with the fix when it is unsafe or not a valid ref part."""
    if not name:
        raise UsageError(f"the {what} name is empty: give a name such as lr-search")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(
            f"the {what} name is {len(name)} characters long: use at most {MAX_NAME_LENGTH}"
        )
    if not NAME_PATTERN.match(name) or not check_ref_format(f"refs/heads/x/{name}"):
        raise UsageError(
            f"the {what} name {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, no '..', not ending in '.lock')"
        )
    return name


def validate_prefix(prefix: str) -> str:
    """The branch prefix for trials, e.g. ``exp/``: one or more safe path components."""
    if not prefix.endswith("/"):
        prefix += "/"
    parts = prefix.rstrip("/").split("/")
    if not all(NAME_PATTERN.match(part) for part in parts) or not check_ref_format(
        f"refs/heads/{prefix}x"
    ):
        raise UsageError(
            f"the trial branch prefix {prefix!r} is not allowed: use path components of "
            "letters, digits, '.', '_' and '-', such as exp/"
        )
    return prefix


def generate_sweep_name(taken: set[str], rng: random.Random | None = None) -> str:
    """A short readable name (``swift-heron``) that no existing sweep uses."""
    rng = rng or random.Random()
    for attempt in range(200):
        name = f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}"
        if attempt >= 100:
            name += f"-{rng.randrange(100, 1000)}"
        if name not in taken:
            return name
    raise UsageError("could not find a free sweep name: name the sweep with --name")


def trial_name(index: int) -> str:
    """The stable name of the ``index``-th trial of a sweep (1-based): t001, t002, ..."""
    return f"t{index:03d}"


def trial_index(name: str) -> int | None:
    """The index ``trial_name`` made ``name`` from (None for any other name)."""
    return int(name[1:]) if len(name) >= 4 and name[0] == "t" and name[1:].isascii() and name[1:].isdigit() else None


@dataclass(frozen=True)
class TrialRef:
    """Where a trial lives: ``refs/heads/<prefix><sweep>/<trial>``."""

    prefix: str
    sweep: str
    trial: str

    @property
    def branch(self) -> str:
        return f"{self.prefix}{self.sweep}/{self.trial}"

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"

    @property
    def archived_ref(self) -> str:
        """Where ``gitexp archive`` keeps the trial: ``refs/gitexp/archive/<sweep>/<trial>``."""
        return f"{ARCHIVE_NAMESPACE}{self.sweep}/{self.trial}"

    @property
    def key(self) -> str:
        """``sweep/trial``: how users name a trial on the command line."""
        return f"{self.sweep}/{self.trial}"

    @classmethod
    def from_ref(cls, ref: str, prefix: str) -> "TrialRef | None":
        head = f"refs/heads/{prefix}"
        if not ref.startswith(head):
            return None
        rest = ref[len(head) :].split("/")
        if len(rest) != 2:
            return None
        return cls(prefix, rest[0], rest[1])


def reports_ref(sweep: str) -> str:
    return f"{REPORTS_NAMESPACE}{sweep}"


def sweep_ref(sweep: str) -> str:
    return f"{SWEEPS_NAMESPACE}{sweep}"


SWEEP_BRANCH_PREFIX = "sweeps/"  # a sweep's own branch: its review pull request and its CI trigger


def sweep_branch(sweep: str) -> str:
    """``sweeps/<sweep>``: the branch whose tip holds the sweep's summary (not ``exp/<sweep>``, a folder of trials)."""
    return f"{SWEEP_BRANCH_PREFIX}{sweep}"


def sweep_of_branch(ref: str) -> str | None:
    """The sweep a ``refs/heads/sweeps/<sweep>`` ref is the branch of; None for any other ref."""
    name = ref.removeprefix("refs/heads/" + SWEEP_BRANCH_PREFIX)
    return name if ref.startswith("refs/heads/" + SWEEP_BRANCH_PREFIX) and NAME_PATTERN.match(name) else None
