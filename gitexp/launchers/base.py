"""The seam every launcher implements: gitexp workers handed to a scheduler users already have.

gitexp never schedules anything itself. A launcher writes the file a scheduler
runs (an sbatch script, a Kubernetes Job manifest) and hands it to that
scheduler's own client; every job it starts runs ``gitexp worker`` against a
Git remote and takes trials by claims, so a killed job leaves a claim that goes
stale and is taken over. A new launcher is one new module with one ``Launcher``
subclass, named in ``LAUNCHERS`` (``gitexp/launchers/__init__.py``), and the
contract suite (``tests/launchers/test_launcher_contract.py``) runs for it.

The interface, in the order a command uses it:

- ``options_type``: a frozen dataclass extending ``LaunchOptions``; ``validate()``
  raises ``UsageError`` naming the flag and the fix. ``init`` validates before
  anything is written.
- ``render(options) -> {path: text}``: the files ``init`` writes (paths relative
  to the repository, posix: ``default_files``). Pure. User text reaches a job only through
  environment variables, never pasted into a script or a command string.
- ``command(files, values) -> argv``: the scheduler client's command for
  ``submit``; ``values`` (environment variables the jobs get at submit time)
  go into the client's environment, never into argv.
- ``submit(root, files, env, values)`` runs that argv (a list, bounded by
  ``client_timeout``), or, when the client is not on PATH, returns the command
  to run by hand (``prints_when_missing``) or refuses (exit 2).
- ``holders(claims)``: which claims this launcher's jobs hold (their worker ids
  start with ``worker_prefix``); ``held_on(git, remote)`` fetches a remote's
  claims and answers those, for ``gitexp <name> status``.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import ClassVar

from gitexp.errors import GitexpError, UsageError
from gitexp.store.claim_records import Claim, read_claim
from gitexp.store.git import Git, RefRecord
from gitexp.store.naming import CLAIMS_NAMESPACE, validate_name
from gitexp.store.redaction import redacted, without_credentials
from gitexp.store.remote import DEFAULT_REMOTE, Remote, fetch_sweeps_and_claims, remote_url, resolve_remote

MAX_WORKERS = 1000  # Slurm's default MaxArraySize is 1001; far more than one queue's claims keep up with
DEFAULT_CLIENT_TIMEOUT = 60.0  # seconds a scheduler's client may take to answer
IDLE_EXIT = 60  # seconds a worker waits for new trials before its job ends


class LaunchFailed(GitexpError):
    """The scheduler's client ran and refused the job (its own words follow)."""

    exit_code = 1


@dataclass(frozen=True)
class LaunchOptions:
    """What every launcher's ``init`` takes: how many workers, how many at once, GPUs each, where the trials are."""

    workers: int = 2
    parallel: int | None = None  # workers running at once; None: all of them
    gpus_per_worker: int | None = None  # None: no GPUs asked for
    # Where the jobs take trials from, for launchers that write it into their files (Kubernetes); others
    # pass it at submit time as ``values`` (Slurm's --export). Empty: not known at init.
    remote_url: str = ""  # the Git remote the jobs clone (see ``clone_url``)
    sweeps: tuple[str, ...] = ()  # only trials of these sweeps; empty: every sweep of the remote

    def validate(self) -> None:
        """Raise ``UsageError`` naming the first option that is wrong and how to fix it."""
        if not 1 <= self.workers <= MAX_WORKERS:
            raise UsageError(f"--workers {self.workers} is out of range: give 1 to {MAX_WORKERS}")
        if self.parallel is not None and not 1 <= self.parallel <= self.workers:
            raise UsageError(
                f"--parallel {self.parallel} must be between 1 and --workers ({self.workers}): lower it, or raise --workers"
            )
        if self.gpus_per_worker is not None and self.gpus_per_worker < 1:
            raise UsageError(
                f"--gpus-per-worker {self.gpus_per_worker} is not a positive number of GPUs: give 1 or more, or leave it out"
            )
        for sweep in self.sweeps:
            validate_name(sweep, "sweep")

    @property
    def concurrency(self) -> int:
        """How many workers run at once."""
        return self.parallel or self.workers


@dataclass(frozen=True)
class Submission:
    """What ``submit`` did: ran ``argv`` (its output in ``stdout``), or not (the client is missing)."""

    argv: tuple[str, ...]
    ran: bool
    stdout: str = ""

    @property
    def shown(self) -> str:
        """The command as a user would type it."""
        return shlex.join(self.argv)


class Launcher(ABC):
    """Writes a scheduler's job file for gitexp workers, and submits it with the scheduler's client."""

    name: ClassVar[str]  # the command group: gitexp <name> init|submit
    client: ClassVar[str]  # the scheduler's client program: sbatch, kubectl
    options_type: ClassVar[type[LaunchOptions]]
    default_files: ClassVar[tuple[str, ...]] = ()  # what init writes, and what submit submits when no file is named
    example: ClassVar[Mapping[str, object]] = {}  # the least a user must give beyond the defaults (the contract suite uses it)
    prints_when_missing: ClassVar[bool] = False  # submit without the client: print the command (True) or refuse
    client_timeout: ClassVar[float] = DEFAULT_CLIENT_TIMEOUT

    @property
    def worker_prefix(self) -> str:
        """How the worker ids of this launcher's jobs start (``k8s-``, ``slurm-``)."""
        return f"{self.name}-"

    @abstractmethod
    def render(self, options: LaunchOptions) -> dict[str, str]:
        """The files ``init`` writes, repository-relative posix path -> text, for ``options`` (validated first)."""

    @abstractmethod
    def command(self, files: Sequence[Path], values: Mapping[str, str]) -> list[str]:
        """The client's argv that submits ``files``; ``values`` reach the jobs through the client's environment."""

    def init(self, root: Path, options: LaunchOptions, force: bool = False) -> list[Path]:
        """Render and write the files into ``root``: all of them, or none when one is refused."""
        files = self.render(options)
        return write_files(root, files, force)

    def submit(
        self, root: Path, files: Sequence[Path], env: Mapping[str, str], values: Mapping[str, str] | None = None
    ) -> Submission:
        """Run the client on ``files`` from ``root``, or say how to when it is not installed."""
        values = dict(values or {})
        for file in files:
            if not (root / file).is_file():
                raise UsageError(f"{file} does not exist: write it with gitexp {self.name} init, or name the file")
        argv = self.command(files, values)
        if shutil.which(argv[0], path=env.get("PATH", "")) is None:
            if self.prints_when_missing:
                return Submission(tuple(argv), ran=False)
            raise UsageError(f"{argv[0]} is not installed here: run gitexp {self.name} submit where the {self.name} client is")
        return Submission(tuple(argv), ran=True, stdout=run_client(argv, root, {**env, **values}, self.client_timeout))

    def holders(self, claims: Iterable[Claim]) -> list[Claim]:
        """The claims this launcher's jobs hold."""
        return [claim for claim in claims if claim.worker.startswith(self.worker_prefix)]

    def held_on(self, git: Git, remote: Remote) -> list[Claim]:
        """The claims this launcher's jobs hold on ``remote`` now (fetched first), by trial."""
        fetch_sweeps_and_claims(git, remote)
        mirrored = remote.tracking(CLAIMS_NAMESPACE)
        records = [RefRecord(CLAIMS_NAMESPACE + record.name[len(mirrored) :], record.oid, record.message) for record in git.refs(mirrored)]
        return sorted(self.holders(read_claim(record) for record in records), key=lambda claim: claim.key)


def run_client(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> str:
    """Run a scheduler's client (an argument list, never a shell) and return its output; refuse on silence or failure."""
    try:
        finished = subprocess.run(
            list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise UsageError(
            f"{argv[0]} did not answer within {timeout:g}s: check that the scheduler is reachable, then submit again"
        ) from None
    except OSError as exc:
        raise UsageError(f"{argv[0]} could not be started ({exc.strerror}): check the installation") from None
    if finished.returncode != 0:
        said = redacted(" ".join((finished.stderr or finished.stdout).split()))[-400:]
        raise LaunchFailed(f"{shlex.join(argv)} failed (exit {finished.returncode}): {said or 'no message'}")
    return finished.stdout


def clone_url(git: Git, spec: str = DEFAULT_REMOTE, cwd: Path | None = None) -> str:
    """The URL jobs clone for the remote ``spec`` (a configured name, a URL or a path); refuses one carrying credentials,
    which belong in the scheduler's secrets, not in a file that is committed."""
    remote = resolve_remote(git, spec, cwd)
    url = remote_url(git, spec) if spec in git.remote_names() else remote.spec
    if without_credentials(url) != url:
        raise UsageError(
            f"the URL of {without_credentials(spec)!r} carries credentials, which would be written into the job file: "
            "pass --remote with the URL without them, and give the token through a secret"
        )
    return url


def on_this_machine(url: str) -> bool:
    """Whether ``url`` is a path or file:// URL, which only jobs sharing this machine's file system reach."""
    return url.startswith("file://") or ("://" not in url and not re.match(r"[^/]+:", url))


def write_files(root: Path, files: Mapping[str, str], force: bool) -> list[Path]:
    """Write every file under ``root``, checked first so that a refusal writes none."""
    targets = [root / _relative(path) for path in files]
    for target in targets:
        shown = target.relative_to(root).as_posix()
        if target.is_dir():
            raise UsageError(f"{shown} is a folder, where gitexp writes a file: move or remove it")
        if target.exists() and not force:
            raise UsageError(f"{shown} already exists: pass --force to overwrite it")
        blocking = next((folder for folder in target.relative_to(root).parents if (root / folder).is_file()), None)
        if blocking is not None:
            raise UsageError(f"{blocking.as_posix()} is a file, where {shown} needs a folder: move or remove it")
    from gitexp.ci.workflow import write_atomically  # here: importing the CI workflow module costs submit a third of a second

    for target, text in zip(targets, files.values()):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, text)
    return targets


def _relative(path: str) -> Path:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ValueError(f"a launcher rendered {path!r}: paths must be relative to the repository")
    return Path(*pure.parts)
