#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine with only the Rust toolchain:
# installs and starts Docker Engine if needed, builds the test image (no registry is
# needed), then runs every test of the workspace against the real engine.
#
# Usage: sudo bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-docker.sh
bash scripts/install-test-peers.sh
bash scripts/build-test-images.sh
bash scripts/build-app-image.sh

# Test binaries run one after another (cargo's default): the engine tests and the
# agent tests must not share the engine at the same time.
cargo test --workspace --locked
