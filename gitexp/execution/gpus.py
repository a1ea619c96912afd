"""GPUs per trial: the GPUs a run may use, cut into groups, one group per running trial.

``--gpus LIST|all|none`` and ``--gpus-per-trial N`` of ``run`` and ``worker``.
Each executor thread leases a group for the trial it runs and gives it back
when the trial ends; there are never more threads than groups, so no two
running trials share a GPU. A trial sees only its group, through the variables
CUDA, the NVIDIA container runtime and ROCm read. ``none`` hides every GPU.

``all`` (and the check that a listed GPU exists) reads what this process may
use: the variables a scheduler sets (``CUDA_VISIBLE_DEVICES``, Slurm's
``SLURM_STEP_GPUS`` and ``SLURM_JOB_GPUS``), else ``nvidia-smi -L``. Names are
those the variables or nvidia-smi use (indices, ``GPU-…`` UUIDs, ``MIG-…``).
"""

from __future__ import annotations

import queue
import re
import subprocess
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from gitexp.errors import UsageError

VISIBLE_DEVICES = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES")
SCHEDULER_VARIABLES = ("CUDA_VISIBLE_DEVICES", "SLURM_STEP_GPUS", "SLURM_JOB_GPUS")
GPU_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._/-]*\Z")
NVIDIA_SMI_LINE = re.compile(r"GPU (\d+):")
NVIDIA_SMI_TIMEOUT = 10.0
NO_DEVICES = ("", "NoDevFiles", "none", "void")  # what a scheduler writes for "no GPU"


@dataclass(frozen=True)
class GpuPlan:
    """The GPU groups of a run: each a tuple of GPU names. No groups: every GPU hidden from trials."""

    groups: tuple[tuple[str, ...], ...]

    def env(self, group: tuple[str, ...]) -> dict[str, str]:
        devices = ",".join(group)
        return {name: devices for name in VISIBLE_DEVICES}


def plan_gpus(choice: str | None, per_trial: int | None, env: Mapping[str, str]) -> GpuPlan | None:
    """The groups ``--gpus`` and ``--gpus-per-trial`` ask for; None when GPUs are left as they are (no --gpus)."""
    if choice is None:
        if per_trial is not None:
            raise UsageError("--gpus-per-trial goes with --gpus: add --gpus all (or a list such as --gpus 0,1)")
        return None
    if per_trial is not None and per_trial < 1:
        raise UsageError(f"--gpus-per-trial {per_trial}: give 1 or more")
    text = choice.strip()
    if text == "none":
        if per_trial is not None:
            raise UsageError("--gpus none hides every GPU: leave out --gpus-per-trial")
        return GpuPlan(())
    known = visible_gpus(env)
    gpus = (known or []) if text == "all" else _listed(text, known)
    if not gpus:
        raise UsageError(
            "--gpus all: found no GPU (nvidia-smi lists none, and CUDA_VISIBLE_DEVICES, SLURM_STEP_GPUS and "
            "SLURM_JOB_GPUS are unset): name them with --gpus 0,1, or leave out --gpus"
        )
    per_trial = per_trial or 1
    if per_trial > len(gpus):
        raise UsageError(
            f"--gpus-per-trial {per_trial} is more than the {len(gpus)} GPU(s) given ({','.join(gpus)}): "
            f"give at most {len(gpus)}, or more GPUs"
        )
    return GpuPlan(tuple(tuple(gpus[i : i + per_trial]) for i in range(0, len(gpus) - per_trial + 1, per_trial)))


def _listed(text: str, known: list[str] | None) -> list[str]:
    """The GPUs of ``--gpus 0,1,...``, each one this process may use when that is known."""
    gpus = [name.strip() for name in text.split(",")]
    for name in gpus:
        if not GPU_NAME.match(name):
            raise UsageError(f"--gpus {text!r}: {name!r} is not a GPU name: give indices or UUIDs separated by commas, all, or none")
    if len(set(gpus)) < len(gpus):
        raise UsageError(f"--gpus {text!r} names a GPU twice: name each once")
    missing = [name for name in gpus if known is not None and name not in known]
    if missing:
        raise UsageError(
            f"--gpus: there is no GPU {missing[0]!r} here (GPUs: {','.join(known or []) or 'none'}): "
            "name GPUs this machine has, or --gpus all"
        )
    return gpus


def visible_gpus(env: Mapping[str, str]) -> list[str] | None:
    """The GPUs this process may use, as a scheduler's variables or nvidia-smi say; None when nothing says."""
    for name in SCHEDULER_VARIABLES:
        value = env.get(name)
        if value is not None:
            value = value.strip()
            return [] if value in NO_DEVICES else [gpu.strip() for gpu in value.split(",") if gpu.strip()]
    return nvidia_smi_gpus()


def nvidia_smi_gpus() -> list[str] | None:
    """The indices ``nvidia-smi -L`` lists; None when there is no nvidia-smi or it does not answer."""
    try:
        listing = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listing.returncode != 0:
        return None
    return [match.group(1) for line in listing.stdout.splitlines() if (match := NVIDIA_SMI_LINE.match(line.strip()))]


class GpuLeases:
    """The groups of a ``GpuPlan`` lent to running trials, one trial per group at a time."""

    def __init__(self, plan: GpuPlan | None):
        self.plan = plan
        self._free: queue.SimpleQueue[tuple[str, ...]] = queue.SimpleQueue()
        for group in plan.groups if plan else ():
            self._free.put(group)

    @contextmanager
    def lease(self):
        """The environment of the trial about to run and its GPUs as a trailer says them (both empty: GPUs as they are)."""
        if self.plan is None:
            yield {}, ""
            return
        if not self.plan.groups:
            yield self.plan.env(()), "none"
            return
        group = self._free.get_nowait()  # never empty: the executor runs at most one trial per group
        try:
            yield self.plan.env(group), ",".join(group)
        finally:
            self._free.put(group)


def default_jobs(jobs: int | None, plan: GpuPlan | None) -> int:
    """``-j``: as given, else one trial per GPU group (1 without GPU groups)."""
    if jobs is not None:
        return jobs
    return len(plan.groups) if plan and plan.groups else 1


def check_jobs(jobs: int, plan: GpuPlan | None) -> None:
    """Refuse more parallel trials than GPU groups: two trials would share a GPU."""
    if plan is None or not plan.groups or jobs <= len(plan.groups):
        return
    shown = " ".join(",".join(group) for group in plan.groups)
    raise UsageError(
        f"-j {jobs} is more than the {len(plan.groups)} GPU group(s) ({shown}), and trials never share a GPU: "
        f"give -j {len(plan.groups)} or less, or fewer --gpus-per-trial"
    )
