"""The CLI imports a command's module only when that command runs; ``COMMANDS`` says where each lives and its help."""

import importlib
import pkgutil
import subprocess
import sys

import click

import gitexp.cli.commands
from gitexp.cli.commands import COMMANDS
from gitexp.cli.group import cli, load_command

HEAVY = ("dvc", "optuna", "matplotlib", "numpy", "rich", "jinja2", "starlette", "importlib.metadata")


def loaded_after(cwd, *argv: str) -> set[str]:
    """The modules a fresh interpreter holds after ``gitexp ARGV`` (output thrown away)."""
    code = (
        "import io, sys, contextlib\nfrom gitexp.cli.main import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()): main({list(argv)!r})\n"
        "print(' '.join(sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


def heavy_in(modules: set[str]) -> set[str]:
    return {name for name in modules if name.startswith(tuple(f"{heavy}." for heavy in HEAVY)) or name in HEAVY}


def test_table_names_every_command_where_it_lives_with_its_own_short_help():
    for module in pkgutil.iter_modules(gitexp.cli.commands.__path__):
        importlib.import_module(f"gitexp.cli.commands.{module.name}")  # each registers its commands on cli
    assert sorted(cli.commands) == sorted(COMMANDS)
    for name, (where, short_help) in COMMANDS.items():
        assert load_command(where) is cli.commands[name]
        assert cli.commands[name].get_short_help_str(10**6) == short_help, name  # so --help shows the same line


def test_help_imports_no_command_module(tmp_path):
    modules = loaded_after(tmp_path, "--help")
    assert not {name for name in modules if name.startswith("gitexp.cli.commands.")}
    assert not heavy_in(modules)


def test_status_imports_only_its_own_module_and_no_heavy_library(project, run_gitexp):
    assert run_gitexp(project.root, "queue", "--name", "s", "--set", "train.lr=[0.1, 0.2]").code == 0
    for argv in (["status"], ["status", "--json"]):
        modules = loaded_after(project.root, *argv)
        assert {name for name in modules if name.startswith("gitexp.cli.commands.")} == {"gitexp.cli.commands.core"}
        assert not heavy_in(modules), argv
        assert not {name for name in modules if name.startswith(("gitexp.project", "gitexp.review.results", "yaml", "ruamel"))}, argv


def test_an_unknown_command_is_refused_without_importing_any(tmp_path):
    ctx = click.Context(cli)
    assert cli.get_command(ctx, "nope") is None
    assert "nope" not in cli.list_commands(ctx)


def test_a_mistyped_command_is_refused_with_the_close_ones(run_gitexp, tmp_path):
    result = run_gitexp(tmp_path, "stat")
    assert result.code == 2
    assert result.err.strip() == "gitexp: error: No such command 'stat'. Did you mean 'status'? (see gitexp --help)"
