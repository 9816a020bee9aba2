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

# --- percentiles and ratios --------------------------------------------------------------------
stats() { # numbers (seconds) on stdin -> "n min p50 p95 max" (nearest rank)
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "0 n/a n/a n/a n/a"; exit }
    r50 = int(NR * 0.50); if (r50 < NR * 0.50) r50++; if (r50 < 1) r50 = 1
    r95 = int(NR * 0.95); if (r95 < NR * 0.95) r95++
    printf "%d %.3f %.3f %.3f %.3f\n", NR, v[1], v[r50], v[r95], v[NR] }'
}
maxof() { sort -g | tail -n 1 | awk '{ printf "%.3f", $1 } END { if (NR == 0) printf "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.1fx", a / b; else print "n/a" }'; }

# --- the engine sampler (3 hosts; needs DPATH[1..3], the hosts' dockerd sockets, and TMP) --------
# Every 100 ms, all 3 dockerds at once (curl on the unix socket; a cut does not affect it):
# "t_us run1 run2 run3 healthy1 healthy2 healthy3" per line, -1 for a host that did not answer
# within 0.5 s. FILTER is a Docker API filter for the service's running containers.
sampler_loop() { # FILTER OUTFILE MAXSAMPLES
  local filter=$1 out=$2 max=$3 n=0 t i s run hl next
  while [ "$n" -lt "$max" ]; do
    n=$((n + 1))
    t=${EPOCHREALTIME/./}
    for i in 1 2 3; do
      curl -s -m 0.5 --unix-socket "${DPATH[$i]}" -G --data-urlencode "filters=$filter" \
        http://docker/containers/json >"$TMP/samp$i" 2>/dev/null || echo FAIL >"$TMP/samp$i" &
    done
    wait
    run=""; hl=""
    for i in 1 2 3; do
      s=$(<"$TMP/samp$i")
      if [[ $s != \[* ]]; then run+=" -1"; hl+=" -1"; continue; fi
      local a=${s//\"Id\":/}
      run+=" $(( (${#s} - ${#a}) / 5 ))"
      a=${s//(healthy)/}
      hl+=" $(( (${#s} - ${#a}) / 9 ))"
    done
    echo "$t$run$hl" >>"$out"
    next=$(( t + 100000 - ${EPOCHREALTIME/./} ))
    [ "$next" -gt 0 ] && sleep "$(printf '0.%06d' "$next")"
  done
}
sampler_start() { # FILTER OUTFILE
  : >"$2"
  sampler_loop "$1" "$2" 3000 </dev/null &
  SAMPLER_PID=$!
}
sampler_stop() {
  if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; fi
  SAMPLER_PID=""
}
# Over a sample file: "overlap_s maxcopies unanswered_samples open" — the longest stretch with 2+ db
# containers running on the 3 engines together (from its first sample to the first sample after
# it with fewer; to the last sample if it never ended: then open=1, a lower bound).
overlap_of() {
  awk '{ tot = 0; for (i = 2; i <= 4; i++) { if ($i < 0) unk++; else tot += $i }
         if (tot > mx) mx = tot
         if (tot >= 2) { if (!inside) { inside = 1; s = $1 } } else if (inside) { d = $1 - s; if (d > best) best = d; inside = 0 }
         last = $1 }
       END { if (inside) { d = last - s; if (d > best) { best = d; open = 1 } }
             printf "%.3f %d %d %d\n", best / 1e6, mx, unk, open + 0 }' "$1"
}

# --- cluster views (needs r, STACK and SVC, the service looked at) -----------------------------
# "nodes reachable leader svc_ready_nodes" as host H sees the cluster and the stack.
view() {
  local n up l db
  read -r n up l < <(r "$1" nodes --json 2>/dev/null |
    jq -r '[length, ([.[] | select(.reachable)] | length), ([.[] | select(.leader) | .name] | join(","))] | @tsv' 2>/dev/null || echo "0 0 -") || true
  db=$(r "$1" ps -p "$STACK" --json 2>/dev/null |
    jq -r --arg s "$SVC" '[.[] | select(.service == $s and .desired and .ready) | .node] | join(",")' 2>/dev/null || echo "")
  echo "$n $up ${l:--} ${db:--}"
}
# Settled: every host sees 3 nodes, 3 reachable, the same single leader and the service ready on
# the same single node (NOSVC=1: ignores the service). -> "leader node".
settled_once() {
  local i n up l db first=""
  for i in 1 2 3; do
    read -r n up l db < <(view "$i")
    [ "$n" = 3 ] && [ "$up" = 3 ] && [[ $l =~ ^h[1-3]$ ]] || return 1
    if [ "${NOSVC:-0}" = 1 ]; then db=-; else [[ $db =~ ^h[1-3]$ ]] || return 1; fi
    [ -z "$first" ] && first="$l $db"
    [ "$l $db" = "$first" ] || return 1
  done
  echo "$first"
}
wait_settled() { # SECONDS -> "leader node"; twice in a row, 0.3 s apart
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

# --- the preamble of a 3-host testbed benchmark --------------------------------------------------
# The state a cleanup looks at, before anything is started: TMP (a new directory named after
# the benchmark), no watchdog or sampler yet, no testbed or swarm to tear down.
# shellcheck disable=SC2034 # the benchmark and its cleanup read them
bench_state() { # NAME
  TMP=$(mktemp -d "/tmp/roost-bench-$1.XXXXXX")
  WATCHDOG_PID=""
  SAMPLER_PID=""
  TESTBED_STARTED=0
  SWARM_STARTED=0
}

# The traps: the script's `cleanup` on exit, the failing line on an error, a clean exit on an
# interrupt; then the watchdog.
bench_traps() {
  trap cleanup EXIT
  trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
  trap 'log "interrupted"; exit 130' INT TERM
  start_watchdog
}

# Builds the release binary if it is missing, brings 3 testbed hosts up (TESTBED_STARTED=1, so
# the cleanup tears them down; `testbed up` gets UP_SECONDS at most) and fills SOCK, DSOCK and
# DPATH (host number -> agent socket, dockerd URL, dockerd socket path) for r, dk and the sampler.
testbed_up3() { # UP_SECONDS
  local i
  if [ ! -x "$ROOST_BIN" ]; then
    log "building the release binary"
    (cd "$REPO" && cargo build --release -p roost)
  fi
  log "testbed up 3 ($TESTBED_DIR)${ROOST_LOG:+, ROOST_LOG=$ROOST_LOG}"
  TESTBED_STARTED=1
  timeout "$1" "$TB" up 3 >/dev/null
  declare -ga SOCK DSOCK DPATH
  for i in 1 2 3; do
    SOCK[i]=$("$TB" sock "h$i")
    DSOCK[i]=$("$TB" dsock "h$i")
    DPATH[i]=${DSOCK[$i]#unix://}
  done
}
r() { local h=$1; shift; timeout 10 "$ROOST_BIN" --host "${SOCK[$h]}" "$@"; }  # H ARGS: the CLI on host H
dk() { local h=$1; shift; timeout 20 "$DOCKER" -H "${DSOCK[$h]}" "$@"; }       # H ARGS: docker on host H
others() { local i; for i in 1 2 3; do [ "$i" != "$1" ] && printf '%s ' "$i"; done; return 0; } # H -> the other two

# The per-poll parser: a bash regex over the pretty JSON rows (no jq per poll; check it once
# against jq). Sets READY to the space-separated nodes where SVC is desired and ready.
READY=""
ready_nodes() { # H -> READY ("" also when no answer)
  local out rest row
  READY=""
  out=$(timeout 2 "$ROOST_BIN" --host "${SOCK[$1]}" ps -p "$STACK" --json 2>/dev/null) || return 0
  rest=$out
  local k=0
  while [ "$k" -lt 50 ] && [[ $rest =~ \{([^{}]*)\} ]]; do
    k=$((k + 1))
    row=${BASH_REMATCH[1]}
    rest=${rest#*"${BASH_REMATCH[0]}"}
    [[ $row =~ \"service\":\ \"$SVC\" ]] && [[ $row =~ \"desired\":\ true ]] && [[ $row =~ \"ready\":\ true ]] &&
      [[ $row =~ \"node\":\ \"([^\"]+)\" ]] && READY+="${READY:+ }${BASH_REMATCH[1]}"
  done
  return 0
}

# Polls host S back to back (10 ms apart) until SVC is ready on a node other than LOST, for at most
# MAX polls and until DEADLINE_US. Sets T_READY (µs; empty if never), NEW_NODE and POLLS.
# shellcheck disable=SC2034 # the caller reads them
poll_ready_elsewhere() { # S LOST DEADLINE_US MAX
  local n
  T_READY=""; NEW_NODE=""; POLLS=0
  while [ "$POLLS" -lt "$4" ]; do
    POLLS=$((POLLS + 1))
    ready_nodes "$1"
    for n in $READY; do [ "$n" != "$2" ] && { T_READY=$(now_us); NEW_NODE=$n; return 0; }; done
    [ "$(now_us)" -lt "$3" ] || return 0
    sleep 0.01
  done
}
