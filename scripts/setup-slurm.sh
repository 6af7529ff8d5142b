#!/usr/bin/env bash
# Starts a single-node Slurm cluster on this machine, for the cluster test (npm run test:cluster):
# installs Debian's slurm-wlm and munge when missing, then runs munged, slurmctld and slurmd as
# plain background daemons (no systemd: CI's machine has none running) with their own key,
# config, sockets, state and logs under one directory, so nothing in /etc is touched and a real
# Slurm on the machine is left alone. Waits until sinfo shows the node idle.
#
#   bash scripts/setup-slurm.sh          start (or keep) the cluster; prints the SLURM_CONF to export
#   bash scripts/setup-slurm.sh --stop   stop the daemons this script started
#
# Idempotent: a second start with the cluster already up and configured the same keeps it.
# PAGESIM_SLURM_DIR (default /var/tmp/pagesim-slurm) is where everything lives;
# PAGESIM_SLURM_TIMEOUT (seconds, default 60) bounds the wait for the node.
set -euo pipefail
dir="${PAGESIM_SLURM_DIR:-/var/tmp/pagesim-slurm}"
timeout_s="${PAGESIM_SLURM_TIMEOUT:-60}"
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"
daemons=(slurmd slurmctld munged)

# The pid in DIR/NAME.pid, if that process is alive and is NAME (not a recycled pid).
running_pid() {
  local pidfile="$dir/$1.pid" pid
  [ -s "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$1" ] && echo "$pid"
}

stop_daemons() {
  local name pid i
  for name in "${daemons[@]}"; do
    if pid="$(running_pid "$name")"; then
      kill "$pid" 2>/dev/null || true
      for i in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
      if [ -d "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
      echo "setup-slurm: stopped $name ($pid)"
    fi
    rm -f "$dir/$name.pid"
  done
}

show_logs() {
  local log
  for log in "$dir"/log/*.log; do
    [ -f "$log" ] || continue
    echo "----- $log (last 40 lines)" >&2
    tail -n 40 "$log" >&2
  done
}

if [ "${1:-}" = "--stop" ]; then
  stop_daemons
  exit 0
fi
[ $# -eq 0 ] || { echo "setup-slurm: unknown argument $1 (expected nothing or --stop)" >&2; exit 2; }

# Install, like scripts/setup-debian.sh: only what is missing.
need=()
command -v munged >/dev/null || need+=(munge)
{ command -v slurmctld && command -v slurmd && command -v sbatch; } >/dev/null || need+=(slurm-wlm)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup-slurm: installing ${need[*]}"
  $SUDO apt-get update -qq
  # Debian's postinst may try to start the packaged services; this script runs its own instead.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ "$(id -u)" -eq 0 ] || { echo "setup-slurm: must run as root (slurmd runs jobs as their user)" >&2; exit 1; }

mkdir -p "$dir"/{log,state,spool,munge,run}
# munged insists: its key's directory private, its socket's directory open to all.
chmod 0700 "$dir/munge"
chmod 0755 "$dir" "$dir/run"
host="$(hostname -s)"
# slurmd -C reports this machine's CPUs, layout and memory exactly as slurmd will register them,
# so the node is never drained for a config that overstates it.
node_line="$(slurmd -C | head -n 1)"
case "$node_line" in NodeName=*) ;; *) echo "setup-slurm: slurmd -C printed no NodeName line: $node_line" >&2; exit 1;; esac
new_conf="$(cat <<EOF
# Written by pagesim's scripts/setup-slurm.sh: a single-node test cluster, no cgroups, no accounting.
ClusterName=pagesim
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/run/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=${PAGESIM_SLURMCTLD_PORT:-6817}
SlurmdPort=${PAGESIM_SLURMD_PORT:-6818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
$node_line NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
)"

all_running() {
  local name
  for name in "${daemons[@]}"; do running_pid "$name" >/dev/null || return 1; done
}

if all_running && [ -f "$conf" ] && [ "$(cat "$conf")" = "$new_conf" ]; then
  echo "setup-slurm: already running ($conf)"
else
  stop_daemons
  printf '%s\n' "$new_conf" > "$conf"
  [ -s "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key"
  chmod 0600 "$dir/munge/munge.key"
  munged --key-file="$dir/munge/munge.key" --socket="$dir/run/munge.socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
    || { echo "setup-slurm: munged did not start" >&2; show_logs; exit 1; }
  # -c: a fresh start forgets jobs of an earlier cluster in this directory.
  slurmctld -c || { echo "setup-slurm: slurmctld did not start" >&2; show_logs; stop_daemons; exit 1; }
  slurmd || { echo "setup-slurm: slurmd did not start" >&2; show_logs; stop_daemons; exit 1; }
fi

deadline=$((SECONDS + timeout_s))
state=""
while [ $SECONDS -lt $deadline ]; do
  state="$(sinfo --noheader --Node --nodes="$host" --format=%t 2>/dev/null | head -n 1 || true)"
  [ "$state" = "idle" ] && { echo "setup-slurm: node $host idle; export SLURM_CONF=$conf"; exit 0; }
  sleep 0.5
done
echo "setup-slurm: node $host not idle after ${timeout_s}s (sinfo says '${state:-nothing}'); daemons' logs follow" >&2
sinfo --Node --long >&2 || true
show_logs
stop_daemons >&2
exit 1
