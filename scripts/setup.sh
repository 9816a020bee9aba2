#!/usr/bin/env bash
# One command from a fresh Debian machine to a running roost with the example stack:
#
#   sudo bash scripts/setup.sh
#
# It installs and starts Docker (scripts/install-docker.sh), checks for Rust/cargo, builds
# roost, builds the offline test image (scripts/build-test-images.sh), starts a roost agent
# in the background if none answers, deploys examples/homelab/compose.yaml with --wait and
# tells you where to reach it.
#
# Idempotent: run it again at any time; what is already in place is left alone and the
# stack is re-applied (a no-op when nothing changed).
#
# Environment:
#   ROOST_DATA_DIR  agent data dir (default /var/lib/roost as root, else ~/.local/share/roost)
#   WEB_PORT        host port of the example's web service (default 8080)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

log() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- 1. Docker Engine (+ busybox-static for the test image) -------------------------------
log "checking Docker Engine"
bash "$REPO/scripts/install-docker.sh"

# --- 2. Rust toolchain ---------------------------------------------------------------------
# sudo resets PATH, so a rustup install in the invoking user's home is not on it: look there.
if ! command -v cargo >/dev/null 2>&1; then
  for d in "${HOME:-/root}/.cargo/bin" ${SUDO_USER:+"$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cargo/bin"}; do
    if [ -x "$d/cargo" ]; then PATH="$d:$PATH"; break; fi
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  cat >&2 <<'MSG'
setup: error: cargo (Rust) is not installed. roost needs Rust >= 1.85.

  Either Debian's package (simple, but check the version it gives you):
      sudo apt-get install -y cargo && cargo --version
  or the official installer (always recent):
      curl https://sh.rustup.rs -sSf | sh -s -- -y && . "$HOME/.cargo/env"

Then run this script again.
MSG
  exit 1
fi
rustc_version=$(rustc --version 2>/dev/null | awk '{print $2}')
case "$rustc_version" in
  1.[0-9].*|1.[0-7][0-9].*|1.8[0-4].*)
    die "rustc $rustc_version is too old: roost needs Rust >= 1.85 (install via https://rustup.rs)" ;;
esac
log "using $(cargo --version)"

# --- 3. Build roost ------------------------------------------------------------------------
log "building roost (cargo build --release -p roost; the first build takes several minutes)"
cargo build --release -p roost
ROOST="$REPO/target/release/roost"
[ -x "$ROOST" ] || die "build finished but $ROOST is missing"

# --- 4. Images for the example (no registry needed) ----------------------------------------
log "building local images"
bash "$REPO/scripts/build-test-images.sh"

# --- 5. The agent ----------------------------------------------------------------------------
if [ -n "${ROOST_DATA_DIR:-}" ]; then
  DATA_DIR=$ROOST_DATA_DIR
elif [ "$(id -u)" -eq 0 ]; then
  DATA_DIR=/var/lib/roost
else
  DATA_DIR=${XDG_DATA_HOME:-$HOME/.local/share}/roost
fi
SOCK="$DATA_DIR/roost.sock"
export ROOST_HOST="unix://$SOCK"
AGENT_LOG="$DATA_DIR/agent.log"

agent_answers() { "$ROOST" ps >/dev/null 2>&1; }

if agent_answers; then
  log "agent already answers on $SOCK"
else
  mkdir -p "$DATA_DIR"
  chmod 700 "$DATA_DIR"
  log "starting the agent (data dir $DATA_DIR, log $AGENT_LOG)"
  setsid nohup "$ROOST" agent --data-dir "$DATA_DIR" >>"$AGENT_LOG" 2>&1 </dev/null &
  agent_pid=$!
  echo "$agent_pid" >"$DATA_DIR/agent.pid"
  for _ in $(seq 1 40); do
    agent_answers && break
    kill -0 "$agent_pid" 2>/dev/null || break
    sleep 0.5
  done
  if ! agent_answers; then
    echo "setup: error: the agent did not answer within 20 s; last lines of $AGENT_LOG:" >&2
    tail -n 30 "$AGENT_LOG" >&2 || true
    exit 1
  fi
  log "agent is up (pid $agent_pid)"
fi

# --- 6. The example stack ------------------------------------------------------------------
log "deploying examples/homelab/compose.yaml"
"$ROOST" up -f "$REPO/examples/homelab/compose.yaml" --wait --wait-timeout 120

echo
"$ROOST" ps -p homelab
echo

ip=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit }}' || true)
[ -n "$ip" ] || ip=$(hostname -I 2>/dev/null | awk '{print $1}' || true)
[ -n "$ip" ] || ip=localhost
port=${WEB_PORT:-8080}
agent_pid=$(cat "$DATA_DIR/agent.pid" 2>/dev/null || true)
# Only trust the pid file while it names a running roost agent.
if [ -z "$agent_pid" ] || ! tr '\0' ' ' <"/proc/$agent_pid/cmdline" 2>/dev/null | grep -q 'roost agent'; then
  agent_pid=$(pgrep -f "roost agent --data-dir $DATA_DIR" | head -n 1 || true)
fi

cat <<EOF
roost is running the example stack "homelab".

  Open:        http://$ip:$port/   (on this machine also http://localhost:$port/)
  Ingress:     curl -H 'Host: homelab.lan' http://$ip/   (roost's proxy on port 80 routes by host name)
  Status:      ROOST_HOST=$ROOST_HOST $ROOST ps
  Logs:        ROOST_HOST=$ROOST_HOST $ROOST logs -p homelab worker
  Stop stack:  ROOST_HOST=$ROOST_HOST $ROOST down -p homelab    (add --volumes to drop its data)
  Stop agent:  kill ${agent_pid:-<agent pid>}    (agent log: $AGENT_LOG)
EOF
if [ "$DATA_DIR" = /var/lib/roost ] && [ "$(id -u)" -eq 0 ]; then
  echo "  (as root the default data dir is /var/lib/roost, so ROOST_HOST can be left out)"
fi
