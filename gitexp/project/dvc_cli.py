"""Calling DVC and a stage's own tools as separate processes.

DVC runs as ``<this python> -m dvc`` and stage commands find this Python's
scripts first on PATH, so a gitexp installed in a virtualenv runs the DVC and
the libraries of that same virtualenv, activated or not.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping


def dvc_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def tool_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with this interpreter's bin directory first on PATH and DVC's telemetry off."""
    bin_dir = os.path.dirname(sys.executable)
    path = env.get("PATH", "")
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{path}" if path else bin_dir, "DVC_NO_ANALYTICS": "1"}
