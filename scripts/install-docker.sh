#!/usr/bin/env bash
# Make sure a Docker Engine answers on /var/run/docker.sock, installing Debian's docker.io
# (and busybox-static, which scripts/build-test-images.sh needs) when missing.
#
# Idempotent: safe to run again on a machine where everything is already in place.
# There is no systemd on the test machines, so dockerd is started detached by hand
# (setsid + nohup) so that it outlives this script.
set -euo pipefail

SOCK=/var/run/docker.sock
export DEBIAN_FRONTEND=noninteractive

log() { echo "install-docker: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
[ -x /bin/busybox ] || command -v busybox >/dev/null 2>&1 || need_pkgs+=(busybox-static)

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  as_root apt-get update
  as_root apt-get install -y "${need_pkgs[@]}"
fi

# Debian's client is /usr/bin/docker; fall back to whatever `docker` is on PATH.
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker); fi

engine_up() { DOCKER_HOST="unix://$SOCK" "$DOCKER" version >/dev/null 2>&1; }

if engine_up; then
  log "engine already answers on $SOCK"
  exit 0
fi

log "starting dockerd (log: /var/log/dockerd.log)"
as_root setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &

for _ in $(seq 1 60); do
  if engine_up; then
    log "engine is up"
    exit 0
  fi
  sleep 1
done

log "dockerd did not answer within 60 s; last lines of /var/log/dockerd.log:"
tail -n 30 /var/log/dockerd.log >&2 || true
exit 1
