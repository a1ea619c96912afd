"""gitexp.yaml: a command line as words, its placeholders, and the argument list a trial runs."""

from __future__ import annotations

import pytest
import yaml

from gitexp.errors import UsageError
from gitexp.project.command import command_document, command_words, render_command


def test_polyaxon_run_cmd_splits_with_its_unquoted_placeholders_whole():
    words = command_words("python3 train.py --batch-size={{ batch_size }} --lr={{lr}} --name 'a b'")

    assert words == ["python3", "train.py", "--batch-size={{ batch_size }}", "--lr={{lr}}", "--name", "a b"]


def test_the_document_round_trips_and_renders_values_as_python_prints_them():
    text = command_document(["python", "t.py", "--lr={{ lr }}", "--opt", "{{ model.opt }}", "--on={{ on }}"], ["lr", "model.opt", "on"], ["m.json"])
    document = yaml.safe_load(text)
    document.update(lr=0.001, on=True, model={"opt": "adam w"})

    assert render_command(document) == ["python", "t.py", "--lr=0.001", "--opt", "adam w", "--on=True"]
    assert document["metrics"] == ["m.json"]


def test_a_placeholder_the_document_lacks_is_refused():
    with pytest.raises(UsageError, match=r"\{\{ epochs \}\} has no value"):
        render_command({"command": ["python", "t.py", "--epochs={{ epochs }}"]})


def test_unclosed_quotes_are_refused():
    with pytest.raises(UsageError, match="close its quotes"):
        command_words("python 't.py")
