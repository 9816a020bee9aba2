#!/usr/bin/env bash
# Single-node benchmark: prints figures, no pass/fail thresholds (beyond sanity).
#
#   sudo bash bench/single-node.sh
#
# Measures, with the release binary (built if missing):
#   a. recovery time after `docker kill` and after `docker rm -f` of a managed container
#      with a health check, until `roost ps --json` shows the slot ready again (10 trials each);
#   b. the agent's resident memory, idle for 10 s while it manages 10 containers;
#   c. `roost up --wait` of a 5-service stack with 1 s health checks vs the same containers
#      started by the peer: `docker compose up -d --wait` when the Compose plugin exists,
#      else plain `docker network create` + `docker run -d` + polling `docker inspect`
#      until every container is healthy (5 trials each, torn down in between).
#
# Isolation: every roost agent removes the roost-managed containers it does not know about,
# so a second agent on a shared engine would fight the first. The benchmark therefore runs
# its own dockerd in a private network namespace (data under a temp dir), its own agent on
# a temp data dir/socket, and removes all of it on exit (trap), whatever happens.
# Set BENCH_DOCKER_HOST=unix:///path.sock to use an existing engine instead; it must hold
# no roost-managed containers.
#
# Bounded: a watchdog aborts (and cleans up) after BENCH_MAX_SECONDS (default 290 s).
# Output: a table on stdout, also written to bench/results/single-node-latest.txt.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOST="$REPO/target/release/roost"
RESULTS="$REPO/bench/results/single-node-latest.txt"
IMAGE=roost-test/busybox:latest
TRIALS_RECOVERY=${BENCH_TRIALS_RECOVERY:-10}
TRIALS_UP=${BENCH_TRIALS_UP:-5}
MAX_SECONDS=${BENCH_MAX_SECONDS:-290}
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker); fi

log() { printf '[%5.1fs] %s\n' "$(elapsed)" "$*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
T_START=$(now)
elapsed() { awk -v a="$T_START" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
[ "$(id -u)" -eq 0 ] || [ -n "${BENCH_DOCKER_HOST:-}" ] || die "run as root (it starts a private dockerd), or set BENCH_DOCKER_HOST"

TMP=$(mktemp -d /tmp/roost-bench.XXXXXX)
NS=""
DOCKERD_PID=""
AGENT_PID=""
WATCHDOG_PID=""
PEER_PROJECT=benchpeer

cleanup() {
  local rc=$?
  trap - EXIT INT TERM ERR
  set +e
  [ "$rc" -ne 0 ] && [ -f "$TMP/agent.log" ] && { echo "bench: last agent log lines:" >&2; tail -n 15 "$TMP/agent.log" >&2; }
  if [ -n "$WATCHDOG_PID" ]; then pkill -P "$WATCHDOG_PID" sleep 2>/dev/null; kill "$WATCHDOG_PID" 2>/dev/null; fi
  log "cleaning up"
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
    for s in benchrec benchidle benchup; do
      timeout 30 "$ROOST" down -p "$s" --volumes >/dev/null 2>&1
    done
    kill "$AGENT_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$AGENT_PID" 2>/dev/null
  fi
  # The peer's containers and network (on a shared engine these are all we created).
  if [ -n "${DH:-}" ]; then
    ids=$(timeout 10 "$DOCKER" -H "$DH" ps -aq --filter "label=bench.roost.peer=$PEER_PROJECT" 2>/dev/null)
    [ -n "$ids" ] && timeout 30 "$DOCKER" -H "$DH" rm -f $ids >/dev/null 2>&1
    timeout 10 "$DOCKER" -H "$DH" network rm "${PEER_PROJECT}_default" >/dev/null 2>&1
  fi
  if [ -n "$DOCKERD_PID" ]; then
    ids=$(timeout 10 "$DOCKER" -H "$DH" ps -aq 2>/dev/null)
    [ -n "$ids" ] && timeout 30 "$DOCKER" -H "$DH" rm -f $ids >/dev/null 2>&1
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$DOCKERD_PID" 2>/dev/null
    # Anything dockerd left mounted under the temp dir (overlay, netns, shm).
    grep -o " $TMP[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  fi
  [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'log "interrupted"; exit 130' INT TERM

# A watchdog so the whole run stays bounded even if something hangs.
# (sleep's output is detached so it does not hold a pipe on stdout/stderr open after we exit)
( sleep "$MAX_SECONDS" >/dev/null 2>&1 </dev/null; echo "bench: watchdog: over ${MAX_SECONDS}s, aborting" >&2; kill -TERM $$ ) &
WATCHDOG_PID=$!

# --- binary --------------------------------------------------------------------------------
if [ ! -x "$ROOST" ]; then
  log "building the release binary"
  (cd "$REPO" && cargo build --release -p roost)
fi

# --- engine ----------------------------------------------------------------------------------
if [ -n "${BENCH_DOCKER_HOST:-}" ]; then
  DH=$BENCH_DOCKER_HOST
  dk() { "$DOCKER" -H "$DH" "$@"; }
  dk version >/dev/null 2>&1 || die "no engine answers on $DH"
  [ -z "$(dk ps -aq --filter label=io.roost.managed=true)" ] ||
    die "$DH already has roost-managed containers; the bench agent would remove them. Use the private engine (unset BENCH_DOCKER_HOST)."
  ENGINE_NOTE="existing engine $DH"
else
  command -v dockerd >/dev/null || die "dockerd missing: run scripts/install-docker.sh first"
  NS="roost-bench-$$"
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  mkdir -p "$TMP/d"
  DH="unix://$TMP/d/docker.sock"
  dk() { "$DOCKER" -H "$DH" "$@"; }
  log "starting a private dockerd in netns $NS"
  # nsenter, not `ip netns exec` (that remounts /sys and dockerd loses the cgroup mounts).
  nsenter --net="/var/run/netns/$NS" dockerd --data-root "$TMP/d/data" --exec-root "$TMP/d/exec" \
    --pidfile "$TMP/d/pid" -H "$DH" --bip 172.31.250.1/24 >"$TMP/dockerd.log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  for _ in $(seq 1 120); do dk version >/dev/null 2>&1 && break; sleep 0.25; done
  dk version >/dev/null 2>&1 || { tail -20 "$TMP/dockerd.log" >&2; die "private dockerd did not start"; }
  ENGINE_NOTE="private dockerd $(dk version -f '{{.Server.Version}}') in its own netns"
fi
if ! dk image inspect "$IMAGE" >/dev/null 2>&1; then
  if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
    "$DOCKER" save "$IMAGE" | dk load >/dev/null
  else
    DOCKER_HOST=$DH bash "$REPO/scripts/build-test-images.sh"
  fi
fi

# --- agent -----------------------------------------------------------------------------------
DATA="$TMP/roost"
export ROOST_HOST="unix://$DATA/roost.sock"
"$ROOST" agent --data-dir "$DATA" --docker-host "$DH" --name bench >"$TMP/agent.log" 2>&1 </dev/null &
AGENT_PID=$!
for _ in $(seq 1 100); do "$ROOST" ps >/dev/null 2>&1 && break; sleep 0.1; done
"$ROOST" ps >/dev/null 2>&1 || { tail -20 "$TMP/agent.log" >&2; die "agent did not answer"; }
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
RSS_START=$(rss_mib "$AGENT_PID")
log "agent up (pid $AGENT_PID, RSS $RSS_START MiB)"

stats() { # min p50 max of the numbers on stdin (p50: nearest rank)
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a n/a n/a"; exit }
    r = int((NR + 1) / 2); printf "%.2f %.2f %.2f\n", v[1], v[r], v[NR] }'
}

# --- a. recovery -------------------------------------------------------------------------------
cat >"$TMP/rec.yaml" <<EOF
name: benchrec
services:
  web:
    image: $IMAGE
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 2s
    deploy:
      replicas: $TRIALS_RECOVERY
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 2s
      retries: 3
EOF
log "a. deploying $TRIALS_RECOVERY health-checked replicas"
"$ROOST" up -f "$TMP/rec.yaml" --wait --wait-timeout 90 2>/dev/null

row() { # slot → "container_id state ready"
  "$ROOST" ps -p benchrec --json 2>/dev/null |
    jq -r --argjson n "$1" '.[] | select(.service == "web" and .slot == $n) | "\(.container_id // "-") \(.state) \(.ready)"'
}
started_at() { dk inspect -f '{{.State.StartedAt}}' "$1" 2>/dev/null || echo gone; }
# Restarts back off after consecutive failures and the count resets after 10 s of running:
# make each trial start from a replica that has run for at least 11 s.
settle() {
  local slot=$1 r id st ready age
  for _ in $(seq 1 600); do
    read -r id st ready <<<"$(row "$slot")"
    if [ "$st" = running ] && [ "$ready" = true ]; then
      age=$(awk -v s="$(date -d "$(started_at "$id")" +%s.%N 2>/dev/null || echo 0)" -v n="$(now)" 'BEGIN { printf "%d", n - s }')
      [ "$age" -ge 11 ] && { echo "$id"; return 0; }
    fi
    sleep 0.2
  done
  return 1
}

: >"$TMP/kill.txt"
: >"$TMP/rm.txt"
for mode in kill rm; do
  for slot in $(seq 1 "$TRIALS_RECOVERY"); do
    id=$(settle "$slot") || die "slot $slot never settled"
    started0=$(started_at "$id")
    t0=$(now)
    if [ "$mode" = kill ]; then dk kill "$id" >/dev/null; else dk rm -f "$id" >/dev/null; fi
    seen_down=0 done_at=""
    while [ "$(sub "$t0" "$(now)" | cut -d. -f1)" -lt 60 ]; do
      read -r cid st ready <<<"$(row "$slot")"
      if [ "$mode" = kill ]; then
        if [ "$cid" = "$id" ] && [ "$st" = running ] && [ "$ready" = true ]; then
          if [ "$seen_down" = 1 ] || [ "$(started_at "$id")" != "$started0" ]; then done_at=$(now); break; fi
        else
          seen_down=1
        fi
      else
        if [ "$cid" != "$id" ] && [ "$cid" != "-" ] && [ "$st" = running ] && [ "$ready" = true ]; then done_at=$(now); break; fi
      fi
      sleep 0.05
    done
    [ -n "$done_at" ] || die "$mode trial on slot $slot: not ready again within 60 s"
    dt=$(sub "$t0" "$done_at")
    echo "$dt" >>"$TMP/$mode.txt"
    log "a. docker $mode slot $slot: ready again after ${dt}s"
  done
done
read -r KILL_MIN KILL_P50 KILL_MAX < <(stats <"$TMP/kill.txt")
read -r RM_MIN RM_P50 RM_MAX < <(stats <"$TMP/rm.txt")
timeout 60 "$ROOST" down -p benchrec >/dev/null 2>&1 || log "warning: roost down -p benchrec failed"

# --- b. idle memory --------------------------------------------------------------------------
cat >"$TMP/idle.yaml" <<EOF
name: benchidle
services:
  idle:
    image: $IMAGE
    command: ["sleep", "3600"]
    init: true
    stop_grace_period: 2s
    deploy:
      replicas: 10
EOF
log "b. deploying 10 idle containers"
"$ROOST" up -f "$TMP/idle.yaml" --wait --wait-timeout 90 2>/dev/null
MANAGED=$(dk ps -q --filter label=io.roost.managed=true | wc -l)
log "b. $MANAGED managed containers running; idling 10 s"
sleep 10
RSS_IDLE=$(rss_mib "$AGENT_PID")
log "b. agent RSS $RSS_IDLE MiB"
timeout 60 "$ROOST" down -p benchidle >/dev/null 2>&1 || log "warning: roost down -p benchidle failed"

# --- c. up --wait vs peer ----------------------------------------------------------------------
{
  echo "name: benchup"
  echo "services:"
  for i in 1 2 3 4 5; do
    cat <<EOF
  s$i:
    image: $IMAGE
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 2s
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 2s
      retries: 3
EOF
  done
} >"$TMP/up.yaml"

if DOCKER_HOST=$DH "$DOCKER" compose version >/dev/null 2>&1; then
  PEER="docker compose up -d --wait"
else
  PEER="docker network create + 5x docker run -d (parallel) + poll docker inspect until all healthy (no Compose plugin on this engine's client)"
fi

peer_up() {
  if [[ $PEER == "docker compose"* ]]; then
    DOCKER_HOST=$DH "$DOCKER" compose -p "$PEER_PROJECT" -f "$TMP/up.yaml" up -d --wait >/dev/null 2>&1
    return
  fi
  dk network create --label "bench.roost.peer=$PEER_PROJECT" "${PEER_PROJECT}_default" >/dev/null
  local i pids=()
  for i in 1 2 3 4 5; do
    dk run -d --name "$PEER_PROJECT-s$i-1" --label "bench.roost.peer=$PEER_PROJECT" \
      --network "${PEER_PROJECT}_default" --network-alias "s$i" --init --stop-timeout 2 \
      --health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/' --health-interval 1s \
      --health-timeout 2s --health-retries 3 "$IMAGE" httpd -f -p 8080 -h /www >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  local deadline=$(( $(date +%s) + 60 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if [ "$(dk inspect -f '{{.State.Health.Status}}' "$PEER_PROJECT"-s{1..5}-1 2>/dev/null | grep -c '^healthy$')" -eq 5 ]; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}
peer_down() {
  if [[ $PEER == "docker compose"* ]]; then
    DOCKER_HOST=$DH "$DOCKER" compose -p "$PEER_PROJECT" -f "$TMP/up.yaml" down >/dev/null 2>&1
    return
  fi
  dk rm -f "$PEER_PROJECT"-s{1..5}-1 >/dev/null 2>&1 || true
  dk network rm "${PEER_PROJECT}_default" >/dev/null 2>&1 || true
}

: >"$TMP/up-roost.txt"
: >"$TMP/up-peer.txt"
for trial in $(seq 1 "$TRIALS_UP"); do
  t0=$(now)
  "$ROOST" up -f "$TMP/up.yaml" --wait --wait-timeout 60 >/dev/null 2>&1 || die "roost up --wait failed (trial $trial)"
  dt=$(sub "$t0" "$(now)")
  echo "$dt" >>"$TMP/up-roost.txt"
  timeout 60 "$ROOST" down -p benchup >/dev/null 2>&1 || die "roost down -p benchup failed (trial $trial)"
  sleep 1
  t0=$(now)
  peer_up || die "peer did not get healthy (trial $trial)"
  dp=$(sub "$t0" "$(now)")
  echo "$dp" >>"$TMP/up-peer.txt"
  peer_down
  sleep 1
  log "c. trial $trial: roost ${dt}s, peer ${dp}s"
done
read -r _ UP_ROOST _ < <(stats <"$TMP/up-roost.txt")
read -r _ UP_PEER _ < <(stats <"$TMP/up-peer.txt")
RATIO=$(awk -v a="$UP_ROOST" -v b="$UP_PEER" 'BEGIN { printf "%.2f", a / b }')

# --- report ------------------------------------------------------------------------------------
mkdir -p "$(dirname "$RESULTS")"
{
  echo "roost single-node benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "roost $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?') (release), $(nproc) cores, kernel $(uname -r), engine: $ENGINE_NOTE"
  echo
  printf '%-58s %8s %8s %8s\n' "measure" "min" "p50" "max"
  printf '%-58s %8s %8s %8s\n' "a. recovery after docker kill, s (n=$TRIALS_RECOVERY)" "$KILL_MIN" "$KILL_P50" "$KILL_MAX"
  printf '%-58s %8s %8s %8s\n' "a. recovery after docker rm -f, s (n=$TRIALS_RECOVERY)" "$RM_MIN" "$RM_P50" "$RM_MAX"
  echo
  printf '%-58s %8s\n' "b. agent RSS at start, no stacks, MiB" "$RSS_START"
  printf '%-58s %8s\n' "b. agent RSS, 10 managed containers, idle 10 s, MiB" "$RSS_IDLE"
  echo
  printf '%-58s %8s\n' "c. roost up --wait, 5 services, median s (n=$TRIALS_UP)" "$UP_ROOST"
  printf '%-58s %8s\n' "c. peer, same 5 containers, median s (n=$TRIALS_UP)" "$UP_PEER"
  printf '%-58s %8s\n' "c. ratio roost / peer" "$RATIO"
  echo
  echo "a: from the docker command to \`roost ps --json\` showing the slot running and ready (1 s health"
  echo "   check): kill = same container restarted; rm -f = a new container. ps polled every ~50 ms."
  echo "c: peer = $PEER."
  echo "   Trials, roost: $(paste -sd' ' "$TMP/up-roost.txt")"
  echo "   Trials, peer:  $(paste -sd' ' "$TMP/up-peer.txt")"
  echo "   Raw recovery, kill: $(paste -sd' ' "$TMP/kill.txt")"
  echo "   Raw recovery, rm:   $(paste -sd' ' "$TMP/rm.txt")"
  echo "Total bench time: $(elapsed)s"
} | tee "$RESULTS"
