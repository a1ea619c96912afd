"""A bound on every process that talks to a remote: how long it may stay silent, and a run that enforces it.

A remote that accepts the connection and never answers must not hang gitexp.
Every process that talks to one (git fetch, push and ls-remote; dvc push and
fetch) is killed once it has written nothing for the network timeout. Those
processes report progress while data moves (git with ``--progress``, DVC with
its progress bars), so a large transfer that keeps moving is never cut short.

The timeout is ``GITEXP_NETWORK_TIMEOUT`` (seconds) when set, else
``git config gitexp.networkTimeout``, else 60 seconds.
"""

from __future__ import annotations

import math
import os
import selectors
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from gitexp.errors import UsageError

TIMEOUT_ENV = "GITEXP_NETWORK_TIMEOUT"
TIMEOUT_CONFIG = "gitexp.networkTimeout"
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 24 * 3600.0


def parse_timeout(text: str, source: str) -> float:
    """Seconds from the text of ``source`` (the variable or config key that holds it); refuses anything else."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT:  # NaN fails too
        raise UsageError(
            f"{source}={text!r} is not a network timeout: give seconds above 0 and at most {MAX_TIMEOUT:g}, such as 60"
        )
    return seconds


def http_low_speed(seconds: float) -> list[str]:
    """git options that end an http(s) transfer slower than 1 byte a second for ``seconds``."""
    return ["-c", "http.lowSpeedLimit=1", "-c", f"http.lowSpeedTime={math.ceil(seconds)}"]


def run_watched(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], silence: float, pass_fds: Sequence[int] = ()
) -> subprocess.CompletedProcess | None:
    """Run ``argv`` with its output captured; None when it wrote nothing for ``silence`` seconds and was killed."""
    with subprocess.Popen(
        argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        pass_fds=pass_fds,
    ) as proc:
        try:
            out, err = _read_until_quiet(proc, silence)
        except BaseException:
            proc.kill()
            raise
        if out is None:
            proc.kill()  # its children (a remote helper, ssh) end when their pipes to it close
            return None
        return subprocess.CompletedProcess(argv, proc.wait(), out, err)


def _read_until_quiet(proc: subprocess.Popen, silence: float) -> tuple[bytes | None, bytes]:
    """Both output streams until they close; ``(None, ...)`` once neither said anything for ``silence`` seconds."""
    chunks: dict[object, list[bytes]] = {proc.stdout: [], proc.stderr: []}
    with selectors.DefaultSelector() as selector:
        for stream in chunks:
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            ready = selector.select(silence)
            if not ready:
                return None, b"".join(chunks[proc.stderr])
            for key, _ in ready:
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fileobj].append(data)
                else:
                    selector.unregister(key.fileobj)
    return b"".join(chunks[proc.stdout]), b"".join(chunks[proc.stderr])
