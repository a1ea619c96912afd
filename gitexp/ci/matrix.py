"""The trials of one CI run, split into the job matrices of the generated workflow.

GitHub runs at most 256 jobs from one matrix, and a workflow's jobs are fixed
when it is written, so ``gitexp ci init`` writes a fixed number of run jobs
(``run-0`` ... ``run-{K-1}``), each taking one matrix; ``gitexp ci plan`` fills
them in order and leaves the rest empty (their jobs are skipped).
"""

from __future__ import annotations

from typing import Any

from gitexp.errors import UsageError

MATRIX_LIMIT = 256  # GitHub's maximum number of jobs one matrix may generate
MAX_CHUNKS = 64  # run jobs a workflow may have (ci init writes each one out)


def validate_chunks(chunks: int, chunk_size: int = MATRIX_LIMIT) -> None:
    """Refuse a number of run jobs or a chunk size the workflow cannot have (before anything is fetched)."""
    if not 1 <= chunks <= MAX_CHUNKS:
        raise UsageError(f"the number of run jobs is {chunks}: give --chunks 1 or more (at most {MAX_CHUNKS}, as ci init writes)")
    if not 1 <= chunk_size <= MATRIX_LIMIT:
        raise UsageError(
            f"the chunk size {chunk_size} is out of range: give --chunk-size 1 to {MATRIX_LIMIT}"
        )


def split_matrix(
    trials: list[dict[str, Any]], *, chunks: int, chunk_size: int = MATRIX_LIMIT
) -> list[dict[str, list[dict[str, Any]]]]:
    """``chunks`` matrices ``{"include": [...]}``, filled in order, the unused ones empty."""
    validate_chunks(chunks, chunk_size)
    capacity = chunks * chunk_size
    if len(trials) > capacity:
        raise UsageError(
            f"{len(trials)} trials do not fit the workflow's {chunks} run jobs of "
            f"{chunk_size} trials ({capacity} at most): raise --chunks with "
            "`gitexp ci init --force`, or split the sweep"
        )
    return [
        {"include": list(trials[start : start + chunk_size])}
        for start in range(0, capacity, chunk_size)
    ]


def plan_document(
    trials: list[dict[str, Any]], concurrency: int, chunks: int, chunk_size: int = MATRIX_LIMIT
) -> dict[str, Any]:
    """What ``gitexp ci plan`` prints: the matrices, their parallelism and the sweeps they cover.

    Each trial is ``{"trial": "exp/s/t001", "sweep": "s", "name": "t001"}``.
    """
    if concurrency < 1:
        raise UsageError(
            f"the concurrency is {concurrency}: give 1 or more trials to run at a time"
        )
    return {
        "concurrency": concurrency,
        "chunks": split_matrix(trials, chunks=chunks, chunk_size=chunk_size),
        "sweeps": list(dict.fromkeys(trial["sweep"] for trial in trials)),
        "any": bool(trials),
    }
