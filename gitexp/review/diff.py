"""``gitexp diff``: the params and metrics that differ between two commits, as ``dvc exp diff`` lists them.

Each side is a trial (its tip), a sweep (its baseline) or any commit. Values are
read from Git in one batch (metrics kept in the DVC cache from the cache, by the
hashes ``dvc.lock`` records), keyed by file as DVC keys them: project-relative
paths, dotted keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitexp.errors import NotFoundError, UsageError
from gitexp.numbers import finite
from gitexp.project.data import label as dataset_label
from gitexp.project.dvc import render_plots_diff
from gitexp.project.metrics import CommitReader, dvc_file_paths, flatten
from gitexp.project.model import Project, load_project
from gitexp.project.params_read import read_values
from gitexp.store.git import Git
from gitexp.store.records import QUEUED, RUNNING, Ledger

PARAMS, METRICS, DATA = "params", "metrics", "data"  # data: the datasets (dvc add, --data) each side has


@dataclass(frozen=True)
class Side:
    """One side of a diff: what the user named, the commit it is, and whether it has results to compare."""

    label: str
    rev: str
    project: Project
    baseline: str | None  # the commit it is compared with when it is named alone
    pending: str = ""  # "queued" or "running": a trial without a result yet
    ref: str = ""  # what DVC is told to read: the trial's branch, else the commit
    datasets: Mapping[str, Any] = field(default_factory=dict)  # a trial's --data sources (Gitexp-Data)

    @property
    def revision(self) -> str:
        return self.ref or self.rev

    def to_json(self) -> dict[str, Any]:
        return {"name": self.label, "rev": self.rev, "pending": self.pending or None}


@dataclass(frozen=True)
class Change:
    kind: str  # params | metrics
    path: str  # the file, relative to the project
    key: str
    old: Any
    new: Any

    @property
    def change(self) -> float | None:
        """new - old when both are numbers, as dvc exp diff's ``diff``."""
        if finite(self.old) is None or finite(self.new) is None:
            return None
        return self.new - self.old  # ints stay ints, as in dvc exp diff

    @property
    def relative(self) -> float | None:
        """The change as a fraction of |old|; None when old is 0 or either is no number."""
        change, old = self.change, finite(self.old)
        return None if change is None or not old else change / abs(old)

    def to_json(self) -> dict[str, Any]:
        found = {"old": self.old, "new": self.new}
        if self.change is not None:
            found["diff"] = self.change
        if self.relative is not None:
            found["rel"] = self.relative
        return found


@dataclass(frozen=True)
class Diff:
    old: Side
    new: Side
    changes: tuple[Change, ...]
    params_only: bool = False

    def of(self, kind: str) -> list[Change]:
        return [change for change in self.changes if change.kind == kind]

    def to_json(self) -> dict[str, Any]:
        """``dvc exp diff --json``'s shape (kind -> file -> key -> old/new/diff), plus ``rel`` and the two sides."""
        found: dict[str, Any] = {"old": self.old.to_json(), "new": self.new.to_json()}
        for kind in (METRICS, PARAMS):
            if kind == METRICS and self.params_only:
                continue
            by_file: dict[str, dict[str, Any]] = {}
            for change in self.of(kind):
                by_file.setdefault(change.path, {})[change.key] = change.to_json()
            found[kind] = by_file
        if self.of(DATA):
            found[DATA] = {change.path: change.to_json() for change in self.of(DATA)}
        return found


def resolve_side(git: Git, ledger: Ledger, name: str, project_dir: str) -> Side:
    """A trial (by SWEEP/TRIAL, branch or bare name), a sweep (its baseline) or a commit."""
    try:
        trial = ledger.resolve_trial(name)
    except NotFoundError:
        trial = None
    if trial is not None:
        baseline = ledger.sweep(trial.sweep).baseline
        pending = trial.status if trial.status in (QUEUED, RUNNING) else ""
        project = load_project(git, baseline, trial.project)
        return Side(trial.ref.key, trial.tip, project, baseline, pending, trial.ref.branch, trial.data)
    if name in ledger.sweep_names():
        sweep = ledger.sweep(name)
        return Side(f"{name} (baseline)", sweep.baseline, load_project(git, sweep.baseline, sweep.project), _parent(git, sweep.baseline))
    rev = git.rev_parse(name) if not name.startswith("-") else None
    if rev is None:
        raise NotFoundError(f"{name!r} is no trial, sweep or commit: gitexp show lists trials, git log commits")
    return Side(name, rev, load_project(git, rev, project_dir), _parent(git, rev))


def _parent(git: Git, rev: str) -> str | None:
    parents = git.commit_parents([rev]).get(rev, ())
    return parents[0] if parents else None


def plan_diff(git: Git, a: str, b: str | None, project_dir: str, params_only: bool = False) -> tuple[Side, Side]:
    """The (old, new) sides: A then B as dvc exp diff takes them, or A's baseline then A when B is left out.

    Refuses a trial without a result unless only params are compared.
    """
    ledger = Ledger(git)
    named = resolve_side(git, ledger, a, project_dir)
    if b is not None:
        old, new = named, resolve_side(git, ledger, b, project_dir)
    elif named.baseline is None:
        raise UsageError(f"{a} has no parent commit to compare with: name a second one, gitexp diff {a} REV")
    else:
        old, new = Side("baseline", named.baseline, named.project, None), named
    for side in (old, new):
        if side.pending and not params_only:
            raise UsageError(
                f"{side.label} has no result yet (it is {side.pending}): gitexp run runs it, "
                f"gitexp diff --params-only compares its params"
            )
    return old, new


def diff(git: Git, old: Side, new: Side, *, everything: bool = False, params_only: bool = False) -> Diff:
    """Params, metrics and datasets that differ between the sides (``everything``: the unchanged ones too)."""
    reader = CommitReader(git)
    for side in (old, new):
        reader.add(side.rev, side.project, dvc_file_paths(git, side.rev, side.project), side.project.params_files)
    reader.read()
    changes = []
    for kind in (METRICS, PARAMS):
        if kind == METRICS and params_only:
            continue
        before, after = (_values(reader, side, kind) for side in (old, new))
        for path, key in dict.fromkeys([*before, *after]):
            old_value, new_value = before.get((path, key)), after.get((path, key))
            if everything or old_value != new_value or type(old_value) is not type(new_value):
                changes.append(Change(kind, path, key, old_value, new_value))
    before, after = (_datasets(reader, side) for side in (old, new))
    for path in dict.fromkeys([*before, *after]):
        if everything or before.get(path) != after.get(path):
            changes.append(Change(DATA, path, "", before.get(path), after.get(path)))
    return Diff(old, new, tuple(changes), params_only)


def _datasets(reader: CommitReader, side: Side) -> dict[str, str]:
    """The data a side's .dvc files track (dvc add, --data), by project path, named as show names it."""
    found = {}
    for path, out in reader.pipeline(side.rev).outs.items():
        if out.is_data_source and out.hash:
            shown = side.project.display(path)
            source = side.datasets.get(shown, {}).get("source") or shown
            found[shown] = dataset_label({"md5": out.hash, "size": out.size, "nfiles": out.nfiles, "source": source})
    return found


def check_plots_dir(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--plots {directory} is a file: name a folder for the plots' pages")


def write_plots(git: Git, old: Side, new: Side, directory: Path, env: Mapping[str, str]) -> Path:
    """Both sides' plots rendered by DVC side by side (``dvc plots diff``) into ``directory``; its page."""
    project = git.root / new.project.directory
    page = render_plots_diff(project, env, [old.revision, new.revision], directory.resolve())
    if page is None:
        raise NotFoundError(f"neither {old.label} nor {new.label} has plots DVC can render: dvc.yaml declares none, or their files are missing")
    return page


def _values(reader: CommitReader, side: Side, kind: str) -> dict[tuple[str, str], Any]:
    """(file, dotted key) -> value of ``side``'s params or metrics files."""
    files = reader.metrics_files(side.rev) if kind == METRICS and not side.pending else {}
    if kind == PARAMS:
        for path in side.project.params_files:
            content = reader.blob(side.rev, path)
            try:
                files[path] = read_values(path, content.decode("utf-8", "replace")) if content is not None else None
            except UsageError:  # a params file broken in this commit: compared as absent
                files[path] = None
    found = {}
    for path, values in files.items():
        if isinstance(values, dict):
            found.update(((side.project.display(path), key), value) for key, value in flatten(values))
    return found


# -- as text: a table per kind, as dvc exp diff prints them --------------------------

TITLES = {METRICS: "Metric", PARAMS: "Param"}


def headers(result: Diff, kind: str) -> list[str]:
    if kind == DATA:
        return ["Data", result.old.label, result.new.label]
    return ["Path", TITLES[kind], result.old.label, result.new.label, "Change", "Change %"]


def cells(change: Change) -> list[Any]:
    """Path, key, old, new, change, relative change (``-`` where there is no number)."""
    if change.kind == DATA:
        return [change.path, change.old, change.new]
    relative = None if change.relative is None else f"{change.relative * 100:+.2f}%"
    return [change.path, change.key, change.old, change.new, change.change, relative]


def kinds(result: Diff) -> list[str]:
    """The tables to print: metrics (unless --params-only), params, and datasets when they differ."""
    return ([] if result.params_only else [METRICS]) + [PARAMS] + ([DATA] if result.of(DATA) else [])


def to_markdown(result: Diff) -> str:
    from gitexp.review.tables import markdown_table, markdown_text

    tables = []
    for kind in kinds(result):
        rows = [[markdown_text(cell) for cell in cells(change)] for change in result.of(kind)]
        tables.append(markdown_table([markdown_text(header) for header in headers(result, kind)], rows))
    return "\n".join(tables)


def to_csv(result: Diff) -> str:
    import csv
    import io

    from gitexp.review.tables import spreadsheet_cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "path", "key", "old", "new", "change", "relative"])
    for change in result.changes:
        values = [change.kind, change.path, change.key, change.old, change.new, change.change, change.relative]
        writer.writerow([spreadsheet_cell("" if value is None else value) for value in values])
    return out.getvalue()


def to_rich(result: Diff, kind: str):
    from rich.table import Table
    from rich.text import Text

    from gitexp.review.tables import format_value
    from gitexp.terminal import terminal_text

    table = Table(header_style="bold", box=None, pad_edge=False)
    for index, header in enumerate(headers(result, kind)):
        table.add_column(Text(terminal_text(header)), justify="right" if index >= 2 else "left")
    for change in result.of(kind):
        table.add_row(*(Text(terminal_text(format_value(cell) if not isinstance(cell, str) else cell)) for cell in cells(change)))
    return table
