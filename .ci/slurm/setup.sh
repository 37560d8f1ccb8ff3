#!/usr/bin/env bash
# A single-node SLURM cluster with accounting (munge, MariaDB, slurmdbd, slurmctld, slurmd),
# from Debian's packages and started without systemd; for the SLURM tests (tests/test_slurm.py).
# Idempotent: installs what is missing, starts what does not run, and waits until the node
# takes jobs. Run as root:  .ci/slurm/setup.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state=/var/lib/slurm-workbench
host="$(hostname -s)"

packages=()
command -v sbatch >/dev/null 2>&1 || packages+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || packages+=(munge)
command -v slurmdbd >/dev/null 2>&1 || packages+=(slurmdbd)
command -v mariadbd >/dev/null 2>&1 || packages+=(mariadb-server)
if [ ${#packages[@]} -gt 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

mkdir -p "$state/ctld" "$state/d" /etc/slurm /run/munge /var/log/munge /run/mysqld
chown munge:munge /run/munge /var/log/munge
chown mysql:mysql /run/mysqld
# At least 4 CPUs, also on a 2-core machine: the SLURM tests run a few light jobs side by side
# (one of them mostly sleeps through a time limit); slurm.conf lets the node claim them.
cpus="$(( $(nproc) > 4 ? $(nproc) : 4 ))"
# Leave 1 GB to the system.
memory="$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))"
fill() {
    sed -e "s|@HOST@|$host|g" -e "s|@STATE@|$state|g" -e "s|@CPUS@|$cpus|g" \
        -e "s|@MEMORY@|$memory|g" "$1"
}
running() { pgrep -x "$1" >/dev/null 2>&1; }
# Daemons already running are restarted where the configuration changed (some changes, such
# as a node's CPUs, need a restart, not `scontrol reconfigure`).
if ! fill "$here/slurm.conf.in" | cmp -s - /etc/slurm/slurm.conf; then
    fill "$here/slurm.conf.in" > /etc/slurm/slurm.conf
    for daemon in slurmd slurmctld; do
        if running "$daemon"; then
            pkill -x "$daemon"
            for _ in $(seq 30); do running "$daemon" || break; sleep 1; done
        fi
    done
fi
fill "$here/slurmdbd.conf.in" > /etc/slurm/slurmdbd.conf
chmod 600 /etc/slurm/slurmdbd.conf
cp "$here/cgroup.conf" /etc/slurm/cgroup.conf
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2; shift 2
    for _ in $(seq "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
    echo "slurm setup: $what did not come up in $seconds s" >&2
    return 1
}

running munged || runuser -u munge -- /usr/sbin/munged
wait_for 20 munge munge -n
if ! running mariadbd; then
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
    (runuser -u mysql -- /usr/sbin/mariadbd >/var/log/mariadb-workbench.log 2>&1 &)
fi
wait_for 60 MariaDB mariadb -e "select 1"
running slurmdbd || /usr/sbin/slurmdbd
wait_for 60 slurmdbd sacctmgr -n list cluster
sacctmgr -n list cluster format=cluster | grep -qw workbench || sacctmgr -i add cluster workbench >/dev/null
running slurmctld || /usr/sbin/slurmctld
wait_for 60 slurmctld scontrol ping
running slurmd || /usr/sbin/slurmd
wait_for 60 "the node" bash -c "sinfo -h -N -o %t | grep -Eq '^(idle|mix|alloc)'"
echo "slurm: node $host with $cpus CPUs and $memory MB, partition debug, accounting on"
