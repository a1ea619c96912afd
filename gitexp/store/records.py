"""Sweeps and trials as they are recorded in Git: every message written (trial, sweep record, result,
cancel), and how to read them back.

The contract (docs/architecture.md): a trial is a branch whose first commit changes the
params files; a result commit on top carries the outcome in trailers; a sweep
is a commit under ``refs/gitexp/sweeps/<name>`` whose tree holds sweep.json.
Status is derived from the tip commit's trailers and local locks, never stored
twice. Reading every trial of every sweep costs one ``for-each-ref``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitexp.errors import NotFoundError, UsageError
from gitexp.numbers import is_number
from gitexp.store.git import Git, RefRecord
from gitexp.store.naming import (
    ARCHIVE_NAMESPACE,
    DEFAULT_PREFIX,
    SWEEPS_NAMESPACE,
    TrialRef,
    sweep_ref,
    validate_prefix,
)
from gitexp.store.redaction import redacted

SWEEP_FILE = "sweep.json"

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
PRUNED = "pruned"  # stopped while it ran by the sweep's pruner: its partial outputs are in the result
FINAL_STATES = (SUCCEEDED, PRUNED, FAILED, CANCELLED)
WITH_OUTPUTS = (SUCCEEDED, PRUNED)  # results whose DVC outputs a worker or CI job pushes to the DVC remote
STATES = (QUEUED, RUNNING, SUCCEEDED, PRUNED, FAILED, CANCELLED)
ARCHIVED_TRIALS = "archived_trials"  # in a sweep record's state: how many of its trials are archived

T_SWEEP, T_TRIAL, T_PARAMS, T_STATUS = "Gitexp-Sweep", "Gitexp-Trial", "Gitexp-Params", "Gitexp-Status"
T_DURATION, T_HOST, T_METRICS, T_BASELINE = "Gitexp-Duration", "Gitexp-Host", "Gitexp-Metrics", "Gitexp-Baseline"
T_TAGS, T_PROJECT, T_GPUS = "Gitexp-Tags", "Gitexp-Project", "Gitexp-Gpus"
T_DATA = "Gitexp-Data"  # the datasets a trial takes (--data): target -> source, md5, size, nfiles
T_STEP = "Gitexp-Step"  # a pruned result: the last dvclive step its trial reached

LOG_TAIL_HEADING = "Last lines of the log:"  # in a failed result's message, above the end of its log
MAX_TRAILER_METRICS = 60


def format_message(subject: str, trailers: Mapping[str, str], body: str = "") -> str:
    """A commit message whose trailers ``git interpret-trailers`` reads back."""
    subject = " ".join(subject.split())[:120]
    parts = [subject]
    if body.strip():
        parts.append(body.strip("\n"))
    parts.append("\n".join(f"{key}: {' '.join(str(value).split())}" for key, value in trailers.items()))
    return "\n\n".join(parts) + "\n"


def trial_message(
    sweep: Sweep, ref: TrialRef, params: Mapping[str, Any], tags: Mapping[str, Any], data: Mapping[str, Any] = {}
) -> str:
    """A trial commit's message: its params in the subject and trailers, and the baseline it starts from.

    A sweep queued with a message (``queue -m``) gives its trials that subject and body, the usual
    subject following as the body's last paragraph; the trailers stay the same."""
    summary = " ".join(f"{key}={value}" for key, value in params.items())
    trailers = _trial_trailers(sweep.name, ref.trial, params, tags, sweep.project, after={T_BASELINE: sweep.baseline}, data=data)
    default = f"gitexp: {ref.key} {summary}".rstrip()
    if not sweep.message:
        return format_message(default, trailers)
    subject, _, body = sweep.message.strip().partition("\n")
    return format_message(subject, trailers, body=f"{body.strip()}\n\n{default}".strip())


def sweep_record_message(sweep: Sweep) -> str:
    return format_message(f"gitexp: sweep {sweep.name}", {T_SWEEP: sweep.name, T_BASELINE: sweep.baseline})


def sweep_record_files(sweep: Sweep) -> dict[str, tuple[str, bytes]]:
    """The tree of a sweep record commit: path -> (mode, content)."""
    return {SWEEP_FILE: ("100644", (dumps_compact(sweep.to_json()) + "\n").encode("utf-8"))}


def result_message(
    trial: Trial,
    status: str,
    duration: float,
    host: str,
    metrics: Mapping[str, Any],
    reason: str = "",
    log_tail: str = "",
    gpus: str = "",
    step: int | None = None,
) -> str:
    """A result commit's message: the outcome in trailers (where it ran, on which GPUs, the first numeric metrics,
    a pruned trial's step); a failure's (or pruning's) reason and the end of its log in the body, under ``LOG_TAIL_HEADING``."""
    headline = dict(list(numeric(metrics).items())[:MAX_TRAILER_METRICS])
    outcome = {T_STATUS: status, T_DURATION: f"{duration:.2f}", T_HOST: host, **({T_GPUS: gpus} if gpus else {})}
    if step is not None:
        outcome[T_STEP] = str(step)
    trailers = _trial_trailers(
        trial.sweep, trial.name, trial.params, trial.tags, trial.project, outcome, {T_METRICS: dumps_compact(headline)}, trial.data
    )
    body = ""
    if status != SUCCEEDED:
        reason, log_tail = redacted(reason), redacted(log_tail)  # a pipeline's output may echo a URL's credentials
        quoted = "\n".join("    " + line for line in log_tail.splitlines())
        body = f"{reason}\n\n{LOG_TAIL_HEADING}\n\n{quoted}" if quoted else reason
    return format_message(f"gitexp: {trial.ref.key} {status} in {duration:.1f}s", trailers, body)


def cancel_message(trial: Trial, reason: str) -> str:
    """The message of the empty result commit that cancels a queued trial."""
    trailers = _trial_trailers(trial.sweep, trial.name, trial.params, trial.tags, trial.project, {T_STATUS: CANCELLED}, data=trial.data)
    return format_message(f"gitexp: {trial.ref.key} cancelled", trailers, reason)


def _trial_trailers(
    sweep: str,
    trial: str,
    params: Mapping[str, Any],
    tags: Mapping[str, Any],
    project: str,
    before: Mapping[str, str] = {},
    after: Mapping[str, str] = {},
    data: Mapping[str, Any] = {},
) -> dict[str, str]:
    """Every trial message's trailers, in one order: whose, what happened, params, the datasets, what came of
    them, tags, and the DVC project's folder (only when it is not the repository's root)."""
    trailers = {T_SWEEP: sweep, T_TRIAL: trial, **before, T_PARAMS: dumps_compact(params)}
    if data:
        trailers[T_DATA] = dumps_compact(data)
    trailers.update(after)
    if tags:
        trailers[T_TAGS] = dumps_compact(tags)
    if project:
        trailers[T_PROJECT] = project
    return trailers


def numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if is_number(v)}


def failure_details(message: str) -> tuple[str, list[str]]:
    """``(reason, log lines)`` from a failed result commit's message (its body, between subject and trailers)."""
    body = "\n\n".join(message.strip("\n").split("\n\n")[1:-1])
    reason, _, log = body.partition(f"\n\n{LOG_TAIL_HEADING}\n\n")
    return reason.strip(), [line.removeprefix("    ") for line in log.splitlines()]


def parse_trailers(message: str) -> dict[str, str]:
    """The ``Gitexp-*`` trailers of a commit message (its last paragraph)."""
    last = message.rstrip("\n").rsplit("\n\n", 1)[-1]
    trailers = {}
    for line in last.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Gitexp-"):
            trailers[key] = value
    return trailers


def dumps_compact(value: Any) -> str:
    """JSON on one line, as trailers need."""
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False, allow_nan=True)


@dataclass(frozen=True)
class Trial:
    """A trial as its branch tip says: params, status, and the result when there is one."""

    ref: TrialRef
    tip: str
    status: str
    params: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    duration: float | None = None
    host: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    project: str = ""  # the DVC project's folder in the repository ("" at the root)
    gpus: str | None = None  # the GPUs its result ran on, when --gpus chose them ("none": hidden)
    data: dict[str, Any] = field(default_factory=dict)  # target -> the dataset it takes (T_DATA)
    archived: bool = False  # kept under refs/gitexp/archive/ rather than as a branch
    tree: str = ""  # the tip's tree and commit time, when read from its ref ("", None otherwise)
    committed: int | None = None

    @property
    def name(self) -> str:
        return self.ref.trial

    @property
    def where(self) -> str:
        """The ref that holds the trial now: its branch, or its archive ref."""
        return self.ref.archived_ref if self.archived else self.ref.ref

    @property
    def step(self) -> int | None:
        """The dvclive step a pruned trial reached."""
        step = parse_trailers(self.message).get(T_STEP, "")
        return int(step) if step.isdigit() else None

    @property
    def sweep(self) -> str:
        return self.ref.sweep

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATES


@dataclass(frozen=True)
class Sweep:
    """A sweep's record: its resolved specification and where it started."""

    name: str
    commit: str
    baseline: str
    prefix: str
    spec: dict[str, Any]
    params_files: tuple[str, ...]
    created: str
    state: dict[str, Any] = field(default_factory=dict)
    project: str = ""  # the DVC project's folder in the repository ("" at the root)
    data: dict[str, Any] = field(default_factory=dict)  # --data: target -> source as written -> its dataset
    message: str = ""  # queue -m: the trial commits' subject and body

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "baseline": self.baseline,
            "prefix": self.prefix,
            "spec": self.spec,
            "params_files": list(self.params_files),
            "created": self.created,
            "state": self.state,
            "project": self.project,
            **({"data": self.data} if self.data else {}),
            **({"message": self.message} if self.message else {}),
        }

    @classmethod
    def from_json(cls, commit: str, data: Mapping[str, Any]) -> "Sweep":
        return cls(
            name=data["name"],
            commit=commit,
            baseline=data["baseline"],
            prefix=data.get("prefix", DEFAULT_PREFIX),
            spec=data["spec"],
            params_files=tuple(data.get("params_files", ())),
            created=data.get("created", ""),
            state=data.get("state", {}),
            project=data.get("project", ""),
            data=data.get("data", {}),
            message=data.get("message", ""),
        )


def trial_from_record(
    ref: TrialRef, oid: str, message: str, trailers: Mapping[str, str] | None = None, tree: str = "", committed: int | None = None
) -> Trial:
    """The trial ``message`` records (``trailers``: its trailers when the caller has parsed them already)."""
    trailers = parse_trailers(message) if trailers is None else trailers
    status = trailers.get(T_STATUS, QUEUED)
    duration = trailers.get(T_DURATION)
    return Trial(
        ref=ref,
        tip=oid,
        status=status,
        params=_loads(trailers.get(T_PARAMS)),
        metrics=_loads(trailers.get(T_METRICS)),
        duration=float(duration) if duration else None,
        host=trailers.get(T_HOST),
        tags=_loads(trailers.get(T_TAGS)),
        message=message,
        project=trailers.get(T_PROJECT, ""),
        gpus=trailers.get(T_GPUS),
        data=_loads(trailers.get(T_DATA)),
        tree=tree,
        committed=committed,
    )


def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


_JSON_TRAILERS = frozenset({T_PARAMS, T_METRICS, T_TAGS, T_DATA})


def without_json(trailers: Mapping[str, str]) -> dict[str, str]:
    """``trailers`` but those holding JSON (params, metrics, tags, datasets): a trial read from them is brief."""
    return {key: value for key, value in trailers.items() if key not in _JSON_TRAILERS}


class Ledger:
    """Reads sweeps and trials from one repository's refs."""

    def __init__(self, git: Git):
        self.git = git
        self.prefix = validate_prefix(git.config_get("gitexp.prefix") or DEFAULT_PREFIX)
        self._sweeps: list[Sweep] | None = None

    def sweep_names(self) -> list[str]:
        return [record.name[len(SWEEPS_NAMESPACE) :] for record in self.git.refs(SWEEPS_NAMESPACE)]

    def sweeps(self) -> list[Sweep]:
        """Every sweep record, read once per Ledger (a Ledger is short-lived: one command's view)."""
        if self._sweeps is None:
            records = self.git.refs(SWEEPS_NAMESPACE)
            blobs = self.git.read_blobs([f"{record.oid}:{SWEEP_FILE}" for record in records])
            self._sweeps = [
                Sweep.from_json(record.oid, json.loads(blob)) for record, blob in zip(records, blobs) if blob
            ]
        return self._sweeps

    def sweep(self, name: str) -> Sweep:
        commit = self.git.rev_parse(sweep_ref(name))
        blob = self.git.read_blob(commit, SWEEP_FILE) if commit else None
        if blob is None:
            known = ", ".join(self.sweep_names()) or "none yet"
            raise NotFoundError(f"no sweep named {name!r} (sweeps: {known}): see gitexp status")
        return Sweep.from_json(commit, json.loads(blob))

    def prefixes(self) -> set[str]:
        """Every branch prefix trials live under: the configured one and each sweep's own."""
        return {sweep.prefix for sweep in self.sweeps()} | {self.prefix}

    def trials(self, sweeps: list[str] | None = None, archived: bool = False, brief: bool = False) -> list[Trial]:
        """Trials of the given sweeps (all when None), ordered by sweep then trial name; ``archived`` adds
        those ``gitexp archive`` moved out of the branch list (in the same ``for-each-ref``); ``brief``
        leaves their params, metrics, tags and datasets empty (not decoded: counting them needs none)."""
        trials = []
        for ref, record, trailers in self.trial_records(sweeps, archived):
            trial = trial_from_record(ref, record.oid, record.message, without_json(trailers) if brief else trailers, record.tree, record.committed)
            trials.append(dataclasses.replace(trial, archived=True) if record.name.startswith(ARCHIVE_NAMESPACE) else trial)
        return sorted(trials, key=lambda trial: (trial.sweep, trial.name, trial.archived))

    def trial_records(self, sweeps: list[str] | None = None, archived: bool = False) -> Iterator[tuple[TrialRef, RefRecord, dict[str, str]]]:
        """Each trial's ref, its tip's record and the record's trailers, in ``for-each-ref`` order and not made
        ``Trial``s: what counting 10,000 trials by status needs (``trials`` takes the same arguments).

        Only trials of recorded sweeps: a queue publishes its sweep record after
        its branches, so branches without one are a queue that has not completed.
        """
        recorded = {sweep.name: sweep for sweep in self.sweeps()}
        prefixes = self.prefixes()
        patterns = [f"refs/heads/{prefix}{name}/" for prefix in prefixes for name in sweeps] if sweeps else [
            f"refs/heads/{prefix}" for prefix in prefixes
        ]
        if archived:
            patterns += [f"{ARCHIVE_NAMESPACE}{name}/" for name in sweeps] if sweeps else [ARCHIVE_NAMESPACE]
        for record in self.git.refs(*patterns):
            ref = self._trial_ref(record.name, prefixes, recorded)
            trailers = parse_trailers(record.message) if ref else {}
            if ref and trailers.get(T_SWEEP) == ref.sweep:
                yield ref, record, trailers

    @staticmethod
    def _trial_ref(name: str, prefixes: set[str], recorded: Mapping[str, Sweep]) -> TrialRef | None:
        """The trial a branch or archive ref holds, when its sweep is recorded."""
        if name.startswith(ARCHIVE_NAMESPACE):
            sweep, _, trial = name[len(ARCHIVE_NAMESPACE) :].partition("/")
            return TrialRef(recorded[sweep].prefix, sweep, trial) if sweep in recorded and trial and "/" not in trial else None
        for prefix in prefixes:
            ref = TrialRef.from_ref(name, prefix)
            if ref and ref.sweep in recorded:
                return ref
        return None

    def resolve_trial(self, name: str) -> Trial:
        """A trial named ``sweep/trial``, its branch, or an unambiguous bare trial name."""
        name = name.removeprefix("refs/heads/")
        trials = self.trials()
        matches = [t for t in trials if name in (t.ref.key, t.ref.branch)]
        if not matches:
            matches = [t for t in trials if t.name == name]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            options = ", ".join(t.ref.key for t in matches[:5])
            raise UsageError(f"trial name {name!r} is ambiguous ({options}): name it as SWEEP/TRIAL")
        raise NotFoundError(f"no trial named {name!r}: gitexp show lists the trials as SWEEP/TRIAL")

    def select(self, names: list[str]) -> list[Trial]:
        """Trials named by sweep names or trial names (every trial when ``names`` is empty)."""
        if not names:
            return self.trials()
        sweeps = set(self.sweep_names())
        selected: dict[str, Trial] = {}
        for name in names:
            matches = self.trials([name]) if name in sweeps else [self.resolve_trial(name)]
            selected.update((trial.ref.key, trial) for trial in matches)
        return list(selected.values())
