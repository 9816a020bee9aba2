#!/usr/bin/env bash
# End-to-end smoke test of testbed/testbed: up 3, reachability, a published port across hosts,
# cut/heal, kill-agent/start-agent, crash/revive, pause/resume, down leaves nothing behind.
#
#   sudo testbed/smoke.sh
#
# Exits non-zero on the first failure; always tears the testbed down (trap). Bounded by a
# watchdog (SMOKE_MAX_SECONDS, default 110 s). Refuses to run while another testbed is up
# (bridge/namespace names are machine-wide), and then leaves that testbed alone.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
TB="$HERE/testbed"
export TESTBED_DIR=${TESTBED_DIR:-/tmp/roost-testbed-smoke}
MAX_SECONDS=${SMOKE_MAX_SECONDS:-110}
URL=http://10.77.0.12:18080/

now() { date +%s.%N; }
T0=$(now)
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
step() { printf '[smoke %6ss] %s\n' "$(since "$T0")" "$*" >&2; }
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root"
if ip link show roostbr0 >/dev/null 2>&1 || ip netns list | grep -q '^rh[1-7]\b'; then
  echo "smoke: a testbed is already up on this machine; run \`testbed down\` first" >&2
  exit 2
fi
if [ -z "${ROOST_BIN:-}" ] && [ ! -x "$REPO/target/release/roost" ] && [ ! -x "$REPO/target/debug/roost" ]; then
  step "building roost (release)"
  (cd "$REPO" && cargo build --release -p roost)
fi

WORK=$(mktemp -d /tmp/roost-smoke.XXXXXX)
WATCHDOG_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$rc" -ne 0 ]; then
    echo "smoke: failed (rc $rc); testbed state before teardown:" >&2
    "$TB" status >&2
    for f in "$TESTBED_DIR"/h*/agent.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 8 "$f" >&2; }; done
  fi
  [ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
  TESTBED_QUIET=1 timeout 60 "$TB" down || { echo "smoke: testbed down failed" >&2; rc=1; }
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "smoke: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'echo "smoke: interrupted" >&2; exit 130' INT TERM
( sleep "$MAX_SECONDS" >/dev/null 2>&1 </dev/null & sp=$!
  trap 'kill "$sp" 2>/dev/null; exit 0' TERM
  wait "$sp" || exit 0
  echo "smoke: watchdog: over ${MAX_SECONDS}s, aborting" >&2; kill -TERM $$ ) &
WATCHDOG_PID=$!

fetch() { "$TB" exec h1 timeout 4 wget -q -T 2 -O- "$URL" 2>/dev/null; }
fetch_ok_within() { # SECONDS: the page is served from h1's namespace within that time
  local deadline=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    fetch | grep -q 'roost test' && return 0
    sleep 0.3
  done
  return 1
}
ps_ok() { timeout 5 "$TB" roost "$1" ps >/dev/null 2>&1; }
status_of() { "$TB" status | awk -v h="$1" '$1 == h'; }

# --- up ----------------------------------------------------------------------------------------
t=$(now)
TESTBED_QUIET=1 "$TB" up 3 >/dev/null
UP_S=$(since "$t")
step "up 3: ${UP_S}s"
"$TB" status >&2
for h in 1 2 3; do ps_ok "h$h" || fail "h$h agent does not answer"; done
[ "$("$TB" addr 2)" = 10.77.0.12 ] || fail "addr h2"
[ "$("$TB" sock h3)" = "unix://$TESTBED_DIR/h3/roost/roost.sock" ] || fail "sock h3"
[ "$("$TB" dsock 1)" = "unix://$TESTBED_DIR/h1/docker.sock" ] || fail "dsock h1"
if TESTBED_QUIET=1 "$TB" up 1 2>/dev/null; then fail "a second up succeeded"; fi
ps_ok h1 || fail "a refused second up broke the running testbed"

# --- network -----------------------------------------------------------------------------------
"$TB" exec h1 busybox ping -c1 -W2 10.77.0.12 >/dev/null || fail "h1 cannot ping h2"
"$TB" exec h3 busybox ping -c1 -W2 10.77.0.11 >/dev/null || fail "h3 cannot ping h1"
step "ping between hosts ok"

cat >"$WORK/web.yaml" <<'EOF'
services:
  web:
    image: roost-test/busybox:latest
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    init: true
    stop_grace_period: 2s
    ports:
      - "18080:8080"
EOF
timeout 90 "$TB" roost h2 up -f "$WORK/web.yaml" -p t --wait --wait-timeout 60 >/dev/null 2>&1 || fail "roost up on h2"
fetch_ok_within 10 || fail "h1 cannot fetch h2's published port"
step "h1 fetches the page published on h2"

# --- cut / heal --------------------------------------------------------------------------------
"$TB" cut h2
status_of h2 | grep -q ' down ' || fail "status does not show h2's link down"
if fetch >/dev/null; then fail "h2 still reachable after cut"; fi
ps_ok h2 || fail "h2's agent should keep running while cut"
"$TB" heal h2
fetch_ok_within 10 || fail "h2 not reachable after heal"
step "cut h2 -> unreachable; heal -> reachable"

# --- kill-agent / start-agent ------------------------------------------------------------------
"$TB" kill-agent h2 2>/dev/null
status_of h2 | grep -q ' dead ' || fail "status does not show h2's agent dead"
fetch_ok_within 5 || fail "the container should survive its agent"
"$TB" start-agent h2 2>/dev/null
ps_ok h2 || fail "h2's agent does not answer after start-agent"
step "kill-agent/start-agent h2 ok"

# --- crash / revive ----------------------------------------------------------------------------
cat >"$WORK/sleeper.yaml" <<'EOF'
services:
  sleeper:
    image: roost-test/busybox:latest
    command: ["sleep", "3600"]
    init: true
EOF
timeout 90 "$TB" roost h3 up -f "$WORK/sleeper.yaml" -p s --wait --wait-timeout 60 >/dev/null 2>&1 || fail "roost up on h3"
[ -n "$(cat /sys/fs/cgroup/pids/roost-testbed-h3/*/cgroup.procs 2>/dev/null)" ] || fail "no container processes found for h3"
"$TB" crash h3 2>/dev/null
[ -z "$(cat /sys/fs/cgroup/pids/roost-testbed-h3/*/cgroup.procs 2>/dev/null)" ] || fail "h3's container processes survived the crash"
[ "$(status_of h3 | grep -o dead | wc -l)" -eq 2 ] || fail "status does not show h3's agent and dockerd dead"
if "$TB" start-agent h3 2>/dev/null; then fail "start-agent after a crash should refuse"; fi
t=$(now)
"$TB" revive h3 2>/dev/null
step "crash h3; revive h3: $(since "$t")s"
ps_ok h3 || fail "h3 agent does not answer after revive"
"$TB" docker h3 version >/dev/null || fail "h3 dockerd does not answer after revive"
"$TB" exec h3 busybox ping -c1 -W2 10.77.0.12 >/dev/null || fail "h3 cannot ping h2 after revive"

# --- pause / resume ----------------------------------------------------------------------------
"$TB" pause h1
status_of h1 | grep -q ' yes$' || fail "status does not show h1 paused"
if timeout 3 "$TB" roost h1 ps >/dev/null 2>&1; then fail "a paused agent answered"; fi
"$TB" resume h1
ps_ok h1 || fail "h1's agent does not answer after resume"
step "pause/resume h1 ok"

# --- down --------------------------------------------------------------------------------------
"$TB" roost h2 down -p t >/dev/null 2>&1 || true
t=$(now)
TESTBED_QUIET=1 "$TB" down
DOWN_S=$(since "$t")
step "down: ${DOWN_S}s"
left=""
ip netns list | grep -q '^rh[1-7]\b' && left+=" netns"
ip -o link show | grep -Eq ': (roostbr0|rhv[1-7])[@:]' && left+=" links"
grep -q " $TESTBED_DIR/" /proc/self/mounts && left+=" mounts"
[ -e "$TESTBED_DIR" ] && left+=" dir"
iptables -S FORWARD 2>/dev/null | grep -q roostbr0 && left+=" iptables"
for f in /proc/[0-9]*/cmdline; do
  { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -q "$TESTBED_DIR/" && { left+=" processes"; break; }
done
compgen -G "/sys/fs/cgroup/*/roost-testbed-h*" >/dev/null && left+=" cgroups"
[ -z "$left" ] || fail "down left:$left"
echo "smoke: OK in $(since "$T0")s (up 3: ${UP_S}s, down: ${DOWN_S}s)"
