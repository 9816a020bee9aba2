#!/usr/bin/env bash
# Stateful-service failover benchmark on a 3-host testbed: roost vs Docker Swarm, same hosts,
# same run. Prints figures; no pass/fail thresholds beyond sanity (and it says so loudly when a
# stateful copy ran twice).
#
#   sudo bash bench/failover.sh
#
# roost: `testbed up 3`, cluster (token on h1, h2 and h3 join), a stack with one stateful service
# `db` (busybox httpd, init, named volume data:/data, healthcheck wget every 1 s, 2 retries).
# Each trial cuts the link of the host that runs db (`testbed cut`: the host and its containers
# keep running, cut off — the fencing case) and measures, from t0 just before the cut, until a
# survivor's `roost ps -p STACK --json` (polled back to back, called directly on the agent's unix
# socket) shows db ready (running + healthy) on another node. The trials are split by whether the
# lost host was the Raft leader or not (BENCH_TRIALS_ROOST of each, default 10); when the current
# placement is of a kind already done, db is steered with `roost drain`/`undrain` (drain the
# leader: db goes to a follower; drain both followers: db goes to the leader).
#
# During every trial (cut, failover, heal, re-settle) a sampler asks all 3 hosts' dockerds
# directly (curl on their unix sockets, which a cut does not affect) every 100 ms for the running
# db containers; the longest stretch with two or more running at once is the overlap (roost's
# fencing says it must be 0). After db serves again the host is healed and the next trial waits
# until all 3 hosts see 3 reachable nodes, one leader and db ready on one node (bounded).
#
# Swarm: the same hosts' dockerds form a swarm of 3 managers (as bench/cluster.sh does), a
# 1-replica service from the same image with the same healthcheck, --init and a volume; trials
# cut the host running the task (found on the engines: every testbed host has the same hostname,
# so `docker service ps` cannot tell them apart) and measure until a container of the service
# is running, then healthy, on another host. The sampler measures the overlap the same way; the
# cut host is healed as soon as the new copy is healthy, and its old copy (Swarm does not fence)
# runs until the healed node hears that its task was replaced. BENCH_TRIALS_SWARM per kind,
# default 3; trials that do not fit the time budget are skipped and the output says so.
#
# Bounded: every wait has a deadline, every loop a count; a watchdog aborts (and cleans up) after
# BENCH_MAX_SECONDS (default 670). The trap always leaves the swarm and tears the testbed down.
# Refuses to run (exit 2, touching nothing) while another testbed is up.
# Output: a table on stdout, also written to bench/results/failover-latest.txt.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TB="$REPO/testbed/testbed"
export ROOST_BIN=${ROOST_BIN:-$REPO/target/release/roost}
export TESTBED_DIR=${TESTBED_DIR:-/tmp/roost-testbed-bench}
export TESTBED_QUIET=1
RESULTS=${BENCH_RESULTS:-$REPO/bench/results/failover-latest.txt}
TRIALS_ROOST=${BENCH_TRIALS_ROOST:-10}
TRIALS_SWARM=${BENCH_TRIALS_SWARM:-3}
MAX_SECONDS=${BENCH_MAX_SECONDS:-670}
# No new roost trial after this (s since start): the rest is for Swarm.
ROOST_DEADLINE=${BENCH_ROOST_DEADLINE:-330}
# A Swarm trial starts only if this much time is left before MAX_SECONDS (its worst case, ~142 s,
# so that the report is always written before the watchdog).
SWARM_TRIAL_NEED=${BENCH_SWARM_TRIAL_NEED:-145}
STACK=fobench
SVC=db
IMAGE=roost-test/busybox:latest

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
testbed_preflight
command -v curl >/dev/null || die "curl is needed (apt-get install -y curl)"

bench_state failover

cleanup() {
  local rc=$?
  trap - EXIT INT TERM ERR
  set +e
  stop_job "$SAMPLER_PID"
  stop_job "$WATCHDOG_PID"
  testbed_teardown "$rc" || rc=1
  rm -rf "$TMP"
  exit "$rc"
}
bench_traps

# --- binary and testbed --------------------------------------------------------------------------
testbed_up3 120

# --- percentiles -----------------------------------------------------------------------------------

# --- the engine sampler ----------------------------------------------------------------------------
# After the new copy first ran on a survivor (CUTCOL = the cut host's running column, 2-4): the
# first sample with no db running anywhere and the first one after it with one again ->
# "dip_us back_us", or nothing. A restart of the new copy (availability lost again).
restart_of() { # FILE T0 CUTCOL
  awk -v t0="$2" -v c="$3" '$1 >= t0 && $2 >= 0 && $3 >= 0 && $4 >= 0 {
      tot = $2 + $3 + $4
      if (!st) { if (tot - $c >= 1) st = 1; next }
      if (!dip && tot == 0) { dip = $1; next }
      if (dip && tot >= 1) { print dip, $1; exit } }' "$1"
}
# First sample time (µs) at or after T0 where column COL (2-4 running on h1-h3, 5-7 healthy)
# matches OP VALUE; empty if never.
first_sample() { # FILE T0 COL OP VALUE
  awk -v t0="$2" -v c="$3" -v op="$4" -v v="$5" '$1 >= t0 && $c >= 0 &&
      ((op == "==" && $c == v) || (op == ">=" && $c >= v)) { print $1; exit }' "$1"
}

# --- cluster ---------------------------------------------------------------------------------------
TOKEN=$(r 1 token)
r 2 join 10.77.0.11:4280 --token "$TOKEN" >/dev/null 2>&1 || die "h2 could not join"
r 3 join 10.77.0.11:4280 --token "$TOKEN" >/dev/null 2>&1 || die "h3 could not join"

NOSVC=1 wait_settled 30 >/dev/null || die "the cluster did not settle (3 nodes, 3 reachable, one leader) within 30 s"
log "cluster formed: 3 voters"

cat >"$TMP/stack.yaml" <<EOF
services:
  db:
    image: $IMAGE
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost:8080/"]
      interval: 1s
      timeout: 1s
      retries: 2
volumes:
  data: {}
EOF
r 1 up -f "$TMP/stack.yaml" -p "$STACK" --wait --wait-timeout 60 >/dev/null 2>&1 || die "roost up of the db stack failed"
read -r LEADER DBN < <(wait_settled 30) || die "db did not become ready on one node, seen by all 3, within 30 s"
log "stack deployed: db on $DBN, leader $LEADER"

ready_nodes 2
[ "$READY" = "$DBN" ] || die "the poll parser reads db ready on '$READY', jq on '$DBN'"

# --- roost trials ----------------------------------------------------------------------------------
RFILTER="{\"label\":[\"io.roost.stack=$STACK\",\"io.roost.service=db\"],\"status\":[\"running\"]}"
: >"$TMP/r-leader.txt"; : >"$TMP/r-follower.txt"; : >"$TMP/r-raw.txt"; : >"$TMP/r-overlap.txt"
: >"$TMP/r-fence.txt"; : >"$TMP/r-engine.txt"; : >"$TMP/r-unk.txt"; : >"$TMP/r-restart.txt"
NL=0; NF=0; STEERS=0; STEER_FAIL=0; ROOST_NOTE=""

wait_db_on() { # SECONDS PREDICATE(node) -> waits until settled with db on a node the predicate accepts
  local deadline=$(( $(elapsed) + $1 )) st l d
  while [ "$(elapsed)" -lt "$deadline" ]; do
    if st=$(wait_settled 5); then
      read -r l d <<<"$st"
      if "$2" "$d" "$l"; then echo "$st"; return 0; fi
    fi
    sleep 0.3
  done
  return 1
}
is_follower_node() { [ "$1" != "$2" ]; }
is_leader_node() { [ "$1" = "$2" ]; }
# Moves db to the leader's host (KIND=leader) or to a follower's (KIND=follower) with drain.
steer() { # KIND LEADER DBNODE -> 0 if done
  local kind=$1 l=$2 d=$3 drained="" n ok=0
  STEERS=$((STEERS + 1))
  if [ "$kind" = follower ]; then
    drained=$l
  else
    for n in $(others "${l#h}"); do [ "h$n" != "$d" ] && drained="h$n"; done
    drained="$drained $d"
  fi
  log "   steer: db on $d, leader $l; want the $kind's host: drain $drained"
  for n in $drained; do r "${l#h}" drain "$n" >/dev/null 2>&1 || r 1 drain "$n" >/dev/null 2>&1 || true; done
  if [ "$kind" = follower ]; then wait_db_on 30 is_follower_node >/dev/null && ok=1
  else wait_db_on 30 is_leader_node >/dev/null && ok=1; fi
  for n in $drained; do r 1 undrain "$n" >/dev/null 2>&1 || r 2 undrain "$n" >/dev/null 2>&1 || true; done
  [ "$ok" = 1 ] || { STEER_FAIL=$((STEER_FAIL + 1)); log "   steer failed (db not on the $kind's host within 30 s)"; }
  [ "$ok" = 1 ]
}

roost_trial() { # T LEADER DBNODE
  local t=$1 l=$2 d=$3 kind di s t0 t1="" th polls=0 deadline_us new="" st ov mx unk fence eng rs="" dip back
  di=${d#h}
  if [ "$l" = "$d" ]; then kind=leader; else kind=follower; fi
  read -r s _ <<<"$(others "$di")"
  sampler_start "$RFILTER" "$TMP/r-samp-$t.txt"
  sleep 0.3 # a few samples before the cut
  t0=$(now_us)
  "$TB" cut "$d"
  deadline_us=$(( t0 + 30000000 ))
  poll_ready_elsewhere "$s" "$d" "$deadline_us" 3000
  t1=$T_READY; new=$NEW_NODE; polls=$POLLS
  th=$(now_us)
  "$TB" heal "$d"
  st=$(wait_settled 30) || { st=""; log "   trial $t: not settled within 30 s after the heal"; }
  sleep 1 # the healed host's first reports are in: a copy it restarted would show now
  sampler_stop
  read -r ov mx unk _ < <(overlap_of "$TMP/r-samp-$t.txt")
  echo "$ov" >>"$TMP/r-overlap.txt"
  echo "$unk" >>"$TMP/r-unk.txt"
  fence=$(first_sample "$TMP/r-samp-$t.txt" "$t0" $((1 + di)) == 0)
  eng=""
  for n in $(others "$di"); do
    local e; e=$(first_sample "$TMP/r-samp-$t.txt" "$t0" $((4 + n)) ">=" 1)
    [ -n "$e" ] && { [ -z "$eng" ] || [ "$e" -lt "$eng" ]; } && eng=$e
  done
  read -r dip back < <(restart_of "$TMP/r-samp-$t.txt" "$t0" $((1 + di))) || true
  if [ -n "${dip:-}" ]; then
    rs=" restart=at_$(secs $((dip - t0)))s_down_$(secs $((back - dip)))s"
    echo "$t $(secs $((dip - th))) $(secs $((back - dip)))" >>"$TMP/r-restart.txt"
  fi
  [ -n "$fence" ] && secs $((fence - t0)) >>"$TMP/r-fence.txt"
  [ -n "$eng" ] && secs $((eng - t0)) >>"$TMP/r-engine.txt"
  if [ -z "$t1" ]; then
    log "   trial $t ($kind): cut $d, db not ready elsewhere within 30 s (h$s's view; $polls polls)"
    echo "$t $kind $d->none overlap=$ov" >>"$TMP/r-raw.txt"
  else
    secs $((t1 - t0)) >>"$TMP/r-$kind.txt"
    echo "$t $kind $d->$new $(secs $((t1 - t0))) fence=$([ -n "$fence" ] && secs $((fence - t0)) || echo -) overlap=$ov max_copies=$mx$rs" >>"$TMP/r-raw.txt"
    log "   trial $t ($kind): cut $d (leader $l): db ready on $new after $(secs $((t1 - t0))) s" \
      "(old copy gone $([ -n "$fence" ] && secs $((fence - t0)) || echo '?') s, healthy on an engine $([ -n "$eng" ] && secs $((eng - t0)) || echo '?') s;" \
      "overlap ${ov} s, max copies $mx, $polls polls)${rs:+; RESTARTED:$rs}"
  fi
  [ -z "$t1" ] || { if [ "$kind" = leader ]; then NL=$((NL + 1)); else NF=$((NF + 1)); fi; }
  [ -n "$st" ]
}

log "roost: $TRIALS_ROOST trials each, db's host = leader / = follower"
T=0
while [ "$T" -lt $((4 * TRIALS_ROOST + 4)) ] && { [ "$NL" -lt "$TRIALS_ROOST" ] || [ "$NF" -lt "$TRIALS_ROOST" ]; }; do
  if [ "$(elapsed)" -ge "$ROOST_DEADLINE" ]; then
    ROOST_NOTE="time budget (${ROOST_DEADLINE}s) reached after $T trials"
    log "roost: $ROOST_NOTE"
    break
  fi
  read -r LEADER DBN < <(wait_settled 30) || { ROOST_NOTE="cluster not settled before a trial; stopped after $T"; log "roost: $ROOST_NOTE"; break; }
  if [ "$LEADER" = "$DBN" ]; then KIND=leader; else KIND=follower; fi
  if [ "$KIND" = leader ] && [ "$NL" -ge "$TRIALS_ROOST" ]; then
    steer follower "$LEADER" "$DBN" || true; continue
  fi
  if [ "$KIND" = follower ] && [ "$NF" -ge "$TRIALS_ROOST" ]; then
    steer leader "$LEADER" "$DBN" || true; continue
  fi
  T=$((T + 1))
  roost_trial "$T" "$LEADER" "$DBN" || true
done
read -r RL_N RL_MIN RL_P50 RL_P95 RL_MAX < <(stats <"$TMP/r-leader.txt")
read -r RF_N RF_MIN RF_P50 RF_P95 RF_MAX < <(stats <"$TMP/r-follower.txt")
read -r RX_N RX_MIN RX_P50 RX_P95 RX_MAX < <(stats <"$TMP/r-fence.txt")
read -r RE_N RE_MIN RE_P50 RE_P95 RE_MAX < <(stats <"$TMP/r-engine.txt")
R_OVERLAP=$(maxof <"$TMP/r-overlap.txt")
R_UNK=$(awk '{ s += $1 } END { print s + 0 }' "$TMP/r-unk.txt")
R_RESTARTS=$(wc -l <"$TMP/r-restart.txt")
R_RESTART_DOWN=$(awk '{ print $3 }' "$TMP/r-restart.txt" | maxof)
R_RESTART_AFTER=$(awk '{ printf "%s%s", sep, $2; sep = " " }' "$TMP/r-restart.txt")
R_SAMPLES=$(cat "$TMP"/r-samp-*.txt 2>/dev/null | wc -l)
log "roost: leader-host p50 $RL_P50 s (n=$RL_N), follower-host p50 $RF_P50 s (n=$RF_N), longest overlap $R_OVERLAP s"
R_DOWN_S=$(elapsed)

# --- Docker Swarm ----------------------------------------------------------------------------------
r 1 down -p "$STACK" >/dev/null 2>&1 || log "roost down -p $STACK failed (ignored)"
SWARM_NOTE=""
declare -a NID
SFILTER='{"label":["com.docker.swarm.service.name=db"],"status":["running"]}'
: >"$TMP/s-leader.txt"; : >"$TMP/s-follower.txt"; : >"$TMP/s-run-leader.txt"; : >"$TMP/s-run-follower.txt"
: >"$TMP/s-raw.txt"; : >"$TMP/s-overlap.txt"; : >"$TMP/s-oldgone.txt"; : >"$TMP/s-open.txt"

swarm_setup() {
  local mt i
  SWARM_STARTED=1
  dk 1 swarm init --advertise-addr 10.77.0.11 >"$TMP/swarm-init.log" 2>&1 || { SWARM_NOTE="swarm init failed: $(tail -n 1 "$TMP/swarm-init.log")"; return 1; }
  mt=$(dk 1 swarm join-token -q manager 2>/dev/null) || { SWARM_NOTE="no manager join token"; return 1; }
  for i in 2 3; do
    dk "$i" swarm join --token "$mt" --advertise-addr "10.77.0.1$i" 10.77.0.11:2377 >"$TMP/swarm-join.log" 2>&1 ||
      { SWARM_NOTE="swarm join of h$i failed: $(tail -n 1 "$TMP/swarm-join.log")"; return 1; }
  done
  for i in 1 2 3; do
    NID[$i]=$(dk "$i" info --format '{{.Swarm.NodeID}}' 2>/dev/null) && [ -n "${NID[$i]}" ] ||
      { SWARM_NOTE="no swarm node ID on h$i"; return 1; }
  done
}
swarm_host_of() { local i; for i in 1 2 3; do [ "${NID[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo "?"; }
swarm_view() { # H -> "LEADER_ID REACHABLE_COUNT"
  timeout 3 "$DOCKER" -H "${DSOCK[$1]}" node ls --format '{{.ID}} {{.ManagerStatus}}' 2>/dev/null |
    awk '$2 == "Leader" { l = $1; n++ } $2 == "Reachable" { r++ } END { printf "%s %d\n", (n == 1 ? l : "-"), r + 0 }'
}
swarm_settled_once() { # -> leader host index
  local i l rr first=""
  for i in 1 2 3; do
    read -r l rr < <(swarm_view "$i")
    [ "$l" != "-" ] && [ "$rr" = 2 ] || return 1
    [ -z "$first" ] && first=$l
    [ "$l" = "$first" ] || return 1
  done
  swarm_host_of "$first"
}
# Running / healthy db containers per host, straight from the engines: "r1 r2 r3 h1 h2 h3".
swarm_engines() {
  local i s a out="" hl=""
  for i in 1 2 3; do
    s=$(curl -s -m 1 --unix-socket "${DPATH[$i]}" -G --data-urlencode "filters=$SFILTER" http://docker/containers/json 2>/dev/null) || s=""
    if [[ $s != \[* ]]; then out+=" -1"; hl+=" -1"; continue; fi
    a=${s//\"Id\":/}; out+=" $(( (${#s} - ${#a}) / 5 ))"
    a=${s//(healthy)/}; hl+=" $(( (${#s} - ${#a}) / 9 ))"
  done
  echo "${out# }$hl"
}
# Settled: one leader seen by all, 2 reachable, exactly one db container running (healthy) in
# total. -> "leader_index db_index".
swarm_wait_settled() { # SECONDS
  local deadline=$(( $(elapsed) + $1 )) a b r1 r2 r3 h1 h2 h3 d
  while [ "$(elapsed)" -lt "$deadline" ]; do
    if a=$(swarm_settled_once); then
      read -r r1 r2 r3 h1 h2 h3 < <(swarm_engines)
      if [ $((r1 + r2 + r3)) = 1 ] && [ $((h1 + h2 + h3)) = 1 ] && [ "$r1" -ge 0 ] && [ "$r2" -ge 0 ] && [ "$r3" -ge 0 ]; then
        d=1; [ "$h2" = 1 ] && d=2; [ "$h3" = 1 ] && d=3
        sleep 0.5
        if b=$(swarm_settled_once) && [ "$a" = "$b" ]; then echo "$a $d"; return 0; fi
      fi
    fi
    sleep 0.5
  done
  return 1
}
swarm_steer() { # KIND LEADER_INDEX DB_INDEX
  local kind=$1 li=$2 di=$3 drained="" n ok=0
  if [ "$kind" = follower ]; then drained=$li; else
    for n in $(others "$li"); do [ "$n" != "$di" ] && drained=$n; done
    drained="$drained $di"
  fi
  log "   swarm steer: task on h$di, leader h$li; want the $kind's host: drain$(printf ' h%s' $drained)"
  for n in $drained; do dk "$li" node update --availability drain "${NID[$n]}" >/dev/null 2>&1 || true; done
  local st l d
  local deadline=$(( $(elapsed) + 40 ))
  while [ "$(elapsed)" -lt "$deadline" ]; do
    if st=$(swarm_wait_settled 10); then
      read -r l d <<<"$st"
      if { [ "$kind" = follower ] && [ "$d" != "$l" ]; } || { [ "$kind" = leader ] && [ "$d" = "$l" ]; }; then ok=1; break; fi
    fi
  done
  for n in $drained; do dk "$li" node update --availability active "${NID[$n]}" >/dev/null 2>&1 || true; done
  [ "$ok" = 1 ]
}

swarm_trial() { # T KIND LEADER_INDEX DB_INDEX
  local t=$1 kind=$2 li=$3 di=$4 t0 trun="" thl="" th polls=0 deadline_us n s a new="" ov mx unk gone
  sampler_start "$SFILTER" "$TMP/s-samp-$t.txt"
  sleep 0.3
  t0=$(now_us)
  "$TB" cut "h$di"
  deadline_us=$(( t0 + 90000000 ))
  while [ "$polls" -lt 3000 ]; do
    polls=$((polls + 1))
    for n in $(others "$di"); do
      s=$(curl -s -m 1 --unix-socket "${DPATH[$n]}" -G --data-urlencode "filters=$SFILTER" http://docker/containers/json 2>/dev/null) || s=""
      if [[ $s == *'"Id":'* ]]; then
        [ -z "$trun" ] && trun=$(now_us)
        if [[ $s == *'(healthy)'* ]]; then thl=$(now_us); new=$n; break 2; fi
      fi
    done
    [ "$(now_us)" -lt "$deadline_us" ] || break
    sleep 0.05
  done
  th=$(now_us)
  "$TB" heal "h$di"
  # The old copy keeps running on the healed host until it learns the task was replaced.
  local deadline=$(( $(elapsed) + 50 ))
  gone=""
  while [ "$(elapsed)" -lt "$deadline" ]; do
    a=$(curl -s -m 1 --unix-socket "${DPATH[$di]}" -G --data-urlencode "filters=$SFILTER" http://docker/containers/json 2>/dev/null) || a=""
    if [[ $a == \[* ]] && [[ $a != *'"Id":'* ]]; then gone=$(now_us); break; fi
    sleep 0.1
  done
  sleep 0.5
  sampler_stop
  local open
  read -r ov mx unk open < <(overlap_of "$TMP/s-samp-$t.txt")
  [ "$open" = 1 ] && { echo 1 >>"$TMP/s-open.txt"; ov=">$ov"; }
  echo "${ov#>}" >>"$TMP/s-overlap.txt"
  [ -n "$gone" ] && secs $((gone - th)) >>"$TMP/s-oldgone.txt"
  [ -n "$trun" ] && secs $((trun - t0)) >>"$TMP/s-run-$kind.txt"
  if [ -z "$thl" ]; then
    log "   swarm trial $t ($kind): cut h$di: no healthy copy elsewhere within 90 s"
    # Censored: what the sampler saw later (healthy on a survivor, after the heal), not in the stats.
    local late=""
    for n in $(others "$di"); do
      a=$(first_sample "$TMP/s-samp-$t.txt" "$t0" $((4 + n)) ">=" 1)
      [ -n "$a" ] && { [ -z "$late" ] || [ "$a" -lt "$late" ]; } && late=$a
    done
    echo "$t $kind h$di->none-within-90s(censored; sampler: healthy on a survivor at $([ -n "$late" ] && secs $((late - t0)) || echo never) s) overlap=$ov" >>"$TMP/s-raw.txt"
  else
    secs $((thl - t0)) >>"$TMP/s-$kind.txt"
    echo "$t $kind h$di->h$new $(secs $((thl - t0))) run=$(secs $((trun - t0))) overlap=$ov max_copies=$mx old_gone_after_heal=$([ -n "$gone" ] && secs $((gone - th)) || echo '>50')" >>"$TMP/s-raw.txt"
    log "   swarm trial $t ($kind): cut h$di (leader h$li): running on h$new after $(secs $((trun - t0))) s, healthy $(secs $((thl - t0))) s;" \
      "old copy stopped $([ -n "$gone" ] && secs $((gone - th)) || echo '>50') s after the heal; overlap $ov s, max copies $mx"
  fi
}

SL=0; SF=0; ST=0
log "Swarm: 3 managers on the testbed's dockerds"
if swarm_setup; then
  # --no-resolve-image: no registry here (the image was loaded into every engine).
  timeout 40 "$DOCKER" -H "${DSOCK[1]}" service create --detach --no-resolve-image --name db --replicas 1 --init --stop-grace-period 2s \
    --health-cmd 'wget -q -O- http://localhost:8080/' --health-interval 1s --health-timeout 1s --health-retries 2 \
    --mount type=volume,source=data,target=/data \
    "$IMAGE" httpd -f -p 8080 -h /www >"$TMP/svc.log" 2>&1 || SWARM_NOTE="docker service create failed: $(tail -n 1 "$TMP/svc.log")"
  if [ -z "$SWARM_NOTE" ]; then
    if ST0=$(swarm_wait_settled 60); then
      log "Swarm formed, leader/task host: $ST0"
      while [ "$ST" -lt $((2 * TRIALS_SWARM + 2)) ] && { [ "$SL" -lt "$TRIALS_SWARM" ] || [ "$SF" -lt "$TRIALS_SWARM" ]; }; do
        if [ $((MAX_SECONDS - $(elapsed))) -lt $((SWARM_TRIAL_NEED + 10)) ]; then
          SWARM_NOTE="time budget: stopped after $SL leader-host + $SF follower-host trials (of $TRIALS_SWARM each)"
          log "Swarm: $SWARM_NOTE"; break
        fi
        read -r SLI SDI < <(swarm_wait_settled 45) || { SWARM_NOTE="swarm not settled before a trial; stopped after $ST"; log "Swarm: $SWARM_NOTE"; break; }
        if [ $((MAX_SECONDS - $(elapsed))) -lt "$SWARM_TRIAL_NEED" ]; then
          SWARM_NOTE="time budget: stopped after $SL leader-host + $SF follower-host trials (of $TRIALS_SWARM each)"
          log "Swarm: $SWARM_NOTE"; break
        fi
        if [ "$SLI" = "$SDI" ]; then KIND=leader; else KIND=follower; fi
        if [ "$KIND" = leader ] && [ "$SL" -ge "$TRIALS_SWARM" ]; then swarm_steer follower "$SLI" "$SDI" || log "   swarm steer failed"; ST=$((ST + 1)); continue; fi
        if [ "$KIND" = follower ] && [ "$SF" -ge "$TRIALS_SWARM" ]; then swarm_steer leader "$SLI" "$SDI" || log "   swarm steer failed"; ST=$((ST + 1)); continue; fi
        ST=$((ST + 1))
        swarm_trial "$ST" "$KIND" "$SLI" "$SDI"
        if [ "$KIND" = leader ]; then SL=$((SL + 1)); else SF=$((SF + 1)); fi
      done
    else
      SWARM_NOTE="the swarm with the db service did not settle within 60 s"
    fi
  fi
fi
[ -n "$SWARM_NOTE" ] && log "Swarm note: $SWARM_NOTE"
read -r SWL_N SWL_MIN SWL_P50 SWL_P95 SWL_MAX < <(stats <"$TMP/s-leader.txt")
read -r SWF_N SWF_MIN SWF_P50 SWF_P95 SWF_MAX < <(stats <"$TMP/s-follower.txt")
read -r SRL_N SRL_MIN SRL_P50 SRL_P95 SRL_MAX < <(stats <"$TMP/s-run-leader.txt")
read -r SRF_N SRF_MIN SRF_P50 SRF_P95 SRF_MAX < <(stats <"$TMP/s-run-follower.txt")
read -r SG_N SG_MIN SG_P50 SG_P95 SG_MAX < <(stats <"$TMP/s-oldgone.txt")
S_OVERLAP=$(maxof <"$TMP/s-overlap.txt")
S_OV_NOTE=""
if [ -s "$TMP/s-open.txt" ]; then
  S_OVERLAP="$S_OVERLAP+"
  S_OV_NOTE="  Swarm overlap is a lower bound: in $(wc -l <"$TMP/s-open.txt") trial(s) the old copy still ran when the 50 s wait after the heal ended."
fi

# --- report ------------------------------------------------------------------------------------------
mkdir -p "$(dirname "$RESULTS")"
row() { printf '%-58s %3s %8s %8s %8s %8s\n' "$@"; }
{
  echo "roost stateful failover benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "roost $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?') (release; working tree as built), $(nproc) cores, kernel $(uname -r),"
  echo "3 hosts on testbed/testbed (one machine: netns + own dockerd + agent each), Docker $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null || echo '?')"
  echo "Fault: \`testbed cut HOST\` of the host running db (link down; it and its containers keep running)."
  echo
  row "seconds from the cut" "n" "p50" "p95" "min" "max"
  row "roost: db host was the leader -> db ready elsewhere (ps)" "$RL_N" "$RL_P50" "$RL_P95" "$RL_MIN" "$RL_MAX"
  row "roost: db host was a follower -> db ready elsewhere (ps)" "$RF_N" "$RF_P50" "$RF_P95" "$RF_MIN" "$RF_MAX"
  row "Swarm: task host was the leader -> healthy elsewhere" "$SWL_N" "$SWL_P50" "$SWL_P95" "$SWL_MIN" "$SWL_MAX"
  row "Swarm: task host was a follower -> healthy elsewhere" "$SWF_N" "$SWF_P50" "$SWF_P95" "$SWF_MIN" "$SWF_MAX"
  row "  roost, all: old copy gone on the cut host (fenced)" "$RX_N" "$RX_P50" "$RX_P95" "$RX_MIN" "$RX_MAX"
  row "  roost, all: new copy healthy on an engine (100 ms samp.)" "$RE_N" "$RE_P50" "$RE_P95" "$RE_MIN" "$RE_MAX"
  row "  Swarm, leader host: new copy running elsewhere" "$SRL_N" "$SRL_P50" "$SRL_P95" "$SRL_MIN" "$SRL_MAX"
  row "  Swarm, follower host: new copy running elsewhere" "$SRF_N" "$SRF_P50" "$SRF_P95" "$SRF_MIN" "$SRF_MAX"
  row "  Swarm: old copy still running after the heal, for" "$SG_N" "$SG_P50" "$SG_P95" "$SG_MIN" "$SG_MAX"
  echo
  printf '%-58s %s\n' "Longest overlap, two copies running at once: roost" "$R_OVERLAP s (all $((RL_N + RF_N)) trials; must be 0)"
  printf '%-58s %s\n' "Longest overlap, two copies running at once: Swarm" "$S_OVERLAP s (all $((SWL_N + SWF_N)) trials)"
  printf '%-58s %s\n' "roost: new copy restarted after serving (all down again)" "$R_RESTARTS of $((RL_N + RF_N)) trials, longest down $R_RESTART_DOWN s"
  [ "$R_RESTARTS" -gt 0 ] && echo "  (s after the heal when it went down: $R_RESTART_AFTER; the agent logs \"removing container ... reason=NotDesired\")"
  echo
  echo "Side by side (p50 / p95, seconds to serving again):"
  printf '  %-22s %-17s %-17s %s\n' "lost host" "roost" "Swarm" "Swarm/roost p50, p95"
  printf '  %-22s %-17s %-17s %s, %s\n' "leader (db's host)" "$RL_P50 / $RL_P95" "$SWL_P50 / $SWL_P95" "$(ratio "$SWL_P50" "$RL_P50")" "$(ratio "$SWL_P95" "$RL_P95")"
  printf '  %-22s %-17s %-17s %s, %s\n' "follower (db's host)" "$RF_P50 / $RF_P95" "$SWF_P50 / $SWF_P95" "$(ratio "$SWF_P50" "$RF_P50")" "$(ratio "$SWF_P95" "$RF_P95")"
  printf '  %-22s %-17s %-17s\n' "longest overlap" "$R_OVERLAP" "$S_OVERLAP"
  [ -n "$S_OV_NOTE" ] && echo "$S_OV_NOTE"
  [ -n "$ROOST_NOTE" ] && echo "  roost note: $ROOST_NOTE"
  [ -n "$SWARM_NOTE" ] && echo "  Swarm note: $SWARM_NOTE"
  echo
  echo "roost: serving again = first answer of a survivor's \`roost ps -p $STACK --json\` (called directly"
  echo "  on its agent's unix socket, every ~10 ms) with db desired and ready (running + healthy, health"
  echo "  checked every 1 s) on another node. Expected from the design (ARCHITECTURE.md): the cut host"
  echo "  SIGKILLs its copy 1.2 s after its last lease grant; the leader moves db 1.5 s after the last"
  echo "  renewal it received; a new leader (election ~1.2-1.4 s) first waits 1.0 s from its election."
  echo "  Between trials: heal, then all 3 hosts must see 3 reachable nodes, one leader and db ready on"
  echo "  one node, twice 0.3 s apart (bounded 30 s). Steering moves (roost drain/undrain, not timed):"
  echo "  $STEERS, failed $STEER_FAIL."
  echo "Swarm: 3 managers, defaults (raft election tick 10 x 1 s, dispatcher heartbeat 5 s); service db:"
  echo "  --replicas 1 --init --stop-grace-period 2s, same healthcheck (wget every 1 s, timeout 1 s, 2"
  echo "  retries), a volume on /data, --no-resolve-image, no published port (not needed: health is checked inside). Serving"
  echo "  again = a db container healthy on a survivor's engine (curl on its socket, every ~50 ms; the"
  echo "  engine is the truth, and \`docker service ps\` names every testbed host alike). The cut host is"
  echo "  healed as soon as that happens; its old copy runs until it learns the task moved."
  echo "Overlap: all 3 engines sampled together every 100 ms (curl on the unix sockets, which a cut does"
  echo "  not affect) from 0.3 s before the cut until the cluster settled again after the heal; the"
  echo "  longest stretch with 2+ running db containers, first such sample to the first one after."
  echo "  roost: $R_SAMPLES samples, $R_UNK host-answers missing (engine busy > 0.5 s)."
  echo "p50/p95 are nearest-rank (with n<=3 the p95 is the max)."
  echo "Raw roost trials (trial kind cut->new s): $(awk '{ printf "%s%s", sep, $0; sep = "; " }' "$TMP/r-raw.txt")"
  echo "Raw Swarm trials: $(awk '{ printf "%s%s", sep, $0; sep = "; " }' "$TMP/s-raw.txt")"
  echo "Time: roost part ${R_DOWN_S} s, total $(elapsed) s (before teardown)"
} | tee "$RESULTS"
