#!/usr/bin/env bash
# Build the local test images without any registry, with `docker import`:
#   roost-test/busybox:latest  a root filesystem of a static busybox plus applet symlinks
#   roost-test/echo:latest     roost-echo (crates/testkit: HTTP + WebSocket echo on $PORT,
#                              default 8080, named $NAME, default the host name) with the
#                              shared libraries it links, plus the busybox root (so `wget`
#                              health checks work); entrypoint /roost-echo, EXPOSE 8080
#
# Usage: scripts/build-test-images.sh [--force]
#   --force           rebuild both images (and roost-echo) even if they are up to date
#   DOCKER_HOST       optional; the engine to build on (default: the docker client's default)
#   CARGO_TARGET_DIR  optional; where cargo builds roost-echo (default: target/)
#
# Idempotent: the busybox image is built when missing. roost-echo is built with
# `cargo build --release -p roost-testkit` when its binary is missing or older than a file
# of crates/testkit, and the echo image is imported when missing or older than the binary.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUSYBOX_IMAGE=roost-test/busybox:latest
ECHO_IMAGE=roost-test/echo:latest
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-test-images: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker); fi
say() { echo "build-test-images: $*" >&2; }
die() { say "$*"; exit 1; }
have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# DIR <- the busybox root filesystem, shared by both images.
busybox_root() {
  local root=$1 busybox=/bin/busybox a
  [ -x "$busybox" ] || busybox=$(command -v busybox || true)
  if [ -z "$busybox" ] || [ ! -x "$busybox" ]; then
    die "no busybox found; run scripts/install-docker.sh (installs busybox-static)"
  fi
  # A dynamically linked busybox would not run in an image without libc.
  if command -v ldd >/dev/null 2>&1 && ldd "$busybox" 2>&1 | grep -q '=>'; then
    die "$busybox is dynamically linked; install busybox-static"
  fi
  mkdir -p "$root/bin" "$root/www" "$root/tmp" "$root/etc" "$root/root" "$root/dev" \
    "$root/proc" "$root/sys" "$root/var/log" "$root/usr/bin" "$root/sbin"
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  local applets="sh ash httpd wget sleep nc cat echo ls test [ env true false mkdir touch hostname \
    nslookup ping ps kill grep sed awk head tail wc cut tr sort uniq date id whoami printf \
    rm cp mv ln chmod chown stat df du find xargs ip ifconfig netstat seq yes tee \
    dd uname vi less more mount umount sync top free uptime which basename dirname readlink \
    realpath timeout nohup pwd md5sum sha256sum base64 gzip gunzip tar nproc pidof pkill"
  for a in $applets; do
    ln -sf busybox "$root/bin/$a"
  done
  cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
  cat >"$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
nobody:x:65534:
GROUP
  echo "hosts: files dns" >"$root/etc/nsswitch.conf"
  cat >"$root/www/index.html" <<'HTML'
<!doctype html>
<html><body><h1>roost test</h1></body></html>
HTML
}

# ROOT IMAGE CHANGE... : imports ROOT as IMAGE with the given --change instructions.
import_root() {
  local root=$1 image=$2 c args=()
  shift 2
  for c in "$@"; do args+=(--change "$c"); done
  say "importing $image"
  tar -C "$root" -c . | "$DOCKER" import "${args[@]}" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'WORKDIR /' \
    - "$image" >/dev/null
  say "built $image"
}

# --- roost-test/busybox ---------------------------------------------------------------------
if [ "$FORCE" -eq 0 ] && have_image "$BUSYBOX_IMAGE"; then
  say "$BUSYBOX_IMAGE already present"
else
  busybox_root "$TMP/busybox"
  import_root "$TMP/busybox" "$BUSYBOX_IMAGE" 'CMD ["sh"]'
fi

# --- roost-test/echo ------------------------------------------------------------------------
BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/roost-echo"
stale_sources() { [ -n "$(find "$REPO/crates/testkit" -newer "$BIN" -print -quit)" ]; }
if [ "$FORCE" -eq 1 ] || [ ! -x "$BIN" ] || stale_sources; then
  if command -v cargo >/dev/null 2>&1; then
    say "building roost-echo (cargo build --release -p roost-testkit)"
    (cd "$REPO" && cargo build --release --locked -p roost-testkit --bin roost-echo)
  elif have_image "$ECHO_IMAGE"; then
    say "warning: no cargo to rebuild roost-echo; keeping the existing $ECHO_IMAGE"
  else
    die "cargo is needed to build roost-echo for $ECHO_IMAGE"
  fi
fi
[ -x "$BIN" ] || { have_image "$ECHO_IMAGE" && exit 0; die "no $BIN after the build"; }

image_older_than_bin() {
  local created
  created=$("$DOCKER" image inspect -f '{{.Created}}' "$ECHO_IMAGE" 2>/dev/null) || return 0
  [ "$(stat -c %Y "$BIN")" -gt "$(date -d "$created" +%s 2>/dev/null || echo 0)" ]
}
if [ "$FORCE" -eq 0 ] && have_image "$ECHO_IMAGE" && ! image_older_than_bin; then
  say "$ECHO_IMAGE already present and newer than $BIN"
  exit 0
fi

ROOT="$TMP/echo"
busybox_root "$ROOT"
# Without the debug line tables the image is a tenth of the size.
if command -v strip >/dev/null 2>&1; then strip -o "$ROOT/roost-echo" "$BIN"; else cp "$BIN" "$ROOT/roost-echo"; fi
# The dynamic loader and every library the binary links, at the paths it looks for them.
command -v ldd >/dev/null 2>&1 || die "ldd is needed to find roost-echo's shared libraries"
LIBS=$(ldd "$BIN" | grep -o '/[^ ]*' || true)
[ -n "$LIBS" ] || say "note: ldd lists no shared libraries (a static roost-echo?)"
for lib in $LIBS; do
  cp -L --parents "$lib" "$ROOT"
done
import_root "$ROOT" "$ECHO_IMAGE" 'ENTRYPOINT ["/roost-echo"]' 'EXPOSE 8080' 'ENV PORT=8080'
