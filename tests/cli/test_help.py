"""What a new user sees first: --help by sections, examples in every command's help, --version, colours."""

import io
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from gitexp.cli.environment import Environment
from gitexp.cli.examples import EXAMPLES, SECTIONS
from gitexp.cli.group import load_command
from gitexp.cli.main import cli, main


def commands_of(group: click.Group) -> dict[str, click.Command]:
    """The group's commands by name, their modules imported first (gitexp's group imports one when its command runs)."""
    for where, _ in getattr(group, "lazy_commands", {}).values():
        load_command(where)
    return group.commands


def every_command(group: click.Group = cli, path: tuple[str, ...] = ()):
    """(path, command) of each registered command and subcommand."""
    for name, command in commands_of(group).items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from every_command(command, (*path, name))


def help_text(capsys, *argv: str) -> str:
    """What ``gitexp ARGV --help`` prints (click writes help to sys.stdout)."""
    assert main([*argv, "--help"], Environment(stdout=io.StringIO(), stderr=io.StringIO())) == 0
    return capsys.readouterr().out


def sections_of(text: str) -> dict[str, list[str]]:
    """Each unindented ``Title:`` of a help text and the command names listed under it."""
    sections: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            listed = sections.setdefault(line[:-1], [])
        elif line.startswith("  ") and not line.startswith("   ") and not line.endswith(":") and sections:
            listed.append(line.split()[0])
    return sections


def test_help_lists_every_command_under_its_section(capsys):
    sections = sections_of(help_text(capsys))
    assert [title for title in sections if title != "Options"] == list(SECTIONS)  # no "Other commands"
    for title, names in SECTIONS.items():
        assert sections[title] == [name for name in names if name in commands_of(cli)]
    assert sorted(name for title in SECTIONS for name in sections[title]) == sorted(commands_of(cli))


def test_subgroup_help_lists_its_commands_plainly(capsys):
    assert sections_of(help_text(capsys, "ci"))["Commands"] == ["comment", "init", "plan", "run", "start"]


@pytest.mark.parametrize("path", [path for path, _ in every_command()], ids=" ".join)
def test_every_command_help_ends_with_examples_that_parse(capsys, path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.md").write_text("# a report\n")  # the file ci comment's example posts
    text = help_text(capsys, *path)
    examples = EXAMPLES[" ".join(path)]
    assert text.rstrip().endswith(examples[-1]) and "\n  Examples:\n" in text
    for line in examples:
        words = shlex.split(line.split(" | ")[0].split(" > ")[0])
        assert words[: len(path) + 1] == ["gitexp", *path]
        command = cli
        for name in path:
            command = commands_of(command)[name]
        command.make_context(" ".join(path), words[len(path) + 1 :])  # every option it uses exists


def test_tables_name_only_commands_or_ones_being_added():
    registered = {" ".join(path) for path, _ in every_command()}
    upcoming = {"stop"}  # added by another change; its section and examples wait here
    assert set(EXAMPLES) - registered <= upcoming
    assert {name for names in SECTIONS.values() for name in names} - set(commands_of(cli)) <= upcoming


def test_version_names_gitexp_git_and_dvc(run_gitexp, tmp_path):
    from importlib.metadata import version

    result = run_gitexp(tmp_path, "--version")
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.split()[2]
    assert result.code == 0
    assert result.out.splitlines() == [f"gitexp {version('gitexp')}", f"git {git}", f"dvc {version('dvc')}"]


def test_version_says_not_found_without_git(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "gitexp", "--version"], cwd=tmp_path, env={"PATH": str(tmp_path), "PYTHONPATH": ":".join(sys.path)},
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.splitlines()[1] == "git not found"
    # DVC's version comes from its metadata: --version does not import DVC
    check = "import sys, gitexp.cli.main as m; m.main(['--version']); print('dvc' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert loaded.stdout.splitlines()[-1] == "False"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def queued(project, run_gitexp):
    assert run_gitexp(project.root, "queue", "--name", "s", "--set", "train.lr=[0.1, 0.2]").code == 0
    return project


def shown_on_a_terminal(root: Path, argv: list[str], env: dict[str, str]) -> str:
    out = Terminal()
    environment = Environment(cwd=root, env={"TERM": "xterm-256color", "PATH": "/usr/bin:/bin", **env}, stdout=out, stderr=io.StringIO())
    assert main(argv, environment) == 0
    return out.getvalue()


def test_no_color_and_no_color_option_leave_no_escape_sequences(queued):
    assert "\x1b[" in shown_on_a_terminal(queued.root, ["show"], {})  # the table is styled on a terminal
    for argv, env in ((["show"], {"NO_COLOR": "1"}), (["--no-color", "show"], {})):
        text = shown_on_a_terminal(queued.root, argv, env)
        assert "\x1b" not in text and "s/t001" in text
    assert "\x1b[" in shown_on_a_terminal(queued.root, ["show"], {"NO_COLOR": ""})  # empty means unset (no-color.org)
