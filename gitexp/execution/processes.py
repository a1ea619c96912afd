"""Everything one trial started, found and stopped when the trial ends.

A stage can leave processes that outlive ``dvc repro``: daemons (``setsid``,
``nohup``, double forks) and children that move to a process group of their
own, which killing the run's process group misses. Left running, they write
into the slot while the next trial runs there. So a trial's processes are
marked, and at its end, timed out or not, whatever carries a mark is stopped
(TERM, a grace period, KILL):

- a cgroup (v2) of the trial's own, where this process may make one; nothing
  started inside can leave it;
- ``GITEXP_TRIAL_TOKEN``, a random value in the environment of the trial's
  pipeline, which its children inherit. The mark is the trial's and not a
  process tree's: the warm DVC server that forks the pipeline runs trial
  after trial;
- the sessions the pipeline was started in, and the trial's own directory (a
  slot): a process working inside it is the trial's.

What the kernel keeps after KILL (a process stuck in the kernel, one of
another user's) is reported, so that the slot it may write to is retired.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TOKEN_VARIABLE = "GITEXP_TRIAL_TOKEN"
GRACE = 1.0  # seconds a process has to end after TERM
KILL_TRIES = 50  # rounds of KILL, 20 ms apart, for processes forked while the others die
PROC = Path("/proc")


@dataclass(frozen=True)
class Ending:
    outlived: bool  # some process of the trial outlived its pipeline (it was stopped)
    survived: bool  # some outlived KILL: it may still write where the trial ran


class TrialProcesses:
    """The marks of one trial's processes; ``stop`` ends every process that carries one."""

    def __init__(self, directory: Path | None = None):
        self.token = os.urandom(16).hex()
        self.directory = os.path.realpath(directory) if directory is not None else None
        self.sessions: set[int] = set()
        self.spared = _lineage(os.getpid())  # this process and those that started it, whatever their cwd
        self.cgroup = _new_cgroup(f"gitexp-{os.getpid()}-{self.token[:12]}")

    @property
    def env(self) -> dict[str, str]:
        return {TOKEN_VARIABLE: self.token}

    @property
    def cgroup_procs(self) -> str | None:
        """The file a process of the trial writes its pid (or 0, itself) to, to enter the trial's cgroup."""
        return str(self.cgroup / "cgroup.procs") if self.cgroup is not None else None

    def contained(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as a command that enters the trial's cgroup before it starts (itself, without a cgroup)."""
        if self.cgroup_procs is None:
            return list(argv)
        return [sys.executable, "-m", __name__, self.cgroup_procs, *argv]

    def stop(self) -> Ending:
        """End every marked process (TERM, ``GRACE``, KILL); remove the cgroup."""
        found = self.marked()
        outlived = bool(found)
        if found:
            _signal(found, signal.SIGTERM)
            deadline = time.monotonic() + GRACE
            while (found := self.marked()) and time.monotonic() < deadline:
                time.sleep(0.02)
            for _ in range(KILL_TRIES if found else 0):
                self._kill_cgroup()
                _signal(found, signal.SIGKILL)
                time.sleep(0.02)
                if not (found := self.marked()):
                    break
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()  # refused while a process is still inside
        return Ending(outlived, bool(found))

    def marked(self) -> set[int]:
        """The live processes that carry one of the trial's marks."""
        found = self._in_cgroup()
        marker = f"\0{TOKEN_VARIABLE}={self.token}\0".encode()
        for entry in PROC.iterdir() if PROC.is_dir() else ():  # no /proc: the cgroup alone
            if not entry.name.isdigit() or (pid := int(entry.name)) in self.spared or pid in found:
                continue
            stat = _stat(pid)
            if stat is None or stat[0] in "ZX":  # gone, or a zombie: it writes nothing
                continue
            if stat[1] in self.sessions or marker in _environ(pid) or self._works_inside(pid):
                found.add(pid)
        return found

    def _works_inside(self, pid: int) -> bool:
        if self.directory is None:
            return False
        try:
            cwd = os.readlink(PROC / str(pid) / "cwd").removesuffix(" (deleted)")
        except OSError:
            return False
        return cwd == self.directory or cwd.startswith(self.directory + "/")

    def _in_cgroup(self) -> set[int]:
        if self.cgroup is None:
            return set()
        try:
            return {int(line) for line in (self.cgroup / "cgroup.procs").read_text().split()}
        except OSError:
            return set()

    def _kill_cgroup(self) -> None:
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                (self.cgroup / "cgroup.kill").write_text("1")  # kernel 5.14 and later: KILL, fork races included


def enter_cgroup(procs_file: str | None) -> None:
    """Move the calling process into a trial's cgroup; without one, or when refused, the other marks remain."""
    if procs_file is None:
        return
    with contextlib.suppress(OSError):
        fd = os.open(procs_file, os.O_WRONLY)
        try:
            os.write(fd, b"0")  # 0: the writer itself
        finally:
            os.close(fd)


def not_found(program: str) -> str:
    """The log's line for a pipeline command that does not exist."""
    return f"{program} not found: install it (pip install dvc) or check PATH"


def _signal(pids: set[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _stat(pid: int) -> tuple[str, int, int] | None:
    """A process's state, session and parent, from ``/proc/PID/stat`` (None when it is gone)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after the command name, which may hold spaces and parentheses
    return fields[0], int(fields[3]), int(fields[1])


def _environ(pid: int) -> bytes:
    try:
        return b"\0" + (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return b""


def _lineage(pid: int) -> set[int]:
    """``pid`` and its ancestors."""
    found = set()
    while pid > 1 and pid not in found:
        found.add(pid)
        stat = _stat(pid)
        pid = stat[2] if stat else 0
    return found


def stop_orphaned_trials() -> None:
    """Stop what the trials of runs that died (kill -9) left in their cgroups: nobody will record their results."""
    own = _own_cgroup()
    for path in own.glob("gitexp-*-*") if own is not None else ():
        creator = path.name.split("-")[1]
        if not creator.isdigit() or _alive(int(creator)):
            continue
        with contextlib.suppress(OSError):
            (path / "cgroup.kill").write_text("1")
        for _ in range(KILL_TRIES):
            try:
                path.rmdir()  # refused until the kernel has moved the killed processes out
                break
            except OSError:
                time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _new_cgroup(name: str) -> Path | None:
    """A new cgroup ``name`` below this process's own (cgroup v2), or None where there is none to be had."""
    own = _own_cgroup()
    if own is None:
        return None
    path = own / name
    try:
        path.mkdir()
    except OSError:  # not this user's to change
        return None
    return path


def _own_cgroup() -> Path | None:
    """This process's cgroup in the v2 hierarchy, where there is one."""
    mount = _cgroup2_mount()
    try:
        own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::"))
    except (OSError, StopIteration):
        return None
    if mount is None or not own.startswith("/"):
        return None
    return mount / own.lstrip("/")


def _cgroup2_mount() -> Path | None:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields, _, rest = line.partition(" - ")
        if rest.split(" ", 1)[0] == "cgroup2":
            return Path(fields.split()[4])
    return None


if __name__ == "__main__":  # python -m gitexp.execution.processes CGROUP_PROCS ARGV...: ARGV inside the cgroup
    enter_cgroup(sys.argv[1])
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    except FileNotFoundError:
        print(not_found(sys.argv[2]), file=sys.stderr)
        sys.exit(127)
