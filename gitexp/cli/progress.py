"""Showing a run's progress: a live rich display on terminals, plain lines elsewhere.

Both count against what the run expects, asked again at each event: an adaptive
sweep grows as results come in, up to its budget; without one (bayes with no
``max_trials``) they show how many trials are done and running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from gitexp.cli.environment import Environment
from gitexp.execution.local import RunEvent
from gitexp.review.tables import format_value
from gitexp.store.records import SUCCEEDED
from gitexp.terminal import terminal_text


def outcome_line(event: RunEvent) -> str:
    trial = event.trial
    if event.kind == "started":
        return f"started  {trial.ref.key}"
    if event.kind == "skipped":
        return f"skipped  {trial.ref.key}: {event.note}"
    outcome = event.outcome
    metrics = ", ".join(f"{k}={format_value(v)}" for k, v in list(outcome.metrics.items())[:4])
    detail = metrics if outcome.status == SUCCEEDED else outcome.reason
    return f"{outcome.status:<9} {trial.ref.key} in {outcome.duration:.1f}s" + (f"  {detail}" if detail else "")


Expected = Callable[[], "int | None"]  # how many trials the run executes, as far as known now; None: no budget


class PlainProgress:
    """One line per event, for logs and CI."""

    def __init__(self, environment: Environment, expected: Expected):
        self.environment = environment
        self.expected = expected
        self.done = 0
        self.running = 0

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def __call__(self, event: RunEvent) -> None:
        if event.kind == "started":
            self.running += 1
            self.environment.echo(outcome_line(event))
        else:
            self.done += 1
            self.running -= 1
            self.environment.echo(f"[{self.count()}] {outcome_line(event)}")
        self.environment.stdout.flush()


    def count(self) -> str:
        total = self.expected()
        return f"{self.done}/{total}" if total is not None else f"{self.done} done, {self.running} running"


class LiveProgress:
    """A progress bar with done / failed / running counts, elapsed time and ETA."""

    def __init__(self, console: Console, expected: Expected):
        self.console = console
        self.expected = expected
        self.counts = {"running": 0, "succeeded": 0, "failed": 0, "skipped": 0}
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task(self._description(), total=expected())
        self.started = time.monotonic()

    def _description(self) -> str:
        c = self.counts
        return f"running {c['running']}  done {c['succeeded']}  failed {c['failed']}"

    def __enter__(self) -> "LiveProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def __call__(self, event: RunEvent) -> None:
        if event.kind == "started":
            self.counts["running"] += 1
        else:
            self.counts["running"] -= 1
            self.counts[event.outcome.status if event.outcome else "skipped"] += 1
            self.progress.console.print(terminal_text(outcome_line(event)), markup=False, highlight=False)
            self.progress.advance(self.task)
        self.progress.update(self.task, description=self._description(), total=self.expected())
