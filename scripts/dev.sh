#!/usr/bin/env bash
# Brings up the whole service for local development: PostgreSQL and Redis
# (installed and started when missing), the database and its migrations,
# then the email worker and the API on http://127.0.0.1:5000.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-services.sh
[ -f .env ] || { cp .env.example .env; echo "Created .env from .env.example"; }

cargo build --bin api-server --bin email-worker
./target/debug/api-server migrate

./target/debug/email-worker &
worker=$!
trap 'kill -TERM "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM

echo "API on http://127.0.0.1:${PORT:-5000} (Swagger UI at /swagger-ui); Ctrl-C stops"
./target/debug/api-server serve
