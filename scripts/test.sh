#!/usr/bin/env bash
# Runs every test of the workspace against local PostgreSQL and Redis
# (started first when they are not running). Extra arguments go to cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-services.sh
# The end-to-end tests run the real binaries (target/debug/api-server and
# target/debug/email-worker), so build them first.
cargo build --bins
cargo test --workspace "$@"
