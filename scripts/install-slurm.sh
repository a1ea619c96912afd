#!/usr/bin/env bash
# Installs the Debian packages of a single-node Slurm cluster for the Slurm tests and
# benchmark (tests/slurm_cluster.py starts it). Idempotent; does nothing when installed.
# The packages' postinst scripts must not start services (no systemd here), so a
# policy-rc.d that refuses every start is in place while apt runs.
set -euo pipefail
packages=(slurmctld slurmd slurm-client munge)
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
    && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-slurm: run as root to install ${packages[*]}" >&2
    exit 1
fi
policy=/usr/sbin/policy-rc.d
existing_policy=0
[ -e "$policy" ] && existing_policy=1
if [ "$existing_policy" = 0 ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=300 -qq "$@"; }
apt_get install -y --no-install-recommends "${packages[@]}" >/dev/null \
    || { apt_get update >/dev/null && apt_get install -y --no-install-recommends "${packages[@]}" >/dev/null; }
