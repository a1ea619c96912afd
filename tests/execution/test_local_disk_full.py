"""``gitexp run`` on a full disk (a small tmpfs): one line, no traceback, nothing half-written, and a later run finishes the rest."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from gitexp.store.git import Git
from gitexp.store.records import Ledger

# The trial with lr 0.1 fills the disk through $GITEXP_FILLER, once (as told by $GITEXP_FILLED, kept elsewhere).
FILLING_TRAIN_PY = textwrap.dedent(
    """\
    import json, os
    import yaml
    p = yaml.safe_load(open("params.yaml"))["train"]
    json.dump({"score": p["lr"]}, open("metrics.json", "w"))
    if p["lr"] == 0.1 and not os.path.exists(os.environ["GITEXP_FILLED"]):
        open(os.environ["GITEXP_FILLED"], "w").close()
        try:
            with open(os.environ["GITEXP_FILLER"], "wb") as filler:
                while True:
                    filler.write(b"x" * 65536)
                    filler.flush()
        except OSError:
            pass
    """
)


@pytest.fixture
def small_disk(tmp_path) -> Path:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode:
        pytest.skip("mounting a tmpfs is not permitted here")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(path: Path) -> None:
    try:
        with path.open("wb") as filler:
            while True:
                filler.write(b"x" * 65536)
                filler.flush()
    except OSError:
        pass


def assert_consistent(git: Git) -> None:
    """Nothing half-written: fsck clean, no claim or ref lock left, no scratch file, at most one result a trial."""
    assert git.run_process("fsck", "--no-dangling", "--no-progress").returncode == 0
    assert git.run("for-each-ref", "refs/gitexp/claims/") == ""
    common = git.common_dir()
    assert not list((common / "refs").rglob("*.lock")) and not (common / "packed-refs.lock").exists()
    assert not list((common / "gitexp").glob("clone-id.*"))
    for ref in git.run("for-each-ref", "--format=%(refname)", "refs/heads/exp/").split():
        assert len(git.run("log", "--format=%(trailers:key=Gitexp-Status,valueonly)", ref).split()) <= 1


def assert_one_line(result) -> None:
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gitexp: error: ") and lines[0].endswith("free some space and run again (trials that did not finish stay queued)"), result.err


def test_a_full_disk_stops_the_run_with_one_line_and_the_next_run_finishes(
    kit, template_project, small_disk, tmp_path, monkeypatch, run_gitexp
):
    shutil.copytree(template_project, small_disk / "project", symlinks=True)
    git = Git(small_disk / "project")
    (git.root / "train.py").write_text(FILLING_TRAIN_PY)
    git.run("commit", "-qam", "a stage that fills the disk once")
    kit.queue(git, "s", "train.lr=[0.05, 0.1, 0.2]")
    filler = small_disk / "filler"
    monkeypatch.setenv("GITEXP_FILLER", str(filler))
    monkeypatch.setenv("GITEXP_FILLED", str(tmp_path / "filled"))

    fill(filler)  # full before the run starts
    full = run_gitexp(git.root, "run", "s")
    assert full.code == 1
    assert_one_line(full)
    assert {trial.status for trial in Ledger(git).trials(["s"])} == {"queued"}
    assert_consistent(git)

    filler.unlink()  # the second trial's stage fills it
    filled = run_gitexp(git.root, "run", "s")
    assert filled.code == 1 and (tmp_path / "filled").exists()
    assert_one_line(filled)
    assert_consistent(git)

    filler.unlink()
    done = run_gitexp(git.root, "run", "s")
    assert done.code in (0, 1), done.err  # 1: the trial whose stage found the disk full may have failed
    trials = {trial.name: trial for trial in Ledger(git).trials(["s"])}
    assert trials["t001"].metrics == {"score": 0.05} and trials["t003"].metrics == {"score": 0.2}
    assert trials["t002"].status in ("succeeded", "failed")
    assert_consistent(git)
    assert all(kit.result_counts(git).values()) and set(kit.result_counts(git).values()) == {1}
