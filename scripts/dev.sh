#!/usr/bin/env bash
# Brings up the whole service for local development: PostgreSQL and Redis
# (installed and started when missing), the database and its migrations,
# then the email worker and the API on http://127.0.0.1:5000.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-services.sh
[ -f .env ] || { cp .env.example .env; echo "Created .env from .env.example"; }
# The sample key of .env.example is public and `serve` refuses it: give
# this checkout a random key of its own (64 characters, enough for HS512).
if grep -q '^JWT_SECRET_KEY=dev-only-secret-change-me' .env; then
  key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
  sed -i "s|^JWT_SECRET_KEY=.*|JWT_SECRET_KEY=\"${key}\"|" .env
  echo "Wrote a random JWT_SECRET_KEY into .env"
fi

cargo build --bin api-server --bin email-worker
./target/debug/api-server migrate

./target/debug/email-worker &
worker=$!
trap 'kill -TERM "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM

echo "API on http://127.0.0.1:${PORT:-5000} (Swagger UI at /swagger-ui); Ctrl-C stops"
./target/debug/api-server serve
