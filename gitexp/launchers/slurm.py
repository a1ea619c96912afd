"""Slurm: gitexp workers as one array job (``gitexp slurm init``, ``submit``, ``status``).

``init`` writes ``gitexp.sbatch`` from ``templates/slurm/gitexp.sbatch.j2``:
``#SBATCH`` lines for the resources (each value checked against Slurm's own
syntax, or, for ``--sbatch-arg``, refused only when it holds a line break: a
``#SBATCH`` line is a comment to the shell, which sbatch alone reads) and a
body that holds no user text at all. ``submit`` pushes the sweeps, checks that
the controller answers, and runs ``sbatch --parsable --export=ALL gitexp.sbatch``
with every value the tasks need (remote URL, sweeps, DVC cache, timings) in
sbatch's environment, which Slurm hands to each task. Each task's worker
records its node and job ids in its claims (``execution.claims.scheduler_facts``),
which is how ``status`` tells which task holds which trial.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import jinja2

from gitexp.errors import UsageError
from gitexp.launchers.base import LaunchFailed, LaunchOptions, Launcher, clone_url
from gitexp.store.claim_records import T_NODE, T_SLURM_JOB, Claim
from gitexp.store.git import Git
from gitexp.store.remote import resolve_remote

SCRIPT = "gitexp.sbatch"
TEMPLATE = "gitexp.sbatch.j2"
PING_TIMEOUT = 10.0  # seconds the controller may take to answer before submit gives up
SUBMIT_TIMEOUT = 30.0
SQUEUE_TIMEOUT = 10.0
DEFAULT_IDLE_EXIT = 60.0
# Slurm's own syntax for each value, so that a #SBATCH line holds nothing else.
PARTITION = re.compile(r"[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*\Z")
ACCOUNT = re.compile(r"[A-Za-z0-9_.-]+\Z")
TIME = re.compile(r"(\d+-)?\d+(:\d+){0,2}\Z|\d+-\d+\Z|UNLIMITED\Z|INFINITE\Z", re.IGNORECASE)  # sbatch --time forms
MEMORY = re.compile(r"\d+[KMGT]?\Z", re.IGNORECASE)
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")
PLAIN_DIRECTIVE = re.compile(r"[A-Za-z0-9=:,._/@%+-]+\Z")


@dataclass(frozen=True)
class SlurmOptions(LaunchOptions):
    """``gitexp slurm init``: the array's size and each task's resources."""

    partition: str | None = None
    time: str | None = None
    cpus_per_worker: int | None = None
    mem: str | None = None
    account: str | None = None
    sbatch_args: tuple[str, ...] = field(default=())

    def validate(self) -> None:
        super().validate()
        checks = {"--partition": (self.partition, PARTITION), "--account": (self.account, ACCOUNT),
                  "--time": (self.time, TIME), "--mem": (self.mem, MEMORY)}
        for flag, (value, pattern) in checks.items():
            if value is not None and not pattern.match(value):
                raise UsageError(f"{flag} {value!r} is not a Slurm value: see sbatch --help (e.g. --time 2:00:00, --mem 16G)")
        if self.cpus_per_worker is not None and self.cpus_per_worker < 1:
            raise UsageError(f"--cpus-per-worker {self.cpus_per_worker}: give 1 or more")
        for argument in self.sbatch_args:
            if not argument.startswith("-") or LINE_BREAKS.search(argument):
                raise UsageError(
                    f"--sbatch-arg {argument!r} is not one sbatch option: give one option a flag, such as --sbatch-arg=--qos=long"
                )

    def directives(self) -> list[str]:
        """The resource ``#SBATCH`` lines, after those every array has."""
        valued = {"--partition": self.partition, "--account": self.account, "--time": self.time,
                  "--cpus-per-task": self.cpus_per_worker, "--mem": self.mem,
                  "--gres": f"gpu:{self.gpus_per_worker}" if self.gpus_per_worker else None}
        return [f"{flag}={value}" for flag, value in valued.items() if value is not None] + [
            sbatch_quoted(argument) for argument in self.sbatch_args
        ]


def sbatch_quoted(argument: str) -> str:
    """``argument`` as one word of a ``#SBATCH`` line: sbatch splits those lines itself, honouring double
    quotes with backslash escapes inside (the shell never reads them: to it the line is a comment)."""
    if PLAIN_DIRECTIVE.match(argument):
        return argument
    return '"' + argument.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class SubmitValues:
    """What ``submit`` hands the tasks through the environment."""

    remote_url: str
    sweeps: tuple[str, ...]
    dvc_cache: Path | None = None
    idle_exit: float = DEFAULT_IDLE_EXIT
    stale_after: float = 600.0
    gpus_per_trial: int | None = None
    python: str = sys.executable

    def validate(self) -> None:
        if self.dvc_cache is not None and (not self.dvc_cache.is_absolute() or LINE_BREAKS.search(str(self.dvc_cache))):
            raise UsageError(f"--dvc-cache {str(self.dvc_cache)!r}: give the absolute path of a folder on a shared filesystem")
        if self.dvc_cache is not None and not self.dvc_cache.is_dir():
            raise UsageError(f"--dvc-cache {self.dvc_cache}: no such folder here: create it on the shared filesystem first")
        if self.gpus_per_trial is not None and self.gpus_per_trial < 1:
            raise UsageError(f"--gpus-per-trial {self.gpus_per_trial}: give 1 or more")
        if not 0 <= self.idle_exit < float("inf"):
            raise UsageError(f"--idle-exit {self.idle_exit:g}: give a number of seconds, 0 or more")

    def env(self) -> dict[str, str]:
        values = {
            "GITEXP_REMOTE": self.remote_url,
            "GITEXP_SWEEPS": " ".join(self.sweeps),  # names of NAME_PATTERN: no spaces in them
            "GITEXP_PYTHON": self.python,
            "GITEXP_IDLE_EXIT": f"{self.idle_exit:g}",
            "GITEXP_STALE_AFTER": f"{self.stale_after:g}s",
            "GITEXP_HEARTBEAT": f"{min(30.0, self.stale_after / 4):g}",  # the worker wants three beats per stale period
            "GITEXP_POLL": f"{min(5.0, self.stale_after / 2):g}",  # idle tasks see a stale claim soon after it goes stale
        }
        if self.dvc_cache is not None:
            values["GITEXP_DVC_CACHE"] = str(self.dvc_cache)
        if self.gpus_per_trial is not None:
            values["GITEXP_GPUS_PER_TRIAL"] = str(self.gpus_per_trial)
        return values


class SlurmLauncher(Launcher):
    name = "slurm"
    client = "sbatch"
    options_type = SlurmOptions
    default_files = (SCRIPT,)
    example = {"workers": 4, "partition": "gpu", "time": "2:00:00", "gpus_per_worker": 1}
    client_timeout = SUBMIT_TIMEOUT

    def render(self, options: LaunchOptions) -> dict[str, str]:
        options.validate()
        assert isinstance(options, SlurmOptions)
        text = _template().render(workers=options.workers, parallel=options.concurrency, directives=options.directives())
        return {SCRIPT: text}

    def command(self, files: Sequence[Path], values: Mapping[str, str]) -> list[str]:
        return ["sbatch", "--parsable", "--export=ALL", *(str(file) for file in files)]

    def check_controller(self, env: Mapping[str, str]) -> None:
        """Refuse, within ``PING_TIMEOUT``, when Slurm's client is missing or its controller does not answer."""
        try:
            ping = subprocess.run(
                ["scontrol", "ping"], env=dict(env), capture_output=True, text=True, timeout=PING_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise UsageError("sbatch and scontrol are not installed here: run gitexp slurm submit on a Slurm login node") from None
        except subprocess.TimeoutExpired:
            ping = None
        if ping is None or ping.returncode != 0 or " is UP" not in ping.stdout:
            said = " ".join(((ping.stdout + ping.stderr) if ping else f"no answer in {PING_TIMEOUT:g}s").split())[:200]
            raise UsageError(f"the Slurm controller does not answer ({said}): check scontrol ping, then submit again")

    def holders(self, claims: Iterable[Claim]) -> list[Claim]:
        return [claim for claim in claims if claim.worker.startswith(self.worker_prefix) or claim.slurm_array]


def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("gitexp", "templates/slurm"),
        block_start_string="<%", block_end_string="%>", variable_start_string="<%=", variable_end_string="%>",
        comment_start_string="<%#", comment_end_string="%>",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False,
    )
    return environment.get_template(TEMPLATE)


# -- submit ---------------------------------------------------------------------------


def job_remote_url(git: Git, remote: str) -> str:
    """The URL the tasks clone: a local path made absolute (tasks run from scratch folders)."""
    url = clone_url(git, remote, git.root)
    if "://" not in url and not re.match(r"[^/]+:", url):
        path = git.root / url
        if path.exists():
            return str(path.resolve())
    return url


def home_remote(git: Git, sweeps: Sequence[str], remote: str | None) -> str:
    """The configured remote the sweeps are handed out from: ``remote``, else the one this clone has seen them all on."""
    from gitexp.execution.shared import seen_on_remotes
    from gitexp.store.records import Ledger

    ledger = Ledger(git)
    records = [ledger.sweep(name) for name in sweeps]
    if remote is not None:
        resolve_remote(git, remote, urls=False)
        return remote
    seen = seen_on_remotes(git, records)
    missing = [sweep.name for sweep in records if not seen.get(sweep.name)]
    if missing:
        raise UsageError(
            f"sweep {missing[0]} is on no remote, and the Slurm tasks take trials from one: "
            "pass --remote origin (or another remote's name) to push it there"
        )
    common = set.intersection(*(seen[sweep.name] for sweep in records))
    if len(common) != 1:
        raise UsageError("the sweeps are not shared on one remote alone: name the one the tasks use with --remote")
    return common.pop()


def parse_job_id(output: str) -> str:
    """The job id of ``sbatch --parsable`` output (``ID`` or ``ID;cluster``)."""
    job = output.strip().splitlines()[-1].split(";")[0] if output.strip() else ""
    if not job.isdigit():
        raise LaunchFailed(f"sbatch said {output.strip()[:200]!r}, not a job id: look at squeue --me")
    return job


# -- status ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskView:
    """One array task: its Slurm state (when squeue lists it) and the trials its claims hold."""

    task: str  # ARRAYJOB_TASK
    state: str = ""
    node: str = ""
    job_id: str = ""
    trials: tuple[str, ...] = ()


def slurm_status(git: Git, remote: str, env: Mapping[str, str]) -> list[TaskView]:
    """The array tasks squeue lists (when it answers) and those that hold claims on ``remote``, with their trials."""
    claims = SlurmLauncher().held_on(git, resolve_remote(git, remote, urls=False))
    tasks = {view.task: view for view in _squeue(env)}
    for claim in claims:  # by trial
        facts = dict(claim.job)
        key = claim.slurm_array or claim.worker
        view = tasks.get(key) or TaskView(key)
        node, job_id = view.node or facts.get(T_NODE, claim.host), view.job_id or facts.get(T_SLURM_JOB, "")
        tasks[key] = replace(view, node=node, job_id=job_id, trials=(*view.trials, claim.key))
    return [tasks[key] for key in sorted(tasks)]


def _squeue(env: Mapping[str, str]) -> list[TaskView]:
    """The user's gitexp array tasks as squeue lists them; none when squeue does not answer."""
    try:
        listed = subprocess.run(
            ["squeue", "-h", "-r", "--me", "-n", "gitexp", "-o", "%i|%T|%N|%A"], env=dict(env),
            capture_output=True, text=True, timeout=SQUEUE_TIMEOUT, stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    lines = listed.stdout.splitlines() if listed.returncode == 0 else []
    return [TaskView(*(line.split("|") + ["", "", ""])[:4]) for line in lines if line.strip()]
