"""Claims as they are recorded in Git: ``refs/gitexp/claims/<sweep>/<trial>``, one commit whose trailers say who holds the trial.

The protocol that takes, beats and drops claims is ``execution.claims``;
readers (``status``, ``show``, ``pull``) need only this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gitexp.store.git import RefRecord
from gitexp.store.naming import CLAIMS_NAMESPACE
from gitexp.store.records import T_HOST, parse_trailers

T_WORKER, T_PID, T_CLONE, T_HEARTBEAT, T_NONCE = (
    "Gitexp-Worker",
    "Gitexp-Pid",
    "Gitexp-Clone",
    "Gitexp-Heartbeat",
    "Gitexp-Nonce",
)
# Where a scheduler's job holds the claim: the node and Slurm's job ids (the array's and this task's).
T_NODE, T_SLURM_JOB, T_SLURM_ARRAY = "Gitexp-Node", "Gitexp-Slurm-Job", "Gitexp-Slurm-Array"
SCHEDULER_TRAILERS = (T_NODE, T_SLURM_JOB, T_SLURM_ARRAY)
T_STEPS = "Gitexp-Steps"  # a heartbeat's latest dvclive steps of the metric the sweep's pruner steers by
DEFAULT_STALE_AFTER = 600.0  # seconds without a heartbeat after which a claim may be taken over


def claim_ref(key: str) -> str:
    """The claim ref of trial ``sweep/trial``."""
    return f"{CLAIMS_NAMESPACE}{key}"


@dataclass(frozen=True)
class Claim:
    ref: str
    oid: str
    worker: str = ""
    host: str = ""
    clone: str = ""
    pid: int | None = None
    heartbeat: float = 0.0  # seconds since the epoch; 0 when unreadable, so the claim counts as stale
    job: tuple[tuple[str, str], ...] = ()  # the scheduler's facts (SCHEDULER_TRAILERS present in the claim)
    steps: str = ""  # the running trial's pruned-by metric so far, as the heartbeat carried it (JSON; "" without a pruner)

    @property
    def slurm_array(self) -> str:
        """``ARRAYJOB_TASK`` of the Slurm array task that holds it; "" when no Slurm job does."""
        return dict(self.job).get(T_SLURM_ARRAY, "")

    @property
    def key(self) -> str:
        return self.ref[len(CLAIMS_NAMESPACE) :]


def read_claim(record: RefRecord) -> Claim:
    trailers = parse_trailers(record.message)
    try:
        heartbeat = datetime.fromisoformat(trailers.get(T_HEARTBEAT, "")).timestamp()
    except ValueError:
        heartbeat = 0.0
    pid = trailers.get(T_PID, "")
    return Claim(
        record.name,
        record.oid,
        worker=trailers.get(T_WORKER, ""),
        host=trailers.get(T_HOST, ""),
        clone=trailers.get(T_CLONE, ""),
        pid=int(pid) if pid.isdigit() else None,
        heartbeat=heartbeat,
        job=tuple((key, trailers[key]) for key in SCHEDULER_TRAILERS if trailers.get(key)),
        steps=trailers.get(T_STEPS, ""),
    )
