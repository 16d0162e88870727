#!/usr/bin/env bash
# A single-node SLURM cluster (slurmctld + slurmd on this machine) for CI.
#
#   .ci/slurm-local.sh up       install slurm-wlm + munge if missing, write
#                               slurm.conf, start munged, slurmctld, slurmd,
#                               wait until the node is idle
#   .ci/slurm-local.sh down     stop every daemon this script started, by pid
#   .ci/slurm-local.sh status   exit 0 if the cluster answers and the node is up
#   .ci/slurm-local.sh kill-leftovers JOBID...
#                               kill processes that outlived these (cancelled)
#                               jobs: without cgroups SLURM can lose track of
#                               a job's re-parented processes
#
# Written for Debian 12 as root without systemd (the CI machines): the Debian
# packages start no daemon themselves, so this script starts each one, makes
# it write a pid file under $STATE, and `down` stops exactly those pids.
# No slurmdbd: accounting is off, so `sacct` has no records. The project's
# SLURM profile therefore polls job states with `squeue`, which works as long
# as MinJobAge (how long slurmctld keeps finished jobs) is at least 3x the
# plugin's first status-check delay; MinJobAge is set to 600 s below.
#
# Exit codes: 0 ok; 2 SLURM cannot be installed or started here (the message
# says why; the pytest fixture turns this into a skip); 1 other errors.
set -euo pipefail

STATE=${OTI_SLURM_STATE:-/run/oti-slurm}        # pid files, lock, our marker
LOGDIR=${OTI_SLURM_LOGDIR:-/var/log/slurm}      # slurmctld.log, slurmd.log
CONF=/etc/slurm/slurm.conf
MARK="# written by oti .ci/slurm-local.sh"

say() { echo "slurm-local: $*" >&2; }
unavailable() { say "UNAVAILABLE: $*"; exit 2; }

wait_for() {  # wait_for SECONDS CMD...: poll CMD once a second until it succeeds
  local n=$1; shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}

node_idle() { [ -n "$(sinfo -h -N -t idle,mixed,allocated -o %N 2>/dev/null)" ]; }

alive() {  # alive NAME: the daemon whose pid file is $STATE/NAME.pid is running
  local pf=$STATE/$1.pid
  [ -s "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
     && command -v munged >/dev/null && command -v sbatch >/dev/null; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || unavailable "slurm-wlm is not installed and this is not root (cannot apt-get install)"
  command -v apt-get >/dev/null || unavailable "slurm-wlm is not installed and there is no apt-get"
  say "installing slurm-wlm munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || unavailable "apt-get update failed (no network to the package mirror?)"
    apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 \
      || unavailable "apt-get install slurm-wlm munge failed"
  fi
}

write_conf() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  # leave 10 % of the memory to the OS and the daemons
  mem=$(( $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) * 9 / 10 ))
  if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    unavailable "$CONF exists and was not written by this script: not touching a real site's SLURM"
  fi
  install -d /etc/slurm
  install -d -o slurm -g slurm "$STATE/slurmctld" "$LOGDIR"
  install -d "$STATE/slurmd"
  cat > "$CONF" <<EOF
$MARK
ClusterName=oti-ci
SlurmctldHost=$host
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
# no cgroups on the CI machines: track processes through /proc
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# hand out single cores and memory, so several 1-CPU jobs share the node
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
# no slurmdbd: no accounting; finished jobs stay visible to squeue 600 s
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=600
# answer fast (CI): short scheduler and node-response intervals
SchedulerParameters=sched_interval=5
SlurmdTimeout=60
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

up() {
  local t0=$SECONDS
  install -d "$STATE"
  exec 9>"$STATE/lock"
  flock 9   # two pytest sessions starting at once: the second waits, then reuses
  if alive slurmctld && alive slurmd && node_idle; then
    say "already running (pids $(cat "$STATE/slurmctld.pid") $(cat "$STATE/slurmd.pid"))"
    return 0
  fi
  if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF" && timeout 20 sinfo -h >/dev/null 2>&1; then
    # a cluster that this script did not start answers: use it, never stop it
    node_idle || unavailable "a SLURM cluster not started by this script answers, but has no usable node"
    say "using a SLURM cluster that was already running (not started here)"
    return 0
  fi
  install_packages
  local t_inst=$SECONDS

  # munge: the package generates /etc/munge/munge.key; make one if it did not
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey -c -k /etc/munge/munge.key || unavailable "cannot create a munge key"
    chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/log/munge /var/lib/munge
  if sh -c 'munge -n | unmunge' >/dev/null 2>&1; then
    say "munged already running: using it"
  else
    su -s /bin/sh munge -c "/usr/sbin/munged --force" 9>&- </dev/null >/dev/null 2>&1 || unavailable "munged does not start"
    wait_for 20 sh -c 'munge -n | unmunge' || unavailable "munge does not answer"
    cp /run/munge/munged.pid "$STATE/munged.pid"   # ours: `down` stops it
  fi

  write_conf
  # stale state of an earlier run (other host name, half-finished jobs)
  rm -rf "${STATE:?}/slurmctld/"* "${STATE:?}/slurmd/"*
  /usr/sbin/slurmctld 9>&- </dev/null >/dev/null 2>&1 || unavailable "slurmctld does not start (see $LOGDIR/slurmctld.log)"
  wait_for 30 scontrol ping || unavailable "slurmctld does not answer (see $LOGDIR/slurmctld.log)"
  /usr/sbin/slurmd 9>&- </dev/null >/dev/null 2>&1 || unavailable "slurmd does not start (see $LOGDIR/slurmd.log)"
  if ! wait_for 60 node_idle; then
    sinfo -N -l >&2 || true
    unavailable "the node did not become idle in 60 s (see $LOGDIR/slurmd.log)"
  fi
  # the node accepts and runs a job
  timeout 60 srun -N1 -n1 -t 1 true 9>&- </dev/null || unavailable "srun on the new cluster failed"
  sinfo >&2
  say "up in $((SECONDS - t0)) s (packages $((t_inst - t0)) s, daemons $((SECONDS - t_inst)) s)"
}

kill_job_leftovers() {  # kill_job_leftovers JOBID...: processes of these jobs of
  # this cluster that survived their job (no cgroups here: proctrack/linuxproc
  # loses processes re-parented to init), found by SLURM_JOB_ID in their env
  [ $# -gt 0 ] || return 0
  local e pid env id left=""
  for e in /proc/[0-9]*/environ; do
    pid=${e#/proc/}; pid=${pid%/environ}
    env=$(tr '\0' '\n' < "$e" 2>/dev/null) || continue
    grep -qx 'SLURM_CLUSTER_NAME=oti-ci' <<<"$env" || continue
    for id in "$@"; do
      if grep -qx "SLURM_JOB_ID=$id" <<<"$env"; then left="$left $pid"; break; fi
    done
  done
  [ -n "$left" ] || return 0
  say "killing processes left over by finished jobs:$left"
  kill -TERM $left 2>/dev/null || true
  sleep 2
  kill -KILL $left 2>/dev/null || true
}

down() {
  install -d "$STATE"
  exec 9>"$STATE/lock"
  flock 9
  local name pf pid
  # jobs still running would outlive slurmd (their slurmstepd): cancel them
  local ids=""
  if alive slurmctld; then
    ids=$(squeue -h -t all -o %i 2>/dev/null | tr '\n' ' ' || true)
    scancel --full --quiet "--user=$(id -un)" 2>/dev/null || true
    wait_for 15 sh -c '[ -z "$(squeue -h -t running,completing -o %i)" ]' || true
  fi
  kill_job_leftovers $ids
  for name in slurmd slurmctld munged; do
    pf=$STATE/$name.pid
    [ -s "$pf" ] || { rm -f "$pf"; continue; }
    pid=$(cat "$pf")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      if kill -0 "$pid" 2>/dev/null; then
        say "$name ($pid) ignored SIGTERM for 10 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      say "stopped $name ($pid)"
    fi
    rm -f "$pf"
  done
}

status() {
  alive slurmctld && alive slurmd && node_idle && sinfo
}

case "${1:-}" in
  up|down|status) "$1" ;;
  kill-leftovers) shift; kill_job_leftovers "$@" ;;
  *) echo "usage: $0 up|down|status|kill-leftovers JOBID..." >&2; exit 1 ;;
esac
