#!/usr/bin/env bash
# Cluster benchmark on a 3-host testbed: prints figures, no pass/fail thresholds (beyond sanity).
#
#   sudo bash bench/cluster.sh
#
# Measures, with the release binary (built if missing), on `testbed/testbed up 3`:
#   a. roost leader failover: `testbed kill-agent LEADER`, then poll a survivor's agent until it
#      reports a leader that is not the killed one (BENCH_TRIALS_FAILOVER, default 20). Also a few
#      trials with `testbed cut LEADER` (BENCH_TRIALS_CUT, default 5), the same fault Swarm gets.
#   b. roost commit latency: 50 sequential `roost up` of a pure-state stack (replicas: 0, no
#      containers) against a follower and 50 against the leader, each CLI call timed as a whole
#      (process start, compose parsing, socket call, Raft commit); plus `roost ls` on the same hosts
#      as the CLI baseline (a local read, no Raft commit): commit ≈ up − ls.
#   c. the peer, Docker Swarm, in the same run on the same hosts' dockerds (3 managers): leader
#      failover by `testbed cut LEADER` (BENCH_TRIALS_SWARM, default 5), and `docker config create`
#      (a Raft write in Swarm) on the leader, 20 times, with `docker config ls` as its CLI baseline.
#      If Swarm cannot be set up here, the output says so and that part is skipped.
#
# The fault command runs in the background and polling starts at once (`testbed kill-agent` waits
# until the killed process is reaped, up to ~2 s on a VM whose PID 1 reaps orphans lazily).
# Polling: the roost CLI talks to the agent over its unix socket, a file, so it is called directly
# (no nsenter: the answer comes from the agent, which runs in the host's namespace anyway) and
# back to back; the leader is read from the JSON with a bash regex (no jq per poll). The measured
# poll interval is printed. Swarm: `docker node ls` on a survivor, each call cut at 0.25 s (while
# the old leader is unreachable a follower's API call hangs, forwarded to it).
#
# Bounded: each wait has a deadline; a watchdog aborts (and cleans up) after BENCH_MAX_SECONDS
# (default 420 s); the trap always leaves the swarm on every host and tears the testbed down.
# BENCH_KEEP_LOGS=DIR copies the agent logs and raw figures there before the teardown.
# Refuses to run (exit 2, touching nothing) while another testbed is up: names are machine-wide.
# Output: a table on stdout, also written to bench/results/cluster-latest.txt.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TB="$REPO/testbed/testbed"
export ROOST_BIN=${ROOST_BIN:-$REPO/target/release/roost}
export TESTBED_DIR=${TESTBED_DIR:-/tmp/roost-testbed-bench}
export TESTBED_QUIET=1
RESULTS="$REPO/bench/results/cluster-latest.txt"
TRIALS_FAILOVER=${BENCH_TRIALS_FAILOVER:-20}
TRIALS_CUT=${BENCH_TRIALS_CUT:-5}
TRIALS_COMMIT=${BENCH_TRIALS_COMMIT:-50}
TRIALS_SWARM=${BENCH_TRIALS_SWARM:-5}
TRIALS_SWARM_CFG=${BENCH_TRIALS_SWARM_CFG:-20}
MAX_SECONDS=${BENCH_MAX_SECONDS:-420}
# Swarm trials are skipped once the run has used this much (the teardown still needs time).
SWARM_DEADLINE=${BENCH_SWARM_DEADLINE:-$((MAX_SECONDS - 60))}
IMAGE=roost-test/busybox:latest

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
testbed_preflight

TMP=$(mktemp -d /tmp/roost-bench-cluster.XXXXXX)
WATCHDOG_PID=""
TESTBED_STARTED=0
SWARM_STARTED=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM ERR
  set +e
  stop_job "$WATCHDOG_PID"
  testbed_teardown "$rc" || rc=1
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'log "interrupted"; exit 130' INT TERM
start_watchdog

# --- binary and testbed --------------------------------------------------------------------------
if [ ! -x "$ROOST_BIN" ]; then
  log "building the release binary"
  (cd "$REPO" && cargo build --release -p roost)
fi
log "testbed up 3 ($TESTBED_DIR)"
TESTBED_STARTED=1
timeout 120 "$TB" up 3 >/dev/null

declare -a SOCK DSOCK
for i in 1 2 3; do
  SOCK[$i]=$("$TB" sock "h$i")
  DSOCK[$i]=$("$TB" dsock "h$i")
done
r() { local h=$1; shift; timeout 10 "$ROOST_BIN" --host "${SOCK[$h]}" "$@"; }
dk() { local h=$1; shift; timeout 20 "$DOCKER" -H "${DSOCK[$h]}" "$@"; }

# --- cluster ---------------------------------------------------------------------------------------
TOKEN=$(r 1 token)
r 2 join 10.77.0.11:4280 --token "$TOKEN" >/dev/null 2>&1 || die "h2 could not join"
r 3 join 10.77.0.11:4280 --token "$TOKEN" >/dev/null 2>&1 || die "h3 could not join"

# LEADER_SEEN <- the leader's name as host H's agent sees it ("" if none, "?" if no answer).
# The cheap per-poll parser: a regex over the pretty JSON (checked against jq once, below).
LEADER_RE='"name": "([^"]+)"[^}]*"leader": true'
leader_of() {
  local out
  if ! out=$(timeout 2 "$ROOST_BIN" --host "${SOCK[$1]}" nodes --json 2>/dev/null); then LEADER_SEEN="?"; return; fi
  if [[ $out =~ $LEADER_RE ]]; then LEADER_SEEN=${BASH_REMATCH[1]}; else LEADER_SEEN=""; fi
}

# The cluster is settled when every host sees 3 nodes, 3 reachable, one leader, the same one.
# -> its name on stdout.
cluster_view() { # H -> "nodes reachable leaders"
  r "$1" nodes --json 2>/dev/null |
    jq -r '[length, ([.[] | select(.reachable)] | length), ([.[] | select(.leader) | .name] | join(","))] | @tsv'
}
settled_once() {
  local i n up l first=""
  for i in 1 2 3; do
    read -r n up l < <(cluster_view "$i" || echo "0 0 -") || return 1
    [ "$n" = 3 ] && [ "$up" = 3 ] && [[ $l =~ ^h[1-3]$ ]] || return 1
    [ -z "$first" ] && first=$l
    [ "$l" = "$first" ] || return 1
  done
  echo "$first"
}
wait_settled() { # SECONDS -> leader name; twice in a row, 0.3 s apart
  local deadline=$(( $(elapsed) + $1 )) a b
  while [ "$(elapsed)" -lt "$deadline" ]; do
    if a=$(settled_once); then
      sleep 0.3
      if b=$(settled_once) && [ "$a" = "$b" ]; then echo "$a"; return 0; fi
    fi
    sleep 0.2
  done
  return 1
}

LEADER=$(wait_settled 30) || die "the cluster did not settle (3 nodes, 3 reachable, one leader) within 30 s"
leader_of 2
jq_leader=$(r 2 nodes --json | jq -r '.[] | select(.leader) | .name')
[ "$LEADER_SEEN" = "$jq_leader" ] || die "the poll parser reads leader '$LEADER_SEEN', jq reads '$jq_leader'"
log "cluster formed: 3 voters, leader $LEADER"

# --- percentiles -----------------------------------------------------------------------------------

# --- a. roost failover --------------------------------------------------------------------------------
# One trial: FAULT is kill (kill-agent / start-agent) or cut (cut / heal). Appends the failover
# time to $TMP/fo-FAULT.txt and the polls to $TMP/polls-FAULT.txt ("count µs").
failover_trial() {
  local fault=$1 t=$2 old li s t0 t1="" tk kp polls=0 deadline_us new
  old=$(wait_settled 30) || { log "a. $fault trial $t: cluster not settled before the trial; skipped"; return 1; }
  li=${old#h}
  for s in 1 2 3; do [ "$s" != "$li" ] && break; done
  # The fault runs in the background and polling starts at once: `testbed kill-agent` returns
  # only once the killed process is reaped, which here (the VM's PID 1 reaps orphans) can take
  # up to ~2 s, longer than the failover itself.
  t0=${EPOCHREALTIME/./}
  if [ "$fault" = kill ]; then "$TB" kill-agent "$old" >/dev/null 2>&1 & else "$TB" cut "$old" & fi
  kp=$!
  tk=${EPOCHREALTIME/./}
  deadline_us=$(( t0 + 20000000 ))
  while [ "$polls" -lt 20000 ]; do
    polls=$((polls + 1))
    leader_of "$s"
    new=$LEADER_SEEN
    if [ -n "$new" ] && [ "$new" != "?" ] && [ "$new" != "$old" ]; then t1=${EPOCHREALTIME/./}; break; fi
    [ "${EPOCHREALTIME/./}" -lt "$deadline_us" ] || break
  done
  wait "$kp" || log "a. $fault trial $t: testbed $fault of $old reported a failure"
  if [ "$fault" = kill ]; then echo "$(( ${EPOCHREALTIME/./} - t0 ))" >>"$TMP/killret.txt"; fi
  if [ "$fault" = kill ]; then timeout 30 "$TB" start-agent "$old" >/dev/null; else "$TB" heal "$old"; fi
  if [ -z "$t1" ]; then
    log "a. $fault trial $t: h$s saw no new leader within 20 s ($polls polls)"
    echo "$t $old none" >>"$TMP/fo-$fault-raw.txt"
    return 0
  fi
  secs $((t1 - t0)) >>"$TMP/fo-$fault.txt"
  echo "$polls $((t1 - tk))" >>"$TMP/polls-$fault.txt"
  echo "$t $old->$new $(secs $((t1 - t0)))" >>"$TMP/fo-$fault-raw.txt"
  log "a. $fault trial $t: leader $old -> $new seen by h$s after $(secs $((t1 - t0))) s ($polls polls)"
}

: >"$TMP/fo-kill.txt"; : >"$TMP/fo-cut.txt"; : >"$TMP/fo-kill-raw.txt"; : >"$TMP/fo-cut-raw.txt"
: >"$TMP/polls-kill.txt"; : >"$TMP/polls-cut.txt"; : >"$TMP/killret.txt"
for t in $(seq 1 "$TRIALS_FAILOVER"); do failover_trial kill "$t" || true; done
for t in $(seq 1 "$TRIALS_CUT"); do failover_trial cut "$t" || true; done
poll_ms() { # mean poll interval in ms over all trials of a file "count µs"
  awk '{ n += $1; us += $2 } END { if (n) printf "%.1f", us / n / 1000; else print "n/a" }' "$1"
}
read -r FO_N FO_MIN FO_P50 FO_P95 FO_MAX < <(stats <"$TMP/fo-kill.txt")
read -r FC_N FC_MIN FC_P50 FC_P95 FC_MAX < <(stats <"$TMP/fo-cut.txt")
FO_POLL=$(poll_ms "$TMP/polls-kill.txt")
FC_POLL=$(poll_ms "$TMP/polls-cut.txt")
# When `testbed kill-agent` returned, counted from t0 (s), for the notes.
KILLRET=$(sort -n "$TMP/killret.txt" | awk '{ printf "%s%.2f", sep, $1 / 1e6; sep = " " }')

# --- b. roost commit latency -------------------------------------------------------------------------
LEADER=$(wait_settled 30) || die "the cluster did not settle after the failover trials"
LI=${LEADER#h}
for FI in 1 2 3; do [ "$FI" != "$LI" ] && break; done
for OI in 1 2 3; do [ "$OI" != "$LI" ] && [ "$OI" != "$FI" ] && break; done
cat >"$TMP/pure.yaml" <<EOF
services:
  s:
    image: $IMAGE
    deploy:
      replicas: 0
EOF
timed() { # FILE CMD... : appends the wall time (s) of CMD to FILE; fails if CMD fails
  local a b
  a=${EPOCHREALTIME/./}
  "${@:2}" >/dev/null 2>&1 || return 1
  b=${EPOCHREALTIME/./}
  secs $((b - a)) >>"$1"
}
: >"$TMP/up-f.txt"; : >"$TMP/up-l.txt"; : >"$TMP/ls-f.txt"; : >"$TMP/ls-l.txt"
log "b. $TRIALS_COMMIT x roost up on follower h$FI, then on leader h$LI (each followed by a roost ls)"
for k in $(seq 1 "$TRIALS_COMMIT"); do
  timed "$TMP/up-f.txt" r "$FI" up -f "$TMP/pure.yaml" -p "s$k" || die "roost up -p s$k on h$FI failed"
  timed "$TMP/ls-f.txt" r "$FI" ls || die "roost ls on h$FI failed"
done
for k in $(seq $((TRIALS_COMMIT + 1)) $((2 * TRIALS_COMMIT))); do
  timed "$TMP/up-l.txt" r "$LI" up -f "$TMP/pure.yaml" -p "s$k" || die "roost up -p s$k on h$LI failed"
  timed "$TMP/ls-l.txt" r "$LI" ls || die "roost ls on h$LI failed"
done
# Sanity: the third host has every stack (they went through Raft).
for _ in $(seq 1 50); do
  NSTACKS=$(r "$OI" ls --json | jq '[.[] | select(.name | test("^s[0-9]+$"))] | length')
  [ "$NSTACKS" -ge $((2 * TRIALS_COMMIT)) ] && break
  sleep 0.1
done
[ "$NSTACKS" -ge $((2 * TRIALS_COMMIT)) ] || die "h$OI lists $NSTACKS of $((2 * TRIALS_COMMIT)) stacks"
read -r _ UPF_MIN UPF_P50 UPF_P95 UPF_MAX < <(stats <"$TMP/up-f.txt")
read -r _ UPL_MIN UPL_P50 UPL_P95 UPL_MAX < <(stats <"$TMP/up-l.txt")
read -r _ LSF_MIN LSF_P50 LSF_P95 LSF_MAX < <(stats <"$TMP/ls-f.txt")
read -r _ LSL_MIN LSL_P50 LSL_P95 LSL_MAX < <(stats <"$TMP/ls-l.txt")
sub3() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
COMMIT_F=$(sub3 "$UPF_P50" "$LSF_P50")
COMMIT_L=$(sub3 "$UPL_P50" "$LSL_P50")
log "b. up follower p50 ${UPF_P50}s, up leader p50 ${UPL_P50}s, ls p50 ${LSF_P50}/${LSL_P50}s; h$OI lists all $NSTACKS"

# --- c. Docker Swarm ------------------------------------------------------------------------------------
SWARM_NOTE=""
declare -a NID
: >"$TMP/sw-fo.txt"; : >"$TMP/sw-fo-raw.txt"; : >"$TMP/sw-polls.txt"; : >"$TMP/sw-cfg.txt"; : >"$TMP/sw-cls.txt"

swarm_setup() {
  local mt i
  SWARM_STARTED=1
  dk 1 swarm init --advertise-addr 10.77.0.11 >"$TMP/swarm-init.log" 2>&1 || { SWARM_NOTE="swarm init failed: $(tail -n 1 "$TMP/swarm-init.log")"; return 1; }
  mt=$(dk 1 swarm join-token -q manager 2>/dev/null) || { SWARM_NOTE="no manager join token"; return 1; }
  for i in 2 3; do
    dk "$i" swarm join --token "$mt" --advertise-addr "10.77.0.1$i" 10.77.0.11:2377 >"$TMP/swarm-join.log" 2>&1 ||
      { SWARM_NOTE="swarm join of h$i failed: $(tail -n 1 "$TMP/swarm-join.log")"; return 1; }
  done
  # Every host has the same hostname here (one UTS namespace): tell the nodes apart by ID.
  for i in 1 2 3; do
    NID[$i]=$(dk "$i" info --format '{{.Swarm.NodeID}}' 2>/dev/null) && [ -n "${NID[$i]}" ] ||
      { SWARM_NOTE="no swarm node ID on h$i"; return 1; }
  done
}
swarm_host_of() { local i; for i in 1 2 3; do [ "${NID[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo "?"; }
swarm_view() { # H -> "LEADER_ID REACHABLE_COUNT" as H's manager sees the swarm
  timeout 3 "$DOCKER" -H "${DSOCK[$1]}" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null |
    awk '$2 == "Leader" { l = $1; n++ } $2 == "Reachable" { r++ } END { printf "%s %d\n", (n == 1 ? l : "-"), r + 0 }'
}
swarm_settled_once() { # -> leader host index; all 3 agree, the other two Reachable
  local i l r first=""
  for i in 1 2 3; do
    read -r l r < <(swarm_view "$i")
    [ "$l" != "-" ] && [ "$r" = 2 ] || return 1
    [ -z "$first" ] && first=$l
    [ "$l" = "$first" ] || return 1
  done
  swarm_host_of "$first"
}
swarm_wait_settled() { # SECONDS -> leader host index
  local deadline=$(( $(elapsed) + $1 )) a b
  while [ "$(elapsed)" -lt "$deadline" ]; do
    if a=$(swarm_settled_once); then
      sleep 0.5
      if b=$(swarm_settled_once) && [ "$a" = "$b" ]; then echo "$a"; return 0; fi
    fi
    sleep 0.5
  done
  return 1
}
swarm_failover_trial() {
  local t=$1 li s t0 tc t1="" polls=0 out deadline_us
  li=$(swarm_wait_settled 60) || { log "c. swarm trial $t: swarm not settled before the trial; stopping"; return 1; }
  for s in 1 2 3; do [ "$s" != "$li" ] && break; done
  t0=${EPOCHREALTIME/./}
  "$TB" cut "h$li"
  tc=${EPOCHREALTIME/./}
  deadline_us=$(( t0 + 45000000 ))
  while [ "$polls" -lt 5000 ]; do
    polls=$((polls + 1))
    out=$(timeout 0.25 "$DOCKER" -H "${DSOCK[$s]}" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null) || out=""
    if [[ $out == *" Leader"* ]] && [[ $out != *"${NID[$li]} Leader"* ]]; then t1=${EPOCHREALTIME/./}; break; fi
    [ "${EPOCHREALTIME/./}" -lt "$deadline_us" ] || break
  done
  "$TB" heal "h$li"
  if [ -z "$t1" ]; then
    log "c. swarm trial $t: h$s saw no new leader within 45 s"
    echo "$t h$li none" >>"$TMP/sw-fo-raw.txt"
    return 0
  fi
  secs $((t1 - t0)) >>"$TMP/sw-fo.txt"
  echo "$polls $((t1 - tc))" >>"$TMP/sw-polls.txt"
  echo "$t h$li->h$(swarm_host_of "$(awk '$2 == "Leader" { print $1 }' <<<"$out")") $(secs $((t1 - t0)))" >>"$TMP/sw-fo-raw.txt"
  log "c. swarm trial $t: leader h$li cut; h$s saw a new leader after $(secs $((t1 - t0))) s ($polls polls)"
}

log "c. Docker Swarm: 3 managers on the testbed's dockerds"
if swarm_setup && SW_LEADER=$(swarm_wait_settled 60); then
  log "c. swarm formed, leader h$SW_LEADER"
  # Writes first (the swarm is settled now), then the failover trials.
  for k in $(seq 1 "$TRIALS_SWARM_CFG"); do
    a=${EPOCHREALTIME/./}
    printf 'bench %d\n' "$k" | timeout 20 "$DOCKER" -H "${DSOCK[$SW_LEADER]}" config create "benchcfg$k" - >/dev/null 2>&1 ||
      { SWARM_NOTE="docker config create failed on h$SW_LEADER"; break; }
    b=${EPOCHREALTIME/./}
    secs $((b - a)) >>"$TMP/sw-cfg.txt"
    timed "$TMP/sw-cls.txt" timeout 20 "$DOCKER" -H "${DSOCK[$SW_LEADER]}" config ls -q || true
  done
  for t in $(seq 1 "$TRIALS_SWARM"); do
    if [ "$(elapsed)" -ge "$SWARM_DEADLINE" ]; then
      log "c. time budget reached (${SWARM_DEADLINE}s): stopping the swarm trials after $((t - 1))"
      SWARM_NOTE="${SWARM_NOTE:+$SWARM_NOTE; }only $((t - 1)) of $TRIALS_SWARM failover trials (time budget)"
      break
    fi
    swarm_failover_trial "$t" || { SWARM_NOTE="${SWARM_NOTE:+$SWARM_NOTE; }swarm did not settle before trial $t"; break; }
  done
else
  [ -n "$SWARM_NOTE" ] || SWARM_NOTE="the swarm did not settle (3 managers, one leader) within 60 s"
  log "c. Swarm skipped: $SWARM_NOTE"
fi
read -r SW_N SW_MIN SW_P50 SW_P95 SW_MAX < <(stats <"$TMP/sw-fo.txt")
read -r SC_N SC_MIN SC_P50 SC_P95 SC_MAX < <(stats <"$TMP/sw-cfg.txt")
read -r SL_N SL_MIN SL_P50 SL_P95 SL_MAX < <(stats <"$TMP/sw-cls.txt")
SW_POLL=$(poll_ms "$TMP/sw-polls.txt")
SC_COMMIT=$( [ "$SC_N" -gt 0 ] && sub3 "$SC_P50" "$SL_P50" || echo n/a)

# --- report ------------------------------------------------------------------------------------------
mkdir -p "$(dirname "$RESULTS")"
row() { printf '%-52s %4s %8s %8s %8s %8s\n' "$@"; }
{
  echo "roost cluster benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "roost $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?') (release; working tree as built), $(nproc) cores, kernel $(uname -r),"
  echo "3 hosts on testbed/testbed (one machine: netns + own dockerd + agent each), Docker $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null || echo '?')"
  echo
  row "measure (seconds)" "n" "p50" "p95" "min" "max"
  row "roost failover, kill-agent leader" "$FO_N" "$FO_P50" "$FO_P95" "$FO_MIN" "$FO_MAX"
  row "roost failover, cut leader's link" "$FC_N" "$FC_P50" "$FC_P95" "$FC_MIN" "$FC_MAX"
  row "Swarm failover, cut leader's link" "$SW_N" "$SW_P50" "$SW_P95" "$SW_MIN" "$SW_MAX"
  row "roost up (pure state), on a follower (h$FI)" "$TRIALS_COMMIT" "$UPF_P50" "$UPF_P95" "$UPF_MIN" "$UPF_MAX"
  row "roost up (pure state), on the leader (h$LI)" "$TRIALS_COMMIT" "$UPL_P50" "$UPL_P95" "$UPL_MIN" "$UPL_MAX"
  row "roost ls baseline (no commit), follower" "$TRIALS_COMMIT" "$LSF_P50" "$LSF_P95" "$LSF_MIN" "$LSF_MAX"
  row "roost ls baseline (no commit), leader" "$TRIALS_COMMIT" "$LSL_P50" "$LSL_P95" "$LSL_MIN" "$LSL_MAX"
  row "Swarm docker config create, on the leader" "$SC_N" "$SC_P50" "$SC_P95" "$SC_MIN" "$SC_MAX"
  row "Swarm docker config ls baseline, leader" "$SL_N" "$SL_P50" "$SL_P95" "$SL_MIN" "$SL_MAX"
  echo
  printf '%-52s %s\n' "roost commit part, follower (up p50 - ls p50)" "$COMMIT_F s"
  printf '%-52s %s\n' "roost commit part, leader (up p50 - ls p50)" "$COMMIT_L s"
  printf '%-52s %s\n' "Swarm commit part (config create p50 - ls p50)" "$SC_COMMIT s"
  echo
  echo "Ratios Swarm / roost:"
  printf '  %-50s %s / %s\n' "failover p50, Swarm cut vs roost kill-agent" "$(ratio "$SW_P50" "$FO_P50")" "p95 $(ratio "$SW_P95" "$FO_P95")"
  printf '  %-50s %s / %s\n' "failover p50, Swarm cut vs roost cut (same fault)" "$(ratio "$SW_P50" "$FC_P50")" "p95 $(ratio "$SW_P95" "$FC_P95")"
  printf '  %-50s %s\n' "write on the leader, CLI wall time p50" "$(ratio "$SC_P50" "$UPL_P50")"
  printf '  %-50s %s\n' "write on the leader, commit part p50" "$(ratio "$SC_COMMIT" "$COMMIT_L")"
  [ -n "$SWARM_NOTE" ] && echo "  Swarm note: $SWARM_NOTE"
  echo
  echo "Failover = from just before \`testbed kill-agent|cut LEADER\` (t0; the testbed script's start,"
  echo "  some ms, is included) to the first answer of a survivor's agent naming another leader."
  echo "  The fault command runs in the background and polling starts at t0: \`testbed kill-agent\`"
  echo "  returns only once the killed agent is reaped, which on this VM (PID 1 reaps orphans every"
  echo "  ~2 s) took, sorted, s after t0: $KILLRET"
  echo "  roost: \`roost --host unix://<sock> nodes --json\` called directly (no nsenter), back to back;"
  echo "  mean poll interval ${FO_POLL} ms (kill), ${FC_POLL} ms (cut). roost timing: heartbeat 100 ms,"
  echo "  election timeout 500-800 ms; openraft 0.9 lets a follower stand only after leader lease"
  echo "  (= 800 ms, the max) + its election timeout (drawn once per process) since the last heartbeat,"
  echo "  checked on a 150 ms tick: about 1.2-1.75 s. Between trials the old leader is restarted/healed and all 3"
  echo "  hosts must see 3 reachable nodes and the same leader twice 0.3 s apart (bounded 30 s)."
  echo "  Swarm: \`docker node ls\` on a survivor, each call cut at 0.25 s (a follower forwards it to the"
  echo "  leader, so it hangs while the old one is unreachable); mean poll interval ${SW_POLL} ms."
  echo "  Swarm runs with its defaults (raft election tick 10 x 1 s, heartbeat 1 s)."
  echo "Commit = wall time of one CLI process: start, parse, socket call, Raft commit (roost up of a"
  echo "  stack with replicas: 0, i.e. no containers; a follower forwards it to the leader); the ls"
  echo "  baseline is the same CLI doing a local read. Each call runs under timeout(1) (both sides)."
  echo "  Swarm: printf | docker config create NAME - ; baseline docker config ls -q (Go CLI)."
  echo "p50/p95 are nearest-rank (with n=5 the p95 is the max)."
  echo "Raw roost kill-agent trials (trial old->new seconds): $(awk '{ printf "%s%s", sep, $2 " " $3; sep = ", " }' "$TMP/fo-kill-raw.txt")"
  echo "Raw roost cut trials: $(awk '{ printf "%s%s", sep, $2 " " $3; sep = ", " }' "$TMP/fo-cut-raw.txt")"
  echo "Raw Swarm cut trials: $(awk '{ printf "%s%s", sep, $2 " " $3; sep = ", " }' "$TMP/sw-fo-raw.txt")"
  echo "Total bench time: $(elapsed) s (before teardown)"
} | tee "$RESULTS"
