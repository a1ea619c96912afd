"""Launchers: gitexp workers handed to a scheduler (Slurm, Kubernetes), one module each, looked up by name.

A new launcher is one module with a ``Launcher`` subclass (see ``base.py``) and one line here.
Modules are imported on demand, as strategies are.
"""

from __future__ import annotations

import importlib

from gitexp.launchers.base import Launcher

LAUNCHERS = {
    "k8s": ("kubernetes", "KubernetesLauncher"),
    "slurm": ("slurm", "SlurmLauncher"),
}


def launcher_for(name: str) -> Launcher:
    """The launcher registered as ``name`` (a programming error when there is none: names come from the CLI)."""
    module_name, class_name = LAUNCHERS[name]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)()


def all_launchers() -> list[Launcher]:
    return [launcher_for(name) for name in LAUNCHERS]
