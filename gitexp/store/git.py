"""The one seam between gitexp and Git.

Everything gitexp does to a repository goes through ``Git``: argument lists,
never shell strings; plumbing in batch (fast-import, ``update-ref --stdin``,
``cat-file --batch``, one ``for-each-ref``) so that a thousand trials cost a
handful of processes. Methods return plain data; failures raise
``GitCommandError`` or ``RepositoryError`` with a one-line message.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from gitexp.errors import GitCommandError, NetworkTimeout, RepositoryError
from gitexp.store.layout import local_clone_common_dir, worktrees_lock_path
from gitexp.store.locks import file_lock
from gitexp.store.network import (
    DEFAULT_TIMEOUT,
    TIMEOUT_CONFIG,
    TIMEOUT_ENV,
    http_low_speed,
    parse_timeout,
    run_watched,
)
from gitexp.store.redaction import redacted, without_credentials

# User hooks (e.g. DVC's post-checkout) must not run inside gitexp's own plumbing.
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
ZERO_OID = "0" * 40
TREE_MODE, SUBMODULE_MODE = b"40000", b"160000"  # a folder's and a submodule's entry in a tree object

# fast-import deflates every object with a fresh zlib stream (~256 KB); glibc hands that memory back to the
# kernel after each object and faults it in again for the next: for 10,000 trials half a million page faults,
# most of a queue's system time. A high trim threshold keeps it (other C libraries ignore the variable).
_FAST_IMPORT_MALLOC = {"MALLOC_TRIM_THRESHOLD_": str(64 << 20)}

# Flocks that mark a ref write in flight (store/journal.py): every git child inherits them, so a
# write whose gitexp was killed still counts as live while the git it started commits.
_INHERITED: set[int] = set()
_INHERITED_LOCK = threading.Lock()


@contextmanager
def inherited_by_git(fd: int) -> Iterator[None]:
    """While inside, every git this process starts holds ``fd`` (an flock) too, until it exits."""
    with _INHERITED_LOCK:
        _INHERITED.add(fd)
    try:
        yield
    finally:
        with _INHERITED_LOCK:
            _INHERITED.discard(fd)


@contextmanager
def _inherited_copies() -> Iterator[list[int]]:
    """Copies of the inherited flocks for one git to start with (another thread may close its flock meanwhile)."""
    with _INHERITED_LOCK:
        inherited = [os.dup(fd) for fd in _INHERITED]
    try:
        yield inherited
    finally:
        for fd in inherited:
            os.close(fd)


def _not_started(folder: Path) -> RepositoryError:
    """Why git could not start in ``folder``: the folder is gone, or git is missing."""
    if not folder.is_dir():
        return RepositoryError(f"the folder {folder} does not exist (any more): run gitexp in an existing checkout")
    return RepositoryError("git is not installed or not on PATH: install Git 2.30 or newer")


@dataclass(frozen=True)
class RefRecord:
    """One ref as read by ``for-each-ref``: its name, target and tip commit message (and the commit's tree and time)."""

    name: str
    oid: str
    message: str
    tree: str = ""  # "" when the ref names no commit
    committed: int | None = None  # the commit time, seconds since the epoch


@dataclass(frozen=True)
class RefUpdate:
    """One line of an atomic ref transaction.

    ``old`` is the expected current value: ``ZERO_OID`` means "must not exist",
    ``None`` means "whatever it is". ``new`` of ``ZERO_OID`` deletes the ref.
    """

    ref: str
    new: str
    old: str | None = None


@dataclass(frozen=True)
class FastImportCommit:
    """A commit for ``fast-import``: parent, message and the files it replaces."""

    parent: str | None
    message: str
    files: Mapping[str, tuple[str, bytes]]  # path -> (mode, content)


class Git:
    """A Git repository addressed by its work tree (or a worktree of it)."""

    def __init__(self, root: Path, env: Mapping[str, str] | None = None):
        self.root = Path(root)
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("GIT_TERMINAL_PROMPT", "0")
        self._remote_config: str | None = None  # see _remote_settings
        self._common_dir: Path | None = None

    @classmethod
    def discover(cls, path: Path, env: Mapping[str, str] | None = None) -> "Git":
        """The repository containing ``path``; refuses bare repositories and non-repositories."""
        if not Path(path).is_dir():
            raise RepositoryError(f"the working directory {path} does not exist (any more): cd into your project again")
        proc = Git(path, env).run_process("rev-parse", "--show-toplevel")
        if proc.returncode == 0:
            return cls(Path(proc.stdout.decode().strip()), env)
        owned = _DUBIOUS_OWNERSHIP.search(proc.stderr.decode("utf-8", "replace"))
        if owned:
            raise RepositoryError(
                f"the repository at {owned[1]} belongs to another user, so Git refuses it (safe.directory): if you trust it, "
                f"run git config --global --add safe.directory {shlex.quote(owned[1])}"
            )
        raise RepositoryError(
            f"{path} is not inside a Git repository: run gitexp from a Git checkout "
            "(git init, then commit your DVC project)"
        )

    @classmethod
    def init(cls, directory: Path, env: Mapping[str, str] | None = None, branch: str = "main") -> "Git":
        """A new repository in ``directory`` whose first branch is ``branch``."""
        git = cls(directory, env)
        git.run("init", "-q", "-b", branch)
        return git

    # -- running git ---------------------------------------------------------

    def run(
        self,
        *args: str,
        input: bytes | str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        check: bool = True,
    ) -> str:
        return self.run_bytes(*args, input=input, env=env, cwd=cwd, check=check).decode(
            "utf-8", "replace"
        )

    def run_bytes(
        self,
        *args: str,
        input: bytes | str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        check: bool = True,
    ) -> bytes:
        proc = self.run_process(*args, input=input, env=env, cwd=cwd)
        if check and proc.returncode != 0:
            raise GitCommandError(f"git {_command(args)} failed: {redacted(failure_reason(proc))}")  # git may echo a URL's token
        return proc.stdout

    def run_process(
        self,
        *args: str,
        input: bytes | str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess:
        """Run git and hand back the finished process, whatever its exit status."""
        if isinstance(input, str):
            input = input.encode()
        try:
            with _inherited_copies() as inherited:
                return subprocess.run(
                    ["git", *NO_HOOKS, *args],
                    cwd=cwd or self.root,
                    input=input,
                    capture_output=True,
                    env={**self.env, **(env or {})},
                    check=False,
                    pass_fds=inherited,
                )
        except FileNotFoundError:
            raise _not_started(Path(cwd or self.root)) from None

    def run_remote(self, remote: str, *args: str) -> subprocess.CompletedProcess:
        """Run a git command that talks to ``remote``, whatever its exit status, within the network timeout.

        Killed once it has said nothing for that long (``store.network``); http(s)
        transfers also end when slower than a byte a second for as long, unless the
        user configured ``http.lowSpeedLimit``/``lowSpeedTime`` themselves.
        """
        settings = self._remote_settings()
        keys = [line.partition(" ")[0] for line in settings.splitlines()]
        silence = self.network_timeout(settings)  # both read in one git config: every push and fetch asks
        configured = any(key.startswith("http.") for key in keys)
        argv = ["git", *NO_HOOKS, *([] if configured else http_low_speed(silence)), *args]
        try:
            with _inherited_copies() as inherited:
                proc = run_watched(argv, self.root, self.env, silence, pass_fds=inherited)
        except FileNotFoundError:
            raise _not_started(self.root) from None
        if proc is None or (proc.returncode and b"Operation too slow" in proc.stderr):
            raise NetworkTimeout(
                f"{self.remote_display(remote)} did not answer within {silence:g} s (git {args[0]}): check that it is "
                f"up and reachable from here, or allow longer with git config {TIMEOUT_CONFIG} SECONDS"
            )
        return proc

    def _remote_settings(self) -> str:
        """What ``git config`` says of the network timeout, http's low-speed limits and the remotes' URLs: read
        once by this instance (a worker pushes and fetches several times a trial), again after its own ``config_set``."""
        if self._remote_config is None:
            self._remote_config = self.run(
                "config", "--get-regexp", r"^(gitexp\.networktimeout|http\..*lowspeed(limit|time)|remote\..*\.(push)?url)$", check=False
            )
        return self._remote_config

    def _push_url(self, remote: str) -> str:
        """Where a push to ``remote`` (a configured name or a URL) goes: its pushurl, else its url (the last one set)."""
        urls = {}
        for line in self._remote_settings().splitlines():
            key, _, value = line.partition(" ")
            urls[key] = value
        return urls.get(f"remote.{remote}.pushurl") or urls.get(f"remote.{remote}.url") or remote

    def network_timeout(self, settings: str | None = None) -> float:
        """Seconds a git or dvc process talking to a remote may stay silent: $GITEXP_NETWORK_TIMEOUT, gitexp.networkTimeout, 60.

        ``settings``: what ``git config --get-regexp`` said already, when it was asked for that key among others.
        """
        if TIMEOUT_ENV in self.env:
            return parse_timeout(self.env[TIMEOUT_ENV], TIMEOUT_ENV)
        if settings is None:
            configured = self.config_get(TIMEOUT_CONFIG)
        else:
            values = [line.partition(" ")[2] for line in settings.splitlines() if line.partition(" ")[0] == TIMEOUT_CONFIG.lower()]
            configured = values[-1].strip() if values else None
        return parse_timeout(configured, TIMEOUT_CONFIG) if configured else DEFAULT_TIMEOUT

    def remote_display(self, remote: str) -> str:
        """A remote for messages, without credentials: ``origin (https://host/repo.git)`` for a name, else its URL."""
        url = self.config_get(f"remote.{remote}.url") if remote in self.remote_names() else None
        return f"{remote} ({without_credentials(url)})" if url else without_credentials(remote)

    # -- reading -------------------------------------------------------------

    def rev_parse(self, rev: str) -> str | None:
        """The commit id ``rev`` names, or None when it names no commit."""
        out = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False)
        return out.strip() or None

    def git_dir(self) -> Path:
        return Path(self.run("rev-parse", "--absolute-git-dir").strip())

    def common_dir(self) -> Path:
        """The shared .git directory (the same for every worktree of a repository; asked once per instance)."""
        if self._common_dir is None:
            path = Path(self.run("rev-parse", "--git-common-dir").strip())
            self._common_dir = path if path.is_absolute() else (self.root / path).resolve()
        return self._common_dir

    def config_get(self, key: str) -> str | None:
        out = self.run("config", "--get", key, check=False).strip()
        return out or None

    def config_values(self, keys: Sequence[str]) -> dict[str, str]:
        """The values of the configuration ``keys`` that are set (lower-case names), in one ``git config``."""
        pattern = "^(" + "|".join(re.escape(key.lower()) for key in keys) + ")$"
        out = self.run("config", "-z", "--get-regexp", pattern, check=False)
        return dict(entry.partition("\n")[::2] for entry in out.split("\0") if entry)

    def config_matches(self, pattern: str) -> bool:
        """Whether any configuration key matches the regular expression ``pattern``."""
        return bool(self.run("config", "--get-regexp", pattern, check=False).strip())

    def is_shallow(self) -> bool:
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def current_branch(self) -> str | None:
        """The branch HEAD is on (``refs/heads/NAME``), None when HEAD is detached."""
        return self.run("symbolic-ref", "-q", "HEAD", check=False).strip() or None

    def is_ancestor(self, ancestor: str, child: str) -> bool:
        """Whether ``ancestor`` is ``child`` or one of its ancestors (False when either is missing)."""
        return self.run_process("merge-base", "--is-ancestor", ancestor, child).returncode == 0

    def existing_commits(self, oids: Iterable[str]) -> set[str]:
        """The commits among ``oids`` that this repository has, in one ``cat-file --batch-check``."""
        oids = list(dict.fromkeys(oids))
        if not oids:
            return set()
        out = self.run("cat-file", "--batch-check=%(objectname) %(objecttype)", input="\n".join(oids) + "\n")
        return {line.split()[0] for line in out.splitlines() if line.endswith(" commit")}

    def commit_parents(self, oids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Parents of each commit in ``oids`` (all present), in one ``rev-list``."""
        oids = list(oids)
        if not oids:
            return {}
        out = self.run("rev-list", "--no-walk=unsorted", "--parents", "--stdin", input="\n".join(oids) + "\n")
        return {oid: tuple(parents) for oid, *parents in (line.split() for line in out.splitlines())}

    def commit_times(self, revs: Sequence[str]) -> dict[str, int]:
        """When each commit of ``revs`` was made (seconds since the epoch), in one ``log``."""
        if not revs:
            return {}
        out = self.run("log", "--no-walk=unsorted", "--stdin", "--format=%H %ct", input="\n".join(revs) + "\n")
        return {rev: int(seconds) for rev, _, seconds in (line.partition(" ") for line in out.splitlines())}

    def first_parent_log(self, rev: str, count: int) -> list[tuple[str, int, str]]:
        """The newest ``count`` commits of ``rev``'s first-parent line: (oid, commit time, subject), newest first."""
        out = self.run("log", "--first-parent", f"-n{count}", "--format=%H %ct %s", rev, "--")
        found = []
        for line in out.splitlines():
            oid, _, rest = line.partition(" ")
            seconds, _, subject = rest.partition(" ")
            found.append((oid, int(seconds), subject))
        return found

    def commit_subject(self, rev: str) -> str:
        return self.run("log", "-1", "--format=%s", rev, "--").strip()

    def first_parent_trailer(self, rev: str, key: str) -> str:
        """The ``key`` trailer of the newest commit on ``rev``'s first-parent line that has one ("" when none has)."""
        fmt = f"--format=%(trailers:key={key},valueonly)"
        return self.run("log", "--first-parent", "-1", f"--grep=^{key}: ", fmt, rev).strip()

    def changed_files(self, base: str, rev: str) -> dict[str, str]:
        """``path -> status letter`` (A, M, D, T) of the files that differ from ``base`` to ``rev`` (no rename detection)."""
        changes = self.run("diff", "--name-status", "--no-renames", "-z", base, rev).split("\0")
        return dict(zip(changes[1::2], changes[0::2]))

    def tracked_files(self, paths: Sequence[str]) -> list[str]:
        """The files Git tracks among ``paths`` (exact paths, not patterns), or below them."""
        if not paths:
            return []
        return self.run("--literal-pathspecs", "ls-files", "--", *paths).splitlines()

    def refs(self, *patterns: str) -> list[RefRecord]:
        """Refs under ``patterns`` with their tip commit messages, in one process."""
        fmt = "%(refname)%00%(objectname)%00%(tree)%00%(committerdate:unix)%00%(contents)%00%00"
        out = self.run("for-each-ref", f"--format={fmt}", *patterns)
        records = []
        for chunk in out.split("\0\0\n"):
            if not chunk.strip("\n"):
                continue
            name, oid, tree, seconds, message = chunk.lstrip("\n").split("\0", 4)
            records.append(RefRecord(name, oid, message, tree, int(seconds) if seconds else None))
        return records

    def ref_oids(self, *patterns: str) -> dict[str, str]:
        """``ref -> oid`` of the refs under ``patterns`` (no messages read), in one ``for-each-ref``."""
        out = self.run("for-each-ref", "--format=%(objectname) %(refname)", *patterns)
        return {name: oid for oid, _, name in (line.partition(" ") for line in out.splitlines())}

    def read_blobs(self, specs: Sequence[str]) -> list[bytes | None]:
        """Contents of ``<rev>:<path>`` specs in one ``cat-file --batch``; None where missing."""
        return [found[2] if found and found[1] == b"blob" else None for found in self._cat_file(specs)]

    def read_files(self, files: Sequence[tuple[str, str]], trees_of: Mapping[str, str] = {}) -> list[bytes | None]:
        """Contents of ``(rev, path)`` files, as ``read_blobs`` gives ``rev:path``: None where missing or no file.

        Read through the trees, each tree once, then each distinct blob once: git's own
        ``rev:path`` lookup walks the commit and its trees again for every spec, which for
        five files of 10,000 commits costs ten times as much. A ``cat-file`` a folder
        level, and one for the blobs. ``trees_of`` gives the trees of commits the caller
        knows (``RefRecord.tree``), which spares git finding them.
        """
        every = dict.fromkeys(rev for rev, _ in files)
        revs = [rev for rev in every if not trees_of.get(rev)]
        trees: dict[str, dict[bytes, tuple[bytes, bytes]]] = {}  # hex oid -> name -> (mode, raw oid)
        roots = {rev: trees_of[rev] for rev in every if trees_of.get(rev)}
        for rev, found in zip(revs, self._cat_file([f"{rev}^{{tree}}" for rev in revs])):
            if found and found[1] == b"tree":
                roots[rev] = found[0].decode()
                trees[roots[rev]] = _tree_entries(found[2], len(found[0]) // 2)
        names = {path: path.encode().split(b"/") for path in {path for _, path in files}}
        # each file's lookup: the tree it has reached and the names left to walk
        walks = [(index, roots[rev], names[path]) for index, (rev, path) in enumerate(files) if rev in roots]
        blobs: list[bytes | None] = [None] * len(files)
        reached: Iterable[str] = roots.values()
        while walks:
            self._read_trees(trees, reached)
            deeper = []
            for index, tree, left in walks:
                mode, oid = trees.get(tree, _NO_ENTRIES).get(left[0], _NO_ENTRY)
                if len(left) > 1 and mode == TREE_MODE:
                    deeper.append((index, oid.hex(), left[1:]))
                elif len(left) == 1 and mode is not None and mode not in (TREE_MODE, SUBMODULE_MODE):
                    blobs[index] = oid
            walks = deeper
            reached = dict.fromkeys(tree for _, tree, _ in walks)
        distinct = list(dict.fromkeys(oid for oid in blobs if oid is not None))
        contents = dict(zip(distinct, self.read_blobs([oid.hex() for oid in distinct])))
        return [None if oid is None else contents[oid] for oid in blobs]

    def _read_trees(self, trees: dict[str, dict[bytes, tuple[bytes, bytes]]], wanted: Iterable[str]) -> None:
        """Add to ``trees`` the ``wanted`` ones (hex oids) it lacks, in one ``cat-file``."""
        missing = [oid for oid in wanted if oid not in trees]
        for oid, found in zip(missing, self._cat_file(missing)):
            if found and found[1] == b"tree":
                trees[oid] = _tree_entries(found[2], len(oid) // 2)

    def _cat_file(self, names: Sequence[str]) -> list[tuple[bytes, bytes, bytes] | None]:
        """``(hex oid, type, content)`` of each object ``names`` names, in one ``cat-file --batch``; None where missing."""
        if not names:
            return []
        data = self.run_bytes("cat-file", "--batch", "--buffer", input="\n".join(names) + "\n")
        results: list[tuple[bytes, bytes, bytes] | None] = []
        pos = 0
        for _ in names:
            end = data.index(b"\n", pos)
            header = data[pos:end]
            pos = end + 1
            if header.endswith((b" missing", b" ambiguous")):
                results.append(None)
                continue
            oid, kind, size = header.split()
            end = pos + int(size)
            results.append((oid, kind, data[pos:end]))
            pos = end + 1
        return results

    def read_blob(self, rev: str, path: str) -> bytes | None:
        return self.read_blobs([f"{rev}:{path}"])[0]

    def through_links(self, rev: str, path: str) -> tuple[str, str] | None:
        """The file ``path`` of ``rev`` leads to through symlinks inside the tree, and its mode (as the file
        system follows links); None when a link leads out of the tree or round in a loop."""
        for _ in range(40):  # as many links as Linux follows
            mode = next(iter(self.tree_entries(rev, [path]).values()), "100644")
            if mode != "120000":
                return path, mode
            link = (self.read_blob(rev, path) or b"").decode("utf-8", "replace")
            path = posixpath.normpath(posixpath.join(posixpath.dirname(path), link))
            if posixpath.isabs(link) or path == ".." or path.startswith("../"):
                return None
        return None

    def tree_entries(self, rev: str, paths: Iterable[str]) -> dict[str, str]:
        """File modes of ``paths`` in ``rev`` (missing paths are left out)."""
        out = self.run("ls-tree", "-z", "--full-tree", rev, "--", *paths)
        modes = {}
        for entry in out.split("\0"):
            if entry:
                meta, path = entry.split("\t", 1)
                modes[path] = meta.split()[0]
        return modes

    def list_tree(self, rev: str, directory: str = "") -> dict[str, str]:
        """Every file under ``directory`` in ``rev`` (repo-relative path -> blob id), in one ``ls-tree``."""
        out = self.run("ls-tree", "-r", "-z", "--full-tree", rev, "--", directory or ".")
        files = {}
        for entry in out.split("\0"):
            if entry:
                meta, path = entry.split("\t", 1)
                _mode, kind, oid = meta.split()
                if kind == "blob":
                    files[path] = oid
        return files

    def committer_ident(self) -> str:
        """``Name <email> time tz`` as Git would record it; refuses when no identity is set."""
        out = self.run("var", "GIT_COMMITTER_IDENT", check=False).strip()
        if not out:
            raise RepositoryError(
                "Git has no committer identity: run git config --global user.name 'Your Name' "
                "and git config --global user.email you@example.com"
            )
        return out

    def status_porcelain(self, cwd: Path | None = None) -> list[str]:
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=all", cwd=cwd)
        return [entry for entry in out.split("\0") if entry]

    def untracked_files(self) -> list[str]:
        """Files of the work tree that Git neither tracks nor ignores (repo-relative)."""
        out = self.run("ls-files", "--others", "--exclude-standard", "-z")
        return [path for path in out.split("\0") if path]

    # -- writing -------------------------------------------------------------

    def add(self, paths: Sequence[str]) -> None:
        """Stage ``paths`` (exact paths, not patterns), however many there are."""
        if paths:
            listing = "".join(f"{path}\0" for path in paths)
            self.run("--literal-pathspecs", "add", "--pathspec-from-file=-", "--pathspec-file-nul", input=listing)

    def stage_tracked_changes(self) -> None:
        """Stage every change to tracked files (``git add --update``), new files left out."""
        self.run("add", "--update")

    def write_tree(self) -> str:
        """The index as a tree object."""
        return self.run("write-tree").strip()

    def workspace_tree(self, base: str) -> str:
        """The work tree as ``git add -A`` would stage it on ``base``, built in a private index (the user's is untouched)."""
        with tempfile.TemporaryDirectory(prefix="gitexp-index-") as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            self.run("read-tree", base, env=env)
            self.run("add", "-A", env=env)
            return self.run("write-tree", env=env).strip()

    def tree_with_file(self, base: str, path: str, content: bytes) -> str:
        """``base``'s tree with ``path`` (a regular file) set to ``content``, built in a private index."""
        with tempfile.TemporaryDirectory(prefix="gitexp-index-") as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            blob = self.run("hash-object", "-w", "--stdin", input=content).strip()
            self.run("read-tree", base, env=env)
            self.run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            return self.run("write-tree", env=env).strip()

    def commit_all(self, message: str) -> None:
        """Commit everything in the work tree on the current branch (a new repository's first commit)."""
        self.run("add", "-A")
        self.run("commit", "-q", "-m", message)

    def config_set(self, key: str, value: str) -> None:
        self.run("config", key, value)
        self._remote_config = None

    def checkout_files(self, rev: str, paths: Sequence[str]) -> None:
        """Write ``paths`` (exact paths) as ``rev`` has them into the work tree and the index."""
        if paths:
            pathspecs = "".join(f"{path}\0" for path in paths)
            self.run("checkout", rev, "--pathspec-from-file=-", "--pathspec-file-nul", input=pathspecs)

    def remove_files(self, paths: Sequence[str], force: bool = False) -> None:
        """Delete ``paths`` from the work tree and the index (those already gone are fine); ``force``
        also when their content is staged (as a rollback of ``checkout_files`` needs)."""
        if paths:
            self.run("rm", "-q", "--ignore-unmatch", *(["-f"] if force else []), "--", *paths)

    def fast_import(self, commits: Sequence[FastImportCommit], scratch_ref: str) -> list[str]:
        """Write ``commits`` as objects in one pack; return their ids in order.

        Commits go to a scratch ref that the caller removes in the same
        transaction that creates the real refs, so that nothing user-visible
        exists until every object is written.
        """
        ident = self.committer_ident()
        stream = bytearray(b"feature done\n")
        for mark, commit in enumerate(commits, start=1):
            message = commit.message.encode()
            stream += f"reset {scratch_ref}\n".encode() if commit.parent is None else b""
            stream += f"commit {scratch_ref}\nmark :{mark}\ncommitter {ident}\n".encode()
            stream += b"data %d\n%s\n" % (len(message), message)
            if commit.parent is not None:
                stream += f"from {commit.parent}\n".encode()
            for path, (mode, content) in commit.files.items():
                stream += f"M {mode} inline {quote_fast_import_path(path)}\n".encode()
                stream += b"data %d\n%s\n" % (len(content), content)
        stream += b"done\n"
        with tempfile.TemporaryDirectory(prefix="gitexp-import-") as tmp:
            marks = Path(tmp) / "marks"
            # Each "from <oid>" would look for refs named like the oid too (to warn of an ambiguous name): 12 stat() per trial.
            options = ("-c", "core.warnAmbiguousRefs=false", "fast-import", "--quiet", f"--export-marks={marks}")
            self.run_bytes(*options, input=bytes(stream), env=_FAST_IMPORT_MALLOC)
            by_mark = dict(line.split() for line in marks.read_text().splitlines())
        return [by_mark[f":{mark}"] for mark in range(1, len(commits) + 1)]

    def update_refs(self, updates: Sequence[RefUpdate], message: str = "gitexp") -> None:
        """Apply ``updates`` atomically: all of them or none (compare-and-swap on ``old``)."""
        lines = ["start"]
        for update in updates:
            if update.new == update.old == ZERO_OID:  # asserts the ref is absent (delete refuses a zero old value)
                lines.append(f"verify {update.ref} {ZERO_OID}")
            elif update.new == ZERO_OID:
                lines.append(f"delete {update.ref} {update.old or ''}".rstrip())
            else:
                lines.append(f"update {update.ref} {update.new} {update.old or ''}".rstrip())
        lines += ["prepare", "commit", ""]
        self.run("update-ref", "-m", message, "--stdin", input="\n".join(lines))

    def try_update_refs(self, updates: Sequence[RefUpdate], message: str = "gitexp") -> bool:
        """Like ``update_refs`` but answers False when a compare-and-swap loses."""
        try:
            self.update_refs(updates, message)
        except GitCommandError:
            return False
        return True

    def commit_tree(self, tree: str, message: str, parents: Sequence[str] = ()) -> str:
        """A commit of ``tree`` with ``message``; no ref points at it yet."""
        args = [part for parent in parents for part in ("-p", parent)]
        return self.run("commit-tree", tree, *args, "-F", "-", input=message).strip()

    def empty_tree(self) -> str:
        """The empty tree, written to the object database (a push needs the object)."""
        return self.run("mktree", input="").strip()

    # -- worktrees -----------------------------------------------------------

    def add_worktree(self, path: Path, commit: str) -> None:
        """A new worktree at ``path``, a detached checkout of ``commit``."""
        self.run("worktree", "add", "--detach", "--force", str(path), commit)

    def worktree_paths(self) -> list[Path]:
        """The paths of every worktree Git has a record of (the main one first), whether or not they still exist."""
        out = self.run("worktree", "list", "--porcelain", "-z")
        return [Path(field[len("worktree ") :]) for field in out.split("\0") if field.startswith("worktree ")]

    def remove_worktree_record(self, path: Path) -> None:
        """Forget the worktree at ``path`` and delete what is left of it, even when locked (a ``worktree add`` killed midway locks it)."""
        self.run("worktree", "remove", "--force", "--force", str(path), check=False)

    def prune_worktrees(self) -> None:
        """Forget the worktrees whose folders are gone."""
        self.run("worktree", "prune", check=False)

    def checkout_detached(self, commit: str) -> None:
        """Switch this checkout to ``commit``, detached, discarding local changes to tracked files."""
        self.run("checkout", "--quiet", "--detach", "--force", commit)

    def clean(self) -> None:
        """Delete every untracked file, ignored ones and nested repositories included."""
        self.run("clean", "-ffdxq")

    def update_submodules(self) -> None:
        """Check out the submodules the commit records, recursively, and clean them as ``clean`` does."""
        self.run("submodule", "--quiet", "update", "--init", "--recursive", "--force")
        self.run("submodule", "--quiet", "foreach", "--recursive", "git clean -ffdxq")

    # -- remotes -------------------------------------------------------------

    def remote_names(self) -> list[str]:
        return self.run("remote").split()

    def fetch(self, remote: str, refspecs: Sequence[str], prune: bool = True) -> None:
        """Fetch exactly ``refspecs`` from ``remote``; ``prune`` drops local refs under them the remote no longer has.

        ``--refmap=`` keeps git from also updating the remote's configured tracking branches.
        A fetch reads every worktree's record, and fails on one a ``worktree add``
        has half written: it holds the worktree lock shared, as adds hold it
        exclusively (``execution/worktrees.py``).
        """
        options = ["--quiet", "--progress", "--no-tags", "--no-write-fetch-head", "--refmap=", *(["--prune"] if prune else [])]
        with file_lock(worktrees_lock_path(self.common_dir()), shared=True):
            self._check(self.run_remote(remote, "fetch", *options, "--end-of-options", remote, *refspecs), "fetch")

    def ls_remote(self, remote: str, patterns: Sequence[str]) -> dict[str, str]:
        """``ref -> oid`` of the remote's refs matching ``patterns`` (as ``git ls-remote`` matches: by their end)."""
        proc = self._check(self.run_remote(remote, "ls-remote", "--refs", "--end-of-options", remote, *patterns), "ls-remote")
        refs = {}
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            oid, _, name = line.partition("\t")
            refs[name] = oid
        return refs

    def push(self, remote: str, updates: Sequence[RefUpdate], atomic: bool = True) -> dict[str, str]:
        """Push ``updates`` as compare-and-swaps on the remote; answer the refs it rejected, with git's reason.

        ``old`` becomes ``--force-with-lease=<ref>:<old>`` (empty for ``ZERO_OID``: the
        ref must not exist), which the remote checks under its ref lock; ``old=None``
        forces. ``new == old`` asserts that the ref is unchanged without writing it.
        With ``atomic`` the remote applies all of them or none. Raises
        ``GitCommandError`` when the push fails as a whole (remote unreachable, no access).
        """
        refspecs, leases = [], []
        for update in updates:
            source = "" if update.new == ZERO_OID else update.new
            if update.old is None:
                refspecs.append(f"+{source}:{update.ref}")
                continue
            refspecs.append(f"{source}:{update.ref}")
            leases.append(f"--force-with-lease={update.ref}:{'' if update.old == ZERO_OID else update.old}")
        atomic_flag = ["--atomic"] if atomic else []
        args = ["push", "--porcelain", "--progress", "--no-verify", *atomic_flag, *leases, "--end-of-options", remote, *refspecs]
        there = local_clone_common_dir(self._push_url(remote), self.root)
        # Into a clone on this machine, the receiving git reads every worktree record there, as a fetch does here
        # (without making the lock there: it may be another user's clone, where gitexp never ran).
        with file_lock(worktrees_lock_path(there), shared=True, create=False) if there else nullcontext():
            proc = self.run_remote(remote, *args)
        rejected: dict[str, str] = {}
        reported = False
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            flag, _, rest = line.partition("\t")
            spec, _, summary = rest.partition("\t")
            if flag in ("!", " ", "+", "-", "*", "=") and ":" in spec:  # one line per ref; skip "To ..." and "Done"
                reported = True
                if flag == "!":
                    rejected[spec.rsplit(":", 1)[1]] = redacted(summary.strip())
        if proc.returncode and not reported:
            raise GitCommandError(f"git push to {without_credentials(remote)} failed: {redacted(failure_reason(proc))}")
        return rejected

    @staticmethod
    def _check(proc: subprocess.CompletedProcess, command: str) -> subprocess.CompletedProcess:
        if proc.returncode != 0:
            raise GitCommandError(f"git {command} failed: {redacted(failure_reason(proc))}")  # git may echo a URL's token
        return proc


_DUBIOUS_OWNERSHIP = re.compile(r"dubious ownership in repository at '(.*)'")
# What git adds after its error, which says nothing about the cause.
_BOILERPLATE = (
    "fatal: Could not read from remote repository.",
    "Please make sure you have the correct access rights",
    "and the repository exists.",
    "hint:",
)


_NO_ENTRIES: dict[bytes, tuple[bytes, bytes]] = {}  # a tree git did not give (read_files only reads it)
_NO_ENTRY = (None, None)


def _tree_entries(data: bytes, size: int) -> dict[bytes, tuple[bytes, bytes]]:
    """A tree object's entries: name -> (mode, raw oid of ``size`` bytes: 20 for SHA-1, 32 for SHA-256)."""
    entries = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        entries[data[space + 1 : nul]] = (data[pos:space], data[nul + 1 : nul + 1 + size])
        pos = nul + 1 + size
    return entries


def git_version(env: Mapping[str, str] | None = None) -> str | None:
    """The version ``git --version`` prints (``2.43.0``), or None when git does not start."""
    try:
        proc = subprocess.run(["git", "--version"], capture_output=True, env=env, check=False)
    except OSError:
        return None
    words = proc.stdout.decode("utf-8", "replace").split()
    return words[2] if proc.returncode == 0 and len(words) > 2 else None


def _command(args: Sequence[str]) -> str:
    """The git command ``args`` run, after their ``-c key=value`` settings."""
    at = 0
    while at + 1 < len(args) and args[at] == "-c":
        at += 2
    return args[at] if at < len(args) else ""


def failure_reason(proc: subprocess.CompletedProcess) -> str:
    """The line of git's stderr that says what went wrong: its first fatal: or error: line, else its last words."""
    lines = [line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    said = [line for line in lines if not line.startswith(_BOILERPLATE)]
    errors = [line for line in said if line.startswith(("fatal:", "error:"))]
    return (errors or said or [f"exit status {proc.returncode}"])[0 if errors else -1]


def quote_fast_import_path(path: str) -> str:
    """Quote a path for fast-import when it needs it (spaces, quotes, newlines)."""
    if not any(ch in path for ch in ' "\n\\') and not path.startswith('"'):
        return path
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
