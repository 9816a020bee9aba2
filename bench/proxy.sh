#!/usr/bin/env bash
# Proxy benchmark: wrk through roost's ingress to one local backend, next to nginx,
# HAProxy and Caddy (Debian's packages) configured for the same route, in the same run.
# Prints figures (no pass/fail): requests/s, p50/p99 latency, errors, proxy memory, and
# roost's ratio to each peer.
#
#   sudo bash bench/proxy.sh
#
# - Backend: one roost-test/echo container (scripts/build-test-images.sh), started by a
#   roost agent of its own (data dir /tmp/roost-bench-proxy, --listen none, ingress on
#   127.0.0.1:18080 only) from a stack whose x-roost route is Host bench.lan. Its published
#   host port (engine-chosen, read from `roost ps`) is the upstream of every peer too.
# - Peers, foreground processes with our own configs (no system service is touched):
#   nginx 127.0.0.1:18081 (upstream keep-alive pool), HAProxy :18082, Caddy :18083; each
#   routes Host bench.lan and sets X-Forwarded-For/-Proto, as roost does.
# - Per target (direct to the backend, roost, nginx, haproxy, caddy): 1 s warm-up, then
#   wrk -t2 -c64 for BENCH_DURATION s (default 10) with keep-alive (wrk's default; no
#   Connection: close runs), twice: a small answer (GET /, ~100 bytes) and 64 KiB bodies
#   (GET /bytes/65536).
# - Memory: RSS after the target's runs; nginx = master + workers; roost = the whole agent
#   (reconciler, Raft, API and the proxy in one process).
#
# Installs wrk nginx-light haproxy caddy with apt-get when missing (services not started).
# Refuses to run when a port it needs is taken. Bounded: a watchdog aborts (and cleans up)
# after BENCH_MAX_SECONDS (default 240 + 12 x BENCH_DURATION). BENCH_NO_BUILD=1 skips the
# `cargo build --release -p roost` (target/release/roost must exist).
# Output: a table on stdout, also written to bench/results/proxy-latest.txt.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOST="$REPO/target/release/roost"
RESULTS="$REPO/bench/results/proxy-latest.txt"
IMAGE=roost-test/echo:latest
DUR=${BENCH_DURATION:-10}
MAX_SECONDS=${BENCH_MAX_SECONDS:-$((240 + 12 * DUR))}
DATA=/tmp/roost-bench-proxy
STACK=benchproxy
HOST=bench.lan
P_ROOST=18080 P_NGINX=18081 P_HAPROXY=18082 P_CADDY=18083

# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and uses the Docker engine)"
[[ $DUR =~ ^[1-9][0-9]*$ ]] || die "BENCH_DURATION must be a whole number of seconds"
for p in $P_ROOST $P_NGINX $P_HAPROXY $P_CADDY; do
  [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] || die "port $p is taken (another run, or another service); free it first"
done

# --- peers -------------------------------------------------------------------------------------
missing=()
for b in wrk:wrk nginx:nginx-light haproxy:haproxy caddy:caddy jq:jq curl:curl; do
  command -v "${b%%:*}" >/dev/null 2>&1 || missing+=("${b#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  # Keep the packages' services from starting (and taking port 80) while they install.
  POLICY=/usr/sbin/policy-rc.d
  if [ ! -e "$POLICY" ]; then printf '#!/bin/sh\nexit 101\n' >"$POLICY"; chmod +x "$POLICY"; OWN_POLICY=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || { [ -n "${OWN_POLICY:-}" ] && rm -f "$POLICY"; die "apt-get install failed"; }
  [ -n "${OWN_POLICY:-}" ] && rm -f "$POLICY"
  # The packages enable their services for the next boot; this bench only wanted the binaries.
  for s in nginx haproxy caddy; do
    if [[ " ${missing[*]} " == *" $s"* ]] && [ -d /run/systemd/system ]; then systemctl disable --quiet "$s" 2>/dev/null || true; fi
  done
fi

# --- build -------------------------------------------------------------------------------------
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  log "cargo build --release -p roost"
  (cd "$REPO" && cargo build --release --locked -p roost) || die "the release build failed"
fi
[ -x "$ROOST" ] || die "no $ROOST"
bash "$REPO/scripts/build-test-images.sh" 2>/dev/null || die "scripts/build-test-images.sh failed"

TMP=$(mktemp -d /tmp/roost-bench-proxy-run.XXXXXX)
AGENT_PID="" WATCHDOG_PID=""
PIDS=()
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM ERR
  set +e
  stop_job "$WATCHDOG_PID"
  log "cleaning up"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
    timeout 60 "$ROOST" down -p "$STACK" >/dev/null 2>&1 || log "warning: roost down -p $STACK failed"
    kill "$AGENT_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$AGENT_PID" 2>/dev/null
  fi
  # The agent's fence watchdog (it would also end once the data dir is gone).
  [ -f "$DATA/fence.pid" ] && kill "$(cat "$DATA/fence.pid")" 2>/dev/null
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  # Only once the stack is gone: a data dir left behind lets the next run adopt leftovers.
  [ -z "$("$DOCKER" ps -aq --filter "label=io.roost.stack=$STACK" 2>/dev/null)" ] && rm -rf "$DATA"
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'log "interrupted"; exit 130' INT TERM
start_watchdog

# --- roost and the backend ---------------------------------------------------------------------
export ROOST_HOST="unix://$DATA/roost.sock"
"$ROOST" agent --data-dir "$DATA" --name bench-proxy --listen none \
  --http-listen "127.0.0.1:$P_ROOST" --https-listen none >"$TMP/agent.log" 2>&1 </dev/null &
AGENT_PID=$!
for _ in $(seq 1 100); do timeout 2 "$ROOST" ps >/dev/null 2>&1 && break; sleep 0.1; done
timeout 2 "$ROOST" ps >/dev/null 2>&1 || { tail -20 "$TMP/agent.log" >&2; die "the agent did not answer within 10 s"; }
cat >"$TMP/compose.yaml" <<EOF
name: $STACK
services:
  echo:
    image: $IMAGE
    environment:
      NAME: bench-echo
    stop_grace_period: 2s
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 2s
      retries: 3
    x-roost:
      routes:
        - host: $HOST
          port: 8080
          tls: off
EOF
log "roost up (agent pid $AGENT_PID)"
"$ROOST" up -f "$TMP/compose.yaml" --wait --wait-timeout 60 >/dev/null 2>&1 || die "roost up --wait failed"
BP=$(timeout 5 "$ROOST" ps -p "$STACK" --json | jq -r '.[] | select(.service == "echo") | .ports[]' |
  sed -n 's/^0\.0\.0\.0:\([0-9]*\)->8080\/tcp$/\1/p' | head -n 1)
[[ $BP =~ ^[0-9]+$ ]] || die "no published host port for the backend in roost ps"
BACKEND="127.0.0.1:$BP"
log "backend at $BACKEND"

# --- peers' configs ----------------------------------------------------------------------------
mkdir -p "$TMP/nginx" "$TMP/caddy"
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  upstream echo { server $BACKEND; keepalive 64; }
  server { listen 127.0.0.1:$P_NGINX default_server; return 404; }
  server {
    listen 127.0.0.1:$P_NGINX;
    server_name $HOST;
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
EOF
cat >"$TMP/haproxy.cfg" <<EOF
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option forwardfor
frontend bench
  bind 127.0.0.1:$P_HAPROXY
  http-request set-header X-Forwarded-Proto http
  use_backend echo if { hdr(host) -i $HOST }
backend echo
  server echo $BACKEND
EOF
cat >"$TMP/caddy/Caddyfile" <<EOF
{
  admin off
  auto_https off
}
http://$HOST:$P_CADDY {
  bind 127.0.0.1
  reverse_proxy $BACKEND
}
EOF
nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx/" -e "$TMP/nginx/error.log" >"$TMP/nginx.out" 2>&1 </dev/null &
PIDS+=($!); PID_NGINX=$!
haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.out" 2>&1 </dev/null &
PIDS+=($!); PID_HAPROXY=$!
XDG_DATA_HOME="$TMP/caddy" XDG_CONFIG_HOME="$TMP/caddy" \
  caddy run --config "$TMP/caddy/Caddyfile" --adapter caddyfile >"$TMP/caddy.out" 2>&1 </dev/null &
PIDS+=($!); PID_CADDY=$!

# Every target must answer through to the backend, with the forwarded headers, before any
# figure counts (a 404 from a mistyped route would be very fast).
check() { # NAME PORT [XFF]: within 15 s
  local body=""
  for _ in $(seq 1 75); do
    body=$(curl -sf -m 2 -H "Host: $HOST" "http://127.0.0.1:$2/check" 2>/dev/null) && break
    sleep 0.2
  done
  [[ $body == "bench-echo GET /check"* ]] || { tail -n 5 "$TMP"/*.out "$TMP/nginx/error.log" >&2 2>/dev/null || true; die "$1 on :$2 does not reach the backend (got: ${body:-nothing})"; }
  [ "${3:-}" = xff ] && { [[ $body == *"x-forwarded-for: 127.0.0.1"* ]] || die "$1 does not set X-Forwarded-For: $body"; }
  return 0
}
check direct "$BP"
check roost "$P_ROOST" xff
check nginx "$P_NGINX" xff
check haproxy "$P_HAPROXY" xff
check caddy "$P_CADDY" xff
log "all targets answer through to the backend"

# --- runs --------------------------------------------------------------------------------------
rss_kib() { # PID... -> summed VmRSS of each and its children (KiB)
  local p c total=0
  for p in "$@"; do
    for c in $p $(pgrep -P "$p" || true); do
      total=$((total + $(awk '/^VmRSS:/ { print $2 }' "/proc/$c/status" 2>/dev/null || echo 0)))
    done
  done
  echo "$total"
}
# wrk output -> "rps p50_ms p99_ms errors MiB/s"
parse_wrk() {
  awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
       function mib(v) { if (v ~ /GB$/) return v * 1024; if (v ~ /MB$/) return v + 0; if (v ~ /KB$/) return v / 1024; return v / 1048576 }
       /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
       /Non-2xx or 3xx responses:/ { err += $NF }
       /Socket errors:/ { for (i = 4; i <= NF; i += 2) err += $i }
       /^Requests\/sec:/ { rps = $2 } /^Transfer\/sec:/ { tp = mib($2) }
       END { printf "%.0f %.2f %.2f %d %.1f\n", rps, p50, p99, err, tp }'
}
declare -A R
run() { # TARGET PORT PID...
  local t=$1 port=$2 w
  shift 2
  for w in small big; do
    local path=/
    if [ "$w" = big ]; then path=/bytes/65536; fi
    wrk -t2 -c64 -d1s -H "Host: $HOST" "http://127.0.0.1:$port$path" >/dev/null 2>&1
    timeout $((DUR + 30)) wrk -t2 -c64 -d"${DUR}s" --latency -H "Host: $HOST" "http://127.0.0.1:$port$path" >"$TMP/wrk-$t-$w.txt" 2>&1 ||
      die "wrk against $t failed: $(tail -3 "$TMP/wrk-$t-$w.txt")"
    R[$t,$w]=$(parse_wrk <"$TMP/wrk-$t-$w.txt")
    log "$t $w: $(awk '{ printf "%s req/s, p50 %s ms, p99 %s ms, %s errors, %s MiB/s", $1, $2, $3, $4, $5 }' <<<"${R[$t,$w]}")"
  done
  R[$t,rss]=$([ "$#" -gt 0 ] && awk -v k="$(rss_kib "$@")" 'BEGIN { printf "%.1f", k / 1024 }' || echo -)
}
# The agent alone: its child, the fence watchdog, is not part of the proxy.
rss_agent() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$AGENT_PID/status"; }
RSS_ROOST_IDLE=$(rss_agent)
run direct "$BP"
run roost "$P_ROOST"; R[roost,rss]=$(rss_agent)
run nginx "$P_NGINX" "$PID_NGINX"
run haproxy "$P_HAPROXY" "$PID_HAPROXY"
run caddy "$P_CADDY" "$PID_CADDY"

# --- report ------------------------------------------------------------------------------------
f() { awk -v i="$2" '{ print $i }' <<<"${R[$1]}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }
NAMES=(direct roost nginx haproxy caddy)
mkdir -p "$(dirname "$RESULTS")"
{
  echo "roost proxy benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
  echo "roost $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?') (release; working tree as built), $(nginx -v 2>&1 | sed 's/^nginx version: //'), HAProxy $(haproxy -v | sed -n 's/^HA-\{0,1\}Proxy version \([^ ]*\).*/\1/p'), Caddy $(caddy version | cut -d' ' -f1),"
  echo "wrk $(wrk --version 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p'), Docker $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null || echo '?')"
  echo "wrk -t2 -c64 -d${DUR}s, keep-alive, Host: $HOST; backend: one roost-test/echo container at $BACKEND (published port)"
  for w in small big; do
    echo
    [ "$w" = small ] && echo "GET / (small answer, ~100 bytes)" || echo "GET /bytes/65536 (64 KiB answer)"
    printf '%-10s %10s %9s %9s %8s %9s %10s\n' target "req/s" "p50 ms" "p99 ms" errors "MiB/s" "$([ "$w" = small ] && echo "RSS MiB")"
    for t in "${NAMES[@]}"; do
      printf '%-10s %10s %9s %9s %8s %9s %10s\n' "$t" "$(f "$t,$w" 1)" "$(f "$t,$w" 2)" "$(f "$t,$w" 3)" \
        "$(f "$t,$w" 4)" "$(f "$t,$w" 5)" "$([ "$w" = small ] && echo "${R[$t,rss]}")"
    done
  done
  echo
  echo "roost / peer (req/s: higher is better for roost; p99 and RSS: lower is better)"
  printf '%-10s %12s %12s %12s %12s %10s\n' peer "req/s small" "p99 small" "req/s 64K" "p99 64K" "RSS"
  for t in nginx haproxy caddy direct; do
    printf '%-10s %12s %12s %12s %12s %10s\n' "$t" "$(ratio "$(f roost,small 1)" "$(f "$t,small" 1)")" \
      "$(ratio "$(f roost,small 3)" "$(f "$t,small" 3)")" "$(ratio "$(f roost,big 1)" "$(f "$t,big" 1)")" \
      "$(ratio "$(f roost,big 3)" "$(f "$t,big" 3)")" "$(ratio "${R[roost,rss]}" "${R[$t,rss]}")"
  done
  echo
  echo "direct: wrk straight to the backend's published port (no proxy): the ceiling on this machine."
  echo "RSS after the target's runs. roost = the whole agent process (reconciler, Raft, API, proxy;"
  echo "  $RSS_ROOST_IDLE MiB before any load); nginx = master + workers; haproxy and caddy = one process."
  echo "Everything (wrk, the proxy, the backend, Docker's port forwarding) shares these $(nproc) cores, so a"
  echo "proxy's figures include its cost to its neighbours; ratios within one run are what compare."
} | tee "$RESULTS"
