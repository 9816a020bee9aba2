#!/usr/bin/env bash
# Container network benchmark on a 3-host testbed: what a service sees talking to a service on
# ANOTHER host, through roost's cluster network and through Docker Swarm's overlay, against the
# same-host baseline. Prints figures; no pass/fail thresholds.
#
#   sudo bash bench/network.sh
#
# Workloads, the same in every variant (client container -> server containers by service name):
#   throughput  iperf3 (roost-test/app: `iperf3 -s` / `iperf3 -c ipsrv -t D -J`), single stream
#               and -P 4, receiver side, Gbit/s
#   latency     wrk (roost-test/app: `wrk -t1 -c1 -dDs --latency http://web:8080/`) against
#               roost-echo (roost-test/echo, a small Rust HTTP server: cheap per request, so the
#               network path, not the server, dominates), p50 and p99 in ms, and requests/s
# Variants:
#   same-host      all containers on h1's dockerd, a user-defined bridge network (the baseline)
#   swarm-overlay  Docker Swarm (h1 manager, h2 worker): an attachable overlay network, tried
#                  with `--opt encrypted` first (IPsec; the output says whether it passed traffic
#                  and whether ESP states existed, else it is measured unencrypted); services
#                  with --endpoint-mode dnsrr (no IPVS in this kernel) and nothing published;
#                  servers pinned to h2, the client to h1 (node.id constraints: every testbed host
#                  has the same hostname as far as Swarm is concerned)
#   roost          a roost cluster of h1-h3 (token on h1, h2 and h3 join), the stack `netbench`
#                  deployed with `testbed roost h1 up -f FILE -p netbench --wait`: servers with
#                  node.hostname==h2, the client node.hostname==h1; the client reaches them by
#                  service name across nodes. If that fails the table says why (n/a).
# The swarm is left (on every host) before roost runs: both may use VXLAN on the same hosts.
#
# Env: BENCH_DURATION (seconds per measurement, default 5), BENCH_WRK_RUNS (default 3: the table
# shows the median p50/p99/req/s), BENCH_REACH_SECONDS (default 30: how long the client may take
# to reach the servers by name), BENCH_MAX_SECONDS (watchdog, default 420), BENCH_KEEP_LOGS=DIR (copy agent logs and raw outputs there), ROOST_BIN, TESTBED_DIR
# (default /tmp/roost-testbed-bench), BENCH_SKIP_ROOST=1 (the first two variants only).
# Bounded: every wait has a deadline and every command a timeout; the trap always leaves the
# swarm and tears the testbed down. Refuses to run (exit 2) while another testbed is up.
# Needs roost-test/app:latest and roost-test/echo:latest in the main engine (built if missing).
# Output: a table on stdout, also written to bench/results/network-latest.txt.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TB="$REPO/testbed/testbed"
export ROOST_BIN=${ROOST_BIN:-$REPO/target/release/roost}
export TESTBED_DIR=${TESTBED_DIR:-/tmp/roost-testbed-bench}
export TESTBED_QUIET=1
RESULTS=${BENCH_RESULTS:-$REPO/bench/results/network-latest.txt}
MAX_SECONDS=${BENCH_MAX_SECONDS:-420}
DURATION=${BENCH_DURATION:-5}
WRK_RUNS=${BENCH_WRK_RUNS:-3}
REACH_SECONDS=${BENCH_REACH_SECONDS:-30}
STACK=netbench
APP=roost-test/app:latest
ECHO=roost-test/echo:latest
BUSYBOX=roost-test/busybox:latest
export TESTBED_IMAGES="$BUSYBOX $APP $ECHO"

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
testbed_preflight

TMP=$(mktemp -d /tmp/roost-bench-network.XXXXXX)
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

# --- images, binary, testbed ---------------------------------------------------------------------
bash "$REPO/scripts/build-test-images.sh" >/dev/null 2>&1 || die "scripts/build-test-images.sh failed"
bash "$REPO/scripts/build-app-image.sh" >&2 || die "scripts/build-app-image.sh failed"
if [ ! -x "$ROOST_BIN" ]; then
  log "building the release binary"
  (cd "$REPO" && cargo build --release -p roost)
fi
log "testbed up 3 ($TESTBED_DIR; images: $TESTBED_IMAGES)"
TESTBED_STARTED=1
t_up=$(now_us)
timeout 240 "$TB" up 3 >/dev/null
UP_S=$(secs $(( $(now_us) - t_up )))
log "testbed up in $UP_S s"

declare -a SOCK DSOCK
for i in 1 2 3; do
  SOCK[$i]=$("$TB" sock "h$i")
  DSOCK[$i]=$("$TB" dsock "h$i")
done
r() { local h=$1; shift; timeout 20 "$ROOST_BIN" --host "${SOCK[$h]}" "$@"; }
dk() { local h=$1; shift; timeout 30 "$DOCKER" -H "${DSOCK[$h]}" "$@"; }
# H SECONDS CONTAINER CMD...: a command in a container of host H, bounded.
cx() { local h=$1 t=$2 c=$3; shift 3; timeout "$t" "$DOCKER" -H "${DSOCK[$h]}" exec "$c" "$@"; }

# --- measuring -------------------------------------------------------------------------------------
declare -A T1 T4 P50 P99 RPS NOTE LABEL PALL
median() { { grep . || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
ms_of() { # wrk's "23.00us" / "1.93ms" / "1.20s" -> ms
  awk -v v="$1" 'BEGIN { n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}
gbit() { jq -r '(.end.sum_received.bits_per_second // empty) / 1e9 | . * 1000 | round / 1000' "$1" 2>/dev/null || true; }

# VARIANT H CLIENT_CONTAINER: waits until the client reaches both servers by name (bounded), then
# runs iperf3 (1 and 4 streams) and wrk from the client; fills T1 T4 P50 P99 RPS (or NOTE).
measure() {
  local v=$1 h=$2 c=$3 k ok=0 out deadline run
  deadline=$(( $(elapsed) + REACH_SECONDS ))
  for k in $(seq 1 100); do
    if cx "$h" 4 "$c" nc -z -w 2 ipsrv 5201 >/dev/null 2>&1 &&
       cx "$h" 4 "$c" curl -fsS -m 2 -o /dev/null http://web:8080/ >/dev/null 2>&1; then ok=1; break; fi
    [ "$(elapsed)" -lt "$deadline" ] || break
    sleep 0.5
  done
  if [ "$ok" != 1 ]; then
    NOTE[$v]="${NOTE[$v]:+${NOTE[$v]}; }the client did not reach ipsrv:5201 and web:8080 by name within ${REACH_SECONDS} s"
    log "$v: ${NOTE[$v]}"
    cx "$h" 5 "$c" getent hosts ipsrv web >"$TMP/$v-dns.txt" 2>&1 || true
    log "$v: name lookup from the client: $(tr '\n' ' ' <"$TMP/$v-dns.txt")"
    return 1
  fi
  cx "$h" $((DURATION + 30)) "$c" iperf3 -c ipsrv -t "$DURATION" -J >"$TMP/$v-iperf1.json" 2>&1 || true
  T1[$v]=$(gbit "$TMP/$v-iperf1.json")
  sleep 1
  cx "$h" $((DURATION + 30)) "$c" iperf3 -c ipsrv -t "$DURATION" -P 4 -J >"$TMP/$v-iperf4.json" 2>&1 || true
  T4[$v]=$(gbit "$TMP/$v-iperf4.json")
  sleep 1
  # wrk's p99 on 2 shared cores is noisy: WRK_RUNS runs, the median of each figure.
  : >"$TMP/$v-wrk-p50"; : >"$TMP/$v-wrk-p99"; : >"$TMP/$v-wrk-rps"
  for run in $(seq 1 "$WRK_RUNS"); do
    cx "$h" $((DURATION + 30)) "$c" wrk -t1 -c1 -d"${DURATION}s" --latency http://web:8080/ >"$TMP/$v-wrk.txt" 2>&1 || true
    cat "$TMP/$v-wrk.txt" >>"$TMP/$v-wrk-all.txt"
    out=$(awk '$1 == "50%" { print $2 }' "$TMP/$v-wrk.txt")
    [ -n "$out" ] && ms_of "$out" >>"$TMP/$v-wrk-p50" && echo >>"$TMP/$v-wrk-p50"
    out=$(awk '$1 == "99%" { print $2 }' "$TMP/$v-wrk.txt")
    [ -n "$out" ] && ms_of "$out" >>"$TMP/$v-wrk-p99" && echo >>"$TMP/$v-wrk-p99"
    awk '$1 == "Requests/sec:" { printf "%.0f\n", $2 }' "$TMP/$v-wrk.txt" >>"$TMP/$v-wrk-rps"
  done
  P50[$v]=$(median <"$TMP/$v-wrk-p50"); P99[$v]=$(median <"$TMP/$v-wrk-p99"); RPS[$v]=$(median <"$TMP/$v-wrk-rps")
  PALL[$v]="p99s $(grep . "$TMP/$v-wrk-p99" | tr '\n' ' ')"
  [ -n "${T1[$v]}" ] || NOTE[$v]="${NOTE[$v]:+${NOTE[$v]}; }iperf3 failed: $(grep -o '"error":.*' "$TMP/$v-iperf1.json" | head -c 200)"
  [ -n "${P99[$v]:-}" ] || NOTE[$v]="${NOTE[$v]:+${NOTE[$v]}; }wrk failed: $(tail -n 2 "$TMP/$v-wrk.txt" | tr '\n' ' ')"
  log "$v: iperf3 ${T1[$v]:-?} Gbit/s (1), ${T4[$v]:-?} Gbit/s (-P 4); wrk p50 ${P50[$v]:-?} ms, p99 ${P99[$v]:-?} ms, ${RPS[$v]:-?} req/s"
}

# --- same-host: plain docker on h1, a user-defined bridge --------------------------------------------
same_host() {
  local v=same-host
  LABEL[$v]="same-host (h1, bridge)"
  dk 1 network create nb-local >/dev/null
  dk 1 run -d --name nb-ipsrv --network nb-local --network-alias ipsrv "$APP" iperf3 -s >/dev/null
  dk 1 run -d --name nb-web --network nb-local --network-alias web "$ECHO" >/dev/null
  dk 1 run -d --name nb-client --network nb-local --init "$APP" sleep infinity >/dev/null
  measure "$v" 1 nb-client || true
  dk 1 rm -f nb-ipsrv nb-web nb-client >/dev/null 2>&1 || true
  dk 1 network rm nb-local >/dev/null 2>&1 || true
}

# --- Docker Swarm overlay ----------------------------------------------------------------------------
declare -a NID
swarm_setup() {
  local wt i k n
  SWARM_STARTED=1
  dk 1 swarm init --advertise-addr 10.77.0.11 >"$TMP/swarm-init.log" 2>&1 || { SWARM_ERR="swarm init failed: $(tail -n 1 "$TMP/swarm-init.log")"; return 1; }
  wt=$(dk 1 swarm join-token -q worker 2>/dev/null) || { SWARM_ERR="no worker join token"; return 1; }
  dk 2 swarm join --token "$wt" --advertise-addr 10.77.0.12 10.77.0.11:2377 >"$TMP/swarm-join.log" 2>&1 ||
    { SWARM_ERR="swarm join of h2 failed: $(tail -n 1 "$TMP/swarm-join.log")"; return 1; }
  for i in 1 2; do
    NID[$i]=$(dk "$i" info --format '{{.Swarm.NodeID}}' 2>/dev/null) && [ -n "${NID[$i]}" ] || { SWARM_ERR="no swarm node ID on h$i"; return 1; }
  done
  for k in $(seq 1 60); do
    n=$(dk 1 node ls --format '{{.Status}}' 2>/dev/null | grep -c '^Ready$' || true)
    [ "$n" -ge 2 ] && return 0
    sleep 0.5
  done
  SWARM_ERR="the 2 swarm nodes were not Ready within 30 s"; return 1
}
swarm_container() { # H SERVICE -> the id of the service's running container on host H (waits up to 60 s)
  local k id
  for k in $(seq 1 120); do
    id=$(dk "$1" ps -q -f "label=com.docker.swarm.service.name=$2" -f status=running 2>/dev/null | head -n 1)
    [ -n "$id" ] && { echo "$id"; return 0; }
    sleep 0.5
  done
  return 1
}
swarm_services_down() {
  local s
  for s in ipsrv web client; do dk 1 service rm "$s" >/dev/null 2>&1 || true; done
  for _ in $(seq 1 40); do
    [ -z "$(dk 1 ps -q -f label=com.docker.swarm.service.name 2>/dev/null)$(dk 2 ps -q -f label=com.docker.swarm.service.name 2>/dev/null)" ] && break
    sleep 0.5
  done
  for _ in $(seq 1 20); do dk 1 network rm nb-overlay >/dev/null 2>&1 && break; sleep 0.5; done
}
# ENCRYPTED(0|1) -> deploys the services, runs measure; returns 1 if the client never reached them.
swarm_run() {
  local enc=$1 opt=() c v=swarm-overlay
  [ "$enc" = 1 ] && opt=(--opt encrypted)
  dk 1 network create -d overlay --attachable "${opt[@]}" nb-overlay >"$TMP/ov.log" 2>&1 ||
    { NOTE[$v]="overlay network create failed: $(tail -n 1 "$TMP/ov.log")"; return 2; }
  local common=(service create --detach --no-resolve-image --network nb-overlay --endpoint-mode dnsrr --stop-grace-period 1s)
  dk 1 "${common[@]}" --name ipsrv --constraint "node.id==${NID[2]}" "$APP" iperf3 -s >/dev/null &&
    dk 1 "${common[@]}" --name web --constraint "node.id==${NID[2]}" "$ECHO" >/dev/null &&
    dk 1 "${common[@]}" --name client --init --constraint "node.id==${NID[1]}" "$APP" sleep infinity >/dev/null ||
    { NOTE[$v]="docker service create failed"; return 2; }
  c=$(swarm_container 1 client) && swarm_container 2 ipsrv >/dev/null && swarm_container 2 web >/dev/null ||
    { NOTE[$v]="the swarm services did not run within 60 s"; return 2; }
  if [ "$enc" = 1 ]; then
    XFRM=$("$TB" exec h1 ip xfrm state 2>/dev/null | grep -c '^src' || true)
  fi
  measure "$v" 1 "$c"
}
swarm_part() {
  local v=swarm-overlay rc=0
  LABEL[$v]="swarm-overlay"
  SWARM_ERR=""
  if ! swarm_setup; then NOTE[$v]="$SWARM_ERR"; log "swarm: $SWARM_ERR"; return 0; fi
  log "swarm: h1 manager, h2 worker; trying an encrypted overlay"
  XFRM=0
  swarm_run 1 || rc=$?
  if [ "$rc" = 0 ]; then
    if [ "${XFRM:-0}" -gt 0 ]; then
      ENC_NOTE="encrypted overlay (--opt encrypted) worked: $XFRM IPsec ESP states on h1"
      LABEL[$v]="swarm-overlay (encrypted)"
    else
      ENC_NOTE="--opt encrypted was accepted and passed traffic, but h1 showed no IPsec (xfrm) state: likely unencrypted"
      LABEL[$v]="swarm-overlay (enc?)"
    fi
  else
    local why
    why=$(grep -iE 'xfrm|encrypt|esp|aead' "$TESTBED_DIR/h1/dockerd.log" "$TESTBED_DIR/h2/dockerd.log" 2>/dev/null | grep -iE 'error|fail|warn' | tail -n 1 | sed 's/^[^:]*://' | head -c 300)
    ENC_NOTE="encrypted overlay did not work (${NOTE[$v]:-?}${why:+; dockerd: $why}); measured an unencrypted overlay instead"
    log "swarm: $ENC_NOTE"
    NOTE[$v]=""
    swarm_services_down
    rc=0
    swarm_run 0 || rc=$?
    LABEL[$v]="swarm-overlay (plain)"
  fi
  log "swarm: $ENC_NOTE"
  swarm_services_down
  # Leave the swarm now: roost's cluster network may use VXLAN on the same hosts.
  for i in 2 1; do dk "$i" swarm leave --force >/dev/null 2>&1 || true; done
  SWARM_STARTED=0
}

# --- roost across nodes ------------------------------------------------------------------------------
roost_cross_node() {
  local v=roost k n c
  LABEL[$v]="roost (cross-node)"
  TOKEN=$(r 1 token) || { NOTE[$v]="roost token failed"; return 0; }
  r 2 join 10.77.0.11:4280 --token "$TOKEN" >/dev/null 2>&1 || { NOTE[$v]="h2 could not join"; return 0; }
  r 3 join 10.77.0.11:4280 --token "$TOKEN" >/dev/null 2>&1 || { NOTE[$v]="h3 could not join"; return 0; }
  for k in $(seq 1 60); do
    n=$(r 1 nodes --json 2>/dev/null | jq '[.[] | select(.reachable)] | length' 2>/dev/null || echo 0)
    [ "$n" = 3 ] && break
    sleep 0.5
  done
  [ "$n" = 3 ] || { NOTE[$v]="the cluster did not show 3 reachable nodes within 30 s"; return 0; }
  log "roost: cluster of 3 formed"
  cat >"$TMP/netbench.yaml" <<EOF
services:
  ipsrv:
    image: $APP
    command: ["iperf3", "-s"]
    deploy:
      placement:
        constraints: ["node.hostname==h2"]
  web:
    image: $ECHO
    deploy:
      placement:
        constraints: ["node.hostname==h2"]
  client:
    image: $APP
    command: ["sleep", "infinity"]
    init: true
    deploy:
      placement:
        constraints: ["node.hostname==h1"]
EOF
  if ! timeout 150 "$TB" roost h1 up -f "$TMP/netbench.yaml" -p "$STACK" --wait --wait-timeout 120 >"$TMP/roost-up.log" 2>&1; then
    NOTE[$v]="roost up --wait failed: $(tail -n 2 "$TMP/roost-up.log" | tr '\n' ' ' | head -c 300)"
    log "roost: ${NOTE[$v]}"
    return 0
  fi
  c=""
  for k in $(seq 1 60); do
    c=$(dk 1 ps -q -f "label=io.roost.stack=$STACK" -f "label=io.roost.service=client" -f status=running 2>/dev/null | head -n 1)
    [ -n "$c" ] && break
    sleep 0.5
  done
  [ -n "$c" ] || { NOTE[$v]="no running client container of the stack on h1"; return 0; }
  [ -n "$(dk 2 ps -q -f "label=io.roost.stack=$STACK" -f "label=io.roost.service=ipsrv" 2>/dev/null)" ] ||
    NOTE[$v]="ipsrv is not on h2 (placement?)"
  measure "$v" 1 "$c" || true
  r 1 down -p "$STACK" >/dev/null 2>&1 || true
}

log "same-host"
same_host
log "Docker Swarm"
ENC_NOTE=""
swarm_part
if [ -z "${BENCH_SKIP_ROOST:-}" ]; then
  log "roost"
  roost_cross_node
else
  LABEL[roost]="roost (cross-node)"; NOTE[roost]="skipped (BENCH_SKIP_ROOST)"
fi

# --- report ------------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
diffms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && a != "n/a" && b != "n/a") printf "%+.3f ms", a - b; else print "n/a" }'; }
val() { local x=${1:-}; echo "${x:-n/a}"; }
mkdir -p "$(dirname "$RESULTS")"
{
  echo "roost container network benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "roost $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?') (release; working tree as built), $(nproc) cores, kernel $(uname -r),"
  echo "3 hosts on testbed/testbed (one machine: netns + own dockerd each, veths on one bridge), Docker $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null || echo '?')"
  echo "Client on h1, servers on h2 (same-host: all on h1). ${DURATION} s per measurement, one run each."
  echo
  printf '%-28s %12s %12s %10s %10s %9s\n' "variant" "iperf3 Gb/s" "-P 4 Gb/s" "p50 ms" "p99 ms" "req/s"
  for v in same-host swarm-overlay roost; do
    printf '%-28s %12s %12s %10s %10s %9s\n' "${LABEL[$v]:-$v}" "$(val "${T1[$v]:-}")" "$(val "${T4[$v]:-}")" \
      "$(val "${P50[$v]:-}")" "$(val "${P99[$v]:-}")" "$(val "${RPS[$v]:-}")"
  done
  echo
  echo "roost vs Swarm and vs same-host:"
  printf '  %-44s %s\n' "throughput roost/swarm (1 stream, -P 4)" "$(ratio "${T1[roost]:-}" "${T1[swarm-overlay]:-}"), $(ratio "${T4[roost]:-}" "${T4[swarm-overlay]:-}")"
  printf '  %-44s %s\n' "throughput roost/same-host (1 stream, -P 4)" "$(ratio "${T1[roost]:-}" "${T1[same-host]:-}"), $(ratio "${T4[roost]:-}" "${T4[same-host]:-}")"
  printf '  %-44s %s\n' "throughput swarm/same-host (1 stream, -P 4)" "$(ratio "${T1[swarm-overlay]:-}" "${T1[same-host]:-}"), $(ratio "${T4[swarm-overlay]:-}" "${T4[same-host]:-}")"
  printf '  %-44s %s\n' "added p99 latency: roost - same-host" "$(diffms "${P99[roost]:-}" "${P99[same-host]:-}")"
  printf '  %-44s %s\n' "added p99 latency: swarm - same-host" "$(diffms "${P99[swarm-overlay]:-}" "${P99[same-host]:-}")"
  printf '  %-44s %s\n' "added p50 latency: roost - same-host, swarm - same-host" "$(diffms "${P50[roost]:-}" "${P50[same-host]:-}"), $(diffms "${P50[swarm-overlay]:-}" "${P50[same-host]:-}")"
  echo
  [ -n "$ENC_NOTE" ] && echo "Swarm encryption: $ENC_NOTE"
  for v in same-host swarm-overlay roost; do [ -n "${NOTE[$v]:-}" ] && echo "note, $v: ${NOTE[$v]}"; done
  for v in same-host swarm-overlay roost; do [ -n "${PALL[$v]:-}" ] && echo "wrk runs, $v: ${PALL[$v]}(ms; the table shows the medians)"; done
  echo "Workloads: iperf3 3.12 (receiver Gbit/s, TCP) and $WRK_RUNS x wrk -t1 -c1 --latency against roost-echo (HTTP/1.1"
  echo "  keep-alive), from the client container to the servers by service name. All hosts share one"
  echo "  machine's $(nproc) cores: throughput is CPU-bound, so read the ratios, not the absolute figures."
  echo "Swarm: services with --endpoint-mode dnsrr (no IPVS here), nothing published, node.id constraints."
  echo "Time: testbed up $UP_S s, total $(elapsed) s (before teardown)"
} | tee "$RESULTS"
if [ -n "${BENCH_KEEP_LOGS:-}" ]; then mkdir -p "$BENCH_KEEP_LOGS"; cp "$TMP"/*.json "$TMP"/*.txt "$TMP"/*.log "$BENCH_KEEP_LOGS/" 2>/dev/null || true; fi
