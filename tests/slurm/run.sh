#!/usr/bin/env bash
# The study on a real SLURM: a single-node cluster on localhost, brought up by hand, runs
# the smoke study through workflow/profiles/slurm; its tables must match a local run's.
# Then a cell made to fail (time limit 1 µs) must become a `timeout` row there as locally.
#
#   sudo bash tests/slurm/run.sh        (root, Debian-like; .ci/run calls it after the unit tests)
#
# Installs slurm-wlm and munge with apt if missing, and the `slurm` extra if the plugin is
# missing. Its munged, slurmctld and slurmd use a private key, socket, ports and state
# directory, so a munge or SLURM already on the host (e.g. started by apt) is left alone.
# Every daemon it starts is stopped by PID on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SMOKE_TIMEOUT_S=${SMOKE_TIMEOUT_S:-1500}   # each run wrapped in `timeout -k`: a hung run cannot hang CI

[ "$(id -u)" = 0 ] || { echo "tests/slurm/run.sh: needs root (it starts slurmctld, slurmd, munged)" >&2; exit 2; }
started=$SECONDS
elapsed() { echo "$((SECONDS - started)) s"; }

# --- install --------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "== installing slurm-wlm and munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
if ! python -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
    echo "== installing the slurm extra (snakemake-executor-plugin-slurm)"
    python -m pip install --quiet -e ".[slurm]"
fi
echo "== $(slurmctld -V), plugin $(python -c 'from importlib.metadata import version; print(version("snakemake-executor-plugin-slurm"))')"

# --- daemons, stopped by PID on exit --------------------------------------------------
WORK=$(mktemp -d /tmp/bptt-slurm.XXXXXX)
chmod 755 "$WORK"   # munged wants its socket's directories searchable by all
mkdir -p "$WORK"/{etc,state,spool,log,munge-run,munge-key}
chmod 700 "$WORK/munge-key"
PIDS=()             # in start order: munged, slurmctld, slurmd
STEPDS_BEFORE=" $(pgrep -x slurmstepd | tr '\n' ' ' || true) "
export SLURM_CONF=$WORK/etc/slurm.conf
SYSTEM_CONF=/etc/slurm/slurm.conf
ok=0

stop_all() {
    set +e
    if [ ${#PIDS[@]} -ge 2 ]; then
        scancel --quiet --user "$(id -un)" 2>/dev/null   # our private cluster: every job is ours
        for _ in $(seq 20); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
    fi
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for pid in $(pgrep -x slurmstepd); do   # step daemons of our jobs outlive slurmd
        [[ $STEPDS_BEFORE == *" $pid "* ]] || kill -9 "$pid" 2>/dev/null
    done
    [ "$(readlink "$SYSTEM_CONF")" = "$SLURM_CONF" ] && rm -f "$SYSTEM_CONF"
    left=""
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && left+=" $pid"; done
    if [ -n "$left" ]; then echo "!! daemons still running:$left" >&2; else echo "== stopped munged, slurmctld, slurmd (PIDs ${PIDS[*]:-none})"; fi
    if [ $ok = 1 ]; then
        rm -rf "$WORK"
    else
        echo "!! failed after $(elapsed); logs kept in $WORK" >&2
        tail -n 20 "$WORK"/log/*.log 2>/dev/null >&2
    fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

echo "== bringing up munged, slurmctld, slurmd in $WORK"
(mungekey -c -k "$WORK/munge-key/munge.key" 2>/dev/null) || head -c 1024 /dev/urandom > "$WORK/munge-key/munge.key"
chmod 600 "$WORK/munge-key/munge.key"
munged --foreground --socket="$WORK/munge-run/munge.sock" --key-file="$WORK/munge-key/munge.key" \
    --log-file="$WORK/log/munged.log" --pid-file="$WORK/munge-run/munged.pid" \
    --seed-file="$WORK/munge-key/munged.seed" 2>>"$WORK/log/munged.log" &
PIDS+=($!)
for _ in $(seq 20); do [ -S "$WORK/munge-run/munge.sock" ] && break; sleep 0.25; done

node=$(hostname -s)
memory_mb=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
cat > "$SLURM_CONF" <<EOF
ClusterName=bpttsmoke
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/munge-run/munge.sock
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/state/slurmctld.pid
SlurmdPidFile=$WORK/state/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# squeue as the status command sees a finished job for MinJobAge s: >= 3 x the first check (2 s)
MinJobAge=300
ReturnToService=2
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$((memory_mb * 9 / 10)) State=UNKNOWN
PartitionName=smoke Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
# The plugin's job step runs `srun` with SLURM_* variables removed, SLURM_CONF too: srun finds
# the cluster at the default path. Linked there for this run only, never over a host's own SLURM.
if [ -e "$SYSTEM_CONF" ] || [ -L "$SYSTEM_CONF" ]; then
    case "$(readlink "$SYSTEM_CONF")" in
        /tmp/bptt-slurm.*) rm -f "$SYSTEM_CONF" ;;   # left by a run of this script that was killed
        *) echo "!! $SYSTEM_CONF exists: this host has a SLURM of its own; run this test elsewhere" >&2; exit 1 ;;
    esac
fi
mkdir -p "$(dirname "$SYSTEM_CONF")"
ln -s "$SLURM_CONF" "$SYSTEM_CONF"
slurmctld -D -f "$SLURM_CONF" 2>>"$WORK/log/slurmctld.log" &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" 2>>"$WORK/log/slurmd.log" &
PIDS+=($!)
for _ in $(seq 60); do [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break; sleep 0.5; done
[ "$(sinfo -h -o %T 2>/dev/null)" = idle ] || { echo "!! node not idle: $(sinfo 2>&1)" >&2; exit 1; }
sinfo
echo "== cluster up after $(elapsed)"

# --- the runs ---------------------------------------------------------------------------
SNAKEMAKE=(python -m snakemake -s "$ROOT/Snakefile")
run() {  # run NAME TIMEOUT_S ARGS...: one Snakemake run into $WORK/NAME, its output in $WORK/NAME.log
    local name=$1 limit=$2 t0=$SECONDS status=0
    shift 2
    timeout -k 30 "$limit" "${SNAKEMAKE[@]}" --directory "$WORK/$name" "$@" >"$WORK/$name.log" 2>&1 || status=$?
    if [ $status != 0 ]; then
        tail -n 40 "$WORK/$name.log" >&2
        [ $status = 124 ] && echo "!! $name: timed out after $limit s" >&2 || echo "!! $name: snakemake exited $status" >&2
        exit 1
    fi
    echo "== $name: $((SECONDS - t0)) s"
}
LOCAL=(--workflow-profile "$ROOT/workflow/profiles/default" --cores 8)
CLUSTER=(--workflow-profile "$ROOT/workflow/profiles/slurm" --slurm-keep-successful-logs)

run local "$SMOKE_TIMEOUT_S" "${LOCAL[@]}" --configfile config/smoke.yaml
run slurm "$SMOKE_TIMEOUT_S" "${CLUSTER[@]}" --configfile config/smoke.yaml

# A cell made to fail: the time limit of every cell 1 µs, so each warm-up overruns it.
python - "$WORK/fault.yaml" <<'EOF'
import sys, yaml
config = yaml.safe_load(open("config/smoke.yaml"))
config["benchmark"].update(time_limit_s=1e-6, grids=[{"name": "fault", "impls": ["numpy"], "T": [32], "truncations": [[8, 8]]}])
yaml.safe_dump(config, open(sys.argv[1], "w"))
EOF
run local_fault 600 results/tables/benchmarks.csv "${LOCAL[@]}" --configfile "$WORK/fault.yaml"
run slurm_fault 600 results/tables/benchmarks.csv "${CLUSTER[@]}" --configfile "$WORK/fault.yaml"

python tests/slurm/compare.py "$WORK" "$node"
ok=1
echo "== SLURM smoke test passed in $(elapsed)"
