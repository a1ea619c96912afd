"""Experiments on a Git remote: which remote, fetching its trials, writing to it by compare-and-swap.

What a remote holds is fetched into a private namespace of this clone,
``refs/gitexp/remotes/<remote>/``, mirroring the remote's ``refs/`` below it
(``refs/heads/exp/s/t001`` arrives as ``refs/gitexp/remotes/origin/heads/exp/s/t001``).
Those refs are force-updated and pruned, because the remote is the authority,
and the user's own branches are never touched. ``TrackingView`` reads that
namespace as if it were the remote, so ``Ledger`` works on it unchanged.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitexp.errors import GitCommandError, GitexpError, NotFoundError, UsageError
from gitexp.store.git import ZERO_OID, Git, RefRecord, RefUpdate
from gitexp.store.journal import PendingWrite
from gitexp.store.naming import CLAIMS_NAMESPACE, NAME_PATTERN, SWEEPS_NAMESPACE
from gitexp.store.redaction import without_credentials
from gitexp.store.refstore import LocalRefs, drop

DEFAULT_REMOTE = "origin"  # the remote a command uses when none is named
TRACKING_ROOT = "refs/gitexp/remotes/"
INCOMING_ROOT = "refs/gitexp/incoming/"  # a pull's fetched refs wait here until it takes them
ATOMIC_FAILED = "atomic push failed"  # git's reason for the refs of an atomic push rejected only with another
# user@host:path, the scp-like form git accepts for ssh
_SCP_LIKE = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")


class RemoteRefused(GitexpError):
    """The remote declined an update for a reason retrying will not change (a hook, a protected ref)."""

    exit_code = 1


@dataclass(frozen=True)
class Remote:
    """A remote as the user named it (a configured name or a URL) and where its refs are mirrored."""

    spec: str
    namespace: str  # refs/gitexp/remotes/<slug>/

    @property
    def shown(self) -> str:
        """The remote as messages name it: a URL's credentials (a CI token, say) never appear."""
        return without_credentials(self.spec)

    def tracking(self, ref: str) -> str:
        """Where the remote's ``refs/...`` is mirrored in this clone."""
        return self.namespace + ref.removeprefix("refs/")


def resolve_remote(git: Git, spec: str, cwd: Path | None = None, urls: bool = True) -> Remote:
    """A configured remote name or a URL (a path is made absolute against ``cwd``); refuses anything else.

    Without ``urls`` (push, pull, remove, pr: the user's own refs go to a named remote) only a configured name is taken.
    """
    names = git.remote_names()
    if not urls:
        if spec not in names:
            known = ", ".join(names) or "none configured"
            raise NotFoundError(f"no Git remote named {spec!r} (remotes: {known}): add it with git remote add {spec} URL")
    elif not spec or spec.startswith("-") or any(ord(ch) < 32 or ord(ch) == 127 for ch in spec):
        raise UsageError(
            f"--remote {without_credentials(spec)!r} is not a remote name or URL: give one such as {DEFAULT_REMOTE}"
        )
    if spec in names:
        slug = spec if NAME_PATTERN.match(spec) else _digest(spec)
        return Remote(spec, f"{TRACKING_ROOT}{slug}/")
    url = spec
    if "://" not in spec and not _SCP_LIKE.match(spec):
        path = Path(cwd or git.root, spec)
        if not path.exists():
            known = ", ".join(names) or "none configured"
            raise NotFoundError(
                f"{without_credentials(spec)!r} is neither a remote of this repository (remotes: {known}) nor a URL or path: "
                "add it with git remote add NAME URL, or pass its URL"
            )
        url = str(path.resolve())
    return Remote(url, f"{TRACKING_ROOT}url-{_digest(url)}/")


def remote_url(git: Git, name: str) -> str:
    """The URL of the configured remote ``name`` as configured (before any ``insteadOf`` rewriting)."""
    resolve_remote(git, name, urls=False)
    url = git.config_get(f"remote.{name}.url")
    if not url:
        raise NotFoundError(f"the remote {name!r} has no URL: set one with git remote set-url {name} URL")
    return url


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def experiment_refspecs(remote: Remote, prefixes: Sequence[str]) -> list[str]:
    """Refspecs mirroring the remote's sweeps, claims and trial branches (force, the remote is the authority)."""
    namespaces = [SWEEPS_NAMESPACE, CLAIMS_NAMESPACE, *(f"refs/heads/{prefix}" for prefix in sorted(set(prefixes)))]
    return [mirror_refspec(remote, ns) for ns in namespaces]


def mirror_refspec(remote: Remote, namespace: str) -> str:
    """Mirror the remote's ``namespace`` (force: the remote is the authority)."""
    return f"+{namespace}*:{remote.tracking(namespace)}*"


def fetch_experiments(git: Git, remote: Remote, prefixes: Sequence[str]) -> None:
    """Mirror the remote's experiments into ``remote.namespace``; pruned, so deleted claims disappear."""
    git.fetch(remote.spec, experiment_refspecs(remote, prefixes), prune=True)


# More refs than this that moved since the last look are fetched by namespace rather than one by one.
FETCH_ONE_BY_ONE = 500


def served_namespaces(prefixes: Sequence[str], sweeps: Sequence[str]) -> list[str]:
    """What a worker serving ``sweeps`` (every sweep when empty) must see of a remote: their records, claims and
    trial branches (a name ending in ``/`` is a folder, any other an exact ref)."""
    if not sweeps:
        return [SWEEPS_NAMESPACE, CLAIMS_NAMESPACE, *(f"refs/heads/{prefix}" for prefix in sorted(set(prefixes)))]
    found = [f"{SWEEPS_NAMESPACE}{sweep}" for sweep in sweeps] + [f"{CLAIMS_NAMESPACE}{sweep}/" for sweep in sweeps]
    return found + [f"refs/heads/{prefix}{sweep}/" for prefix in sorted(set(prefixes)) for sweep in sweeps]


def sync_mirror(git: Git, remote: Remote, namespaces: Sequence[str]) -> bool:
    """Bring this clone's mirror of the remote's ``namespaces`` up to date; True when anything there moved.

    One ``ls-remote`` says what the remote holds; only the refs whose values
    differ from the mirror's are fetched (by namespace when there are many;
    sweep records as listed, see ``_listed``), and the mirror's refs the remote
    no longer has are dropped. A poll that
    finds nothing new costs the listing, not a fetch of every finished trial.
    """
    inside = lambda ref: any(ref == ns or (ns.endswith("/") and ref.startswith(ns)) for ns in namespaces)  # noqa: E731
    there = {ref: oid for ref, oid in git.ls_remote(remote.spec, [_pattern(ns) for ns in namespaces]).items() if inside(ref)}
    mirrored = {ref: oid for ref, oid in git.ref_oids(*(remote.tracking(ns) for ns in namespaces)).items()}
    moved = [ref for ref, oid in there.items() if mirrored.get(remote.tracking(ref)) != oid]
    wanted = {remote.tracking(ref) for ref in there}
    gone = [RefUpdate(ref, ZERO_OID, oid) for ref, oid in mirrored.items() if ref not in wanted and inside(ref.replace(remote.namespace, "refs/", 1))]
    if len(moved) > FETCH_ONE_BY_ONE:
        git.fetch(remote.spec, [mirror_refspec(remote, ns) if ns.endswith("/") else f"+{ns}:{remote.tracking(ns)}" for ns in namespaces], prune=True)
        return True
    if moved:
        git.fetch(remote.spec, [f"+{_listed(ref, there[ref])}:{remote.tracking(ref)}" for ref in moved], prune=False)
    if gone:
        git.try_update_refs(gone, "gitexp: the remote dropped them")
    return bool(moved or gone)


def _listed(ref: str, oid: str) -> str:
    """What to fetch of a moved ``ref``: a sweep record as the listing had it (by id), any other ref as it is now.

    A record fetched as it is now may be newer than the listing, and name trials
    created since, whose branches the listing lacked: a view with the record but
    not those trials would let a driver's compare-and-swap on the record land,
    growing the sweep past its budget. A record as old as the listing, or older
    than the trials, only loses that swap.
    """
    return oid if ref.startswith(SWEEPS_NAMESPACE) else ref


def _pattern(namespace: str) -> str:
    return f"{namespace}*" if namespace.endswith("/") else namespace


def tracked_claims(git: Git) -> list[RefRecord]:
    """Every remote's claims as this clone last fetched them (``gitexp pull``, a worker), named as on the remote."""
    return [record for _, record in tracked_claims_by_remote(git)]


def tracked_claims_by_remote(git: Git) -> list[tuple[str, RefRecord]]:
    """``tracked_claims``, each with the name of the remote it was fetched from."""
    found = []
    for record in git.refs(f"{TRACKING_ROOT}*/{CLAIMS_NAMESPACE.removeprefix('refs/')}**"):
        remote, _, name = record.name[len(TRACKING_ROOT) :].partition("/")
        found.append((remote, RefRecord("refs/" + name, record.oid, record.message)))
    return found


def fetch_sweeps_and_claims(git: Git, remote: Remote) -> None:
    """Mirror the remote's sweep records (what it shares) and claims (who runs what there now) into ``remote.namespace``."""
    git.fetch(remote.spec, [mirror_refspec(remote, SWEEPS_NAMESPACE), mirror_refspec(remote, CLAIMS_NAMESPACE)], prune=True)


def fetch_objects(git: Git, remote: Remote, commits: Sequence[str]) -> None:
    """Fetch the ``commits`` this clone lacks (and what they need) by id, into no ref: a look that writes none."""
    missing = [oid for oid in dict.fromkeys(commits) if git.rev_parse(oid) is None]
    if missing:
        git.fetch(remote.spec, missing, prune=False)


def seen_shared(git: Git, sweep: str, record: str) -> bool:
    """Whether this clone has seen sweep ``sweep`` on a remote, on the history of its record ``record`` here."""
    tracked = git.refs(f"{TRACKING_ROOT}*/{SWEEPS_NAMESPACE.removeprefix('refs/')}{sweep}")
    return any(same_history(git, record, seen.oid) for seen in tracked)


def same_history(git: Git, ours: str, theirs: str) -> bool:
    """Whether two records of a sweep are one sweep: one is the other or came from it (a sweep queued again
    under the same name is another)."""
    return ours == theirs or git.is_ancestor(ours, theirs) or git.is_ancestor(theirs, ours)


class TrackingView(Git):
    """This clone's mirror of a remote, read as if it were the remote's own refs.

    Only ref lookups are translated; objects are this clone's, where fetching put them.
    """

    def __init__(self, git: Git, remote: Remote):
        super().__init__(git.root, git.env)
        self.remote = remote

    def refs(self, *patterns: str) -> list[RefRecord]:
        inside = [self.remote.tracking(pattern) for pattern in patterns] or [self.remote.namespace]
        records = super().refs(*inside)
        return [RefRecord("refs/" + r.name[len(self.remote.namespace) :], r.oid, r.message) for r in records]

    def rev_parse(self, rev: str) -> str | None:
        return super().rev_parse(self.remote.tracking(rev) if rev.startswith("refs/") else rev)


class Staging:
    """Where a pull fetches a remote's refs before it decides which to take: ``refs/gitexp/incoming/<remote>/``.

    Mirrored like the tracking namespace (``view`` reads it as the remote's
    refs), but emptied by every pull, in the transaction that takes what it wants.
    """

    def __init__(self, git: Git, remote: Remote):
        self.git = git
        self.area = Remote(remote.spec, f"{INCOMING_ROOT}{remote.spec}/")
        self.view = TrackingView(git, self.area)

    def fetch(self, namespaces: Sequence[str]) -> None:
        """Fetch the remote's refs under each of ``namespaces`` into the staging area."""
        self.git.fetch(self.area.spec, [mirror_refspec(self.area, namespace) for namespace in namespaces], prune=False)

    def clear(self) -> None:
        self.git.update_refs(self._emptying())

    def take(self, updates: Sequence[RefUpdate], message: str) -> bool:
        """Apply ``updates`` here and empty the staging area; False when a compare-and-swap lost.

        Branches first, then the sweep records in the transaction that empties
        the area: a loose-ref transaction killed while it commits is half done,
        and a record makes its sweep's branches visible, so a pull cut short
        shows no half sweep (the next pull completes it).
        """
        branches = [update for update in updates if not update.ref.startswith(SWEEPS_NAMESPACE)]
        records = [*(update for update in updates if update.ref.startswith(SWEEPS_NAMESPACE)), *self._emptying()]
        local = LocalRefs(self.git)  # branches and archive refs in one packed-refs rename: archived or live, never both
        if branches and not local.swap(branches, message=message):
            return False
        return not records or local.swap(records, message=message)

    def _emptying(self) -> list[RefUpdate]:
        return [RefUpdate(record.name, ZERO_OID, record.oid) for record in self.git.refs(self.area.namespace)]


@dataclass(frozen=True)
class Refusal:
    """A push the remote did not apply, and git's reason (for ``ref``, the first it rejected; None: the whole push failed)."""

    updates: tuple[RefUpdate, ...]
    reason: str
    ref: str | None = None


class RemoteRefs:
    """A remote as a ``RefStore``: atomic pushes with leases, ``ls-remote`` to look.

    What lands is mirrored at once into this clone's tracking namespace, so the
    view reads its own writes without waiting for the next fetch. A remote that
    declines an update (a hook, a protected ref) raises ``RemoteRefused``; with
    ``refusals`` (a CI job, whose remote may refuse for a moment) the swap is
    lost instead, so the protocol retries it, and each refused push is kept there.
    A push that fails without a clean answer is looked up on the remote before it
    counts as failed (``_landed``): one that landed is a swap that landed.
    Without ``mirror`` (``gitexp push`` and ``remove`` of the user's own refs)
    nothing is copied into the tracking namespace.
    """

    def __init__(self, git: Git, remote: Remote, refusals: list[Refusal] | None = None, mirror: bool = True):
        self.git = git
        self.remote = remote
        self.view = TrackingView(git, remote)
        self.refusals = refusals
        self.mirrors = mirror
        self.lost: tuple[str, ...] = ()

    def swap(self, updates: Sequence[RefUpdate], scratch: Sequence[str] = (), message: str = "gitexp") -> bool:
        self.lost = ()
        try:
            rejected = self.git.push(self.remote.spec, updates, atomic=True)
        except GitCommandError as error:
            if not self._landed(updates):
                self._refused(updates, error.message)
                raise
            rejected = {}
        # git names the refs whose lease failed; the rest of an atomic push is rejected as "atomic push failed"
        self.lost = tuple(ref for ref, reason in rejected.items() if ATOMIC_FAILED not in reason)
        for ref, reason in rejected.items():
            if self.refusals is None and ("declined" in reason or "denied" in reason):
                raise RemoteRefused(f"{self.remote.shown} refused to update {ref} {reason}: allow gitexp to push there")
        if rejected:
            ref, reason = next(iter(rejected.items()))
            self._refused(updates, reason, ref)
        elif self.mirrors:
            # A concurrent fetch may hold one of these refs' locks: then the next fetch mirrors it.
            mirrored = [RefUpdate(self.remote.tracking(u.ref), u.new) for u in updates if u.new != u.old]
            self.git.try_update_refs(mirrored, message)
        if scratch:
            self.git.try_update_refs(drop(scratch))
        return not rejected

    def _landed(self, updates: Sequence[RefUpdate]) -> bool:
        """Whether a push that failed without an answer was applied all the same: one look at exactly its refs.

        The remote may have updated them before the failure (a timeout after
        receive-pack moved them, a connection cut before its report came back, a
        hook that hangs). An atomic push lands whole or not at all, so every ref
        at its new value (claims and results are new commits nobody else makes)
        means it landed. Not when the remote does not answer the look either:
        the caller retries, or gives up, as after any failure.
        """
        try:
            now = self.current(list(dict.fromkeys(update.ref for update in updates)))
        except GitCommandError:
            return False
        return all(now.get(update.ref, ZERO_OID) == update.new for update in updates)

    def publish(self, created: Sequence[RefUpdate], record: RefUpdate, write: PendingWrite, message: str) -> bool:
        """One atomic push: the remote applies it once it has received all of it, whatever becomes of this process."""
        return self.swap([*created, record], [write.scratch], message)

    def current(self, refs: Sequence[str]) -> dict[str, str]:
        found = self.git.ls_remote(self.remote.spec, refs)
        return {ref: found[ref] for ref in refs if ref in found}

    def records(self, refs: Sequence[str]) -> list[RefRecord]:
        """``refs`` as the remote has them now, fetched into the tracking namespace to read their messages."""
        found = list(self.current(refs))
        if found:
            self.mirror(found)
        return [record for record in self.view.refs(*found) if record.name in found] if found else []

    def mirror(self, refs: Sequence[str]) -> None:
        """Fetch the remote's ``refs`` (which it has) into the tracking namespace, for the view to read them."""
        self.git.fetch(self.remote.spec, [f"+{ref}:{self.remote.tracking(ref)}" for ref in refs], prune=False)

    def _refused(self, updates: Sequence[RefUpdate], reason: str, ref: str | None = None) -> None:
        if self.refusals is not None:
            self.refusals.append(Refusal(tuple(updates), reason, ref))
