"""Shell completion through click's completion variables, in a subprocess of the real CLI."""

import os
import subprocess
import sys

import pytest


def complete(cwd, words: str, which: str = "bash") -> list[str]:
    """What the shell would offer after ``words`` (the last word is the one being typed)."""
    # bash and zsh pass the index of the word being typed, fish the word itself
    typed = words.split(" ")[-1] if which == "fish" else str(len(words.split(" ")) - 1)
    env = {**os.environ, "_GITEXP_COMPLETE": f"{which}_complete", "COMP_WORDS": words, "COMP_CWORD": typed}
    proc = subprocess.run([sys.executable, "-m", "gitexp"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


@pytest.fixture
def queued(project, run_gitexp):
    for name in ("lr-sweep", "other"):
        result = run_gitexp(project.root, "queue", "--name", name, "--set", "train.lr=[0.1, 0.2]")
        assert result.code == 0, result.err
    return project


def test_partial_trial_name_completes_to_its_trials(queued):
    assert complete(queued.root, "gitexp logs lr-sweep/t0") == ["plain,lr-sweep/t001", "plain,lr-sweep/t002"]


def test_fish_shows_a_trials_status_beside_it(queued):
    assert complete(queued.root, "gitexp apply oth", which="fish") == ["plain,other/t001\tqueued", "plain,other/t002\tqueued"]


def test_partial_sweep_name_completes_for_sweeps_and_names(queued):
    assert complete(queued.root, "gitexp report lr") == ["plain,lr-sweep"]
    assert complete(queued.root, "gitexp show other lr") == ["plain,lr-sweep"]
    run = complete(queued.root, "gitexp run l")
    assert run == ["plain,lr-sweep", "plain,lr-sweep/t001", "plain,lr-sweep/t002"]


def test_remote_names_complete_for_push_and_remove(queued):
    queued.run("remote", "add", "origin", "https://example.invalid/r.git")
    assert complete(queued.root, "gitexp push o") == ["plain,origin", "plain,other"]
    assert complete(queued.root, "gitexp remove other --remote o") == ["plain,origin"]


def test_commands_and_options_complete(queued):
    assert complete(queued.root, "gitexp re") == ["plain,remove", "plain,report", "plain,restore"]
    assert "plain,--retry-failed" in complete(queued.root, "gitexp run --re")
    assert complete(queued.root, "gitexp --no") == ["plain,--no-color"]


def test_outside_a_repository_names_complete_to_nothing(tmp_path):
    assert complete(tmp_path, "gitexp logs t") == []
    assert complete(tmp_path, "gitexp run s") == []
    assert complete(tmp_path, "gitexp pr ") == []


def test_bash_source_prints_the_script_the_readme_evals(tmp_path):
    env = {**os.environ, "_GITEXP_COMPLETE": "bash_source"}
    proc = subprocess.run([sys.executable, "-m", "gitexp"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "_gitexp_completion" in proc.stdout and "complete -o nosort -F" in proc.stdout
