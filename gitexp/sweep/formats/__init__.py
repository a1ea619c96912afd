"""One reader per sweep-file format; ``reader_for`` tells which one a document needs."""

from __future__ import annotations

from gitexp.sweep.formats import polyaxon, wandb
from gitexp.sweep.formats.base import SweepFileReader
from gitexp.sweep.formats.gitexp import GitexpReader


def reader_for(document) -> type[SweepFileReader]:
    """W&B's reader for a document with its required keys, Polyaxon's for one with a Polyaxon section, else gitexp's."""
    keys = set(document) if isinstance(document, dict) else set()
    if keys & set(wandb.MARKERS):
        return wandb.WandbReader
    if keys & set(polyaxon.SECTIONS):
        return polyaxon.PolyaxonReader
    return GitexpReader
