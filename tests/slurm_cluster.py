"""A real single-node Slurm cluster for the tests and the benchmark: munged, slurmctld and slurmd under a temporary folder.

Installs nothing (``scripts/install-slurm.sh``, which ``make test`` runs, does).
Every path (key, sockets, pids, logs, state, spool) is under ``root``; the
daemons run as this user (root in CI) and are stopped by pid. Ready means a
probe job has run. Every client call is bounded: ``sinfo`` and friends retry
for minutes when the controller is down.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "scontrol")
NODE = "gitexp-node"
CLIENT_TIMEOUT = 20.0


def missing_programs() -> list[str]:
    return [name for name in (*DAEMONS, *CLIENTS) if shutil.which(name, path=os.environ["PATH"] + ":/usr/sbin:/sbin") is None]


def _program(name: str) -> str:
    return shutil.which(name, path=os.environ["PATH"] + ":/usr/sbin:/sbin") or name


def _memory_mb() -> int:
    with open("/proc/meminfo") as meminfo:
        total_kb = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    return int(total_kb / 1024 * 0.9)


@dataclass
class SlurmCluster:
    root: Path
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """What a client needs to reach this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def client(self, *argv: str, env: dict[str, str] | None = None, timeout: float = CLIENT_TIMEOUT, check: bool = True, cwd=None):
        return subprocess.run(
            list(argv), env={**os.environ, **self.env, **(env or {})}, capture_output=True, text=True,
            timeout=timeout, check=check, stdin=subprocess.DEVNULL, cwd=cwd,
        )

    # -- bring-up ----------------------------------------------------------------

    def start(self) -> None:
        for folder in ("munge", "state", "spool", "log"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "munge").chmod(0o755)  # munged refuses a socket folder others cannot reach
        self._write_conf()
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        socket_path = self.root / "munge" / "munge.socket"
        munge = [
            _program("munged"), f"--key-file={key}", f"--socket={socket_path}", f"--pid-file={self.root / 'munge.pid'}",
            f"--log-file={self.root / 'log' / 'munged.log'}", f"--seed-file={self.root / 'munge' / 'seed'}", "--force",
        ]
        subprocess.run(munge, check=True, timeout=CLIENT_TIMEOUT)
        self.pids["munged"] = self._read_pid(self.root / "munge.pid")
        self._daemon("slurmctld", [_program("slurmctld"), "-f", str(self.conf), "-i"])
        self._daemon("slurmd", [_program("slurmd"), "-f", str(self.conf), "-N", NODE])
        self._wait_ready()

    def _write_conf(self) -> None:
        munge_socket = self.root / "munge" / "munge.socket"
        lines = {
            "ClusterName": "gitexp",
            "SlurmctldHost": socket.gethostname().split(".")[0],  # slurmctld runs only on the host named here
            "SlurmUser": "root" if os.geteuid() == 0 else os.environ.get("USER", "root"),
            "SlurmdUser": "root",
            "AuthType": "auth/munge",
            "AuthInfo": f"socket={munge_socket}",
            "CredType": "cred/munge",
            "StateSaveLocation": self.root / "state",
            "SlurmdSpoolDir": self.root / "spool",
            "SlurmctldPidFile": self.root / "slurmctld.pid",
            "SlurmdPidFile": self.root / "slurmd.pid",
            "SlurmctldLogFile": self.root / "log" / "slurmctld.log",
            "SlurmdLogFile": self.root / "log" / "slurmd.log",
            "SlurmctldPort": _free_port(),
            "SlurmdPort": _free_port(),
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_CPU",
            "EnforcePartLimits": "ALL",
            "SchedulerParameters": "batch_sched_delay=0",
            "MailProg": "/bin/true",
            "MinJobAge": 600,
            "ReturnToService": 2,
            "SlurmctldTimeout": 30,
            "SlurmdTimeout": 30,
            "JobAcctGatherType": "jobacct_gather/none",
            "AccountingStorageType": "accounting_storage/none",
            "MaxArraySize": 1001,
            "SlurmdParameters": "config_overrides",  # the node's CPUs as written below, not as counted
        }
        text = "".join(f"{key}={value}\n" for key, value in lines.items())
        cpus = max(os.cpu_count() or 1, 4)  # 4 array tasks side by side even on a 2-core machine (the stages sleep)
        text += f"NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={_memory_mb()} State=UNKNOWN\n"
        text += f"PartitionName=debug Nodes={NODE} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO\n"
        self.conf.write_text(text)

    def _daemon(self, name: str, argv: list[str]) -> None:
        log = (self.root / "log" / f"{name}.out").open("ab")
        process = subprocess.Popen(
            [*argv, "-D"], env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pids[name] = process.pid
        time.sleep(0.1)
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at once: {self.log_tail(name)}")

    def _wait_ready(self, timeout: float = 40.0) -> None:
        """Until a probe job has run: the controller answers and the node has registered."""
        deadline = time.monotonic() + timeout
        job = None
        while time.monotonic() < deadline:
            if job is None:
                probe = self.client("sbatch", "--parsable", "-o", "/dev/null", "--wrap", "true", check=False, timeout=5)
                job = probe.stdout.strip().split(";")[0] or None
            elif self.job_state(job) in ("", "COMPLETED"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the Slurm cluster did not run a probe job in {timeout:g}s: {self.log_tail('slurmctld')}")

    # -- jobs ----------------------------------------------------------------------

    def job_state(self, job: str) -> str:
        """The state of job (or array task) ``job`` while squeue lists it ("" once it is gone)."""
        listed = self.client("squeue", "-h", "-j", job, "-o", "%T", check=False, timeout=5)
        return listed.stdout.strip()

    def states(self, job: str) -> list[str]:
        listed = self.client("squeue", "-h", "-r", "-j", job, "-o", "%T", check=False, timeout=5)
        return listed.stdout.split()

    def wait_done(self, job: str, timeout: float = 60.0) -> None:
        """Until no task of ``job`` is pending or running (sbatch --wait polls too seldom)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not [state for state in self.states(job) if state in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING")]:
                return
            time.sleep(0.2)
        raise TimeoutError(f"job {job} still runs after {timeout:g}s: {self.states(job)}")

    def log_tail(self, name: str, lines: int = 15) -> str:
        for path in (self.root / "log" / f"{name}.log", self.root / "log" / f"{name}.out"):
            if path.is_file():
                return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    # -- tear-down -----------------------------------------------------------------

    def stop(self) -> None:
        for name in reversed(DAEMONS):
            pid = self.pids.pop(name, None)
            if pid is not None:
                _stop_pid(pid)

    @staticmethod
    def _read_pid(path: Path) -> int:
        for _ in range(50):
            if path.is_file() and path.read_text().strip():
                return int(path.read_text().strip())
            time.sleep(0.05)
        raise RuntimeError(f"no pid in {path}")


def _stop_pid(pid: int, grace: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (munged forks itself): look whether it is still there
            finished = 0 if _alive(pid) else pid
        if finished:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
