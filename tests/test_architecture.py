"""The house rules, read from the source (AST only, nothing imported or run).

- Git runs only in ``store/git.py``, the Git seam: no other module starts a
  ``git`` process or spells porcelain through ``Git.run``/``run_bytes``/``run_process``.
- DVC is started and imported only in ``project/dvc.py``, except by the two
  modules that run inside a DVC process of their own (``RUNS_INSIDE_DVC``).
- Refs are written only in ``store/``: no other module calls the Git methods
  that write refs (``update_refs``, ``try_update_refs``, ``push``, ``fetch``);
  they go through a ``RefStore`` or a named store operation.
- No import cycle between gitexp's folders (``__main__.py`` is the entry point, outside the graph).
- Nothing below ``cli/`` imports ``cli/``.
- No shell: nothing passes ``shell=`` anything but False, in the package, the tests or the benchmarks.

Every finding names the module and the line.
"""

from __future__ import annotations

import ast
import textwrap
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GIT_SEAM = "gitexp/store/git.py"
DVC_SEAM = "gitexp/project/dvc.py"
RUNS_INSIDE_DVC = {
    "gitexp/execution/restore.py": "a trial's DVC process: it restores the checkout's data, then calls DVC's main",
    "gitexp/execution/repro_server.py": "the warm DVC: it imports DVC once and forks a child per dvc repro",
}
ENTRY_POINT = "gitexp/__main__.py"
TOP = "(top)"  # gitexp/__init__.py and gitexp/errors.py
GIT_RUNNERS = ("run", "run_bytes", "run_process")
STORE = "gitexp/store/"
REF_WRITERS = ("update_refs", "try_update_refs", "push", "fetch")
GIT_TRANSFERS = ("push", "fetch")  # names common enough to need Git's arguments too
PROCESS_STARTERS = ("run", "Popen", "call", "check_call", "check_output")


@dataclass(frozen=True)
class Module:
    path: str  # repo-relative, e.g. gitexp/store/git.py
    tree: ast.Module

    @property
    def name(self) -> str:
        parts = list(Path(self.path).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    @property
    def folder(self) -> str:
        parts = Path(self.path).parts
        return parts[1] if len(parts) > 2 else TOP

    def at(self, node: ast.AST, what: str) -> str:
        return f"{self.path}:{node.lineno}: {what}"


def in_order(findings: list[str]) -> list[str]:
    """By line (``ast.walk`` goes breadth first)."""
    return sorted(findings, key=lambda finding: int(finding.split(":")[1]))


def parse(path: str, source: str) -> Module:
    return Module(path, ast.parse(source, path))


def modules(*folders: str) -> list[Module]:
    found = []
    for folder in folders:
        for file in sorted((REPO / folder).rglob("*.py")):
            found.append(parse(file.relative_to(REPO).as_posix(), file.read_text()))
    return found


def calls(module: Module) -> Iterator[ast.Call]:
    return (node for node in ast.walk(module.tree) if isinstance(node, ast.Call))


def constant(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def leading_words(node: ast.AST) -> list[object]:
    """The constants an argv literal starts with (``["git", ...]`` -> ``["git", None]``)."""
    return [constant(element) for element in node.elts] if isinstance(node, (ast.List, ast.Tuple)) else []


# -- the checkers --------------------------------------------------------------------


def git_starts(module: Module) -> list[str]:
    """A process whose argv starts with "git", or porcelain spelled through a Git's ``run*``, outside the seam."""
    if module.path == GIT_SEAM:
        return []
    found = []
    for call in calls(module):
        func = call.func
        if not isinstance(func, ast.Attribute):
            continue
        first = call.args[0] if call.args else None
        if func.attr in PROCESS_STARTERS and first is not None and leading_words(first)[:1] == ["git"]:
            found.append(module.at(call, "starts git"))
        elif func.attr in GIT_RUNNERS and _on_a_git(func, first):
            found.append(module.at(call, f"git porcelain through .{func.attr}(): add a named method to Git"))
    return in_order(found)


def _on_a_git(func: ast.Attribute, first: ast.AST | None) -> bool:
    """``x.run_bytes(...)``/``x.run_process(...)``, or ``x.run("subcommand", ...)``, or a ``run`` on something named git."""
    receiver = func.value.func if isinstance(func.value, ast.Call) else func.value  # Git(path).run(...)
    name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
    return func.attr != "run" or isinstance(constant(first), str) or "git" in name.lower()


def ref_writes(module: Module) -> list[str]:
    """A call of a Git method that writes refs, outside store/.

    Any receiver counts (a Git goes by many names: ``git``, ``workdir``, ``store.view``);
    ``push``/``fetch`` only with Git's two arguments (remote, refspecs or updates), which
    leaves out a store's own ``Staging.fetch(namespaces)`` and DVC's ``repo.fetch(targets=...)``.
    """
    if module.path.startswith(STORE):
        return []
    found = []
    for call in calls(module):
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in REF_WRITERS:
            continue
        if func.attr in GIT_TRANSFERS and len(call.args) + len(call.keywords) < 2:
            continue
        found.append(module.at(call, f"writes refs through Git.{func.attr}(): use a RefStore or a store operation"))
    return in_order(found)


def dvc_starts(module: Module) -> list[str]:
    """An import of DVC, or an argv that runs it (``["dvc", ...]``, ``[..., "-m", "dvc", ...]``), outside project/dvc.py."""
    if module.path == DVC_SEAM or module.path in RUNS_INSIDE_DVC:
        return []
    found = []
    for node in ast.walk(module.tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        if any(name == "dvc" or name.startswith("dvc.") for name in names):
            found.append(module.at(node, "imports DVC: call it through gitexp.project.dvc"))
        words = leading_words(node)
        if words[:1] == ["dvc"] or ("-m", "dvc") in zip(words, words[1:]):
            found.append(module.at(node, "starts DVC: call it through gitexp.project.dvc"))
    return in_order(found)


def shell_uses(module: Module) -> list[str]:
    return in_order([
        module.at(call, "shell= is not False: pass an argument list")
        for call in calls(module)
        for keyword in call.keywords
        if keyword.arg == "shell" and constant(keyword.value) is not False
    ])


def imports(module: Module) -> Iterator[tuple[ast.AST, str]]:
    """``(node, gitexp module or package)`` for each import of gitexp in ``module``, lazy ones included."""
    package = module.name if module.path.endswith("__init__.py") else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            targets = [f"{target}.{alias.name}" for alias in node.names] if not node.module else [target]
        else:
            continue
        yield from ((node, target) for target in targets if target == "gitexp" or target.startswith("gitexp."))


def folder_of(name: str, known: dict[str, Module]) -> str:
    """The folder of a dotted gitexp name (``gitexp.store.git`` -> store, ``gitexp.errors`` -> (top))."""
    parts = name.split(".")
    if len(parts) > 2 or (len(parts) == 2 and name in known and known[name].path.endswith("__init__.py")):
        return parts[1]
    return TOP


def folder_edges(package: list[Module]) -> dict[tuple[str, str], str]:
    """``(from folder, to folder) -> the first import that makes the edge``; the entry point left out."""
    known = {module.name: module for module in package}
    edges: dict[tuple[str, str], str] = {}
    for module in package:
        if module.path == ENTRY_POINT:
            continue
        for node, target in imports(module):
            edge = (module.folder, folder_of(target, known))
            if edge[0] != edge[1]:
                edges.setdefault(edge, module.at(node, f"imports {target}"))
    return edges


def folder_cycles(package: list[Module]) -> list[str]:
    """Each import cycle between folders once, with the import behind every step of it."""
    edges = folder_edges(package)
    graph = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    cycles = set()
    for start in sorted(graph):
        path = _path_back(graph, start)
        if path:
            turn = path.index(min(path))  # one spelling per cycle, whichever folder it is found from
            cycles.add(tuple(path[turn:] + path[:turn]))
    found = []
    for cycle in sorted(cycles):
        steps = zip(cycle, cycle[1:] + cycle[:1])
        found.append(" -> ".join([*cycle, cycle[0]]) + " (" + "; ".join(edges[step] for step in steps) + ")")
    return found


def _path_back(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """The shortest chain of folders from ``start`` back to itself, if there is one."""
    frontier, seen = [[start]], {start}
    while frontier:
        chain = frontier.pop(0)
        for following in sorted(graph.get(chain[-1], ())):
            if following == start:
                return chain
            if following not in seen:
                seen.add(following)
                frontier.append([*chain, following])
    return None


def cli_imports(package: list[Module]) -> list[str]:
    """Imports of gitexp.cli from modules outside cli/ (the entry point aside)."""
    return [
        module.at(node, f"imports {target}: the library never depends on the command line")
        for module in package
        if module.folder != "cli" and module.path != ENTRY_POINT
        for node, target in imports(module)
        if target == "gitexp.cli" or target.startswith("gitexp.cli.")
    ]


# -- the rules, on gitexp ------------------------------------------------------------


def report(findings: list[str]) -> str:
    return "\n".join(findings)


def test_git_runs_only_in_the_git_seam():
    findings = [line for module in modules("gitexp") for line in git_starts(module)]
    assert not findings, report(findings)


def test_refs_are_written_only_in_store():
    findings = [line for module in modules("gitexp") for line in ref_writes(module)]
    assert not findings, report(findings)


def test_dvc_is_started_and_imported_only_in_project_dvc():
    findings = [line for module in modules("gitexp") for line in dvc_starts(module)]
    assert not findings, report(findings)


def test_the_modules_allowed_to_import_dvc_run_inside_dvc_and_say_so():
    for path in RUNS_INSIDE_DVC:
        docstring = ast.get_docstring(ast.parse((REPO / path).read_text())) or ""
        assert "DVC's own process" in docstring, f"{path}: its docstring should say why it may import DVC"


def test_no_import_cycle_between_folders():
    cycles = folder_cycles(modules("gitexp"))
    assert not cycles, report(cycles)


def test_nothing_below_cli_imports_cli():
    findings = cli_imports(modules("gitexp"))
    assert not findings, report(findings)


def test_no_shell_anywhere():
    findings = [line for module in modules("gitexp", "tests", "benchmarks") for line in shell_uses(module)]
    assert not findings, report(findings)


# -- the checkers catch what they look for -----------------------------------------------


def sample(path: str, source: str) -> Module:
    return parse(path, textwrap.dedent(source))


def test_the_git_checker_finds_git_started_outside_the_seam():
    module = sample(
        "gitexp/sharing/x.py",
        """\
        import subprocess
        subprocess.run(["git", "status"])
        git.run("symbolic-ref", "HEAD")
        self.git.run(*args)
        checkout.run_bytes("cat-file", "--batch")
        repo.run_process(*args)
        executor.run(source)
        LocalExecutor(git, options).run(source)
        Git(path).run(*args)
        """,
    )
    assert git_starts(module) == [
        "gitexp/sharing/x.py:2: starts git",
        "gitexp/sharing/x.py:3: git porcelain through .run(): add a named method to Git",
        "gitexp/sharing/x.py:4: git porcelain through .run(): add a named method to Git",
        "gitexp/sharing/x.py:5: git porcelain through .run_bytes(): add a named method to Git",
        "gitexp/sharing/x.py:6: git porcelain through .run_process(): add a named method to Git",
        "gitexp/sharing/x.py:9: git porcelain through .run(): add a named method to Git",
    ]
    assert git_starts(sample(GIT_SEAM, 'subprocess.run(["git", "status"])\n')) == []


def test_the_ref_checker_finds_refs_written_outside_store():
    source = """\
        git.update_refs(updates)
        self.git.try_update_refs(updates, "gitexp: pull")
        workdir.push(remote, updates, atomic=True)
        store.view.fetch(remote.spec, refspecs=[spec])
        staging.fetch([SWEEPS_NAMESPACE])
        repo.fetch(targets=paths)
        git.ls_remote(remote, patterns)
        """
    assert ref_writes(sample("gitexp/sharing/x.py", source)) == [
        "gitexp/sharing/x.py:1: writes refs through Git.update_refs(): use a RefStore or a store operation",
        "gitexp/sharing/x.py:2: writes refs through Git.try_update_refs(): use a RefStore or a store operation",
        "gitexp/sharing/x.py:3: writes refs through Git.push(): use a RefStore or a store operation",
        "gitexp/sharing/x.py:4: writes refs through Git.fetch(): use a RefStore or a store operation",
    ]
    assert ref_writes(sample("gitexp/store/remote.py", source)) == []


def test_the_dvc_checker_finds_dvc_started_or_imported_outside_project_dvc():
    source = """\
        import dvc.repo
        from dvc.cli import main
        import dvclive
        subprocess.run(["dvc", "push"])
        argv = [sys.executable, "-m", "dvc", "repro"]
        """
    assert dvc_starts(sample("gitexp/sharing/x.py", source)) == [
        "gitexp/sharing/x.py:1: imports DVC: call it through gitexp.project.dvc",
        "gitexp/sharing/x.py:2: imports DVC: call it through gitexp.project.dvc",
        "gitexp/sharing/x.py:4: starts DVC: call it through gitexp.project.dvc",
        "gitexp/sharing/x.py:5: starts DVC: call it through gitexp.project.dvc",
    ]
    assert dvc_starts(sample(DVC_SEAM, source)) == []
    assert dvc_starts(sample("gitexp/execution/restore.py", source)) == []


def test_the_shell_checker_finds_shell_true():
    module = sample("tests/x.py", 'subprocess.run("ls", shell=True)\nsubprocess.run(["ls"], shell=False)\n')
    assert shell_uses(module) == ["tests/x.py:1: shell= is not False: pass an argument list"]


@pytest.fixture
def layered():
    return [
        sample("gitexp/__init__.py", ""),
        sample("gitexp/__main__.py", "from gitexp.cli.main import main\n"),
        sample("gitexp/errors.py", ""),
        sample("gitexp/store/__init__.py", ""),
        sample("gitexp/store/git.py", "from gitexp.errors import GitCommandError\n"),
        sample("gitexp/project/__init__.py", ""),
        sample("gitexp/project/dvc.py", "from gitexp.store import git\n"),
        sample("gitexp/review/__init__.py", ""),
        sample("gitexp/review/results.py", "import gitexp.project.dvc\n"),
        sample("gitexp/cli/__init__.py", ""),
        sample("gitexp/cli/main.py", "from gitexp.review.results import x\n"),
    ]


def test_the_cycle_checker_passes_layers_and_names_each_import_of_a_cycle(layered):
    assert folder_cycles(layered) == []
    layered.append(sample("gitexp/store/naming.py", "\n\ndef f():\n    from gitexp.review import results\n"))
    assert folder_cycles(layered) == [
        "project -> store -> review -> project ("
        "gitexp/project/dvc.py:1: imports gitexp.store; "
        "gitexp/store/naming.py:4: imports gitexp.review; "
        "gitexp/review/results.py:1: imports gitexp.project.dvc)"
    ]


def test_the_cli_checker_finds_the_library_importing_the_command_line(layered):
    assert cli_imports(layered) == []
    layered.append(sample("gitexp/review/report.py", "from gitexp.cli.environment import Environment\n"))
    assert cli_imports(layered) == [
        "gitexp/review/report.py:1: imports gitexp.cli.environment: the library never depends on the command line"
    ]
