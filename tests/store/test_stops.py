"""Stop request files: clearing one is a compare-and-swap on the request that was seen."""

from __future__ import annotations

from gitexp.store.layout import stop_request_path
from gitexp.store.stops import clear_seen_stop_request, request_stop, seen_stop_request, stop_requested


def test_clearing_a_seen_request_removes_that_one_and_keeps_one_written_since(tmp_path):
    path = stop_request_path(tmp_path, "s", "t001")
    request_stop(tmp_path, "s", "t001", "an earlier stop")
    left = seen_stop_request(path)
    clear_seen_stop_request(path, left)
    assert stop_requested(path) is None

    request_stop(tmp_path, "s", "t001", "an earlier stop")
    left = seen_stop_request(path)
    request_stop(tmp_path, "s", "t001", "alice on host")  # written between the read and the clear
    clear_seen_stop_request(path, left)
    assert stop_requested(path) == "alice on host"
    assert sorted(p.name for p in path.parent.iterdir()) == ["t001"]  # nothing left aside

    clear_seen_stop_request(path, seen_stop_request(tmp_path / "none"))  # none seen: none cleared
    assert stop_requested(path) == "alice on host"
