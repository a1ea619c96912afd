"""The session's Slurm cluster (tests/slurm_cluster.py), started once and stopped by pid at the end."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A real single-node Slurm cluster; skipped only outside CI when its Debian packages are absent
    (``make test`` installs them with scripts/install-slurm.sh)."""
    from tests.slurm_cluster import SlurmCluster, missing_programs

    missing = missing_programs()
    reason = f"Slurm is not installed ({', '.join(missing)} missing): sudo scripts/install-slurm.sh installs it"
    if not missing and os.geteuid() != 0:
        missing, reason = ["root"], "the Slurm daemons of the test cluster run as root"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
