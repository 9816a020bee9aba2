#!/usr/bin/env bash
# Build the multi-service test image roost-test/app:latest without any registry: a Debian
# bookworm root filesystem made by `mmdebstrap` (real PostgreSQL 15, Redis, Python 3 with
# psycopg2 and redis, iperf3, wrk, curl, procps, iproute2) plus /app from scripts/app-image/:
#   /app/web.py    HTTP app on $PORT (8000) using PostgreSQL at $DB_HOST (db) and Redis at
#                  $REDIS_HOST (cache); survives a database failover (see the file)
#   /app/pg.sh     PostgreSQL in the foreground; initdb of $PGDATA (a fresh volume is fine)
#   /app/redis.sh  redis-server in the foreground, no persistence
#   /app/notes.py  a SQLite writer on $PORT keeping /data/notes.db (volume replication tests)
# No entrypoint: services give `command:` (python3 /app/web.py, /app/pg.sh, /app/redis.sh).
#
# Usage: scripts/build-app-image.sh [--force]
#   --force      rebuild the root filesystem with mmdebstrap and re-import the image
#   DOCKER_HOST  optional; the engine to import into (default: the docker client's default)
#   ROOST_IMAGE_CACHE  optional; the tarball cache (default /var/cache/roost-test)
#
# Idempotent and cached: mmdebstrap's output is kept as $CACHE/app-base-<hash of the package
# list and options>.tar (a few minutes the first time), the base plus /app as
# $CACHE/app-rootfs-<hash of that and the app files>.tar; the image carries that hash in the
# label io.roost.test-app-hash and is imported only when missing or stale (seconds otherwise).
# Needs root (mmdebstrap) and Debian's package mirror (apt-get installs mmdebstrap if missing).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=roost-test/app:latest
APP_SRC="$REPO/scripts/app-image"
CACHE=${ROOST_IMAGE_CACHE:-/var/cache/roost-test}
LABEL=io.roost.test-app-hash
SUITE=bookworm
PKGS=(postgresql redis-server python3 python3-psycopg2 python3-redis iperf3 wrk curl procps
      iproute2 ca-certificates iputils-ping netcat-openbsd)
# Smaller: no docs, man pages, info or translations (C.UTF-8 is built into libc).
MMDEBSTRAP_OPTS=(--variant=apt --components=main
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*' --dpkgopt='path-exclude=/usr/share/i18n/*'
  # PostgreSQL's JIT (LLVM, z3: 150 MB of the image); pg.sh sets jit = off.
  --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/libLLVM-*'
  --dpkgopt='path-exclude=/usr/lib/x86_64-linux-gnu/libz3.so*'
  --dpkgopt='path-exclude=/usr/lib/postgresql/*/lib/bitcode/*'
  --dpkgopt='path-exclude=/usr/lib/postgresql/*/lib/llvmjit*'
  # The postgresql package makes a cluster 15/main that pg.sh never uses.
  --customize-hook='rm -rf "$1"/var/lib/postgresql/15 "$1"/etc/postgresql/15 "$1"/var/cache/apt/*.bin'
  --customize-hook='rm -f "$1"/etc/hostname "$1"/etc/resolv.conf')
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "build-app-image: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker); fi
say() { echo "build-app-image: $*" >&2; }
die() { say "$*"; exit 1; }
t0=$(date +%s)

for f in web.py notes.py pg.sh redis.sh; do [ -f "$APP_SRC/$f" ] || die "missing $APP_SRC/$f"; done
BASE_HASH=$(printf '%s\n' "$SUITE" "${PKGS[@]}" "${MMDEBSTRAP_OPTS[@]}" | sha256sum | cut -c1-16)
APP_HASH=$( { echo "$BASE_HASH"; cd "$APP_SRC" && for f in web.py notes.py pg.sh redis.sh; do echo "$f"; cat "$f"; done; } |
  sha256sum | cut -c1-16)
BASE_TAR="$CACHE/app-base-$BASE_HASH.tar"
ROOTFS_TAR="$CACHE/app-rootfs-$APP_HASH.tar"

current=$("$DOCKER" image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true)
if [ "$FORCE" -eq 0 ] && [ "$current" = "$APP_HASH" ]; then
  say "$IMAGE already present and up to date ($LABEL=$APP_HASH)"
  exit 0
fi

mkdir -p "$CACHE"
TMP=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# --- the Debian root filesystem (slow, cached) -----------------------------------------------
if [ "$FORCE" -eq 1 ] || [ ! -s "$BASE_TAR" ]; then
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    say "installing mmdebstrap"
    { apt-get install -y -qq mmdebstrap || { apt-get update -qq && apt-get install -y -qq mmdebstrap; }; } >/dev/null 2>&1 ||
      die "could not apt-get install mmdebstrap"
  fi
  [ "$(id -u)" -eq 0 ] || die "mmdebstrap needs root here (run with sudo)"
  say "mmdebstrap $SUITE with ${PKGS[*]} (a few minutes)"
  pkgs=$(IFS=,; echo "${PKGS[*]}")
  if ! mmdebstrap --quiet "${MMDEBSTRAP_OPTS[@]}" --include="$pkgs" "$SUITE" "$TMP/base.tar" >"$TMP/mmdebstrap.log" 2>&1; then
    tail -n 30 "$TMP/mmdebstrap.log" >&2
    die "mmdebstrap failed"
  fi
  mv "$TMP/base.tar" "$BASE_TAR"
  # Older bases are of no use any more.
  find "$CACHE" -maxdepth 1 -name 'app-base-*.tar' ! -name "app-base-$BASE_HASH.tar" -delete
  say "root filesystem cached at $BASE_TAR ($(du -h "$BASE_TAR" | cut -f1))"
else
  say "using the cached root filesystem $BASE_TAR"
fi

# --- plus /app (fast) ------------------------------------------------------------------------
if [ "$FORCE" -eq 1 ] || [ ! -s "$ROOTFS_TAR" ]; then
  mkdir -p "$TMP/overlay/app"
  install -m 0644 "$APP_SRC/web.py" "$TMP/overlay/app/web.py"
  install -m 0644 "$APP_SRC/notes.py" "$TMP/overlay/app/notes.py"
  install -m 0755 "$APP_SRC/pg.sh" "$TMP/overlay/app/pg.sh"
  install -m 0755 "$APP_SRC/redis.sh" "$TMP/overlay/app/redis.sh"
  cp "$BASE_TAR" "$TMP/rootfs.tar"
  tar --append -f "$TMP/rootfs.tar" -C "$TMP/overlay" --owner=0 --group=0 --numeric-owner ./app
  mv "$TMP/rootfs.tar" "$ROOTFS_TAR"
  find "$CACHE" -maxdepth 1 -name 'app-rootfs-*.tar' ! -name "app-rootfs-$APP_HASH.tar" -delete
fi

say "importing $IMAGE"
"$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PGDATA=/var/lib/postgresql/data' \
  --change 'WORKDIR /app' \
  --change "LABEL $LABEL=$APP_HASH" \
  "$ROOTFS_TAR" "$IMAGE" >/dev/null
say "built $IMAGE ($("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }')) in $(( $(date +%s) - t0 )) s"
