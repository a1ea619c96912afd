"""Queueing: validate a sweep against the baseline and write its trial branches in one batch.

Everything is checked before anything is written (``plan_queue``); then all
objects go into one fast-import pack and the refs are published by
compare-and-swap, the trial branches first and the sweep record that makes
them visible last (``RefStore.publish``); creates fail if a ref already
exists. A refused, failed or killed queue therefore leaves no sweep behind,
and what a killed one wrote is undone by the next command that writes.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gitexp.errors import ConcurrentChange, RepositoryError, UsageError, some_of
from gitexp.project.data import DATA_KEYS, Tracking, add_sources, check_source, find_tracking
from gitexp.project.data import render as render_data
from gitexp.project.metrics import read_commit_metrics, step_folder, step_metrics
from gitexp.project.command import COMMAND_FILE, command_document, command_words, placeholders
from gitexp.project.model import DVCLIVE_STEPS, Project, ProjectCache, broken_link, load_project, no_dvc_yaml
from gitexp.project.param_values import check_value_type
from gitexp.project.params import ParamsFile
from gitexp.project.params_read import decode_params
from gitexp.store.git import ZERO_OID, FastImportCommit, Git, RefUpdate
from gitexp.store.journal import pending_write, recover
from gitexp.store.naming import TrialRef, generate_sweep_name, sweep_ref, trial_index, trial_name, validate_name
from gitexp.store.records import (
    SUCCEEDED,
    Ledger,
    Sweep,
    Trial,
    sweep_record_files,
    sweep_record_message,
    trial_from_record,
    trial_message,
)
from gitexp.store.refstore import LocalRefs, RefStore
from gitexp.strategies import strategy_for
from gitexp.strategies.base import TrialPlan
from gitexp.sweep.space import Choice, DataTarget, ParamTarget, PChoice, closest_hint
from gitexp.sweep.spec import SweepSpec

LAST_INDEX = "last_index"  # in a sweep record's state: the highest trial index its trials have used

# More trials than this in one command is almost always a mistake (a forgotten limit).
MAX_TRIALS_PER_QUEUE = 100_000


@dataclass(frozen=True)
class QueueRequest:
    spec: SweepSpec
    name: str | None = None
    rev: str = "HEAD"
    include_uncommitted: bool = False
    project: str = ""  # the DVC project's folder in the repository
    cwd: Path | None = None  # where --data sources are relative to (the repository's root by default)
    script: bool = False  # the command came after -- (a sweep file's command is only a note beside a pipeline)
    message: str | None = None  # -m: the trial commits' subject and body (default: gitexp's own subject)


@dataclass(frozen=True)
class QueuedSweep:
    sweep: Sweep
    trials: list[Trial]


def queue_sweep(git: Git, request: QueueRequest) -> QueuedSweep:
    """Validate ``request`` and create its sweep record and first trials."""
    return plan_queue(git, request).write()


@dataclass(frozen=True)
class PlannedQueue:
    """A sweep checked against its baseline and its first trials planned, nothing written yet."""

    git: Git
    sweep: Sweep
    spec: SweepSpec
    plans: list[TrialPlan]
    targets: "ParamsTargets"
    cache: ProjectCache
    sources: dict[str, dict[str, Path]] = dataclasses.field(default_factory=dict)  # --data: target -> value -> file

    def write(self) -> QueuedSweep:
        """Create the sweep record and the trials, all or nothing, after cleaning up after dead writers.

        Datasets go into the DVC cache first (by content, as dvc add would: harmless if the queue then fails).
        """
        recover(self.git, [self.sweep.prefix])
        project_dir = self.git.root / self.sweep.project
        data = {target: add_sources(project_dir, values) for target, values in self.sources.items()}
        sweep = dataclasses.replace(self.sweep, data=data)
        self.targets.datasets = data
        queued = QueuedSweep(*write_trials(self.git, sweep, self.plans, spec=self.spec, targets=self.targets, new_sweep=True))
        self.cache.save()
        return queued


def plan_queue(git: Git, request: QueueRequest) -> PlannedQueue:
    """Validate ``request`` and plan its first trials; refuses bad input before anything is written."""
    ledger = Ledger(git)
    if git.rev_parse("HEAD") is None:
        raise RepositoryError("the repository has no commits yet: commit your DVC project first (git commit)")
    existing = set(ledger.sweep_names())
    name = validate_name(request.name, "sweep") if request.name is not None else generate_sweep_name(existing)
    if name in existing:
        raise UsageError(f"a sweep named {name!r} exists already: choose another --name, or gitexp remove {name}")
    refuse_blocking_branch(git, ledger.prefix, name)
    message = checked_message(request.message)
    baseline = resolve_baseline(git, request.rev, request.include_uncommitted)
    spec = request.spec
    spec.validate()
    refuse_more_than_the_space(spec)
    planned = spec.num_planned_trials()
    if planned is not None and planned > MAX_TRIALS_PER_QUEUE:
        raise UsageError(
            f"the sweep makes {planned} trials, more than {MAX_TRIALS_PER_QUEUE} at once: "
            "limit it with --num-trials N (max_trials in a sweep file) or use fewer values"
        )
    cache = ProjectCache(git.common_dir(), deferred=True)  # written only once the sweep is
    targets = ParamsTargets(git, baseline, load_project(git, baseline, request.project, cache))
    if request.script and not targets.project.runs_command:
        raise UsageError(
            f"this project runs its DVC pipeline ({targets.project.path('dvc.yaml')}), so the command after -- would never run: "
            "sweep its params with --set KEY=VALUES, or queue the command from a folder without dvc.yaml (--project DIR)"
        )
    targets.check_spec(spec)
    if targets.project.runs_command:
        check_command(git, baseline, targets.project, spec)
    sources = data_sources(git, request.cwd or git.root, spec)
    problem = objective_problem(git, spec, baseline, targets.project) or pruning_problem(git, spec, baseline, targets.project)
    if problem:
        raise UsageError(problem)
    plans = strategy_for(spec).initial_batch()
    if not plans:
        raise UsageError("the sweep makes no trials: give at least one value for each --set")
    sweep = Sweep(
        name=name,
        commit="",
        baseline=baseline,
        prefix=ledger.prefix,
        spec=spec.to_json(),
        params_files=targets.files_touched(spec),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        project=request.project,
        message=message,
    )
    return PlannedQueue(git, sweep, spec, plans, targets, cache, sources)


def checked_message(message: str | None) -> str:
    """``-m``'s text as the trial commits carry it ("" without one); refuses what Git would not commit."""
    if message is None:
        return ""
    if not message.strip():
        raise UsageError("the commit message (-m) is empty: give some text, or leave -m out for gitexp's own")
    if "\0" in message:
        raise UsageError("the commit message (-m) holds a NUL character, which a Git commit message cannot: remove it")
    return message.strip()


def check_command(git: Git, baseline: str, project: Project, spec: SweepSpec) -> None:
    """The command's program exists (on PATH, or a file of the baseline), and so does a ``python`` script;
    ``--outs`` needs DVC."""
    words = command_words(spec.command)
    program, script = words[0], words[1] if len(words) > 1 else ""
    if not placeholders([program]) and "/" not in program and shutil.which(program) is None:
        raise UsageError(f"the command's program {program!r} is not found on PATH: install it, or give its path")
    for path in ([program] if "/" in program else []) + ([script] if Path(program).name.startswith("python") and script.endswith(".py") else []):
        if not placeholders([path]) and not Path(path).is_absolute() and git.read_blob(baseline, project.path(path)) is None:
            raise UsageError(f"the command runs {path}, which the baseline does not hold: commit it, or fix the path")
    if spec.command_outs and not git.tree_entries(baseline, [project.path(".dvc")]):
        raise UsageError("--outs puts outputs into the DVC cache, but this project has no DVC: run dvc init (and commit), or leave --outs out")


def data_sources(git: Git, cwd: Path, spec: SweepSpec) -> dict[str, dict[str, Path]]:
    """Every ``--data`` source of the spec, checked (it exists, Git does not track it): target -> value -> path."""
    return {
        str(axis.target): {value: check_source(git, cwd, str(axis.target), value) for value in axis.dimension.values}
        for axis in spec.space.axes
        if isinstance(axis.target, DataTarget)
    }


def write_trials(
    git: Git,
    sweep: Sweep,
    plans: Sequence[TrialPlan] = (),
    *,
    spec: SweepSpec | None = None,
    targets: "ParamsTargets | None" = None,
    first_index: int = 1,
    new_sweep: bool = False,
    store: RefStore | None = None,
) -> tuple[Sweep, list[Trial]]:
    """Write trial commits for ``plans`` and a new sweep record in one batch, all or nothing.

    With no plans this only records ``sweep`` as it is now (its spec and state).
    The refs go to ``store`` (this repository by default; a worker passes its
    remote) by ``RefStore.publish``: trial refs must not exist yet and the
    sweep ref must still be at ``sweep.commit``, so concurrent writers cannot
    both land, and a writer killed midway leaves nothing a reader takes.
    Raises ``ConcurrentChange`` when another writer got there first.
    """
    store = store or LocalRefs(git)
    refs = [TrialRef(sweep.prefix, sweep.name, trial_name(first_index + i)) for i in range(len(plans))]
    if plans:  # the record remembers the highest index used, in the batch that uses it (see next_index)
        last = max(first_index + len(plans) - 1, recorded_last_index(sweep))
        sweep = dataclasses.replace(sweep, state={**sweep.state, LAST_INDEX: last})
    messages = [trial_message(sweep, ref, _params_json(plan), plan.tags, _data_json(sweep, plan)) for ref, plan in zip(refs, plans)]
    commits = [
        FastImportCommit(sweep.baseline, message, targets.render(spec, plan)) for message, plan in zip(messages, plans)
    ]
    commits.append(_sweep_record_commit(sweep, None if new_sweep else sweep.commit))
    reflog = f"gitexp: queue {sweep.name}"
    with pending_write(git) as write:
        oids = git.fast_import(commits, write.scratch)
        created = [RefUpdate(ref.ref, oid, ZERO_OID) for ref, oid in zip(refs, oids)]
        record = RefUpdate(sweep_ref(sweep.name), oids[-1], ZERO_OID if new_sweep else sweep.commit)
        landed = store.publish(created, record, write, reflog) if created else store.swap([record], [write.scratch], reflog)
    if not landed:
        raise ConcurrentChange(
            f"sweep {sweep.name!r} changed while its trials were being written (another gitexp at work?): try again"
        )
    written = dataclasses.replace(sweep, commit=oids[-1])
    return written, [trial_from_record(ref, oid, message) for ref, oid, message in zip(refs, oids, messages)]


def objective_problem(git: Git, spec: SweepSpec, baseline: str, project: Project) -> str | None:
    """Why the sweep's objective or early-stopping metrics cannot exist, or None.

    Refused when dvc.yaml declares no metrics at all, or when the baseline has
    metrics (committed, or in the results of earlier trials on it) and none is
    named so; a project that never ran yet cannot tell.
    """
    names = spec.named_metrics()
    if not names:
        return None
    if not project.metrics_files and not project.runs_command:  # a command's metrics are at least dvclive's
        return f"the sweep ranks by {names[0]}, but dvc.yaml declares no metrics files: add metrics: to a stage"
    known = read_commit_metrics(git, baseline, project) or metrics_of_results_on(git, baseline, project)
    missing = [name for name in names if known and name not in known]
    if missing:
        close = closest_hint(missing[0], known)
        return f"no metrics file of the project has {missing[0]!r}{close} (metrics: {', '.join(list(known)[:8])}): name one of them"
    return None


def pruning_problem(git: Git, spec: SweepSpec, baseline: str, project: Project) -> str | None:
    """Why the sweep's pruner cannot read its metric step by step, or None.

    Refused when dvc.yaml declares no dvclive step plots, or when the baseline
    holds dvclive step files and none is the pruner's metric.
    """
    steered = spec.steered()
    if steered is None:
        return None
    metric = steered[0]
    folder = step_folder(project)
    if folder is None:
        return (
            f"the sweep prunes by {metric} step by step, but dvc.yaml declares no dvclive step plots "
            f"({project.display(project.path(DVCLIVE_STEPS))}): log with dvclive and add them to plots:, or drop the pruner"
        )
    known = step_metrics(git, baseline, folder)
    if known and metric.replace("/", ".") not in known:
        return f"no dvclive step file has {metric!r}{closest_hint(metric, known)} (steps of: {', '.join(known[:8])}): name one with --prune-metric"
    return None


def metrics_of_results_on(git: Git, baseline: str, project: Project) -> dict[str, Any]:
    """The metric names (with a value) that succeeded trials of sweeps on ``baseline`` reported, in this project."""
    ledger = Ledger(git)
    sweeps = [sweep.name for sweep in ledger.sweeps() if (sweep.baseline, sweep.project) == (baseline, project.directory)]
    known: dict[str, Any] = {}
    for trial in ledger.trials(sweeps) if sweeps else ():
        if trial.status == SUCCEEDED:
            known.update(trial.metrics)
    return known


def refuse_blocking_branch(git: Git, prefix: str, sweep: str) -> None:
    """A branch named like a folder of the trials' branches (``exp``, ``exp/<sweep>``) keeps Git from creating them."""
    parts = f"{prefix}{sweep}".split("/")
    folders = [f"refs/heads/{'/'.join(parts[:end])}" for end in range(1, len(parts) + 1)]
    found = next((ref for ref in folders if git.rev_parse(ref) is not None), None)
    if found:
        branch = found.removeprefix("refs/heads/")
        raise UsageError(
            f"the branch {branch!r} keeps Git from creating the trial branches {prefix}{sweep}/...: rename it "
            f"(git branch -m {branch} NEW-NAME), or put trials under another prefix (git config gitexp.prefix trials/)"
        )


def next_index(sweep: Sweep, trials: Sequence[Trial]) -> int:
    """The index of the sweep's next trial: past every index it has used, a removed trial's too.

    Counting the trials would give a name that exists once one is removed. A
    removed trial's name is not given again either, not even the last one's:
    a remote or another clone may still hold its branch, and its log would
    pass for the new trial's. The sweep record keeps the highest index (those
    written before it did, count their branches).
    """
    used = [index for index in (trial_index(trial.name) for trial in trials) if index is not None]
    return max([recorded_last_index(sweep), *used]) + 1


def recorded_last_index(sweep: Sweep) -> int:
    """The highest trial index the sweep record remembers (0 when it predates that, or a remote sent nonsense)."""
    value = sweep.state.get(LAST_INDEX)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def refuse_more_than_the_space(spec: SweepSpec) -> None:
    """A new sweep asking for more distinct trials than its discrete space holds is a mistake."""
    count = spec.max_trials
    if isinstance(count, int) and spec.strategy in ("grid", "random") and spec.space.is_discrete:
        size = spec.space.grid_size()
        if count > size:
            raise UsageError(
                f"{count} trials asked for, but the space has only {size} distinct points: "
                f"give --num-trials {size} or less, or add values"
            )


def resolve_baseline(git: Git, rev: str, include_uncommitted: bool) -> str:
    """The baseline commit: ``rev``, refusing uncommitted work unless it is snapshotted."""
    baseline = git.rev_parse(rev)
    if baseline is None:
        if git.is_shallow():
            raise UsageError(
                f"--rev {rev!r} names no commit in this shallow clone: run git fetch --unshallow, then try again"
            )
        raise UsageError(f"--rev {rev!r} names no commit: give a branch, tag or commit id")
    if baseline != git.rev_parse("HEAD"):
        return baseline
    changed = [entry[3:] for entry in git.status_porcelain() if not entry.startswith("??")]
    if not changed:
        return baseline
    if include_uncommitted:
        return snapshot_workspace(git, baseline)
    shown = some_of(changed)
    raise UsageError(
        f"uncommitted changes to {shown}: gitexp queues the committed baseline (HEAD); "
        "commit them, or pass --include-uncommitted to snapshot the workspace into the sweep's baseline"
    )


def snapshot_workspace(git: Git, head: str) -> str:
    """A commit of the working tree on top of HEAD, made with a private index."""
    message = "gitexp: workspace snapshot\n\nUncommitted changes included in a sweep's baseline.\n"
    return git.commit_tree(git.workspace_tree(head), message, [head])


class ParamsTargets:
    """The params files of a baseline, checked against dvc.yaml and rendered per trial, and the files that
    track the datasets trials replace (``datasets``: target -> value -> its entry in the DVC cache)."""

    def __init__(self, git: Git, baseline: str, project: Project, datasets: dict[str, Any] | None = None):
        self.git = git
        self.baseline = baseline
        self.project = project
        self.datasets = datasets or {}
        self._tracking: dict[str, Tracking] = {}
        self._files: dict[str, ParamsFile] = {}
        self._paths: dict[str, str] = {}  # the file each params file names, after symlinks
        self._modes: dict[str, str] = {}

    def use_command(self, spec: SweepSpec) -> None:
        """In a project without dvc.yaml, the trials' ``gitexp.yaml``: the spec's command, its parameters null."""
        if not self.project.runs_command or COMMAND_FILE in self._files:
            return
        if spec.command is None:
            raise RepositoryError(no_dvc_yaml(self.project.directory))
        words = command_words(spec.command)
        targets = [target for target, _ in spec.constants] + [axis.target for axis in spec.space.axes]
        keys = [t.key for t in targets if isinstance(t, ParamTarget) and (t.file or COMMAND_FILE) == COMMAND_FILE]
        missing = [name for name in placeholders(words) if name not in keys]
        if missing:
            raise UsageError(
                f"the command's {{{{ {missing[0]} }}}} has no value: declare it (declarations:, params: or matrix: "
                f"in a sweep file, --set {missing[0]}=VALUE) or write the value into the command"
            )
        text = command_document(words, keys, spec.command_metrics, spec.command_outs)
        self._files[COMMAND_FILE] = ParamsFile(COMMAND_FILE, text)
        self._paths[COMMAND_FILE], self._modes[COMMAND_FILE] = self.project.path(COMMAND_FILE), "100644"

    def file(self, name: str | None) -> ParamsFile:
        """A params file by its project-relative name (the project's default when None)."""
        name = name or self.project.default_params_file
        if name not in self._files:
            path = self.project.path(name)
            if path not in self.project.params_files and not self.project.runs_command:  # a command's: any committed file
                listed = ", ".join(self.project.display(p) for p in self.project.params_files) or "none"
                raise UsageError(
                    f"dvc.yaml lists no params from {name} (params files: {listed}): "
                    f"add them to a stage's params: in dvc.yaml so DVC reruns it, and commit"
                )
            resolved = self.git.through_links(self.baseline, path)
            if resolved is None:
                raise UsageError(broken_link(name))
            path, mode = resolved
            blob = self.git.read_blob(self.baseline, path)
            if blob is None:
                raise UsageError(f"{name} is listed in dvc.yaml but not committed at the baseline: commit it")
            self._files[name] = ParamsFile(name, decode_params(name, blob))
            self._paths[name], self._modes[name] = path, mode
        return self._files[name]

    def tracking(self, target: DataTarget) -> Tracking:
        """What tracks a dataset's path at the baseline (refused when DVC does not track it as data)."""
        if target.path not in self._tracking:
            self._tracking[target.path] = find_tracking(self.git, self.baseline, self.project, target.path)
        return self._tracking[target.path]

    def check_spec(self, spec: SweepSpec) -> None:
        """Every key exists and every discrete value fits the type the file holds; DVC tracks every dataset."""
        self.use_command(spec)
        for index, (target, value) in enumerate(spec.constants):
            check_value_type(str(target), self.file(target.file).get(target.key), value, index in spec.quoted_constants)
        trackings = [self.tracking(axis.target) for axis in spec.space.axes if isinstance(axis.target, DataTarget)]
        shared = [file for file, count in Counter(t.file for t in trackings).items() if count > 1]
        if shared:
            raise UsageError(f"--data: {shared[0]} tracks two of the datasets: give one --data for each .dvc file or dvc.lock")
        for axis in spec.space.axes:
            if isinstance(axis.target, DataTarget):
                continue
            old = self.file(axis.target.file).get(axis.target.key)
            for value, explicit in _representative_values(axis.dimension):
                check_value_type(str(axis.target), old, value, explicit)

    def files_touched(self, spec: SweepSpec) -> tuple[str, ...]:
        targets = [t for t, _ in spec.constants] + [axis.target for axis in spec.space.axes]
        touched = [t.file or self.project.default_params_file for t in targets if isinstance(t, ParamTarget)]
        return tuple(dict.fromkeys([COMMAND_FILE] * self.project.runs_command + touched))

    def render(self, spec: SweepSpec, plan: TrialPlan) -> dict[str, tuple[str, bytes]]:
        """The changed params files of one trial, and the .dvc files or dvc.lock of its datasets: path -> (mode, content)."""
        self.use_command(spec)
        per_file: dict[str, dict[str, Any]] = {COMMAND_FILE: {}} if self.project.runs_command else {}  # new in every trial
        datasets = {}
        for target, value in [*spec.constants, *plan.params.items()]:
            if isinstance(target, DataTarget):
                datasets[target] = value
                continue
            per_file.setdefault(target.file or self.project.default_params_file, {})[target.key] = value
        rendered = {name: self.file(name).render(updates).encode("utf-8") for name, updates in per_file.items()}
        files = {self._paths[name]: (self._modes[name], text) for name, text in rendered.items()}
        for target, value in datasets.items():
            tracking = self.tracking(target)
            files[tracking.file] = (tracking.mode, render_data(tracking, self.datasets[target.path][value]))
        return files


def _representative_values(dimension) -> list[tuple[Any, bool]]:
    """Values whose types stand for a dimension's: every listed value, or a distribution's bounds."""
    if isinstance(dimension, (Choice, PChoice)):
        return [(value, index in dimension.quoted) for index, value in enumerate(dimension.values)]
    return [(bound, False) for bound in dimension.args[:2]]


def _params_json(plan: TrialPlan) -> dict[str, Any]:
    return {str(target): value for target, value in plan.params.items()}


def _data_json(sweep: Sweep, plan: TrialPlan) -> dict[str, Any]:
    """The trial's datasets for its Gitexp-Data trailer: target -> the source as written, md5, size, nfiles."""
    found = {}
    for target, value in plan.params.items():
        if isinstance(target, DataTarget):
            entry = sweep.data[target.path][value]
            found[target.path] = {"source": value, **{key: entry[key] for key in DATA_KEYS if entry.get(key) is not None}}
    return found


def _sweep_record_commit(sweep: Sweep, parent: str | None) -> FastImportCommit:
    return FastImportCommit(parent, sweep_record_message(sweep), sweep_record_files(sweep))
