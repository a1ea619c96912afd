"""Running DVC and the outputs a commit records that the DVC cache lacks, against real DVC."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from gitexp.project.dvc import dvc_error
from gitexp.project.model import load_project
from gitexp.project.outputs import missing_outputs

PIPELINE = textwrap.dedent(
    """\
    stages:
      train:
        cmd: python make.py
        deps: [make.py]
        outs: [model.pkl, shards]
        metrics:
          - metrics.json:
              cache: false
      report:
        wdir: reports
        cmd: python -c "open('summary.txt', 'w').write('ok')"
        outs: [summary.txt]
    """
)
MAKE_PY = textwrap.dedent(
    """\
    import json, os
    open("model.pkl", "wb").write(b"weights")
    os.makedirs("shards", exist_ok=True)
    for name in "ab":
        open(f"shards/{name}.txt", "w").write(name * 3)
    json.dump({"score": 1}, open("metrics.json", "w"))
    """
)


@pytest.fixture
def reproduced(project):
    """The project with a file output, a directory output and an output in a stage's wdir, reproduced and committed."""
    (project.root / "dvc.yaml").write_text(PIPELINE)
    (project.root / "make.py").write_text(MAKE_PY)
    (project.root / "reports").mkdir()
    (project.root / "reports" / ".gitkeep").write_text("")
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=project.root, check=True, capture_output=True)
    project.run("add", "-A")
    project.run("commit", "-q", "-m", "reproduced")
    return project


def test_an_output_is_missing_when_its_object_or_any_file_of_its_directory_is(reproduced):
    import hashlib

    project, cache = load_project(reproduced, "HEAD"), reproduced.root / ".dvc" / "cache"
    assert missing_outputs(reproduced, "HEAD", project, cache) == []  # metrics.json (cache: false) is in Git

    shard = hashlib.md5(b"bbb").hexdigest()
    (cache / "files" / "md5" / shard[:2] / shard[2:]).unlink()
    assert missing_outputs(reproduced, "HEAD", project, cache) == ["shards"]
    for content in (b"weights", b"ok"):  # model.pkl, and reports/summary.txt (its stage runs in reports/)
        digest = hashlib.md5(content).hexdigest()
        (cache / "files" / "md5" / digest[:2] / digest[2:]).unlink()
    assert sorted(missing_outputs(reproduced, "HEAD", project, cache)) == ["model.pkl", "reports/summary.txt", "shards"]


def test_dvcs_error_is_its_error_lines_else_its_last_words():
    said = "Collecting\nERROR: failed to push data to the cloud - 1 files failed to upload\n\nHaving any troubles? Hit us up\n"
    assert dvc_error(said, 1) == "failed to push data to the cloud - 1 files failed to upload"
    assert dvc_error("something odd\nHaving any troubles? Hit us up\n", 255) == "something odd"
    assert dvc_error("", 3) == "exit status 3"


def test_dvcs_error_shows_no_remote_credentials():
    said = "ERROR: unexpected error - 401 at https://user:s3cr3t-pass@dvc.example.com/store/files/md5/ab\n"
    assert dvc_error(said, 1) == "unexpected error - 401 at https://***@dvc.example.com/store/files/md5/ab"
    assert dvc_error("cannot reach https://u:s3cr3t-pass@h/x\n", 1) == "cannot reach https://***@h/x"


def test_a_remote_is_configured_when_dvc_lists_one_in_any_config_file(project, tmp_path):
    """Read from the files without starting DVC, as ``dvc remote list`` sees them: the project's, the local and
    the global config (system's too), and what DVC writes to remove a remote."""
    from gitexp.project.dvc import _remote_list, dvc_remote_configured

    env = {**os.environ, "DVC_GLOBAL_CONFIG_DIR": str(tmp_path / "global"), "DVC_SYSTEM_CONFIG_DIR": str(tmp_path / "system")}

    def dvc(*argv: str) -> None:
        subprocess.run([sys.executable, "-m", "dvc", *argv], cwd=project.root, env=env, check=True, capture_output=True)

    def agrees() -> bool:
        said = dvc_remote_configured(project.root, env)
        assert said == bool(_remote_list(project.root, env))
        return said

    assert not agrees()
    dvc("remote", "add", "store", str(tmp_path / "store"))  # as DVC writes a remote, and removes it
    assert agrees()
    dvc("remote", "remove", "store")
    assert not agrees()
    (tmp_path / "global").mkdir()
    (tmp_path / "global" / "config").write_text("['remote \"home\"']\n    url = /srv/dvc\n")
    assert agrees()
    (tmp_path / "global" / "config").unlink()
    (project.root / ".dvc" / "config.local").write_text("[ 'Remote   \"x\"' ]\n    url = /tmp/x\n")  # as configobj allows
    assert agrees()
    (project.root / ".dvc" / "config.local").write_text("[core\nnot ini at all\n")  # DVC alone can tell: asked
    assert dvc_remote_configured(project.root, env) == bool(_remote_list(project.root, env))
