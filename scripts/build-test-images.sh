#!/usr/bin/env bash
# Build the local test image roost-test/busybox:latest without any registry: a root
# filesystem made of a static busybox plus applet symlinks, imported with `docker import`.
#
# Usage: scripts/build-test-images.sh [--force]
#   --force       rebuild even if the image already exists
#   DOCKER_HOST   optional; the engine to build on (default: the docker client's default)
#
# Idempotent: does nothing when the image is already there (unless --force).
set -euo pipefail

IMAGE=roost-test/busybox:latest
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build-test-images: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker); fi

if [ "$FORCE" -eq 0 ] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "build-test-images: $IMAGE already present" >&2
  exit 0
fi

BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || BUSYBOX=$(command -v busybox || true)
if [ -z "$BUSYBOX" ] || [ ! -x "$BUSYBOX" ]; then
  echo "build-test-images: no busybox found; run scripts/install-docker.sh (installs busybox-static)" >&2
  exit 1
fi
# A dynamically linked busybox would not run in an image without libc.
if command -v ldd >/dev/null 2>&1 && ldd "$BUSYBOX" 2>&1 | grep -q '=>'; then
  echo "build-test-images: $BUSYBOX is dynamically linked; install busybox-static" >&2
  exit 1
fi

ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT

mkdir -p "$ROOT/bin" "$ROOT/www" "$ROOT/tmp" "$ROOT/etc" "$ROOT/root" "$ROOT/dev" \
  "$ROOT/proc" "$ROOT/sys" "$ROOT/var/log" "$ROOT/usr/bin" "$ROOT/sbin"
chmod 1777 "$ROOT/tmp"
cp "$BUSYBOX" "$ROOT/bin/busybox"

APPLETS="sh ash httpd wget sleep nc cat echo ls test [ env true false mkdir touch hostname \
  nslookup ping ps kill grep sed awk head tail wc cut tr sort uniq date id whoami printf \
  rm cp mv ln chmod chown stat df du find xargs ip ifconfig netstat seq yes tee \
  dd uname vi less more mount umount sync top free uptime which basename dirname readlink \
  realpath timeout nohup pwd md5sum sha256sum base64 gzip gunzip tar nproc pidof pkill"
for a in $APPLETS; do
  ln -sf busybox "$ROOT/bin/$a"
done

cat >"$ROOT/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$ROOT/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
nobody:x:65534:
GROUP
echo "hosts: files dns" >"$ROOT/etc/nsswitch.conf"
cat >"$ROOT/www/index.html" <<'HTML'
<!doctype html>
<html><body><h1>roost test</h1></body></html>
HTML

echo "build-test-images: importing $IMAGE" >&2
tar -C "$ROOT" -c . | "$DOCKER" import \
  --change 'CMD ["sh"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'WORKDIR /' \
  - "$IMAGE" >/dev/null
echo "build-test-images: built $IMAGE" >&2
