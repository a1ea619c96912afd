"""The one module that starts DVC or imports it.

DVC runs as ``<this python> -m dvc`` (``dvc_argv``) and stage commands find
this Python's scripts first on PATH (``tool_env``), so a gitexp installed in a
virtualenv runs the DVC and the libraries of that same virtualenv, activated or
not. When DVC fails, its own words are what gitexp reports (``dvc_error``).

A commit's project is resolved by DVC imported here (``resolve_project``): DVC
reads the commit through its Git file system, so nothing is checked out and
nothing is written into the user's workspace; ``vars``, ``${...}``,
``foreach`` and ``matrix`` come out as DVC expands them, and a dvc.yaml DVC
rejects is refused with DVC's own message. DVC is imported lazily, inside the
functions, so that commands which never need it do not pay for it.

Two modules besides this one import DVC because they run inside a DVC process
of their own: ``execution.restore`` (a trial's data restore, then its DVC
command) and ``execution.repro_server`` (a warm DVC forking one child per repro).
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitexp.errors import GitCommandError, NetworkTimeout, RepositoryError
from gitexp.project.config import names_a_remote, read_dvc_config
from gitexp.project.model import DEFAULT_PARAMS_FILE, Output, Project, ProjectFiles, repo_path
from gitexp.store.locks import held_by
from gitexp.store.network import TIMEOUT_CONFIG, run_watched
from gitexp.store.redaction import redacted, without_credentials

_DVC_SIGN_OFF = "Having any troubles?"  # the line DVC ends every error with


# -- DVC as a separate process ------------------------------------------------------


def dvc_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def dvc_version() -> str | None:
    """The version of the DVC ``dvc_argv`` runs (this interpreter's), read from its metadata without importing it."""
    import importlib.metadata  # with its email parsers, only for --version: not on every command's path

    try:
        return importlib.metadata.version("dvc")
    except importlib.metadata.PackageNotFoundError:
        return None


def repro_argv(stage: str | None) -> list[str]:
    """``dvc repro``, of one stage when given."""
    return dvc_argv("repro", *(["--", stage] if stage else []))


def dvc_arguments(argv: Sequence[str]) -> list[str] | None:
    """The DVC arguments of ``argv`` when it runs this DVC (as ``dvc_argv`` builds it), else None."""
    prefix = dvc_argv()
    return list(argv[len(prefix):]) if list(argv[: len(prefix)]) == prefix else None


def tool_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with this interpreter's bin directory first on PATH and DVC's telemetry off."""
    bin_dir = os.path.dirname(sys.executable)
    path = env.get("PATH", "")
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{path}" if path else bin_dir, "DVC_NO_ANALYTICS": "1"}


def run_dvc(directory: Path, env: Mapping[str, str], *args: str, silence: float | None = None) -> None:
    """Run ``dvc ARGS`` in ``directory``; a failure is one line: ``dvc COMMAND failed:`` and DVC's error.

    With ``silence`` (a transfer to or from the DVC remote) DVC shows its progress
    bars, and is killed once they stand still for that many seconds.
    """
    if silence is None:
        proc = subprocess.run(dvc_argv(*args), cwd=directory, env=tool_env(env), capture_output=True, check=False)
    else:
        proc = run_watched(dvc_argv(*args), directory, {**tool_env(env), "DVC_IGNORE_ISATTY": "true"}, silence)
    if proc is None:
        raise NetworkTimeout(
            f"the DVC remote {dvc_remote_display(directory, env)} did not answer within {silence:g} s (dvc {args[0]}): "
            f"check that it is up and reachable from here, or allow longer with git config {TIMEOUT_CONFIG} SECONDS"
        )
    if proc.returncode != 0:
        output = (proc.stderr + proc.stdout).decode("utf-8", "replace")
        raise GitCommandError(f"dvc {args[0]} failed: {dvc_error(output, proc.returncode)}")


def add_outputs(directory: Path, env: Mapping[str, str], paths: Sequence[str]) -> None:
    """``dvc add`` the outputs a command wrote (``--outs``): into the cache, a ``.dvc`` file and ``.gitignore`` each."""
    run_dvc(directory, env, "add", "-q", *paths)


def cache_data(project_dir: Path, source: Path) -> dict[str, Any]:
    """``source`` (a file or folder) put into the DVC cache of the project at ``project_dir`` by its content,
    as ``dvc add`` does (a folder as its ``.dir`` manifest and its files), and what a ``.dvc`` file records
    of it: ``md5``, ``size`` and, for a folder, ``nfiles``. Copied, never linked: the source stays the user's.

    DVC's own hashing (``dvc_data``'s build) computes the hashes, with the project's ``.dvcignore``.
    """
    from dvc.fs import localfs
    from dvc.repo import Repo
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.transfer import transfer

    with Repo(str(project_dir)) as repo:
        cache = repo.cache.local
        staging, meta, obj = build(cache, str(source), localfs, "md5", ignore=repo.dvcignore)
        transfer(staging, cache, {obj.hash_info}, shallow=False, hardlink=False)
    entry: dict[str, Any] = {"md5": obj.hash_info.value, "size": meta.size}
    if meta.isdir:
        entry["nfiles"] = meta.nfiles
    return entry


def render_plots_diff(directory: Path, env: Mapping[str, str], revs: Sequence[str], out: Path) -> Path | None:
    """DVC's own page of the plots of ``revs`` side by side (``dvc plots diff -o``) in ``out``; its index.html,
    or None when DVC found no plots to render (it then writes nothing)."""
    run_dvc(directory, env, "plots", "diff", "--out", str(out), *revs)
    page = out / "index.html"
    return page if page.is_file() else None


def dvc_remote_display(directory: Path, env: Mapping[str, str]) -> str:
    """The default DVC remote of the project at ``directory`` (else all) for a message: ``name (url)``, no credentials."""
    remotes = [line.split() for line in _remote_list(directory, env)]
    shown = [fields for fields in remotes if "(default)" in fields] or remotes
    return ", ".join(f"{name} ({without_credentials(url)})" for name, url, *_ in shown) or "none configured"


def dvc_remote_configured(directory: Path, env: Mapping[str, str]) -> bool:
    """Whether the DVC project at ``directory`` has a remote to push outputs to (one ``dvc remote list`` lists).

    Read from the config files DVC merges: starting DVC to ask costs most of a
    second, which a worker would pay before its first result and ``slurm submit``
    before its job. DVC is asked only when a file is not plain INI, once per set
    of the files' contents.
    """
    if not (directory / ".dvc").is_dir():
        return False
    key = _config_contents(directory, env)
    if key not in _REMOTES_BY_CONFIG:
        named = names_a_remote(key)
        _REMOTES_BY_CONFIG[key] = named if named is not None else bool(_remote_list(directory, env))
    return _REMOTES_BY_CONFIG[key]


_REMOTES_BY_CONFIG: dict[tuple[bytes | None, ...], bool] = {}  # whether a remote is configured, by the contents of the files DVC reads
def _config_contents(directory: Path, env: Mapping[str, str]) -> tuple[bytes | None, ...]:
    """The contents of every config file DVC merges for the project at ``directory`` (None: missing):
    system, global (where DVC looks for them), the project's and its local one."""
    import platformdirs  # DVC's own dependency, which finds those folders for it

    folders = (
        env.get("DVC_SYSTEM_CONFIG_DIR") or platformdirs.site_config_dir("dvc", "iterative"),
        env.get("DVC_GLOBAL_CONFIG_DIR") or platformdirs.user_config_dir("dvc", "iterative"),
    )
    files = [Path(folder, "config") for folder in folders] + [directory / ".dvc" / "config", directory / ".dvc" / "config.local"]
    return tuple(_read_or_none(path) for path in files)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _remote_list(directory: Path, env: Mapping[str, str]) -> list[str]:
    """The lines of ``dvc remote list`` (none when it fails)."""
    proc = subprocess.run(
        dvc_argv("remote", "list"), cwd=directory, env=tool_env(env), capture_output=True, text=True, check=False
    )
    return [line for line in proc.stdout.splitlines() if line.strip()] if proc.returncode == 0 else []


def dvc_error(output: str, code: int) -> str:
    """DVC's own error from its output: its ``ERROR:`` lines (without --quiet DVC prints them), else its last words."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR:").strip() for line in lines if line.startswith("ERROR:")]
    if errors:
        return redacted("; ".join(errors))  # a DVC remote's URL may carry its password
    said = [line for line in lines if not line.startswith(_DVC_SIGN_OFF)]
    return redacted(said[-1]) if said else f"exit status {code}"


# -- DVC's locks on a workspace -----------------------------------------------------


def workspace_busy(directory: Path) -> str | None:
    """Why DVC would refuse to change the workspace of the project at ``directory`` now, or None.

    DVC takes ``.dvc/tmp/lock`` (an flock; with ``core.hardlink_lock``, a file that
    exists while held) for every command, and a running stage records the outputs
    it reads and writes in ``.dvc/tmp/rwlock`` with its process id.
    """
    tmp = directory / ".dvc" / "tmp"
    lock = tmp / "lock"
    if held_by(lock) is not None or (lock.exists() and _hardlink_lock(directory)):
        return f"another DVC process holds its lock ({lock})"
    holders = _rwlock_holders(tmp / "rwlock")
    if holders:
        pid, command = holders[0]
        return f"DVC process {pid} ({command}) is using its outputs"
    return None


def _hardlink_lock(directory: Path) -> bool:
    configs = [read_dvc_config(directory / ".dvc" / name) for name in ("config", "config.local")]
    return any(config.get("core", "hardlink_lock", fallback="false").lower() == "true" for config in configs)


def _rwlock_holders(path: Path) -> list[tuple[int, str]]:
    """``(pid, command)`` of the live processes ``.dvc/tmp/rwlock`` records (DVC ignores dead ones too)."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        infos = [*records.get("write", {}).values(), *(info for readers in records.get("read", {}).values() for info in readers)]
        return [(info["pid"], info.get("cmd", "")) for info in infos if _alive(info.get("pid"))]
    except (OSError, ValueError, AttributeError, TypeError):
        return []  # no file, or not DVC's: DVC itself would refuse it with its own message


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


# -- DVC's resolution of a commit -----------------------------------------------------


def resolve_project(git_root: Path, rev: str, files: ProjectFiles) -> Project:
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc.scm import SCM

    scm = SCM(str(git_root))
    try:
        repo = Repo(root_dir="/" + files.directory, fs=_linked_git_fs()(scm=scm, rev=rev), scm=scm)
        with repo:
            return _project_of(repo, files)
    except DvcException as exc:
        raise RepositoryError(f"{_dvc_message(exc)}: fix the file and commit it") from None
    finally:
        scm.close()


@functools.cache
def _linked_git_fs():
    """DVC's Git file system, reading a symlink to a file of the commit as that file.

    In a workspace DVC reads a symlinked params.yaml through the link (and
    ``dvc exp run -S`` writes through it); its Git file system would read the
    link's own text instead.
    """
    from dvc.fs import GitFileSystem
    from scmrepo.fs import GitFileSystem as TreeFileSystem

    class LinkedTree(TreeFileSystem):
        def _open(self, path, mode="rb", *args, **kwargs):
            return super()._open(self._through_links(path), mode, *args, **kwargs)

        def _through_links(self, path: str) -> str:
            for _ in range(40):  # as many links as Linux follows
                key = self._get_key(path)
                if not self.trie.exists(key) or not stat.S_ISLNK(self.trie.info(key)["mode"]):
                    return path
                link = self.trie.open(key, mode="rb").read().decode("utf-8", "replace")
                target = posixpath.normpath(posixpath.join(posixpath.dirname("/".join(key)), link))
                if posixpath.isabs(link) or target == ".." or target.startswith("../"):
                    return path  # outside the repository: the link itself (load_project refuses it first)
                path = "/" + target
            return path

    class LinkedGitFileSystem(GitFileSystem):
        @functools.cached_property
        def fs(self):
            return LinkedTree(**self.fs_args)

    return LinkedGitFileSystem


def _project_of(repo, files: ProjectFiles) -> Project:
    from dvc.dvcfile import load_file

    stages = list(repo.index.stages)
    outputs = [
        Output(_repo_path(out.fs_path), _stage_name(stage), out.use_cache, out.persist, _kind(out))
        for stage in stages
        for out in stage.outs
    ]
    params, metrics, plots = [], [], []
    default_params = repo_path(files.directory, DEFAULT_PARAMS_FILE)
    if default_params in files.blobs:  # DVC reads params.yaml whether a stage lists it or not
        params.append(default_params)
    params += [_repo_path(dep.fs_path) for stage in stages for dep in stage.deps if hasattr(dep, "params")]
    for stage in stages:
        params += [_repo_path(name) for name in getattr(stage, "tracked_vars", {})]  # Git-file-system paths
    for path in files.dvc_files:  # the top-level sections, as DVC resolves them
        folder, dvcfile = posixpath.dirname(path), load_file(repo, "/" + path)
        params += [repo_path(folder, name) for name in dvcfile.params]
        metrics += [repo_path(folder, name) for name in dvcfile.metrics]
        plots += [repo_path(folder, name) for name in _plot_files(dvcfile.plots)]
    metrics += [out.path for out in outputs if out.kind == "metrics"]
    plots += [out.path for out in outputs if out.kind == "plots"]
    return Project(
        params_files=_ordered(params),
        metrics_files=_ordered(metrics),
        plots_paths=_ordered(plots),
        stages=tuple(dict.fromkeys(stage.name for stage in stages if hasattr(stage, "name"))),
        directory=files.directory,
        outputs=tuple(outputs),
        dvc_files=files.dvc_files,
    )


def _stage_name(stage) -> str:
    """A dvc.yaml stage's name; a ``.dvc`` file's stage (dvc add, dvc import) has none, only its file."""
    return getattr(stage, "name", stage.addressing)


def _plot_files(entries: Iterable) -> list[str]:
    """The data files of top-level plots: a path, or a plot id whose ``x``/``y`` name files."""
    paths: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            paths.append(entry)
            continue
        for plot_id, props in entry.items() if isinstance(entry, dict) else ():
            axes = [props.get(axis) for axis in ("x", "y")] if isinstance(props, dict) else []
            named = [name for axis in axes if isinstance(axis, dict) for name in axis]
            paths += named or [plot_id]
    return paths


def _kind(out) -> str:
    return "metrics" if out.metric else "plots" if out.plot else "outs"


def _repo_path(fs_path: str) -> str:
    """DVC's Git file system roots paths at ``/``, the repository's top."""
    return posixpath.normpath(str(fs_path).lstrip("/"))


def _ordered(paths: Iterable[str]) -> tuple[str, ...]:
    """Sorted, with each folder's params.yaml first (DVC reads it first), repeats dropped."""
    unique = set(paths)
    return tuple(sorted(unique, key=lambda path: (posixpath.basename(path) != DEFAULT_PARAMS_FILE, path)))


def _dvc_message(exc: BaseException) -> str:
    """DVC's message, with where its YAML parser stopped when that was the cause.

    "unable to read: 'dvc.yaml', YAML file structure is corrupted (while
    parsing a flow sequence, line 1)"
    """
    message = " ".join(str(exc).split())
    invalid = getattr(getattr(exc, "exc", None), "errors", None)  # a schema error: what and where, as dvc prints it
    if invalid:
        where = " -> ".join(map(str, invalid[0].path))
        return f"{message} ({invalid[0].error_message}" + (f" in {where})" if where else ")")
    cause = exc.__cause__
    problem, mark = getattr(cause, "context", None), getattr(cause, "context_mark", None)
    if not problem:
        problem, mark = getattr(cause, "problem", None), getattr(cause, "problem_mark", None)
    if problem:
        message += f" ({problem}" + (f", line {mark.line + 1}" if mark is not None else "") + ")"
    return message


# -- the plots a commit declares, as DVC collects them -------------------------------


def collect_plots(git_root: Path, directory: str, revs: Mapping[str, str]) -> list[dict]:
    """The plots ``dvc plots show`` would draw for ``revs`` (label -> commit), read from the commits.

    One dict per plot: ``id``, ``kind`` (``vega`` or ``image``), ``properties``
    (template, x, y, titles), ``datapoints`` (rows with ``rev`` set to the
    label; an image's ``src`` is a data URI) and ``missing`` (label -> data
    files DVC could not read in that commit). Each commit is opened as
    ``resolve_project`` opens it, through DVC's Git file system, so nothing is
    written to the workspace.
    """
    if not revs:
        return []
    from dvc.exceptions import DvcException
    from dvc.render.match import match_defs_renderers
    from dvc.repo import Repo
    from dvc.scm import SCM

    scm = SCM(str(git_root))
    try:
        first = next(iter(revs.values()))
        with Repo(root_dir="/" + directory, fs=_linked_git_fs()(scm=scm, rev=first), scm=scm) as repo:
            shown = repo.plots.show(revs=list(dict.fromkeys(revs.values())))
        data = {label: shown.get(commit, {}) for label, commit in revs.items()}
        unread = _templates_from_commits(scm, directory, revs, data)
        matched = match_defs_renderers(data)
    except DvcException as exc:
        raise RepositoryError(f"{_dvc_message(exc)}: fix the file and commit it") from None
    finally:
        scm.close()
    return [_plot_of(found, list(revs), unread) for found in matched]


_UNREAD_TEMPLATE = "gitexp_unread_template"


def _templates_from_commits(scm, directory: str, revs: Mapping[str, str], data: dict) -> dict[str, list[str]]:
    """Replace each custom template a plot names by the template as its commit has it (DVC would read the
    workspace, relative to where it runs); one it lacks becomes ``linear``. Answers label -> templates not found."""
    from dvc_render.vega_templates import TEMPLATES, Template

    builtin = {template.DEFAULT_NAME for template in TEMPLATES}
    unread: dict[str, list[str]] = {}
    for label, content in data.items():
        tree = scm.get_fs(revs[label])
        for definitions in content.get("definitions", {}).get("data", {}).values():
            for properties in definitions.get("data", {}).values():
                name = properties.get("template")
                if not isinstance(name, str) or name in builtin:
                    continue
                text = _first_file(tree, [posixpath.join(directory, ".dvc", "plots", name + suffix) for suffix in ("", ".json")] + [posixpath.join(directory, name)])
                try:
                    properties["template"] = Template(json.loads(text or ""), name=name)
                except ValueError:  # not there, or not JSON: drawn as a line, and the report says why
                    properties.update(template="linear", **{_UNREAD_TEMPLATE: posixpath.join(directory, name)})
                    unread.setdefault(label, []).append(posixpath.join(directory, name))
    return unread


def _first_file(tree, paths: Sequence[str]) -> str | None:
    for path in paths:
        try:
            with tree.open(posixpath.normpath(path), mode="r", encoding="utf-8") as stream:
                return stream.read()
        except (OSError, UnicodeDecodeError):
            continue
    return None


def _plot_of(found, labels: list[str], unread: Mapping[str, list[str]]) -> dict:
    renderer = found.renderer
    missing = {label: sorted(_repo_path(path) for path in found.source_errors.get(label, {})) for label in labels}
    missing.update({label: ["(definition)"] for label in found.definition_errors})
    properties = {key: value for key, value in renderer.properties.items() if key != "revs_with_datapoints"}
    template = properties.get("template")
    if hasattr(template, "content"):  # a custom template, read from the commit: plain data from here on
        properties.update(template=template.name, template_content=template.content)
    lost = properties.pop(_UNREAD_TEMPLATE, None)
    for label, paths in unread.items():
        if lost in paths:
            missing[label] = [*missing.get(label, []), f"{lost} (its Vega template: drawn as a line)"]
    return {
        "id": renderer.name,
        "kind": renderer.TYPE,
        "properties": properties,
        "datapoints": renderer.datapoints,
        "missing": {label: paths for label, paths in missing.items() if paths},
    }
