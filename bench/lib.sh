# shellcheck shell=bash
# Shared by the benchmark scripts (sourced, not run): the docker client, the watchdog
# that bounds a run, and for the testbed benchmarks the time helpers, the "testbed
# already up" refusal and the teardown.

if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker || echo docker); fi

# Aborts the script (SIGTERM, so its EXIT trap cleans up) after MAX_SECONDS; sets
# WATCHDOG_PID for the cleanup to kill.
start_watchdog() {
  ( sleep "$MAX_SECONDS" >/dev/null 2>&1 </dev/null & sp=$!
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    wait "$sp" || exit 0
    echo "bench: watchdog: over ${MAX_SECONDS}s, aborting" >&2; kill -TERM $$ ) &
  WATCHDOG_PID=$!
}

# Kills and reaps a background job, if there is one.
stop_job() {
  if [ -n "${1:-}" ]; then kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; fi
  return 0
}

# --- testbed benchmarks ----------------------------------------------------------------------
# Time: $EPOCHREALTIME (bash 5, microseconds, no fork) as integer µs.
T_START=${EPOCHREALTIME/./}
now_us() { echo "${EPOCHREALTIME/./}"; }
elapsed() { echo $(( (${EPOCHREALTIME/./} - T_START) / 1000000 )); }
log() { printf '[%4ss] %s\n' "$(elapsed)" "$*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }
secs() { awk -v d="$1" 'BEGIN { printf "%.3f\n", d / 1e6 }'; } # µs -> s

# Root, jq and bash 5; exits 2 (touching nothing) while another testbed is up.
testbed_preflight() {
  [ "$(id -u)" -eq 0 ] || die "run as root (the testbed makes namespaces and daemons)"
  command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
  [ -n "${EPOCHREALTIME:-}" ] || die "bash 5 is needed (\$EPOCHREALTIME)"
  if ip link show roostbr0 >/dev/null 2>&1 || ip netns list | grep -q '^rh[1-7]\b'; then
    echo "bench: a testbed is already up on this machine; run \`testbed down\` first" >&2
    exit 2
  fi
}

# The testbed half of a cleanup (rc = the script's exit code; returns 1 if the teardown
# failed): on failure the testbed's state and agent logs, then heal, keep logs if
# BENCH_KEEP_LOGS is set, leave the swarm if one was made, and tear down.
testbed_teardown() {
  local rc=$1 failed=0
  [ "$TESTBED_STARTED" = 1 ] || return 0
  if [ "$rc" -ne 0 ]; then
    echo "bench: failed (rc $rc); testbed state before teardown:" >&2
    "$TB" status >&2
    for f in "$TESTBED_DIR"/h*/agent.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 6 "$f" >&2; }; done
  fi
  log "cleaning up"
  for i in 1 2 3; do "$TB" heal "h$i" >/dev/null 2>&1; done
  if [ -n "${BENCH_KEEP_LOGS:-}" ]; then
    mkdir -p "$BENCH_KEEP_LOGS"
    for i in 1 2 3; do cp "$TESTBED_DIR/h$i/agent.log" "$BENCH_KEEP_LOGS/h$i-agent.log" 2>/dev/null; done
    cp -r "$TMP"/. "$BENCH_KEEP_LOGS/" 2>/dev/null
  fi
  if [ "$SWARM_STARTED" = 1 ]; then
    for i in 1 2 3; do timeout 20 "$DOCKER" -H "unix://$TESTBED_DIR/h$i/docker.sock" swarm leave --force >/dev/null 2>&1 & done
    wait
  fi
  timeout 90 "$TB" down || { echo "bench: testbed down failed" >&2; failed=1; }
  return "$failed"
}
