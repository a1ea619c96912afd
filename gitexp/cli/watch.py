"""``--watch``: a view drawn again every interval until what it shows has nothing queued or running.

In a terminal the view is redrawn in place (rich's Live); elsewhere (a pipe, a
CI log) one block is printed per interval, so the interval must be given.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gitexp.cli.environment import Environment
from gitexp.errors import UsageError

if TYPE_CHECKING:  # rich is imported when a view is drawn: status and show without --watch never load it
    from rich.console import RenderableType

DEFAULT_INTERVAL = 2.0  # seconds, in a terminal

View = Callable[[], "tuple[RenderableType, bool]"]  # what to show now, and whether to go on watching


def watch_interval(environment: Environment, interval: float | None) -> float:
    """The seconds between views; refuses one that is not above 0, or none outside a terminal."""
    if interval is None and not environment.interactive:
        raise UsageError("--watch outside a terminal prints a block per interval: give one, e.g. --watch --interval 5")
    if interval is not None and not 0 < interval < math.inf:  # NaN too
        raise UsageError(f"--interval {interval:g}: give a number of seconds above 0, such as 2")
    return DEFAULT_INTERVAL if interval is None else interval


def watch(environment: Environment, view: View, interval: float) -> None:
    """Show ``view()`` every ``interval`` seconds until it says there is nothing left to watch (shown once more)."""
    from rich.live import Live

    console = environment.console
    if environment.interactive:
        with Live(console=console, auto_refresh=False) as live:
            _every(interval, view, lambda shown: live.update(shown, refresh=True))
        return

    def block(shown: RenderableType) -> None:
        console.print(shown)
        console.print()
        environment.stdout.flush()

    _every(interval, view, block)


def _every(interval: float, view: View, show: Callable[[RenderableType], None]) -> None:
    while True:
        shown, going_on = view()
        show(shown)
        if not going_on:
            return
        time.sleep(interval)
