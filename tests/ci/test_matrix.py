"""split_matrix and plan_document: the trials of a CI run as job matrices of at most 256."""

from __future__ import annotations

import json

import pytest

from gitexp.ci.matrix import MATRIX_LIMIT, plan_document, split_matrix
from gitexp.errors import UsageError


def make_trials(count: int, sweep: str = "lr") -> list[dict[str, str]]:
    return [{"trial": f"exp/{sweep}/t{number:04d}", "sweep": sweep, "name": f"t{number:04d}"} for number in range(count)]


@pytest.mark.parametrize(
    ("count", "expected_sizes"),
    [
        (0, [0, 0, 0, 0]),
        (1, [1, 0, 0, 0]),
        (256, [256, 0, 0, 0]),
        (257, [256, 1, 0, 0]),
        (1024, [256, 256, 256, 256]),
    ],
)
def test_split_matrix_fills_the_chunks_in_order(count: int, expected_sizes: list[int]) -> None:
    trials = make_trials(count)

    chunks = split_matrix(trials, chunks=4)

    assert [len(chunk["include"]) for chunk in chunks] == expected_sizes
    assert all(list(chunk) == ["include"] for chunk in chunks)  # any other key would be a matrix dimension
    assert [trial for chunk in chunks for trial in chunk["include"]] == trials


def test_split_matrix_refuses_more_trials_than_the_run_jobs_hold() -> None:
    with pytest.raises(UsageError) as refused:
        split_matrix(make_trials(1025), chunks=4)

    assert "1025 trials" in str(refused.value)
    assert "--chunks" in str(refused.value) and "split the sweep" in str(refused.value)


def test_split_matrix_honours_a_smaller_chunk_size() -> None:
    chunks = split_matrix(make_trials(5), chunks=3, chunk_size=2)

    assert [len(chunk["include"]) for chunk in chunks] == [2, 2, 1]


@pytest.mark.parametrize(
    ("chunks", "chunk_size", "message"),
    [(0, MATRIX_LIMIT, "--chunks"), (4, 0, "--chunk-size"), (4, MATRIX_LIMIT + 1, "--chunk-size")],
)
def test_split_matrix_refuses_impossible_shapes(chunks: int, chunk_size: int, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        split_matrix(make_trials(1), chunks=chunks, chunk_size=chunk_size)


def test_plan_document_is_what_the_workflow_reads() -> None:
    late_lr_trial = {"trial": "exp/lr/late", "sweep": "lr", "name": "late"}
    trials = make_trials(2, "lr") + make_trials(1, "bs") + [late_lr_trial]

    document = plan_document(trials, concurrency=3, chunks=2)

    assert json.loads(json.dumps(document)) == {
        "concurrency": 3,
        "chunks": [{"include": trials}, {"include": []}],
        "sweeps": ["lr", "bs"],
        "any": True,
    }


def test_plan_document_without_trials_says_so() -> None:
    document = plan_document([], concurrency=1, chunks=4)

    assert document == {"concurrency": 1, "chunks": [{"include": []}] * 4, "sweeps": [], "any": False}


def test_plan_document_refuses_a_concurrency_below_one() -> None:
    with pytest.raises(UsageError, match="concurrency"):
        plan_document(make_trials(1), concurrency=0, chunks=4)


def test_plan_document_passes_on_the_capacity_error() -> None:
    with pytest.raises(UsageError, match="split the sweep"):
        plan_document(make_trials(1025), concurrency=4, chunks=4)
