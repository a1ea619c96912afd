"""Shell completion of sweep, trial and remote names (click's ``shell_complete=``), read from the repository.

A completion never fails: outside a repository, or in one gitexp cannot read,
it completes nothing, and the shell falls back to what it does by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import click
from click.shell_completion import CompletionItem

from gitexp.cli.environment import Environment


def _completer(*readers: Callable) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    """A ``shell_complete`` callback offering the ``(name, help)`` pairs of each reader of a ``Ledger``."""

    def complete(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        from gitexp.store.records import Ledger

        try:
            ledger = Ledger((ctx.find_object(Environment) or Environment()).git())
            pairs = [pair for read in readers for pair in read(ledger)]
        except Exception:  # a shell waits on a keystroke: no traceback, no message, just nothing to offer
            return []
        return [CompletionItem(name, help=help) for name, help in pairs if name.startswith(incomplete)]

    return complete


def _sweeps(ledger) -> Iterable[tuple[str, str]]:
    return ((name, "sweep") for name in ledger.sweep_names())


def _trials(ledger) -> Iterable[tuple[str, str]]:
    """Trials as ``sweep/trial``, with their status as the help zsh and fish show."""
    return ((trial.ref.key, trial.status) for trial in ledger.trials())


def _remotes(ledger) -> Iterable[tuple[str, str]]:
    return ((name, "remote") for name in ledger.git.remote_names())


complete_sweeps = _completer(_sweeps)
complete_trials = _completer(_trials)
complete_names = _completer(_sweeps, _trials)  # run, remove, stop: sweeps or trials
complete_remotes = _completer(_remotes)
complete_remotes_and_sweeps = _completer(_remotes, _sweeps)  # push, pull: [REMOTE] [SWEEP]...
