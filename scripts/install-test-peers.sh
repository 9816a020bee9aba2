#!/usr/bin/env bash
# Install the programs tests talk to besides Docker: pebble (Let's Encrypt's ACME
# test server, with pebble-challtestsrv) for crates/certs/tests/acme_pebble.rs, and arping
# (iputils-arping) that the agent uses to announce the floating address; tcpdump,
# iptables and libfaketime for the cluster tests; restic for the volume snapshots.
#
# Idempotent and quiet: apt-get runs only when something is missing.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

need_pkgs=()
{ command -v pebble && command -v pebble-challtestsrv; } >/dev/null 2>&1 || need_pkgs+=(pebble)
# Gratuitous ARP for the floating address (--vip) in the cluster tests.
command -v arping >/dev/null 2>&1 || need_pkgs+=(iputils-arping)
# The cluster network test captures the testbed bridge to prove no plaintext crosses it.
command -v tcpdump >/dev/null 2>&1 || need_pkgs+=(tcpdump)
# iptables-restore steers containers to the agent (docker.io pulls it in; be explicit).
command -v iptables-restore >/dev/null 2>&1 || need_pkgs+=(iptables)
# restic 0.14 reads, checks and restores the repositories roost-volumes writes.
command -v restic >/dev/null 2>&1 || need_pkgs+=(restic)
# libfaketime: the fault matrix steps one testbed host's wall clock (`testbed clock`).
compgen -G '/usr/lib/*/faketime/libfaketimeMT.so.1' >/dev/null || need_pkgs+=(faketime)

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "install-test-peers: installing ${need_pkgs[*]}" >&2
  # apt's chatter (debconf, needrestart) is shown only if something fails.
  quiet() { local out; out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }; }
  quiet as_root apt-get update -q
  quiet as_root apt-get install -y -q "${need_pkgs[@]}"
fi
