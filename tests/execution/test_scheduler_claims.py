"""Claims made inside a Slurm task say which: its node, job id and array task, read back by status."""

from __future__ import annotations

from gitexp.execution.claims import Claims, Runner, scheduler_facts
from gitexp.review.status import scheduler_job
from gitexp.store.claim_records import read_claim
from gitexp.store.git import RefRecord
from gitexp.store.refstore import LocalRefs

SLURM_TASK = {"SLURM_JOB_ID": "107", "SLURM_ARRAY_JOB_ID": "100", "SLURM_ARRAY_TASK_ID": "7", "SLURMD_NODENAME": "gpu-3"}


def test_a_slurm_task_names_itself_and_other_processes_do_not():
    assert dict(scheduler_facts(SLURM_TASK)) == {"Gitexp-Node": "gpu-3", "Gitexp-Slurm-Job": "107", "Gitexp-Slurm-Array": "100_7"}
    assert scheduler_facts({"SLURM_JOB_ID": "12"}) == (("Gitexp-Slurm-Job", "12"),)  # a plain job, not an array
    assert scheduler_facts({}) == ()


def test_the_claim_carries_the_task_and_status_reads_it(project):
    runner = Runner(worker="slurm-100_7.0", clone="c", job=scheduler_facts(SLURM_TASK))
    claim = Claims(project, LocalRefs(project), runner)._new("s/t001")
    read = read_claim(RefRecord(claim.ref, claim.oid, project.run("cat-file", "commit", claim.oid).split("\n\n", 1)[1]))
    assert read.slurm_array == "100_7" and read.worker == "slurm-100_7.0"
    assert scheduler_job(read) == {"node": "gpu-3", "slurm_job": "107", "slurm_array": "100_7"}
    plain = Claims(project, LocalRefs(project), Runner(worker="w", clone="c", job=()))._new("s/t002")
    assert scheduler_job(read_claim(RefRecord(plain.ref, plain.oid, project.run("cat-file", "commit", plain.oid).split("\n\n", 1)[1]))) is None
