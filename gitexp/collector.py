"""Python's cyclic garbage collector held off while a command builds many small objects at once.

Every 700 new container objects the collector walks the young ones, and every
so often all of them: building the rows of 10,000 trials (their dicts, lists and
records, none of them in a cycle) set it walking a fifth of ``show --json``'s time.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside (as it was again after); nested uses leave the outer one to resume it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
